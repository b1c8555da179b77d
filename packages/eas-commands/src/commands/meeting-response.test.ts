import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CalendarData, EmailData, StoredItem } from '@easkit/mailbox';
import { eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import fc from 'fast-check';
import ICAL from 'ical.js';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authenticateTestUsers,
  expectLibwbxmlReadsAll,
  type TestDevice,
  TestServer,
  USERS,
} from '../../test/harness.js';
import { deliverMeetingMail } from '../calendar/delivery.js';
import { findCalendarPart } from '../calendar/mime-parts.js';
import { createEasHandler } from '../http/handler.js';
import { createNodeListener } from '../http/node-adapter.js';
import { createEasCommands } from './index.js';
import { smtpSubmitter } from './mail-submitter.js';
import type { MeetingResponseOptions } from './meeting-response.js';

const { AirSync: AS, AirSyncBase: ASB, MeetingResponse: MR } = eas;
const ALICE: string = USERS.alice.id;
const ORGANIZER = 'carol@external.example';

/** A real SMTP server on 127.0.0.1 standing in for the organizer's mail system. */
class SmtpSink {
  readonly received: { recipients: string[]; message: string }[] = [];
  #server: SMTPServer | undefined;
  port = 0;

  async start(): Promise<this> {
    this.#server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.received.push({
            recipients: session.envelope.rcptTo.map((entry) => entry.address),
            message: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', () => resolve()));
    this.port = (this.#server.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server?.close(() => resolve()));
  }
}

/** The harness's server with a submitter relaying to the sink, and MeetingResponse options. */
class MeetingServer extends TestServer {
  readonly submitter;
  #http: Server | undefined;

  constructor(
    smtpPort: number,
    readonly meetingOptions: MeetingResponseOptions = {},
  ) {
    super();
    this.submitter = smtpSubmitter({ host: '127.0.0.1', port: smtpPort, timeoutMs: 5000 });
  }

