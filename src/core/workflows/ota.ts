import { findBuildOutputs, type BuildOutputs } from '../firmware/outputs';
import { readHardwareKeyFile } from '../keys/key-files';
import type { KeyStore } from '../keystore/key-store';
import { makeOtaImage, type OtaImage } from '../ota/ota-image';
import { writeFileAtomic } from '../util/atomic-file';
import { storeBuildKey } from '../secure-build/per-device';
import type { BoardId } from '../boards/catalog';
import { establishOfflineKeyEvidence, type KeyEvidence } from './evidence';

export interface OtaImageRequest {
  store: KeyStore;
  /** The board's MAC when it has its own flash key (per-device keys); otherwise the shared key is used. */
  mac?: string;
  /** The build's output folder (esp32/build/BOARD/release) and the board it was built for. */
  buildDir: string;
  board: BoardId;
  /**
   * The OTA slot the board will write next: a number given by the user, or a function that asks
   * the running board (Pycom's `pycom.ota_slot()` over the raw REPL), called once the build is read.
   */
  slot: number | ((build: BuildOutputs) => Promise<number>);
  output: string;
  /** The user vouched that the store holds this board's flash key (the CLI's --trust-key-store); recorded in the audit log. */
  trustKeyStore?: boolean;
  /** How this front end acknowledges, for the refusal (default "pass --trust-key-store"). */
  acknowledgeHint?: string;
}

export interface OtaImageOutcome extends OtaImage {
  output: string;
  slotSource: 'board' | 'option';
  flashKey?: Uint8Array;
  /** For an image made for a board (`mac`): why the store's key was taken for the board's (evidence.ts). */
  evidence?: KeyEvidence;
}

/**
 * The OTA image for a board, the one body of the CLI's `ota-image` and the editor's Prepare OTA
 * Image: the board's flash key (its own by MAC, else the shared one), the build's outputs
 * classified with it, the app encrypted for the slot the board writes next (Pycom's OTA writes
 * the file as it is into that slot, so it must be encrypted for that slot's address), written
 * atomically (a failed write leaves no partial file). Made for a board (`mac`), the key needs
 * evidence that it is that board's (a verified burn record in the store, or the user's recorded
 * word; issue 12 B), or nothing is written.
 *
 * Errors: E_KEY_EVIDENCE (a board's image without evidence for its key), UserError for a missing or unreadable build, a slot that is not one of the board's OTA
 * slots, an app that does not decrypt with the key, or an output that cannot be written.
 */
export async function otaImage(req: OtaImageRequest): Promise<OtaImageOutcome> {
  const keyFile = req.store.flashKeyFileFor(req.mac);
  const flashKey = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  const evidence = req.mac
    ? establishOfflineKeyEvidence(req.mac, {
      store: req.store, keys: flashKey ? { flashKey } : {}, job: 'ota-image', writes: true,
      ...(req.trustKeyStore ? { trust: true } : {}), ...(req.acknowledgeHint ? { acknowledgeHint: req.acknowledgeHint } : {}),
    })
    : undefined;
  const build = findBuildOutputs(req.buildDir, { board: req.board, ...(flashKey ? { flashKey } : {}) });
  const slotSource = typeof req.slot === 'number' ? 'option' : 'board';
  const slot = typeof req.slot === 'number' ? req.slot : await req.slot(build);
  const buildKey = storeBuildKey(req.store);
  const img = makeOtaImage({ build, slot, slotSource, ...(flashKey ? { flashKey } : {}), ...(buildKey ? { buildKey } : {}) });
  writeFileAtomic(req.output, img.data);
  return { ...img, output: req.output, slotSource, ...(flashKey ? { flashKey } : {}), ...(evidence ? { evidence } : {}) };
}
