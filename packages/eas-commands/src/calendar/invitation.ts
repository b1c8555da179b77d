import type {
  Attendee,
  AttendeeStatus,
  AttendeeType,
  BusyStatus,
  CalendarData,
  CalendarException,
  EmailAddress,
  MeetingRequest,
  Recurrence,
  Sensitivity,
  TimeZone,
} from '@easkit/mailbox';
import ICAL from 'ical.js';
import { UTC_TIME_ZONE } from '../convert/timezone.js';
import { dateToIcalTime, easTimezone, icalTimeToDate, vtimezoneToEas } from './ical-time.js';

/*
 * iTIP (RFC 5546) messages as easkit sees them: a REQUEST or CANCEL from an organizer, a REPLY or COUNTER from
 * an attendee. Parsing and building go through ical.js; this module maps between them and the mailbox models
 * (the Calendar item of MS-ASCAL and the MeetingRequest of MS-ASEMAIL).
 */

type IcalComponent = InstanceType<typeof ICAL.Component>;
type IcalTime = InstanceType<typeof ICAL.Time>;
type IcalRecur = InstanceType<typeof ICAL.Recur>;

/** The iCalendar could not be read, or is not an iTIP message easkit can act on. */
export class InvalidInvitationError extends Error {
  override readonly name = 'InvalidInvitationError';
}

/** Bounds on what one invitation may hold. */
export const INVITATION_LIMITS = {
  /** Characters of iCalendar text. */
  maxTextLength: 1024 * 1024,
  /** VEVENTs (the series and its overridden instances). */
  maxEvents: 500,
  /** Attendees kept per event. */
  maxAttendees: 1000,
  /** EXDATEs kept per series. */
  maxExceptionDates: 2000,
  /** EAS `Occurrences` is capped here (Exchange's own limit for a series). */
  maxOccurrences: 999,
  /** Occurrences looked at when checking whether a series has an occurrence at some instant. */
  maxExpansion: 5000,
} as const;

export type ParticipationStatus = 'ACCEPTED' | 'TENTATIVE' | 'DECLINED' | 'NEEDS-ACTION' | 'DELEGATED';

export interface InvitationAttendee {
  readonly email: string;
  readonly name?: string;
  readonly partstat?: string;
  readonly role?: string;
  readonly cutype?: string;
  readonly rsvp?: boolean;
}

/** One VEVENT of an iTIP message: the series (no `recurrenceId`) or one occurrence of it. */
export interface InvitationEvent {
  readonly uid: string;
  /** Original start (UTC) of the occurrence this VEVENT overrides. */
  readonly recurrenceId?: Date;
  readonly sequence: number;
  readonly dtStamp?: Date;
  readonly start: Date;
  readonly end: Date;
  readonly allDay: boolean;
  readonly summary?: string;
  readonly location?: string;
  readonly description?: string;
  readonly comment?: string;
  readonly organizer?: EmailAddress;
  readonly attendees: readonly InvitationAttendee[];
  /** The series rule in EAS form; absent when there is none or EAS cannot express it. */
  readonly recurrence?: Recurrence;
  /** Removed occurrences (EXDATE), original starts in UTC. */
  readonly exceptionDates: readonly Date[];
  /** `STATUS` (CONFIRMED, TENTATIVE, CANCELLED). */
  readonly status?: string;
  readonly busyStatus: BusyStatus;
  readonly sensitivity?: Sensitivity;
  /** Minutes before the start, from the first display/audio alarm. */
  readonly reminder?: number;
  readonly disallowNewTimeProposal?: boolean;
  /** The zone of DTSTART in EAS form (absent for UTC, floating and all-day times). */
  readonly timeZone?: TimeZone;
}

export interface Invitation {
  /** iTIP method (REQUEST, CANCEL, REPLY, COUNTER, ...), upper case. */
  readonly method: string;
  readonly uid: string;
  /** The series or single event, when the message carries it. */
  readonly master?: InvitationEvent;
  /** Overridden occurrences, each with `recurrenceId`. */
  readonly instances: readonly InvitationEvent[];
}

/**
 * Reads an iTIP message. `fallbackMethod` is the Content-Type's `method` parameter, used when the calendar has
 * no METHOD. Only the VEVENTs of the first UID are read (iTIP allows one per message).
 * @throws InvalidInvitationError for unreadable or empty calendars.
 */