  override async start(): Promise<this> {
    await super.start();
    await super.stop();
    const handler = createEasHandler({
      authenticate: authenticateTestUsers,
      commands: createEasCommands(
        { mailbox: this.mailbox, syncState: this.syncState, submitter: this.submitter },
        { meetingResponse: this.meetingOptions },
      ),
    });
    this.#http = createServer(createNodeListener({ handler, maxBodyBytes: 1024 * 1024 }));
    await new Promise<void>((resolve) => this.#http!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.#http.address() as AddressInfo).port}`;
    return this;
  }

  override async stop(): Promise<void> {
    this.submitter.close();
    this.#http?.closeAllConnections();
    await new Promise((resolve) => this.#http?.close(resolve));
  }

  folderId(name: string, user: 'alice' | 'bob' = 'alice'): string {
    return this.folders.get(`${user}:${name}`)!.id;
  }

  async items(name: string, user: 'alice' | 'bob' = 'alice'): Promise<StoredItem[]> {
    const page = await this.mailbox.changes(USERS[user].id, this.folderId(name, user), 0, 1000);
    return page.changes.flatMap((change) => (change.kind === 'delete' ? [] : [change.item]));
  }

  async calendar(uid: string): Promise<(StoredItem & { class: 'Calendar' }) | undefined> {
    return (await this.items('Calendar')).find(
      (item): item is StoredItem & { class: 'Calendar' } =>
        item.class === 'Calendar' && item.data.uid === uid,
    );
  }
}

// --- iCalendar fixtures written for this test --------------------------------------------------------------

const BERLIN = [
  'BEGIN:VTIMEZONE',
  'TZID:W. Europe Standard Time',
  'BEGIN:STANDARD',
  'DTSTART:16010101T030000',
  'TZOFFSETFROM:+0200',
  'TZOFFSETTO:+0100',
  'RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10',
  'END:STANDARD',
  'BEGIN:DAYLIGHT',
  'DTSTART:16010101T020000',
  'TZOFFSETFROM:+0100',
  'TZOFFSETTO:+0200',
  'RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3',
  'END:DAYLIGHT',
  'END:VTIMEZONE',
];

interface EventSpec {
  uid: string;
  sequence?: number;
  summary?: string;
  start?: string;
  end?: string;
  rrule?: string;
  exdate?: string;
  recurrenceId?: string;
  extra?: string[];
  attendee?: string;
}

function vevent(spec: EventSpec): string[] {
  const zoned = (value: string) =>
    value.endsWith('Z') ? `:${value}` : `;TZID=W. Europe Standard Time:${value}`;
  return [
    'BEGIN:VEVENT',
    `UID:${spec.uid}`,
    `SEQUENCE:${spec.sequence ?? 0}`,
    'DTSTAMP:20250601T120000Z',
    ...(spec.recurrenceId ? [`RECURRENCE-ID${zoned(spec.recurrenceId)}`] : []),
    ...(spec.start ? [`DTSTART${zoned(spec.start)}`] : []),
    ...(spec.end ? [`DTEND${zoned(spec.end)}`] : []),
    ...(spec.rrule ? [`RRULE:${spec.rrule}`] : []),
    ...(spec.exdate ? [`EXDATE${zoned(spec.exdate)}`] : []),
    `SUMMARY:${spec.summary ?? 'Planning'}`,
    'LOCATION:Room 4',
    `ORGANIZER;CN=Carol Organizer:mailto:${ORGANIZER}`,
    `ATTENDEE;CN=Alice;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:${spec.attendee ?? ALICE}`,
    'ATTENDEE;CN=Dave;ROLE=OPT-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:dave@external.example',
    ...(spec.extra ?? []),
    'END:VEVENT',
  ];
}

function calendarText(method: string, events: EventSpec[], zone = true): string {
  return [
    'BEGIN:VCALENDAR',
    'PRODID:-//Example Corp//Calendar 1.0//EN',
    'VERSION:2.0',
    `METHOD:${method}`,
    ...(zone ? BERLIN : []),
    ...events.flatMap(vevent),
    'END:VCALENDAR',
    '',
  ].join('\r\n');
}

function invitationMail(
  ics: string,
  method: string,
  subject = 'Invitation: Planning',
  to = ALICE,
): Uint8Array {
  const boundary = 'b1_meeting';
  return new TextEncoder().encode(
    [
      `From: Carol Organizer <${ORGANIZER}>`,
      `To: ${to}`,
      `Subject: ${subject}`,
      'Date: Sun, 01 Jun 2025 12:00:00 +0000',
      'Message-ID: <invite-1@external.example>',
      'MIME-Version: 1.0',
      `Content-Type: multipart/alternative; boundary="${boundary}"`,
      '',
      `--${boundary}`,
      'Content-Type: text/plain; charset=utf-8',
      '',
      'You are invited.',
      `--${boundary}`,
      `Content-Type: text/calendar; charset=utf-8; method=${method}`,
      'Content-Transfer-Encoding: base64',
      '',
      ...(Buffer.from(ics, 'utf8')
        .toString('base64')
        .match(/.{1,76}/g) ?? []),
      `--${boundary}--`,
      '',
    ].join('\r\n'),
  );
}

// --- EAS helpers ------------------------------------------------------------------------------------------

async function syncAll(device: TestDevice, collectionId: string): Promise<WbxmlElement[]> {
  const options = device.version === '2.5' ? [] : [AS.Options(ASB.BodyPreference(ASB.Type(1)))];
  const first = await device.send(
    'Sync',
    AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(collectionId), options))),
  );
  const key = first.body!.child('Collections')!.child('Collection')!.textOf('SyncKey')!;
  const second = await device.send(
    'Sync',
    AS.Sync(
      AS.Collections(
        AS.Collection(AS.SyncKey(key), AS.CollectionId(collectionId), AS.WindowSize(100), options),
      ),
    ),
  );
  return second.body?.child('Collections')?.child('Collection')?.child('Commands')?.all('AirSync:Add') ?? [];
}

interface RequestSpec {
  response: number;
  collectionId?: string;
  requestId?: string;
  instanceId?: string;
  sendResponse?: (WbxmlElement | null)[] | true;
}

async function meetingResponse(device: TestDevice, ...requests: RequestSpec[]) {
  const reply = await device.send(
    'MeetingResponse',
    MR.MeetingResponse(
      requests.map((request) =>
        MR.Request(
          MR.UserResponse(request.response),
          request.collectionId !== undefined ? MR.CollectionId(request.collectionId) : null,
          request.requestId !== undefined ? MR.RequestId(request.requestId) : null,
          request.instanceId !== undefined ? MR.InstanceId(request.instanceId) : null,
          request.sendResponse === true
            ? MR.SendResponse()
            : request.sendResponse
              ? MR.SendResponse(request.sendResponse)
              : null,
        ),
      ),
    ),
  );
  expect(reply.status).toBe(200);
  return reply.body!.all('MeetingResponse:Result').map((result) => ({
    requestId: result.textOf('MeetingResponse:RequestId'),
    status: result.intOf('MeetingResponse:Status'),
    calendarId: result.textOf('MeetingResponse:CalendarId'),
    instanceId: result.textOf('MeetingResponse:InstanceId'),
  }));
}

