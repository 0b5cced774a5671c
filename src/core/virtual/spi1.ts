import type { SpiFlash } from './spi-flash';
import { SPI1, SPI1_BASE, SPI_CMD_USR, SPI_USER_ADDR, SPI_USER_MISO, SPI_USER_MOSI } from '../chip/esp32';

/**
 * The SPI1 flash controller's "user command" engine (esptool loader.py run_spiflash_command), enough for
 * what esptool does through READ_REG/WRITE_REG: RDID, RDSFDP, status register reads/writes,
 * WREN/WRDI, reset-enable/reset and the XMC commands, plus plain reads.
 */
export const SPI1_END = SPI1_BASE + SPI1.LAST + 3;

const { CMD, ADDR, USER, USER1, USER2, MOSI_DLEN, MISO_DLEN, W0 } = SPI1;

export class Spi1 {
  private readonly regs = new Map<number, number>();
  /** Status registers 1..3 as one 24-bit value (SR1 in 7:0). Reset: no protection bits set. */
  private status = 0;
  private writeEnabled = false;

  constructor(private readonly flash: SpiFlash) {}

  static owns(addr: number): boolean {
    return addr >= SPI1_BASE && addr <= SPI1_END;
  }

  reset(): void {
    this.regs.clear();
    this.writeEnabled = false;
  }

  read(addr: number): number {
    return this.regs.get(addr - SPI1_BASE) ?? 0;
  }

  write(addr: number, value: number): void {
    const off = addr - SPI1_BASE;
    this.regs.set(off, value >>> 0);
    if (off === CMD && value & SPI_CMD_USR) {
      this.execute();
      this.regs.set(CMD, (value & ~SPI_CMD_USR) >>> 0); // the hardware clears USR when done
    }
  }

  private reg(off: number): number {
    return this.regs.get(off) ?? 0;
  }

  private setMiso(bytes: Uint8Array): void {
    const buf = Buffer.alloc(64);
    buf.set(bytes.subarray(0, 64));
    for (let i = 0; i < 16; i++) this.regs.set(W0 + 4 * i, buf.readUInt32LE(4 * i));
  }

  private mosiBytes(n: number): Buffer {
    const buf = Buffer.alloc(64);
    for (let i = 0; i < 16; i++) buf.writeUInt32LE(this.reg(W0 + 4 * i), 4 * i);
    return buf.subarray(0, Math.min(n, 64));
  }

  private sfdp(addr: number, n: number): Buffer {
    // A minimal SFDP header: signature "SFDP", v1.0, then the vendor id at byte 0x10 (the byte
    // esptool checks for XMC parts).
    const table = Buffer.alloc(0x100, 0xff);
    table.write('SFDP', 0, 'latin1');
    table[4] = 0x00;
    table[5] = 0x01;
    table[6] = 0x00;
    table[0x10] = this.flash.manufacturer;
    const out = Buffer.alloc(n, 0xff);
    for (let i = 0; i < n; i++) if (addr + i < table.length) out[i] = table[addr + i]!;
    return out;
  }

  private execute(): void {
    const user = this.reg(USER);
    const cmd = this.reg(USER2) & 0xff;
    const addrBits = user & SPI_USER_ADDR ? ((this.reg(USER1) >>> 26) & 0x3f) + 1 : 0;
    const addr = addrBits ? (this.reg(ADDR) >>> (32 - addrBits)) >>> 0 : 0;
    const misoBytes = user & SPI_USER_MISO ? Math.ceil((((this.reg(MISO_DLEN) & 0xffffff) >>> 0) + 1) / 8) : 0;
    const mosiBytes = user & SPI_USER_MOSI ? Math.ceil((((this.reg(MOSI_DLEN) & 0xffffff) >>> 0) + 1) / 8) : 0;
    const id = this.flash.jedecId;
    switch (cmd) {
      case 0x9f: // RDID
        this.setMiso(Buffer.from([id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff]));
        break;
      case 0x5a: // RDSFDP
        this.setMiso(this.sfdp(addr, misoBytes));
        break;
      case 0x05:
        this.setMiso(Buffer.from([this.status & 0xff | (this.writeEnabled ? 2 : 0)]));
        break;
      case 0x35:
        this.setMiso(Buffer.from([(this.status >>> 8) & 0xff]));
        break;
      case 0x15:
        this.setMiso(Buffer.from([(this.status >>> 16) & 0xff]));
        break;
      case 0x06:
        this.writeEnabled = true;
        break;
      case 0x04:
        this.writeEnabled = false;
        break;
      case 0x50: // volatile SR write enable
        this.writeEnabled = true;
        break;
      case 0x01:
      case 0x31:
      case 0x11: {
        if (!this.writeEnabled) break;
        const data = this.mosiBytes(mosiBytes);
        const shift = cmd === 0x01 ? 0 : cmd === 0x31 ? 8 : 16;
        // WRSR with 2 bytes writes SR1 and SR2 on most parts.
        let v = data[0] ?? 0;
        if (cmd === 0x01 && data.length >= 2) v |= data[1]! << 8;
        const mask = cmd === 0x01 && data.length >= 2 ? 0xfffc : 0xff << shift;
        this.status = ((this.status & ~mask) | ((v << shift) & mask)) & 0xfffffc;
        this.writeEnabled = false;
        break;
      }
      case 0x03: // READ
        this.setMiso(this.flash.inRange(addr, misoBytes) ? this.flash.read(addr, misoBytes) : Buffer.alloc(misoBytes, 0xff));
        break;
      default:
        // 0x66/0x99 reset, 0xB9/0xAB power-down/release, 0x79/0xFF XMC: no visible effect here.
        if (cmd === 0x99) this.writeEnabled = false;
        break;
    }
  }
}