export function parseInvitation(text: string, fallbackMethod?: string): Invitation {
  if (text.length > INVITATION_LIMITS.maxTextLength) throw new InvalidInvitationError('calendar too large');
  let root: IcalComponent;
  try {
    const parsed = ICAL.parse(text) as unknown;
    const first = Array.isArray(parsed) && Array.isArray(parsed[0]) ? parsed[0] : parsed;
    root = new ICAL.Component(first as unknown[]);
  } catch (error) {
    throw new InvalidInvitationError(`unreadable iCalendar: ${(error as Error).message}`);
  }
  if (root.name !== 'vcalendar') throw new InvalidInvitationError('not a VCALENDAR');
  const method = String(root.getFirstPropertyValue('method') ?? fallbackMethod ?? 'PUBLISH').toUpperCase();
  const events = root.getAllSubcomponents('vevent');
  if (events.length === 0) throw new InvalidInvitationError('no VEVENT');
  if (events.length > INVITATION_LIMITS.maxEvents) throw new InvalidInvitationError('too many VEVENTs');
  const uid = String(events[0]!.getFirstPropertyValue('uid') ?? '').trim();
  if (!uid || uid.length > 2048) throw new InvalidInvitationError('VEVENT without a usable UID');
  let master: InvitationEvent | undefined;
  const instances: InvitationEvent[] = [];
  for (const component of events) {
    if (String(component.getFirstPropertyValue('uid') ?? '').trim() !== uid) continue;
    const event = readEvent(component, uid, method);
    if (event.recurrenceId) instances.push(event);
    else master ??= event;
  }
  return { method, uid, ...(master ? { master } : {}), instances };
}

function readEvent(component: IcalComponent, uid: string, method: string): InvitationEvent {
  try {
    return readEventUnchecked(component, uid, method);
  } catch (error) {
    if (error instanceof InvalidInvitationError) throw error;
    throw new InvalidInvitationError(`unreadable VEVENT: ${(error as Error).message}`);
  }
}

function text(component: IcalComponent, name: string): string | undefined {
  const value = component.getFirstPropertyValue(name);
  if (value === null || value === undefined) return undefined;
  const string = String(value);
  return string === '' ? undefined : string;
}

function address(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const stripped = value.replace(/^mailto:/i, '').trim();
  return /^[^\s@<>]+@[^\s@<>]+$/.test(stripped) ? stripped : undefined;
}

