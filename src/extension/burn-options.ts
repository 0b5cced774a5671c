import type * as vscode from 'vscode';
import { HARDENING_FUSES } from '../core';

/** The Burn Keys profile choice; `hardening` is what planBurnKeys gets (the CLI's --hardening). */
export interface HardeningChoice extends vscode.QuickPickItem {
  hardening: boolean;
}

/**
 * Development first (the default, Pycom's flow); Release also burns the hardening fuses. What
 * each fuse closes and costs comes from the core (the CLI's --hardening help says the same) and
 * is repeated line by line in the plan the user reviews before typing the MAC.
 */
export function hardeningChoices(): HardeningChoice[] {
  return [
    {
      label: 'Development (keys + encryption + secure boot)',
      description: 'default',
      detail: 'UART download mode can still encrypt and decrypt flash and JTAG stays open, so the board can be debugged and reflashed over serial.',
      hardening: false,
    },
    {
      label: 'Release: also close UART download-mode crypto and JTAG',
      description: 'permanent',
      detail: HARDENING_FUSES.map((f) => `${f.name} closes: ${f.closes} (cost: ${f.cost})`).join(' · '),
      hardening: true,
    },
  ];
}

/** Asks which profile to burn; undefined when the user dismissed the question. */
export async function pickHardening(window: Pick<typeof vscode.window, 'showQuickPick'>, mac: string): Promise<boolean | undefined> {
  const pick = await window.showQuickPick(hardeningChoices(), {
    title: `Burn Keys on ${mac}: development or release?`,
    placeHolder: 'Development is the default; Release also burns DISABLE_DL_ENCRYPT, DISABLE_DL_DECRYPT, DISABLE_DL_CACHE and JTAG_DISABLE (shown in the plan)',
    ignoreFocusOut: true,
    matchOnDetail: true,
  });
  return pick?.hardening;
}
