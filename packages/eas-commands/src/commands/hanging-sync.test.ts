import { type FolderId, FolderType, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { afterEach, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll, PushTestServer, TestServer, USERS } from '../../test/harness.js';
import { PingStatus } from './ping.js';

const { AirSync: AS, FolderHierarchy: FH, Ping: P, Email: E } = eas;

const responses: Uint8Array[] = [];
const servers: HangServer[] = [];

/** The shared Direct Push test endpoint, with this file's devices; started servers are stopped after each test. */
class HangServer extends PushTestServer {
  override async start(): Promise<this> {
    await super.start();
    servers.push(this);
    return this;
  }

  device(user: keyof typeof USERS, deviceId: string, version: ProtocolVersion = '14.1'): Device {
    return new Device(this, user, deviceId, version);
  }
}

interface SyncReply {
  httpStatus: number;
  body: WbxmlElement | undefined;
}

class Device {
  /** The device's newest key per folder name. */
  readonly keys = new Map<string, string>();

  constructor(
    readonly server: { url: string; folder(user: keyof typeof USERS, name: string): FolderId },
    readonly user: keyof typeof USERS,
    readonly deviceId: string,
    readonly version: ProtocolVersion,
  ) {}

  async send(command: string, body: WbxmlElement | undefined): Promise<SyncReply> {
    const account = USERS[this.user];
    const query = `Cmd=${command}&User=${encodeURIComponent(account.id)}&DeviceId=${this.deviceId}&DeviceType=TestPhone`;
    const response = await fetch(`${this.server.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': this.version,
        'Content-Type': 'application/vnd.ms-sync.wbxml',
      },
      body: body === undefined ? undefined : encode(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > 0) responses.push(bytes);
    return { httpStatus: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
  }

  async folderSync(): Promise<void> {
    const reply = await this.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    expect(reply.body?.intOf('Status')).toBe(1);
  }

  collection(folder: string, options: (WbxmlElement | null)[] = []): WbxmlElement {
    return AS.Collection(
      AS.SyncKey(this.keys.get(folder) ?? '0'),
      AS.CollectionId(this.server.folder(this.user, folder)),
      ...options,
    );
  }

  /** Sends a Sync and keeps the keys it returns. */
  async sync(request: WbxmlElement | undefined): Promise<SyncReply> {
    const reply = await this.send('Sync', request);
    for (const collection of reply.body?.child('Collections')?.all('Collection') ?? []) {
      const id = collection.textOf('CollectionId');
      const name = [...this.keys.keys()].find((folder) => this.server.folder(this.user, folder) === id);
      if (name && collection.intOf('Status') === 1) this.keys.set(name, collection.textOf('SyncKey')!);
    }
    return reply;
  }

  /** A Sync of the named folders that asks to hang (`wait` in minutes, or `heartbeat` in seconds). */
  hangingSync(folders: string[], interval: { wait: number } | { heartbeat: number }): Promise<SyncReply> {
    return this.sync(
      AS.Sync(
        AS.Collections(folders.map((folder) => this.collection(folder))),
        'wait' in interval ? AS.Wait(interval.wait) : AS.HeartbeatInterval(interval.heartbeat),
      ),
    );
  }

  /** Primes a folder and pulls all of it, so the device's cursor is at the folder's latest change. */
  async syncAll(folder: string, options: (WbxmlElement | null)[] = []): Promise<void> {
    this.keys.set(folder, '0');
    await this.sync(AS.Sync(AS.Collections(this.collection(folder, options))));
    for (let round = 0; round < 20; round++) {
      const reply = await this.sync(AS.Sync(AS.Collections(this.collection(folder))));
      const collection = reply.body?.child('Collections')?.child('Collection');
      if (!collection?.has('MoreAvailable')) break;
    }
  }
}

/** The server ids a Sync response adds, per collection id. */
function added(reply: SyncReply): string[] {
  return (reply.body?.child('Collections')?.all('Collection') ?? []).flatMap((collection) =>
    (collection.child('Commands')?.all('Add') ?? []).map((add) => add.textOf('ServerId')!),
  );
}

/** A server and a device that has synced alice's Inbox and Calendar. */
async function ready() {
  const server = await new HangServer().start();
  const phone = server.device('alice', 'phone');
  await phone.folderSync();
  await phone.syncAll('Inbox');
  await phone.syncAll('Calendar');
  return { server, phone };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('hanging Sync over HTTP', () => {
  it('waits, then answers with the change and a new key when one lands during the wait', async () => {
    const { server, phone } = await ready();
    const keyBefore = phone.keys.get('Inbox');
    const sync = phone.hangingSync(['Inbox', 'Calendar'], { heartbeat: 300 });
    await server.waiting(1);
    expect(server.timers.asked).toEqual([300_000]);
    await server.newMail('alice', 'Deleted Items'); // not in the request: the Sync keeps waiting
    const mail = await server.newMail('alice', 'Inbox');
    const reply = await sync;
    expect(reply.httpStatus).toBe(200);
    expect(added(reply)).toEqual([mail.id]);
    // The Calendar is listed as in any Sync response, unchanged: same key, no commands.
    const calendar = reply
      .body!.child('Collections')!
      .all('Collection')
      .find((collection) => collection.textOf('CollectionId') === server.folder('alice', 'Calendar'));
    expect(calendar?.textOf('SyncKey')).toBe(phone.keys.get('Calendar'));
    expect(calendar?.has('Commands')).toBe(false);
    expect(phone.keys.get('Inbox')).not.toBe(keyBefore);
    expect(server.waiters.stats()).toEqual({ users: 0, waiters: 0 });
  });

  it('answers at once for a change made between the last Sync and the request', async () => {
    const { server, phone } = await ready();
    const mail = await server.newMail('alice', 'Inbox');
    const reply = await phone.hangingSync(['Inbox', 'Calendar'], { wait: 5 });
    expect(added(reply)).toEqual([mail.id]);
    expect(server.timers.asked).toEqual([]);
  });

  it('answers the empty response when the interval ends with no change (Wait in minutes)', async () => {
    const { server, phone } = await ready();
    const keyBefore = phone.keys.get('Inbox');
    const sync = phone.hangingSync(['Inbox'], { wait: 7 });
    await server.waiting(1);
    expect(server.timers.asked).toEqual([7 * 60_000]);
    server.timers.fireAll();
    expect(await sync).toEqual({ httpStatus: 200, body: undefined });
    expect(phone.keys.get('Inbox')).toBe(keyBefore);
    // The device's key still works: a later change comes through it.
    const mail = await server.newMail('alice', 'Inbox');
    expect(added(await phone.hangingSync(['Inbox'], { wait: 7 }))).toEqual([mail.id]);
  });

  it('an empty request hangs like the cached request it stands for', async () => {
    const { server, phone } = await ready();
    const first = phone.hangingSync(['Inbox', 'Calendar'], { heartbeat: 120 });
    await server.waiting(1);
    server.timers.fireAll();
    expect((await first).body).toBeUndefined();

    const empty = phone.sync(undefined);
    await server.waiting(1);
    expect(server.timers.asked).toEqual([120_000, 120_000]);
    const event = await server.mailbox.createItem(USERS.alice.id, server.folder('alice', 'Calendar'), {
      class: 'Calendar',
      data: {
        subject: 'Standup',
        startTime: new Date('2025-01-01T09:00:00Z'),
        endTime: new Date('2025-01-01T09:15:00Z'),
      },
    });
    expect(added(await empty)).toEqual([event.id]);

    // A full request without Wait replaces the cache: the empty request after it answers at once.
    const plain = await phone.sync(AS.Sync(AS.Collections(phone.collection('Inbox'))));
    expect(plain.body).toBeUndefined();
    expect((await phone.sync(undefined)).body).toBeUndefined();
    expect(server.timers.asked).toHaveLength(2);
  });

  it('a partial request takes the interval from the cached request', async () => {
    const { server, phone } = await ready();
    const first = phone.hangingSync(['Inbox', 'Calendar'], { heartbeat: 90 });
    await server.waiting(1);
    server.timers.fireAll();
    await first;
    const partial = phone.sync(AS.Sync(AS.Collections(phone.collection('Inbox')), AS.Partial()));
    await server.waiting(1);
    expect(server.timers.asked).toEqual([90_000, 90_000]);
    const mail = await server.newMail('alice', 'Inbox');
    expect(added(await partial)).toEqual([mail.id]);
  });

  it('a Ping of the same device ends the hanging Sync with the empty response', async () => {
    const { server, phone } = await ready();
    const sync = phone.hangingSync(['Inbox'], { heartbeat: 300 });
    await server.waiting(1);
    const ping = phone.send(
      'Ping',
      P.Ping(
        P.HeartbeatInterval(300),
        P.Folders(P.Folder(P.Id(server.folder('alice', 'Inbox')), P.Class('Email'))),
      ),
    );
    expect(await sync).toEqual({ httpStatus: 200, body: undefined });
    await server.waiting(1);
    server.timers.fireAll();
    expect((await ping).body?.intOf('Status')).toBe(PingStatus.HeartbeatExpired);
  });

  it('a newer hanging Sync of the same device ends the older; other devices keep waiting', async () => {
    const { server, phone } = await ready();
    const tablet = server.device('alice', 'tablet');
    await tablet.folderSync();
    await tablet.syncAll('Inbox');
    const tabletSync = tablet.hangingSync(['Inbox'], { heartbeat: 300 });
    const older = phone.hangingSync(['Calendar'], { heartbeat: 300 });
    await server.waiting(2);
    const newer = phone.hangingSync(['Inbox'], { heartbeat: 300 });
    expect((await older).body).toBeUndefined();
    await server.waiting(2);
    const mail = await server.newMail('alice', 'Inbox');
    expect(added(await newer)).toEqual([mail.id]);
    expect(added(await tabletSync)).toEqual([mail.id]);
  });

  it('a Ping waiting is ended by a hanging Sync of the same device (Status 1)', async () => {
    const { server, phone } = await ready();
    const ping = phone.send(
      'Ping',
      P.Ping(
        P.HeartbeatInterval(300),
        P.Folders(P.Folder(P.Id(server.folder('alice', 'Inbox')), P.Class('Email'))),
      ),
    );
    await server.waiting(1);
    const sync = phone.hangingSync(['Inbox'], { heartbeat: 300 });
    expect((await ping).body?.intOf('Status')).toBe(PingStatus.HeartbeatExpired);
    await server.waiting(1);
    server.timers.fireAll();
    expect((await sync).body).toBeUndefined();
  });

  it('wakes only the devices of the user whose mailbox changed', async () => {
    const server = await new HangServer().start();
    const devices = [
      server.device('alice', 'a1'),
      server.device('alice', 'a2', '12.1'),
      server.device('bob', 'b1', '14.0'),
      server.device('bob', 'b2', '16.1'),
    ];
    for (const device of devices) {
      await device.folderSync();
      await device.syncAll('Inbox');
    }
    const syncs = devices.map((device) => device.hangingSync(['Inbox'], { wait: 10 }));
    await server.waiting(4);
    const mail = await server.newMail('bob', 'Inbox');
    expect(added(await syncs[2]!)).toEqual([mail.id]);
    expect(added(await syncs[3]!)).toEqual([mail.id]);
    expect(server.waiters.stats()).toEqual({ users: 1, waiters: 2 });
    server.timers.fireAll();
    expect((await syncs[0]!).body).toBeUndefined();
    expect((await syncs[1]!).body).toBeUndefined();
  });

  it('answers waiting Syncs with the empty response on shutdown, and later ones at once', async () => {
    const { server, phone } = await ready();
    const bobPhone = server.device('bob', 'phone');
    await bobPhone.folderSync();
    await bobPhone.syncAll('Inbox');
    const syncs = [phone.hangingSync(['Inbox'], { wait: 5 }), bobPhone.hangingSync(['Inbox'], { wait: 5 })];
    await server.waiting(2);
    await server.waiters.close();
    expect(await Promise.all(syncs)).toEqual([
      { httpStatus: 200, body: undefined },
      { httpStatus: 200, body: undefined },
    ]);
    expect(await phone.hangingSync(['Inbox'], { wait: 5 })).toEqual({ httpStatus: 200, body: undefined });
  });

  it('keeps waiting after a change the device does not get (outside its filter window)', async () => {
    const server = await new HangServer().start();
    const phone = server.device('alice', 'phone');
    await phone.folderSync();
    await phone.syncAll('Inbox', [AS.Options(AS.FilterType(1))]); // one day back
    const sync = phone.hangingSync(['Inbox'], { heartbeat: 600 });
    await server.waiting(1);
    await server.newMail('alice', 'Inbox', 'Old news', new Date('2001-01-01T00:00:00Z'));
    await server.waitsStarted(2);
    await server.waiting(1);
    expect(server.timers.asked[1]).toBeLessThanOrEqual(600_000);
    const fresh = await server.newMail('alice', 'Inbox', 'Fresh');
    expect(added(await sync)).toEqual([fresh.id]);
  });

  it('answers Status 12 when a folder it waits on is deleted', async () => {
    const { server, phone } = await ready();
    const projects = await server.mailbox.createFolder(USERS.alice.id, {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Projects',
      type: FolderType.UserMail,
    });
    server.folders.set('alice:Projects', projects.id);
    await phone.folderSync();
    await phone.syncAll('Projects');
    const sync = phone.hangingSync(['Inbox', 'Projects'], { heartbeat: 300 });
    await server.waiting(1);
    await server.mailbox.deleteFolder(USERS.alice.id, projects.id);
    const collections = (await sync).body!.child('Collections')!.all('Collection');
    const gone = collections.find((collection) => collection.textOf('CollectionId') === projects.id);
    expect(gone?.intOf('Status')).toBe(12);
  });

  it('a later Sync of the same device with commands makes the hanging one answer empty, not sync again', async () => {
    const { server, phone } = await ready();
    const mail = await server.newMail('alice', 'Inbox');
    await phone.syncAll('Inbox');
    const sync = phone.hangingSync(['Inbox'], { heartbeat: 300 });
    await server.waiting(1);
    const hangingKey = phone.keys.get('Inbox');
    const change = await phone.sync(
      AS.Sync(
        AS.Collections(
          phone.collection('Inbox', [
            AS.Commands(AS.Change(AS.ServerId(mail.id), AS.ApplicationData(E.Read(1)))),
          ]),
        ),
      ),
    );
    const newKey = change.body!.child('Collections')!.child('Collection')!.textOf('SyncKey');
    expect(newKey).not.toBe(hangingKey);
    expect((await sync).body).toBeUndefined();
    const state = await server.syncState.get({
      user: USERS.alice.id,
      deviceId: 'phone',
      collectionId: server.folder('alice', 'Inbox'),
    });
    expect(state?.pending?.syncKey).toBe(newKey);
  });

  it('a plain Sync of the same device ends the hanging one at once, even with nothing to sync', async () => {
    const { server, phone } = await ready();
    await server.newMail('alice', 'Inbox');
    await phone.syncAll('Inbox');
    // The heartbeat (300 s) is far beyond the test timeout: only the plain Sync can end this request.
    const sync = phone.hangingSync(['Inbox'], { heartbeat: 300 });
    await server.waiting(1);
    const plain = await phone.sync(AS.Sync(AS.Collections(phone.collection('Inbox'))));
    expect(plain.httpStatus).toBe(200);
    expect((await sync).body).toBeUndefined();
    await server.waiting(0);
  });

  it('answers at once when the request carries client commands, or for versions before 12.1', async () => {
    const { server, phone } = await ready();
    const mail = await server.newMail('alice', 'Inbox');
    await phone.syncAll('Inbox');
    const reply = await phone.sync(
      AS.Sync(
        AS.Collections(
          phone.collection('Inbox', [
            AS.Commands(AS.Change(AS.ServerId(mail.id), AS.ApplicationData(E.Read(1)))),
          ]),
        ),
        AS.Wait(5),
      ),
    );
    expect(reply.body?.child('Collections')?.child('Collection')?.intOf('Status')).toBe(1);

    const old = server.device('alice', 'old', '12.0');
    await old.folderSync();
    await old.syncAll('Inbox');
    const answer = await old.hangingSync(['Inbox'], { wait: 5 });
    expect(answer.body?.child('Collections')?.child('Collection')?.intOf('Status')).toBe(1);
    expect(server.timers.asked).toEqual([]);
  });

  it('does not wait on collections that ask for no changes (GetChanges 0)', async () => {
    const { server, phone } = await ready();
    const reply = await phone.sync(
      AS.Sync(AS.Collections(phone.collection('Inbox', [AS.GetChanges(0)])), AS.HeartbeatInterval(300)),
    );
    expect(reply).toEqual({ httpStatus: 200, body: undefined });
    expect(server.timers.asked).toEqual([]);
  });

  it('still checks Wait and HeartbeatInterval bounds (Status 14 with Limit, 4 for both)', async () => {
    const { server, phone } = await ready();
    const tooLong = await phone.hangingSync(['Inbox'], { wait: 60 });
    expect(tooLong.body?.intOf('Status')).toBe(14);
    expect(tooLong.body?.intOf('Limit')).toBe(59);
    const tooShort = await phone.hangingSync(['Inbox'], { heartbeat: 59 });
    expect(tooShort.body?.intOf('Limit')).toBe(60);
    const both = await phone.sync(
      AS.Sync(AS.Collections(phone.collection('Inbox')), AS.Wait(5), AS.HeartbeatInterval(300)),
    );
    expect(both.body?.intOf('Status')).toBe(4);
    expect(server.timers.asked).toEqual([]);
  });

  it('libwbxml reads every hanging Sync response', async () => {
    await expectLibwbxmlReadsAll(responses, 10);
  });
});

describe('hanging Sync without a waiter registry', () => {
  it('answers at once, as before Direct Push', async () => {
    const server = await new TestServer().start();
    try {
      const folders = new Map<string, FolderId>(
        [...server.folders].map(([name, folder]) => [name, folder.id]),
      );
      const phone = new Device(
        { url: server.url, folder: (user, name) => folders.get(`${user}:${name}`)! },
        'alice',
        'phone',
        '14.1',
      );
      await phone.folderSync();
      await phone.syncAll('Inbox');
      expect(await phone.hangingSync(['Inbox'], { wait: 5 })).toEqual({ httpStatus: 200, body: undefined });
    } finally {
      await server.stop();
    }
  });
});