function readEventUnchecked(component: IcalComponent, uid: string, method: string): InvitationEvent {
  const startValue = component.getFirstPropertyValue('dtstart') as IcalTime | null;
  if (!startValue || typeof startValue !== 'object' || !('isDate' in startValue)) {
    // A CANCEL or REPLY may leave DTSTART out; they are identified by UID and RECURRENCE-ID alone.
    if (method === 'REQUEST') throw new InvalidInvitationError('REQUEST VEVENT without DTSTART');
  }
  const start = startValue && 'isDate' in startValue ? icalTimeToDate(startValue) : new Date(0);
  const allDay = Boolean(startValue && 'isDate' in startValue && startValue.isDate);
  let end: Date;
  const endValue = component.getFirstPropertyValue('dtend') as IcalTime | null;
  const duration = component.getFirstPropertyValue('duration') as InstanceType<typeof ICAL.Duration> | null;
  if (endValue && typeof endValue === 'object' && 'isDate' in endValue) end = icalTimeToDate(endValue);
  else if (duration && typeof duration === 'object' && 'toSeconds' in duration)
    end = new Date(start.getTime() + duration.toSeconds() * 1000);
  else end = new Date(start.getTime() + (allDay ? 86_400_000 : 0));
  if (end.getTime() < start.getTime()) end = start;
  checkDate(start);
  checkDate(end);

  const recurrenceIdValue = component.getFirstPropertyValue('recurrence-id') as IcalTime | null;
  const recurrenceId =
    recurrenceIdValue && typeof recurrenceIdValue === 'object' && 'isDate' in recurrenceIdValue
      ? checkDate(icalTimeToDate(recurrenceIdValue))
      : undefined;
  const stampValue = component.getFirstPropertyValue('dtstamp') as IcalTime | null;
  const dtStamp =
    stampValue && typeof stampValue === 'object' && 'isDate' in stampValue
      ? icalTimeToDate(stampValue)
      : undefined;
  const sequence = Number(component.getFirstPropertyValue('sequence') ?? 0);

  const organizerProperty = component.getFirstProperty('organizer');
  const organizerEmail = address(organizerProperty?.getFirstValue());
  const organizerName = organizerProperty?.getFirstParameter('cn');
  const organizer: EmailAddress | undefined = organizerEmail
    ? { address: organizerEmail, ...(organizerName ? { name: String(organizerName) } : {}) }
    : undefined;

  const attendees: InvitationAttendee[] = [];
  for (const property of component.getAllProperties('attendee')) {
    if (attendees.length >= INVITATION_LIMITS.maxAttendees) break;
    const email = address(property.getFirstValue());
    if (!email) continue;
    const parameter = (name: string) => {
      const value = property.getFirstParameter(name);
      return value === undefined || value === null ? undefined : String(value);
    };
    const name = parameter('cn');
    const partstat = parameter('partstat')?.toUpperCase();
    const role = parameter('role')?.toUpperCase();
    const cutype = parameter('cutype')?.toUpperCase();
    const rsvp = parameter('rsvp');
    attendees.push({
      email,
      ...(name ? { name } : {}),
      ...(partstat ? { partstat } : {}),
      ...(role ? { role } : {}),
      ...(cutype ? { cutype } : {}),
      ...(rsvp ? { rsvp: rsvp.toUpperCase() === 'TRUE' } : {}),
    });
  }

  let zone: TimeZone | undefined;
  const tzid = component.getFirstProperty('dtstart')?.getFirstParameter('tzid');
  if (tzid && startValue && !allDay) {
    const root = component.parent;
    const vtimezone = root
      ?.getAllSubcomponents('vtimezone')
      .find((candidate) => String(candidate.getFirstPropertyValue('tzid')) === String(tzid));
    if (vtimezone) zone = vtimezoneToEas(vtimezone);
  }

  const rule = component.getFirstPropertyValue('rrule') as IcalRecur | null;
  const recurrence =
    rule && typeof rule === 'object' && 'freq' in rule && startValue && 'isDate' in startValue
      ? rruleToRecurrence(rule, startValue)
      : undefined;

  const exceptionDates: Date[] = [];
  for (const property of component.getAllProperties('exdate')) {
    for (const value of property.getValues() as IcalTime[]) {
      if (exceptionDates.length >= INVITATION_LIMITS.maxExceptionDates) break;
      if (value && typeof value === 'object' && 'isDate' in value) {
        // An all-day EXDATE of a timed series names the day: the occurrence starts at the series' time of day.
        const date = icalTimeToDate(value);
        exceptionDates.push(
          value.isDate && !allDay ? new Date(date.getTime() + (start.getTime() % 86_400_000)) : date,
        );
      }
    }
  }

  const intended = text(component, 'x-microsoft-cdo-intendedstatus')?.toUpperCase();
  const transparent = text(component, 'transp')?.toUpperCase() === 'TRANSPARENT';
  const busyStatus: BusyStatus =
    intended === 'FREE'
      ? 0
      : intended === 'TENTATIVE'
        ? 1
        : intended === 'OOF'
          ? 3
          : intended === 'WORKINGELSEWHERE'
            ? 4
            : intended === 'BUSY'
              ? 2
              : transparent
                ? 0
                : 2;
  const classification = text(component, 'class')?.toUpperCase();
  const sensitivity: Sensitivity | undefined =
    classification === 'PRIVATE' ? 2 : classification === 'CONFIDENTIAL' ? 3 : classification ? 0 : undefined;

  let reminder: number | undefined;
  for (const alarm of component.getAllSubcomponents('valarm')) {
    const trigger = alarm.getFirstPropertyValue('trigger') as { toSeconds?: () => number } | null;
    if (trigger && typeof trigger.toSeconds === 'function') {
      const seconds = trigger.toSeconds();
      if (seconds <= 0 && seconds > -366 * 86_400) {
        reminder = Math.round(-seconds / 60);
        break;
      }
    }
  }
  const disallow = text(component, 'x-microsoft-disallow-counter')?.toUpperCase() === 'TRUE';
  const summary = text(component, 'summary');
  const location = text(component, 'location');
  const description = text(component, 'description');
  const comment = text(component, 'comment');
  const status = text(component, 'status')?.toUpperCase();
  return {
    uid,
    ...(recurrenceId ? { recurrenceId } : {}),
    sequence: Number.isSafeInteger(sequence) && sequence >= 0 ? sequence : 0,
    ...(dtStamp && !Number.isNaN(dtStamp.getTime()) ? { dtStamp } : {}),
    start,
    end,
    allDay,
    ...(summary ? { summary } : {}),
    ...(location ? { location } : {}),
    ...(description ? { description } : {}),
    ...(comment ? { comment } : {}),
    ...(organizer ? { organizer } : {}),
    attendees,
    ...(recurrence ? { recurrence } : {}),
    exceptionDates,
    ...(status ? { status } : {}),
    busyStatus,
    ...(sensitivity !== undefined ? { sensitivity } : {}),
    ...(reminder !== undefined ? { reminder } : {}),
    ...(disallow ? { disallowNewTimeProposal: true } : {}),
    ...(zone ? { timeZone: zone } : {}),
  };
}

