/**
 * VirtualEsp32 — the virtual Pycom board (ESP32 ROM loader, eFuse controller, SPI NOR flash).
 *
 *   const dev = new VirtualEsp32({ profile: 'GPY', seed: 'bench-1' });   // factory-fresh GPy
 *   const { host, device } = createMemoryPair();                           // or a TCP socket
 *   dev.attach(device);             // listen on the device side of a link
 *   dev.reset('download');          // P2/GPIO0 low + reset: prints the boot log, loader ready
 *   await host.open(); ... SLIP frames ... (the ROM loader answers)
 *   dev.flash.read(0x1000, 16); dev.efuse.rawField('FLASH_CRYPT_CNT'); dev.efuse.visibleField('BLOCK1')
 *
 * Options: profile (WIPY, WIPY2, LOPY, SIPY, GPY, FIPY, LOPY4; default GPY), seed (MAC),
 * codingScheme ('none' | '3/4'), timing (true or a TimingModel; off by default), faults
 * (a Faults instance or FaultOptions), efuse (physical eFuse words to start from), bootPredictor
 * (what a reset into normal boot prints; src/core/boot's bootPredictorForVirtual is the real model).
 *
 * Line model (the two-transistor auto-reset circuit of Espressif's dev boards, esptool docs Boot
 * Mode Selection): EN is low while RTS is
 * asserted and DTR is not; GPIO0 is low while DTR is asserted and RTS is not. Releasing EN boots
 * the chip after a short RC delay, sampling GPIO0 then. Links without modem lines (TCP) never
 * send line events: the board then behaves as if P2 were jumpered to GND.
 */
import { SlipDecoder, slipEncode } from '../rom/slip';
import type { DeviceEndpoint, ModemSignals, Unsubscribe } from '../transport/transport';
import type { EfuseWords } from '../efuse/fields';
import { factoryMacBytes } from '../efuse/fields';
import type { PycomModule } from '../boards/catalog';
import { downloadBootLog, normalBootHeader, BOOT_DOWNLOAD, BOOT_FLASH } from '../boot/boot-log';
import type { BootPredictor } from './boot-model';
import { EfuseController } from './efuse-controller';
import { VirtualMicroPython } from './raw-repl';
import { Faults, PowerLoss, type FaultOptions } from './faults';
import { factoryProfile, type CodingSchemeOption } from './profiles';
import { RegisterSpace } from './registers';
import { RomLoader } from './rom-loader';
import { SpiFlash } from './spi-flash';
import { Spi1 } from './spi1';
import { DEFAULT_TIMING, type TimingModel } from '../chip/flash-timing';
import { DeviceTimeline, sleep, sleepUntil } from './timing';

export type DeviceMode = 'download' | 'normal';
/** 'off': power lost (fault) until the next reset; 'reset': EN held low; 'ram': running uploaded code. */
export type DeviceState = DeviceMode | 'off' | 'reset' | 'ram';

export interface VirtualEsp32Options {
  profile?: string;
  seed?: string;
  codingScheme?: CodingSchemeOption;
  timing?: boolean | TimingModel;
  faults?: Faults | FaultOptions;
  /** Physical eFuse words to start from instead of the factory image. */
  efuse?: EfuseWords;
  /** Opcode byte in the reply to an unknown command (UNCONFIRMED; default 0x00). */
  unknownOpcodeReplyOp?: number;
  /** How often that reply is sent (UNCONFIRMED 1…8; default 1). */
  unknownOpcodeReplyRepeats?: number;
  /**
   * What this board prints (and does) after the ROM header when it resets into normal boot; it
   * belongs to this device only. Without one the board prints the ROM header and nothing more.
   */
  bootPredictor?: BootPredictor;
}

/** Baud mismatch beyond which UART bytes are garbage (a UART tolerates roughly ±3 %). */
const BAUD_TOLERANCE = 0.03;
/** RC delay between EN release and the chip sampling its straps. */
const EN_RC_DELAY_MS = 2;
const ROM_BAUD = 115200;
/** The console rate of Pycom's firmware (sdkconfig: UART0 at 115200), whatever the ROM loader was set to. */
const FIRMWARE_BAUD = 115200;

