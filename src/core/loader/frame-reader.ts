import { SlipDecoder } from '../rom/slip';
import type { Transport, Unsubscribe } from '../transport/transport';
import { realClock, type Clock } from './clock';

/** Why a read gave up: the distinction is what lets us name the cause to the user. */
export type ReadFailureKind =
  /** Not a single byte arrived since the reader started. */
  | 'no-data'
  /** Bytes arrived during this wait but none formed a frame (boot log text, REPL output, noise). */
  | 'noise'
  /** A frame started (C0 seen, content following) but never ended. */
  | 'mid-frame'
  /** Frames came before, then the stream went quiet. */
  | 'stream-stopped'
  /** The link closed under us. */
  | 'closed';

export class ReadFailure extends Error {
  constructor(
    readonly kind: ReadFailureKind,
    /** Bytes of the unfinished frame (mid-frame only). */
    readonly received: number,
    readonly noise: Buffer,
    readonly linkError?: Error,
    /** The first bytes received during this wait, as they came (for messages: what was actually received). */
    readonly raw?: Buffer,
    /** How many bytes arrived during this wait in all. */
    readonly rawTotal?: number,
  ) {
    super(`read failed: ${kind}`);
    this.name = 'ReadFailure';
  }
}

export interface FrameReaderOptions {
  clock?: Clock;
  /** Frames kept while nobody reads; older ones are dropped (bounded memory). */
  maxQueued?: number;
  /** Bytes of out-of-frame text kept for diagnostics (boot logs), across frames. */
  maxNoiseKept?: number;
}

/**
 * Reads SLIP frames from a transport, tolerating boot-log text and garbage between frames
 * (kept, bounded, for diagnostics) and dropping malformed frames instead of failing on them.
 */
export class FrameReader {
  private readonly decoder = new SlipDecoder();
  private readonly clock: Clock;
  private readonly maxQueued: number;
  private readonly maxNoiseKept: number;
  private queue: Buffer[] = [];
  private waiter: { resolve: (f: Buffer) => void; reject: (e: Error) => void } | undefined;
  private unsubs: Unsubscribe[] = [];
  private noiseKept: Buffer = Buffer.alloc(0);
  private closedError: Error | undefined;
  private closed = false;
  /** Counts since `start()`: they tell "never heard anything" from "went quiet". */
  private bytesSeen = 0;
  private framesSeen = 0;
  private badFrames = 0;
  private bytesThisWait = 0;
  /** The first bytes of this wait, raw (bounded). */
  private rawThisWait: Buffer = Buffer.alloc(0);
  /**
   * Sees every frame as it is decoded, right after it is queued or handed to the reader, in the
   * same turn as the bytes arrived (RomLoader sends the next data block from here).
   */
  onFrame: ((frame: Buffer) => void) | undefined;

  constructor(
    private readonly transport: Transport,
    opts: FrameReaderOptions = {},
  ) {
    this.clock = opts.clock ?? realClock;
    this.maxQueued = opts.maxQueued ?? 256;
    this.maxNoiseKept = opts.maxNoiseKept ?? 4096;
  }

  start(): void {
    if (this.unsubs.length > 0) return;
    this.closed = false;
    this.closedError = undefined;
    this.unsubs.push(this.transport.onData((chunk) => this.push(chunk)));
    this.unsubs.push(
      this.transport.onClose((err) => {
        this.closed = true;
        this.closedError = err;
        this.waiter?.reject(new ReadFailure('closed', 0, this.noise(), err));
        this.waiter = undefined;
      }),
    );
  }

  stop(): void {
    for (const u of this.unsubs) u();
    this.unsubs = [];
  }

  /** Feeds received bytes (public so tests can drive it without a transport). */
  push(chunk: Buffer): void {
    this.bytesSeen += chunk.length;
    this.bytesThisWait += chunk.length;
    if (this.rawThisWait.length < 64) this.rawThisWait = Buffer.concat([this.rawThisWait, chunk.subarray(0, 64 - this.rawThisWait.length)]);
    for (const ev of this.decoder.push(chunk)) {
      if (ev.kind === 'frame') {
        this.framesSeen++;
        if (this.waiter) {
          const w = this.waiter;
          this.waiter = undefined;
          w.resolve(ev.data);
        } else {
          this.queue.push(ev.data);
          if (this.queue.length > this.maxQueued) this.queue.shift();
        }
        // After the frame is delivered: whatever onFrame sends, a reply to it that a link delivers
        // at once (within the write) is queued behind this frame, never handed to this frame's reader.
        this.onFrame?.(ev.data);
      } else if (ev.kind === 'noise') this.keepNoise(ev.data);
      else this.badFrames++;
    }
  }

  /** Next frame, or a ReadFailure after `timeoutMs` saying what (if anything) was seen. */
  readFrame(timeoutMs: number): Promise<Buffer> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.closed) return Promise.reject(new ReadFailure('closed', 0, this.noise(), this.closedError));
    if (this.waiter) return Promise.reject(new Error('FrameReader: only one reader at a time'));
    this.bytesThisWait = 0;
    this.rawThisWait = Buffer.alloc(0);
    return new Promise<Buffer>((resolve, reject) => {
      const cancel = this.clock.timer(timeoutMs, () => {
        if (this.waiter?.resolve !== res) return;
        this.waiter = undefined;
        reject(this.timeoutFailure());
      });
      const res = (f: Buffer): void => {
        cancel();
        resolve(f);
      };
      this.waiter = {
        resolve: res,
        reject: (e) => {
          cancel();
          reject(e);
        },
      };
    });
  }

  /** Drops queued frames and any partial frame: called before a command so stale replies go. */
  discardPending(): void {
    this.queue = [];
    // A full reset also leaves the decoder's "between frames" state, so text that follows a
    // frame (a boot log after a reset) is seen as noise instead of as the start of a frame.
    const pendingNoise = this.decoder.peekNoise();
    if (pendingNoise.length) this.keepNoise(pendingNoise);
    this.decoder.reset();
  }

  /** Everything seen out of frames lately (a boot log, REPL text), newest last. */
  noise(): Buffer {
    const pending = this.decoder.peekNoise();
    return pending.length ? Buffer.concat([this.noiseKept, pending]).subarray(-this.maxNoiseKept) : this.noiseKept;
  }

  clearNoise(): void {
    this.noiseKept = Buffer.alloc(0);
    this.queue = [];
    this.decoder.reset();
  }

  /** Records bytes that arrived framed but are not loader replies (e.g. text between C0s). */
  note(data: Buffer): void {
    this.keepNoise(data);
  }

  get stats(): { bytes: number; frames: number; badFrames: number } {
    return { bytes: this.bytesSeen, frames: this.framesSeen, badFrames: this.badFrames };
  }

  private timeoutFailure(): ReadFailure {
    const noise = this.noise();
    if (this.decoder.midFrame) return new ReadFailure('mid-frame', this.decoder.pendingFrameBytes, noise);
    if (this.bytesThisWait > 0) return new ReadFailure('noise', 0, noise, undefined, this.rawThisWait, this.bytesThisWait);
    if (this.bytesSeen === 0) return new ReadFailure('no-data', 0, noise);
    if (this.framesSeen > 0) return new ReadFailure('stream-stopped', 0, noise);
    // Text came earlier (a boot log) but nothing during this wait: still "no answer".
    return new ReadFailure('no-data', 0, noise);
  }

  private keepNoise(data: Uint8Array): void {
    const joined = Buffer.concat([this.noiseKept, data]);
    this.noiseKept = joined.length > this.maxNoiseKept ? Buffer.from(joined.subarray(-this.maxNoiseKept)) : joined;
  }
}