function checkDate(date: Date): Date {
  const time = date.getTime();
  // EAS dates are four-digit years; anything else is a hostile or broken calendar.
  if (Number.isNaN(time) || time < Date.UTC(1601, 0, 1) || time > Date.UTC(9999, 0, 1)) {
    throw new InvalidInvitationError('date out of range');
  }
  return date;
}

// --- Recurrence ------------------------------------------------------------------------------------------

const DAY_BITS: Record<string, number> = { SU: 1, MO: 2, TU: 4, WE: 8, TH: 16, FR: 32, SA: 64 };
const DAY_NAMES = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'];

/**
 * An RRULE in EAS form (MS-ASCAL 2.2.2.38): DAILY, WEEKLY, MONTHLY and YEARLY rules with the BYDAY /
 * BYMONTHDAY / BYMONTH / BYSETPOS shapes Outlook and the common clients produce. Anything EAS has no form for
 * (HOURLY and finer, several month days, BYWEEKNO, ...) gives undefined and the event is kept as its first
 * occurrence. COUNT is capped at {@link INVITATION_LIMITS.maxOccurrences}.
 */
export function rruleToRecurrence(rule: IcalRecur, start: IcalTime): Recurrence | undefined {
  const parts = rule.parts as Record<string, (string | number)[] | undefined>;
  for (const unsupported of ['BYSECOND', 'BYMINUTE', 'BYHOUR', 'BYWEEKNO', 'BYYEARDAY']) {
    if (parts[unsupported]?.length) return undefined;
  }
  const interval = Number(rule.interval ?? 1);
  if (!Number.isSafeInteger(interval) || interval < 1 || interval > 999) return undefined;
  const byDay = (parts.BYDAY ?? []).map(String);
  const parsedDays = byDay.map((entry) =>
    /^([+-]?\d{1,2})?(SU|MO|TU|WE|TH|FR|SA)$/.exec(entry.toUpperCase()),
  );
  if (parsedDays.some((match) => !match)) return undefined;
  const mask = parsedDays.reduce((bits, match) => bits | DAY_BITS[match![2]!]!, 0);
  const positions = new Set(parsedDays.map((match) => (match![1] ? Number(match![1]) : 0)));
  const setPos = (parts.BYSETPOS ?? []).map(Number);
  const monthDays = (parts.BYMONTHDAY ?? []).map(Number);
  const months = (parts.BYMONTH ?? []).map(Number);
  const startWeekday = DAY_NAMES[start.dayOfWeek() - 1]!;

  let recurrence: Recurrence;
  const nth = (): number | undefined => {
    const position = positions.size === 1 ? [...positions][0]! : 0;
    const week = position !== 0 ? position : setPos.length === 1 ? setPos[0]! : 0;
    if (week === -1) return 5;
    return week >= 1 && week <= 4 ? week : undefined;
  };
  switch (rule.freq) {
    case 'DAILY':
      if (byDay.length) {
        if (interval !== 1 || positions.has(0) === false) return undefined;
        recurrence = { type: 1, interval: 1, dayOfWeek: mask };
      } else recurrence = { type: 0, interval };
      break;
    case 'WEEKLY':
      if ([...positions].some((position) => position !== 0)) return undefined;
      recurrence = { type: 1, interval, dayOfWeek: mask || DAY_BITS[startWeekday]! };
      break;
    case 'MONTHLY':
    case 'YEARLY': {
      const yearly = rule.freq === 'YEARLY';
      const monthOfYear = months.length === 1 ? months[0]! : start.month;
      if (months.length > 1) return undefined;
      if (byDay.length) {
        const week = nth();
        if (week === undefined) return undefined;
        recurrence = { type: yearly ? 6 : 3, interval, dayOfWeek: mask, weekOfMonth: week };
      } else if (monthDays.length <= 1) {
        const day = monthDays[0] ?? start.day;
        if (day === -1) {
          // The last day of the month: EAS says it as "the last (5th) day-of-month".
          recurrence = { type: yearly ? 6 : 3, interval, dayOfWeek: 127, weekOfMonth: 5 };
        } else if (day >= 1 && day <= 31) {
          recurrence = { type: yearly ? 5 : 2, interval, dayOfMonth: day };
        } else return undefined;
      } else return undefined;
      if (yearly) recurrence.monthOfYear = monthOfYear;
      break;
    }
    default:
      return undefined;
  }
  if (rule.count) recurrence.occurrences = Math.min(Number(rule.count), INVITATION_LIMITS.maxOccurrences);
  else if (rule.until) recurrence.until = icalTimeToDate(rule.until);
  if (rule.wkst !== undefined && rule.freq === 'WEEKLY' && rule.wkst !== 2) {
    recurrence.firstDayOfWeek = Number(rule.wkst) - 1;
  }
  return recurrence;
}