export class VirtualEsp32 {
  readonly module: PycomModule;
  readonly chipRevision: number;
  readonly flash: SpiFlash;
  readonly efuse: EfuseController;
  readonly registers: RegisterSpace;
  readonly faults: Faults;
  readonly timing: TimingModel | undefined;
  /** The timing model's clock (only with timing on): UART both ways, erase/program time. */
  readonly timeline: DeviceTimeline | undefined;
  readonly seed: string;
  /** Problems inside the model (bugs), kept for tests instead of crashing the host process. */
  readonly internalErrors: Error[] = [];

  private readonly spi1: Spi1;
  private readonly loader: RomLoader;
  private decoder = new SlipDecoder();
  private endpoint: DeviceEndpoint | undefined;
  private subs: Unsubscribe[] = [];
  private stateValue: DeviceState = 'reset';
  private strapValue = BOOT_DOWNLOAD;
  private uartBaudValue = ROM_BAUD;
  private lineBaud: number | undefined;
  private lineDataBits = 8;
  private autobaud = true;
  private gpio0Low = true;
  /** GPIO0 level changes since EN was released: the strap is sampled as of release + RC delay. */
  private gpio0History: Array<{ at: number; low: boolean }> = [];
  private enReleasedAt = 0;
  private enLow = false;
  private epoch = 0;
  /** Aborted at each new epoch (reset, power loss, EN low, leaving the loader): cuts pending waits short. */
  private halt = new AbortController();
  private work: Promise<void> = Promise.resolve();
  private outChain: Promise<void> = Promise.resolve();
  private bootTimer: NodeJS.Timeout | undefined;
  private readonly textListeners = new Set<(text: string) => void>();
  private readonly baudListeners = new Set<(baud: number) => void>();
  /**
   * Called (synchronously) before the loader sends any reply while an eFuse burn or a flash
   * erase/program has happened since the last call: `sim serve --state` saves the board there,
   * so nothing a reply acknowledges is lost when the server is killed. Throwing from it (a full
   * disk) is kept in `internalErrors` and the reply still goes out.
   */
  persist: (() => void) | undefined;
  private persistedChanges = -1;
  private readonly bootPredictor: BootPredictor | undefined;
  /** The MicroPython console while the firmware runs (set by a boot that reached the app, dropped at each new epoch). */
  private console: VirtualMicroPython | undefined;

  constructor(opts: VirtualEsp32Options = {}) {
    const profile = factoryProfile(opts.profile ?? 'GPY', opts.seed ?? 'default', opts.codingScheme ?? 'none');
    this.module = profile.module;
    this.seed = profile.seed;
    this.bootPredictor = opts.bootPredictor;
    this.chipRevision = profile.module.chipRevision;
    this.flash = new SpiFlash({ size: profile.module.flashSize });
    this.efuse = new EfuseController({ raw: opts.efuse ?? profile.efuse });
    this.faults = opts.faults instanceof Faults ? opts.faults : new Faults(opts.faults);
    this.efuse.onProgramWord = (b, w) => this.faults.step('efuse-word', `BLOCK${b} word ${w}`);
    this.timing = opts.timing === true ? DEFAULT_TIMING : opts.timing || undefined;
    this.timeline = this.timing ? new DeviceTimeline(this.timing) : undefined;
    this.spi1 = new Spi1(this.flash);
    this.registers = new RegisterSpace({
      efuse: this.efuse,
      spi1: this.spi1,
      chipRevision: this.chipRevision,
      strap: () => this.strapValue,
      uartBaud: () => this.uartBaudValue,
    });
    this.loader = new RomLoader({
      flash: this.flash,
      regs: this.registers,
      faults: this.faults,
      timing: this.timing,
      spend: (ms, flash) => this.timeline?.spend(ms, flash),
      send: (packet) => {
        this.persistIfChanged();
        return this.send(slipEncode(packet));
      },
      uartBaud: () => this.uartBaudValue,
      setUartBaud: (b) => {
        this.uartBaudValue = b;
        this.autobaud = false;
        for (const fn of this.baudListeners) fn(b);
      },
      leaveLoader: (run) => this.leaveLoader(run),
      jumpToRam: () => {
        this.stateValue = 'ram';
      },
      unknownOpcodeReplyOp: opts.unknownOpcodeReplyOp ?? 0x00,
      unknownOpcodeReplyRepeats: opts.unknownOpcodeReplyRepeats ?? 1,
    });
  }

