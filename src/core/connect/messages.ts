import { UserError } from '../errors';

/**
 * Every failure on the way to (and while talking to) the chip, as data in one place: a stable
 * code and one sentence naming the likely cause and the next step. Transports, the loader and
 * the connection code all build their UserErrors from here so wording stays consistent.
 */
export interface MessageContext {
  port: string;
  /** How this board gets into download mode, as advice (see `downloadModeHint`). */
  howToEnter?: string;
  detail?: string;
  baud?: number;
  value?: number;
  op?: string;
  received?: number;
}

type Template = (c: MessageContext) => string;

export const MESSAGES = {
  E_PORT_NOT_FOUND: (c) =>
    /^[A-Za-z0-9.-]+:\d{1,5}$/.test(c.port ?? '')
      ? `There is no serial port ${c.port}: for a board served over TCP (pycom-secure sim serve) write it as socket://${c.port}.`
      : `There is no serial port ${c.port}: check the cable and that the board is plugged in, then run \`pycom-secure device list\` to see the ports that exist.`,
  E_PORT_BUSY: (c) =>
    `The port ${c.port} is in use by another program (a REPL, Pymakr, a serial monitor or ModemManager): close it and try again.`,
  E_PORT_PERMISSION: (c) =>
    process.platform === 'linux'
      ? `You are not allowed to open ${c.port}: add yourself to the dialout group (sudo usermod -aG dialout $USER), log out and in again, and retry.`
      : `You are not allowed to open ${c.port}: check the port's permissions (or the driver) and retry.`,
  E_PORT_OPEN: (c) => `Could not open ${c.port} (${c.detail ?? 'unknown error'}): unplug and replug the board and try again.`,
  E_NOT_A_PORT: (c) =>
    `${c.port} is not a serial port (it is ${c.detail ?? 'not a serial device'}): give the board's serial port (e.g. /dev/ttyACM0, /dev/ttyUSB0 or COM3); \`pycom-secure device list\` shows the ones that exist.`,
  E_PORT_IO: (c) => `The link to ${c.port} failed (${c.detail ?? 'I/O error'}): the board may have been unplugged; reconnect it and try again.`,
  E_LINK_CLOSED: (c) => `The link to ${c.port} closed while waiting for the chip: the board was probably unplugged or reset; reconnect it and try again.`,
  E_BOARD_BUSY: (c) => `The virtual board on ${c.port} is busy: another client is connected to it (it said "${c.detail ?? 'busy'}"); close that program or wait for it to finish, then try again.`,
  E_WRONG_REPLY: (c) =>
    `The device on ${c.port} answered ${c.op ?? 'a command'} with frames that are not its reply (${c.detail ?? 'unknown frames'}): it is not an ESP32 ROM loader in step with this tool; reset the board into download mode and try again, and check that nothing else talks on this port.`,
  E_TCP_CONNECT: (c) =>
    `Could not connect to ${c.port} (${c.detail ?? 'connection refused'}): check that the device server (e.g. \`pycom-secure sim serve\`) is running on that address.`,
  E_BAD_URL: (c) => `"${c.port}" is not a port name or a socket://HOST:PORT address: give a port from \`pycom-secure device list\` or socket://127.0.0.1:PORT.`,

  E_NO_DATA: (c) =>
    `The chip on ${c.port} sent nothing back, so it is most likely not in download mode: ${c.howToEnter ?? 'put it in download mode'}, then try again.`,
  E_TX_DOWN: (c) =>
    `The chip on ${c.port} is in download mode (its boot log says so) but does not answer: the host-to-chip (TX) line seems broken, so check the cable/adapter wiring and that nothing else drives the chip's RX pin.`,
  E_WRONG_BOOT_MODE: (c) =>
    `The chip on ${c.port} booted from flash (boot mode 0x${(c.value ?? 0).toString(16)}) instead of download mode: ${c.howToEnter ?? 'put it in download mode'}, then try again.`,
  E_RUNNING_FIRMWARE: (c) =>
    `The board on ${c.port} is running its firmware (it printed "${c.detail ?? ''}") instead of the ROM loader: ${c.howToEnter ?? 'put it in download mode'}, then try again.`,
  E_DOWNLOAD_DISABLED: (c) =>
    `The chip on ${c.port} says UART download mode is disabled by eFuse, so it can never be flashed over serial again; it can only be updated by its own firmware (OTA).`,
  E_FLASH_BOOT_FAILED: (c) =>
    `The chip on ${c.port} cannot read its bootloader ("${c.detail ?? 'flash read err'}"), which usually means encrypted or signed flash that does not match its eFuses: ${c.howToEnter ?? 'put it in download mode'} to reflash it.`,
  E_NOISE: (c) =>
    `The device on ${c.port} answered, but not with ROM-loader replies (${c.detail ?? 'garbage'}): it is the wrong port, or the board is running its firmware instead of being in download mode (or the baud rate or cable is wrong); check the port with \`pycom-secure device list\`, ${c.howToEnter ?? 'put the board in download mode'}, and try again.`,
  E_NOT_ESP32: (c) =>
    `The chip on ${c.port} is not an ESP32 (magic value 0x${(c.value ?? 0).toString(16).padStart(8, '0')}): this tool only supports the ESP32 inside Pycom modules; check that you picked the right port.`,
  E_BAUD_TOO_HIGH: (c) =>
    `The link to ${c.port} did not hold at ${c.baud ?? '?'} baud and the chip could not be brought back: reset the board into download mode and retry with --baud 115200.`,

  E_PIC_NO_ANSWER: (c) =>
    `The expansion board's PIC on ${c.port} did not answer: replug the board (or use --reset none and connect P2 to GND by hand) and try again.`,
  E_PIC_REPL_ANSWERED: (c) =>
    `A MicroPython REPL answered on ${c.port} (${c.detail ?? 'REPL output'}), not the expansion board's PIC, so the module was not switched to download mode: this port has no PIC in front of the module, so use --reset classic if the adapter has DTR/RTS, or connect P2 (GPIO0) to GND, press reset and use --reset none.`,
  E_PIC_NOT_A_PIC: (c) =>
    `Something other than the expansion board's PIC answered on ${c.port} (${c.detail ?? 'unexpected bytes'}), so the module was not switched to download mode: check that this is the board's port, or connect P2 (GPIO0) to GND, press reset and use --reset none.`,
  E_PIC_FIRMWARE_OLD: (c) =>
    `The expansion board's PIC firmware on ${c.port} is version ${c.value ?? '?'}, older than 6, so it cannot switch the module into download mode: update the expansion board firmware with Pycom's DFU tool (see Pycom's "Updating Expansion Board Firmware" guide), or connect P2 to GND by hand with --reset none.`,
  E_NO_MODEM_LINES: (c) =>
    `${c.port} has no DTR/RTS lines to reset the chip with: put the device in download mode yourself and use --reset none.`,

  E_TIMEOUT_MID_FRAME: (c) =>
    `A reply from the chip on ${c.port} stopped half-way (${c.received ?? 0} bytes of ${c.op ?? 'a reply'}): the cable or baud rate is unreliable; retry at a lower --baud (115200) or with another cable.`,
  E_TIMEOUT_STREAM_STOPPED: (c) =>
    `The chip on ${c.port} stopped answering (no reply to ${c.op ?? 'a command'}): it may have reset or lost power; put it back in download mode and try again.`,
  E_NO_MATCHING_REPLY: (c) =>
    `The chip on ${c.port} kept sending replies that do not match ${c.op ?? 'the command'}${c.detail ? ` (${c.detail})` : ''}: the link is out of step; reset the board into download mode and try again.`,
  E_UNSUPPORTED_COMMAND: (c) =>
    `The ESP32 ROM loader on ${c.port} does not support ${c.op ?? 'this command'}: this operation is not possible without a flasher stub, which this product never uploads.`,
  E_ROM_ERROR: (c) => `The chip on ${c.port} refused ${c.op ?? 'a command'}: ${c.detail ?? 'unknown ROM error'}; retry, and if it repeats, check the power supply and the cable.`,
  E_BAD_REPLY: (c) => `The chip on ${c.port} sent a malformed reply to ${c.op ?? 'a command'} (${c.detail ?? ''}): retry at a lower --baud (115200) or with another cable.`,
  E_VERIFY_FAILED: (c) =>
    `What was written to flash on ${c.port} does not match the data (${c.detail ?? 'MD5 mismatch'}): the flash may be failing or write-protected; retry, and do not reset the board until a write verifies.`,
  E_SPI_TIMEOUT: (c) => `The flash chip on ${c.port} did not finish an SPI command: check the module's power supply and retry.`,
  E_CANCELLED: (c) => `The operation on ${c.port} was cancelled${c.detail ? ` ${c.detail}` : ''}; nothing more was sent to the chip.`,
} satisfies Record<string, Template>;

export type MessageCode = keyof typeof MESSAGES;

export function fail(code: MessageCode, ctx: MessageContext): UserError {
  return new UserError(code, MESSAGES[code](ctx));
}
