import { createHash } from 'node:crypto';
import {
  InvalidInvitationError,
  type InvitationAttendee,
  type InvitationEvent,
  parseInvitation,
} from '@easkit/eas-commands';
import type {
  Attendee,
  AttendeeStatus,
  CalendarData,
  CalendarException,
  Importance,
  MeetingStatus,
  ResponseType,
  TaskData,
  TimeZone,
} from '@easkit/mailbox';
import {
  type Component,
  type ContentLine,
  paramValues,
  properties,
  property,
  readComponents,
  splitEscaped,
  unescapeText,
  unfoldLines,
} from './content-lines.js';

/*
 * iCalendar files (RFC 5545) into Calendar and Tasks items. Times, zones (VTIMEZONE or IANA TZIDs), RRULEs
 * and alarms are read by @easkit/eas-commands' `parseInvitation` (ical.js underneath): the file is cut into one
 * small calendar per UID (the series and its overridden occurrences, with the file's VTIMEZONEs) and each is
 * parsed on its own, so one broken event costs only itself. A VTODO is handed to the same reader as an event
 * whose DTEND is the task's DUE, which gives its instants and rule; the task fields are then read here.
 */

export const ICALENDAR_LIMITS = {
  /** Components (events, tasks, zones, alarms) in one file. */
  maxComponents: 200_000,
} as const;

export type CalendarEntry =
  | {
      readonly source: string;
      readonly item: { class: 'Calendar'; data: CalendarData } | { class: 'Tasks'; data: TaskData };
      /** Calendar items: UID and start, to recognise an event imported before. */
      readonly key?: string;
      readonly warnings: readonly string[];
    }
  | { readonly source: string; readonly kind: 'Calendar' | 'Tasks' | 'file'; readonly problem: string };

export interface ICalendarOptions {
  /** The user's addresses, to tell meetings they organise from meetings they were invited to. */
  readonly userAddresses: readonly string[];
  readonly now: Date;
}

const UTC_ZONE: TimeZone = {
  bias: 0,
  standardName: 'UTC',
  standardDate: { year: 0, month: 0, dayOfWeek: 0, day: 0, hour: 0, minute: 0, second: 0, milliseconds: 0 },
  standardBias: 0,
  daylightName: 'UTC',
  daylightDate: { year: 0, month: 0, dayOfWeek: 0, day: 0, hour: 0, minute: 0, second: 0, milliseconds: 0 },
  daylightBias: 0,
};

/** Reads every VEVENT series and every VTODO of an iCalendar text. Never throws for bad input. */
export function readICalendar(text: string, options: ICalendarOptions): CalendarEntry[] {
  let components: Component[];
  try {
    components = readComponents(unfoldLines(text), ICALENDAR_LIMITS).components;
  } catch (error) {
    return [{ source: '', kind: 'file', problem: (error as Error).message }];
  }
  const calendars = components.filter((component) => component.name === 'VCALENDAR');
  if (calendars.length === 0) return [{ source: '', kind: 'file', problem: 'no VCALENDAR in the file' }];
  const entries: CalendarEntry[] = [];
  for (const calendar of calendars) {
    const timezones = calendar.children.filter((child) => child.name === 'VTIMEZONE' && child.complete);
    // Events by UID (a series and its overridden occurrences go together), each read where its UID first
    // appears, so that entries come in file order.
    const groups = new Map<string, Component[]>();
    const order: (CalendarEntry | string)[] = [];
    for (const child of calendar.children) {
      if (child.name === 'VTIMEZONE') continue;
      if (!child.complete) {
        const kind = child.name === 'VTODO' ? 'Tasks' : 'Calendar';
        order.push({ source: child.name, kind, problem: `${child.name} is cut off (no END line)` });
        continue;
      }
      if (child.name === 'VEVENT') {
        const uid = uidOf(child);
        const group = groups.get(uid);
        if (group) group.push(child);
        else {
          groups.set(uid, [child]);
          order.push(uid);
        }
      } else if (child.name === 'VTODO') {
        order.push(readTask(child, timezones, options));
      } else if (child.name === 'VJOURNAL' || child.name === 'VFREEBUSY') {
        order.push({ source: child.name, kind: 'file', problem: `${child.name} is not imported` });
      }
    }
    for (const slot of order) {
      if (typeof slot === 'string')
        entries.push(...readEventGroup(slot, groups.get(slot)!, timezones, options));
      else entries.push(slot);
    }
  }
  return entries;
}

