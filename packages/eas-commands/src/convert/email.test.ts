import { readFileSync } from 'node:fs';
import type { EmailData, StoredItem } from '@easkit/mailbox';
import { decode, eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { TEST_VERSIONS, tagsOutsideVersion, testMailbox, throughWire } from '../../test/convert-helpers.js';
import { emailConverter } from './email.js';
import { type ContentOptions, MalformedItemError } from './types.js';

const CRLF = '\r\n';
const mime = new TextEncoder().encode(
  [
    'From: "Ada Lovelace" <ada@example.com>',
    'To: "Bob" <bob@example.com>',
    'Subject: Report',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="mix"',
    '',
    '--mix',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See the report.',
    '--mix',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment; filename="report.pdf"',
    'Content-Transfer-Encoding: base64',
    '',
    'JVBERi0xLjQK',
    '--mix--',
    '',
  ].join(CRLF),
);

const message: EmailData = {
  mime,
  from: { name: 'Ada Lovelace', address: 'ada@example.com' },
  sender: { name: 'Assistant', address: 'assistant@example.com' },
  to: [{ name: 'Bob', address: 'bob@example.com' }, { address: 'carol@example.com' }],
  cc: [{ name: 'Dan, Jr.', address: 'dan@example.com' }],
  bcc: [{ address: 'eve@example.com' }],
  replyTo: [{ address: 'replies@example.com' }],
  subject: 'Report',
  dateReceived: new Date('2026-01-05T09:00:00.000Z'),
  displayTo: 'Bob; carol@example.com',
  threadTopic: 'Report',
  importance: 2,
  read: false,
  flag: {
    status: 2,
    flagType: 'Follow up',
    startDate: new Date('2026-01-06T00:00:00.000Z'),
    utcStartDate: new Date('2026-01-05T23:00:00.000Z'),
    dueDate: new Date('2026-01-07T00:00:00.000Z'),
    utcDueDate: new Date('2026-01-06T23:00:00.000Z'),
    reminderSet: true,
    reminderTime: new Date('2026-01-06T08:00:00.000Z'),
    ordinalDate: new Date('2026-01-05T09:00:00.000Z'),
    subOrdinalDate: '5000000000000000000',
  },
  categories: ['Work', 'Reports'],
  messageClass: 'IPM.Note',
  internetCPID: 65001,
  contentClass: 'urn:content-classes:message',
  conversationId: new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 255]),
  conversationIndex: new Uint8Array([0x01, 0xd1, 0x2a, 0x3b, 0x4c]),
  lastVerbExecuted: 1,
  lastVerbExecutionTime: new Date('2026-01-05T10:00:00.000Z'),
  receivedAsBcc: false,
  isDraft: false,
  accountId: 'acct-1',
};

async function render(data: EmailData, version: ProtocolVersion, options: Partial<ContentOptions> = {}) {
  const box = await testMailbox();
  const item = await box.add({ class: 'Email', data });
  const children = await emailConverter.toApplicationData(
    item,
    box.context(item as StoredItem, version, options),
  );
  expect(tagsOutsideVersion(children, version)).toEqual([]);
  return { item, wire: throughWire(children) };
}

const names = (wire: WbxmlElement) => wire.children.map((child) => child.qualifiedName);

