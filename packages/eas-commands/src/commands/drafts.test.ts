import { MemoryMailboxStore } from '@easkit/mailbox';
import { eas } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll, TestServer } from '../../test/harness.js';
import { composeDraft } from './drafts.js';

const { AirSync: AS, AirSyncBase: ASB, Email: E } = eas;
const ALICE = 'alice@example.com';

describe('composeDraft', () => {
  it('writes a message postal-mime reads back with every field', async () => {
    const data = await composeDraft({
      from: { name: 'Alice', address: ALICE },
      to: [{ name: 'Bob Smith', address: 'bob@example.com' }],
      cc: [{ address: 'carol@example.com' }],
      bcc: [{ address: 'dave@example.com' }],
      subject: 'Grüße – draft',
      importance: 2,
      body: { type: 'plain', data: 'First line\nZweite Zeile ✓' },
    });
    const text = new TextDecoder().decode(data.mime);
    expect(text).toMatch(/^To: Bob Smith <bob@example\.com>\r?$/m);
    expect(text).toMatch(/^Bcc: dave@example\.com\r?$/m);
    expect(text).toMatch(/^Subject: =\?UTF-8\?/m);
    // The mailbox reads the composed message back: subject decoded, body intact.
    const store = new MemoryMailboxStore();
    await store.createUser({ id: ALICE, primarySmtpAddress: ALICE });
    const folder = await store.createFolder(ALICE, { parentId: '0', displayName: 'Drafts', type: 3 });
    const item = await store.createItem(ALICE, folder.id, { class: 'Email', data });
    const body = await store.readBody(ALICE, item.id, { type: 'plain' });
    expect((body.data as string).trim()).toBe('First line\nZweite Zeile ✓');
    expect(data).toMatchObject({ isDraft: true, read: true, importance: 2, displayTo: 'Bob Smith' });
  });
});

describe('16.x drafts through Sync', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('adds a draft in the Drafts folder, edits it, and shows it to other devices', async () => {
    const drafts = server.folders.get('alice:Drafts')!.id;
    const phone = server.device('alice', 'draft-phone', '16.1');
    const tablet = server.device('alice', 'draft-tablet', '16.1');
    const sync = async (device: typeof phone, key: string, extra: unknown[] = []) => {
      const reply = await device.send(
        'Sync',
        AS.Sync(
          AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(drafts), ...(extra as never[]))),
        ),
      );
      return reply.body?.child('Collections')?.child('Collection');
    };
    let phoneKey = (await sync(phone, '0'))!.textOf('SyncKey')!;
    let tabletKey = (await sync(tablet, '0'))!.textOf('SyncKey')!;

    const added = await sync(phone, phoneKey, [
      AS.Commands(
        AS.Add(
          AS.ClientId('draft-1'),
          AS.ApplicationData(
            E.To('"Bob" <bob@example.com>'),
            E.Subject('Lunch?'),
            E.Importance(1),
            ASB.Body(ASB.Type(1), ASB.Data('Shall we meet at noon?')),
          ),
        ),
      ),
    ]);
    const response = added!.child('Responses')!.child('Add')!;
    expect(response.intOf('Status')).toBe(1);
    const serverId = response.textOf('ServerId')!;
    phoneKey = added!.textOf('SyncKey')!;
    const stored = await server.mailbox.getItem(ALICE, serverId);
    expect(stored.data).toMatchObject({ subject: 'Lunch?', isDraft: true });

    const edited = await sync(phone, phoneKey, [
      AS.Commands(AS.Change(AS.ServerId(serverId), AS.ApplicationData(E.Subject('Lunch at one?')))),
    ]);
    expect(edited!.child('Responses')).toBeUndefined();
    const body = await server.mailbox.readBody(ALICE, serverId, { type: 'plain' });
    expect(body.data).toContain('Shall we meet at noon?');
    expect((await server.mailbox.getItem(ALICE, serverId)).data).toMatchObject({ subject: 'Lunch at one?' });

    const seen = await sync(tablet, tabletKey, [AS.Options(ASB.BodyPreference(ASB.Type(1)))]);
    const add = seen!.child('Commands')!.child('Add')!;
    expect(add.textOf('ServerId')).toBe(serverId);
    expect(add.child('ApplicationData')!.textOf('Email:Subject')).toBe('Lunch at one?');
    expect(add.child('ApplicationData')!.textOf('Email2:IsDraft')).toBe('1');
    tabletKey = seen!.textOf('SyncKey')!;
    expect(tabletKey).toBeTruthy();
  });

  it('refuses a mail Add outside Drafts or before 16.0 with Status 6', async () => {
    const inbox = server.folders.get('alice:Inbox')!.id;
    for (const [version, collectionId] of [
      ['16.1', inbox],
      ['14.1', server.folders.get('alice:Drafts')!.id],
    ] as const) {
      const device = server.device('alice', `no-draft-${version}-${collectionId}`, version);
      const send = (key: string, extra: unknown[] = []) =>
        device.send(
          'Sync',
          AS.Sync(
            AS.Collections(
              AS.Collection(AS.SyncKey(key), AS.CollectionId(collectionId), ...(extra as never[])),
            ),
          ),
        );
      const key = (await send('0')).body!.child('Collections')!.child('Collection')!.textOf('SyncKey')!;
      const reply = await send(key, [
        AS.Commands(AS.Add(AS.ClientId('x'), AS.ApplicationData(E.Subject('nope')))),
      ]);
      const add = reply.body!.child('Collections')!.child('Collection')!.child('Responses')!.child('Add')!;
      expect(add.intOf('Status')).toBe(6);
    }
  });

  it('produces responses that libwbxml decodes', async () => {
    await expectLibwbxmlReadsAll(server.responses, 5);
  });
});