/** The RRULE of an EAS recurrence (the inverse of {@link rruleToRecurrence}). */
export function recurrenceToRrule(recurrence: Recurrence): IcalRecur {
  const data: Record<string, unknown> = { interval: recurrence.interval ?? 1 };
  const days = DAY_NAMES.filter((_, index) => ((recurrence.dayOfWeek ?? 0) & (1 << index)) !== 0);
  const week = recurrence.weekOfMonth === 5 ? -1 : (recurrence.weekOfMonth ?? 1);
  const parts: Record<string, unknown[]> = {};
  switch (recurrence.type) {
    case 0:
      data.freq = 'DAILY';
      break;
    case 1:
      data.freq = 'WEEKLY';
      if (days.length) parts.BYDAY = days;
      break;
    case 2:
    case 5:
      data.freq = recurrence.type === 2 ? 'MONTHLY' : 'YEARLY';
      if (recurrence.dayOfMonth) parts.BYMONTHDAY = [recurrence.dayOfMonth];
      break;
    case 3:
    case 6:
      data.freq = recurrence.type === 3 ? 'MONTHLY' : 'YEARLY';
      if (recurrence.dayOfWeek === 127) parts.BYMONTHDAY = [week === -1 ? -1 : week];
      else {
        parts.BYDAY = days;
        parts.BYSETPOS = [week];
      }
      break;
  }
  if ((recurrence.type === 5 || recurrence.type === 6) && recurrence.monthOfYear) {
    parts.BYMONTH = [recurrence.monthOfYear];
  }
  if (recurrence.occurrences) data.count = Math.min(recurrence.occurrences, INVITATION_LIMITS.maxExpansion);
  else if (recurrence.until) data.until = ICAL.Time.fromJSDate(recurrence.until, true);
  data.parts = parts;
  return ICAL.Recur.fromData(data as Parameters<typeof ICAL.Recur.fromData>[0]);
}

/**
 * Whether a stored series has an occurrence originally starting at `instant` (its exceptions included,
 * deleted ones excluded). The series is expanded in its own time zone, looking at no more than
 * {@link INVITATION_LIMITS.maxExpansion} occurrences, so a rule with a huge count costs a bounded amount.
 */
