import fc from 'fast-check';
import ICAL from 'ical.js';
import { describe, expect, it } from 'vitest';
import { easToVtimezone, vtimezoneToEas } from './ical-time.js';
import {
  buildReply,
  globalObjectId,
  InvalidInvitationError,
  parseInvitation,
  recurrenceToRrule,
  rruleToRecurrence,
  seriesOccursAt,
  uidOfGlobalObjectId,
} from './invitation.js';

const NEW_YORK = [
  'BEGIN:VCALENDAR',
  'BEGIN:VTIMEZONE',
  'TZID:America/New_York',
  'BEGIN:DAYLIGHT',
  'DTSTART:20070311T020000',
  'TZOFFSETFROM:-0500',
  'TZOFFSETTO:-0400',
  'TZNAME:EDT',
  'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU',
  'END:DAYLIGHT',
  'BEGIN:STANDARD',
  'DTSTART:20071104T020000',
  'TZOFFSETFROM:-0400',
  'TZOFFSETTO:-0500',
  'TZNAME:EST',
  'RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU',
  'END:STANDARD',
  'END:VTIMEZONE',
  'END:VCALENDAR',
].join('\r\n');

function rule(text: string, start = '20250707T090000') {
  return rruleToRecurrence(
    ICAL.Recur.fromString(text),
    ICAL.Time.fromDateTimeString(
      `${start.slice(0, 4)}-${start.slice(4, 6)}-${start.slice(6, 8)}T${start.slice(9, 11)}:${start.slice(11, 13)}:00`,
    ),
  );
}

describe('RRULE to EAS recurrence', () => {
  it('maps the shapes clients send', () => {
    expect(rule('FREQ=DAILY;INTERVAL=2;COUNT=5')).toEqual({ type: 0, interval: 2, occurrences: 5 });
    expect(rule('FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20251231T235959Z')).toEqual({
      type: 1,
      interval: 1,
      dayOfWeek: 2 | 8 | 32,
      until: new Date('2025-12-31T23:59:59Z'),
    });
    expect(rule('FREQ=WEEKLY')).toMatchObject({ type: 1, dayOfWeek: 2 });
    expect(rule('FREQ=MONTHLY;BYMONTHDAY=15')).toMatchObject({ type: 2, dayOfMonth: 15 });
    expect(rule('FREQ=MONTHLY;BYDAY=-1FR')).toMatchObject({ type: 3, dayOfWeek: 32, weekOfMonth: 5 });
    expect(rule('FREQ=MONTHLY;BYDAY=TU;BYSETPOS=2')).toMatchObject({ type: 3, dayOfWeek: 4, weekOfMonth: 2 });
    expect(rule('FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1')).toMatchObject({
      type: 5,
      monthOfYear: 3,
      dayOfMonth: 1,
    });
    expect(rule('FREQ=YEARLY;BYMONTH=11;BYDAY=4TH')).toMatchObject({
      type: 6,
      monthOfYear: 11,
      weekOfMonth: 4,
    });
    expect(rule('FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR')).toMatchObject({ type: 1, dayOfWeek: 62 });
    expect(rule('FREQ=DAILY;COUNT=99999999')).toMatchObject({ occurrences: 999 });
  });

  it('gives up on what EAS cannot express', () => {
    expect(rule('FREQ=HOURLY;COUNT=3')).toBeUndefined();
    expect(rule('FREQ=MONTHLY;BYMONTHDAY=1,15')).toBeUndefined();
    expect(rule('FREQ=YEARLY;BYWEEKNO=20')).toBeUndefined();
  });

  it('round-trips through recurrenceToRrule', () => {
    for (const text of [
      'FREQ=WEEKLY;BYDAY=MO,TH;COUNT=8',
      'FREQ=MONTHLY;BYDAY=-1FR',
      'FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=1',
    ]) {
      const eas = rule(text)!;
      const back = rruleToRecurrence(
        recurrenceToRrule(eas),
        ICAL.Time.fromDateTimeString('2025-07-07T09:00:00'),
      );
      expect(back).toEqual(eas);
    }
  });
});

describe('time zones', () => {
  it('turns a VTIMEZONE into the EAS rule and back', () => {
    const zone = new ICAL.Component(ICAL.parse(NEW_YORK) as unknown[]).getFirstSubcomponent('vtimezone')!;
    const eas = vtimezoneToEas(zone);
    expect(eas).toMatchObject({ bias: 300, daylightBias: -60, standardName: 'EST', daylightName: 'EDT' });
    expect(eas.standardDate).toMatchObject({ month: 11, dayOfWeek: 0, day: 1, hour: 2 });
    expect(eas.daylightDate).toMatchObject({ month: 3, dayOfWeek: 0, day: 2, hour: 2 });
    const again = vtimezoneToEas(easToVtimezone(eas));
    expect({ ...again, standardName: '', daylightName: '' }).toEqual({
      ...eas,
      standardName: '',
      daylightName: '',
    });
  });

  it('expands a stored series in its own zone across a DST change', () => {
    const zone = vtimezoneToEas(
      new ICAL.Component(ICAL.parse(NEW_YORK) as unknown[]).getFirstSubcomponent('vtimezone')!,
    );
    const series = {
      startTime: new Date('2025-10-27T13:00:00Z'), // Monday 09:00 EDT
      endTime: new Date('2025-10-27T14:00:00Z'),
      timeZone: zone,
      recurrence: { type: 1 as const, dayOfWeek: 2, occurrences: 4 },
    };
    expect(seriesOccursAt(series, new Date('2025-11-03T14:00:00Z'))).toBe(true); // 09:00 EST
    expect(seriesOccursAt(series, new Date('2025-11-03T13:00:00Z'))).toBe(false);
    expect(seriesOccursAt(series, new Date('2025-11-24T14:00:00Z'))).toBe(false); // a fifth occurrence
  });
});

describe('GlobalObjId', () => {
  it('wraps a plain UID and reads it back; decodes an Outlook hex UID', () => {
    const value = globalObjectId('abc-123@example.com');
    expect(uidOfGlobalObjectId(value)).toBe('abc-123@example.com');
    const outlook = `040000008200E00074C5B7101A82E00800000000${'0'.repeat(32)}${'10000000'}${'AB'.repeat(16)}`;
    expect(Buffer.from(globalObjectId(outlook), 'base64').toString('hex').toUpperCase()).toBe(outlook);
    expect(uidOfGlobalObjectId(globalObjectId(outlook))).toBe(outlook);
  });
});

describe('parsing and building', () => {
  it('builds a REPLY that ical.js reads back', () => {
    const text = buildReply({
      method: 'REPLY',
      uid: 'u1',
      sequence: 2,
      recurrenceId: new Date('2025-07-14T07:00:00Z'),
      organizer: { address: 'o@x.example', name: 'Org' },
      attendee: { address: 'a@y.example' },
      partstat: 'DECLINED',
      comment: 'Line one,\nline; two',
      now: new Date('2025-07-01T00:00:00Z'),
    });
    const invitation = parseInvitation(text);
    expect(invitation.method).toBe('REPLY');
    expect(invitation.instances[0]).toMatchObject({
      uid: 'u1',
      sequence: 2,
      comment: 'Line one,\nline; two',
    });
    expect(invitation.instances[0]!.attendees[0]).toMatchObject({
      email: 'a@y.example',
      partstat: 'DECLINED',
    });
  });

  it('reads any text either as an invitation or as InvalidInvitationError, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (garbage) => {
        try {
          parseInvitation(`BEGIN:VCALENDAR\r\n${garbage}\r\nEND:VCALENDAR`);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidInvitationError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
