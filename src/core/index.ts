/**
 * The core's public API: the workflows, and the types and pure functions a front end (the CLI,
 * the editor) needs. src/cli and src/extension import the core only from here
 * (test/unit/architecture.test.ts enforces it); tests may reach inside.
 */
export { AuditLog, readAudit } from './audit/audit-log';
export { boardChoices, boardFlashSize, boardIds, moduleIds, parseBoard, withBoards } from './boards/catalog';
export type { BoardId, PycomBoard } from './boards/catalog';
export { formatUsbId } from './boards/usb-ids';
export type { UsbBoard } from './boards/usb-ids';
export { bootEfusesFromRaw } from './boot/boot-efuses';
export { explainBootLog } from './boot/boot-log';
export { BOOT_LOG_CAP_MS, BOOT_LOG_SILENCE_MS, captureBootLog } from './boot/capture';
export { predictBoot } from './boot/predict';
export type { BootVerdict } from './boot/predict';
export { PLANNED_EFUSE_STATES, plannedBootEfuses, predictBootFromReader, resolveBootEfuses } from './boot/predict-connected';
export type { KnownKeys, PlannedEfuseState, ResolvedEfuses } from './boot/predict-connected';
export { boardBootPredictor, overlayFlash } from './boot/predict-plan';
export { bootPredictorForVirtual } from './boot/virtual-board';
export { codingForKeyLength, keyBits, keyBytes } from './chip/esp32';
export type { CodingScheme } from './chip/esp32';
export { identify } from './chip/identify';
export type { ChipInfo } from './chip/identify';
export type { SecurityState } from './chip/security';
export { DEFAULT_BAUD, LOADER_BAUD_RATES, checkLoaderBaud, connect } from './connect/connect';
export type { ConnectOptions, Connection } from './connect/connect';
export { enterDownloadMode, exitDownloadMode } from './connect/download-mode';
export { RESET_MODES } from './connect/strategy';
export type { ResetMode } from './connect/strategy';
export { digestSecureBootloader } from './crypto/bootloader-digest';
export { decryptFlashData, encryptFlashData } from './crypto/flash-encryption';
export { generateFlashEncryptionKey } from './crypto/flash-key';
export { digestPrivateKey } from './crypto/secure-boot-key';
export { SIGNATURE_BLOCK_LEN, signData, verifySignedData } from './crypto/signature';
export { encodeSec1Pem, generateSigningKey, parseSigningKey } from './crypto/signing-key';
export { readEfuses } from './efuse/access';
export { planBurnKeys } from './efuse/burn/burn-keys';
export { checkConfirmation, closeInterruptedRun, executeBurnKeys } from './efuse/burn/execute';
export { HARDENING_FUSES, hardeningHelp } from './efuse/burn/hardening';
export { pendingSteps, renderPlan } from './efuse/burn/plan';
export type { BurnPlan } from './efuse/burn/plan';
export { decodeEfuses, isThreeFour } from './efuse/decode';
export { dumpText } from './efuse/dump';
export { EFUSE_FIELDS, field, isRdDisSet, isWrDisSet, readFieldRaw } from './efuse/fields';
export type { EfuseField, EfuseWords } from './efuse/fields';
export { summaryJson, summaryText } from './efuse/summary';
export { UserError, isUserError } from './errors';
export { runBuild } from './firmware/build-runner';
export type { BuildTarget } from './firmware/build-runner';
export { findBuildOutputs } from './firmware/outputs';
export type { BuildOutputs } from './firmware/outputs';
export { detectProject, findProjectRoot } from './firmware/project';
export { checkPlan } from './flash/checks';
export { describeRegion, planFromBuild, planFromPairs } from './flash/plan';
export type { FlashPlan } from './flash/plan';
export { romFlashIo } from './flash/rom-io';
export { keysForBoard, runFlashSession } from './flash/session';
export { differingRanges } from './flash/writer';
export type { FlashProgressEvent } from './flash/writer';
export { describeImage } from './image/describe-image';
export { checksumOk, hashOk, readEspImage } from './image/esp-image';
export { readHardwareKeyFile, readSigningKeyFile, readVerifyingKeyFile, writeNewKeyFile } from './keys/key-files';
export { DEFAULT_KEY_STORE, DEVICES_DIR, FLASH_KEY_FILE, KeyStore, normaliseMac, SECURE_BOOT_KEY_FILE, SIGNING_KEY_REF_FILE } from './keystore/key-store';
export { describeSecureBootKey, generateSecureBootKey, storeSecureBootKey, storeSigningKeyInToken } from './keystore/secure-boot-key-source';
export type { SecureBootKeySource } from './keystore/secure-boot-key-source';
export { isPkcs11Uri, parsePkcs11Uri } from './keys/pkcs11-uri';
export { PKCS11_MODULE_ENV, PKCS11_PIN_ENV, pkcs11CheckAccess, pkcs11GenerateSigningKey, pkcs11PinFromEnvironment } from './keys/pkcs11';
export type { Pkcs11Access } from './keys/pkcs11';
export { openSigner, pemPrivateKey, signingPublicKey, tokenUriOf } from './keys/signer';
export type { Signer } from './keys/signer';
export { LOCK_FILE, lockKeyStore, withKeyStoreLock, withKeyStoreLockSync, type LockHolder } from './keystore/lock';
export { readFlash } from './loader/flash';
export { knownSlots, makeOtaImage } from './ota/ota-image';
export { queryOtaSlot } from './ota/raw-repl';
export { captureOutput } from './transport/capture';
export type { CaptureEnd } from './transport/capture';
export { isLoopbackHost, transportFromUrl, type TransportOptions } from './transport/open';
export { describePort, listPorts } from './transport/ports';
export type { PortEntry } from './transport/ports';
export type { Transport } from './transport/transport';
export { fsError, makeDirs, readInputFile, writeFileAtomic } from './util/atomic-file';
export { fingerprint } from './util/fingerprint';
export { hex } from './util/hex';
export { VERSION } from './version';
export { VirtualEsp32 } from './virtual/device';
export { resolveModule } from './virtual/profiles';
export type { CodingSchemeOption } from './virtual/profiles';
export { loadStateFile, saveStateFile, StateJournal } from './virtual/state-file';
export { startSimServer } from './virtual/tcp-server';
export { DEFAULT_TIMING, TIMING_PROFILES, eraseMs, timingProfile, uartMs } from './virtual/timing';
export type { TimingModel, TimingProfileName } from './virtual/timing';
export type { SimServer } from './virtual/tcp-server';

