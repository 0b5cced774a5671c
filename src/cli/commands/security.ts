import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Args, OptionSpec } from '../args';
import type { CliCommand, CliIo } from '../command';
import { codingForKeyLength, decryptFlashData, describeFile, digestPrivateKey, digestSecureBootloader, encodeSec1Pem, encryptFlashData, fingerprint, generateFlashEncryptionKey, generateSecureBootKey, generateSigningKey, isPkcs11Uri, KeyStore, openSigner, pemPrivateKey, pkcs11GenerateSigningKey, readDataFile, readHardwareKeyFile, readInputFile, readVerifyingKeyFile, SIGNATURE_BLOCK_LEN, signData, signingPublicKey, SIGNING_KEY_REF_FILE, tokenUriOf, UserError, verifyFileSignature, verifySignedData, withKeyStoreLock, withKeyStoreLockSync, writeFileAtomic, writeNewKeyFile, type DataInput } from '../../core';
import { keyAccess, PKCS11_MODULE_OPTION } from '../key-access';

// Option spellings: espsecure v5 (hyphens) first, v4 underscores and short forms as aliases.
const VERSION: OptionSpec = { name: 'version' };
const KEYFILE: OptionSpec = { name: 'keyfile', aliases: ['-k'] };
const KEYLEN: OptionSpec = { name: 'keylen' };
const OUTPUT: OptionSpec = { name: 'output', aliases: ['-o'] };
const IV: OptionSpec = { name: 'iv' };
const ADDRESS: OptionSpec = { name: 'address', aliases: ['-a'] };
const CONF: OptionSpec = { name: 'flash-crypt-conf', aliases: ['flash_crypt_conf'] };
const AES_XTS: OptionSpec = { name: 'aes-xts', aliases: ['aes_xts', '-x'], flag: true };

/** Secure boot v1 only: v2 needs silicon Pycom modules do not have. */
function requireV1(args: Args): void {
  const v = args.opt('version') ?? '1';
  if (v === '1') return;
  if (v === '2') {
    throw new UserError('E_SBV2', 'secure boot v2 needs ESP32 revision 3 and Pycom modules are revision 0/1, so only --version 1 is supported.');
  }
  throw new UserError('E_USAGE', `--version must be 1 (secure boot v1), not "${v}".`);
}

function keylen(args: Args): 256 | 192 {
  const v = args.opt('keylen') ?? '256';
  if (v === '256' || v === '192') return Number(v) as 256 | 192;
  throw new UserError('E_USAGE', `--keylen must be 256 (coding scheme None) or 192 (3/4 coding scheme) for the ESP32, not "${v}".`);
}

function flashParams(args: Args): { key: Uint8Array; address: number; flashCryptConf: number } {
  if (args.flag('aes-xts')) {
    throw new UserError('E_USAGE', 'AES-XTS flash encryption is for ESP32-S2/S3/C3 and later; the ESP32 in Pycom modules uses its own scheme, so drop --aes-xts.');
  }
  const key = readHardwareKeyFile(args.need('keyfile'), 'flash-encryption');
  // Their ranges (16-aligned, within 16 MB; FLASH_CRYPT_CONFIG 0x0-0xF) are the core's to check (crypto/flash-encryption).
  return { key, address: args.int('address'), flashCryptConf: args.int('flash-crypt-conf', 0xf) };
}

/**
 * A key file's folder: created (0700) when it does not exist yet, so the README's
 * `generate-… secure/…` works in a fresh checkout, and a warning when the folder is inside a git
 * work tree without being ignored (keys end up in a commit sooner or later).
 */
function keyFolder(file: string, io: CliIo): void {
  const store = new KeyStore(path.dirname(path.resolve(file)));
  const dir = store.dir;
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new UserError('E_NO_DIR', `Cannot write the key file ${file}: ${dir} is a file, not a folder; choose another path for the key file.`);
  }
  const created = store.ensureDir();
  if (created) io.err(`Created the key folder ${dir} (only you can read it).`);
  const warning = store.exposureWarning();
  if (warning) io.err(`Warning: ${warning}`);
}

/**
 * Writes a new key file holding the lock of the key store it goes into (its folder; keyFolder made
 * it), so a provision or Burn Keys of another process never sees the store half made; another
 * run holding that store refuses this one with the lock's sentence before anything is written.
 */