export function seriesOccursAt(event: CalendarData, instant: Date): boolean {
  const wanted = instant.getTime();
  const exception = event.exceptions?.find((entry) => entry.exceptionStartTime.getTime() === wanted);
  if (exception) return !exception.deleted;
  if (!event.recurrence) return event.startTime.getTime() === wanted;
  if (wanted < event.startTime.getTime()) return false;
  const zone = easTimezone(event.allDayEvent ? undefined : event.timeZone);
  const start = dateToIcalTime(event.startTime, zone);
  const iterator = recurrenceToRrule(event.recurrence).iterator(start);
  for (let step = 0; step < INVITATION_LIMITS.maxExpansion; step++) {
    const next = iterator.next();
    if (!next) return false;
    const at = next.toJSDate().getTime();
    if (at === wanted) return true;
    if (at > wanted) return false;
  }
  return false;
}

// --- Mapping to the mailbox models ------------------------------------------------------------------------

const ATTENDEE_STATUS: Record<string, AttendeeStatus> = {
  ACCEPTED: 3,
  TENTATIVE: 2,
  DECLINED: 4,
  'NEEDS-ACTION': 5,
};

function attendeeType(attendee: InvitationAttendee): AttendeeType {
  if (attendee.cutype === 'RESOURCE' || attendee.cutype === 'ROOM') return 3;
  return attendee.role === 'OPT-PARTICIPANT' || attendee.role === 'NON-PARTICIPANT' ? 2 : 1;
}

export function toAttendees(attendees: readonly InvitationAttendee[]): Attendee[] {
  return attendees.map((attendee) => {
    const status = attendee.partstat ? ATTENDEE_STATUS[attendee.partstat] : undefined;
    return {
      email: attendee.email,
      ...(attendee.name ? { name: attendee.name } : {}),
      ...(status !== undefined ? { status } : {}),
      type: attendeeType(attendee),
    };
  });
}

/** The attendee entry addressed to one of the user's addresses (case-insensitive). */
export function findOwnAttendee<T extends { email: string }>(
  attendees: readonly T[] | undefined,
  addresses: readonly string[],
): T | undefined {
  const own = new Set(addresses.map((entry) => entry.toLowerCase()));
  return attendees?.find((attendee) => own.has(attendee.email.toLowerCase()));
}

/** Busy status shown before the user answers: a busy meeting shows as tentative (as Exchange does). */
function unansweredBusy(intended: BusyStatus): BusyStatus {
  return intended === 2 || intended === 3 ? 1 : intended;
}

function exceptionOf(instance: InvitationEvent, master: InvitationEvent | undefined): CalendarException {
  const exception: CalendarException = {
    exceptionStartTime: instance.recurrenceId!,
    startTime: instance.start,
    endTime: instance.end,
    busyStatus: unansweredBusy(instance.busyStatus),
    responseType: 5,
    meetingStatus: 3,
  };
  if (instance.status === 'CANCELLED') exception.deleted = true;
  if (instance.summary !== undefined && instance.summary !== master?.summary)
    exception.subject = instance.summary;
  if (instance.location !== undefined && instance.location !== master?.location) {
    exception.location = { displayName: instance.location };
  }
  if (instance.description !== undefined && instance.description !== master?.description) {
    exception.body = { type: 'plain', data: instance.description };
  }
  if (instance.dtStamp) exception.dtStamp = instance.dtStamp;
  if (instance.allDay !== (master?.allDay ?? false)) exception.allDayEvent = instance.allDay;
  return exception;
}

/**
 * The Calendar item of a received meeting (MeetingStatus 3, not yet answered) for a series or single event
 * and the overridden occurrences that came with it; EXDATEs and cancelled occurrences become deleted
 * exceptions.
 */
