import type { UiPort } from '../core';
import type { CliIo } from './command';

/**
 * The workflows' UI port on a terminal: progress and warnings on stderr, questions through
 * `io.prompt` (only when stdin is a terminal; a script gives --confirm and flags instead, and an
 * unanswerable question counts as dismissed).
 */
export function terminalUi(io: CliIo): UiPort {
  return {
    info: (l) => io.err(l),
    warn: (l) => io.err(`Warning: ${l}`),
    async choose(q) {
      if (!io.prompt) return undefined;
      io.err(q.title);
      q.items.forEach((it, i) => io.err(`  ${i + 1}) ${it.label}${it.description ? ` (${it.description})` : ''}${it.detail ? `\n     ${it.detail}` : ''}`));
      const a = (await io.prompt(`Choose 1-${q.items.length} (Enter: 1): `))?.trim();
      if (a === undefined) return undefined;
      const n = a === '' ? 1 : Number(a);
      return Number.isInteger(n) && n >= 1 && n <= q.items.length ? q.items[n - 1]!.value : undefined;
    },
    async confirmMac(q) {
      return io.prompt ? io.prompt(`${q.prompt} `) : undefined;
    },
    task: (_title, fn) => fn((m) => io.err(m), new AbortController().signal),
  };
}