/** The VEVENT of the iCalendar part of a captured message, read with ical.js. */
function replyEvent(message: string) {
  const match =
    /Content-Type: text\/calendar;[^\r\n]*\r\nContent-Transfer-Encoding: base64\r\n\r\n([A-Za-z0-9+/=\r\n]+)/.exec(
      message,
    );
  expect(match).not.toBeNull();
  const text = Buffer.from(match![1]!.replace(/\s/g, ''), 'base64').toString('utf8');
  const calendar = new ICAL.Component(ICAL.parse(text) as unknown[]);
  const event = calendar.getFirstSubcomponent('vevent')!;
  const attendee = event.getFirstProperty('attendee')!;
  const recurrenceId = event.getFirstPropertyValue('recurrence-id') as InstanceType<typeof ICAL.Time> | null;
  const start = event.getFirstPropertyValue('dtstart') as InstanceType<typeof ICAL.Time> | null;
  return {
    method: String(calendar.getFirstPropertyValue('method')),
    uid: String(event.getFirstPropertyValue('uid')),
    sequence: Number(event.getFirstPropertyValue('sequence') ?? 0),
    attendee: String(attendee.getFirstValue()),
    partstat: String(attendee.getFirstParameter('partstat')),
    organizer: String(event.getFirstPropertyValue('organizer')),
    recurrenceId: recurrenceId ? recurrenceId.toJSDate().toISOString() : undefined,
    start: start ? start.toJSDate().toISOString() : undefined,
    comment: event.getFirstPropertyValue('comment') as string | null,
  };
}

// --- Tests ------------------------------------------------------------------------------------------------

const sink = new SmtpSink();
let server: MeetingServer;

beforeAll(async () => {
  await sink.start();
  server = await new MeetingServer(sink.port, { replyBefore16: true }).start();
});

afterAll(async () => {
  await server.stop();
  await sink.stop();
  await expectLibwbxmlReadsAll(server.responses, 20);
});

async function deliver(ics: string, method: string, user: string = ALICE, subject?: string) {
  return deliverMeetingMail(server.mailbox, user, invitationMail(ics, method, subject, user));
}

describe.each(['12.1', '14.1', '16.1'] as const)(
  'an external invitation at %s',
  (version: ProtocolVersion) => {
    const uid = `single-${version}@external.example`;

    it('arrives as a meeting request, is accepted from the Inbox, and the organizer gets a REPLY', async () => {
      const delivered = await deliver(
        calendarText('REQUEST', [{ uid, sequence: 1, start: '20250707T090000', end: '20250707T100000' }]),
        'REQUEST',
      );
      expect(delivered.outcome).toBe('request');
      const tentative = await server.calendar(uid);
      expect(tentative?.data).toMatchObject({ responseType: 5, meetingStatus: 3, busyStatus: 1 });
      expect(tentative?.data.startTime.toISOString()).toBe('2025-07-07T07:00:00.000Z');

      const device = server.device('alice', `mr-${version.replace('.', '')}`, version);
      const inbox = server.folderId('Inbox');
      const adds = await syncAll(device, inbox);
      const add = adds.find((entry) => entry.textOf('ServerId') === delivered.message.id)!;
      const data = add.child('ApplicationData')!;
      expect(data.textOf('Email:MessageClass')).toBe('IPM.Schedule.Meeting.Request');
      const meeting = data.child('Email:MeetingRequest')!;
      expect(meeting.textOf('Email:StartTime')).toBe('2025-07-07T07:00:00.000Z');
      expect(meeting.textOf('Email:Organizer')).toContain(ORGANIZER);
      if (version === '16.1') {
        expect(meeting.textOf('Calendar:UID')).toBe(uid);
      } else {
        expect(Buffer.from(meeting.textOf('Email:GlobalObjId')!, 'base64').toString('latin1')).toContain(uid);
      }
      if (version !== '12.1') expect(meeting.intOf('Email2:MeetingMessageType')).toBe(1);

      const before = sink.received.length;
      const [result] = await meetingResponse(device, {
        response: 1,
        collectionId: inbox,
        requestId: delivered.message.id,
        ...(version === '16.1' ? { sendResponse: true as const } : {}),
      });
      expect(result).toMatchObject({ requestId: delivered.message.id, status: 1, calendarId: tentative!.id });
      const accepted = await server.calendar(uid);
      expect(accepted?.data).toMatchObject({ responseType: 3, busyStatus: 2, meetingStatus: 3 });
      expect(accepted?.data.appointmentReplyTime).toBeInstanceOf(Date);

      // The answered request leaves the Inbox.
      expect((await server.items('Inbox')).some((item) => item.id === delivered.message.id)).toBe(false);
      expect(
        (await server.items('Deleted Items')).some(
          (item) => item.class === 'Email' && item.data.subject === 'Invitation: Planning',
        ),
      ).toBe(true);

      expect(sink.received.length).toBe(before + 1);
      const sent = sink.received.at(-1)!;
      expect(sent.recipients).toEqual([ORGANIZER]);
      const reply = replyEvent(sent.message);
      expect(reply).toMatchObject({
        method: 'REPLY',
        uid,
        sequence: 1,
        attendee: `mailto:${ALICE}`,
        partstat: 'ACCEPTED',
        organizer: `mailto:${ORGANIZER}`,
        recurrenceId: undefined,
      });

      // The device's calendar gets the meeting.
      const calendarAdds = await syncAll(device, server.folderId('Calendar'));
      const event = calendarAdds.find((entry) => entry.textOf('ServerId') === tentative!.id)!;
      expect(event.child('ApplicationData')!.textOf('Calendar:ResponseType') ?? '3').toBe('3');
    });
  },
);

