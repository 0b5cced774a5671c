import { storeSigningPublicKey } from '../keystore/secure-boot-key-source';
import { buildGeneration, findBuildOutputs, type BuildOutputs } from '../firmware/outputs';
import type { GenerationId } from '../firmware/generations';
import { readHardwareKeyFile } from '../keys/key-files';
import { normaliseMac, type KeyStore } from '../keystore/key-store';
import { BoardRecordWriter, recordKeyEvidence, sha256Hex } from '../audit/board-record';
import { fingerprint } from '../util/fingerprint';
import { checkSlot, makeOtaImage, type OtaImage } from '../ota/ota-image';
import { writeFileAtomic } from '../util/atomic-file';
import { storeBuildKey } from '../secure-build/per-device';
import type { BoardId } from '../boards/catalog';
import { boardsBurnedWithOtherFlashKeys, establishKeyEvidence, establishOfflineKeyEvidence, type BurnAgainHints, type KeyEvidence } from './evidence';
import { UserError } from '../errors';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';
import { bannerModule, checkBuildModule, recordedModule, type ModuleCheck } from './module-evidence';

export interface OtaImageRequest {
  store: KeyStore;
  /** The board's MAC when it has its own flash key (per-device keys); otherwise the shared key is used. */
  mac?: string;
  /** The board's flash size in bytes when it is connected (otaBoardEvidence): a slot its layout does not have is refused. */
  flashSize?: number;
  /** The build's output folder (esp32/build/BOARD/release) and the board it was built for. */
  buildDir: string;
  board: BoardId;
  /**
   * The OTA slot the board will write next: a number given by the user, or a function that asks
   * the running board (Pycom's `pycom.ota_slot()` over the raw REPL, askOtaSlot), called once the
   * build is read and the records checked; it may return the banner the board printed (askOtaSlot's
   * `banner`), checked like `banner` before anything is written.
   */
  slot: number | ((build: BuildOutputs) => Promise<number | { slot: number; banner?: string }>);
  /** Text holding the running firmware's MicroPython banner, read before (the editor asks the slot first): the module it names is evidence (module-evidence.ts). */
  banner?: string;
  /** How the module check names a board whose MAC is not given (default "the board"), e.g. its port. */
  boardName?: string;
  /** The operator says the board is the build's module whatever the records or the banner say (the CLI's --override-module-evidence); recorded when the MAC is known. */
  overrideModule?: boolean;
  /** When the evidence names another module, ask through `ui.confirm` (the editor's modal question). */
  askModule?: boolean;
  /** How this front end overrides, for the refusal (default "run it again with --override-module-evidence"). */
  overrideModuleHint?: string;
  output: string;
  /** The user vouched that the store holds this board's flash key (the CLI's --trust-key-store); recorded in the audit log. */
  trustKeyStore?: boolean;
  /** How this front end acknowledges, for the refusal (default "pass --trust-key-store"). */
  acknowledgeHint?: string;
  /** How this front end uses another key store, for the refusal (default "--key-store DIR"). */
  keyStoreHint?: string;
  /** How this front end finishes a cut-off Burn Keys run, for E_BURN_UNFINISHED (default the CLI's). */
  burnAgainHints?: BurnAgainHints;
  /**
   * The evidence for the board's key found on the connected board (otaBoardEvidence, same `mac`),
   * used in place of the offline check (burn record or acknowledgement only).
   */
  boardEvidence?: KeyEvidence;
  /**
   * How this front end names the board, for the refusal when the store holds per-device keys and
   * no `mac` is given (default the CLI's "give the board's MAC with --mac MAC, or --port PORT to read it from the board").
   */
  macHint?: string;
}

export interface OtaImageOutcome extends OtaImage {
  output: string;
  slotSource: 'board' | 'option';
  flashKey?: Uint8Array;
  /** For an image made for a board (`mac`): why the store's key was taken for the board's (evidence.ts). */
  evidence?: KeyEvidence;
  /** The evidence about the board's module that agreed with the build, or that the operator overrode (module-evidence.ts). */
  module: ModuleCheck;
}

/**
 * The refusal otaImage starts with, for a front end to give before it asks anything else (the
 * editor, before its slot pick): a key store holding per-device keys (devices/<MAC>/) needs the
 * board's MAC, because the build key's image would not boot on a board with its own key.
 * `macHint` is how this front end names the board (default the CLI's --mac/--port sentence).
 *
 * Errors: E_NEED_MAC (no `mac` and the store holds per-device keys), saying nothing was written.
 */
