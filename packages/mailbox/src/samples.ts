/**
 * Sample data for the conformance suite: one realistic item of each class and a user with the usual default
 * folders. Not part of the main entry point.
 */
import type { CalendarData } from './models/calendar.js';
import type { ContactData } from './models/contact.js';
import type { EmailData } from './models/email.js';
import type { Folder } from './models/folder.js';
import type { NoteData } from './models/note.js';
import type { TaskData } from './models/task.js';
import type { MailboxStore, User } from './store.js';

const CRLF = '\r\n';

/** Bytes of the PNG signature, the inline image of {@link sampleMime}. */
export const SAMPLE_PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Bytes of the PDF attachment of {@link sampleMime}. */
export const SAMPLE_PDF = new TextEncoder().encode('%PDF-1.4\n');
export const SAMPLE_PLAIN = 'Héllo wörld ✓ plain\n';
export const SAMPLE_HTML = '<p>Héllo <b>wörld</b> ✓</p>\n';

/**
 * A multipart message: plain and HTML alternatives (with multi-byte characters), an inline image referenced by
 * Content-ID, a PDF attachment and an embedded message.
 */
export function sampleMime(subject = 'Quarterly report'): Uint8Array {
  const lines = [
    'From: "Ada Lovelace" <ada@example.com>',
    'To: "Bob Example" <bob@example.com>',
    `Subject: ${subject}`,
    'Date: Tue, 07 Jan 2025 10:00:00 +0000',
    'Message-ID: <sample@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mix"',
    '',
    '--mix',
    'Content-Type: multipart/related; boundary="rel"',
    '',
    '--rel',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    SAMPLE_PLAIN.trimEnd(),
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    SAMPLE_HTML.trimEnd(),
    '--alt--',
    '--rel',
    'Content-Type: image/png',
    'Content-ID: <logo@example>',
    'Content-Disposition: inline; filename="logo.png"',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--rel--',
    '--mix',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
    '--mix',
    'Content-Type: message/rfc822',
    '',
    'Subject: inner',
    '',
    'inner body',
    '--mix--',
    '',
  ];
  return new TextEncoder().encode(lines.join(CRLF));
}

/** A one-part plain-text message. */
export function plainMime(text: string, subject = 'Note'): Uint8Array {
  const head = ['From: ada@example.com', `Subject: ${subject}`, 'MIME-Version: 1.0'];
  head.push('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: 8bit', '', text);
  return new TextEncoder().encode(head.join(CRLF));
}

export function sampleEmail(overrides: Partial<EmailData> = {}): EmailData {
  return {
    mime: sampleMime(),
    from: { name: 'Ada Lovelace', address: 'ada@example.com' },
    to: [{ name: 'Bob Example', address: 'bob@example.com' }],
    cc: [],
    subject: 'Quarterly report',
    dateReceived: new Date('2025-01-07T10:00:00Z'),
    displayTo: 'Bob Example',
    threadTopic: 'Quarterly report',
    importance: 1,
    read: false,
    categories: ['Work'],
    messageClass: 'IPM.Note',
    internetCPID: 65001,
    contentClass: 'urn:content-classes:message',
    conversationId: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]),
    conversationIndex: new Uint8Array([0x01, 0xd1, 0x2a, 0x3b, 0x4c]),
    ...overrides,
  };
}

