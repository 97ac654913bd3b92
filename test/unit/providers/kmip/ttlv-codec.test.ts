import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeTtlv, TtlvDecodeError, ttlvItemSize } from '../../../../src/providers/kmip/ttlv-decode.ts';
import { encodeTtlv, TtlvEncodeError } from '../../../../src/providers/kmip/ttlv-encode.ts';
import {
  bigInteger,
  boolean,
  byteString,
  dateTime,
  enumeration,
  integer,
  interval,
  longInteger,
  struct,
  textString,
  type TtlvItem,
} from '../../../../src/providers/kmip/ttlv-item.ts';

/** Parses the spec's "42 00 20 | 02 | ..." notation. */
function specHex(text: string): Buffer {
  return Buffer.from(text.replace(/[|\s]/g, ''), 'hex');
}

// KMIP Specification v1.4, section 9.1.2 "Examples": every primitive with tag 0x420020.
const SPEC_EXAMPLES: Array<{ name: string; item: TtlvItem; bytes: string }> = [
  { name: 'an Integer 8', item: integer(0x420020, 8), bytes: '42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00' },
  {
    name: 'a Long Integer 123456789000000000',
    item: longInteger(0x420020, 123456789000000000n),
    bytes: '42 00 20 | 03 | 00 00 00 08 | 01 B6 9B 4B A5 74 92 00',
  },
  {
    name: 'a Big Integer 1234567890000000000000000000',
    item: bigInteger(0x420020, 1234567890000000000000000000n),
    bytes: '42 00 20 | 04 | 00 00 00 10 | 00 00 00 00 03 FD 35 EB 6B C2 DF 46 18 08 00 00',
  },
  { name: 'an Enumeration 255', item: enumeration(0x420020, 255), bytes: '42 00 20 | 05 | 00 00 00 04 | 00 00 00 FF 00 00 00 00' },
  { name: 'a Boolean True', item: boolean(0x420020, true), bytes: '42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 01' },
  {
    name: 'a Text String "Hello World"',
    item: textString(0x420020, 'Hello World'),
    bytes: '42 00 20 | 07 | 00 00 00 0B | 48 65 6C 6C 6F 20 57 6F 72 6C 64 00 00 00 00 00',
  },
  {
    name: 'a Byte String 01 02 03',
    item: byteString(0x420020, Uint8Array.of(1, 2, 3)),
    bytes: '42 00 20 | 08 | 00 00 00 03 | 01 02 03 00 00 00 00 00',
  },
  {
    name: 'a Date-Time of Friday, March 14, 2008, 11:56:40 GMT',
    item: dateTime(0x420020, BigInt(Date.UTC(2008, 2, 14, 11, 56, 40) / 1000)),
    bytes: '42 00 20 | 09 | 00 00 00 08 | 00 00 00 00 47 DA 67 F8',
  },
  { name: 'an Interval of 10 days', item: interval(0x420020, 10 * 24 * 3600), bytes: '42 00 20 | 0A | 00 00 00 04 | 00 0D 2F 00 00 00 00 00' },
  {
    name: 'a Structure of an Enumeration 254 and an Integer 255',
    item: struct(0x420020, [enumeration(0x420004, 254), integer(0x420005, 255)]),
    bytes: '42 00 20 | 01 | 00 00 00 20 | 42 00 04 | 05 | 00 00 00 04 | 00 00 00 FE 00 00 00 00 | 42 00 05 | 02 | 00 00 00 04 | 00 00 00 FF 00 00 00 00',
  },
];

// KMIP Test Cases v1.0 section 3.1.1 (Create / Destroy): the Create request and its response.
const CREATE_REQUEST_3_1_1 =
  '42007801000001204200770100000038420069010000002042006A0200000004000000010000000042006B02000000040000000000000000' +
  '42000D0200000004000000010000000042000F01000000D842005C0500000004000000010000000042007901000000C0420057050000000400' +
  '0000020000000042009101000000A8420008010000003042000A070000001743727970746F6772617068696320416C676F726974686D0042000B' +
  '05000000040000000300000000420008010000003042000A070000001443727970746F67726170686963204C656E6774680000000042000B0200' +
  '0000040000008000000000420008010000003042000A070000001843727970746F67726170686963205573616765204D61736B42000B02000000' +
  '040000000C00000000';