describe('answers', () => {
  it('tentative and decline from the Inbox (16.1), with a note in SendResponse', async () => {
    const device = server.device('alice', 'answers161', '16.1');
    const inbox = server.folderId('Inbox');
    const first = await deliver(
      calendarText('REQUEST', [{ uid: 'tent@x', start: '20250708T090000', end: '20250708T093000' }]),
      'REQUEST',
    );
    const second = await deliver(
      calendarText('REQUEST', [{ uid: 'decl@x', start: '20250709T090000', end: '20250709T093000' }]),
      'REQUEST',
    );
    const before = sink.received.length;
    const results = await meetingResponse(
      device,
      { response: 2, collectionId: inbox, requestId: first.message.id, sendResponse: true },
      {
        response: 3,
        collectionId: inbox,
        requestId: second.message.id,
        sendResponse: [ASB.Body(ASB.Type(1), ASB.Data('Sorry, I am away that day.'))],
      },
    );
    expect(results[0]).toMatchObject({ status: 1 });
    expect(results[0]!.calendarId).toBeDefined();
    expect(results[1]).toMatchObject({ status: 1, calendarId: undefined });
    expect((await server.calendar('tent@x'))?.data).toMatchObject({ responseType: 2, busyStatus: 1 });
    expect(await server.calendar('decl@x')).toBeUndefined();
    const replies = sink.received.slice(before).map((entry) => replyEvent(entry.message));
    expect(replies.map((reply) => [reply.uid, reply.partstat])).toEqual([
      ['tent@x', 'TENTATIVE'],
      ['decl@x', 'DECLINED'],
    ]);
    expect(replies[1]!.comment).toBe('Sorry, I am away that day.');
  });

  it('16.x without SendResponse updates the calendar and sends nothing', async () => {
    const device = server.device('alice', 'quiet161', '16.1');
    const delivered = await deliver(
      calendarText('REQUEST', [{ uid: 'quiet@x', start: '20250710T090000', end: '20250710T093000' }]),
      'REQUEST',
    );
    const before = sink.received.length;
    const [result] = await meetingResponse(device, {
      response: 1,
      collectionId: server.folderId('Inbox'),
      requestId: delivered.message.id,
    });
    expect(result!.status).toBe(1);
    expect((await server.calendar('quiet@x'))?.data.responseType).toBe(3);
    expect(sink.received.length).toBe(before);
  });

  it('from the Calendar folder (14.1)', async () => {
    const device = server.device('alice', 'fromcal141', '14.1');
    await deliver(
      calendarText('REQUEST', [{ uid: 'cal@x', start: '20250711T090000', end: '20250711T093000' }]),
      'REQUEST',
    );
    const item = (await server.calendar('cal@x'))!;
    const before = sink.received.length;
    const [result] = await meetingResponse(device, {
      response: 1,
      collectionId: server.folderId('Calendar'),
      requestId: item.id,
    });
    expect(result).toMatchObject({ status: 1, calendarId: item.id });
    expect((await server.calendar('cal@x'))?.data.responseType).toBe(3);
    expect(replyEvent(sink.received.at(-1)!.message)).toMatchObject({ uid: 'cal@x', partstat: 'ACCEPTED' });
    expect(sink.received.length).toBe(before + 1);
  });

  it('before 16.0 the server leaves the reply to the client unless configured otherwise', async () => {
    const quiet = await new MeetingServer(sink.port).start();
    try {
      await deliverMeetingMail(
        quiet.mailbox,
        ALICE,
        invitationMail(
          calendarText('REQUEST', [{ uid: 'legacy@x', start: '20250712T090000', end: '20250712T093000' }]),
          'REQUEST',
        ),
      );
      const item = (await quiet.calendar('legacy@x'))!;
      const before = sink.received.length;
      const [result] = await meetingResponse(quiet.device('alice', 'legacy141', '14.1'), {
        response: 1,
        collectionId: quiet.folderId('Calendar'),
        requestId: item.id,
      });
      expect(result!.status).toBe(1);
      expect(sink.received.length).toBe(before);
    } finally {
      await quiet.stop();
    }
  });

  it('16.1 proposes a new time: a COUNTER with the proposed times', async () => {
    const device = server.device('alice', 'propose161', '16.1');
    const delivered = await deliver(
      calendarText('REQUEST', [
        { uid: 'counter@x', sequence: 2, start: '20250714T140000', end: '20250714T150000' },
      ]),
      'REQUEST',
    );
    const inbox = server.folderId('Inbox');
    const [half] = await meetingResponse(device, {
      response: 2,
      collectionId: inbox,
      requestId: delivered.message.id,
      sendResponse: [MR.ProposedStartTime('20250715T120000Z')],
    });
    expect(half!.status).toBe(2);
    const [result] = await meetingResponse(device, {
      response: 2,
      collectionId: inbox,
      requestId: delivered.message.id,
      sendResponse: [MR.ProposedStartTime('20250715T120000Z'), MR.ProposedEndTime('20250715T130000Z')],
    });
    expect(result!.status).toBe(1);
    const counter = replyEvent(sink.received.at(-1)!.message);
    expect(counter).toMatchObject({
      method: 'COUNTER',
      uid: 'counter@x',
      sequence: 2,
      partstat: 'TENTATIVE',
      start: '2025-07-15T12:00:00.000Z',
    });
  });
});