export function sampleCalendar(overrides: Partial<CalendarData> = {}): CalendarData {
  const noTransition = {
    year: 0,
    month: 0,
    dayOfWeek: 0,
    day: 0,
    hour: 0,
    minute: 0,
    second: 0,
    milliseconds: 0,
  };
  return {
    timeZone: {
      bias: 0,
      standardName: 'UTC',
      standardDate: noTransition,
      standardBias: 0,
      daylightName: 'UTC',
      daylightDate: noTransition,
      daylightBias: 0,
    },
    startTime: new Date('2025-02-03T09:00:00Z'),
    endTime: new Date('2025-02-03T10:00:00Z'),
    dtStamp: new Date('2025-01-20T08:00:00Z'),
    subject: 'Planning',
    location: { displayName: 'Room 1', city: 'London', latitude: 51.5, longitude: -0.12 },
    body: { type: 'html', data: '<p>Agenda: <i>budget</i> &amp; plans</p>' },
    organizerName: 'Ada Lovelace',
    organizerEmail: 'ada@example.com',
    uid: 'uid-planning-1',
    busyStatus: 2,
    sensitivity: 0,
    reminder: 15,
    meetingStatus: 1,
    attendees: [{ email: 'bob@example.com', name: 'Bob Example', status: 3, type: 1 }],
    categories: ['Work'],
    recurrence: { type: 1, interval: 1, dayOfWeek: 2, occurrences: 10, firstDayOfWeek: 1 },
    exceptions: [
      { exceptionStartTime: new Date('2025-02-10T09:00:00Z'), deleted: true },
      {
        exceptionStartTime: new Date('2025-02-17T09:00:00Z'),
        startTime: new Date('2025-02-17T11:00:00Z'),
        endTime: new Date('2025-02-17T12:00:00Z'),
        subject: 'Planning (moved)',
      },
    ],
    responseRequested: true,
    responseType: 1,
    ...overrides,
  };
}

export function sampleContact(overrides: Partial<ContactData> = {}): ContactData {
  return {
    firstName: 'Grace',
    lastName: 'Hopper',
    fileAs: 'Hopper, Grace',
    companyName: 'Navy',
    jobTitle: 'Rear Admiral',
    email1Address: 'grace@example.com',
    mobilePhoneNumber: '+1 555 0100',
    businessAddress: {
      street: '1 Main St',
      city: 'Arlington',
      state: 'VA',
      postalCode: '22201',
      country: 'USA',
    },
    children: ['none'],
    birthday: new Date('1906-12-09T00:00:00Z'),
    imAddress: 'grace@im.example',
    nickName: 'Amazing Grace',
    picture: new Uint8Array([0xff, 0xd8, 0xff, 0xe0]),
    categories: ['Friends'],
    body: { type: 'plain', data: 'Met at the conference.' },
    ...overrides,
  };
}

export function sampleTask(overrides: Partial<TaskData> = {}): TaskData {
  return {
    subject: 'File expenses',
    body: { type: 'plain', data: 'Before Friday' },
    startDate: new Date('2025-03-01T09:00:00Z'),
    utcStartDate: new Date('2025-03-01T08:00:00Z'),
    dueDate: new Date('2025-03-07T17:00:00Z'),
    utcDueDate: new Date('2025-03-07T16:00:00Z'),
    complete: false,
    importance: 2,
    sensitivity: 0,
    reminderSet: true,
    reminderTime: new Date('2025-03-06T08:00:00Z'),
    recurrence: {
      type: 2,
      dayOfMonth: 7,
      interval: 1,
      start: new Date('2025-03-07T00:00:00Z'),
      regenerate: false,
    },
    categories: ['Admin'],
    ...overrides,
  };
}

export function sampleNote(overrides: Partial<NoteData> = {}): NoteData {
  return {
    subject: 'Ideas',
    body: { type: 'plain', data: 'Line one\nLine <two> & three' },
    messageClass: 'IPM.StickyNote',
    lastModifiedDate: new Date('2025-01-05T12:00:00Z'),
    categories: ['Personal'],
    ...overrides,
  };
}

/** The folders {@link setUpUser} creates. */
export interface SampleFolders {
  inbox: Folder;
  sent: Folder;
  calendar: Folder;
  contacts: Folder;
  tasks: Folder;
  notes: Folder;
}

/** Creates a user (`<name>@example.com`) with Inbox, Sent Items, Calendar, Contacts, Tasks and Notes. */
export async function setUpUser(store: MailboxStore, name: string): Promise<{ user: User } & SampleFolders> {
  const user = await store.createUser({ id: name, primarySmtpAddress: `${name}@example.com` });
  const make = (displayName: string, type: Folder['type']) =>
    store.createFolder(user.id, { parentId: '0', displayName, type });
  return {
    user,
    inbox: await make('Inbox', 2),
    sent: await make('Sent Items', 5),
    calendar: await make('Calendar', 8),
    contacts: await make('Contacts', 9),
    tasks: await make('Tasks', 7),
    notes: await make('Notes', 10),
  };
}
