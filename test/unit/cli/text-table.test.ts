import { describe, expect, it } from 'vitest';
import { formatTable, tableLines } from '../../../src/cli/text-table.ts';
import { formatKeyTable } from '../../../src/cli/keys-command.ts';
import { formatHsmKeyTable } from '../../../src/cli/hsm-command.ts';
import { formatKmipKeyTable } from '../../../src/cli/kmip-command.ts';

describe('the CLI text table', () => {
  it('pads each column to its widest cell, two spaces apart, and leaves the last column unpadded', () => {
    expect(
      tableLines([
        ['NAME', 'STATE', 'NOTE'],
        ['a-long-name', 'ok', 'short'],
        ['b', 'degraded', 'a much longer note'],
      ]),
    ).toEqual(['NAME         STATE     NOTE', 'a-long-name  ok        short', 'b            degraded  a much longer note']);
  });

  it('ends every line, the last included, with a newline', () => {
    expect(
      formatTable([
        ['A', 'B'],
        ['1', '2'],
      ]),
    ).toBe('A  B\n1  2\n');
  });

  it('keeps a row whose last cell is empty as wide as its padded cells', () => {
    expect(
      tableLines([
        ['KEY', 'CREATED'],
        ['foo', ''],
      ]),
    ).toEqual(['KEY  CREATED', 'foo  ']);
  });

  it('has no lines for no rows, and a header alone for a header alone', () => {
    expect(tableLines([])).toEqual([]);
    expect(formatTable([['ONLY', 'HEADER']])).toBe('ONLY  HEADER\n');
  });
});

// The list commands' output, byte for byte as operators (and their scripts) have seen it.
describe('the list commands render through it unchanged', () => {
  it('keys list', () => {
    expect(
      formatKeyTable([
        { keyId: 'foo', usages: ['ENCRYPT', 'DECRYPT'], enabled: true, currentVersion: 3, createdAt: '2026-01-01T00:00:00Z', versions: [] },
        { keyId: 'a-much-longer-key-id', usages: [], enabled: false, currentVersion: 1, createdAt: '2026-02-01T00:00:00Z', versions: [] },
      ]),
    ).toBe(
      'KEY ID                USAGE            STATE     VERSION  CREATED\n' +
        'foo                   encrypt,decrypt  enabled   3        2026-01-01T00:00:00Z\n' +
        'a-much-longer-key-id  none             disabled  1        2026-02-01T00:00:00Z\n',
    );
    expect(formatKeyTable([])).toBe('(no keys)\n');
  });

  it('hsm keys list', () => {
    expect(
      formatHsmKeyTable([
        { label: 'foo', id: '01', type: 'AES', bits: 256, encrypt: true, decrypt: true, sensitive: true, extractable: false, problem: undefined },
        { label: '', id: '02', type: 'DES3', bits: undefined, encrypt: false, decrypt: false, sensitive: false, extractable: true, problem: 'not AES' },
      ]),
    ).toBe(
      'LABEL       TYPE     USAGE            SENSITIVE  EXTRACTABLE  XKS\n' +
        'foo         AES-256  encrypt,decrypt  yes        no           usable\n' +
        '(no label)  DES3     none             no         yes          unusable: not AES\n',
    );
  });

  it('kmip keys list', () => {
    expect(
      formatKmipKeyTable(
        [
          { uid: '1', names: ['xks-foo'], usages: ['ENCRYPT'], state: 'Active', algorithm: 3, length: 256 },
          { uid: '22222', names: [], usages: [], state: 'PreActive', algorithm: 4, length: undefined },
        ],
        'xks-',
      ),
    ).toBe(
      'KEY ID  KMIP NAME  UNIQUE ID  USAGE    STATE      ALGORITHM\n' +
        'foo     xks-foo    1          encrypt  Active     AES-256\n' +
        '-       -          22222      none     PreActive  algorithm 4\n',
    );
  });
});