/** The UID of a component; one made from its content when it has none, so a re-import finds the same. */
function uidOf(component: Component): string {
  const uid = property(component, 'UID')?.value.trim();
  if (uid) return unescapeText(uid);
  return `easkit-import-${createHash('sha256').update(component.raw.join('\n')).digest('hex').slice(0, 32)}`;
}

function calendarText(timezones: readonly Component[], body: readonly string[]): string {
  return [
    'BEGIN:VCALENDAR',
    'VERSION:2.0',
    'PRODID:-//easkit//import//EN',
    ...timezones.flatMap((zone) => zone.raw),
    ...body,
    'END:VCALENDAR',
  ].join('\r\n');
}

/** The raw lines of a component with a UID line added when it has none. */
function withUid(component: Component, uid: string): string[] {
  if (property(component, 'UID')) return component.raw;
  return [component.raw[0]!, `UID:${uid}`, ...component.raw.slice(1)];
}

function categoriesOf(component: Component): string[] {
  return properties(component, 'CATEGORIES')
    .flatMap((line) => splitEscaped(line.value, ','))
    .map((value) => unescapeText(value).trim())
    .filter((value) => value !== '');
}

function readEventGroup(
  uid: string,
  events: readonly Component[],
  timezones: readonly Component[],
  options: ICalendarOptions,
): CalendarEntry[] {
  const source = `VEVENT ${uid}`;
  const masterComponent = events.find((event) => !property(event, 'RECURRENCE-ID'));
  for (const event of events) {
    if (!property(event, 'DTSTART')) return [{ source, kind: 'Calendar', problem: 'VEVENT without DTSTART' }];
  }
  let parsed: ReturnType<typeof parseInvitation>;
  try {
    parsed = parseInvitation(
      calendarText(
        timezones,
        events.flatMap((event) => withUid(event, uid)),
      ),
    );
  } catch (error) {
    const reason = error instanceof InvalidInvitationError ? error.message : `unreadable: ${String(error)}`;
    return [{ source, kind: 'Calendar', problem: reason }];
  }
  const warnings: string[] = [];
  const categories = masterComponent ? categoriesOf(masterComponent) : [];
  if (!parsed.master) {
    // Overridden occurrences of a series that is not in the file: each is kept as a single event.
    return parsed.instances.map((instance) => {
      const data = eventData(instance, options);
      return {
        source: `${source} ${instance.recurrenceId?.toISOString()}`,
        item: { class: 'Calendar', data },
        key: calendarKey(data),
        warnings: ['an occurrence of a series that is not in the file: imported as a single event'],
      };
    });
  }
  const master = parsed.master;
  const data = eventData(master, options);
  if (categories.length) data.categories = categories;
  if (masterComponent && property(masterComponent, 'RRULE') && !master.recurrence) {
    warnings.push('its RRULE has no EAS form: only the first occurrence is imported');
  }
  if (master.recurrence) {
    const exceptions = new Map<number, CalendarException>();
    for (const date of master.exceptionDates) {
      exceptions.set(date.getTime(), { exceptionStartTime: date, deleted: true });
    }
    for (const instance of parsed.instances) {
      exceptions.set(instance.recurrenceId!.getTime(), exceptionOf(instance, master, data));
    }
    if (exceptions.size) {
      data.exceptions = [...exceptions.values()].sort(
        (a, b) => a.exceptionStartTime.getTime() - b.exceptionStartTime.getTime(),
      );
    }
  } else if (parsed.instances.length > 0) {
    warnings.push(`${parsed.instances.length} overridden occurrence(s) dropped: the event does not recur`);
  }
  return [{ source, item: { class: 'Calendar', data }, key: calendarKey(data), warnings }];
}

