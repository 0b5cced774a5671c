import type { Transport } from './transport';
import { serialText } from './serial-text';

/**
 * Collects what the board prints for `ms` milliseconds (boot logs after a reset, REPL output),
 * optionally while `during` runs (the reset itself), so nothing printed early is missed. The
 * bytes are cleaned by `serialText` (no SLIP frames, colour codes or invisible bytes).
 */
export async function captureOutput(t: Transport, ms: number, during?: () => Promise<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  const off = t.onData((c) => {
    chunks.push(Buffer.from(c));
  });
  try {
    await during?.();
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    off();
  }
  return serialText(Buffer.concat(chunks));
}
