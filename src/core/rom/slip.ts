/**
 * SLIP framing (RFC 1055, as esptool's Serial Protocol docs use it). The encoder is exact; the
 * decoder is a streaming
 * state machine that keeps text and garbage seen between frames (boot logs, REPL output) so
 * callers can explain *why* a board did not answer, and bounds every buffer it keeps.
 */
export const END = 0xc0;
export const ESC = 0xdb;
export const ESC_END = 0xdc;
export const ESC_ESC = 0xdd;

export function slipEncode(payload: Uint8Array): Buffer {
  let extra = 0;
  for (const b of payload) if (b === END || b === ESC) extra++;
  const out = Buffer.alloc(payload.length + extra + 2);
  let j = 0;
  out[j++] = END;
  for (const b of payload) {
    if (b === END) {
      out[j++] = ESC;
      out[j++] = ESC_END;
    } else if (b === ESC) {
      out[j++] = ESC;
      out[j++] = ESC_ESC;
    } else out[j++] = b;
  }
  out[j++] = END;
  return out;
}

export type SlipEvent =
  | { kind: 'frame'; data: Buffer }
  /** Bytes seen outside any frame (boot log text, noise). */
  | { kind: 'noise'; data: Buffer }
  /** A frame that broke SLIP rules (bad escape) or grew past the limit; its bytes are dropped. */
  | { kind: 'bad-frame'; reason: string };

export interface SlipDecoderOptions {
  /** Largest frame accepted; longer ones are dropped as bad (bounded memory). */
  maxFrame?: number;
  /** How much out-of-frame noise is kept per event. */
  maxNoise?: number;
}

export class SlipDecoder {
  private readonly maxFrame: number;
  private readonly maxNoise: number;
  private inFrame = false;
  private escaped = false;
  private overflow = false;
  private badEscape: string | undefined;
  private frame: number[] = [];
  private noise: number[] = [];

  constructor(opts: SlipDecoderOptions = {}) {
    this.maxFrame = opts.maxFrame ?? 0x4000 + 64;
    this.maxNoise = opts.maxNoise ?? 4096;
  }

  /** True while part of a frame has been received but not its end. */
  get midFrame(): boolean {
    return this.inFrame && (this.frame.length > 0 || this.escaped);
  }

  get pendingFrameBytes(): number {
    return this.frame.length;
  }

  push(chunk: Uint8Array): SlipEvent[] {
    const events: SlipEvent[] = [];
    for (const b of chunk) {
      if (!this.inFrame) {
        if (b === END) {
          this.flushNoise(events);
          this.startFrame();
        } else {
          if (this.noise.length < this.maxNoise) this.noise.push(b);
        }
        continue;
      }
      if (b === END) {
        if (this.frame.length === 0 && !this.escaped && !this.badEscape && !this.overflow) {
          // Back-to-back C0 C0: the end of one frame is followed by the start of the next.
          continue;
        }
        this.endFrame(events);
        // A C0 both ends a frame and may start the next: stay in frame state, empty.
        this.startFrame();
        continue;
      }
      if (this.escaped) {
        this.escaped = false;
        if (b === ESC_END) this.add(END);
        else if (b === ESC_ESC) this.add(ESC);
        else this.badEscape ??= `invalid SLIP escape (0xdb, 0x${b.toString(16).padStart(2, '0')})`;
        continue;
      }
      if (b === ESC) {
        this.escaped = true;
        continue;
      }
      this.add(b);
    }
    return events;
  }

  /** Drops any partial frame and noise (after a flush of the port, or a timeout). */
  reset(): void {
    this.inFrame = false;
    this.startFrame();
    this.inFrame = false;
    this.noise = [];
  }

  /** Noise collected since the last frame start, without consuming it. */
  peekNoise(): Buffer {
    return Buffer.from(this.noise);
  }

  private add(b: number): void {
    if (this.frame.length >= this.maxFrame) {
      this.overflow = true;
      return;
    }
    this.frame.push(b);
  }

  private startFrame(): void {
    this.inFrame = true;
    this.escaped = false;
    this.overflow = false;
    this.badEscape = undefined;
    this.frame = [];
  }

  private endFrame(events: SlipEvent[]): void {
    if (this.overflow) events.push({ kind: 'bad-frame', reason: `frame longer than ${this.maxFrame} bytes` });
    else if (this.badEscape) events.push({ kind: 'bad-frame', reason: this.badEscape });
    else if (this.escaped) events.push({ kind: 'bad-frame', reason: 'frame ended inside an escape sequence' });
    else events.push({ kind: 'frame', data: Buffer.from(this.frame) });
  }

  private flushNoise(events: SlipEvent[]): void {
    if (this.noise.length > 0) {
      events.push({ kind: 'noise', data: Buffer.from(this.noise) });
      this.noise = [];
    }
  }
}