describe('recurring meetings in the organizer zone', () => {
  const uid = 'weekly@external.example';
  const series: EventSpec = {
    uid,
    sequence: 0,
    summary: 'Weekly sync',
    start: '20250707T090000',
    end: '20250707T093000',
    rrule: 'FREQ=WEEKLY;BYDAY=MO;COUNT=10',
    exdate: '20250728T090000',
  };
  const moved: EventSpec = {
    uid,
    sequence: 0,
    summary: 'Weekly sync (moved)',
    recurrenceId: '20250714T090000',
    start: '20250714T110000',
    end: '20250714T113000',
  };

  it('becomes a series with its exceptions; one occurrence is answered with InstanceId', async () => {
    const delivered = await deliver(calendarText('REQUEST', [series, moved]), 'REQUEST');
    expect(delivered.outcome).toBe('request');
    const item = (await server.calendar(uid))!;
    const data: CalendarData = item.data;
    expect(data.recurrence).toMatchObject({ type: 1, dayOfWeek: 2, occurrences: 10 });
    expect(data.timeZone).toMatchObject({ bias: -60, daylightBias: -60 });
    expect(data.timeZone?.standardDate).toMatchObject({ month: 10, dayOfWeek: 0, day: 5, hour: 3 });
    expect(data.timeZone?.daylightDate).toMatchObject({ month: 3, dayOfWeek: 0, day: 5, hour: 2 });
    expect(data.startTime.toISOString()).toBe('2025-07-07T07:00:00.000Z');
    const exceptions = Object.fromEntries(
      (data.exceptions ?? []).map((entry) => [entry.exceptionStartTime.toISOString(), entry]),
    );
    expect(exceptions['2025-07-14T07:00:00.000Z']).toMatchObject({ subject: 'Weekly sync (moved)' });
    expect(exceptions['2025-07-14T07:00:00.000Z']!.startTime!.toISOString()).toBe('2025-07-14T09:00:00.000Z');
    expect(exceptions['2025-07-28T07:00:00.000Z']).toMatchObject({ deleted: true });

    const device = server.device('alice', 'weekly161', '16.1');
    const inboxAdds = await syncAll(device, server.folderId('Inbox'));
    const request = inboxAdds.find((entry) => entry.textOf('ServerId') === delivered.message.id)!;
    const meeting = request.child('ApplicationData')!.child('Email:MeetingRequest')!;
    expect(meeting.intOf('Email:InstanceType')).toBe(1);
    expect(meeting.child('Email:Recurrences')?.child('Email:Recurrence')?.intOf('Email:Type')).toBe(1);

    const calendarAdds = await syncAll(device, server.folderId('Calendar'));
    const synced = calendarAdds.find((entry) => entry.textOf('ServerId') === item.id)!;
    const instanceIds = synced
      .child('ApplicationData')!
      .child('Calendar:Exceptions')!
      .all('Calendar:Exception')
      .map((entry) => entry.textOf('AirSyncBase:InstanceId'));
    expect(instanceIds).toContain('2025-07-14T07:00:00.000Z');

    const calendarId = server.folderId('Calendar');
    const [one] = await meetingResponse(device, {
      response: 2,
      collectionId: calendarId,
      requestId: item.id,
      instanceId: '2025-07-21T07:00:00.000Z',
      sendResponse: true,
    });
    expect(one).toMatchObject({ status: 1, calendarId: item.id, instanceId: '2025-07-21T07:00:00.000Z' });
    const reply = replyEvent(sink.received.at(-1)!.message);
    expect(reply).toMatchObject({ uid, partstat: 'TENTATIVE', recurrenceId: '2025-07-21T07:00:00.000Z' });
    const answered = (await server.calendar(uid))!.data.exceptions!.find(
      (entry) => entry.exceptionStartTime.toISOString() === '2025-07-21T07:00:00.000Z',
    );
    expect(answered).toMatchObject({ responseType: 2, busyStatus: 1 });

    // After the autumn change the occurrences are an hour later in UTC: still found by expansion.
    const [late] = await meetingResponse(device, {
      response: 1,
      collectionId: calendarId,
      requestId: item.id,
      instanceId: '2025-09-08T07:00:00.000Z',
    });
    expect(late!.status).toBe(1);

    const bad = await meetingResponse(
      device,
      { response: 1, collectionId: calendarId, requestId: item.id, instanceId: '2025-07-22T07:00:00.000Z' },
      { response: 1, collectionId: calendarId, requestId: item.id, instanceId: '2025-07-28T07:00:00.000Z' },
      { response: 1, collectionId: calendarId, requestId: item.id, instanceId: '20250721T070000Z' },
      {
        response: 1,
        collectionId: server.folderId('Inbox'),
        requestId: delivered.message.id,
        instanceId: '2025-07-21T07:00:00.000Z',
      },
    );
    expect(bad.map((entry) => entry.status)).toEqual([2, 2, 104, 2]);
  });

  it('an InstanceId on a single meeting is 146', async () => {
    await deliver(
      calendarText('REQUEST', [{ uid: 'once@x', start: '20250716T090000', end: '20250716T100000' }]),
      'REQUEST',
    );
    const item = (await server.calendar('once@x'))!;
    const [result] = await meetingResponse(server.device('alice', 'once161', '16.1'), {
      response: 1,
      collectionId: server.folderId('Calendar'),
      requestId: item.id,
      instanceId: '2025-07-16T07:00:00.000Z',
    });
    expect(result!.status).toBe(146);
  });

  it('a REQUEST older than the stored version is filed as outdated and changes nothing', async () => {
    await deliver(
      calendarText('REQUEST', [
        { uid: 'seq@x', sequence: 3, summary: 'v3', start: '20250722T090000', end: '20250722T100000' },
      ]),
      'REQUEST',
    );
    const stale = await deliver(
      calendarText('REQUEST', [
        { uid: 'seq@x', sequence: 2, summary: 'v2', start: '20250723T090000', end: '20250723T100000' },
      ]),
      'REQUEST',
    );
    expect(stale.outcome).toBe('outdated');
    expect((stale.message.data as EmailData).meetingRequest?.meetingMessageType).toBe(4);
    expect((await server.calendar('seq@x'))?.data).toMatchObject({ subject: 'v3', sequence: 3 });
    // The same version again keeps the user's answer; a newer one asks again.
    const item = (await server.calendar('seq@x'))!;
    await meetingResponse(server.device('alice', 'seq161', '16.1'), {
      response: 1,
      collectionId: server.folderId('Calendar'),
      requestId: item.id,
    });
    await deliver(
      calendarText('REQUEST', [
        { uid: 'seq@x', sequence: 3, summary: 'v3', start: '20250722T090000', end: '20250722T100000' },
      ]),
      'REQUEST',
    );
    expect((await server.calendar('seq@x'))?.data.responseType).toBe(3);
    const newer = await deliver(
      calendarText('REQUEST', [
        { uid: 'seq@x', sequence: 4, summary: 'v4', start: '20250724T090000', end: '20250724T100000' },
      ]),
      'REQUEST',
    );
    expect(newer.outcome).toBe('update');
    expect((newer.message.data as EmailData).meetingRequest?.meetingMessageType).toBe(2);
    expect((await server.calendar('seq@x'))?.data).toMatchObject({
      subject: 'v4',
      responseType: 5,
      sequence: 4,
    });
  });

  it('an update for one occurrence changes that exception', async () => {
    const update = await deliver(
      calendarText('REQUEST', [
        {
          ...moved,
          sequence: 1,
          recurrenceId: '20250804T090000',
          start: '20250804T150000',
          end: '20250804T153000',
        },
      ]),
      'REQUEST',
    );
    expect(update.outcome).toBe('update');
    const data = (await server.calendar(uid))!.data;
    const exception = data.exceptions!.find(
      (entry) => entry.exceptionStartTime.toISOString() === '2025-08-04T07:00:00.000Z',
    );
    expect(exception!.startTime!.toISOString()).toBe('2025-08-04T13:00:00.000Z');
    const request = update.message.data as EmailData;
    expect(request.meetingRequest).toMatchObject({ instanceType: 3, meetingMessageType: 2 });
    expect(request.meetingRequest!.recurrenceId!.toISOString()).toBe('2025-08-04T07:00:00.000Z');
  });
});

