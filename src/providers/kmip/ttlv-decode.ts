/**
 * TTLV decoder (KMIP spec 9.1). Input comes from the network, so every length is checked
 * against the bytes actually present before it is used: a length past the end, a wrong
 * fixed length, a structure whose children overrun it, or nesting deeper than a limit is
 * a TtlvDecodeError, never a hang, a huge allocation or a stack overflow.
 */
import { ItemType } from './kmip-constants.ts';
import type { TtlvItem } from './ttlv-item.ts';

/** Deepest structure nesting accepted; KMIP 1.4 responses we read nest 6 levels at most. */
const MAX_DEPTH = 32;

/** Thrown for input that is not well-formed TTLV. */
export class TtlvDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TtlvDecodeError';
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Exact value lengths of the fixed-size types (spec 9.1.1.4). */
const FIXED_LENGTH: Readonly<Record<number, number>> = {
  [ItemType.Integer]: 4,
  [ItemType.LongInteger]: 8,
  [ItemType.Enumeration]: 4,
  [ItemType.Boolean]: 8,
  [ItemType.DateTime]: 8,
  [ItemType.Interval]: 4,
};

function padded(length: number): number {
  return Math.ceil(length / 8) * 8;
}

/** Reads the 8-byte header at `offset`; returns the total size of the item including padding. */
export function ttlvItemSize(header: Uint8Array, offset = 0): number {
  if (header.length - offset < 8) throw new TtlvDecodeError('truncated item header');
  const view = new DataView(header.buffer, header.byteOffset + offset, 8);
  return 8 + padded(view.getUint32(4));
}

function decodeAt(buf: Buffer, offset: number, end: number, depth: number): { item: TtlvItem; next: number } {
  if (end - offset < 8) throw new TtlvDecodeError(`truncated item header at byte ${offset}`);
  const tag = buf.readUIntBE(offset, 3);
  const typeCode = buf.readUInt8(offset + 3);
  const length = buf.readUInt32BE(offset + 4);
  const at = offset + 8;
  const next = at + padded(length);
  const where = `tag 0x${tag.toString(16).padStart(6, '0')} at byte ${offset}`;
  if (next > end) throw new TtlvDecodeError(`${where}: length ${length} runs past the end of its container`);
  const fixed = FIXED_LENGTH[typeCode];
  if (fixed !== undefined && length !== fixed) {
    throw new TtlvDecodeError(`${where}: length ${length} is wrong for type 0x${typeCode.toString(16)}`);
  }
  switch (typeCode) {
    case ItemType.Structure: {
      if (depth >= MAX_DEPTH) throw new TtlvDecodeError(`${where}: structures nested deeper than ${MAX_DEPTH}`);
      const children: TtlvItem[] = [];
      let cursor = at;
      const structEnd = at + length;
      while (cursor < structEnd) {
        const child = decodeAt(buf, cursor, structEnd, depth + 1);
        children.push(child.item);
        cursor = child.next;
      }
      // A structure's length is the sum of its padded children, so it is a multiple of 8.
      if (cursor !== structEnd) throw new TtlvDecodeError(`${where}: children do not fill the structure length`);
      return { item: { tag, type: 'Structure', value: children }, next };
    }
    case ItemType.Integer:
      return { item: { tag, type: 'Integer', value: buf.readInt32BE(at) }, next };
    case ItemType.LongInteger:
      return { item: { tag, type: 'LongInteger', value: buf.readBigInt64BE(at) }, next };
    case ItemType.BigInteger: {
      if (length === 0 || length % 8 !== 0) throw new TtlvDecodeError(`${where}: Big Integer length must be a non-zero multiple of 8`);
      let value = 0n;
      for (let i = 0; i < length; i++) value = (value << 8n) | BigInt(buf[at + i] as number);
      return { item: { tag, type: 'BigInteger', value: BigInt.asIntN(length * 8, value) }, next };
    }
    case ItemType.Enumeration:
      return { item: { tag, type: 'Enumeration', value: buf.readUInt32BE(at) }, next };
    case ItemType.Boolean: {
      const raw = buf.readBigUInt64BE(at);
      if (raw > 1n) throw new TtlvDecodeError(`${where}: Boolean must be 0 or 1`);
      return { item: { tag, type: 'Boolean', value: raw === 1n }, next };
    }
    case ItemType.TextString: {
      let value: string;
      try {
        value = utf8.decode(buf.subarray(at, at + length));
      } catch {
        throw new TtlvDecodeError(`${where}: Text String is not valid UTF-8`);
      }
      return { item: { tag, type: 'TextString', value }, next };
    }
    case ItemType.ByteString:
      // Copy: the receive buffer is reused and may be zeroed by the caller.
      return { item: { tag, type: 'ByteString', value: new Uint8Array(buf.subarray(at, at + length)) }, next };
    case ItemType.DateTime:
      return { item: { tag, type: 'DateTime', value: buf.readBigInt64BE(at) }, next };
    case ItemType.Interval:
      return { item: { tag, type: 'Interval', value: buf.readUInt32BE(at) }, next };
    default:
      throw new TtlvDecodeError(`${where}: unknown item type 0x${typeCode.toString(16)}`);
  }
}

/** Decodes exactly one TTLV item that fills `bytes` completely. */
export function decodeTtlv(bytes: Uint8Array): TtlvItem {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { item, next } = decodeAt(buf, 0, buf.length, 0);
  if (next !== buf.length) throw new TtlvDecodeError(`${buf.length - next} trailing bytes after the item`);
  return item;
}
