import { CHECKSUM_SEED } from './opcodes';

/**
 * Request and response packets of the ESP32 serial loader (esptool docs, Serial Protocol: command
 * and response packets).
 * All fields little-endian. Pure functions: both the client and the virtual device use them.
 */
export interface Request {
  op: number;
  data: Buffer;
  /** Only meaningful for MEM_DATA, FLASH_DATA and FLASH_DEFL_DATA; 0 otherwise. */
  checksum: number;
}

export interface Response {
  op: number;
  /** READ_REG result; for other commands the ROM leaves a stale value here. */
  value: number;
  /** The whole data field: payload followed by the status bytes. */
  data: Buffer;
}

export const HEADER_LEN = 8;

export function checksum(data: Uint8Array, seed = CHECKSUM_SEED): number {
  let c = seed;
  for (const b of data) c ^= b;
  return c & 0xff;
}

export function encodeRequest(op: number, data: Uint8Array, chk = 0): Buffer {
  const out = Buffer.alloc(HEADER_LEN + data.length);
  out[0] = 0x00;
  out[1] = op;
  out.writeUInt16LE(data.length, 2);
  out.writeUInt32LE(chk >>> 0, 4);
  out.set(data, HEADER_LEN);
  return out;
}

/** Returns the request, or a reason the frame is not a well-formed request. */
export function decodeRequest(frame: Buffer): Request | { error: string } {
  if (frame.length < HEADER_LEN) return { error: `frame of ${frame.length} bytes is shorter than a header` };
  if (frame[0] !== 0x00) return { error: `direction byte 0x${frame[0]!.toString(16)} is not a request` };
  const size = frame.readUInt16LE(2);
  if (frame.length - HEADER_LEN !== size) return { error: `size field ${size} does not match the ${frame.length - HEADER_LEN} data bytes` };
  return { op: frame[1]!, checksum: frame.readUInt32LE(4), data: frame.subarray(HEADER_LEN) };
}

export function encodeResponse(op: number, value: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(HEADER_LEN + data.length);
  out[0] = 0x01;
  out[1] = op;
  out.writeUInt16LE(data.length, 2);
  out.writeUInt32LE(value >>> 0, 4);
  out.set(data, HEADER_LEN);
  return out;
}

/** Returns a response, or undefined for frames a client must skip (too short, wrong direction). */
export function decodeResponse(frame: Buffer): Response | undefined {
  if (frame.length < HEADER_LEN || frame[0] !== 0x01) return undefined;
  const size = frame.readUInt16LE(2);
  const data = frame.subarray(HEADER_LEN, HEADER_LEN + Math.min(size, frame.length - HEADER_LEN));
  return { op: frame[1]!, value: frame.readUInt32LE(4), data };
}

/** Little-endian u32 words, the shape of nearly every command's data field. */
export function words(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32LE(v >>> 0, i * 4));
  return b;
}