/** What identifies an imported event in its folder: its UID and its start. */
export function calendarKey(data: CalendarData): string | undefined {
  return data.uid === undefined ? undefined : `${data.uid}\u0000${data.startTime.toISOString()}`;
}

const PARTSTAT: Record<string, { status: AttendeeStatus; response: ResponseType }> = {
  ACCEPTED: { status: 3, response: 3 },
  TENTATIVE: { status: 2, response: 2 },
  DECLINED: { status: 4, response: 4 },
  'NEEDS-ACTION': { status: 5, response: 5 },
};

function attendeesOf(list: readonly InvitationAttendee[]): Attendee[] {
  return list.map((attendee) => {
    const status = attendee.partstat ? PARTSTAT[attendee.partstat]?.status : undefined;
    const resource = attendee.cutype === 'RESOURCE' || attendee.cutype === 'ROOM';
    const optional = attendee.role === 'OPT-PARTICIPANT' || attendee.role === 'NON-PARTICIPANT';
    return {
      email: attendee.email,
      ...(attendee.name ? { name: attendee.name } : {}),
      ...(status !== undefined ? { status } : {}),
      type: resource ? 3 : optional ? 2 : 1,
    };
  });
}

/**
 * A VEVENT as an item of the user's own calendar: an appointment when it has no attendees; a meeting the user
 * organises when the organizer is one of their addresses; otherwise a meeting they were invited to, with their
 * own answer from their attendee entry. Cancelled events keep the cancelled meeting status.
 */
function eventData(event: InvitationEvent, options: ICalendarOptions): CalendarData {
  const own = new Set(options.userAddresses.map((address) => address.toLowerCase()));
  const cancelled = event.status === 'CANCELLED';
  const organizerIsUser = event.organizer ? own.has(event.organizer.address.toLowerCase()) : false;
  const self = event.attendees.find((attendee) => own.has(attendee.email.toLowerCase()));
  let meetingStatus: MeetingStatus = 0;
  if (event.attendees.length > 0) {
    if (organizerIsUser || !event.organizer) meetingStatus = cancelled ? 5 : 1;
    else meetingStatus = cancelled ? 7 : 3;
  }
  const data: CalendarData = {
    timeZone: event.allDay ? UTC_ZONE : (event.timeZone ?? UTC_ZONE),
    allDayEvent: event.allDay,
    startTime: event.start,
    endTime: event.end,
    uid: event.uid,
    busyStatus: event.busyStatus,
    meetingStatus,
  };
  if (event.sequence) data.sequence = event.sequence;
  if (event.dtStamp) data.dtStamp = event.dtStamp;
  if (event.summary !== undefined) data.subject = event.summary;
  if (event.location !== undefined) data.location = { displayName: event.location };
  if (event.description !== undefined) data.body = { type: 'plain', data: event.description };
  if (event.organizer) {
    data.organizerEmail = event.organizer.address;
    data.organizerName = event.organizer.name ?? event.organizer.address;
  }
  if (event.attendees.length) data.attendees = attendeesOf(event.attendees);
  if (event.sensitivity !== undefined) data.sensitivity = event.sensitivity;
  if (event.reminder !== undefined) data.reminder = event.reminder;
  if (event.disallowNewTimeProposal) data.disallowNewTimeProposal = true;
  if (event.recurrence) data.recurrence = event.recurrence;
  if (meetingStatus === 1 || meetingStatus === 5) data.responseType = 1;
  else if (meetingStatus === 3 || meetingStatus === 7) {
    data.responseType = (self?.partstat ? PARTSTAT[self.partstat]?.response : undefined) ?? 5;
    data.responseRequested = self?.rsvp ?? false;
  }
  return data;
}

