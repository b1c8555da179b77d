import type { CalendarData, StoredItem, TimeZone } from '@easkit/mailbox';
import { eas, type ProtocolVersion } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { TEST_VERSIONS, tagsOutsideVersion, testMailbox, throughWire } from '../../test/convert-helpers.js';
import { calendarConverter } from './calendar.js';
import { MalformedItemError } from './types.js';
import { atLeast } from './version.js';

const berlin: TimeZone = {
  bias: -60,
  standardName: 'W. Europe Standard Time',
  standardDate: { year: 0, month: 10, dayOfWeek: 0, day: 5, hour: 3, minute: 0, second: 0, milliseconds: 0 },
  standardBias: 0,
  daylightName: 'W. Europe Daylight Time',
  daylightDate: { year: 0, month: 3, dayOfWeek: 0, day: 5, hour: 2, minute: 0, second: 0, milliseconds: 0 },
  daylightBias: -60,
};

const event: CalendarData = {
  timeZone: berlin,
  allDayEvent: false,
  startTime: new Date('2026-01-05T09:00:00Z'),
  endTime: new Date('2026-01-05T10:00:00Z'),
  dtStamp: new Date('2026-01-01T08:00:00Z'),
  subject: 'Weekly sync',
  location: { displayName: 'Room 1' },
  body: { type: 'plain', data: 'Agenda: everything' },
  organizerName: 'Ada',
  organizerEmail: 'ada@example.com',
  uid: '040000008200E00074C5B7101A82E008',
  busyStatus: 2,
  sensitivity: 0,
  reminder: 15,
  meetingStatus: 1,
  attendees: [
    { email: 'bob@example.com', name: 'Bob', status: 3, type: 1 },
    { email: 'room@example.com', status: 5, type: 3 },
  ],
  categories: ['Team'],
  recurrence: {
    type: 1,
    interval: 1,
    dayOfWeek: 2,
    until: new Date('2026-06-29T09:00:00Z'),
    calendarType: 0,
    isLeapMonth: false,
    firstDayOfWeek: 1,
  },
  exceptions: [
    { exceptionStartTime: new Date('2026-01-12T09:00:00Z'), deleted: true },
    {
      exceptionStartTime: new Date('2026-01-19T09:00:00Z'),
      startTime: new Date('2026-01-19T13:00:00Z'),
      endTime: new Date('2026-01-19T14:00:00Z'),
      subject: 'Weekly sync (moved)',
      location: { displayName: 'Room 2' },
      body: { type: 'plain', data: 'moved to the afternoon' },
      attendees: [{ email: 'bob@example.com', name: 'Bob', status: 4, type: 1 }],
      categories: ['Team', 'Moved'],
      reminder: 5,
      responseType: 1,
      appointmentReplyTime: new Date('2026-01-10T10:00:00Z'),
      onlineMeetingConfLink: 'https://meet.example/conf',
    },
  ],
  responseRequested: true,
  responseType: 1,
  appointmentReplyTime: new Date('2026-01-02T10:00:00Z'),
  disallowNewTimeProposal: false,
  onlineMeetingConfLink: 'https://meet.example/conf',
  onlineMeetingExternalLink: 'https://meet.example/ext',
  clientUid: 'device-chosen-uid',
};

/** What a client at `version` can send back of `data`: the fields the version has and a client may set. */
function clientView(data: CalendarData, version: ProtocolVersion): CalendarData {
  const copy = structuredClone(data);
  const drop = (target: object, keys: string[]) => {
    for (const key of keys) delete (target as Record<string, unknown>)[key];
  };
  if (!atLeast(version, '12.0')) {
    for (const attendee of [
      ...(copy.attendees ?? []),
      ...(copy.exceptions ?? []).flatMap((e) => e.attendees ?? []),
    ]) {
      drop(attendee, ['status', 'type']);
    }
  }
  if (!atLeast(version, '14.0')) {
    drop(copy, ['responseRequested', 'responseType', 'appointmentReplyTime', 'disallowNewTimeProposal']);
    drop(copy.recurrence!, ['calendarType', 'isLeapMonth']);
    for (const exception of copy.exceptions ?? []) drop(exception, ['responseType', 'appointmentReplyTime']);
  }
  if (!atLeast(version, '14.1')) {
    drop(copy, ['onlineMeetingConfLink', 'onlineMeetingExternalLink']);
    drop(copy.recurrence!, ['firstDayOfWeek']);
    for (const exception of copy.exceptions ?? []) drop(exception, ['onlineMeetingConfLink']);
  }
  if (!atLeast(version, '16.0')) drop(copy, ['clientUid']);
  else drop(copy, ['uid', 'organizerName', 'organizerEmail']);
  return copy;
}

async function render(data: CalendarData, version: ProtocolVersion) {
  const box = await testMailbox();
  const item = await box.add({ class: 'Calendar', data });
  const children = await calendarConverter.toApplicationData(item, box.context(item as StoredItem, version));
  expect(tagsOutsideVersion(children, version)).toEqual([]);
  return throughWire(children);
}