const CREATE_RESPONSE_3_1_1 =
  '42007B01000000C042007A0100000048420069010000002042006A0200000004000000010000000042006B02000000040000000000000000' +
  '4200920900000008000000004AFBE7C242000D0200000004000000010000000042000F010000006842005C05000000040000000100000000' +
  '42007F0500000004000000000000000042007C01000000404200570500000004000000020000000042009407000000246663383833336465' +
  '2D373064322D346563652D623036332D66656465336133633539666500000000';

function attribute(name: string, value: TtlvItem): TtlvItem {
  return struct(0x420008, [textString(0x42000a, name), value]);
}

describe('TTLV codec: KMIP spec 9.1.2 examples', () => {
  for (const example of SPEC_EXAMPLES) {
    it(`encodes ${example.name} to the spec bytes`, () => {
      expect(encodeTtlv(example.item).toString('hex')).toBe(specHex(example.bytes).toString('hex'));
    });
    it(`decodes the spec bytes of ${example.name}`, () => {
      expect(decodeTtlv(specHex(example.bytes))).toEqual(example.item);
    });
  }
});

describe('TTLV codec: KMIP 1.0 test case 3.1.1 (Create)', () => {
  it('encodes the Create request byte for byte', () => {
    const request = struct(0x420078, [
      struct(0x420077, [struct(0x420069, [integer(0x42006a, 1), integer(0x42006b, 0)]), integer(0x42000d, 1)]),
      struct(0x42000f, [
        enumeration(0x42005c, 1),
        struct(0x420079, [
          enumeration(0x420057, 2),
          struct(0x420091, [
            attribute('Cryptographic Algorithm', enumeration(0x42000b, 3)),
            attribute('Cryptographic Length', integer(0x42000b, 128)),
            attribute('Cryptographic Usage Mask', integer(0x42000b, 0x0c)),
          ]),
        ]),
      ]),
    ]);
    expect(encodeTtlv(request).toString('hex').toUpperCase()).toBe(CREATE_REQUEST_3_1_1);
  });

  it('decodes the Create response and re-encodes it to the same bytes', () => {
    const bytes = Buffer.from(CREATE_RESPONSE_3_1_1, 'hex');
    const decoded = decodeTtlv(bytes);
    expect(decoded).toEqual(
      struct(0x42007b, [
        struct(0x42007a, [struct(0x420069, [integer(0x42006a, 1), integer(0x42006b, 0)]), dateTime(0x420092, 0x4afbe7c2n), integer(0x42000d, 1)]),
        struct(0x42000f, [
          enumeration(0x42005c, 1),
          enumeration(0x42007f, 0),
          struct(0x42007c, [enumeration(0x420057, 2), textString(0x420094, 'fc8833de-70d2-4ece-b063-fede3a3c59fe')]),
        ]),
      ]),
    );
    expect(encodeTtlv(decoded).equals(bytes)).toBe(true);
  });
});

describe('TTLV codec: values at the edges', () => {
  it('round-trips negative and extreme numbers', () => {
    const items: TtlvItem[] = [
      integer(0x420001, -1),
      integer(0x420001, -0x8000_0000),
      longInteger(0x420001, -(1n << 63n)),
      longInteger(0x420001, (1n << 63n) - 1n),
      enumeration(0x420001, 0xffff_ffff),
      bigInteger(0x420001, -1n),
      bigInteger(0x420001, 0n),
      bigInteger(0x420001, 0x80n),
      bigInteger(0x420001, -(1n << 64n)),
      boolean(0x420001, false),
      textString(0x420001, ''),
      textString(0x420001, 'naïve ✓ exactly8'),
      byteString(0x420001, new Uint8Array(0)),
      byteString(0x420001, new Uint8Array(16).fill(0xab)),
    ];
    for (const item of items) expect(decodeTtlv(encodeTtlv(item))).toEqual(item);
  });

  it('encodes a Big Integer -1 as eight 0xFF bytes (sign-extended to a multiple of 8)', () => {
    expect(encodeTtlv(bigInteger(0x420001, -1n)).subarray(8).toString('hex')).toBe('ffffffffffffffff');
  });

  it('refuses values that do not fit their type', () => {
    expect(() => encodeTtlv(integer(0x420001, 0x8000_0000))).toThrow(TtlvEncodeError);
    expect(() => encodeTtlv(integer(0x420001, 1.5))).toThrow(TtlvEncodeError);
    expect(() => encodeTtlv(enumeration(0x420001, -1))).toThrow(TtlvEncodeError);
    expect(() => encodeTtlv(longInteger(0x420001, 1n << 63n))).toThrow(TtlvEncodeError);
    expect(() => encodeTtlv(integer(0x1000000, 1))).toThrow(TtlvEncodeError);
  });

  it('reads the total item size from an 8-byte header', () => {
    expect(ttlvItemSize(specHex('42 00 20 | 07 | 00 00 00 0B'))).toBe(24);
    expect(() => ttlvItemSize(new Uint8Array(7))).toThrow(TtlvDecodeError);
  });
});

