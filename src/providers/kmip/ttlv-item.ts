/**
 * The TTLV item model (KMIP spec 9.1: Tag, Type, Length, Value) with small builders and
 * accessors. Encoding and decoding live in ttlv-encode.ts and ttlv-decode.ts.
 */
import { ItemType } from './kmip-constants.ts';

/** One TTLV item; `tag` is the 3-byte tag as a number (e.g. 0x420094). */
export type TtlvItem =
  | { tag: number; type: 'Structure'; value: TtlvItem[] }
  | { tag: number; type: 'Integer'; value: number }
  | { tag: number; type: 'LongInteger'; value: bigint }
  | { tag: number; type: 'BigInteger'; value: bigint }
  | { tag: number; type: 'Enumeration'; value: number }
  | { tag: number; type: 'Boolean'; value: boolean }
  | { tag: number; type: 'TextString'; value: string }
  | { tag: number; type: 'ByteString'; value: Uint8Array }
  /** Seconds since the Unix epoch (spec 9.1.1.4: a signed 64-bit POSIX time). */
  | { tag: number; type: 'DateTime'; value: bigint }
  /** Seconds (spec 9.1.1.4: an unsigned 32-bit count). */
  | { tag: number; type: 'Interval'; value: number };

/** The name of a TTLV item type. */
export type TtlvTypeName = TtlvItem['type'];

/** Type code for each type name (spec 9.1.1.3). */
export const TYPE_CODE: Readonly<Record<TtlvTypeName, number>> = ItemType;

/** A Structure item. */
export function struct(tag: number, value: TtlvItem[]): TtlvItem {
  return { tag, type: 'Structure', value };
}
/** An Integer item (signed 32-bit). */
export function integer(tag: number, value: number): TtlvItem {
  return { tag, type: 'Integer', value };
}
/** A Long Integer item (signed 64-bit). */
export function longInteger(tag: number, value: bigint): TtlvItem {
  return { tag, type: 'LongInteger', value };
}
/** A Big Integer item (two's complement, big-endian). */
export function bigInteger(tag: number, value: bigint): TtlvItem {
  return { tag, type: 'BigInteger', value };
}
/** An Enumeration item (unsigned 32-bit). */
export function enumeration(tag: number, value: number): TtlvItem {
  return { tag, type: 'Enumeration', value };
}
/** A Boolean item. */
export function boolean(tag: number, value: boolean): TtlvItem {
  return { tag, type: 'Boolean', value };
}
/** A Text String item (UTF-8). */
export function textString(tag: number, value: string): TtlvItem {
  return { tag, type: 'TextString', value };
}
/** A Byte String item. */
export function byteString(tag: number, value: Uint8Array): TtlvItem {
  return { tag, type: 'ByteString', value };
}
/** A Date-Time item, in seconds since the epoch. */
export function dateTime(tag: number, value: bigint): TtlvItem {
  return { tag, type: 'DateTime', value };
}
/** An Interval item, in seconds. */
export function interval(tag: number, value: number): TtlvItem {
  return { tag, type: 'Interval', value };
}

/** Thrown when a decoded message does not have the shape an operation expects. */
export class KmipProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KmipProtocolError';
  }
}

function describeTag(tag: number): string {
  return `0x${tag.toString(16).padStart(6, '0')}`;
}

/** Children of a structure with the given tag, in order. */
export function childrenOf(item: TtlvItem, tag: number): TtlvItem[] {
  if (item.type !== 'Structure') throw new KmipProtocolError(`${describeTag(item.tag)} is not a structure`);
  return item.value.filter((c) => c.tag === tag);
}

/** The first child with the given tag, or undefined. */
export function childOf(item: TtlvItem, tag: number): TtlvItem | undefined {
  return childrenOf(item, tag)[0];
}

/** The JavaScript value of each TTLV type. */
interface TtlvValues {
  Structure: TtlvItem[];
  Integer: number;
  LongInteger: bigint;
  BigInteger: bigint;
  Enumeration: number;
  Boolean: boolean;
  TextString: string;
  ByteString: Uint8Array;
  DateTime: bigint;
  Interval: number;
}
type ValueOf<T extends TtlvTypeName> = TtlvValues[T];

/** Narrows an item to one type; a mismatch is a protocol error. */
export function valueAs<T extends TtlvTypeName>(item: TtlvItem, type: T): ValueOf<T> {
  if (item.type !== type) {
    throw new KmipProtocolError(`${describeTag(item.tag)} is ${item.type}, expected ${type}`);
  }
  return item.value as ValueOf<T>;
}

/** The value of a required child of one type. */
export function requiredChild<T extends TtlvTypeName>(item: TtlvItem, tag: number, type: T): ValueOf<T> {
  const child = childOf(item, tag);
  if (child === undefined) throw new KmipProtocolError(`missing ${describeTag(tag)} in ${describeTag(item.tag)}`);
  return valueAs(child, type);
}

/** The value of an optional child of one type. */
export function optionalChild<T extends TtlvTypeName>(item: TtlvItem, tag: number, type: T): ValueOf<T> | undefined {
  if (childOf(item, tag) === undefined) return undefined;
  return requiredChild(item, tag, type);
}