export function invitationToCalendar(
  master: InvitationEvent,
  instances: readonly InvitationEvent[],
  userAddresses: readonly string[],
): CalendarData {
  const own = findOwnAttendee(master.attendees, userAddresses);
  const data: CalendarData = {
    timeZone: master.allDay ? UTC_TIME_ZONE : (master.timeZone ?? UTC_TIME_ZONE),
    allDayEvent: master.allDay,
    startTime: master.start,
    endTime: master.end,
    uid: master.uid,
    sequence: master.sequence,
    busyStatus: unansweredBusy(master.busyStatus),
    meetingStatus: 3,
    responseRequested: own?.rsvp ?? true,
    responseType: 5,
  };
  if (master.dtStamp) data.dtStamp = master.dtStamp;
  if (master.summary !== undefined) data.subject = master.summary;
  if (master.location !== undefined) data.location = { displayName: master.location };
  if (master.description !== undefined) data.body = { type: 'plain', data: master.description };
  if (master.organizer) {
    data.organizerEmail = master.organizer.address;
    data.organizerName = master.organizer.name ?? master.organizer.address;
  }
  if (master.attendees.length) data.attendees = toAttendees(master.attendees);
  if (master.sensitivity !== undefined) data.sensitivity = master.sensitivity;
  if (master.reminder !== undefined) data.reminder = master.reminder;
  if (master.disallowNewTimeProposal) data.disallowNewTimeProposal = true;
  if (master.recurrence) {
    data.recurrence = master.recurrence;
    const exceptions = new Map<number, CalendarException>();
    for (const date of master.exceptionDates) {
      exceptions.set(date.getTime(), { exceptionStartTime: date, deleted: true });
    }
    for (const instance of instances) {
      exceptions.set(instance.recurrenceId!.getTime(), exceptionOf(instance, master));
    }
    if (exceptions.size) data.exceptions = [...exceptions.values()];
  }
  return data;
}

/** The overrides of one occurrence, for an existing series (a REQUEST about a single occurrence). */
export function instanceToException(instance: InvitationEvent, series: CalendarData): CalendarException {
  return exceptionOf(instance, {
    summary: series.subject,
    location: series.location?.displayName,
    description: series.body?.data,
    allDay: series.allDayEvent ?? false,
  } as InvitationEvent);
}

/**
 * The MeetingRequest element of a meeting message (MS-ASEMAIL 2.2.2.48) for one VEVENT: times, organizer,
 * the series rule, the organizer's zone, GlobalObjId (≤ 14.1) and UID (16.x).
 */
export function toMeetingRequest(
  event: InvitationEvent,
  options: { series?: InvitationEvent; userAddresses: readonly string[]; meetingMessageType?: 0 | 1 | 2 | 4 },
): MeetingRequest {
  const own = findOwnAttendee(event.attendees, options.userAddresses);
  const recurring = Boolean(event.recurrence ?? options.series?.recurrence);
  const request: MeetingRequest = {
    allDayEvent: event.allDay,
    startTime: event.start,
    endTime: event.end,
    dtStamp: event.dtStamp ?? new Date(),
    instanceType: event.recurrenceId ? 3 : event.recurrence ? 1 : 0,
    responseRequested: own?.rsvp ?? true,
    busyStatus: event.busyStatus,
    timeZone: event.allDay ? UTC_TIME_ZONE : (event.timeZone ?? options.series?.timeZone ?? UTC_TIME_ZONE),
    globalObjectId: globalObjectId(event.uid, event.recurrenceId),
    uid: event.uid,
  };
  if (!recurring && request.instanceType === 3) request.instanceType = 0;
  if (event.location !== undefined) request.location = { displayName: event.location };
  if (event.organizer) request.organizer = event.organizer;
  if (event.recurrenceId) request.recurrenceId = event.recurrenceId;
  if (event.reminder !== undefined) request.reminder = event.reminder * 60;
  if (event.recurrence) request.recurrences = [event.recurrence];
  if (event.sensitivity !== undefined) request.sensitivity = event.sensitivity;
  if (event.disallowNewTimeProposal) request.disallowNewTimeProposal = true;
  if (options.meetingMessageType !== undefined) request.meetingMessageType = options.meetingMessageType;
  return request;
}

/** The prefix of every MAPI global object id (MS-OXOCAL 2.2.1.27). */
const GOID_PREFIX = Buffer.from('040000008200E00074C5B7101A82E008', 'hex');

/**
 * `GlobalObjId` (MS-ASEMAIL 2.2.2.38) for an iCalendar UID: a UID that is itself a hex global object id (as
 * Outlook writes them) is decoded; any other UID is wrapped in the `vCal-Uid` form. For an occurrence, the
 * instance date goes into bytes 16-19.
 */
