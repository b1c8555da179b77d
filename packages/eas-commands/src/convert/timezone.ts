import type { SystemTime, TimeZone } from '@easkit/mailbox';
import { MalformedItemError } from './types.js';

/*
 * The EAS time-zone value (MS-ASDTYPE 2.7.4) is a Win32 TIME_ZONE_INFORMATION structure, little endian,
 * base64-encoded: Bias int32 | StandardName WCHAR[32] | StandardDate SYSTEMTIME | StandardBias int32 |
 * DaylightName WCHAR[32] | DaylightDate SYSTEMTIME | DaylightBias int32 = 4 + 64 + 16 + 4 + 64 + 16 + 4 bytes.
 */

/** Size in bytes of the decoded blob. */
export const TIME_ZONE_BLOB_SIZE = 172;

const NAME_BYTES = 64;
const SYSTEMTIME_BYTES = 16;

const ZERO_SYSTEMTIME: SystemTime = {
  year: 0,
  month: 0,
  dayOfWeek: 0,
  day: 0,
  hour: 0,
  minute: 0,
  second: 0,
  milliseconds: 0,
};

/** UTC without daylight saving: what an event without a zone is rendered with for clients that need one. */
export const UTC_TIME_ZONE: TimeZone = Object.freeze({
  bias: 0,
  standardName: '',
  standardDate: ZERO_SYSTEMTIME,
  standardBias: 0,
  daylightName: '',
  daylightDate: ZERO_SYSTEMTIME,
  daylightBias: 0,
});

/** The 172-byte structure for a zone. Names longer than 31 UTF-16 units are cut (the field keeps a NUL). */
export function timeZoneToBytes(zone: TimeZone): Uint8Array {
  const bytes = new Uint8Array(TIME_ZONE_BLOB_SIZE);
  const view = new DataView(bytes.buffer);
  let offset = 0;
  view.setInt32(offset, zone.bias, true);
  offset += 4;
  writeName(view, offset, zone.standardName);
  offset += NAME_BYTES;
  writeSystemTime(view, offset, zone.standardDate);
  offset += SYSTEMTIME_BYTES;
  view.setInt32(offset, zone.standardBias, true);
  offset += 4;
  writeName(view, offset, zone.daylightName);
  offset += NAME_BYTES;
  writeSystemTime(view, offset, zone.daylightDate);
  offset += SYSTEMTIME_BYTES;
  view.setInt32(offset, zone.daylightBias, true);
  return bytes;
}

/** Reads the structure; throws `MalformedItemError` when it is shorter than 172 bytes. Extra bytes are ignored. */
export function timeZoneFromBytes(bytes: Uint8Array): TimeZone {
  if (bytes.byteLength < TIME_ZONE_BLOB_SIZE) {
    throw new MalformedItemError(
      `time zone blob has ${bytes.byteLength} bytes, expected ${TIME_ZONE_BLOB_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, TIME_ZONE_BLOB_SIZE);
  return {
    bias: view.getInt32(0, true),
    standardName: readName(view, 4),
    standardDate: readSystemTime(view, 68),
    standardBias: view.getInt32(84, true),
    daylightName: readName(view, 88),
    daylightDate: readSystemTime(view, 152),
    daylightBias: view.getInt32(168, true),
  };
}

/** The base64 text EAS sends in `calendar:Timezone` and `email:TimeZone`. */
export function encodeTimeZone(zone: TimeZone): string {
  return Buffer.from(timeZoneToBytes(zone)).toString('base64');
}

/** Reads `calendar:Timezone` / `email:TimeZone` text. Throws `MalformedItemError` for bad base64 or size. */
export function decodeTimeZone(text: string): TimeZone {
  const compact = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new MalformedItemError('time zone is not base64');
  return timeZoneFromBytes(new Uint8Array(Buffer.from(compact, 'base64')));
}

function writeName(view: DataView, offset: number, name: string): void {
  const units = Math.min(name.length, NAME_BYTES / 2 - 1);
  for (let i = 0; i < units; i++) view.setUint16(offset + i * 2, name.charCodeAt(i), true);
}

function readName(view: DataView, offset: number): string {
  let name = '';
  for (let i = 0; i < NAME_BYTES / 2; i++) {
    const unit = view.getUint16(offset + i * 2, true);
    if (unit === 0) break;
    name += String.fromCharCode(unit);
  }
  return name;
}

// SYSTEMTIME: wYear, wMonth, wDayOfWeek, wDay, wHour, wMinute, wSecond, wMilliseconds (all uint16).
function writeSystemTime(view: DataView, offset: number, time: SystemTime): void {
  const fields = [
    time.year,
    time.month,
    time.dayOfWeek,
    time.day,
    time.hour,
    time.minute,
    time.second,
    time.milliseconds,
  ];
  fields.forEach((value, i) => {
    view.setUint16(offset + i * 2, value, true);
  });
}

function readSystemTime(view: DataView, offset: number): SystemTime {
  const at = (i: number) => view.getUint16(offset + i * 2, true);
  return {
    year: at(0),
    month: at(1),
    dayOfWeek: at(2),
    day: at(3),
    hour: at(4),
    minute: at(5),
    second: at(6),
    milliseconds: at(7),
  };
}