// The workflows: one body per user-level job, driven through a UiPort by the CLI, the editor and the campaigns.
export { scriptedUi } from './workflows/ui-port';
export type { UiPort, Choice, ChoiceQuestion, MacQuestion } from './workflows/ui-port';
export { withBoard } from './workflows/board';
export type { BoardTarget, BoardSession } from './workflows/board';
export { burnKeys, eFuseApbMhz, hardeningChoices, leftOpenWarnings, notConfirmedError } from './workflows/burn-keys';
export type { BurnKeysKeys, BurnKeysOutcome, BurnKeysRequest } from './workflows/burn-keys';
export { flash, bootLogLines } from './workflows/flash';
export type { FlashOutcome, FlashRequest } from './workflows/flash';
export { secureBuild } from './workflows/build';
export type { SecureBuildOutcome, SecureBuildRequest } from './workflows/build';
export { monitor } from './workflows/monitor';
export type { MonitorRequest } from './workflows/monitor';
export { checkOtaBoardNamed, otaBoardEvidence, otaImage, recordOtaImage } from './workflows/ota';
export type { OtaImageOutcome, OtaImageRequest } from './workflows/ota';
export { predictBootOnBoard } from './workflows/predict-boot';
export type { PredictBootOutcome, PredictBootRequest } from './workflows/predict-boot';

// Issue 13 point 6: espefuse v4.12's summary, field by field (efuse summary reads APB_CTL_DATE too).
export { readSummarySource } from './efuse/summary';
export type { SummaryJsonEntry, SummarySource } from './efuse/summary';
// Issue #12 D: files read the way the chip reads them (signature block where the bootloader finds it, file kinds named).
export { describeFile } from './image/describe-image';
export { identifyFile } from './image/file-kind';
export type { FileIdentity, FileKind } from './image/file-kind';
export { describeTrailer, signatureBlockAt } from './image/signature-block';
export type { SignatureBlockLocation, Trailer } from './image/signature-block';
export { verifyFileSignature } from './image/verify-file';
export type { FileSignatureCheck } from './image/verify-file';
// Issue 12 B: key evidence before any check that relies on read-protected keys, and diagnoses that test each cause.
export { assessKeys, burnRecordFor, establishKeyEvidence, establishOfflineKeyEvidence, flashImageSetEvidence } from './workflows/evidence';
export type { EvidenceKeys, KeyEvidence, KeyEvidenceKind, KeyEvidenceRequest } from './workflows/evidence';
export type { ConfirmQuestion } from './workflows/ui-port';
export { diagnoseDecryption, diagnoseDifference, diagnoseDigest, knownFlashAddresses } from './flash/diagnose';
export type { NamedKey } from './flash/diagnose';
// Issue #17 (repl): the OTA slot asked from the board, starting its firmware from download mode when that is safe; Pycom's ota_slot rule.
export { askOtaSlot } from './ota/ask-slot';
export type { AskedOtaSlot, AskOtaSlotOptions } from './ota/ask-slot';
export { pycomOtaSlot, makeBootInfo, parseBootInfo } from './ota/ota-slot';
export type { BootInfo, OtaSlotAnswer } from './ota/ota-slot';
// --- Firmware releases (issue #13 points 1-5): generation table, build diagnostics, problem matchers ---
export { GENERATIONS, GENERATION_IDS, REPORT_RELEASE, generationForVersion } from './firmware/generations';
export type { Generation, GenerationId, MakeTarget } from './firmware/generations';
export { PROBLEM_MATCHERS, PROBLEM_MATCHER_NAMES, parseDiagnostic, firstError, countDiagnostics } from './firmware/diagnostics';
export type { Diagnostic, DiagnosticKind, ProblemMatcherContribution } from './firmware/diagnostics';
export { makeTargets, syncDerivedKeys, DERIVED_KEY_FILES } from './firmware/build-runner';
export { isSocketUrl } from './transport/tcp';
// Issue #14 (production line): per-device keys end to end, the board record, provisioning a fleet.
export { boardPlanFromBuild, storeBuildKey } from './secure-build/per-device';
export type { BoardPlan, BoardPlanOptions, DecryptedBuildCache } from './secure-build/per-device';
export { BoardRecordWriter, boardRecordsCsv, endByBoot, readBoardRecords, recordKeyEvidence, regionsWritten, sha256Hex } from './audit/board-record';
export type { BoardRecord, RecordKeyEvidence, RecordOperation, RecordRegion } from './audit/board-record';
export { PROVISION_STATES, parseApprovedMacs, provision, provisionSummary } from './workflows/provision';
export type { ProvisionBoardResult, ProvisionEvent, ProvisionOutcome, ProvisionRequest, ProvisionState, ProvisionSummaryTerms } from './workflows/provision';