  /** Current state: 'download', 'normal', 'off', 'reset' or 'ram'. */
  get state(): DeviceState {
    return this.stateValue;
  }

  /** The chip's UART0 baud rate. */
  get uartBaud(): number {
    return this.uartBaudValue;
  }

  /** Whether the firmware runs (a normal boot reached the app), so its MicroPython console answers on the UART. */
  get firmwareRunning(): boolean {
    return this.console !== undefined;
  }

  /** Factory MAC bytes (printed order). */
  get mac(): Buffer {
    return factoryMacBytes(this.efuse.rawWords());
  }

  /** Listens to the text/bytes the chip prints (decoded as latin1), e.g. boot logs. */
  onText(fn: (text: string) => void): Unsubscribe {
    this.textListeners.add(fn);
    return () => this.textListeners.delete(fn);
  }

  /** Listens to CHANGE_BAUDRATE: `fn` gets the UART0 rate the ROM loader switched to (after its reply went out). */
  onUartBaud(fn: (baud: number) => void): Unsubscribe {
    this.baudListeners.add(fn);
    return () => this.baudListeners.delete(fn);
  }

  /** Connects the chip's UART (and its EN/GPIO0 lines) to a link. Replaces any previous link. */
  attach(endpoint: DeviceEndpoint): void {
    this.detach();
    this.endpoint = endpoint;
    this.lineBaud = undefined;
    this.lineDataBits = 8;
    this.subs = [
      endpoint.onData((chunk) => this.receive(chunk)),
      endpoint.onSignals((s) => this.signals(s)),
      endpoint.onBaud((b) => {
        this.lineBaud = b;
      }),
      endpoint.onDataBits((bits) => {
        this.lineDataBits = bits;
      }),
      endpoint.onClose(() => this.detach(endpoint)),
    ];
  }

  /** Disconnects from the link (board state is kept). */
  detach(which?: DeviceEndpoint): void {
    if (which && which !== this.endpoint) return;
    for (const u of this.subs) u();
    this.subs = [];
    this.endpoint = undefined;
  }

  /**
   * Resets the chip (power-on reset, or `reason` as printed on the rst: line) into download mode
   * (GPIO0 low) or a normal flash boot. Also restores power after a power-loss fault.
   */
  reset(mode: DeviceMode = 'download', reason = 0x1): void {
    this.newEpoch();
    if (this.bootTimer) clearTimeout(this.bootTimer);
    this.bootTimer = undefined;
    this.faults.lost = undefined;
    this.efuse.reset();
    this.spi1.reset();
    this.registers.reset();
    this.loader.reset();
    this.decoder = new SlipDecoder();
    this.uartBaudValue = ROM_BAUD;
    this.autobaud = true;
    this.work = Promise.resolve();
    this.timeline?.reset();
    if (mode === 'download') {
      this.strapValue = BOOT_DOWNLOAD;
      this.stateValue = 'download';
      this.print(downloadBootLog(this.chipRevision, reason));
    } else {
      this.strapValue = BOOT_FLASH;
      this.stateValue = 'normal';
      this.bootFromFlash(normalBootHeader(this.chipRevision, reason), reason);
    }
  }

  /** Cuts power now (as a fault campaign would): the board stays silent until reset(). */
  powerOff(): void {
    this.newEpoch();
    this.stateValue = 'off';
  }

