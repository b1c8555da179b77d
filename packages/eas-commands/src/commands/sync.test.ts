import type { StoredItem } from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll, type TestDevice, TestServer } from '../../test/harness.js';

const { AirSync: AS, AirSyncBase: ASB, Contacts: C } = eas;
const ALICE = 'alice@example.com';

function mime(subject: string, body: string): Uint8Array {
  return new TextEncoder().encode(
    [
      'From: Sender <sender@example.org>',
      `To: <${ALICE}>`,
      `Subject: ${subject}`,
      'Date: Tue, 07 Jan 2025 10:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
      '',
    ].join('\r\n'),
  );
}

interface CollectionReply {
  status: number | undefined;
  syncKey: string | undefined;
  moreAvailable: boolean;
  adds: WbxmlElement[];
  changes: WbxmlElement[];
  deletes: string[];
  responses: readonly WbxmlElement[];
  element: WbxmlElement | undefined;
  empty: boolean;
}

async function sync(
  device: TestDevice,
  collectionId: string,
  syncKey: string,
  extra: (WbxmlElement | null)[] = [],
): Promise<CollectionReply> {
  const reply = await device.send(
    'Sync',
    AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(syncKey), AS.CollectionId(collectionId), extra))),
  );
  expect(reply.status).toBe(200);
  return collectionReply(reply.body);
}

function collectionReply(body: WbxmlElement | undefined): CollectionReply {
  const element = body?.child('Collections')?.child('Collection');
  const commands = element?.child('Commands');
  return {
    status: element?.intOf('Status') ?? body?.intOf('Status'),
    syncKey: element?.textOf('SyncKey'),
    moreAvailable: element?.has('MoreAvailable') ?? false,
    adds: commands?.all('Add') ?? [],
    changes: commands?.all('Change') ?? [],
    deletes: commands?.all('Delete').map((entry) => entry.textOf('ServerId')!) ?? [],
    responses: element?.child('Responses')?.children ?? [],
    element,
    empty: body === undefined,
  };
}

/** Primes a collection and pulls everything, returning the key and the server ids received. */
async function fullSync(device: TestDevice, collectionId: string, options: (WbxmlElement | null)[] = []) {
  let key = (await sync(device, collectionId, '0', options)).syncKey!;
  const ids: string[] = [];
  for (let round = 0; round < 100; round++) {
    const reply = await sync(device, collectionId, key, [AS.WindowSize(50)]);
    if (reply.empty) break;
    ids.push(...reply.adds.map((add) => add.textOf('ServerId')!));
    key = reply.syncKey!;
    if (!reply.moreAvailable && reply.adds.length === 0) break;
  }
  return { key, ids };
}