export function checkOtaBoardNamed(req: Pick<OtaImageRequest, 'store' | 'mac' | 'macHint'>): void {
  if (req.mac !== undefined) return;
  const how = `${req.macHint ?? "give the board's MAC with --mac MAC, or --port PORT to read it from the board"}; nothing was written.`;
  if (req.store.hasDeviceKeys()) {
    throw new UserError('E_NEED_MAC', `The key store ${req.store.dir} holds per-device keys (devices/<MAC>/), so an OTA image must be made with the key of the board it is for, not the build key; ${how}`);
  }
  // Key files can go missing: the audit log still says which boards this store burned with keys of their own.
  const own = boardsBurnedWithOtherFlashKeys(req.store, storeBuildKey(req.store));
  if (own.length) {
    throw new UserError('E_NEED_MAC', `The key store ${req.store.dir} burned ${own.length === 1 ? `the board ${own[0]}` : `${own.length} boards`} with another flash-encryption key than its flash_encryption_key.bin (its audit log says so: a key of the board's own whose devices/<MAC>/ file is not there now, or a shared key since replaced), so an OTA image must be made for the board it is for, with that board's key; ${how}`);
  }
}

/**
 * A slot the user gave (the CLI's --slot), checked against the build's board and firmware
 * generation (checkSlot: E_OTA_SLOT, nothing written) before any other refusal or any board is
 * opened. A build whose generation cannot be told is left to otaImage's own refusal.
 */
export function checkGivenOtaSlot(buildDir: string, board: BoardId, slot: number, flashSize?: number): void {
  let generation: GenerationId;
  try {
    generation = buildGeneration(buildDir, board);
  } catch {
    return;
  }
  checkSlot(board, generation, slot, 'option', flashSize);
}

/**
 * The OTA image for a board, the one body of the CLI's `ota-image` and the editor's Prepare OTA
 * Image: the board's flash key (its own by MAC, else the shared one), the build's outputs
 * classified with it, the app encrypted for the slot the board writes next (Pycom's OTA writes
 * the file as it is into that slot, so it must be encrypted for that slot's address), written
 * atomically (a failed write leaves no partial file). Made for a board (`mac`), the key needs
 * evidence that it is that board's (a verified burn record in the store, or the user's recorded
 * word; issue 12 B), or nothing is written. The build must be for the board's module as far as
 * the evidence says (module-evidence.ts: the key store's records for `mac`, checked before the
 * slot is asked; the running firmware's banner, from `banner` or the slot answer): another
 * module's build is refused unless `overrideModule` (or `askModule` and a yes through `ui.confirm`).
 *
 * Errors: E_MODULE_EVIDENCE (the records or the banner name another module; nothing written), E_KEY_EVIDENCE (a board's image without evidence for its key), E_NEED_MAC (no `mac`
 * and the store holds per-device keys: the build key's image would not boot on a board with its
 * own key), UserError for a missing or unreadable build, a slot that is not one of the board's OTA
 * slots, an app that does not decrypt with the key, or an output that cannot be written.
 */
export async function otaImage(req: OtaImageRequest, ui: Pick<UiPort, 'info' | 'confirm'> = { info: () => undefined }): Promise<OtaImageOutcome> {
  // A slot given by the user is an argument: checked before anything about keys is said.
  if (typeof req.slot === 'number') checkGivenOtaSlot(req.buildDir, req.board, req.slot, req.flashSize);
  checkOtaBoardNamed(req);
  const keyFile = req.store.flashKeyFileFor(req.mac);
  const flashKey = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  const evidence = req.boardEvidence ?? (req.mac
    ? establishOfflineKeyEvidence(req.mac, {
      store: req.store, keys: flashKey ? { flashKey } : {}, job: 'ota-image', writes: true,
      ...(req.trustKeyStore ? { trust: true } : {}), ...(req.acknowledgeHint ? { acknowledgeHint: req.acknowledgeHint } : {}),
      ...(req.keyStoreHint ? { keyStoreHint: req.keyStoreHint } : {}), ...(req.burnAgainHints ? { burnAgainHints: req.burnAgainHints } : {}),
    })
    : undefined);
  const build = findBuildOutputs(req.buildDir, { board: req.board, ...(flashKey ? { flashKey } : {}) });
  // The records (and a banner already read) are checked before the board is asked anything.
  const recorded = req.mac ? recordedModule(req.store, req.mac) : undefined;
  const moduleReq = {
    store: req.store, board: build.board, build: req.buildDir, who: req.mac ? normaliseMac(req.mac) : (req.boardName ?? 'the board'), job: 'ota-image',
    ...(req.mac ? { mac: req.mac } : {}), ...(req.overrideModule ? { override: true } : {}), ...(req.askModule ? { ask: true } : {}),
    ...(req.overrideModuleHint ? { overrideHint: req.overrideModuleHint } : {}),
  };
  let module = await checkBuildModule({ ...moduleReq, evidence: [recorded, req.banner !== undefined ? bannerModule(req.banner) : undefined] }, ui);
  const slotSource = typeof req.slot === 'number' ? 'option' : 'board';
  const asked = typeof req.slot === 'number' ? req.slot : await req.slot(build);
  const slot = typeof asked === 'number' ? asked : asked.slot;
  const banner = typeof asked === 'number' || asked.banner === undefined ? undefined : bannerModule(asked.banner);
  // What the board's firmware just said it is (already overridden: the operator's word stands).
  if (banner && module.overridden.length === 0) module = await checkBuildModule({ ...moduleReq, evidence: [banner] }, ui);
  const buildKey = storeBuildKey(req.store);
  // The store's signing key: the image must carry its signature, or the board refuses the slot.
  const signing = storeSigningPublicKey(req.store);
  const img = makeOtaImage({ build, slot, slotSource, ...(req.flashSize !== undefined ? { flashSize: req.flashSize } : {}), ...(flashKey ? { flashKey } : {}), ...(buildKey ? { buildKey } : {}), ...(signing ? { signingPublicKey: signing.publicKey, signingKeyLabel: signing.file } : {}) });
  writeFileAtomic(req.output, img.data);
  return { ...img, output: req.output, slotSource, module, ...(flashKey ? { flashKey } : {}), ...(evidence ? { evidence } : {}) };
}