function exceptionOf(
  instance: InvitationEvent,
  master: InvitationEvent,
  series: CalendarData,
): CalendarException {
  const exception: CalendarException = {
    exceptionStartTime: instance.recurrenceId!,
    startTime: instance.start,
    endTime: instance.end,
  };
  if (instance.status === 'CANCELLED') exception.deleted = true;
  if (instance.summary !== undefined && instance.summary !== master.summary)
    exception.subject = instance.summary;
  if (instance.location !== undefined && instance.location !== master.location) {
    exception.location = { displayName: instance.location };
  }
  if (instance.description !== undefined && instance.description !== master.description) {
    exception.body = { type: 'plain', data: instance.description };
  }
  if (instance.allDay !== master.allDay) exception.allDayEvent = instance.allDay;
  if (instance.busyStatus !== series.busyStatus) exception.busyStatus = instance.busyStatus;
  if (instance.reminder !== undefined && instance.reminder !== master.reminder)
    exception.reminder = instance.reminder;
  if (instance.dtStamp) exception.dtStamp = instance.dtStamp;
  return exception;
}

// --- Tasks -----------------------------------------------------------------------------------------------

/** The properties of a VTODO that carry its instants and rule, handed to the event reader. */
const TIME_PROPERTIES = new Set(['DTSTART', 'DUE', 'DURATION', 'RRULE', 'CLASS', 'DTSTAMP']);

function readTask(
  todo: Component,
  timezones: readonly Component[],
  options: ICalendarOptions,
): CalendarEntry {
  const uid = uidOf(todo);
  const source = `VTODO ${uid}`;
  if (property(todo, 'RECURRENCE-ID')) {
    return { source, kind: 'Tasks', problem: 'a changed occurrence of a recurring task is not imported' };
  }
  const warnings: string[] = [];
  const startLine = property(todo, 'DTSTART');
  const dueLine = property(todo, 'DUE');
  const hasDuration = Boolean(property(todo, 'DURATION'));
  const data: TaskData = { complete: false };
  const summary = property(todo, 'SUMMARY');
  if (summary) data.subject = unescapeText(summary.value);
  const description = property(todo, 'DESCRIPTION');
  if (description) data.body = { type: 'plain', data: unescapeText(description.value) };
  const categories = categoriesOf(todo);
  if (categories.length) data.categories = categories;
  const importance = importanceOf(property(todo, 'PRIORITY')?.value);
  if (importance !== undefined) data.importance = importance;

  let utcStart: Date | undefined;
  let utcDue: Date | undefined;
  if (startLine || dueLine) {
    // As an event: DTSTART (or DUE when there is no start), DTEND = DUE.
    const lines = ['BEGIN:VEVENT', `UID:${uid.replace(/[\r\n]/g, '')}`];
    for (const line of todo.lines) {
      if (!TIME_PROPERTIES.has(line.name)) continue;
      if (line.name === 'DUE') {
        lines.push(renamed(line, 'DTEND'));
        if (!startLine) lines.push(renamed(line, 'DTSTART'));
      } else lines.push(line.text);
    }
    lines.push('END:VEVENT');
    let event: InvitationEvent | undefined;
    try {
      event = parseInvitation(calendarText(timezones, lines)).master;
    } catch (error) {
      const reason = error instanceof InvalidInvitationError ? error.message : `unreadable: ${String(error)}`;
      return { source, kind: 'Tasks', problem: reason };
    }
    if (!event) return { source, kind: 'Tasks', problem: 'unreadable VTODO' };
    if (startLine) utcStart = event.start;
    if (dueLine || (startLine && hasDuration)) utcDue = dueLine && !startLine ? event.start : event.end;
    const localStart = startLine ? wallTime(startLine) : undefined;
    if (utcStart) {
      data.utcStartDate = utcStart;
      data.startDate = localStart ?? utcStart;
    }
    if (utcDue) {
      data.utcDueDate = utcDue;
      const localDue = dueLine
        ? wallTime(dueLine)
        : localStart && utcStart
          ? new Date(localStart.getTime() + (utcDue.getTime() - utcStart.getTime()))
          : undefined;
      data.dueDate = localDue ?? utcDue;
    }
    if (event.sensitivity !== undefined) data.sensitivity = event.sensitivity;
    if (event.recurrence) data.recurrence = { ...event.recurrence, start: utcStart ?? utcDue! };
    else if (property(todo, 'RRULE')) warnings.push('its RRULE has no EAS form: imported as a single task');
  } else if (property(todo, 'RRULE')) {
    warnings.push('a recurring task without DTSTART or DUE: imported as a single task');
  }

  const status = property(todo, 'STATUS')?.value.trim().toUpperCase();
  const completedLine = property(todo, 'COMPLETED');
  const percent = Number(property(todo, 'PERCENT-COMPLETE')?.value);
  if (status === 'COMPLETED' || status === 'CANCELLED' || completedLine || percent === 100) {
    data.complete = true;
    // A completed task carries the date it was completed (MS-ASTASK DateCompleted); clients show it.
    data.dateCompleted =
      (completedLine && wallTime(completedLine)) ||
      dateOf(property(todo, 'LAST-MODIFIED')) ||
      dateOf(property(todo, 'DTSTAMP')) ||
      options.now;
  }

  const reminder = reminderOf(todo, utcStart, utcDue);
  if (reminder) {
    data.reminderSet = true;
    data.reminderTime = reminder;
  }
  return { source, item: { class: 'Tasks', data }, warnings };
}