describe('cancellations', () => {
  it('CANCEL of a whole meeting marks it cancelled; of one occurrence removes that occurrence', async () => {
    await deliver(
      calendarText('REQUEST', [{ uid: 'gone@x', start: '20250717T090000', end: '20250717T100000' }]),
      'REQUEST',
    );
    const cancelled = await deliver(
      calendarText('CANCEL', [
        { uid: 'gone@x', start: '20250717T090000', end: '20250717T100000', extra: ['STATUS:CANCELLED'] },
      ]),
      'CANCEL',
      ALICE,
      'Canceled: Planning',
    );
    expect(cancelled.outcome).toBe('cancel');
    expect((cancelled.message.data as EmailData).messageClass).toBe('IPM.Schedule.Meeting.Canceled');
    expect((await server.calendar('gone@x'))?.data).toMatchObject({ meetingStatus: 7, busyStatus: 0 });
    // A cancelled meeting cannot be answered.
    const [result] = await meetingResponse(server.device('alice', 'cancel161', '16.1'), {
      response: 1,
      collectionId: server.folderId('Calendar'),
      requestId: (await server.calendar('gone@x'))!.id,
    });
    expect(result!.status).toBe(2);

    await deliver(
      calendarText('REQUEST', [
        { uid: 'daily@x', start: '20250721T080000', end: '20250721T083000', rrule: 'FREQ=DAILY;COUNT=5' },
      ]),
      'REQUEST',
    );
    await deliver(calendarText('CANCEL', [{ uid: 'daily@x', recurrenceId: '20250723T080000' }]), 'CANCEL');
    const daily = (await server.calendar('daily@x'))!.data;
    expect(daily.meetingStatus).toBe(3);
    expect(daily.exceptions).toEqual([
      { exceptionStartTime: new Date('2025-07-23T06:00:00.000Z'), deleted: true },
    ]);
  });
});

