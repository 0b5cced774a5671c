import type { EfuseRegisterAccess } from './access';

/** Anything with synchronous register access, such as the virtual device's eFuse controller. */
export interface SyncRegisters {
  readReg(addr: number): number;
  writeReg(addr: number, value: number): void;
}

/**
 * Runs the eFuse code directly against a register space (the virtual ESP32's controller),
 * without a serial link in between: the same engine, the same sequence, no transport.
 */
export function directAccess(regs: SyncRegisters): EfuseRegisterAccess {
  return {
    readReg: async (addr) => regs.readReg(addr) >>> 0,
    writeReg: async (addr, value) => regs.writeReg(addr, value >>> 0),
  };
}
