import { randomBytes } from 'node:crypto';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll, type TestDevice, TestServer } from '../../test/harness.js';
import { readAttachmentChanges } from './attachments.js';

const { AirSync: AS, AirSyncBase: ASB, Email: E, Calendar: C, ItemOperations: IO } = eas;
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

/** One collection's answer to a Sync with the given extra children. */
async function syncCollection(
  device: TestDevice,
  collectionId: string,
  key: string,
  extra: WbxmlElement[] = [],
) {
  const reply = await device.send(
    'Sync',
    AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(collectionId), ...extra))),
  );
  return reply.body!.child('Collections')!.child('Collection')!;
}

/** ClientId → FileReference pairs of a Responses Add or Change. */
function attachmentMap(response: WbxmlElement): Record<string, string> {
  const map: Record<string, string> = {};
  const list = response.child('ApplicationData')?.child('AirSyncBase:Attachments');
  for (const attachment of list?.all('AirSyncBase:Attachment') ?? []) {
    map[attachment.textOf('AirSyncBase:ClientId')!] = attachment.textOf('AirSyncBase:FileReference')!;
  }
  return map;
}

const add = (clientId: string, name: string, content: Uint8Array, extra: WbxmlElement[] = []) =>
  ASB.Add(
    ASB.ClientId(clientId),
    ASB.Method(1),
    ASB.DisplayName(name),
    ASB.ContentType('application/octet-stream'),
    ASB.Content(content),
    ...extra,
  );

describe('readAttachmentChanges', () => {
  it('reads Add and Delete, and refuses malformed operations', () => {
    const changes = readAttachmentChanges(
      AS.ApplicationData(
        ASB.Attachments(
          add('a', 'x.bin', new Uint8Array([1, 2]), [ASB.IsInline('1'), ASB.ContentId('<img1>')]),
          ASB.Delete(ASB.FileReference('ref-1')),
        ),
      ),
    )!;
    expect(changes.deletes).toEqual(['ref-1']);
    expect(changes.adds[0]).toMatchObject({
      clientId: 'a',
      displayName: 'x.bin',
      isInline: true,
      contentId: 'img1',
    });
    expect(readAttachmentChanges(AS.ApplicationData(E.Subject('no attachments')))).toBeUndefined();
    for (const bad of [
      ASB.Attachments(ASB.Add(ASB.DisplayName('x'), ASB.Content(new Uint8Array(1)))),
      ASB.Attachments(ASB.Add(ASB.ClientId('c'), ASB.Content(new Uint8Array(1)))),
      ASB.Attachments(ASB.Delete()),
      ASB.Attachments(add('c', 'x', new Uint8Array(1)), add('c', 'y', new Uint8Array(1))),
      ASB.Attachments(
        ASB.Add(ASB.ClientId('c'), ASB.Method(9), ASB.DisplayName('x'), ASB.Content(new Uint8Array(1))),
      ),
    ]) {
      expect(() => readAttachmentChanges(AS.ApplicationData(bad))).toThrow();
    }
  });

  it('never throws anything but MalformedItemError on generated operations', () => {
    const child = fc.oneof(
      fc.constant(ASB.ClientId('c')),
      fc.string().map((text) => ASB.DisplayName(text)),
      fc.string().map((text) => ASB.Method(text)),
      fc.uint8Array({ maxLength: 8 }).map((bytes) => ASB.Content(bytes)),
      fc.string().map((text) => ASB.FileReference(text)),
      fc.constant(ASB.IsInline('')),
    );
    const operation = fc
      .tuple(fc.boolean(), fc.array(child, { maxLength: 6 }))
      .map(([isAdd, children]) => (isAdd ? ASB.Add(children) : ASB.Delete(children)));
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 5 }), (operations) => {
        try {
          readAttachmentChanges(AS.ApplicationData(ASB.Attachments(operations)));
        } catch (error) {
          expect((error as Error).name).toBe('MalformedItemError');
        }
      }),
    );
  });
});