describe('hostile input', () => {
  it("unknown RequestId, another user's item, a plain message, an organizer's own meeting, bad UserResponse", async () => {
    const device = server.device('alice', 'hostile161', '16.1');
    const bobs = await deliverMeetingMail(
      server.mailbox,
      USERS.bob.id,
      invitationMail(
        calendarText('REQUEST', [
          { uid: 'bob@x', start: '20250718T090000', end: '20250718T100000', attendee: USERS.bob.id },
        ]),
        'REQUEST',
        'x',
        USERS.bob.id,
      ),
    );
    const plain = await server.mailbox.createItem(ALICE, server.folderId('Inbox'), {
      class: 'Email',
      data: {
        mime: new TextEncoder().encode('From: a@b.c\r\nSubject: hi\r\n\r\nhello\r\n'),
        dateReceived: new Date(),
        read: false,
        messageClass: 'IPM.Note',
      },
    });
    const own = await server.mailbox.createItem(ALICE, server.folderId('Calendar'), {
      class: 'Calendar',
      data: {
        startTime: new Date('2025-07-01T09:00:00Z'),
        endTime: new Date('2025-07-01T10:00:00Z'),
        uid: 'mine@x',
        meetingStatus: 1,
        organizerEmail: ALICE,
      },
    });
    const inbox = server.folderId('Inbox');
    const results = await meetingResponse(
      device,
      { response: 1, collectionId: inbox, requestId: 'no-such-item' },
      { response: 1, collectionId: server.folderId('Inbox', 'bob'), requestId: bobs.message.id },
      { response: 1, collectionId: inbox, requestId: plain.id },
      { response: 1, collectionId: server.folderId('Calendar'), requestId: own.id },
      { response: 7, collectionId: inbox, requestId: plain.id },
    );
    expect(results.map((result) => result.status)).toEqual([2, 2, 2, 2, 2]);
    expect(results[0]!.requestId).toBe('no-such-item');
    expect(results.every((result) => result.calendarId === undefined)).toBe(true);
  });

  it('malformed iCalendar is filed as a plain message and leaves the calendar alone', async () => {
    const broken = await deliver(
      'BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:not-a-date\r\nEND:VCALENDAR\r\n',
      'REQUEST',
    );
    expect(broken.outcome).toBe('invalid');
    expect((broken.message.data as EmailData).messageClass).toBe('IPM.Note');
    const noDate = await deliver(calendarText('REQUEST', [{ uid: 'nodate@x' }]), 'REQUEST');
    expect(noDate.outcome).toBe('invalid');
    expect(await server.calendar('nodate@x')).toBeUndefined();
  });

  it('huge RRULE counts are capped and expansion is bounded', async () => {
    await deliver(
      calendarText('REQUEST', [
        {
          uid: 'huge@x',
          start: '20250701T080000',
          end: '20250701T083000',
          rrule: 'FREQ=DAILY;COUNT=2000000000',
        },
      ]),
      'REQUEST',
    );
    const item = (await server.calendar('huge@x'))!;
    expect(item.data.recurrence).toMatchObject({ type: 0, occurrences: 999 });
    await deliver(
      calendarText('REQUEST', [
        {
          uid: 'forever@x',
          start: '20250701T080000',
          end: '20250701T083000',
          rrule: 'FREQ=DAILY;UNTIL=99981231T000000Z',
        },
      ]),
      'REQUEST',
    );
    const forever = (await server.calendar('forever@x'))!;
    const [far] = await meetingResponse(server.device('alice', 'huge161', '16.1'), {
      response: 1,
      collectionId: server.folderId('Calendar'),
      requestId: forever.id,
      instanceId: '9000-01-01T06:00:00.000Z',
    });
    expect(far!.status).toBe(2);
    const secondly = await deliver(
      calendarText('REQUEST', [
        {
          uid: 'secondly@x',
          start: '20250701T080000',
          end: '20250701T083000',
          rrule: 'FREQ=SECONDLY;COUNT=999999999',
        },
      ]),
      'REQUEST',
    );
    expect(secondly.outcome).toBe('request');
    expect((await server.calendar('secondly@x'))!.data.recurrence).toBeUndefined();
  });

  it('files mail without a calendar into the given folder without reading the user or the folder list', async () => {
    const reads: string[] = [];
    const counting = new Proxy(server.mailbox, {
      get(target, name, receiver) {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          reads.push(String(name));
          return value.apply(target, args);
        };
      },
    });
    const inbox = (await server.mailbox.listFolders(ALICE)).find((folder) => folder.type === 2)!;
    const mime = new TextEncoder().encode('From: x@y.z\r\nSubject: plain\r\n\r\nhello\r\n');
    const result = await deliverMeetingMail(counting, ALICE, mime, { folderId: inbox.id });
    expect(result.outcome).toBe('not-a-meeting');
    expect(result.message.folderId).toBe(inbox.id);
    expect(reads).toEqual(['createItem']);
  });

  it('deeply nested multiparts are not followed without bound', async () => {
    let body = 'Content-Type: text/calendar; method=REQUEST\r\n\r\nBEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n';
    // Deeper than the walk follows (8), shallower than the store's own MIME parser allows (256).
    for (let depth = 0; depth < 100; depth++) {
      body = `Content-Type: multipart/mixed; boundary="d${depth}"\r\n\r\n--d${depth}\r\n${body}\r\n--d${depth}--\r\n`;
    }
    const mime = new TextEncoder().encode(`From: x@y.z\r\nSubject: deep\r\n${body}`);
    const result = await deliverMeetingMail(server.mailbox, ALICE, mime);
    expect(result.outcome).toBe('not-a-meeting');
    let bomb = 'Content-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n';
    for (let depth = 0; depth < 5000; depth++) {
      bomb = `Content-Type: multipart/mixed; boundary="e${depth}"\r\n\r\n--e${depth}\r\n${bomb}\r\n--e${depth}--\r\n`;
    }
    expect(findCalendarPart(new TextEncoder().encode(bomb))).toBeUndefined();
    const wide = `Content-Type: multipart/mixed; boundary="w"\r\n\r\n${'--w\r\nContent-Type: text/plain\r\n\r\nx\r\n'.repeat(20_000)}--w--\r\n`;
    expect(findCalendarPart(new TextEncoder().encode(wide))).toBeUndefined();
  });

  it('generated garbage around a valid invitation never throws', async () => {
    const valid = calendarText('REQUEST', [
      { uid: 'fuzz@x', start: '20250719T090000', end: '20250719T100000' },
    ]);
    const lines = valid.split('\r\n');
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(lines.length), fc.string({ maxLength: 40 })), { maxLength: 6 }),
        async (edits) => {
          const mutated = [...lines];
          for (const [at, text] of edits) mutated.splice(at, 1, text);
          const result = await deliverMeetingMail(
            server.mailbox,
            USERS.bob.id,
            invitationMail(mutated.join('\r\n'), 'REQUEST', 'fuzz', USERS.bob.id),
          );
          expect(['request', 'update', 'outdated', 'invalid', 'not-a-meeting']).toContain(result.outcome);
        },
      ),
      { numRuns: 60 },
    );
  });
});
