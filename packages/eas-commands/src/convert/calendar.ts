import type {
  Attendee,
  BusyStatus,
  CalendarAttachment,
  CalendarData,
  CalendarException,
  CalendarOverrides,
} from '@easkit/mailbox';
import { formatInstanceId, parseInstanceId } from '@easkit/mailbox';
import { eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { parseClientBody, renderStoredBody } from './body.js';
import {
  type FieldSpec,
  keyOfTag,
  parseCategories,
  parseFields,
  parseRecurrence,
  parseScalar,
  type RecurrenceDialect,
  readingClientData,
  renderCategories,
  renderFields,
  renderRecurrenceChildren,
  renderScalar,
} from './fields.js';
import { parseLocation, renderLocation } from './location.js';
import { decodeTimeZone, encodeTimeZone, UTC_TIME_ZONE } from './timezone.js';
import {
  type ConvertContext,
  type ItemConverter,
  MalformedItemError,
  type ParsedApplicationData,
} from './types.js';
import { atLeast } from './version.js';

type CalendarKey = keyof CalendarData & string;
type OverrideKey = keyof CalendarOverrides & string;

const cal = <K extends string>(
  tag: string,
  key: K,
  kind: FieldSpec['kind'],
  since?: ProtocolVersion,
): FieldSpec<K> => ({ namespace: 'Calendar', tag, key, kind, ...(since ? { since } : {}) });

/*
 * Calendar properties in MS-ASCAL schema order, split around the elements that are not scalars (Timezone, Body,
 * Location, Attendees, Categories, Recurrence, Exceptions). Times use the compact dateTime form (MS-ASCAL
 * 2.2.2.17 StartTime etc.).
 */
const HEAD: readonly FieldSpec<CalendarKey>[] = [cal('AllDayEvent', 'allDayEvent', 'boolean')];
const MIDDLE: readonly FieldSpec<CalendarKey>[] = [
  cal('BusyStatus', 'busyStatus', 'integer'),
  cal('OrganizerName', 'organizerName', 'string'),
  cal('OrganizerEmail', 'organizerEmail', 'string'),
  cal('DtStamp', 'dtStamp', 'compactDate'),
  cal('EndTime', 'endTime', 'compactDate'),
];
const AFTER_LOCATION: readonly FieldSpec<CalendarKey>[] = [
  cal('Reminder', 'reminder', 'integer'),
  cal('Sensitivity', 'sensitivity', 'integer'),
  cal('Subject', 'subject', 'string'),
  cal('StartTime', 'startTime', 'compactDate'),
  cal('UID', 'uid', 'string'),
  cal('MeetingStatus', 'meetingStatus', 'integer'),
];
const TAIL: readonly FieldSpec<CalendarKey>[] = [
  cal('ResponseRequested', 'responseRequested', 'boolean', '14.0'),
  cal('AppointmentReplyTime', 'appointmentReplyTime', 'compactDate', '14.0'),
  cal('ResponseType', 'responseType', 'integer', '14.0'),
  cal('DisallowNewTimeProposal', 'disallowNewTimeProposal', 'boolean', '14.0'),
  cal('OnlineMeetingConfLink', 'onlineMeetingConfLink', 'string', '14.1'),
  cal('OnlineMeetingExternalLink', 'onlineMeetingExternalLink', 'string', '14.1'),
  cal('ClientUid', 'clientUid', 'string', '16.0'),
];
const ALL_FIELDS = [...HEAD, ...MIDDLE, ...AFTER_LOCATION, ...TAIL];

/** The scalar properties an exception may override (MS-ASCAL 2.2.2.20 Exception). */
const EXCEPTION_FIELDS: readonly FieldSpec<OverrideKey>[] = [
  cal('AllDayEvent', 'allDayEvent', 'boolean'),
  cal('BusyStatus', 'busyStatus', 'integer'),
  cal('DtStamp', 'dtStamp', 'compactDate'),
  cal('EndTime', 'endTime', 'compactDate'),
  cal('Reminder', 'reminder', 'integer'),
  cal('Sensitivity', 'sensitivity', 'integer'),
  cal('Subject', 'subject', 'string'),
  cal('StartTime', 'startTime', 'compactDate'),
  cal('MeetingStatus', 'meetingStatus', 'integer'),
  cal('AppointmentReplyTime', 'appointmentReplyTime', 'compactDate', '14.0'),
  cal('ResponseType', 'responseType', 'integer', '14.0'),
  cal('OnlineMeetingConfLink', 'onlineMeetingConfLink', 'string', '14.1'),
  cal('OnlineMeetingExternalLink', 'onlineMeetingExternalLink', 'string', '14.1'),
];

const CALENDAR_RECURRENCE: RecurrenceDialect = {
  namespace: 'Calendar',
  extensions: 'Calendar',
  dates: 'compactDate',
};

/** `BusyStatus` 4 (working elsewhere) is 16.0+; older clients get 0 (free), which it is closest to. */
function busyStatusFor<T extends { busyStatus?: BusyStatus }>(data: T, version: ProtocolVersion): T {
  if (data.busyStatus === 4 && !atLeast(version, '16.0')) return { ...data, busyStatus: 0 };
  return data;
}

function renderAttendees(attendees: readonly Attendee[] | undefined, version: ProtocolVersion) {
  if (!attendees) return null;
  const C = eas.Calendar;
  const typed = atLeast(version, '12.0');
  return C.Attendees(
    attendees.map((attendee) =>
      C.Attendee(
        C.Email(attendee.email),
        C.Name(attendee.name ?? attendee.email),
        typed ? renderScalar('Calendar', 'AttendeeStatus', 'integer', attendee.status) : null,
        typed ? renderScalar('Calendar', 'AttendeeType', 'integer', attendee.type) : null,
      ),
    ),
  );
}

function parseAttendees(container: WbxmlElement): Attendee[] {
  return container.all('Calendar:Attendee').map((element) => {
    const email = element.textOf('Calendar:Email');
    if (!email) throw new MalformedItemError('attendee without Email');
    const attendee: Attendee = { email };
    const name = element.textOf('Calendar:Name');
    if (name && name !== email) attendee.name = name;
    const status = element.child('Calendar:AttendeeStatus');
    if (status) {
      const value = parseScalar(status, 'integer') as number | undefined;
      if (value !== undefined && ![0, 2, 3, 4, 5].includes(value))
        throw new MalformedItemError('bad AttendeeStatus');
      if (value !== undefined) attendee.status = value as Attendee['status'];
    }
    const type = element.child('Calendar:AttendeeType');
    if (type) {
      const value = parseScalar(type, 'integer') as number | undefined;
      if (value !== undefined && ![1, 2, 3].includes(value)) throw new MalformedItemError('bad AttendeeType');
      if (value !== undefined) attendee.type = value as Attendee['type'];
    }
    return attendee;
  });
}

async function renderException(exception: CalendarException, context: ConvertContext): Promise<WbxmlElement> {
  const version = context.version;
  const C = eas.Calendar;
  const data = busyStatusFor(exception, version);
  const key = atLeast(version, '16.0')
    ? eas.AirSyncBase.InstanceId(formatInstanceId(exception.exceptionStartTime))
    : renderScalar('Calendar', 'ExceptionStartTime', 'compactDate', exception.exceptionStartTime);
  return C.Exception(
    exception.deleted ? C.Deleted('1') : null,
    key,
    renderFields(EXCEPTION_FIELDS, data, version),
    renderLocation(exception.location, 'Calendar', version),
    await renderStoredBody('Calendar', exception.body, context),
    renderAttendees(exception.attendees, version),
    renderCategories('Calendar', exception.categories),
  );
}

function parseException(element: WbxmlElement, _version: ProtocolVersion): CalendarException {
  const instanceId = element.textOf('AirSyncBase:InstanceId');
  const startText = element.child('Calendar:ExceptionStartTime');
  let exceptionStartTime: Date | undefined;
  if (instanceId !== undefined) {
    exceptionStartTime = parseInstanceId(instanceId);
  } else if (startText) {
    exceptionStartTime = parseScalar(startText, 'compactDate') as Date | undefined;
  }
  if (!exceptionStartTime) throw new MalformedItemError('exception without ExceptionStartTime or InstanceId');
  const overrides: Partial<CalendarOverrides> = {};
  parseFields(EXCEPTION_FIELDS, element, overrides, new Set());
  const exception: CalendarException = { exceptionStartTime };
  for (const [key, value] of Object.entries(overrides)) {
    if (value !== undefined) (exception as unknown as Record<string, unknown>)[key] = value;
  }
  if (element.boolOf('Calendar:Deleted')) exception.deleted = true;
  const location = parseLocation(element, 'Calendar');
  if (location) exception.location = location;
  const body = parseClientBody(element, 'Calendar');
  if (body) exception.body = body;
  const attendees = element.child('Calendar:Attendees');
  if (attendees) exception.attendees = parseAttendees(attendees);
  const categories = parseCategories(element, 'Calendar');
  if (categories) exception.categories = categories;
  return exception;
}

/**
 * Calendar (MS-ASCAL), every version: Timezone (UTC when the event has none, except for 16.x, where it is
 * optional), compact dates, 2.5 `calendar:Body` or `airsyncbase:Body`, `Location` as a string before 16.0 and
 * `airsyncbase:Location` from 16.0, exceptions keyed by `ExceptionStartTime` (≤ 14.1) or `InstanceId` (16.x).
 * From 16.x clients, `UID` and the organizer are server-owned and not read; `ClientUid` is.
 */
export const calendarConverter: ItemConverter<'Calendar'> = {
  class: 'Calendar',

  async toApplicationData(item, context) {
    const version = context.version;
    const data = busyStatusFor(item.data, version);
    const C = eas.Calendar;
    const zone = data.timeZone ?? (atLeast(version, '16.0') ? undefined : UTC_TIME_ZONE);
    const exceptions = data.exceptions?.length
      ? C.Exceptions(
          await Promise.all(data.exceptions.map((exception) => renderException(exception, context))),
        )
      : null;
    const out: (WbxmlElement | null)[] = [
      zone ? C.Timezone(encodeTimeZone(zone)) : null,
      ...renderFields(HEAD, data, version),
      ...(await renderStoredBody('Calendar', data.body, context)),
      atLeast(version, '16.0') ? renderAttachments(data.attachments) : null,
      ...renderFields(MIDDLE, data, version),
      renderLocation(data.location, 'Calendar', version),
      ...renderFields(AFTER_LOCATION, data, version),
      renderAttendees(data.attendees, version),
      renderCategories('Calendar', data.categories),
      data.recurrence
        ? C.Recurrence(renderRecurrenceChildren(data.recurrence, CALENDAR_RECURRENCE, version))
        : null,
      exceptions,
      ...renderFields(TAIL, data, version),
    ];
    return out.filter((element): element is WbxmlElement => element !== null);
  },

  fromApplicationData(applicationData, version): ParsedApplicationData<'Calendar'> {
    return readingClientData(() => {
      const data: Partial<CalendarData> = {};
      const present = new Set<CalendarKey>();
      parseFields(ALL_FIELDS, applicationData, data, present);
      if (atLeast(version, '16.0')) {
        // Server-owned in 16.x (MS-ASCAL 2.2.2.46 UID, 2.2.2.33/34 organizer): what a client sends is ignored.
        for (const key of ['uid', 'organizerName', 'organizerEmail'] as const) {
          delete data[key];
          present.delete(key);
        }
      }
      const zone = applicationData.child('Calendar:Timezone');
      if (zone) {
        const text = zone.text ?? '';
        data.timeZone = text.trim() === '' ? undefined : decodeTimeZone(text);
        present.add('timeZone');
      }
      const location = parseLocation(applicationData, 'Calendar');
      if (location !== undefined) {
        data.location = location ?? undefined;
        present.add('location');
      }
      const body = parseClientBody(applicationData, 'Calendar');
      if (body) {
        data.body = body;
        present.add('body');
      }
      const attendees = applicationData.child('Calendar:Attendees');
      if (attendees) {
        const list = parseAttendees(attendees);
        data.attendees = list.length ? list : undefined;
        present.add('attendees');
      }
      const categories = parseCategories(applicationData, 'Calendar');
      if (categories) {
        data.categories = categories;
        present.add('categories');
      }
      const recurrence = applicationData.child('Calendar:Recurrence');
      if (recurrence) {
        data.recurrence = recurrence.children.length
          ? parseRecurrence(recurrence, CALENDAR_RECURRENCE)
          : undefined;
        present.add('recurrence');
      }
      const exceptions = applicationData.child('Calendar:Exceptions');
      if (exceptions) {
        const list = exceptions.all('Calendar:Exception').map((element) => parseException(element, version));
        data.exceptions = list.length ? list : undefined;
        present.add('exceptions');
      }
      for (const key of ['busyStatus', 'sensitivity', 'meetingStatus', 'responseType'] as const) {
        const value = data[key];
        const allowed = ALLOWED[key];
        if (value !== undefined && !allowed.includes(value)) {
          throw new MalformedItemError(`calendar ${key} ${value} is not one MS-ASCAL defines`);
        }
      }
      return { class: 'Calendar', data, present };
    });
  },

  fieldOfTag(namespace, name) {
    if ((namespace === 'AirSyncBase' || namespace === 'Calendar') && name === 'Body') return 'body';
    if (namespace === 'AirSyncBase' && name === 'Location') return 'location';
    if (namespace === 'Calendar') {
      const container = CONTAINERS[name];
      if (container) return container;
    }
    return keyOfTag(ALL_FIELDS, namespace, name);
  },
};

const ALLOWED: Readonly<
  Record<'busyStatus' | 'sensitivity' | 'meetingStatus' | 'responseType', readonly number[]>
> = {
  busyStatus: [0, 1, 2, 3, 4],
  sensitivity: [0, 1, 2, 3],
  meetingStatus: [0, 1, 3, 5, 7, 9, 11, 13, 15],
  responseType: [0, 1, 2, 3, 4, 5],
};

const CONTAINERS: Readonly<Record<string, CalendarKey>> = {
  Timezone: 'timeZone',
  Location: 'location',
  Attendees: 'attendees',
  Attendee: 'attendees',
  Categories: 'categories',
  Category: 'categories',
  Recurrence: 'recurrence',
  Exceptions: 'exceptions',
  Exception: 'exceptions',
};

/** A 16.x calendar item's attachments (airsyncbase:Attachments, MS-ASAIRS 2.2.2.8), fetched by FileReference. */
function renderAttachments(attachments: readonly CalendarAttachment[] | undefined): WbxmlElement | null {
  if (!attachments?.length) return null;
  const ASB = eas.AirSyncBase;
  return ASB.Attachments(
    attachments.map((attachment) =>
      ASB.Attachment(
        ASB.DisplayName(attachment.displayName),
        ASB.FileReference(attachment.fileReference),
        ASB.Method(attachment.method),
        ASB.EstimatedDataSize(attachment.estimatedDataSize),
        attachment.contentId ? ASB.ContentId(attachment.contentId) : null,
        attachment.contentLocation ? ASB.ContentLocation(attachment.contentLocation) : null,
        attachment.isInline ? ASB.IsInline('1') : null,
      ),
    ),
  );
}