function lockedKeyWrite<T>(file: string, command: string, write: () => T): T {
  return withKeyStoreLockSync(path.dirname(path.resolve(file)), command, write);
}

function keyBits(key: Uint8Array): string {
  return codingForKeyLength(key.length) === '3/4' ? '192-bit key (3/4 coding, extended)' : `${key.length * 8}-bit key`;
}

/** The --keylen and KEYFILE of a command that writes a new raw key, its folder made ready (keyFolder). */
function newRawKeyFile(args: Args, io: CliIo): { bits: 256 | 192; file: string } {
  const bits = keylen(args);
  args.maxPositionals(1);
  const file = args.positional(0, 'KEYFILE');
  keyFolder(file, io);
  return { bits, file };
}

const generateFlashKey: CliCommand = {
  name: 'generate-flash-encryption-key',
  summary: 'Create a random flash encryption key file (mode 0600, never overwritten).',
  usage: 'generate-flash-encryption-key [--keylen 256|192] KEYFILE',
  help: 'Use --keylen 192 for chips whose CODING_SCHEME efuse is 3/4.',
  options: [KEYLEN],
  run(args, io) {
    const { bits, file } = newRawKeyFile(args, io);
    const fp = lockedKeyWrite(file, args.command, () => writeNewKeyFile(file, generateFlashEncryptionKey(bits)));
    io.out(`Wrote a ${bits}-bit flash encryption key to ${file} (fingerprint ${fp}).`);
  },
};

const generateSigning: CliCommand = {
  name: 'generate-signing-key',
  summary: 'Create an ECDSA NIST P-256 secure boot v1 signing key: a SEC1 PEM file (mode 0600), or a non-extractable key in a PKCS#11 token.',
  usage: "generate-signing-key [--version 1] KEYFILE | generate-signing-key 'pkcs11:token=LABEL;object=LABEL' [--pkcs11-module PATH] [--key-store DIR]",
  help: [
    'With a pkcs11: URI (RFC 7512) the key pair is made inside the token: the private key is sensitive and',
    'not extractable, so it never leaves the token. The module comes from --pkcs11-module or PYCOM_PKCS11_MODULE,',
    'the user PIN from PYCOM_PKCS11_PIN or is asked for (never an argument). --key-store DIR records the key in',
    `the store as DIR/${SIGNING_KEY_REF_FILE} (its URI, no secret). A token key cannot give Pycom's derived secure`,
    'boot key: make a random one with generate-secure-boot-key. An existing key or label is never replaced.',
  ].join('\n'),
  options: [VERSION, PKCS11_MODULE_OPTION, { name: 'key-store' }],
  async run(args, io) {
    requireV1(args);
    args.maxPositionals(1);
    const file = args.positional(0, 'KEYFILE');
    if (isPkcs11Uri(file)) {
      const storeDir = args.opt('key-store');
      const store = storeDir !== undefined ? KeyStore.named(storeDir) : undefined;
      const make = async (hold: () => void): Promise<void> => {
        if (store && store.signingKeyFile() !== undefined) {
          throw new UserError('E_EXISTS', `The key store ${store.dir} already has a signing key (${store.signingKeyFile()}), and keys are never replaced; use another --key-store folder.`);
        }
        const made = pkcs11GenerateSigningKey(file, await keyAccess(args, io, file, true));
        io.out(`Made an ECDSA NIST P-256 signing key in the token: ${made.uri} (public key fingerprint ${fingerprint(made.publicKey)}; the private key cannot leave the token).`);
        if (store) {
          keyFolder(store.signingKeyRefPath, io);
          hold();
          writeNewKeyFile(store.signingKeyRefPath, `${made.uri}\n`);
          io.out(`Recorded it in the key store as ${store.signingKeyRefPath}; make the secure boot key with generate-secure-boot-key ${path.join(store.dir, 'secure_boot_key.bin')}.`);
        }
      };
      // An existing --key-store is locked before the token makes a key, so a store in use refuses first.
      if (store) await withKeyStoreLock(store.dir, args.command, make);
      else await make(() => undefined);
      return;
    }
    if (args.opt('key-store') !== undefined || args.opt('pkcs11-module') !== undefined) {
      throw new UserError('E_USAGE', 'generate-signing-key: --key-store and --pkcs11-module go with a pkcs11: URI; for a PEM key file give only KEYFILE.');
    }
    keyFolder(file, io);
    const key = lockedKeyWrite(file, args.command, () => {
      const made = generateSigningKey();
      writeNewKeyFile(file, encodeSec1Pem(made));
      return made;
    });
    io.out(`Wrote an ECDSA NIST P-256 signing key to ${file} (public key fingerprint ${fingerprint(key.publicKey)}).`);
  },
};