  /**
   * Whatever the chip was doing is over (reset, power loss, EN low, jump to user code): replies
   * and boot text still queued are dropped, and any wait in progress (a reply held back by busy
   * time such as a WRITE_REG delay_us, a line-delay fault) ends now instead of blocking what the
   * chip sends next.
   */
  private newEpoch(): void {
    this.epoch++;
    this.console = undefined;
    this.halt.abort();
    this.halt = new AbortController();
    this.outChain = Promise.resolve();
  }

  /** Resolves once every received command has been processed and every reply handed to the link. */
  async idle(): Promise<void> {
    let w: Promise<void>;
    do {
      w = this.work;
      await w;
      await this.outChain;
    } while (w !== this.work);
  }

  private bootFromFlash(header: string, reason: number): void {
    const predictor = this.bootPredictor;
    if (!predictor) {
      this.print(header);
      return;
    }
    const p = predictor({ chipRevision: this.chipRevision, resetReason: reason, efuse: this.efuse.rawWords(), flash: this.flash, romHeader: header, seed: this.seed });
    if (p.efuseAfter) this.efuse.setRaw(p.efuseAfter);
    for (const w of p.flashWrites ?? []) {
      if (w.erase) this.flash.eraseRange(w.offset, w.data.length);
      this.flash.program(w.offset, w.data);
    }
    const firmware = p.firmware;
    if (!firmware) {
      this.print(header + p.log);
      return;
    }
    this.console = new VirtualMicroPython({
      // MICROPY_HW_BOARD_NAME is the catalog title without its version ("WiPy 3.0" -> "WiPy").
      boardName: this.module.title.split(' ')[0]!,
      otaSlot: () => firmware.otaSlot({ chipRevision: this.chipRevision, efuse: this.efuse.rawWords(), flash: this.flash }),
    });
    // The firmware's friendly REPL prints its banner and prompt when it starts (MicroPython's
    // pyexec_friendly_repl), which is how a listener knows the app came up.
    this.print(header + p.log + this.console.banner() + '>>> ');
  }

  private leaveLoader(runUserCode: boolean): void {
    if (runUserCode) {
      // "Run user code": the ROM continues into the flash boot path without a reset.
      this.newEpoch();
      this.stateValue = 'normal';
      this.bootFromFlash('', 0x1);
    } else {
      // Reboot: a software reset; the latched strap still selects the same boot mode
      // (whether a ROM reboot re-samples GPIO0 is UNCONFIRMED).
      this.reset(this.strapValue === BOOT_DOWNLOAD ? 'download' : 'normal', 0x3);
    }
  }

  private signals(s: Required<ModemSignals>): void {
    const enLow = s.rts && !s.dtr;
    const gpio0Low = s.dtr && !s.rts;
    if (gpio0Low !== this.gpio0Low) this.gpio0History.push({ at: Date.now(), low: gpio0Low });
    this.gpio0Low = gpio0Low;
    if (enLow && !this.enLow) {
      this.enLow = true;
      this.newEpoch();
      if (this.bootTimer) clearTimeout(this.bootTimer);
      this.bootTimer = undefined;
      this.stateValue = 'reset';
    } else if (!enLow && this.enLow) {
      this.enLow = false;
      this.enReleasedAt = Date.now();
      this.gpio0History = [{ at: this.enReleasedAt, low: this.gpio0Low }];
      this.bootTimer = setTimeout(() => {
        this.bootTimer = undefined;
        if (this.enLow) return;
        // A late timer (busy event loop) must not change what the chip sampled: use the GPIO0
        // level as it was at release + RC delay.
        const sampleAt = this.enReleasedAt + EN_RC_DELAY_MS;
        let low = this.gpio0History[0]!.low;
        for (const h of this.gpio0History) if (h.at <= sampleAt) low = h.low;
        this.reset(low ? 'download' : 'normal', 0x1);
      }, EN_RC_DELAY_MS);
    }
  }