describe('Email converter: server to device', () => {
  it('writes headers as RFC 5322 lists and the date in the extended form', async () => {
    const { wire } = await render(message, '14.1');
    expect(wire.textOf('Email:To')).toBe('"Bob" <bob@example.com>, carol@example.com');
    expect(wire.textOf('Email:Cc')).toBe('"Dan, Jr." <dan@example.com>');
    expect(wire.textOf('Email:From')).toBe('"Ada Lovelace" <ada@example.com>');
    expect(wire.textOf('Email:ReplyTo')).toBe('replies@example.com');
    expect(wire.textOf('Email:DateReceived')).toBe('2026-01-05T09:00:00.000Z');
    expect(wire.intOf('Email:Importance')).toBe(2);
    expect(wire.textOf('Email:Read')).toBe('0');
    expect(wire.intOf('Email:InternetCPID')).toBe(65001);
    expect(wire.textOf('Email2:Sender')).toBe('"Assistant" <assistant@example.com>');
  });

  it('2.5: legacy body and email:Attachments, no 12.0+ elements', async () => {
    const { wire } = await render(message, '2.5');
    expect(wire.textOf('Email:Body')).toContain('See the report.');
    const attachment = wire.require('Email:Attachments').require('Email:Attachment');
    expect(attachment.textOf('Email:DisplayName')).toBe('report.pdf');
    expect(attachment.intOf('Email:AttMethod')).toBe(1);
    expect(attachment.intOf('Email:AttSize')).toBe(9);
    expect(attachment.textOf('Email:AttName')).toBeTruthy();
    for (const absent of ['Email:Flag', 'Email:ContentClass', 'AirSyncBase:Body', 'Email:Categories']) {
      expect(names(wire)).not.toContain(absent);
    }
  });

  it('12.1: airsyncbase Body and Attachments, Flag, ContentClass, NativeBodyType; no 14.x/16.x tags', async () => {
    const { wire, item } = await render(message, '12.1', { bodyPreferences: [{ type: 1 }] });
    const attachment = wire.require('AirSyncBase:Attachments').require('AirSyncBase:Attachment');
    expect(attachment.textOf('AirSyncBase:FileReference')).toBe(item.data.attachments![0]!.fileReference);
    expect(attachment.intOf('AirSyncBase:EstimatedDataSize')).toBe(9);
    expect(wire.require('AirSyncBase:Body').intOf('Type')).toBe(1);
    expect(wire.intOf('AirSyncBase:NativeBodyType')).toBe(1);
    expect(wire.require('Email:Flag').intOf('Email:Status')).toBe(2);
    expect(wire.require('Email:Flag').textOf('Tasks:DueDate')).toBe('2026-01-07T00:00:00.000Z');
    expect(wire.textOf('Email:ContentClass')).toBe('urn:content-classes:message');
    expect(names(wire).filter((name) => name.startsWith('Email2:') || name === 'Email:Categories')).toEqual(
      [],
    );
  });

  it('14.1: Categories and Email2 with conversation ids as bytes; no 16.x tags', async () => {
    const { wire } = await render(message, '14.1');
    expect(
      wire
        .require('Email:Categories')
        .all('Email:Category')
        .map((c) => c.text),
    ).toEqual(['Work', 'Reports']);
    expect(Array.from(wire.require('Email2:ConversationId').bytes!)).toEqual(
      Array.from(message.conversationId!),
    );
    expect(Array.from(wire.require('Email2:ConversationIndex').bytes!)).toEqual([
      0x01, 0xd1, 0x2a, 0x3b, 0x4c,
    ]);
    expect(wire.intOf('Email2:LastVerbExecuted')).toBe(1);
    expect(wire.textOf('Email2:AccountId')).toBe('acct-1');
    expect(wire.has('Email2:IsDraft')).toBe(false);
    expect(wire.has('Email2:Bcc')).toBe(false);
  });

  it('16.1: IsDraft and Bcc', async () => {
    const { wire } = await render(message, '16.1');
    expect(wire.textOf('Email2:IsDraft')).toBe('0');
    expect(wire.textOf('Email2:Bcc')).toBe('eve@example.com');
  });

  it('sends an empty Flag for an unflagged message (12.0+), so devices drop a flag cleared elsewhere', async () => {
    const { flag, ...unflagged } = message;
    const { wire } = await render(unflagged, '14.1');
    expect(wire.require('Email:Flag').children).toHaveLength(0);
  });

  it('renders a meeting request per version', async () => {
    const invite: EmailData = {
      ...message,
      messageClass: 'IPM.Schedule.Meeting.Request',
      contentClass: 'urn:content-classes:calendarmessage',
      meetingRequest: {
        startTime: new Date('2026-01-05T09:00:00Z'),
        endTime: new Date('2026-01-05T10:00:00Z'),
        dtStamp: new Date('2026-01-01T00:00:00Z'),
        instanceType: 1,
        location: { displayName: 'Room 1', city: 'London' },
        organizer: { name: 'Ada', address: 'ada@example.com' },
        reminder: 900,
        responseRequested: true,
        recurrences: [{ type: 1, dayOfWeek: 2, until: new Date('2026-06-29T09:00:00Z'), firstDayOfWeek: 1 }],
        sensitivity: 0,
        busyStatus: 1,
        globalObjectId: 'BAAAAIIA4AB0xbcQGoLgCAAAAAA=',
        uid: '040000008200E00074C5B7101A82E008',
        disallowNewTimeProposal: true,
        meetingMessageType: 1,
      },
    };
    const at14 = (await render(invite, '14.1')).wire.require('Email:MeetingRequest');
    expect(at14.textOf('Email:StartTime')).toBe('2026-01-05T09:00:00.000Z');
    expect(at14.textOf('Email:Location')).toBe('Room 1');
    expect(at14.textOf('Email:Organizer')).toBe('"Ada" <ada@example.com>');
    expect(at14.textOf('Email:GlobalObjId')).toBe('BAAAAIIA4AB0xbcQGoLgCAAAAAA=');
    expect(at14.has('Calendar:UID')).toBe(false);
    expect(at14.intOf('Email2:MeetingMessageType')).toBe(1);
    const recurrence = at14.require('Email:Recurrences').require('Email:Recurrence');
    expect(recurrence.intOf('Email:Interval')).toBe(1);
    expect(recurrence.intOf('Email2:FirstDayOfWeek')).toBe(1);
    expect(at14.textOf('Email:TimeZone')).toBe(Buffer.alloc(172).toString('base64'));
    const at16 = (await render(invite, '16.1')).wire.require('Email:MeetingRequest');
    expect(at16.textOf('Calendar:UID')).toBe('040000008200E00074C5B7101A82E008');
    expect(at16.has('Email:GlobalObjId')).toBe(false);
    expect(at16.require('AirSyncBase:Location').textOf('AirSyncBase:City')).toBe('London');
    const at25 = (await render(invite, '2.5')).wire.require('Email:MeetingRequest');
    expect(at25.has('Email2:MeetingMessageType')).toBe(false);
    expect(at25.has('Email:DisallowNewTimeProposal')).toBe(false);
  });
});

