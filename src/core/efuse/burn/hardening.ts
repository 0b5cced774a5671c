/**
 * The optional hardening fuses of Burn Keys, with what each one closes and what it costs: one
 * place for the CLI's --hardening help, the plan's hardening step and the editor's choice.
 */
export interface HardeningFuse {
  name: 'DISABLE_DL_ENCRYPT' | 'DISABLE_DL_DECRYPT' | 'DISABLE_DL_CACHE' | 'JTAG_DISABLE';
  closes: string;
  cost: string;
}

export const HARDENING_FUSES: readonly HardeningFuse[] = [
  { name: 'DISABLE_DL_ENCRYPT', closes: 'download mode can no longer encrypt flash (esptool --encrypt stops working)', cost: 'updates over serial need images encrypted on the host with your key' },
  { name: 'DISABLE_DL_DECRYPT', closes: 'download mode can no longer read decrypted flash', cost: 'none for normal use, but read-back of flash contents over serial returns ciphertext only' },
  { name: 'DISABLE_DL_CACHE', closes: 'no flash cache in download mode, closing another way to read decrypted flash', cost: 'stub loaders that rely on the cache cannot run' },
  { name: 'JTAG_DISABLE', closes: 'closes the JTAG debug port (a way to read RAM and keys in use)', cost: 'no hardware debugging of this board, ever' },
];

export const HARDENING_FIELDS = HARDENING_FUSES.map((f) => f.name);

/** One line per fuse: "NAME: closes; cost: ...". */
export function hardeningLines(): string[] {
  return HARDENING_FUSES.map((f) => `${f.name}: ${f.closes}; cost: ${f.cost}.`);
}

/** The CLI's --hardening help text. */
export function hardeningHelp(): string {
  return ['--hardening also burns (each is permanent):', ...hardeningLines().map((l) => `  ${l}`)].join('\n');
}
