import { MalformedItemError } from './types.js';

/*
 * EAS carries instants in two spellings (MS-ASDTYPE 2.3): the compact basic form `20260105T090000Z`, which the
 * Calendar class uses for StartTime, EndTime, DtStamp, ExceptionStartTime, Until and AppointmentReplyTime
 * (MS-ASCAL 2.2.2), and the extended form with milliseconds `2026-01-05T09:00:00.000Z` used everywhere else
 * (Email, Tasks, Contacts, Notes, flags). Clients are picky about which one they get, so output is exact; input
 * is read leniently because clients are not consistent either.
 */

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** `20260105T090000Z` (seconds precision, UTC). */
export function formatCompactDate(date: Date): string {
  assertValid(date);
  return (
    `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}` +
    `T${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}Z`
  );
}

/** `2026-01-05T09:00:00.000Z` (milliseconds, UTC). */
export function formatIsoDate(date: Date): string {
  assertValid(date);
  return date.toISOString();
}

const COMPACT = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?Z?$/;
const EXTENDED =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/;
const DATE_ONLY_COMPACT = /^(\d{4})(\d{2})(\d{2})$/;

/**
 * Reads either EAS date form, and the near misses clients send: no milliseconds, no `Z` (taken as UTC), a date
 * without time (midnight UTC), more fractional digits, an explicit offset. Throws `MalformedItemError` for
 * anything else, including impossible dates such as February 30.
 */
export function parseEasDate(text: string): Date {
  const value = text.trim();
  let parts: number[] | undefined;
  let offsetMinutes = 0;
  const compact = COMPACT.exec(value);
  if (compact) {
    parts = [1, 2, 3, 4, 5, 6].map((i) => Number(compact[i]));
    parts.push(Number((compact[7] ?? '0').padEnd(3, '0')));
  } else {
    const extended = EXTENDED.exec(value);
    if (extended) {
      parts = [1, 2, 3, 4, 5, 6].map((i) => Number(extended[i] ?? 0));
      parts.push(Number((extended[7] ?? '0').slice(0, 3).padEnd(3, '0')));
      const zone = extended[8];
      if (zone && zone !== 'Z') {
        const digits = zone.replace(':', '');
        const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
        offsetMinutes = digits.startsWith('-') ? -minutes : minutes;
      }
    } else {
      const dateOnly = DATE_ONLY_COMPACT.exec(value);
      if (dateOnly) parts = [1, 2, 3].map((i) => Number(dateOnly[i])).concat([0, 0, 0, 0]);
    }
  }
  if (!parts) throw new MalformedItemError(`not an EAS date: ${JSON.stringify(text)}`);
  const [year, month, day, hour, minute, second, ms] = parts as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second, ms));
  // Date.UTC maps years 0-99 to 1900-1999; some clients send year-less birthdays as year 1 or 1604.
  if (year < 100) date.setUTCFullYear(year);
  if (
    Number.isNaN(date.getTime()) ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 60
  ) {
    throw new MalformedItemError(`not a valid date: ${JSON.stringify(text)}`);
  }
  return new Date(date.getTime() - offsetMinutes * 60_000);
}

function assertValid(date: Date): void {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new RangeError('invalid Date');
}