describe('Calendar converter', () => {
  for (const version of TEST_VERSIONS) {
    it(`round-trips what a ${version} client can send`, async () => {
      const parsed = calendarConverter.fromApplicationData(await render(event, version), version);
      const expected = clientView(event, version);
      expect(parsed.data).toEqual(expected);
      expect([...parsed.present].sort()).toEqual(Object.keys(expected).sort());
    });
  }

  it('writes compact dates and the time-zone blob', async () => {
    const wire = await render(event, '14.1');
    expect(wire.textOf('Calendar:StartTime')).toBe('20260105T090000Z');
    expect(wire.textOf('Calendar:DtStamp')).toBe('20260101T080000Z');
    expect(wire.textOf('Calendar:AppointmentReplyTime')).toBe('20260102T100000Z');
    expect(wire.require('Calendar:Recurrence').textOf('Calendar:Until')).toBe('20260629T090000Z');
    const exception = wire.require('Calendar:Exceptions').all('Calendar:Exception')[1]!;
    expect(exception.textOf('Calendar:ExceptionStartTime')).toBe('20260119T090000Z');
    expect(wire.textOf('Calendar:Timezone')).toMatch(/^xP\/\/\/1cALgAg/);
  });

  it('uses airsyncbase:Location and InstanceId in 16.x, and the string Location before', async () => {
    const located = {
      ...event,
      location: {
        displayName: 'HQ',
        street: '1 Main St',
        city: 'Springfield',
        latitude: 47.5,
        longitude: -122.25,
      },
    };
    const at16 = await render(located, '16.1');
    expect(at16.has('Calendar:Location')).toBe(false);
    expect(at16.require('AirSyncBase:Location').textOf('AirSyncBase:City')).toBe('Springfield');
    expect(calendarConverter.fromApplicationData(at16, '16.1').data.location).toEqual(located.location);
    const exception = at16.require('Calendar:Exceptions').all('Calendar:Exception')[1]!;
    expect(exception.textOf('AirSyncBase:InstanceId')).toBe('2026-01-19T09:00:00.000Z');
    const at14 = await render(located, '14.1');
    expect(at14.textOf('Calendar:Location')).toBe('HQ');
    expect(at14.has('AirSyncBase:Location')).toBe(false);
  });

  it('sends a UTC zone before 16.0 when the event has none, and nothing in 16.x', async () => {
    const { timeZone, ...floating } = event;
    expect((await render(floating, '14.1')).textOf('Calendar:Timezone')).toBe(
      Buffer.alloc(172).toString('base64'),
    );
    expect((await render(floating, '16.1')).has('Calendar:Timezone')).toBe(false);
  });

  it('shows "working elsewhere" as free to clients before 16.0', async () => {
    const elsewhere: CalendarData = { ...event, busyStatus: 4 };
    expect((await render(elsewhere, '14.1')).intOf('Calendar:BusyStatus')).toBe(0);
    expect((await render(elsewhere, '16.1')).intOf('Calendar:BusyStatus')).toBe(4);
  });

  it('reads a minimal 2.5 client Add with calendar:Body', () => {
    const C = eas.Calendar;
    const parsed = calendarConverter.fromApplicationData(
      eas.AirSync.ApplicationData(
        C.StartTime('20260105T090000Z'),
        C.EndTime('2026-01-05T10:00:00.000Z'),
        C.Subject('Dentist'),
        C.Body('bring card'),
        C.Location(''),
      ),
      '2.5',
    );
    expect(parsed.data).toEqual({
      startTime: new Date('2026-01-05T09:00:00Z'),
      endTime: new Date('2026-01-05T10:00:00Z'),
      subject: 'Dentist',
      body: { type: 'plain', data: 'bring card' },
      location: undefined,
    });
    expect(parsed.present.has('location')).toBe(true);
  });

  it('maps Supported tags to fields', () => {
    expect(calendarConverter.fieldOfTag('Calendar', 'Subject')).toBe('subject');
    expect(calendarConverter.fieldOfTag('Calendar', 'Attendees')).toBe('attendees');
    expect(calendarConverter.fieldOfTag('Calendar', 'Timezone')).toBe('timeZone');
    expect(calendarConverter.fieldOfTag('Calendar', 'Location')).toBe('location');
    expect(calendarConverter.fieldOfTag('AirSyncBase', 'Location')).toBe('location');
    expect(calendarConverter.fieldOfTag('Calendar', 'OrganizerEmail')).toBe('organizerEmail');
    expect(calendarConverter.fieldOfTag('AirSyncBase', 'Body')).toBe('body');
    expect(calendarConverter.fieldOfTag('Contacts', 'FirstName')).toBeUndefined();
  });

  it('refuses malformed client data', () => {
    const C = eas.Calendar;
    const bad = [
      C.StartTime('soon'),
      C.Timezone('AAAA'),
      C.BusyStatus('9'),
      C.MeetingStatus('2'),
      C.Attendees(C.Attendee(C.Name('nobody'))),
      C.Exceptions(C.Exception(C.Subject('no key'))),
      C.Recurrence(C.Interval('1')),
    ];
    for (const element of bad) {
      expect(() =>
        calendarConverter.fromApplicationData(eas.AirSync.ApplicationData(element), '14.1'),
      ).toThrow(MalformedItemError);
    }
  });
});