describe('Sync over HTTP', () => {
  const server = new TestServer();
  const emails: StoredItem[] = [];
  let inbox: string;
  let contacts: string;

  beforeAll(async () => {
    await server.start();
    inbox = server.folders.get('alice:Inbox')!.id;
    contacts = server.folders.get('alice:Contacts')!.id;
    for (let index = 0; index < 5; index++) {
      emails.push(
        await server.mailbox.createItem(ALICE, inbox, {
          class: 'Email',
          data: {
            mime: mime(`Message ${index}`, `Body of message ${index} `.repeat(20)),
            subject: `Message ${index}`,
            from: { name: 'Sender', address: 'sender@example.org' },
            to: [{ address: ALICE }],
            dateReceived: new Date(Date.UTC(2025, 0, 7, 10, index)),
            read: false,
            messageClass: 'IPM.Note',
          },
        }),
      );
    }
    await server.mailbox.createItem(ALICE, contacts, {
      class: 'Contacts',
      data: { firstName: 'Ada', lastName: 'Lovelace', fileAs: 'Lovelace, Ada', mobilePhoneNumber: '+44 1' },
    });
  });
  afterAll(() => server.stop());

  for (const version of ['2.5', '12.1', '14.1', '16.1'] as const) {
    it(`primes with key 0, pages with WindowSize and MoreAvailable, then reports nothing new (${version})`, async () => {
      const device = server.device('alice', `paging-${version}`, version);
      const primed = await sync(device, inbox, '0');
      expect(primed).toMatchObject({ status: 1, adds: [] });
      expect(primed.syncKey).toMatch(/.+/);

      const options =
        version === '2.5' ? [] : [AS.Options(ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(100)))];
      const first = await sync(device, inbox, primed.syncKey!, [AS.WindowSize(2), ...options]);
      expect(first.status).toBe(1);
      expect(first.adds).toHaveLength(2);
      expect(first.moreAvailable).toBe(true);
      const second = await sync(device, inbox, first.syncKey!, [AS.WindowSize(2)]);
      const third = await sync(device, inbox, second.syncKey!, [AS.WindowSize(2)]);
      expect(third.moreAvailable).toBe(false);
      const ids = [...first.adds, ...second.adds, ...third.adds].map((add) => add.textOf('ServerId'));
      expect(new Set(ids).size).toBe(5);
      expect(ids.sort()).toEqual(emails.map((email) => email.id).sort());
      const subject = first.adds[0]!.child('ApplicationData')!.textOf('Email:Subject');
      expect(subject).toMatch(/^Message \d$/);

      const idle = await sync(device, inbox, third.syncKey!);
      if (version === '2.5') {
        expect(idle).toMatchObject({ status: 1, syncKey: third.syncKey, adds: [] });
      } else {
        expect(idle.empty).toBe(true);
      }
    });
  }

  it('syncs several collections in one request, each with its own key and window', async () => {
    const device = server.device('alice', 'multi', '14.1');
    const both = (inboxKey: string, contactsKey: string) =>
      device.send(
        'Sync',
        AS.Sync(
          AS.Collections(
            AS.Collection(AS.SyncKey(inboxKey), AS.CollectionId(inbox), AS.WindowSize(3)),
            AS.Collection(AS.SyncKey(contactsKey), AS.CollectionId(contacts)),
          ),
        ),
      );
    const primed = (await both('0', '0')).body!.child('Collections')!.all('Collection');
    expect(primed.map((collection) => collection.intOf('Status'))).toEqual([1, 1]);
    const reply = (await both(primed[0]!.textOf('SyncKey')!, primed[1]!.textOf('SyncKey')!)).body!;
    const [mail, people] = reply.child('Collections')!.all('Collection');
    expect(mail!.textOf('CollectionId')).toBe(inbox);
    expect(mail!.child('Commands')!.all('Add')).toHaveLength(3);
    expect(mail!.has('MoreAvailable')).toBe(true);
    expect(people!.textOf('CollectionId')).toBe(contacts);
    expect(people!.child('Commands')!.all('Add').length).toBeGreaterThan(0);
  });

  it('answers a repeated key (lost response) with the same items and the same key', async () => {
    const device = server.device('alice', 'lost');
    const primed = await sync(device, inbox, '0');
    const first = await sync(device, inbox, primed.syncKey!, [AS.WindowSize(3)]);
    const again = await sync(device, inbox, primed.syncKey!, [AS.WindowSize(3)]);
    expect(again.syncKey).toBe(first.syncKey);
    expect(again.adds.map((add) => add.textOf('ServerId'))).toEqual(
      first.adds.map((add) => add.textOf('ServerId')),
    );
    const next = await sync(device, inbox, first.syncKey!, [AS.WindowSize(10)]);
    expect(next.adds).toHaveLength(2);
  });

  it('adds a client contact once, even when the response is lost, and shows it to other devices', async () => {
    const phone = server.device('alice', 'contacts-phone');
    const tablet = server.device('alice', 'contacts-tablet');
    const phoneState = await fullSync(phone, contacts);
    const tabletState = await fullSync(tablet, contacts);
    expect(phoneState.ids).toHaveLength(1);

    const add = AS.Commands(
      AS.Add(
        AS.ClientId('client-1'),
        AS.ApplicationData(C.FileAs('Turing, Alan'), C.FirstName('Alan'), C.LastName('Turing')),
      ),
    );
    const added = await sync(phone, contacts, phoneState.key, [add]);
    const response = added.responses[0]!;
    expect(response.name).toBe('Add');
    expect(response.textOf('ClientId')).toBe('client-1');
    expect(response.intOf('Status')).toBe(1);
    const serverId = response.textOf('ServerId')!;
    expect(added.adds).toHaveLength(0);

    const repeated = await sync(phone, contacts, phoneState.key, [add]);
    expect(repeated.syncKey).toBe(added.syncKey);
    expect(repeated.responses[0]!.textOf('ServerId')).toBe(serverId);
    const page = await server.mailbox.changes(ALICE, contacts, 0, 100);
    expect(page.changes.filter((change) => change.kind === 'add')).toHaveLength(2);

    const seen = await sync(tablet, contacts, tabletState.key);
    expect(seen.adds.map((entry) => entry.textOf('ServerId'))).toEqual([serverId]);
    expect(seen.adds[0]!.child('ApplicationData')!.textOf('FileAs')).toBe('Turing, Alan');
    const after = await sync(phone, contacts, added.syncKey!);
    expect(after.empty).toBe(true);
  });

  it('adds client contacts once when the server stopped between writing them and recording the sync state', async () => {
    const phone = server.device('alice', 'crash-phone');
    const tablet = server.device('alice', 'crash-tablet');
    const phoneState = await fullSync(phone, contacts);
    const tabletState = await fullSync(tablet, contacts);
    const add = AS.Commands(
      AS.Add(AS.ClientId('crash-1'), AS.ApplicationData(C.FileAs('Hopper, Grace'), C.LastName('Hopper'))),
      AS.Add(AS.ClientId('crash-2'), AS.ApplicationData(C.FileAs('Lamarr, Hedy'), C.LastName('Lamarr'))),
    );
    // The sync-state write fails once, as if the process died after the mailbox writes.
    const store = server.syncState;
    const original = store.compareAndSet.bind(store);
    let failNext = true;
    store.compareAndSet = async (...args) => {
      if (failNext) {
        failNext = false;
        throw new Error('process stopped');
      }
      return original(...args);
    };
    try {
      const lost = await phone.send(
        'Sync',
        AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(phoneState.key), AS.CollectionId(contacts), add))),
      );
      expect(lost.status).toBe(500);
    } finally {
      store.compareAndSet = original;
    }
    const written = (await server.mailbox.changes(ALICE, contacts, 0, 100)).changes.filter(
      (change) => change.kind === 'add' && change.item.data.clientOrigin?.deviceId === 'crash-phone',
    );
    expect(written).toHaveLength(2);

    const retried = await sync(phone, contacts, phoneState.key, [add]);
    expect(
      retried.responses.map((response) => [response.textOf('ClientId'), response.textOf('ServerId')]),
    ).toEqual(
      written.map((change) => [
        change.kind === 'add' ? change.item.data.clientOrigin?.clientId : undefined,
        change.itemId,
      ]),
    );
    expect(retried.adds).toHaveLength(0);
    const after = (await server.mailbox.changes(ALICE, contacts, 0, 100)).changes.filter(
      (change) => change.kind === 'add' && change.item.data.clientOrigin?.deviceId === 'crash-phone',
    );
    expect(after).toHaveLength(2);
    const seen = await sync(tablet, contacts, tabletState.key);
    expect(seen.adds.map((entry) => entry.textOf('ServerId')).sort()).toEqual(
      written.map((change) => change.itemId).sort(),
    );
    // A later request that uses a ClientId again adds a new contact.
    const again = await sync(phone, contacts, retried.syncKey!, [
      AS.Commands(
        AS.Add(AS.ClientId('crash-1'), AS.ApplicationData(C.FileAs('Noether, Emmy'), C.LastName('Noether'))),
      ),
    ]);
    expect(again.responses[0]!.textOf('ServerId')).not.toBe(written[0]!.itemId);
  });

  it('keeps ghosted contact fields the device did not list in Supported', async () => {
    const device = server.device('alice', 'ghosting');
    const primed = await sync(device, contacts, '0', [AS.Supported(C.FirstName(), C.LastName(), C.FileAs())]);
    let key = primed.syncKey!;
    const pulled = await sync(device, contacts, key);
    key = pulled.syncKey!;
    const ada = pulled.adds.find((entry) => entry.child('ApplicationData')!.textOf('FirstName') === 'Ada')!;
    const serverId = ada.textOf('ServerId')!;
    const changed = await sync(device, contacts, key, [
      AS.Commands(
        AS.Change(AS.ServerId(serverId), AS.ApplicationData(C.FirstName('Augusta Ada'), C.LastName('King'))),
      ),
    ]);
    expect(changed.responses.filter((entry) => entry.intOf('Status') !== 1)).toEqual([]);
    const stored = await server.mailbox.getItem(ALICE, serverId);
    expect(stored.data).toMatchObject({
      firstName: 'Augusta Ada',
      lastName: 'King',
      mobilePhoneNumber: '+44 1',
    });
    expect(stored.data).not.toHaveProperty('fileAs');
  });

  it('applies read state from one device without echoing it, and other devices see the change', async () => {
    const phone = server.device('alice', 'read-phone');
    const tablet = server.device('alice', 'read-tablet');
    const phoneState = await fullSync(phone, inbox);
    const tabletState = await fullSync(tablet, inbox);
    const target = emails[0]!.id;
    const changed = await sync(phone, inbox, phoneState.key, [
      AS.Commands(AS.Change(AS.ServerId(target), AS.ApplicationData(eas.Email.Read(1)))),
    ]);
    expect(changed.changes).toEqual([]);
    expect(changed.responses).toEqual([]);
    expect((await server.mailbox.getItem(ALICE, target)).data).toMatchObject({ read: true });
    const seen = await sync(tablet, inbox, tabletState.key);
    expect(seen.changes.map((entry) => entry.textOf('ServerId'))).toEqual([target]);
  });

  it('moves deleted mail to Deleted Items, reports unknown ids with Status 8, and fetches items', async () => {
    const device = server.device('alice', 'delete');
    const state = await fullSync(device, inbox);
    const victim = emails[4]!.id;
    const reply = await sync(device, inbox, state.key, [
      AS.Commands(
        AS.Delete(AS.ServerId(victim)),
        AS.Delete(AS.ServerId('no-such-item')),
        AS.Fetch(AS.ServerId(emails[1]!.id)),
      ),
    ]);
    const byName = (name: string) => reply.responses.filter((entry) => entry.name === name);
    expect(byName('Delete').map((entry) => [entry.textOf('ServerId'), entry.intOf('Status')])).toEqual([
      ['no-such-item', 8],
    ]);
    expect(byName('Fetch')[0]!.intOf('Status')).toBe(1);
    expect(byName('Fetch')[0]!.child('ApplicationData')!.textOf('Email:Subject')).toBe('Message 1');
    await expect(server.mailbox.getItem(ALICE, victim)).rejects.toThrow();
    const trash = server.folders.get('alice:Deleted Items')!.id;
    expect(await server.mailbox.countItems(ALICE, trash)).toBe(1);
  });

  it('answers a bad key with Status 3, an unknown folder with Status 12, and bad options with Status 4', async () => {
    const device = server.device('alice', 'statuses');
    expect((await sync(device, inbox, 'nonsense')).status).toBe(3);
    expect((await sync(device, 'no-such-folder', '0')).status).toBe(12);
    const key = (await sync(device, inbox, '0')).syncKey!;
    expect((await sync(device, inbox, key, [AS.Options(AS.FilterType(42))])).status).toBe(4);
    const malformed = await device.send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.CollectionId(inbox)))),
    );
    expect(malformed.body!.intOf('Status')).toBe(4);
  });

  it('reuses the cached request for an empty Sync (12.1+) and answers Status 13 without one', async () => {
    const fresh = server.device('alice', 'empty-fresh');
    expect((await fresh.send('Sync', undefined)).body!.intOf('Status')).toBe(13);
    const device = server.device('alice', 'empty');
    const state = await fullSync(device, inbox);
    await server.mailbox.createItem(ALICE, inbox, {
      class: 'Email',
      data: {
        mime: mime('Late arrival', 'New mail'),
        subject: 'Late arrival',
        dateReceived: new Date(),
        read: false,
        messageClass: 'IPM.Note',
      },
    });
    // The device's last full request was for the inbox; an empty request repeats it with the current key.
    expect(state.key).toBeTruthy();
    const reply = collectionReply((await device.send('Sync', undefined)).body);
    expect(reply.status).toBe(1);
    expect(reply.adds.map((add) => add.child('ApplicationData')!.textOf('Email:Subject'))).toContain(
      'Late arrival',
    );
  });

  it('lets the server win a conflicting change by default (Status 7)', async () => {
    const device = server.device('alice', 'conflict');
    const state = await fullSync(device, contacts);
    const id = state.ids[0]!;
    await server.mailbox.updateItem(ALICE, id, { class: 'Contacts', data: { jobTitle: 'Countess' } });
    const reply = await sync(device, contacts, state.key, [
      AS.Commands(AS.Change(AS.ServerId(id), AS.ApplicationData(C.FirstName('Changed')))),
    ]);
    expect(reply.responses.map((entry) => entry.intOf('Status'))).toEqual([7]);
    expect(reply.changes.map((entry) => entry.textOf('ServerId'))).toEqual([id]);
  });

  it('produces responses that libwbxml decodes', async () => {
    await expectLibwbxmlReadsAll(server.responses, 21);
  });
});