const generateSecureBoot: CliCommand = {
  name: 'generate-secure-boot-key',
  summary: 'Create a random secure boot v1 key (what BLOCK2 holds) for a signing key it cannot be derived from, such as one in a token (mode 0600, never overwritten).',
  usage: 'generate-secure-boot-key [--keylen 256|192] KEYFILE',
  help: [
    "Pycom's flow derives the secure boot key from the PEM signing key (digest-private-key); a key that stays in a",
    'token cannot give it, so the key store keeps a random one as secure_boot_key.bin, used by Burn Keys, the build,',
    'the flash checks and predict-boot in place of the derived one. Keep it as safe as the flash-encryption key.',
    'Use --keylen 192 for chips whose CODING_SCHEME efuse is 3/4.',
  ].join('\n'),
  options: [KEYLEN],
  run(args, io) {
    const { bits, file } = newRawKeyFile(args, io);
    const fp = lockedKeyWrite(file, args.command, () => generateSecureBootKey(file, bits));
    io.out(`Wrote a random ${bits}-bit secure boot key to ${file} (fingerprint ${fp}).`);
  },
};

const extractPublicKey: CliCommand = {
  name: 'extract-public-key',
  summary: 'Write the 64-byte raw public key (X‖Y) that the bootloader embeds.',
  usage: 'extract-public-key [--version 1] --keyfile KEY.pem|pkcs11:URI [--pkcs11-module PATH] OUTFILE',
  options: [VERSION, KEYFILE, PKCS11_MODULE_OPTION],
  async run(args, io) {
    requireV1(args);
    args.maxPositionals(1);
    const keyFile = args.need('keyfile');
    const out = args.positional(0, 'OUTFILE');
    const publicKey = signingPublicKey(keyFile, await keyAccess(args, io, keyFile, false));
    writeFileAtomic(out, publicKey, { what: 'public key file' });
    io.out(`Public key of ${keyFile} written to ${out} (fingerprint ${fingerprint(publicKey)}).`);
  },
};

const digestPrivate: CliCommand = {
  name: 'digest-private-key',
  summary: 'Derive the reflashable secure boot key (SHA-256 of the signing key) as a key file.',
  usage: 'digest-private-key --keyfile KEY.pem [--keylen 256|192] OUTFILE',
  options: [KEYFILE, KEYLEN],
  run(args, io) {
    const bits = keylen(args);
    args.maxPositionals(1);
    const keyFile = args.need('keyfile');
    const out = args.positional(0, 'OUTFILE');
    const key = digestPrivateKey(pemPrivateKey(keyFile, 'the secure boot key'), bits);
    const fp = lockedKeyWrite(out, args.command, () => writeNewKeyFile(out, key));
    io.out(`Secure boot key (${bits}-bit) derived from ${keyFile} written to ${out} (fingerprint ${fp}).`);
  },
};

const digestBootloader: CliCommand = {
  name: 'digest-secure-bootloader',
  summary: 'Prepend the secure boot v1 IV and digest to a bootloader image (flash the result at 0x0).',
  usage: 'digest-secure-bootloader --keyfile KEY.bin [--iv IV.bin] --output OUT IMAGE',
  help: 'Without --iv a random 128-byte IV is used (any IV is valid; it is stored in the output). Without --output the result goes to IMAGE-digest-0x0000.bin.',
  options: [KEYFILE, IV, OUTPUT],
  run(args, io) {
    args.maxPositionals(1);
    const imageFile = args.positional(0, 'IMAGE');
    const key = readHardwareKeyFile(args.need('keyfile'), 'digest');
    const ivFile = args.opt('iv');
    const iv = ivFile === undefined ? undefined : new Uint8Array(readInputFile(ivFile, 'IV file'));
    const image = readDataFile(imageFile, { what: 'bootloader image', isNot: 'a bootloader image', instead: 'pass the bootloader.bin the build wrote as IMAGE, and the secure boot key with --keyfile' });
    const out = args.opt('output') ?? `${imageFile.replace(/\.[^./\\]*$/, '')}-digest-0x0000.bin`;
    const r = digestSecureBootloader(image, key, iv, `The bootloader image ${imageFile}`);
    writeFileAtomic(out, r.output);
    if (r.droppedBytes > 0) io.err(`Note: the last ${r.droppedBytes} bytes (appended SHA-256) are not covered by the ROM's digest and were left out, as espsecure does.`);
    io.out(`Digest of ${imageFile} (${keyBits(key)}, fingerprint ${fingerprint(key)}) and image written to ${out}; flash it at 0x0.`);
  },
};

