import { describe, expect, it } from 'vitest';
import { formatAmzDate, parseAmzDate } from '../../../src/auth/sigv4-time.ts';

describe('x-amz-date', () => {
  it('parses YYYYMMDDTHHMMSSZ as UTC', () => {
    expect(parseAmzDate('20150830T123600Z')).toBe(Date.UTC(2015, 7, 30, 12, 36, 0));
  });

  it('parses the edges of the calendar: leap days, end of year, midnight', () => {
    expect(parseAmzDate('20240229T000000Z')).toBe(Date.UTC(2024, 1, 29, 0, 0, 0));
    expect(parseAmzDate('20001231T235959Z')).toBe(Date.UTC(2000, 11, 31, 23, 59, 59));
  });

  it('round-trips with formatAmzDate for many times', () => {
    for (let t = Date.UTC(1999, 0, 1); t < Date.UTC(2031, 0, 1); t += 7_777_777_000) {
      const whole = Math.floor(t / 1000) * 1000;
      expect(parseAmzDate(formatAmzDate(new Date(whole)))).toBe(whole);
    }
  });

  it.each([
    '2015-08-30T12:36:00Z',
    '20150830T123600',
    '20151330T123600Z',
    '20150230T123600Z',
    '20150830T253600Z',
    'Sun, 30 Aug 2015 12:36:00 GMT',
    '',
    '20230229T000000Z',
    '20150431T000000Z',
    '20150800T000000Z',
    '20150830T126000Z',
    '20150830T123660Z',
    '2015083OT123600Z',
    '20150830T12360 Z',
    '20150830T123600z',
    '+0150830T123600Z',
    '20150830T123600ZZ',
    '00500830T123600Z',
  ])('rejects %j', (value) => {
    expect(parseAmzDate(value)).toBeUndefined();
  });

  it('formats a time in whole seconds, UTC', () => {
    expect(formatAmzDate(new Date(Date.UTC(2015, 7, 30, 12, 36, 0, 999)))).toBe('20150830T123600Z');
  });
});