/**
 * For an OTA image made for the connected board (the CLI's `ota-image --port`): the board's MAC
 * (from its eFuses) and the evidence that the store's flash key for that MAC (its own, else the
 * shared one) is the board's, found on the board itself (establishKeyEvidence: a readable key
 * block compared, a verified burn record, the flash read back, `trustKeyStore` recorded, or with
 * `ask` the user's answer to `ui.confirm`, recorded: the editor's way), so a board whose key block
 * holds another key is refused. Pass both to otaImage (`mac`, `boardEvidence`), then
 * recordOtaImage.
 *
 * Errors: E_KEY_MISMATCH, E_KEY_CONTRADICTED, E_KEY_EVIDENCE (each saying nothing was written); link errors.
 */
export async function otaBoardEvidence(board: BoardSession, req: Pick<OtaImageRequest, 'store' | 'trustKeyStore' | 'acknowledgeHint' | 'keyStoreHint' | 'burnAgainHints'> & { ask?: boolean }, ui: Pick<UiPort, 'info' | 'confirm'>): Promise<{ mac: string; evidence: KeyEvidence; flashSize?: number }> {
  const mac = board.chip.mac.address;
  const keyFile = req.store.flashKeyFileFor(mac);
  const flashKey = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  const evidence = await establishKeyEvidence(board, {
    store: req.store, keys: flashKey ? { flashKey } : {}, job: 'ota-image', writes: true,
    ...(req.trustKeyStore ? { trust: true } : {}), ...(req.ask ? { ask: true } : {}), ...(req.acknowledgeHint ? { acknowledgeHint: req.acknowledgeHint } : {}),
    ...(req.keyStoreHint ? { keyStoreHint: req.keyStoreHint } : {}), ...(req.burnAgainHints ? { burnAgainHints: req.burnAgainHints } : {}),
  }, ui);
  return { mac, evidence, ...(board.chip.flash.sizeBytes !== undefined ? { flashSize: board.chip.flash.sizeBytes } : {}) };
}

/**
 * Records an OTA image made for a board (`mac`) in that board's records (KEY_STORE/audit.jsonl,
 * operation `ota-image`, issue #14): the board id, the flash key's fingerprint and the key
 * evidence's kind, and the image as one region (its slot address, output path, SHA-256 and length
 * in bytes). Never the key itself (BoardRecordWriter refuses any line holding it). The one body of
 * the CLI's `ota-image --port/--mac` and the editor's Prepare OTA Image for a board with its own key.
 * Returns the record id. Errors: file-system errors writing the audit log.
 */
export function recordOtaImage(store: KeyStore, mac: string, board: BoardId, img: OtaImageOutcome): string {
  const rec = new BoardRecordWriter(store.auditPath, 'ota-image', normaliseMac(mac), () => (img.flashKey ? [img.flashKey] : []), {
    board, ...(img.flashKey ? { keyFingerprints: { 'flash-key': fingerprint(img.flashKey) } } : {}),
    ...(img.evidence ? { keyEvidence: recordKeyEvidence(img.evidence.kind) } : {}),
  });
  rec.add('image', { regions: [{ address: img.slot, file: img.output, sha256: sha256Hex(img.data), length: img.data.length }] });
  rec.end('ok');
  return rec.id;
}