  private baudMatches(): boolean {
    if (this.lineBaud === undefined) return true;
    return Math.abs(this.lineBaud / this.uartBaudValue - 1) <= BAUD_TOLERANCE;
  }

  private receive(chunk: Buffer): void {
    if (this.stateValue === 'normal' && this.console) return this.consoleInput(chunk);
    if (this.stateValue !== 'download') return; // reset, off, a boot that stopped: nothing is listening
    if (this.lineDataBits !== 8) return; // 5-bit PIC traffic is noise to the ESP32
    const { data, delayMs } = this.faults.filter('to-device', chunk);
    if (this.autobaud && this.lineBaud !== undefined) this.uartBaudValue = this.lineBaud; // ROM auto-baud
    if (!this.baudMatches()) return;
    const epoch = this.epoch;
    const signal = this.halt.signal;
    // Timing model: the bytes occupy the receive line at the chip's baud; a frame in them can be
    // handled only once its last byte is in (charged to the time line, not slept here).
    const receivedAt = this.timeline?.receive(data.length, this.uartBaudValue);
    const run = async (): Promise<void> => {
      if (delayMs) await sleep(delayMs, signal);
      if (epoch !== this.epoch || this.stateValue !== 'download') return;
      for (const ev of this.decoder.push(data)) {
        if (ev.kind !== 'frame') continue;
        if (epoch !== this.epoch || this.stateValue !== 'download') return;
        if (receivedAt !== undefined) this.timeline!.startWork(receivedAt);
        try {
          await this.loader.handleFrame(ev.data);
        } catch (e) {
          if (e instanceof PowerLoss) {
            this.powerOff();
            return;
          }
          this.internalErrors.push(e instanceof Error ? e : new Error(String(e)));
        }
      }
    };
    this.work = this.work.then(run);
  }

  /**
   * Bytes for the running firmware's console: SLIP frames are plain bytes to it (the ROM loader is
   * not listening), 5-bit PIC traffic and a wrong baud are noise.
   */
  private consoleInput(chunk: Buffer): void {
    if (this.lineDataBits !== 8) return;
    if (this.lineBaud !== undefined && Math.abs(this.lineBaud / FIRMWARE_BAUD - 1) > BAUD_TOLERANCE) return;
    const { data } = this.faults.filter('to-device', chunk);
    const console = this.console!;
    let answer: string;
    try {
      answer = console.input(data);
    } catch (e) {
      this.internalErrors.push(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (answer) {
      for (const fn of this.textListeners) fn(answer);
      void this.send(Buffer.from(answer, 'latin1'), FIRMWARE_BAUD);
    }
  }

  private print(text: string): void {
    for (const fn of this.textListeners) fn(text);
    void this.send(Buffer.from(text, 'latin1'));
  }

  /** Sends bytes out of UART0, in order, through the fault and timing models. */
  /** Runs `persist` when the eFuses or the flash changed since it last ran. */
  persistIfChanged(): void {
    if (!this.persist) return;
    const now = this.efuse.changes + this.flash.changes;
    if (now === this.persistedChanges) return;
    try {
      this.persist();
      this.persistedChanges = now;
    } catch (e) {
      this.internalErrors.push(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private send(bytes: Buffer, baud = this.uartBaudValue): Promise<void> {
    const epoch = this.epoch;
    const signal = this.halt.signal;
    this.outChain = this.outChain.then(async () => {
      if (epoch !== this.epoch) return;
      const { data, delayMs } = this.faults.filter('to-host', bytes);
      if (delayMs) await sleep(delayMs, signal);
      // Timing model: the last byte leaves after the work charged so far and the bytes before it.
      if (this.timeline) await sleepUntil(this.timeline.transmit(data.length, baud), signal);
      if (epoch !== this.epoch || !this.endpoint) return;
      // At the wrong baud the host receives garbage; modelled as nothing arriving.
      if (this.lineBaud !== undefined && Math.abs(this.lineBaud / baud - 1) > BAUD_TOLERANCE) return;
      this.endpoint.write(data);
    });
    return this.outChain;
  }
}