export function globalObjectId(uid: string, recurrenceId?: Date): string {
  let bytes: Buffer;
  if (
    /^[0-9A-Fa-f]+$/.test(uid) &&
    uid.length % 2 === 0 &&
    uid.toUpperCase().startsWith(GOID_PREFIX.toString('hex').toUpperCase()) &&
    uid.length >= 80
  ) {
    bytes = Buffer.from(uid, 'hex');
  } else {
    const data = Buffer.concat([
      Buffer.from('vCal-Uid', 'latin1'),
      Buffer.from([1, 0, 0, 0]),
      Buffer.from(uid, 'utf8'),
      Buffer.from([0]),
    ]);
    const header = Buffer.alloc(40);
    GOID_PREFIX.copy(header, 0);
    header.writeUInt32LE(data.length, 36);
    bytes = Buffer.concat([header, data]);
  }
  if (recurrenceId) {
    bytes = Buffer.from(bytes);
    bytes.writeUInt16BE(recurrenceId.getUTCFullYear(), 16);
    bytes[18] = recurrenceId.getUTCMonth() + 1;
    bytes[19] = recurrenceId.getUTCDate();
  }
  return bytes.toString('base64');
}

/** The iCalendar UID inside a GlobalObjId (the inverse of {@link globalObjectId}), or undefined. */
export function uidOfGlobalObjectId(value: string): string | undefined {
  const bytes = Buffer.from(value, 'base64');
  if (bytes.length < 40 || !bytes.subarray(0, 16).equals(GOID_PREFIX)) return undefined;
  const data = bytes.subarray(40);
  if (data.subarray(0, 8).toString('latin1') === 'vCal-Uid') {
    return data.subarray(12, Math.max(12, data.length - 1)).toString('utf8');
  }
  const clean = Buffer.from(bytes);
  clean.fill(0, 16, 20);
  return clean.toString('hex').toUpperCase();
}

// --- Building replies -------------------------------------------------------------------------------------

export interface ReplyOptions {
  /** REPLY, or COUNTER when the attendee proposes a new time. */
  readonly method: 'REPLY' | 'COUNTER';
  readonly uid: string;
  readonly sequence?: number;
  /** The occurrence answered, for one occurrence of a series. */
  readonly recurrenceId?: Date;
  readonly organizer: EmailAddress;
  readonly attendee: EmailAddress;
  readonly partstat: 'ACCEPTED' | 'TENTATIVE' | 'DECLINED';
  readonly summary?: string;
  /** The meeting's times (REPLY) or the proposed ones (COUNTER). */
  readonly start?: Date;
  readonly end?: Date;
  /** The attendee's note to the organizer. */
  readonly comment?: string;
  readonly now: Date;
}

/** An iTIP REPLY (or COUNTER) from one attendee, built with ical.js. */
export function buildReply(options: ReplyOptions): string {
  const calendar = new ICAL.Component(['vcalendar', [], []]);
  calendar.addPropertyWithValue('prodid', '-//easkit//MeetingResponse//EN');
  calendar.addPropertyWithValue('version', '2.0');
  calendar.addPropertyWithValue('method', options.method);
  const event = new ICAL.Component('vevent');
  event.addPropertyWithValue('uid', options.uid);
  event.addPropertyWithValue('dtstamp', ICAL.Time.fromJSDate(options.now, true));
  if (options.sequence) event.addPropertyWithValue('sequence', options.sequence);
  if (options.recurrenceId) {
    event.addPropertyWithValue('recurrence-id', ICAL.Time.fromJSDate(options.recurrenceId, true));
  }
  const organizer = event.addPropertyWithValue('organizer', `mailto:${options.organizer.address}`);
  if (options.organizer.name) organizer.setParameter('cn', options.organizer.name);
  const attendee = event.addPropertyWithValue('attendee', `mailto:${options.attendee.address}`);
  attendee.setParameter('partstat', options.partstat);
  if (options.attendee.name) attendee.setParameter('cn', options.attendee.name);
  if (options.start) event.addPropertyWithValue('dtstart', ICAL.Time.fromJSDate(options.start, true));
  if (options.end) event.addPropertyWithValue('dtend', ICAL.Time.fromJSDate(options.end, true));
  if (options.summary) event.addPropertyWithValue('summary', options.summary);
  if (options.comment) event.addPropertyWithValue('comment', options.comment);
  calendar.addSubcomponent(event);
  return calendar.toString().replace(/\r?\n/g, '\r\n');
}