describe('Sync time budget', () => {
  const server = new TestServer({ timeBudgetMs: 0 });
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('ends a response early with MoreAvailable when the budget is spent, and loses nothing', async () => {
    const inbox = server.folders.get('alice:Inbox')!.id;
    for (let index = 0; index < 3; index++) {
      await server.mailbox.createItem(ALICE, inbox, {
        class: 'Email',
        data: {
          mime: mime(`M${index}`, 'x'),
          dateReceived: new Date(),
          read: false,
          messageClass: 'IPM.Note',
        },
      });
    }
    const device = server.device('alice', 'budget');
    let key = (await sync(device, inbox, '0')).syncKey!;
    const ids = new Set<string>();
    for (let round = 0; round < 10 && ids.size < 3; round++) {
      const reply = await sync(device, inbox, key);
      for (const add of reply.adds) ids.add(add.textOf('ServerId')!);
      if (reply.syncKey) key = reply.syncKey;
      if (ids.size < 3) expect(reply.moreAvailable).toBe(true);
    }
    expect(ids.size).toBe(3);
  });
});

describe('a broken item never wedges a device', () => {
  const quarantined: string[] = [];
  const server = new TestServer({ onItemQuarantined: (info) => quarantined.push(info.itemId) });
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('narrows a response the device keeps failing on down to one item and leaves that item out', async () => {
    const inbox = server.folders.get('alice:Inbox')!.id;
    const ids: string[] = [];
    for (let index = 0; index < 8; index++) {
      const item = await server.mailbox.createItem(ALICE, inbox, {
        class: 'Email',
        data: {
          mime: mime(`M${index}`, 'x'),
          dateReceived: new Date(),
          read: false,
          messageClass: 'IPM.Note',
        },
      });
      ids.push(item.id);
    }
    const poison = ids[5]!;
    const device = server.device('alice', 'crashy');
    let key = (await sync(device, inbox, '0')).syncKey!;
    const received = new Set<string>();
    let failures = 0;
    for (let round = 0; round < 40; round++) {
      const reply = await sync(device, inbox, key, [AS.WindowSize(8)]);
      if (reply.empty) break;
      const got = reply.adds.map((add) => add.textOf('ServerId')!);
      if (got.includes(poison)) {
        // The client crashes on this message: it never stores the new key and asks again with the old one.
        failures++;
        continue;
      }
      for (const id of got) received.add(id);
      key = reply.syncKey!;
      if (!reply.moreAvailable && got.length === 0) break;
    }
    expect(quarantined).toEqual([poison]);
    expect([...received].sort()).toEqual(ids.filter((id) => id !== poison).sort());
    expect(failures).toBeGreaterThan(2);
    expect(failures).toBeLessThan(20);
  });
});

