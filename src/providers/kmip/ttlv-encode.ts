/**
 * TTLV encoder (KMIP spec 9.1). Every item is a 3-byte tag, a 1-byte type, a 4-byte
 * big-endian length of the value without padding, then the value padded with zeros to a
 * multiple of 8 bytes (spec 9.1.1.5 "Item Length" and 9.1.1.6 "Item Value").
 */
import { TYPE_CODE, type TtlvItem } from './ttlv-item.ts';

const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const utf8 = new TextEncoder();

/** Thrown when an item cannot be represented in TTLV (value out of range, bad tag). */
export class TtlvEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TtlvEncodeError';
  }
}

function padded(length: number): number {
  return Math.ceil(length / 8) * 8;
}

/** Minimal two's complement big-endian bytes of a bigint, sign-extended to a multiple of 8 (spec 9.1.1.4). */
function bigIntegerBytes(value: bigint): Uint8Array {
  let byteCount = 1;
  // Smallest byte count whose signed range holds the value.
  while (value < -(1n << BigInt(byteCount * 8 - 1)) || value >= 1n << BigInt(byteCount * 8 - 1)) byteCount++;
  const length = padded(byteCount);
  const out = new Uint8Array(length);
  let v = BigInt.asUintN(length * 8, value);
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function valueLength(item: TtlvItem): number {
  switch (item.type) {
    case 'Structure':
      return item.value.reduce((sum, child) => sum + 8 + padded(valueLength(child)), 0);
    case 'Integer':
    case 'Enumeration':
    case 'Interval':
      return 4;
    case 'LongInteger':
    case 'Boolean':
    case 'DateTime':
      return 8;
    case 'BigInteger':
      return bigIntegerBytes(item.value).length;
    case 'TextString':
      return utf8.encode(item.value).length;
    case 'ByteString':
      return item.value.length;
  }
}

function checkRange(item: TtlvItem): void {
  const fail = (what: string): never => {
    throw new TtlvEncodeError(`tag 0x${item.tag.toString(16)}: ${what}`);
  };
  if (!Number.isInteger(item.tag) || item.tag < 0 || item.tag > 0xffffff) fail('tag must be a 3-byte number');
  switch (item.type) {
    case 'Integer':
      if (!Number.isInteger(item.value) || item.value < INT32_MIN || item.value > INT32_MAX) fail('Integer out of 32-bit range');
      break;
    case 'Enumeration':
    case 'Interval':
      if (!Number.isInteger(item.value) || item.value < 0 || item.value > 0xffff_ffff) fail(`${item.type} out of unsigned 32-bit range`);
      break;
    case 'LongInteger':
    case 'DateTime':
      if (item.value < INT64_MIN || item.value > INT64_MAX) fail(`${item.type} out of 64-bit range`);
      break;
    default:
      break;
  }
}

function write(item: TtlvItem, out: Buffer, offset: number): number {
  checkRange(item);
  const length = valueLength(item);
  out.writeUIntBE(item.tag, offset, 3);
  out.writeUInt8(TYPE_CODE[item.type], offset + 3);
  out.writeUInt32BE(length, offset + 4);
  const at = offset + 8;
  switch (item.type) {
    case 'Structure': {
      let cursor = at;
      for (const child of item.value) cursor = write(child, out, cursor);
      break;
    }
    case 'Integer':
      out.writeInt32BE(item.value, at);
      break;
    case 'Enumeration':
    case 'Interval':
      out.writeUInt32BE(item.value, at);
      break;
    case 'LongInteger':
    case 'DateTime':
      out.writeBigInt64BE(item.value, at);
      break;
    case 'Boolean':
      out.writeBigUInt64BE(item.value ? 1n : 0n, at);
      break;
    case 'BigInteger':
      out.set(bigIntegerBytes(item.value), at);
      break;
    case 'TextString':
      out.write(item.value, at, 'utf8');
      break;
    case 'ByteString':
      out.set(item.value, at);
      break;
  }
  // Buffer.alloc zero-fills, so the padding is already zeros.
  return at + padded(length);
}

/** Encodes one TTLV item (normally a whole Request Message) to bytes. */
export function encodeTtlv(item: TtlvItem): Buffer {
  const out = Buffer.alloc(8 + padded(valueLength(item)));
  write(item, out, 0);
  return out;
}
