import type { SystemTime, TimeZone } from '@easkit/mailbox';
import ICAL from 'ical.js';

/*
 * Time handling between iCalendar and EAS: iCalendar times (with TZID resolved against the VTIMEZONEs of the
 * same calendar by ical.js) become UTC instants, a VTIMEZONE becomes the EAS TIME_ZONE_INFORMATION rule
 * (MS-ASDTYPE 2.7.4), and an EAS zone becomes an ical.js Timezone again so that a stored series can be
 * expanded in its own wall-clock time.
 */

type IcalTime = InstanceType<typeof ICAL.Time>;
type IcalComponent = InstanceType<typeof ICAL.Component>;
type IcalTimezone = InstanceType<typeof ICAL.Timezone>;

/** The instant of an iCalendar time. Dates (all-day) are midnight UTC; floating times are read as UTC. */
export function icalTimeToDate(time: IcalTime): Date {
  if (time.isDate) return new Date(Date.UTC(time.year, time.month - 1, time.day));
  const zone = time.zone;
  if (!zone || zone === ICAL.Timezone.localTimezone || zone.tzid === 'floating') {
    const named = (time as unknown as { timezone?: string }).timezone;
    const wall = Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second);
    return new Date(named ? wall - ianaOffsetMinutes(named, wall) * 60_000 : wall);
  }
  const date = time.toJSDate();
  if (Number.isNaN(date.getTime())) throw new RangeError('time out of range');
  return date;
}

/**
 * The offset (minutes east of UTC) of an IANA zone named by a TZID that the calendar did not define, at about
 * the wall-clock instant `wall`; 0 for names Intl does not know (Windows names without a VTIMEZONE, typos).
 */
