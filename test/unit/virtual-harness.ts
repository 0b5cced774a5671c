import { checksum, decodeResponse, encodeRequest, type Response } from '../../src/core/rom/packet';
import { SlipDecoder, slipEncode } from '../../src/core/rom/slip';
import { createMemoryPair } from '../../src/core/transport/memory';
import type { Transport } from '../../src/core/transport/transport';
import { VirtualEsp32, type VirtualEsp32Options } from '../../src/core/virtual/device';

/** A minimal raw-packet client for driving the virtual device in tests. */
export class RawClient {
  readonly frames: Buffer[] = [];
  noise = '';
  private readonly decoder = new SlipDecoder();
  private waiters: Array<() => void> = [];

  constructor(readonly transport: Transport) {
    transport.onData((chunk) => {
      for (const ev of this.decoder.push(chunk)) {
        if (ev.kind === 'frame') this.frames.push(ev.data);
        else if (ev.kind === 'noise') this.noise += ev.data.toString('latin1');
      }
      this.noise += this.decoder.peekNoise().toString('latin1');
      this.decoder.reset();
      for (const w of this.waiters.splice(0)) w();
    });
  }

  async waitFor(pred: () => boolean, ms = 2000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out; frames=${this.frames.length} noise=${JSON.stringify(this.noise)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 20);
      });
    }
  }

  /** Sends a request without waiting for anything; `chk` computes the data checksum. */
  async send(op: number, data: Uint8Array, chk = false): Promise<void> {
    await this.transport.write(slipEncode(encodeRequest(op, data, chk ? checksum(Buffer.from(data).subarray(16)) : 0)));
  }

  /** Sends a request and returns the next `n` responses. */
  async command(op: number, data: Uint8Array, opts: { chk?: boolean; n?: number; chkValue?: number } = {}): Promise<Response[]> {
    const start = this.frames.length;
    const payloadForChk = Buffer.from(data).subarray(16);
    const chk = opts.chkValue ?? (opts.chk ? checksum(payloadForChk) : 0);
    await this.transport.write(slipEncode(encodeRequest(op, data, chk)));
    const n = opts.n ?? 1;
    await this.waitFor(() => this.frames.length >= start + n);
    return this.frames.slice(start, start + n).map((f) => decodeResponse(f)!);
  }

  async one(op: number, data: Uint8Array, opts: { chk?: boolean; chkValue?: number } = {}): Promise<Response> {
    return (await this.command(op, data, opts))[0]!;
  }
}

export async function memoryBoard(opts: VirtualEsp32Options = {}): Promise<{ dev: VirtualEsp32; client: RawClient }> {
  const { host, device } = createMemoryPair();
  const dev = new VirtualEsp32(opts);
  dev.attach(device);
  await host.open();
  const client = new RawClient(host);
  dev.reset('download');
  await client.waitFor(() => client.noise.includes('waiting for download'));
  return { dev, client };
}

/** Status bytes of a ROM response: [status, error]. */
export function status(r: Response): [number, number] {
  return [r.data[r.data.length - 4]!, r.data[r.data.length - 3]!];
}

export function dataBlock(payload: Uint8Array, seq: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(payload.length, 0);
  h.writeUInt32LE(seq, 4);
  return Buffer.concat([h, payload]);
}
