import type { TimeZone } from '@easkit/mailbox';
import { describe, expect, it } from 'vitest';
import {
  decodeTimeZone,
  encodeTimeZone,
  TIME_ZONE_BLOB_SIZE,
  timeZoneFromBytes,
  timeZoneToBytes,
  UTC_TIME_ZONE,
} from './timezone.js';
import { MalformedItemError } from './types.js';

// TIME_ZONE_INFORMATION of Windows' "W. Europe Standard Time" (Berlin, Amsterdam, Rome...): bias -60, back to
// standard time on the last Sunday of October at 03:00, daylight time from the last Sunday of March at 02:00.
const W_EUROPE_BLOB =
  'xP///1cALgAgAEUAdQByAG8AcABlACAAUwB0AGEAbgBkAGEAcgBkACAAVABpAG0AZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAoAAAAFAAMAAAAAAAAA' +
  'AAAAAFcALgAgAEUAdQByAG8AcABlACAARABhAHkAbABpAGcAaAB0ACAAVABpAG0AZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAAFAAIAAAAAAAAA' +
  'xP///w==';

const W_EUROPE: TimeZone = {
  bias: -60,
  standardName: 'W. Europe Standard Time',
  standardDate: { year: 0, month: 10, dayOfWeek: 0, day: 5, hour: 3, minute: 0, second: 0, milliseconds: 0 },
  standardBias: 0,
  daylightName: 'W. Europe Daylight Time',
  daylightDate: { year: 0, month: 3, dayOfWeek: 0, day: 5, hour: 2, minute: 0, second: 0, milliseconds: 0 },
  daylightBias: -60,
};

describe('time zone blob', () => {
  it('decodes a real Windows zone field by field', () => {
    expect(decodeTimeZone(W_EUROPE_BLOB)).toEqual(W_EUROPE);
  });

  it('encodes it back byte for byte', () => {
    expect(encodeTimeZone(W_EUROPE)).toBe(W_EUROPE_BLOB);
    expect(timeZoneToBytes(W_EUROPE).byteLength).toBe(TIME_ZONE_BLOB_SIZE);
  });

  it('round-trips a zone west of UTC with non-ASCII names', () => {
    const zone: TimeZone = {
      ...W_EUROPE,
      bias: 300,
      standardName: 'Hora estándar del Este',
      daylightName: 'Hora de verano del Este',
    };
    expect(decodeTimeZone(encodeTimeZone(zone))).toEqual(zone);
  });

  it('cuts names to the 31 characters the field holds', () => {
    const zone = { ...W_EUROPE, standardName: 'x'.repeat(40) };
    expect(decodeTimeZone(encodeTimeZone(zone)).standardName).toBe('x'.repeat(31));
  });

  it('encodes UTC as all zeroes', () => {
    expect(timeZoneToBytes(UTC_TIME_ZONE).every((byte) => byte === 0)).toBe(true);
  });

  it('refuses short blobs and text that is not base64', () => {
    expect(() => decodeTimeZone('AAAA')).toThrow(MalformedItemError);
    expect(() => decodeTimeZone('not base64!')).toThrow(MalformedItemError);
    expect(() => timeZoneFromBytes(new Uint8Array(171))).toThrow(MalformedItemError);
  });

  it('ignores bytes after the structure and line breaks in the base64', () => {
    const longer = new Uint8Array(180);
    longer.set(timeZoneToBytes(W_EUROPE));
    expect(timeZoneFromBytes(longer)).toEqual(W_EUROPE);
    expect(decodeTimeZone(`${W_EUROPE_BLOB.slice(0, 60)}\r\n${W_EUROPE_BLOB.slice(60)}`)).toEqual(W_EUROPE);
  });
});
