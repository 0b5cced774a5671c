import type { Transport } from './transport';

/**
 * Collects what the board prints for `ms` milliseconds (boot logs after a reset, REPL output),
 * optionally while `during` runs (the reset itself), so nothing printed early is missed.
 */
export async function captureOutput(t: Transport, ms: number, during?: () => Promise<unknown>): Promise<string> {
  let text = '';
  const off = t.onData((c) => {
    text += c.toString('latin1');
  });
  try {
    await during?.();
    await new Promise((r) => setTimeout(r, ms));
  } finally {
    off();
  }
  return text;
}
