import { resetModeOption } from '../common-options';
import { withBoard, withPort, ALLOW_REMOTE_OPTION } from '../board-session';
import type { CliCommand, CliIo } from '../command';
import type { Args } from '../args';
import { isSocketUrl, describePort, enterDownloadMode, exitDownloadMode, formatUsbId, listPorts, type ChipInfo, type PortEntry, type UsbBoard } from '../../core';
import { predictBootCommand } from './predict-boot';

/** The board behind a local port, from the OS listing (nothing for socket:// URLs). */
async function boardFor(port: string): Promise<UsbBoard | undefined> {
  if (isSocketUrl(port)) return undefined;
  const listing = await listPorts().catch(() => undefined);
  return listing?.ports.find((p) => p.path === port)?.board;
}

function portJson(p: PortEntry): Record<string, unknown> {
  return {
    path: p.path,
    vendorId: p.vendorId !== undefined ? formatUsbId(p.vendorId) : null,
    productId: p.productId !== undefined ? formatUsbId(p.productId) : null,
    serialNumber: p.serialNumber ?? null,
    manufacturer: p.manufacturer ?? null,
    board: p.board ? { name: p.board.name, pycom: p.board.pycom, downloadMode: p.board.entry } : null,
  };
}

const list: CliCommand = {
  name: 'device list',
  summary: 'List serial ports and recognise Pycom boards by their USB ids.',
  usage: 'device list [--json]',
  options: [{ name: 'json', flag: true }],
  async run(args, io) {
    args.maxPositionals(0);
    const listing = await listPorts();
    if (listing.warning) io.err(`warning: ${listing.warning}`);
    if (args.flag('json')) {
      io.out(JSON.stringify({ ports: listing.ports.map(portJson), warning: listing.warning ?? null }, null, 2));
      return;
    }
    if (listing.ports.length === 0) {
      io.out('No serial ports found: plug the board in (a data cable, not a charge-only one) and run this again.');
      return;
    }
    for (const p of listing.ports) io.out(describePort(p));
  },
};

function yesNo(b: boolean): string {
  return b ? 'yes' : 'no';
}

export function formatChipInfo(info: ChipInfo): string[] {
  const s = info.security;
  const fe = s.flashEncryption;
  const keyText = (k: string): string => (k === 'protected' ? 'present, read-protected' : k === 'data' ? 'present, readable' : 'empty');
  return [
    `Port:             ${info.port} (${info.baud} baud)`,
    `Chip:             ${info.description}`,
    `Features:         ${info.features.join(', ')}`,
    `Crystal:          ${info.crystalMhz}MHz`,
    `MAC:              ${info.mac.address} (CRC 0x${info.mac.crc.toString(16).padStart(2, '0')} ${info.mac.crcOk ? 'OK' : `invalid - calculated 0x${info.mac.crcCalculated.toString(16).padStart(2, '0')}`})`,
    `Flash:            ${info.flash.responding ? `manufacturer ${info.flash.manufacturerHex}, device ${info.flash.deviceHex}, ${info.flash.sizeText}` : 'not responding'}`,
    `Flash encryption: ${fe.enabled ? 'ON' : 'off'} (FLASH_CRYPT_CNT 0x${fe.cryptCnt.toString(16)}, ${fe.plaintextFlashesLeft} plaintext reflash(es) left, FLASH_CRYPT_CONFIG ${fe.config === 'protected' ? 'read-protected' : `0x${fe.config.toString(16)}`})`,
    `Secure boot v1:   ${s.secureBoot.v1Enabled ? 'ON (ABS_DONE_0)' : 'off'}`,
    `Flash key (BLK1): ${keyText(s.keys.flashEncryption)}`,
    `Boot key (BLK2):  ${keyText(s.keys.secureBoot)}`,
    `Download mode:    encrypt ${s.downloadMode.encryptDisabled ? 'disabled' : 'allowed'}, decrypt ${s.downloadMode.decryptDisabled ? 'disabled' : 'allowed'}, cache ${s.downloadMode.cacheDisabled ? 'disabled' : 'allowed'}`,
    `JTAG disabled:    ${yesNo(s.jtagDisabled)}`,
  ];
}

const info: CliCommand = {
  name: 'device info',
  summary: 'Connect to the ESP32 in download mode and show its identity, flash and security state (read-only).',
  usage: 'device info --port PORT [--allow-remote] [--baud N] [--reset auto|pic|classic|none] [--json] [--verbose]',
  help: 'PORT is a serial port (/dev/ttyACM0, COM3) or socket://HOST:PORT. --reset auto picks the way into download mode from the board\'s USB ids. --verbose prints every ROM command and reply to stderr.',
  options: [{ name: 'port', aliases: ['-p'] }, ALLOW_REMOTE_OPTION, { name: 'baud', aliases: ['-b'] }, { name: 'reset' }, { name: 'json', flag: true }, { name: 'verbose', flag: true }],
  async run(args, io) {
    args.maxPositionals(0);
    const port = args.need('port');
    const board = await boardFor(port);
    const chip = await withBoard(args, io, async ({ chip }) => chip, { board, trace: args.flag('verbose') ? (l) => io.err(l) : undefined });
    if (args.flag('json')) io.out(JSON.stringify({ ...chip, board: board?.name ?? null }, null, 2));
    else for (const line of formatChipInfo(chip)) io.out(line);
  },
};

function downloadCommand(name: string, summary: string, action: typeof enterDownloadMode): CliCommand {
  return {
    name,
    summary,
    usage: `${name} --port PORT [--allow-remote] [--reset auto|pic|classic|none]`,
    options: [{ name: 'port', aliases: ['-p'] }, ALLOW_REMOTE_OPTION, { name: 'reset' }],
    async run(args: Args, io: CliIo) {
      args.maxPositionals(0);
      const port = args.need('port');
      const reset = resetModeOption(args);
      const board = await boardFor(port);
      const result = await withPort(port, (t) => action(t, reset, board), args);
      io.out(result.message);
    },
  };
}

export const deviceCommands: CliCommand[] = [
  list,
  info,
  downloadCommand('device enter-download', 'Put the board\'s ESP32 into download mode (Pycom PIC boards, DTR/RTS boards, or instructions).', enterDownloadMode),
  downloadCommand('device exit-download', 'Release download mode and reset the ESP32 into its firmware.', exitDownloadMode),
  predictBootCommand,
];