describe('TTLV decoder: malformed input is an error, never a hang', () => {
  const bad: Array<{ name: string; bytes: string }> = [
    { name: 'an empty buffer', bytes: '' },
    { name: 'a truncated header', bytes: '42 00 20 02 00 00' },
    { name: 'a length past the end of the buffer', bytes: '42 00 20 | 08 | 00 00 00 10 | 01 02 03 04 05 06 07 08' },
    { name: 'a length of 4 GiB', bytes: '42 00 20 | 08 | FF FF FF FF | 00 00 00 00 00 00 00 00' },
    { name: 'a missing padding after a value', bytes: '42 00 20 | 08 | 00 00 00 03 | 01 02 03' },
    { name: 'an Integer with length 8', bytes: '42 00 20 | 02 | 00 00 00 08 | 00 00 00 00 00 00 00 08' },
    { name: 'a Boolean with value 2', bytes: '42 00 20 | 06 | 00 00 00 08 | 00 00 00 00 00 00 00 02' },
    { name: 'an unknown item type', bytes: '42 00 20 | 0C | 00 00 00 04 | 00 00 00 01 00 00 00 00' },
    { name: 'a Big Integer of 3 bytes', bytes: '42 00 20 | 04 | 00 00 00 03 | 01 02 03 00 00 00 00 00' },
    { name: 'a Text String that is not UTF-8', bytes: '42 00 20 | 07 | 00 00 00 02 | C3 28 00 00 00 00 00 00' },
    {
      name: 'a structure whose child runs past the structure',
      bytes: '42 00 20 | 01 | 00 00 00 10 | 42 00 04 | 08 | 00 00 00 10 | 00 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00',
    },
    { name: 'a structure of a length that is not a multiple of 8', bytes: '42 00 20 | 01 | 00 00 00 04 | 00 00 00 00 00 00 00 00' },
    { name: 'trailing bytes after the item', bytes: '42 00 20 | 02 | 00 00 00 04 | 00 00 00 08 00 00 00 00 | 00 00 00 00 00 00 00 00' },
  ];
  for (const { name, bytes } of bad) {
    it(`rejects ${name}`, () => {
      expect(() => decodeTtlv(specHex(bytes))).toThrow(TtlvDecodeError);
    });
  }

  it('rejects structures nested deeper than the limit', () => {
    let item: TtlvItem = integer(0x420001, 1);
    for (let i = 0; i < 40; i++) item = struct(0x420002, [item]);
    expect(() => decodeTtlv(encodeTtlv(item))).toThrow(/nested deeper/);
  });

  it('rejects every truncation of a real response', () => {
    const bytes = Buffer.from(CREATE_RESPONSE_3_1_1, 'hex');
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(() => decodeTtlv(bytes.subarray(0, cut))).toThrow(TtlvDecodeError);
    }
  });

  it('survives 20,000 random and bit-flipped inputs with only TtlvDecodeError', () => {
    const valid = Buffer.from(CREATE_RESPONSE_3_1_1, 'hex');
    for (let i = 0; i < 20_000; i++) {
      const input = i % 2 === 0 ? randomBytes(8 + (i % 200)) : Buffer.from(valid);
      if (i % 2 === 1) input[i % input.length] = (input[i % input.length] ?? 0) ^ (1 << (i % 8));
      try {
        decodeTtlv(input);
      } catch (e) {
        expect(e).toBeInstanceOf(TtlvDecodeError);
      }
    }
  }, 60_000); // a decoder that hangs on some input fails by this timeout; no timing assertion (a shared CI machine varies)
});
