import { readFileSync } from 'node:fs';
import type { CalendarData, TaskData } from '@easkit/mailbox';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CalendarEntry, durationMs, readICalendar } from './icalendar.js';

const fixture = readFileSync(new URL('../../test/fixtures/import/calendar.ics', import.meta.url), 'utf8');
const options = { userAddresses: ['ada@example.com'], now: new Date('2025-06-01T00:00:00Z') };

function bySource(entries: CalendarEntry[], source: string): CalendarEntry {
  const entry = entries.find((candidate) => candidate.source === source);
  if (!entry) throw new Error(`no entry ${source}: ${entries.map((e) => e.source).join(', ')}`);
  return entry;
}

function calendar(entry: CalendarEntry): CalendarData {
  if (!('item' in entry) || entry.item.class !== 'Calendar')
    throw new Error(`${entry.source} is not an event`);
  return entry.item.data;
}

function task(entry: CalendarEntry): TaskData {
  if (!('item' in entry) || entry.item.class !== 'Tasks') throw new Error(`${entry.source} is not a task`);
  return entry.item.data;
}

describe('readICalendar', () => {
  const entries = readICalendar(fixture, options);

  it('reads a recurring series in its own zone, with a removed and a moved occurrence as exceptions', () => {
    const event = calendar(bySource(entries, 'VEVENT standup-2025@example.com'));
    expect(event).toMatchObject({
      subject: 'Stand-up',
      location: { displayName: 'Room 4, second floor' },
      body: { type: 'plain', data: 'Yesterday, today, blockers.\nKeep it short.' },
      startTime: new Date('2025-01-06T08:30:00Z'),
      endTime: new Date('2025-01-06T08:45:00Z'),
      allDayEvent: false,
      recurrence: { type: 1, interval: 1, dayOfWeek: 2 | 8, occurrences: 20 },
      reminder: 10,
      categories: ['Work', 'Team'],
      meetingStatus: 0,
      uid: 'standup-2025@example.com',
    });
    expect(event.timeZone).toMatchObject({ bias: -60, daylightBias: -60, standardName: 'CET' });
    expect(event.exceptions).toEqual([
      { exceptionStartTime: new Date('2025-01-13T08:30:00Z'), deleted: true },
      {
        exceptionStartTime: new Date('2025-01-15T08:30:00Z'),
        startTime: new Date('2025-01-15T10:00:00Z'),
        endTime: new Date('2025-01-15T10:15:00Z'),
        subject: 'Stand-up (moved)',
        dtStamp: new Date('2025-01-01T08:00:00Z'),
      },
    ]);
  });

  it('reads an all-day event as free time on its day', () => {
    expect(calendar(bySource(entries, 'VEVENT holiday-2025@example.com'))).toMatchObject({
      allDayEvent: true,
      startTime: new Date('2025-05-01T00:00:00Z'),
      endTime: new Date('2025-05-02T00:00:00Z'),
      busyStatus: 0,
      subject: 'Labour Day',
    });
  });

  it("reads a meeting the user was invited to, with the user's own answer and every attendee", () => {
    const event = calendar(bySource(entries, 'VEVENT review-2025@example.com'));
    expect(event).toMatchObject({
      meetingStatus: 3,
      responseType: 2,
      responseRequested: true,
      organizerEmail: 'grace@example.com',
      organizerName: 'Grace Hopper',
      sensitivity: 2,
    });
    expect(event.attendees).toEqual([
      { email: 'grace@example.com', name: 'Grace Hopper', status: 3, type: 1 },
      { email: 'ada@example.com', name: 'Ada Lovelace', status: 2, type: 1 },
      { email: 'room1@example.com', name: 'Room 1', type: 3 },
    ]);
    // The same file read by the organizer: a meeting they organise.
    const organizer = readICalendar(fixture, { ...options, userAddresses: ['GRACE@example.com'] });
    expect(calendar(bySource(organizer, 'VEVENT review-2025@example.com'))).toMatchObject({
      meetingStatus: 1,
      responseType: 1,
    });
  });

  it('reads tasks: local and UTC dates from a TZID, priority, a reminder relative to the due time', () => {
    expect(task(bySource(entries, 'VTODO todo-expenses@example.com'))).toEqual({
      subject: 'File expenses',
      body: { type: 'plain', data: 'Receipts are in the blue folder.' },
      categories: ['Admin'],
      importance: 2,
      complete: false,
      startDate: new Date('2025-03-03T09:00:00Z'),
      utcStartDate: new Date('2025-03-03T08:00:00Z'),
      dueDate: new Date('2025-03-07T17:00:00Z'),
      utcDueDate: new Date('2025-03-07T16:00:00Z'),
      reminderSet: true,
      reminderTime: new Date('2025-03-07T15:00:00Z'),
    });
    expect(task(bySource(entries, 'VTODO todo-done@example.com'))).toEqual({
      subject: 'Book flights',
      importance: 0,
      complete: true,
      dateCompleted: new Date('2025-01-02T12:00:00Z'),
    });
    expect(task(bySource(entries, 'VTODO todo-weekly@example.com'))).toMatchObject({
      dueDate: new Date('2025-01-10T00:00:00Z'),
      recurrence: { type: 1, interval: 1, dayOfWeek: 32, start: new Date('2025-01-10T00:00:00Z') },
    });
  });

  it('reports what it cannot import and carries on', () => {
    expect(bySource(entries, 'VEVENT broken-no-start@example.com')).toEqual({
      source: 'VEVENT broken-no-start@example.com',
      kind: 'Calendar',
      problem: 'VEVENT without DTSTART',
    });
    expect(bySource(entries, 'VJOURNAL')).toMatchObject({
      kind: 'file',
      problem: 'VJOURNAL is not imported',
    });
    expect(entries.filter((entry) => 'item' in entry)).toHaveLength(6);
  });

  it('keeps the complete events of a file cut off in the middle', () => {
    const cut = fixture.slice(0, fixture.indexOf('BEGIN:VEVENT\r\nUID:review-2025') + 40);
    const read = readICalendar(cut, options);
    expect(read.filter((entry) => 'item' in entry).map((entry) => entry.source)).toEqual([
      'VEVENT standup-2025@example.com',
      'VEVENT holiday-2025@example.com',
    ]);
    expect(read).toContainEqual({
      source: 'VEVENT',
      kind: 'Calendar',
      problem: 'VEVENT is cut off (no END line)',
    });
  });

  it('keeps the first occurrence of a rule EAS cannot express, and says so', () => {
    const text = [
      'BEGIN:VCALENDAR',
      'BEGIN:VEVENT',
      'UID:hourly',
      'DTSTART:20250101T090000Z',
      'DTEND:20250101T091000Z',
      'RRULE:FREQ=HOURLY;COUNT=5',
      'SUMMARY:Every hour',
      'END:VEVENT',
      'END:VCALENDAR',
    ].join('\r\n');
    const [entry] = readICalendar(text, options);
    expect(calendar(entry!).recurrence).toBeUndefined();
    expect(entry).toMatchObject({
      warnings: ['its RRULE has no EAS form: only the first occurrence is imported'],
    });
  });

  it('gives events without a UID a stable one, so a second import recognises them', () => {
    const text =
      'BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20250101T090000Z\nSUMMARY:No uid\nEND:VEVENT\nEND:VCALENDAR\n';
    const first = calendar(readICalendar(text, options)[0]!);
    const second = calendar(readICalendar(text, options)[0]!);
    expect(first.uid).toMatch(/^easkit-import-/);
    expect(second.uid).toBe(first.uid);
  });

  it('answers a file that is not iCalendar with one problem', () => {
    expect(readICalendar('\u0000\u0001binary\u00ff', options)).toEqual([
      { source: '', kind: 'file', problem: 'no VCALENDAR in the file' },
    ]);
  });

  it('reads iCalendar durations', () => {
    expect(durationMs('-PT15M')).toBe(-15 * 60_000);
    expect(durationMs('P1DT2H')).toBe(26 * 3_600_000);
    expect(durationMs('P2W')).toBe(14 * 86_400_000);
    expect(durationMs('P')).toBeUndefined();
    expect(durationMs('15 minutes')).toBeUndefined();
  });

  it('never throws, whatever the text (fast-check: arbitrary text and damaged copies of the fixture)', () => {
    const lines = fixture.split('\r\n');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc
            .array(
              fc.constantFrom(...lines, 'BEGIN:VEVENT', 'END:VCALENDAR', 'RRULE:FREQ=YEARLY;BYDAY=99XX'),
              {
                maxLength: 80,
              },
            )
            .map((picked) => ['BEGIN:VCALENDAR', ...picked].join('\r\n')),
          fc.nat({ max: fixture.length }).map((cut) => fixture.slice(0, cut)),
        ),
        (text) => {
          for (const entry of readICalendar(text, options)) {
            expect(typeof entry.source).toBe('string');
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
