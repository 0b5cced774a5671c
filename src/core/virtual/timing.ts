/**
 * Optional timing model (off by default; benchmarks turn it on). UART: 10 bits per byte
 * (start + 8 data + stop, esp32-rom-protocol.md §1) at the current baud. Flash erase/program
 * times: the spec gives only tool timeouts (30 s/MB erase, 40 s/MB write), which are upper
 * bounds, so typical datasheet values of a 4–8 MB NOR part are used here.
 */
export interface TimingModel {
  bitsPerByte: number;
  sectorEraseMs: number;
  pageProgramMs: number;
}

export const DEFAULT_TIMING: TimingModel = {
  bitsPerByte: 10,
  sectorEraseMs: 45,
  pageProgramMs: 0.7,
};

export function uartMs(t: TimingModel, bytes: number, baud: number): number {
  return (bytes * t.bitsPerByte * 1000) / baud;
}

export function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}