describe('16.x attachments through Sync, fetched by ItemOperations and GetAttachment', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  /** A 16.1 draft added with two attachments, and the ClientId → FileReference map of the response. */
  async function draftWithAttachments(deviceId: string) {
    const drafts = server.folders.get('alice:Drafts')!.id;
    const phone = server.device('alice', deviceId, '16.1');
    const key = (await syncCollection(phone, drafts, '0')).textOf('SyncKey')!;
    const first = randomBytes(3000);
    const second = randomBytes(17);
    const added = await syncCollection(phone, drafts, key, [
      AS.Commands(
        AS.Add(
          AS.ClientId('d1'),
          AS.ApplicationData(
            E.To('bob@example.com'),
            E.Subject('Report'),
            ASB.Body(ASB.Type(1), ASB.Data('See attached.')),
            ASB.Attachments(add('a1', 'report.pdf', first), add('a2', 'notes.txt', second)),
          ),
        ),
      ),
    ]);
    const response = added.child('Responses')!.child('Add')!;
    expect(response.intOf('Status')).toBe(1);
    const serverId = response.textOf('ServerId')!;
    const refs = attachmentMap(response);
    expect(Object.keys(refs).sort()).toEqual(['a1', 'a2']);

    return { drafts, phone, key: added.textOf('SyncKey')!, serverId, refs, first, second };
  }

  it('adds a draft with two attachments; the response maps each ClientId; the bytes come back byte for byte', async () => {
    const { phone, serverId, refs, first, second } = await draftWithAttachments('att-phone');
    expect(Buffer.from(await fetchAttachment(phone, refs.a1!)).equals(first)).toBe(true);
    expect(Buffer.from(await fetchAttachment(phone, refs.a2!)).equals(second)).toBe(true);
    const stored = await server.mailbox.getItem(ALICE, serverId);
    expect(stored.class === 'Email' && stored.data.attachments?.map((a) => a.displayName)).toEqual([
      'report.pdf',
      'notes.txt',
    ]);
  });

  // Fails on MemoryMailboxStore as it stands: its updateItem drops the attachments it derives when the MIME is
  // replaced (the `else delete merged.data.attachments` branch also runs when `mimeChanged`), against the
  // contract's "replacing an Email's mime re-derives its attachments". Passes with that one-line fix; flip it
  // to `it` then. (Reported to the integrator; memory.ts is not this change's file.)
  it('edits a draft: deletes one attachment, adds another, keeps the rest through later edits', async () => {
    const draft = await draftWithAttachments('att-phone-2');
    const { drafts, phone, serverId, refs, second } = draft;
    let key = draft.key;

    // Delete a1, add a3 and edit the subject in one Change: the response maps a3; a2 and the body survive.
    const third = randomBytes(40);
    const change = [
      AS.Commands(
        AS.Change(
          AS.ServerId(serverId),
          AS.ApplicationData(
            E.Subject('Report v2'),
            ASB.Attachments(ASB.Delete(ASB.FileReference(refs.a1!)), add('a3', 'photo.jpg', third)),
          ),
        ),
      ),
    ];
    await syncCollection(phone, drafts, key, change);
    // The response is lost and the device sends the same request with the same key: a3 is not added twice.
    const changed = await syncCollection(phone, drafts, key, change);
    key = changed.textOf('SyncKey')!;
    const changeResponse = changed.child('Responses')!.child('Change')!;
    expect(changeResponse.intOf('Status')).toBe(1);
    const after = attachmentMap(changeResponse);
    expect(Object.keys(after)).toEqual(['a3']);
    const stored = await server.mailbox.getItem(ALICE, serverId);
    if (stored.class !== 'Email') throw new Error('not a message');
    expect(stored.data.subject).toBe('Report v2');
    expect(stored.data.attachments!.map((attachment) => attachment.displayName).sort()).toEqual([
      'notes.txt',
      'photo.jpg',
    ]);
    const body = await server.mailbox.readBody(ALICE, serverId, { type: 'plain' });
    expect(body.data).toContain('See attached.');
    expect(Buffer.from(await fetchAttachment(phone, after.a3!)).equals(third)).toBe(true);
    const notes = stored.data.attachments!.find((attachment) => attachment.displayName === 'notes.txt')!;
    expect(Buffer.from(await fetchAttachment(phone, notes.fileReference)).equals(second)).toBe(true);

    // An edit without Attachments keeps them.
    const edited = await syncCollection(phone, drafts, key, [
      AS.Commands(AS.Change(AS.ServerId(serverId), AS.ApplicationData(E.Subject('Report v3')))),
    ]);
    expect(edited.child('Responses')).toBeUndefined();
    const kept = await server.mailbox.getItem(ALICE, serverId);
    expect(kept.class === 'Email' && kept.data.attachments?.length).toBe(2);
  });

  it('adds attachments to a calendar item, renders them to other devices, deletes one', async () => {
    const calendar = server.folders.get('alice:Calendar')!.id;
    const phone = server.device('alice', 'cal-phone', '16.1');
    const tablet = server.device('alice', 'cal-tablet', '16.1');
    let key = (await syncCollection(phone, calendar, '0')).textOf('SyncKey')!;
    let tabletKey = (await syncCollection(tablet, calendar, '0')).textOf('SyncKey')!;
    const agenda = randomBytes(500);
    const added = await syncCollection(phone, calendar, key, [
      AS.Commands(
        AS.Add(
          AS.ClientId('e1'),
          AS.ApplicationData(
            C.Subject('Planning'),
            C.StartTime('20261201T090000Z'),
            C.EndTime('20261201T100000Z'),
            ASB.Attachments(add('c1', 'agenda.docx', agenda)),
          ),
        ),
      ),
    ]);
    key = added.textOf('SyncKey')!;
    const response = added.child('Responses')!.child('Add')!;
    expect(response.intOf('Status')).toBe(1);
    const serverId = response.textOf('ServerId')!;
    const refs = attachmentMap(response);
    expect(Buffer.from(await fetchAttachment(phone, refs.c1!)).equals(agenda)).toBe(true);

    const seen = await syncCollection(tablet, calendar, tabletKey);
    tabletKey = seen.textOf('SyncKey')!;
    const rendered = seen.child('Commands')!.child('Add')!.child('ApplicationData')!;
    const attachment = rendered.child('AirSyncBase:Attachments')!.child('AirSyncBase:Attachment')!;
    expect(attachment.textOf('AirSyncBase:FileReference')).toBe(refs.c1);
    expect(attachment.intOf('AirSyncBase:EstimatedDataSize')).toBe(500);

    // A Change that does not mention attachments keeps them; a resent Add of c1 is not added twice.
    const resent = await syncCollection(phone, calendar, key, [
      AS.Commands(
        AS.Change(
          AS.ServerId(serverId),
          AS.ApplicationData(
            C.Subject('Planning (moved)'),
            C.StartTime('20261201T100000Z'),
            C.EndTime('20261201T110000Z'),
            ASB.Attachments(add('c1', 'agenda.docx', agenda)),
          ),
        ),
      ),
    ]);
    key = resent.textOf('SyncKey')!;
    expect(attachmentMap(resent.child('Responses')!.child('Change')!)).toEqual({ c1: refs.c1 });
    let item = await server.mailbox.getItem(ALICE, serverId);
    expect(item.class === 'Calendar' && item.data.attachments?.length).toBe(1);

    const deleted = await syncCollection(phone, calendar, key, [
      AS.Commands(
        AS.Change(
          AS.ServerId(serverId),
          AS.ApplicationData(
            C.Subject('Planning (moved)'),
            C.StartTime('20261201T100000Z'),
            C.EndTime('20261201T110000Z'),
            ASB.Attachments(ASB.Delete(ASB.FileReference(refs.c1!))),
          ),
        ),
      ),
    ]);
    expect(deleted.child('Responses')).toBeUndefined();
    item = await server.mailbox.getItem(ALICE, serverId);
    expect(item.class === 'Calendar' && item.data.attachments).toBeUndefined();
    const gone = await itemOperationsFetch(phone, refs.c1!);
    expect(gone.intOf('Status')).toBe(15);
  });

  it('refuses a malformed attachment Add with Status 6 and creates nothing', async () => {
    const drafts = server.folders.get('alice:Drafts')!.id;
    const phone = server.device('alice', 'att-bad', '16.0');
    const key = (await syncCollection(phone, drafts, '0')).textOf('SyncKey')!;
    const before = (await server.mailbox.changes(ALICE, drafts, 0, 1000)).changes.length;
    const reply = await syncCollection(phone, drafts, key, [
      AS.Commands(
        AS.Add(
          AS.ClientId('bad'),
          AS.ApplicationData(E.Subject('x'), ASB.Attachments(ASB.Add(ASB.DisplayName('no content')))),
        ),
      ),
    ]);
    expect(reply.child('Responses')!.child('Add')!.intOf('Status')).toBe(6);
    expect((await server.mailbox.changes(ALICE, drafts, 0, 1000)).changes.length).toBe(before);
  });

  it('GetAttachment (2.5-12.1): raw bytes with the Content-Type; 500 for unknown or foreign references; 400, 501', async () => {
    const inbox = server.folders.get('alice:Inbox')!.id;
    const bytes = randomBytes(1024);
    const message = [
      'From: bob@example.com',
      'To: alice@example.com',
      'Subject: pic',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="zz"',
      '',
      '--zz',
      'Content-Type: text/plain',
      '',
      'A picture.',
      '--zz',
      'Content-Type: image/png; name="p.png"',
      'Content-Disposition: attachment; filename="p.png"',
      'Content-Transfer-Encoding: base64',
      '',
      bytes.toString('base64').replace(/.{76}/g, '$&\r\n'),
      '--zz--',
      '',
    ].join('\r\n');
    const item = await server.mailbox.createItem(ALICE, inbox, {
      class: 'Email',
      data: {
        mime: new TextEncoder().encode(message),
        dateReceived: new Date(),
        read: false,
        messageClass: 'IPM.Note',
      },
    });
    const reference = item.class === 'Email' ? item.data.attachments![0]!.fileReference : '';
    for (const version of ['2.5', '12.0', '12.1'] as const) {
      const answer = await getAttachment('alice', version, reference);
      expect(answer.status).toBe(200);
      expect(answer.contentType).toBe('image/png');
      expect(Buffer.from(answer.body).equals(bytes)).toBe(true);
    }
    expect((await getAttachment('alice', '12.1', 'no-such-reference')).status).toBe(500);
    expect((await getAttachment('bob', '12.1', reference)).status).toBe(500);
    expect((await getAttachment('alice', '12.1', undefined)).status).toBe(400);
    expect((await getAttachment('alice', '14.1', reference)).status).toBe(501);
    expect((await getAttachment('alice', '16.1', reference)).status).toBe(501);
  });

  it('produces responses that libwbxml decodes', async () => {
    await expectLibwbxmlReadsAll(server.responses, 5);
  });

  async function itemOperationsFetch(device: TestDevice, reference: string): Promise<WbxmlElement> {
    const reply = await device.send(
      'ItemOperations',
      IO.ItemOperations(IO.Fetch(IO.Store('Mailbox'), ASB.FileReference(reference))),
    );
    return reply.body!.child('Response')!.child('Fetch')!;
  }

  async function fetchAttachment(device: TestDevice, reference: string): Promise<Uint8Array> {
    const fetch = await itemOperationsFetch(device, reference);
    expect(fetch.intOf('Status')).toBe(1);
    return Buffer.from(fetch.child('Properties')!.textOf('Data')!, 'base64');
  }

  async function getAttachment(user: 'alice' | 'bob', version: string, reference: string | undefined) {
    const account = user === 'alice' ? { id: ALICE, password: 'alice-pw' } : { id: BOB, password: 'bob-pw' };
    const name = reference === undefined ? '' : `&AttachmentName=${encodeURIComponent(reference)}`;
    const response = await fetch(
      `${server.url}/Microsoft-Server-ActiveSync?Cmd=GetAttachment&User=${encodeURIComponent(account.id)}&DeviceId=ga1&DeviceType=TestPhone${name}`,
      {
        method: 'POST',
        headers: {
          Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
          'MS-ASProtocolVersion': version,
        },
      },
    );
    return {
      status: response.status,
      contentType: response.headers.get('content-type'),
      body: new Uint8Array(await response.arrayBuffer()),
    };
  }
});
