import { describe, expect, it } from 'vitest';
import { formatCompactDate, formatIsoDate, parseEasDate } from './dates.js';
import { MalformedItemError } from './types.js';

const instant = new Date(Date.UTC(2026, 0, 5, 9, 0, 0, 0));

describe('EAS dates', () => {
  it('formats the compact (calendar) and extended (everything else) forms', () => {
    expect(formatCompactDate(instant)).toBe('20260105T090000Z');
    expect(formatIsoDate(instant)).toBe('2026-01-05T09:00:00.000Z');
    expect(formatIsoDate(new Date(Date.UTC(2026, 0, 5, 9, 0, 0, 7)))).toBe('2026-01-05T09:00:00.007Z');
  });

  it('reads both forms back to the same instant', () => {
    expect(parseEasDate('20260105T090000Z')).toEqual(instant);
    expect(parseEasDate('2026-01-05T09:00:00.000Z')).toEqual(instant);
  });

  it('reads the near misses clients send', () => {
    expect(parseEasDate('2026-01-05T09:00:00Z')).toEqual(instant);
    expect(parseEasDate('2026-01-05T09:00:00')).toEqual(instant);
    expect(parseEasDate(' 20260105T090000 ')).toEqual(instant);
    expect(parseEasDate('2026-01-05T09:00:00.0000000Z')).toEqual(instant);
    expect(parseEasDate('2026-01-05T10:00:00+01:00')).toEqual(instant);
    expect(parseEasDate('2026-01-05')).toEqual(new Date(Date.UTC(2026, 0, 5)));
    expect(parseEasDate('20260105')).toEqual(new Date(Date.UTC(2026, 0, 5)));
    expect(parseEasDate('2026-01-05T09:00:00.5Z').getUTCMilliseconds()).toBe(500);
  });

  it('keeps years below 100 (year-less birthdays)', () => {
    expect(parseEasDate('0001-03-04T00:00:00.000Z').getUTCFullYear()).toBe(1);
    expect(formatIsoDate(parseEasDate('1604-03-04T00:00:00.000Z'))).toBe('1604-03-04T00:00:00.000Z');
  });

  it('refuses text that is no date, and impossible dates', () => {
    for (const bad of ['', 'tomorrow', '2026-02-30T00:00:00Z', '20261305T000000Z', '2026-01-05T25:00:00Z']) {
      expect(() => parseEasDate(bad), bad).toThrow(MalformedItemError);
    }
  });

  it('refuses to format an invalid Date', () => {
    expect(() => formatIsoDate(new Date(Number.NaN))).toThrow(RangeError);
    expect(() => formatCompactDate(new Date(Number.NaN))).toThrow(RangeError);
  });
});
