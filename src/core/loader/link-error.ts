import { UserError } from '../errors';
import { fail, type MessageCode, type MessageContext } from '../connect/messages';
import type { ReadFailure, ReadFailureKind } from './frame-reader';
import { RomError } from '../rom/opcodes';

/**
 * A UserError from talking to the chip that keeps what the connection logic needs to pick a
 * better explanation: how the read failed, the ROM's error code, and the text seen meanwhile.
 */
export class LinkError extends UserError {
  constructor(
    code: MessageCode,
    message: string,
    readonly failure?: ReadFailureKind,
    readonly romError?: number,
    readonly noise: Buffer = Buffer.alloc(0),
  ) {
    super(code, message);
    this.name = 'LinkError';
  }
}

export function linkError(code: MessageCode, ctx: MessageContext, extra: { failure?: ReadFailureKind; romError?: number; noise?: Buffer } = {}): LinkError {
  const e = fail(code, ctx);
  return new LinkError(code, e.message, extra.failure, extra.romError, extra.noise);
}

/** Printable excerpt of noise for a message: the last line or so, control bytes shown as dots. */
export function noiseSnippet(noise: Buffer, max = 60): string {
  const text = noise.toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
  return text.length > max ? `…${text.slice(-max)}` : text;
}

/**
 * Bytes as a message shows them: up to `max` in hex, then how many there were in all
 * ("c0 c0 c0 … (4096 bytes)").
 */
export function hexExcerpt(bytes: Uint8Array, max = 16, total = bytes.length): string {
  const shown = Array.from(bytes.subarray(0, max), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return total > Math.min(max, bytes.length) ? `${shown} … (${total} bytes)` : `${shown} (${total} byte${total === 1 ? '' : 's'})`;
}

/** What the virtual board's server says to a second client before it closes the connection. */
export const SIM_BUSY_TEXT = 'pycom-secure sim serve: busy, another client is connected';

export function fromReadFailure(f: ReadFailure, ctx: MessageContext): LinkError {
  const extra = { failure: f.kind, noise: f.noise };
  switch (f.kind) {
    case 'no-data':
      return linkError('E_NO_DATA', ctx, extra);
    case 'noise': {
      const text = noiseSnippet(f.noise);
      // Nothing printable (a flood of 0xC0 frame delimiters, binary garbage): show the bytes.
      const raw = f.raw ?? Buffer.alloc(0);
      const detail = text ? `"${text}"` : raw.every((b) => b === 0xc0) && raw.length ? `only 0xC0 frame delimiters: ${hexExcerpt(raw, 16, f.rawTotal)}` : `bytes ${hexExcerpt(raw, 16, f.rawTotal)}`;
      return linkError('E_NOISE', { ...ctx, detail }, extra);
    }
    case 'mid-frame':
      return linkError('E_TIMEOUT_MID_FRAME', { ...ctx, received: f.received }, extra);
    case 'stream-stopped':
      return linkError('E_TIMEOUT_STREAM_STOPPED', ctx, extra);
    case 'closed':
      if (f.noise.toString('latin1').includes(SIM_BUSY_TEXT)) return linkError('E_BOARD_BUSY', { ...ctx, detail: SIM_BUSY_TEXT }, extra);
      return linkError('E_LINK_CLOSED', ctx, extra);
  }
}

/** Link failures after which re-sending the same packet is harmless (the ROM did not act on it, or we cannot tell but the data is identical). */
export function isTransientLinkFailure(e: unknown): boolean {
  if (!(e instanceof LinkError)) return false;
  if (e.romError === RomError.INVALID_CRC) return true;
  return e.failure === 'no-data' || e.failure === 'stream-stopped' || e.failure === 'mid-frame' || e.failure === 'noise';
}

/**
 * Whether `e` says the link to the board went or stopped answering (a LinkError from a read, or a
 * write to a closed or failing port), as opposed to a refusal or a ROM error.
 */
export function isLinkLoss(e: unknown): e is UserError {
  return e instanceof LinkError ? e.failure !== undefined || e.code === 'E_LINK_CLOSED' : e instanceof UserError && (e.code === 'E_LINK_CLOSED' || e.code === 'E_PORT_IO');
}

/**
 * The same link error with a sentence added on what the run it cut off left and how to finish it
 * (a flash: a region partly written; a burn: some eFuse steps burned), as the Ctrl-C sentences
 * say; code (and a LinkError's failure kind and ROM error) unchanged.
 */
export function withWhatWasLeft(e: UserError, left: string): UserError {
  const message = `${e.message} ${left}`;
  return e instanceof LinkError ? new LinkError(e.code as MessageCode, message, e.failure, e.romError, e.noise) : new UserError(e.code, message);
}