const signDataCmd: CliCommand = {
  name: 'sign-data',
  summary: 'Append a secure boot v1 signature (ECDSA P-256, SHA-256, deterministic) to a file.',
  usage: 'sign-data [--version 1] --keyfile KEY.pem|pkcs11:URI [--pkcs11-module PATH] --output OUT DATAFILE',
  help: [
    'Without --output the signature is appended to DATAFILE in place (as espsecure does); a file already signed by this key is refused, so running twice cannot double-sign.',
    'A pkcs11: URI (or a file holding one, such as the key store\'s secure_boot_signing_key.pkcs11) signs in the token: SHA-256 on this machine, plain ECDSA in the token;',
    'the module comes from --pkcs11-module or PYCOM_PKCS11_MODULE, the PIN from PYCOM_PKCS11_PIN or is asked for. A token signs with a random nonce, so its signatures differ run to run; all verify.',
  ].join('\n'),
  options: [VERSION, KEYFILE, OUTPUT, PKCS11_MODULE_OPTION],
  async run(args, io) {
    requireV1(args);
    args.maxPositionals(1);
    const dataFile = args.positional(0, 'DATAFILE');
    const keyFile = args.need('keyfile');
    const data = readDataFile(dataFile, { what: 'data file', isNot: 'data to sign', instead: 'pass the app or partition table to sign as DATAFILE, and the signing key with --keyfile' });
    const key = openSigner(keyFile, await keyAccess(args, io, keyFile, true));
    const out = args.opt('output') ?? dataFile;
    if (path.resolve(out) === path.resolve(dataFile) && data.length >= SIGNATURE_BLOCK_LEN && alreadySigned(data, key.publicKey)) {
      throw new UserError('E_ALREADY_SIGNED', `${dataFile} already ends with a signature by this key; signing it again in place would sign the signature, so use the file as it is.`);
    }
    writeFileAtomic(out, signData(data, key));
    io.out(`Signed ${data.length} bytes of ${dataFile} with key ${fingerprint(key.publicKey)}; wrote ${out}.`);
  },
};

function alreadySigned(data: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return verifySignedData(data, publicKey);
  } catch {
    return false;
  }
}

const verifySignature: CliCommand = {
  name: 'verify-signature',
  summary: 'Check the secure boot v1 signature of a signed app or partition table, found where the bootloader finds it.',
  usage: 'verify-signature [--version 1] --keyfile KEY [--pkcs11-module PATH] DATAFILE',
  help: 'KEY may be the signing key (SEC1 PEM), a PUBLIC KEY PEM, the 64-byte file from extract-public-key, or a pkcs11: URI (the token\'s public key, read without a PIN). An app\'s block is read right after the image and a partition table\'s at 0xC00, as the bootloader reads them (padding after the block is ignored); other files end with their block, as espsecure reads them. A bootloader, a digest image or ciphertext is named as such.',
  options: [VERSION, KEYFILE, PKCS11_MODULE_OPTION],
  async run(args, io) {
    requireV1(args);
    args.maxPositionals(1);
    const dataFile = args.positional(0, 'DATAFILE');
    const keyFile = args.need('keyfile');
    const signed = readDataFile(dataFile, { what: 'signed file', isNot: 'a signed file', instead: 'pass the signed app or partition table as DATAFILE, and the key with --keyfile' });
    const pub = tokenUriOf(keyFile) !== undefined ? signingPublicKey(keyFile, await keyAccess(args, io, keyFile, false)) : readVerifyingKeyFile(keyFile);
    const r = verifyFileSignature(signed, pub, dataFile);
    if (!r.valid) {
      throw new UserError('E_SIG_INVALID', `Signature is not valid: ${dataFile} was not signed by key ${fingerprint(pub)}, or was modified after signing.`);
    }
    if (r.trailer) io.err(`Note: the signature block is followed by ${r.trailer}; the bootloader does not read them.`);
    io.out(`Signature is valid (key ${fingerprint(pub)}${r.identity.kind === 'unknown' ? '' : `; ${r.identity.what}, block at offset 0x${r.at.toString(16)}`}).`);
  },
};

