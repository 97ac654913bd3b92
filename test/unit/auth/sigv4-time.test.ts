import { describe, expect, it } from 'vitest';
import { formatAmzDate, parseAmzDate } from '../../../src/auth/sigv4-time.ts';

describe('x-amz-date', () => {
  it('parses YYYYMMDDTHHMMSSZ as UTC', () => {
    expect(parseAmzDate('20150830T123600Z')).toBe(Date.UTC(2015, 7, 30, 12, 36, 0));
  });

  it.each(['2015-08-30T12:36:00Z', '20150830T123600', '20151330T123600Z', '20150230T123600Z', '20150830T253600Z', 'Sun, 30 Aug 2015 12:36:00 GMT', ''])(
    'rejects %j',
    (value) => {
      expect(parseAmzDate(value)).toBeUndefined();
    },
  );

  it('formats a time in whole seconds, UTC', () => {
    expect(formatAmzDate(new Date(Date.UTC(2015, 7, 30, 12, 36, 0, 999)))).toBe('20150830T123600Z');
  });
});