function ianaOffsetMinutes(zone: string, wall: number): number {
  let format: Intl.DateTimeFormat;
  try {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone.replace(/^\//, ''),
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  } catch {
    return 0;
  }
  const offsetAt = (instant: number) => {
    const parts = Object.fromEntries(format.formatToParts(instant).map((part) => [part.type, part.value]));
    const local = Date.UTC(
      +parts.year!,
      +parts.month! - 1,
      +parts.day!,
      +parts.hour!,
      +parts.minute!,
      +parts.second!,
    );
    return Math.round((local - instant) / 60_000);
  };
  const first = offsetAt(wall);
  return offsetAt(wall - first * 60_000);
}

const ZERO: SystemTime = {
  year: 0,
  month: 0,
  dayOfWeek: 0,
  day: 0,
  hour: 0,
  minute: 0,
  second: 0,
  milliseconds: 0,
};

const WEEKDAYS = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

/** Offset of a `TZOFFSETTO`/`TZOFFSETFROM` value in minutes east of UTC. */
function offsetMinutes(component: IcalComponent, name: string): number | undefined {
  const value = component.getFirstPropertyValue(name) as { toSeconds?: () => number } | null;
  if (!value || typeof value.toSeconds !== 'function') return undefined;
  return Math.round(value.toSeconds() / 60);
}

/** The transition of a STANDARD or DAYLIGHT observance as an EAS "nth weekday of month" rule. */
function transitionRule(observance: IcalComponent): SystemTime | undefined {
  const start = observance.getFirstPropertyValue('dtstart') as IcalTime | null;
  const rule = observance.getFirstPropertyValue('rrule') as InstanceType<typeof ICAL.Recur> | null;
  if (!start || !rule || rule.freq !== 'YEARLY') return undefined;
  const month = Number(rule.parts.BYMONTH?.[0] ?? start.month);
  const byDay = String(rule.parts.BYDAY?.[0] ?? '');
  const match = /^([+-]?\d)?(SU|MO|TU|WE|TH|FR|SA)$/.exec(byDay);
  if (!match || !(month >= 1 && month <= 12)) return undefined;
  let week = match[1] ? Number(match[1]) : Number(rule.parts.BYSETPOS?.[0] ?? 1);
  if (week < 0) week = 5;
  if (!(week >= 1 && week <= 5)) return undefined;
  return {
    ...ZERO,
    month,
    dayOfWeek: WEEKDAYS.indexOf(match[2]!),
    day: week,
    hour: start.hour,
    minute: start.minute,
    second: start.second,
  };
}

/** The observance of this kind in effect last (greatest DTSTART), which is the rule for current years. */
function latest(zone: IcalComponent, kind: 'standard' | 'daylight'): IcalComponent | undefined {
  let best: IcalComponent | undefined;
  let bestStart = Number.NEGATIVE_INFINITY;
  for (const observance of zone.getAllSubcomponents(kind)) {
    const start = observance.getFirstPropertyValue('dtstart') as IcalTime | null;
    const key = start ? Date.UTC(start.year, start.month - 1, start.day) : Number.NEGATIVE_INFINITY;
    if (!best || key >= bestStart) {
      best = observance;
      bestStart = key;
    }
  }
  return best;
}

/**
 * The EAS form of a VTIMEZONE: the bias of its standard time, and the yearly transition rules when both a
 * STANDARD and a DAYLIGHT observance with an "nth weekday" RRULE exist. Zones EAS cannot express (transitions
 * on fixed dates, one-off changes) keep their standard offset without daylight saving.
 */
export function vtimezoneToEas(zone: IcalComponent): TimeZone {
  const tzid = String(zone.getFirstPropertyValue('tzid') ?? '').slice(0, 31);
  const standard = latest(zone, 'standard');
  const daylight = latest(zone, 'daylight');
  const standardOffset =
    (standard && offsetMinutes(standard, 'tzoffsetto')) ??
    (daylight && offsetMinutes(daylight, 'tzoffsetfrom')) ??
    0;
  const name = (observance: IcalComponent | undefined) =>
    String(observance?.getFirstPropertyValue('tzname') ?? tzid).slice(0, 31);
  const result: TimeZone = {
    bias: -standardOffset,
    standardName: name(standard),
    standardDate: ZERO,
    standardBias: 0,
    daylightName: name(daylight ?? standard),
    daylightDate: ZERO,
    daylightBias: 0,
  };
  if (!standard || !daylight) return result;
  const daylightOffset = offsetMinutes(daylight, 'tzoffsetto');
  const standardRule = transitionRule(standard);
  const daylightRule = transitionRule(daylight);
  if (daylightOffset === undefined || !standardRule || !daylightRule) return result;
  return {
    ...result,
    standardDate: standardRule,
    daylightDate: daylightRule,
    daylightBias: -(daylightOffset - standardOffset),
  };
}

function formatOffset(minutesEast: number): string {
  const sign = minutesEast < 0 ? '-' : '+';
  const value = Math.abs(minutesEast);
  return `${sign}${String(Math.floor(value / 60)).padStart(2, '0')}${String(value % 60).padStart(2, '0')}`;
}

function observanceText(kind: 'STANDARD' | 'DAYLIGHT', rule: SystemTime, from: number, to: number): string[] {
  const week = rule.day >= 5 ? -1 : rule.day;
  const time = `${String(rule.hour).padStart(2, '0')}${String(rule.minute).padStart(2, '0')}00`;
  return [
    `BEGIN:${kind}`,
    `DTSTART:16010101T${time}`,
    `TZOFFSETFROM:${formatOffset(from)}`,
    `TZOFFSETTO:${formatOffset(to)}`,
    `RRULE:FREQ=YEARLY;BYMONTH=${rule.month};BYDAY=${week}${WEEKDAYS[rule.dayOfWeek] ?? 'SU'}`,
    `END:${kind}`,
  ];
}

/** A VTIMEZONE component equivalent to an EAS zone (yearly nth-weekday transitions, or a fixed offset). */
export function easToVtimezone(zone: TimeZone, tzid = 'easkit'): IcalComponent {
  const standard = -zone.bias;
  const daylight = standard - zone.daylightBias;
  const lines = ['BEGIN:VTIMEZONE', `TZID:${tzid}`];
  if (zone.standardDate.month >= 1 && zone.daylightDate.month >= 1 && zone.daylightBias !== 0) {
    lines.push(...observanceText('STANDARD', zone.standardDate, daylight, standard));
    lines.push(...observanceText('DAYLIGHT', zone.daylightDate, standard, daylight));
  } else {
    lines.push(
      'BEGIN:STANDARD',
      'DTSTART:16010101T000000',
      `TZOFFSETFROM:${formatOffset(standard)}`,
      `TZOFFSETTO:${formatOffset(standard)}`,
      'END:STANDARD',
    );
  }
  lines.push('END:VTIMEZONE');
  return new ICAL.Component(ICAL.parse(lines.join('\r\n')) as unknown[]);
}

/** An ical.js Timezone for an EAS zone, for expanding series in wall-clock time. */
export function easTimezone(zone: TimeZone | undefined): IcalTimezone {
  if (!zone) return ICAL.Timezone.utcTimezone;
  return new ICAL.Timezone(easToVtimezone(zone));
}

/** The wall-clock time of `instant` in `zone`, as an ical.js Time bound to that zone. */
export function dateToIcalTime(instant: Date, zone: IcalTimezone): IcalTime {
  const utc = ICAL.Time.fromJSDate(instant, true);
  return zone === ICAL.Timezone.utcTimezone ? utc : utc.convertToZone(zone);
}