/** The input of encrypt-flash-data and decrypt-flash-data, for readDataFile. */
const DATA_INPUTS: Record<'encrypt' | 'decrypt', DataInput> = {
  encrypt: { what: 'plaintext file', isNot: 'data to encrypt', instead: 'pass the image to encrypt as PLAINTEXT, and the flash-encryption key with --keyfile' },
  decrypt: { what: 'ciphertext file', isNot: 'ciphertext read from flash', instead: 'pass the encrypted image (a .bin_enc file or a flash read-back) as CIPHERTEXT, and the flash-encryption key with --keyfile' },
};

function flashCommand(direction: 'encrypt' | 'decrypt'): CliCommand {
  const input = direction === 'encrypt' ? 'PLAINTEXT' : 'CIPHERTEXT';
  return {
    name: `${direction}-flash-data`,
    summary:
      direction === 'encrypt'
        ? 'Encrypt data for writing pre-encrypted to ESP32 flash at a given address.'
        : 'Decrypt data read from ESP32 encrypted flash at a given address.',
    usage: `${direction}-flash-data --keyfile KEY.bin --address ADDR [--flash-crypt-conf CONF] --output OUT ${input}`,
    help: [
      'ADDR must be a multiple of 16 and below 0x1000000; CONF is the FLASH_CRYPT_CONFIG efuse (default 0xF). Both accept hex (0x...) or decimal.',
      direction === 'encrypt'
        ? 'Input that is not a multiple of 16 bytes is padded with 0xFF (deterministic, unlike espsecure, which pads with random bytes).'
        : 'The input must be a multiple of 16 bytes.',
      '--aes-xts (espsecure\'s, for ESP32-S2 and later) is refused: the ESP32 of Pycom modules uses its own scheme.',
    ].join('\n'),
    options: [KEYFILE, ADDRESS, CONF, OUTPUT, AES_XTS],
    run(args: Args, io: CliIo) {
      args.maxPositionals(1);
      const inFile = args.positional(0, input);
      const out = args.need('output');
      const p = flashParams(args);
      const data = readDataFile(inFile, DATA_INPUTS[direction]);
      const result = direction === 'encrypt' ? encryptFlashData(data, p) : decryptFlashData(data, p);
      writeFileAtomic(out, result);
      if (p.flashCryptConf === 0) io.err('Warning: FLASH_CRYPT_CONFIG 0 disables the per-block key tweak; every 16-byte block uses the same key.');
      if (result.length !== data.length) io.err(`Note: padded with ${result.length - data.length} bytes of 0xFF to a multiple of 16.`);
      io.out(`${direction === 'encrypt' ? 'Encrypted' : 'Decrypted'} ${data.length} bytes for flash address 0x${p.address.toString(16)} (FLASH_CRYPT_CONFIG 0x${p.flashCryptConf.toString(16)}, ${keyBits(p.key)}, fingerprint ${fingerprint(p.key)}); wrote ${out}.`);
    },
  };
}

const imageInfo: CliCommand = {
  name: 'image-info',
  summary: 'Show what a file is (app, bootloader, digest image, partition table) and its header, segments, checksum, hash, signature block.',
  usage: 'image-info IMAGE',
  help: 'The signature block is looked for where the bootloader looks (right after an app image, at 0xC00 in a partition table); what follows it is reported as padding or data. Ciphertext is named as such. Exits 1 when the checksum or the appended SHA-256 is wrong.',
  options: [],
  run(args, io) {
    args.maxPositionals(1);
    const file = args.positional(0, 'IMAGE');
    const data = readDataFile(file, { what: 'image', isNot: 'a firmware image', instead: "pass the image the build wrote (bootloader.bin, partitions.bin or the app's .bin) or a file read back from flash" });
    const r = describeFile(data, file);
    for (const line of r.lines) io.out(line);
    return r.ok ? 0 : 1;
  },
};

export const securityCommands: CliCommand[] = [
  generateFlashKey,
  generateSigning,
  generateSecureBoot,
  extractPublicKey,
  digestPrivate,
  digestBootloader,
  signDataCmd,
  verifySignature,
  flashCommand('encrypt'),
  flashCommand('decrypt'),
  imageInfo,
];