describe('Sync body options and batches', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  async function seed(count: number): Promise<{ inbox: string; ids: string[] }> {
    const inbox = server.folders.get('alice:Inbox')!.id;
    const ids: string[] = [];
    for (let index = 0; index < count; index++) {
      const item = await server.mailbox.createItem(ALICE, inbox, {
        class: 'Email',
        data: {
          mime: mime(`Batch ${index}`, 'A long body line. '.repeat(100)),
          dateReceived: new Date(),
          read: false,
          messageClass: 'IPM.Note',
        },
      });
      ids.push(item.id);
    }
    return { inbox, ids };
  }

  it('delivers full bodies after a key-0 restart with a new BodyPreference', async () => {
    const { inbox } = await seed(1);
    const device = server.device('alice', 'bodies', '14.1');
    const headersOnly = [AS.Options(ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(0)))];
    let key = (await sync(device, inbox, '0', headersOnly)).syncKey!;
    const truncated = await sync(device, inbox, key);
    const firstBody = truncated.adds[0]!.child('ApplicationData')!.child('AirSyncBase:Body')!;
    expect(firstBody.textOf('Truncated')).toBe('1');

    const fullBodies = [AS.Options(ASB.BodyPreference(ASB.Type(1)))];
    key = (await sync(device, inbox, '0', fullBodies)).syncKey!;
    const full = await sync(device, inbox, key);
    const body = full.adds[0]!.child('ApplicationData')!.child('AirSyncBase:Body')!;
    expect(body.textOf('Truncated') ?? '0').toBe('0');
    expect(body.textOf('Data')!.length).toBeGreaterThan(1000);
  });

  it('adds a BodyPart (HTML) for a BodyPartPreference in 14.1 and later only', async () => {
    const { inbox } = await seed(1);
    for (const version of ['14.0', '14.1', '16.1'] as const) {
      const device = server.device('alice', `body-part-${version}`, version);
      const options = [
        AS.Options(
          ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(100)),
          ASB.BodyPartPreference(ASB.Type(2), ASB.TruncationSize(50)),
        ),
      ];
      const key = (await sync(device, inbox, '0', options)).syncKey!;
      const reply = await sync(device, inbox, key);
      const part = reply.adds[0]!.child('ApplicationData')!.child('AirSyncBase:BodyPart');
      if (version === '14.0') {
        // The element is 14.1+: an older device never gets one.
        expect(part).toBeUndefined();
        continue;
      }
      expect(part?.intOf('Status')).toBe(1);
      expect(part?.intOf('Type')).toBe(2);
      expect(part?.textOf('Truncated')).toBe('1');
      expect(new TextEncoder().encode(part?.textOf('Data')).byteLength).toBeLessThanOrEqual(50);
    }
  });

  it('applies many flag, read and delete actions of one request, and a dropped folder deletes nothing', async () => {
    const { inbox, ids } = await seed(6);
    const device = server.device('alice', 'batch', '16.1');
    let key = (await sync(device, inbox, '0')).syncKey!;
    for (let round = 0; round < 5; round++) {
      const reply = await sync(device, inbox, key, [AS.WindowSize(100)]);
      if (reply.empty) break;
      key = reply.syncKey!;
    }
    const reply = await sync(device, inbox, key, [
      AS.DeletesAsMoves(0),
      AS.Commands(
        AS.Change(AS.ServerId(ids[0]!), AS.ApplicationData(eas.Email.Read(1))),
        AS.Change(AS.ServerId(ids[1]!), AS.ApplicationData(eas.Email.Read(1))),
        AS.Change(
          AS.ServerId(ids[2]!),
          AS.ApplicationData(eas.Email.Flag(eas.Email.Status(2), eas.Email.FlagType('Follow up'))),
        ),
        AS.Delete(AS.ServerId(ids[3]!)),
        AS.Delete(AS.ServerId(ids[4]!)),
      ),
    ]);
    expect(reply.status).toBe(1);
    expect(reply.responses).toEqual([]);
    expect((await server.mailbox.getItem(ALICE, ids[0]!)).data).toMatchObject({ read: true });
    expect((await server.mailbox.getItem(ALICE, ids[1]!)).data).toMatchObject({ read: true });
    expect((await server.mailbox.getItem(ALICE, ids[2]!)).data).toMatchObject({ flag: { status: 2 } });
    await expect(server.mailbox.getItem(ALICE, ids[3]!)).rejects.toThrow();
    await expect(server.mailbox.getItem(ALICE, ids[4]!)).rejects.toThrow();
    // DeletesAsMoves 0: deleted for good, not moved to Deleted Items.
    expect(await server.mailbox.countItems(ALICE, server.folders.get('alice:Deleted Items')!.id)).toBe(0);

    // The device drops the folder (its state is gone): the server keeps every item.
    await server.syncState.delete({ user: ALICE, deviceId: 'batch', collectionId: inbox });
    expect((await sync(device, inbox, key)).status).toBe(3);
    await expect(server.mailbox.getItem(ALICE, ids[5]!)).resolves.toMatchObject({ id: ids[5] });
  });
});

describe('MaxItems in a recipient information cache', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('sends at most MaxItems recipients, across responses', async () => {
    const cache = await server.mailbox.createFolder(ALICE, {
      parentId: '0',
      displayName: 'Recipient Cache',
      type: 19,
    });
    for (let index = 0; index < 7; index++) {
      await server.mailbox.createItem(ALICE, cache.id, {
        class: 'Contacts',
        data: { email1Address: `r${index}@example.org`, fileAs: `Recipient ${index}` },
      });
    }
    const device = server.device('alice', 'ri-cache', '14.1');
    let key = (await sync(device, cache.id, '0', [AS.Options(AS.MaxItems(5))])).syncKey!;
    const received: string[] = [];
    for (let round = 0; round < 10; round++) {
      const reply = await sync(device, cache.id, key, [AS.WindowSize(2)]);
      if (reply.empty) break;
      received.push(...reply.adds.map((add) => add.textOf('ServerId')!));
      key = reply.syncKey!;
      if (!reply.moreAvailable && reply.adds.length === 0) break;
    }
    expect(received).toHaveLength(5);
  });
});