describe('Email converter: device to server', () => {
  for (const version of TEST_VERSIONS) {
    it(`round-trips what a ${version} client may change`, async () => {
      const flagged: EmailData = { ...message, read: true };
      const parsed = emailConverter.fromApplicationData((await render(flagged, version)).wire, version);
      const expected: Partial<EmailData> = { read: true };
      if (version !== '2.5') expected.flag = message.flag;
      if (version === '14.1' || version === '16.1') expected.categories = message.categories;
      if (version === '16.1') {
        Object.assign(expected, {
          to: message.to,
          cc: message.cc,
          bcc: message.bcc,
          subject: message.subject,
          importance: message.importance,
        });
      }
      expect(parsed.data).toEqual(expected);
      expect([...parsed.present].sort()).toEqual(Object.keys(expected).sort());
    });
  }

  it('reads a cleared flag and a 16.x draft body', () => {
    const ASB = eas.AirSyncBase;
    const parsed = emailConverter.fromApplicationData(
      eas.AirSync.ApplicationData(eas.Email.Flag(), ASB.Body(ASB.Type(2), ASB.Data('<p>draft</p>'))),
      '16.1',
    );
    expect(parsed.present.has('flag')).toBe(true);
    expect(parsed.data.flag).toBeUndefined();
    expect(parsed.draftBody).toEqual({ type: 'html', data: '<p>draft</p>' });
    expect(
      emailConverter.fromApplicationData(eas.AirSync.ApplicationData(), '14.1').draftBody,
    ).toBeUndefined();
  });

  it('reads the Read change of the Zimbra 2.5 Sync response vector', () => {
    const hex = readFileSync(
      new URL('../../../wbxml/test/fixtures/vectors/04_zimbra_sync_response_v25_email.hex', import.meta.url),
      'utf8',
    );
    const bytes = new Uint8Array(
      hex
        .trim()
        .split(/\s+/)
        .map((byte) => Number.parseInt(byte, 16)),
    );
    const commands = decode(bytes).require('Collections').require('Collection').require('Commands');
    const change = emailConverter.fromApplicationData(
      commands.require('Change').require('ApplicationData'),
      '2.5',
    );
    expect(change.data).toEqual({ read: true });
  });

  it('refuses malformed client data', () => {
    const bad = [
      eas.Email.Read('perhaps'),
      eas.Email.Flag(eas.Email.Status('7')),
      eas.Email.Flag(eas.Email.Status('2'), eas.Tasks.DueDate('tomorrow')),
    ];
    for (const element of bad) {
      expect(() => emailConverter.fromApplicationData(eas.AirSync.ApplicationData(element), '14.1')).toThrow(
        MalformedItemError,
      );
    }
    expect(() =>
      emailConverter.fromApplicationData(eas.AirSync.ApplicationData(eas.Email.Importance('5')), '16.1'),
    ).toThrow(MalformedItemError);
  });

  it('maps Supported-style tags to fields', () => {
    expect(emailConverter.fieldOfTag('Email', 'Read')).toBe('read');
    expect(emailConverter.fieldOfTag('Email', 'Flag')).toBe('flag');
    expect(emailConverter.fieldOfTag('Email', 'Categories')).toBe('categories');
    expect(emailConverter.fieldOfTag('Email2', 'Bcc')).toBe('bcc');
    expect(emailConverter.fieldOfTag('Calendar', 'Subject')).toBeUndefined();
  });
});