function renamed(line: ContentLine, name: string): string {
  return line.text.replace(/^[^;:]+/, name);
}

/** PRIORITY 1-4 is high, 5 normal, 6-9 low (RFC 5545 3.8.1.9); 0 or nothing says nothing. */
function importanceOf(value: string | undefined): Importance | undefined {
  const priority = Number(value);
  if (!Number.isInteger(priority) || priority <= 0 || priority > 9) return undefined;
  return priority < 5 ? 2 : priority === 5 ? 1 : 0;
}

/**
 * The wall-clock time a DATE or DATE-TIME value shows, in the Date's UTC fields (how Tasks keep local
 * times); a UTC value (`Z`) is its own instant.
 */
function wallTime(line: ContentLine): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})Z?)?$/.exec(line.value.trim());
  if (!match) return undefined;
  const date = new Date(
    Date.UTC(+match[1]!, +match[2]! - 1, +match[3]!, +(match[4] ?? 0), +(match[5] ?? 0), +(match[6] ?? 0)),
  );
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function dateOf(line: ContentLine | undefined): Date | undefined {
  return line ? wallTime(line) : undefined;
}

const DURATION = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/;

/** An iCalendar DURATION in milliseconds, or undefined. */
export function durationMs(value: string): number | undefined {
  const match = DURATION.exec(value.trim().toUpperCase());
  if (!match || value.trim().length < 3) return undefined;
  const [, sign, weeks, days, hours, minutes, seconds] = match;
  const total =
    (+(weeks ?? 0) * 7 * 86_400 +
      +(days ?? 0) * 86_400 +
      +(hours ?? 0) * 3600 +
      +(minutes ?? 0) * 60 +
      +(seconds ?? 0)) *
    1000;
  return sign === '-' ? -total : total;
}

/** The time of the task's first alarm: absolute, or relative to its start (or due time, RELATED=END). */
function reminderOf(todo: Component, start: Date | undefined, due: Date | undefined): Date | undefined {
  for (const alarm of todo.children) {
    if (alarm.name !== 'VALARM') continue;
    const trigger = property(alarm, 'TRIGGER');
    if (!trigger) continue;
    if (paramValues(trigger, 'VALUE').includes('date-time')) {
      const at = wallTime(trigger);
      if (at) return at;
      continue;
    }
    const offset = durationMs(trigger.value);
    if (offset === undefined) continue;
    const base = paramValues(trigger, 'RELATED').includes('end') ? (due ?? start) : (start ?? due);
    if (base) return new Date(base.getTime() + offset);
  }
  return undefined;
}
