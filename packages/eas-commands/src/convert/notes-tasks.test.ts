import type { NoteData, StoredItem, TaskData } from '@easkit/mailbox';
import { eas, type ProtocolVersion } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { TEST_VERSIONS, tagsOutsideVersion, testMailbox, throughWire } from '../../test/convert-helpers.js';
import { notesConverter } from './notes.js';
import { tasksConverter } from './tasks.js';
import { MalformedItemError } from './types.js';

const note: NoteData = {
  subject: 'Shopping',
  body: { type: 'plain', data: 'milk\neggs' },
  messageClass: 'IPM.StickyNote',
  lastModifiedDate: new Date('2026-01-05T09:00:00.000Z'),
  categories: ['Home', 'Errands'],
};

const task: TaskData = {
  subject: 'File taxes',
  body: { type: 'plain', data: 'before April' },
  startDate: new Date('2026-03-01T00:00:00.000Z'),
  utcStartDate: new Date('2026-02-28T23:00:00.000Z'),
  dueDate: new Date('2026-04-15T00:00:00.000Z'),
  utcDueDate: new Date('2026-04-14T22:00:00.000Z'),
  complete: true,
  dateCompleted: new Date('2026-04-01T10:00:00.000Z'),
  importance: 2,
  sensitivity: 1,
  reminderSet: true,
  reminderTime: new Date('2026-04-14T07:00:00.000Z'),
  categories: ['Admin'],
  recurrence: {
    type: 5,
    interval: 1,
    dayOfMonth: 15,
    monthOfYear: 4,
    start: new Date('2026-04-15T00:00:00.000Z'),
    until: new Date('2030-04-15T00:00:00.000Z'),
    regenerate: false,
    deadOccur: false,
  },
  ordinalDate: new Date('2026-01-05T09:00:00.000Z'),
  subOrdinalDate: '5000000000000000000',
};

async function render<C extends 'Notes' | 'Tasks'>(
  cls: C,
  data: C extends 'Notes' ? NoteData : TaskData,
  version: ProtocolVersion,
) {
  const box = await testMailbox();
  const item = await box.add({ class: cls, data } as never);
  const converter = cls === 'Notes' ? notesConverter : tasksConverter;
  const children = await converter.toApplicationData(item as never, box.context(item as StoredItem, version));
  expect(tagsOutsideVersion(children, version)).toEqual([]);
  return throughWire(children);
}

describe('Notes converter', () => {
  for (const version of ['14.1', '16.1'] as const) {
    it(`round-trips every field at ${version}`, async () => {
      const wire = await render('Notes', note, version);
      const parsed = notesConverter.fromApplicationData(wire, version);
      expect(parsed.data).toEqual(note);
      expect([...parsed.present].sort()).toEqual(Object.keys(note).sort());
      expect(wire.textOf('Notes:LastModifiedDate')).toBe('2026-01-05T09:00:00.000Z');
    });
  }

  it('does not exist before 14.0', async () => {
    await expect(render('Notes', note, '12.1')).rejects.toThrow(/14\.0/);
    expect(() => notesConverter.fromApplicationData(eas.AirSync.ApplicationData(), '12.1')).toThrow(
      MalformedItemError,
    );
  });

  it('reads an empty element as a cleared field', () => {
    const parsed = notesConverter.fromApplicationData(
      eas.AirSync.ApplicationData(eas.Notes.Subject('')),
      '14.1',
    );
    expect(parsed.present.has('subject')).toBe(true);
    expect(parsed.data.subject).toBeUndefined();
  });

  it('maps Supported tags to fields', () => {
    expect(notesConverter.fieldOfTag('Notes', 'Subject')).toBe('subject');
    expect(notesConverter.fieldOfTag('AirSyncBase', 'Body')).toBe('body');
    expect(notesConverter.fieldOfTag('Notes', 'Categories')).toBe('categories');
    expect(notesConverter.fieldOfTag('Email', 'Subject')).toBeUndefined();
  });
});

describe('Tasks converter', () => {
  for (const version of TEST_VERSIONS) {
    it(`round-trips every field at ${version}`, async () => {
      const wire = await render('Tasks', task, version);
      const parsed = tasksConverter.fromApplicationData(wire, version);
      // OrdinalDate and SubOrdinalDate have no token before 12.0.
      const { ordinalDate, subOrdinalDate, ...before12 } = task;
      const expected = version === '2.5' ? before12 : task;
      expect(parsed.data).toEqual(expected);
      expect([...parsed.present].sort()).toEqual(Object.keys(expected).sort());
      expect(wire.textOf('Tasks:DueDate')).toBe('2026-04-15T00:00:00.000Z');
    });
  }

  it('sends the 14.x recurrence fields only from their versions', async () => {
    const lunar = {
      ...task,
      recurrence: { ...task.recurrence!, calendarType: 15, isLeapMonth: true, firstDayOfWeek: 1 },
    };
    const at12 = (await render('Tasks', lunar, '12.1')).require('Tasks:Recurrence');
    expect(at12.has('CalendarType')).toBe(false);
    expect(at12.has('FirstDayOfWeek')).toBe(false);
    const at14 = (await render('Tasks', lunar, '14.0')).require('Tasks:Recurrence');
    expect(at14.intOf('CalendarType')).toBe(15);
    expect(at14.has('FirstDayOfWeek')).toBe(false);
    const at141 = (await render('Tasks', lunar, '14.1')).require('Tasks:Recurrence');
    expect(at141.intOf('FirstDayOfWeek')).toBe(1);
    expect(tasksConverter.fromApplicationData(await render('Tasks', lunar, '16.1'), '16.1').data).toEqual(
      lunar,
    );
  });

  it('uses the 2.5 Tasks:Body in 2.5 and airsyncbase:Body later', async () => {
    expect((await render('Tasks', task, '2.5')).textOf('Tasks:Body')).toBe('before April');
    expect((await render('Tasks', task, '12.1')).has('Tasks:Body')).toBe(false);
    expect((await render('Tasks', task, '12.1')).has('AirSyncBase:Body')).toBe(true);
  });

  it('refuses malformed client data', () => {
    const T = eas.Tasks;
    const bad = [
      eas.AirSync.ApplicationData(T.Complete('maybe')),
      eas.AirSync.ApplicationData(T.DueDate('next week')),
      eas.AirSync.ApplicationData(T.Importance('7')),
      eas.AirSync.ApplicationData(T.Recurrence(T.Type('4'))),
      eas.AirSync.ApplicationData(T.Recurrence(T.Interval('x'), T.Type('1'))),
    ];
    for (const data of bad)
      expect(() => tasksConverter.fromApplicationData(data, '14.1')).toThrow(MalformedItemError);
  });

  it('reads an empty Recurrence as removing the recurrence', () => {
    const parsed = tasksConverter.fromApplicationData(
      eas.AirSync.ApplicationData(eas.Tasks.Recurrence()),
      '14.1',
    );
    expect(parsed.present.has('recurrence')).toBe(true);
    expect(parsed.data.recurrence).toBeUndefined();
  });
});
