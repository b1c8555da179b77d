/**
 * Value types shared by several EAS classes. Names are plain TypeScript; the EAS element each field maps to is
 * named in its doc comment where the two differ.
 */

/** One mailbox address: `"Ada Lovelace" <ada@example.com>` is `{ name: 'Ada Lovelace', address: 'ada@example.com' }`. */
export interface EmailAddress {
  name?: string;
  address: string;
}

/** `Importance` in Email and Tasks: 0 low, 1 normal, 2 high. */
export type Importance = 0 | 1 | 2;

/** `Sensitivity` in Calendar, Tasks and meeting requests: 0 normal, 1 personal, 2 private, 3 confidential. */
export type Sensitivity = 0 | 1 | 2 | 3;

/** `BusyStatus`: 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere (16.0+). */
export type BusyStatus = 0 | 1 | 2 | 3 | 4;

/**
 * The body of a Calendar, Contacts, Tasks or Notes item as the store keeps it (`airsyncbase:Body` sent by a
 * client). Email bodies are never stored this way: they are derived from the raw MIME.
 * `rtf` holds compressed RTF, base64-encoded, exactly as EAS carries it.
 */
export interface StoredBody {
  type: 'plain' | 'html' | 'rtf';
  data: string;
}

/**
 * A Win32 `SYSTEMTIME` as it appears inside the EAS time-zone blob. For the standard/daylight transition dates,
 * `year` 0 means "every year" and `day` is then the week of the month (1-5, 5 = last) of the given `dayOfWeek`
 * (0 Sunday ... 6 Saturday).
 */
export interface SystemTime {
  year: number;
  month: number;
  dayOfWeek: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  milliseconds: number;
}

/**
 * The EAS `TimeZone` / `Timezone` value (MS-ASDTYPE 2.7): a base64-encoded `TIME_ZONE_INFORMATION` structure,
 * kept here field by field. Biases are minutes, with UTC = local time + bias (so UTC+1 has bias -60).
 */
export interface TimeZone {
  bias: number;
  standardName: string;
  standardDate: SystemTime;
  standardBias: number;
  daylightName: string;
  daylightDate: SystemTime;
  daylightBias: number;
}

/**
 * `Recurrence/Type`: 0 daily, 1 weekly, 2 monthly on a day of the month, 3 monthly on the nth weekday,
 * 5 yearly on a day of a month, 6 yearly on the nth weekday of a month. (4 is not used by EAS.)
 */
export type RecurrenceType = 0 | 1 | 2 | 3 | 5 | 6;

/** `DayOfWeek` bits: combine with `|`. */
export const DayOfWeekMask = {
  Sunday: 1,
  Monday: 2,
  Tuesday: 4,
  Wednesday: 8,
  Thursday: 16,
  Friday: 32,
  Saturday: 64,
  /** The last day of the month, for monthly-nth and yearly-nth rules. */
  LastDayOfMonth: 127,
} as const;

/** A recurrence rule as Calendar items and meeting requests carry it. */
export interface Recurrence {
  type: RecurrenceType;
  /** Every `interval` days/weeks/months/years; 1 when absent. */
  interval?: number;
  /** Number of occurrences; mutually exclusive with `until`. */
  occurrences?: number;
  /** Last possible occurrence (UTC). */
  until?: Date;
  /** Bitmask of {@link DayOfWeekMask} values. */
  dayOfWeek?: number;
  /** 1-31. */
  dayOfMonth?: number;
  /** 1-5; 5 means the last week of the month. */
  weekOfMonth?: number;
  /** 1-12. */
  monthOfYear?: number;
  /** `CalendarType` (14.0+): 0 default, 1 Gregorian, ... 15 Chinese lunar etc., as MS-ASCAL lists them. */
  calendarType?: number;
  /** `IsLeapMonth` (14.0+), for lunar calendars. */
  isLeapMonth?: boolean;
  /** `FirstDayOfWeek` (14.1+): 0 Sunday ... 6 Saturday. */
  firstDayOfWeek?: number;
}

/** The structured 16.x location (`airsyncbase:Location`). Older versions carry only `displayName` as a string. */
export interface Location {
  displayName?: string;
  annotation?: string;
  street?: string;
  city?: string;
  state?: string;
  country?: string;
  postalCode?: string;
  latitude?: number;
  longitude?: number;
  accuracy?: number;
  altitude?: number;
  altitudeAccuracy?: number;
  locationUri?: string;
}

/**
 * Which device created an item with a Sync Add, and the ClientId it used. The Sync command reads it back when a
 * device repeats a request whose answer it never got (the server may have crashed after writing the item but
 * before recording the ClientId mapping), so the retried Add maps to the item instead of adding it again.
 */
export interface ClientOrigin {
  deviceId: string;
  clientId: string;
}
