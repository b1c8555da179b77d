import { FolderType, ROOT_FOLDER_ID } from '@easkit/mailbox';
import {
  type CollectionKey,
  type CollectionState,
  MemorySyncStateStore,
  type SyncStateStore,
} from '@easkit/sync-state';
import { decode, eas, encode, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { expectLibwbxmlReadsAll, PushTestServer, USERS, until } from '../../test/harness.js';
import { PING_PARAMETERS, type PingCommandOptions, PingStatus, pingCommand } from './ping.js';

const { Ping: P, AirSync: AS, FolderHierarchy: FH } = eas;

const responses: Uint8Array[] = [];
const servers: PingServer[] = [];

/** The shared Direct Push test endpoint, with this file's devices; started servers are stopped after each test. */
class PingServer extends PushTestServer {
  override async start(): Promise<this> {
    await super.start();
    servers.push(this);
    return this;
  }

  device(user: keyof typeof USERS, deviceId: string, version: ProtocolVersion = '14.1'): Device {
    return new Device(this, user, deviceId, version);
  }
}

interface PingReply {
  httpStatus: number;
  status: number | undefined;
  folders: string[];
  heartbeat: number | undefined;
  maxFolders: number | undefined;
}

class Device {
  constructor(
    readonly server: PingServer,
    readonly user: keyof typeof USERS,
    readonly deviceId: string,
    readonly version: ProtocolVersion,
  ) {}

  async send(command: string, body: WbxmlElement | Uint8Array | undefined) {
    const account = USERS[this.user];
    const query = `Cmd=${command}&User=${encodeURIComponent(account.id)}&DeviceId=${this.deviceId}&DeviceType=TestPhone`;
    const response = await fetch(`${this.server.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': this.version,
        'Content-Type': 'application/vnd.ms-sync.wbxml',
      },
      body: body === undefined ? undefined : body instanceof Uint8Array ? body : encode(body),
    });
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > 0) responses.push(bytes);
    return { status: response.status, body: bytes.length > 0 ? decode(bytes) : undefined };
  }

  async folderSync(): Promise<void> {
    const reply = await this.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    expect(reply.body?.intOf('Status')).toBe(1);
  }

  /** Primes a folder and pulls all of it, so the device's cursor is at the folder's latest change. */
  async syncAll(folder: string): Promise<string> {
    const collectionId = this.server.folder(this.user, folder);
    const request = (key: string) =>
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(collectionId))));
    let key = (await this.send('Sync', request('0')))
      .body!.child('Collections')!
      .child('Collection')!
      .textOf('SyncKey')!;
    for (let round = 0; round < 20; round++) {
      const reply = await this.send('Sync', request(key));
      const collection = reply.body?.child('Collections')?.child('Collection');
      if (!collection) break; // empty response: nothing new
      key = collection.textOf('SyncKey')!;
      if (!collection.has('MoreAvailable')) break;
    }
    return key;
  }

  /** A Ping watching the named folders of this device's user (undefined parts are left out). */
  ping(heartbeatSec: number | undefined, folders: string[] | undefined): Promise<PingReply> {
    const ids = folders?.map((name) => this.server.folders.get(`${this.user}:${name}`) ?? name);
    return this.pingRaw(
      P.Ping(
        heartbeatSec === undefined ? null : P.HeartbeatInterval(heartbeatSec),
        ids === undefined ? null : P.Folders(ids.map((id) => P.Folder(P.Id(id), P.Class('Email')))),
      ),
    );
  }

  async pingRaw(body: WbxmlElement | Uint8Array | undefined): Promise<PingReply> {
    const reply = await this.send('Ping', body);
    return {
      httpStatus: reply.status,
      status: reply.body?.intOf('Status'),
      folders:
        reply.body
          ?.child('Folders')
          ?.all('Folder')
          .map((folder) => folder.text!) ?? [],
      heartbeat: reply.body?.intOf('HeartbeatInterval'),
      maxFolders: reply.body?.intOf('MaxFolders'),
    };
  }
}

/** A server and a device that has synced alice's Inbox and Calendar. */
async function ready(options: PingCommandOptions = {}) {
  const server = await new PingServer(options).start();
  const phone = server.device('alice', 'phone');
  await phone.folderSync();
  await phone.syncAll('Inbox');
  await phone.syncAll('Calendar');
  return { server, phone };
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('Ping over HTTP', () => {
  it('Status 1 when the heartbeat expires with no change', async () => {
    const { server, phone } = await ready();
    const ping = phone.ping(300, ['Inbox', 'Calendar']);
    await server.waiting(1);
    server.timers.fireAll();
    expect(await ping).toMatchObject({ httpStatus: 200, status: PingStatus.HeartbeatExpired, folders: [] });
  });

  it('Status 2 with the changed folders when a change lands during the heartbeat', async () => {
    const { server, phone } = await ready();
    const ping = phone.ping(300, ['Inbox', 'Calendar']);
    await server.waiting(1);
    await server.newMail('alice', 'Deleted Items'); // not watched: the Ping keeps waiting
    await server.newMail('alice', 'Inbox');
    expect(await ping).toMatchObject({
      status: PingStatus.ChangesFound,
      folders: [server.folder('alice', 'Inbox')],
    });
    expect(server.waiters.stats()).toEqual({ users: 0, waiters: 0 });
  });

  it('stops waiting when the device drops its connection', async () => {
    const { server, phone } = await ready();
    const account = USERS.alice;
    const gone = new AbortController();
    const query = `Cmd=Ping&User=${encodeURIComponent(account.id)}&DeviceId=${phone.deviceId}&DeviceType=TestPhone`;
    const abandoned = fetch(`${server.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      signal: gone.signal,
      headers: {
        Authorization: `Basic ${Buffer.from(`${account.id}:${account.password}`).toString('base64')}`,
        'MS-ASProtocolVersion': '14.1',
        'Content-Type': 'application/vnd.ms-sync.wbxml',
      },
      body: encode(
        P.Ping(
          P.HeartbeatInterval(300),
          P.Folders(P.Folder(P.Id(server.folder('alice', 'Inbox')), P.Class('Email'))),
        ),
      ),
    }).catch(() => 'aborted');
    await server.waiting(1);
    gone.abort();
    expect(await abandoned).toBe('aborted');
    await server.waiting(0);
    expect(server.waiters.stats()).toEqual({ users: 0, waiters: 0 });
  });

  it('answers at once for a change made between the last Sync and the Ping', async () => {
    const { server, phone } = await ready();
    await server.newMail('alice', 'Inbox');
    expect(await phone.ping(300, ['Inbox', 'Calendar'])).toMatchObject({
      status: PingStatus.ChangesFound,
      folders: [server.folder('alice', 'Inbox')],
    });
    // Once the device has synced the change, the next Ping waits again.
    await phone.syncAll('Inbox');
    const ping = phone.ping(300, ['Inbox', 'Calendar']);
    await server.waiting(1);
    server.timers.fireAll();
    expect((await ping).status).toBe(PingStatus.HeartbeatExpired);
  });

  it('reports a folder the device never synced that has content', async () => {
    const { server, phone } = await ready();
    await server.newMail('alice', 'Sent Items');
    expect(await phone.ping(300, ['Inbox', 'Sent Items'])).toMatchObject({
      status: PingStatus.ChangesFound,
      folders: [server.folder('alice', 'Sent Items')],
    });
  });

  it('an empty Ping reuses the last parameters; a partial one fills in the rest', async () => {
    const { server, phone } = await ready();
    const first = phone.ping(300, ['Calendar']);
    await server.waiting(1);
    server.timers.fireAll();
    expect((await first).status).toBe(PingStatus.HeartbeatExpired);
    const stored = await server.syncState.get({
      user: USERS.alice.id,
      deviceId: 'phone',
      collectionId: PING_PARAMETERS,
    });
    expect(stored?.options).toEqual({
      heartbeatSec: 300,
      folders: [[server.folder('alice', 'Calendar'), 'Email']],
    });

    const empty = phone.pingRaw(undefined);
    await server.waiting(1);
    await server.newMail('alice', 'Inbox'); // not in the cached list
    await server.mailbox.createItem(USERS.alice.id, server.folder('alice', 'Calendar'), {
      class: 'Calendar',
      data: {
        subject: 'Standup',
        startTime: new Date('2025-01-01T09:00:00Z'),
        endTime: new Date('2025-01-01T09:15:00Z'),
      },
    });
    expect(await empty).toMatchObject({
      status: PingStatus.ChangesFound,
      folders: [server.folder('alice', 'Calendar')],
    });

    // Heartbeat only: the folders come from the cache (Calendar has a change the device has not synced).
    expect(await phone.ping(600, undefined)).toMatchObject({ status: PingStatus.ChangesFound });
    // Folders only: the heartbeat comes from the cache, which the previous request updated to 600.
    await phone.syncAll('Calendar');
    const foldersOnly = phone.ping(undefined, ['Inbox']);
    expect(await foldersOnly).toMatchObject({
      status: PingStatus.ChangesFound,
      folders: [server.folder('alice', 'Inbox')],
    });
    const again = await server.syncState.get({
      user: USERS.alice.id,
      deviceId: 'phone',
      collectionId: PING_PARAMETERS,
    });
    expect(again?.options).toEqual({
      heartbeatSec: 600,
      folders: [[server.folder('alice', 'Inbox'), 'Email']],
    });
  });

  it('Status 3 when parameters are missing and none were cached', async () => {
    const { phone, server } = await ready();
    expect((await phone.pingRaw(undefined)).status).toBe(PingStatus.MissingParameters);
    expect((await phone.pingRaw(P.Ping())).status).toBe(PingStatus.MissingParameters);
    expect((await phone.ping(300, undefined)).status).toBe(PingStatus.MissingParameters);
    expect((await phone.ping(undefined, ['Inbox'])).status).toBe(PingStatus.MissingParameters);
    expect(server.waiters.stats().waiters).toBe(0);
  });

  it('Status 4 for a request that is not a well-formed Ping', async () => {
    const { phone } = await ready();
    expect((await phone.pingRaw(FH.FolderSync(FH.SyncKey('0')))).status).toBe(PingStatus.SyntaxError);
    expect((await phone.pingRaw(P.Ping(P.HeartbeatInterval('soon')))).status).toBe(PingStatus.SyntaxError);
    expect((await phone.pingRaw(P.Ping(P.HeartbeatInterval(300), P.Folders()))).status).toBe(
      PingStatus.SyntaxError,
    );
    expect(
      (await phone.pingRaw(P.Ping(P.HeartbeatInterval(300), P.Folders(P.Folder(P.Class('Email')))))).status,
    ).toBe(PingStatus.SyntaxError);
  });

  it('Status 5 with the crossed bound when the heartbeat is out of bounds', async () => {
    const { phone } = await ready();
    expect(await phone.ping(59, ['Inbox'])).toMatchObject({
      status: PingStatus.HeartbeatOutOfBounds,
      heartbeat: 60,
    });
    expect(await phone.ping(3541, ['Inbox'])).toMatchObject({
      status: PingStatus.HeartbeatOutOfBounds,
      heartbeat: 3540,
    });
    // Out-of-bounds parameters are not cached.
    expect((await phone.pingRaw(undefined)).status).toBe(PingStatus.MissingParameters);
  });

  it('takes configured bounds and MaxFolders, and answers Status 6 with MaxFolders', async () => {
    const { phone } = await ready({ minHeartbeatSec: 30, maxHeartbeatSec: 900, maxFolders: 2 });
    expect(await phone.ping(20, ['Inbox'])).toMatchObject({
      status: PingStatus.HeartbeatOutOfBounds,
      heartbeat: 30,
    });
    expect(await phone.ping(901, ['Inbox'])).toMatchObject({
      status: PingStatus.HeartbeatOutOfBounds,
      heartbeat: 900,
    });
    expect(await phone.ping(300, ['Inbox', 'Calendar', 'Contacts'])).toMatchObject({
      status: PingStatus.TooManyFolders,
      maxFolders: 2,
    });
    // A folder named twice counts once.
    await phone.syncAll('Contacts');
    const server = phone.server;
    const ping = phone.ping(300, ['Inbox', 'Inbox', 'Calendar']);
    await server.waiting(1);
    server.timers.fireAll();
    expect((await ping).status).toBe(PingStatus.HeartbeatExpired);
    expect(() =>
      pingCommand({ ...server, waiters: server.waiters }, { minHeartbeatSec: 10, maxHeartbeatSec: 5 }),
    ).toThrow(RangeError);
  });

  it('Status 7 without a FolderSync, for an unknown folder, and when the hierarchy changed', async () => {
    const { server, phone } = await ready();
    const fresh = server.device('alice', 'fresh');
    expect((await fresh.ping(300, ['Inbox'])).status).toBe(PingStatus.HierarchyChanged);
    expect((await phone.ping(300, ['Inbox', 'no-such-folder'])).status).toBe(PingStatus.HierarchyChanged);
    // bob's folder ids mean nothing in alice's hierarchy.
    expect((await phone.ping(300, [server.folder('bob', 'Inbox')])).status).toBe(PingStatus.HierarchyChanged);

    await server.mailbox.createFolder(USERS.alice.id, {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Projects',
      type: FolderType.UserMail,
    });
    expect((await phone.ping(300, ['Inbox'])).status).toBe(PingStatus.HierarchyChanged);
    await phone.folderSync();
    const ping = phone.ping(300, ['Inbox']);
    await server.waiting(1);
    server.timers.fireAll();
    expect((await ping).status).toBe(PingStatus.HeartbeatExpired);
  });

  it('Status 7 when a watched folder is deleted during the wait', async () => {
    const { server, phone } = await ready();
    const projects = await server.mailbox.createFolder(USERS.alice.id, {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Projects',
      type: FolderType.UserMail,
    });
    await phone.folderSync();
    const ping = phone.ping(300, ['Inbox', projects.id]);
    await server.waiting(1);
    await server.mailbox.deleteFolder(USERS.alice.id, projects.id);
    expect((await ping).status).toBe(PingStatus.HierarchyChanged);
  });

  it('Status 7 when the hierarchy changes during the wait', async () => {
    const { server, phone } = await ready();
    const ping = phone.ping(300, ['Inbox']);
    await server.waiting(1);
    await server.mailbox.createFolder(USERS.alice.id, {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Projects',
      type: FolderType.UserMail,
    });
    expect((await ping).status).toBe(PingStatus.HierarchyChanged);
  });

  it('Status 8 when a store fails', async () => {
    const syncState = new MemorySyncStateStore();
    const server = await new PingServer({}, { syncState }).start();
    const phone = server.device('alice', 'phone');
    await phone.folderSync();
    syncState.get = async () => {
      throw new Error('sync-state store down');
    };
    expect((await phone.ping(300, ['Inbox'])).status).toBe(PingStatus.ServerError);
  });

  it('a newer Ping of the same device ends the older with Status 1', async () => {
    const { server, phone } = await ready();
    const tablet = server.device('alice', 'tablet');
    await tablet.folderSync();
    const tabletPing = tablet.ping(300, ['Inbox']);
    const older = phone.ping(300, ['Calendar']);
    await server.waiting(2);
    const newer = phone.ping(300, ['Inbox']);
    expect((await older).status).toBe(PingStatus.HeartbeatExpired);
    await server.waiting(2);
    await server.newMail('alice', 'Inbox');
    expect(await newer).toMatchObject({
      status: PingStatus.ChangesFound,
      folders: [server.folder('alice', 'Inbox')],
    });
    // The tablet never synced the Inbox, so the new mail is a change for it too.
    expect((await tabletPing).status).toBe(PingStatus.ChangesFound);
  });

  it('wakes only the devices of the user whose mailbox changed', async () => {
    const server = await new PingServer().start();
    const devices = [
      server.device('alice', 'a1'),
      server.device('alice', 'a2', '12.1'),
      server.device('bob', 'b1', '2.5'),
      server.device('bob', 'b2', '16.1'),
    ];
    for (const device of devices) {
      await device.folderSync();
      await device.syncAll('Inbox');
    }
    const pings = devices.map((device) => device.ping(300, ['Inbox']));
    await server.waiting(4);
    await server.newMail('bob', 'Inbox');
    expect((await pings[2])!.status).toBe(PingStatus.ChangesFound);
    expect((await pings[3])!.status).toBe(PingStatus.ChangesFound);
    expect(server.waiters.stats()).toEqual({ users: 1, waiters: 2 });
    server.timers.fireAll();
    expect((await pings[0])!.status).toBe(PingStatus.HeartbeatExpired);
    expect((await pings[1])!.status).toBe(PingStatus.HeartbeatExpired);
  });

  it('answers waiting Pings with Status 1 on shutdown', async () => {
    const { server, phone } = await ready();
    const bobPhone = server.device('bob', 'phone');
    await bobPhone.folderSync();
    await bobPhone.syncAll('Inbox');
    const pings = [phone.ping(300, ['Inbox']), bobPhone.ping(300, ['Inbox'])];
    await server.waiting(2);
    await server.waiters.close();
    expect((await Promise.all(pings)).map((reply) => reply.status)).toEqual([1, 1]);
    // Later Pings answer at once instead of hanging on a server that is going away.
    expect((await phone.ping(300, ['Inbox'])).status).toBe(PingStatus.HeartbeatExpired);
  });

  it('libwbxml reads every Ping response', async () => {
    await expectLibwbxmlReadsAll(responses, 20);
  });
});

/** A MemorySyncStateStore that records every read round trip (a `get`, or a `getMany` with its keys). */
class CountingSyncState implements SyncStateStore {
  readonly inner = new MemorySyncStateStore();
  readonly reads: CollectionKey[][] = [];

  get(key: CollectionKey) {
    this.reads.push([key]);
    return this.inner.get(key);
  }
  getMany(keys: readonly CollectionKey[]) {
    this.reads.push([...keys]);
    return this.inner.getMany(keys);
  }
  compareAndSet(key: CollectionKey, expected: string | null, next: CollectionState) {
    return this.inner.compareAndSet(key, expected, next);
  }
  delete(key: CollectionKey) {
    return this.inner.delete(key);
  }
  deleteDevice(user: string, deviceId: string) {
    return this.inner.deleteDevice(user, deviceId);
  }
  listCollections(user: string, deviceId: string) {
    return this.inner.listCollections(user, deviceId);
  }
}

describe('Ping sync-state reads', () => {
  async function counted() {
    const syncState = new CountingSyncState();
    const server = await new PingServer({}, { syncState }).start();
    const phone = server.device('alice', 'phone');
    await phone.folderSync();
    await phone.syncAll('Inbox');
    syncState.reads.length = 0;
    return { server, phone, syncState };
  }

  it('reads every state a Ping with one folder needs in one round trip, before it waits', async () => {
    const { server, phone, syncState } = await counted();
    const ping = phone.ping(300, ['Inbox']);
    await server.waiting(1);
    const inbox = server.folder('alice', 'Inbox');
    const keys = (ids: string[]) =>
      ids.map((collectionId) => ({ user: USERS.alice.id, deviceId: 'phone', collectionId }));
    expect(syncState.reads).toEqual([keys([PING_PARAMETERS, '#hierarchy', inbox])]);
    server.timers.fireAll();
    expect((await ping).status).toBe(PingStatus.HeartbeatExpired);
    // The first change check used those states: the whole Ping was one read.
    expect(syncState.reads).toHaveLength(1);

    // Woken by a change in the Inbox: the event carries the change's modseq, which is past the cursor the
    // Ping read when it started, so neither the sync state nor the mailbox is read again.
    syncState.reads.length = 0;
    const woken = phone.ping(300, ['Inbox']);
    await server.waiting(1);
    const changes = vi.spyOn(server.memory, 'changes');
    await server.newMail('alice', 'Inbox');
    expect(await woken).toMatchObject({ status: PingStatus.ChangesFound, folders: [inbox] });
    expect(syncState.reads).toEqual([keys([PING_PARAMETERS, '#hierarchy', inbox])]);
    expect(changes).not.toHaveBeenCalled();
  });

  it('keeps waiting, without a read, for an event whose modseq the device already has', async () => {
    const { server, phone, syncState } = await counted();
    const inbox = server.folder('alice', 'Inbox');
    const ping = phone.ping(300, ['Inbox']);
    await server.waiting(1);
    // The cursor the device's last Sync of the Inbox ended at: it has every change up to there.
    const { nextModseq } = await server.memory.changes(USERS.alice.id, inbox, 0, 1000);
    const changes = vi.spyOn(server.memory, 'changes');
    await server.bus.publish(USERS.alice.id, [inbox], nextModseq);
    await new Promise((resolve) => setImmediate(resolve));
    expect(server.waiters.stats().waiters).toBe(1);
    expect(changes).not.toHaveBeenCalled();
    server.timers.fireAll();
    expect((await ping).status).toBe(PingStatus.HeartbeatExpired);
    expect(syncState.reads).toHaveLength(1);
  });

  it('reads the mailbox, with the cursor it holds, for an event without a modseq', async () => {
    const { server, phone, syncState } = await counted();
    const inbox = server.folder('alice', 'Inbox');
    const ping = phone.ping(300, ['Inbox']);
    await server.waiting(1);
    const changes = vi.spyOn(server.memory, 'changes');
    await server.bus.publish(USERS.alice.id, [inbox]); // nothing new: keeps waiting after one read
    await until(() => changes.mock.calls.length === 1, 'one mailbox read');
    expect(server.waiters.stats().waiters).toBe(1);
    // New mail announced by a publisher that gives no modseq (an older bus, another program).
    const publish = server.bus.publish.bind(server.bus);
    vi.spyOn(server.bus, 'publish').mockImplementation((user, folderIds) => publish(user, folderIds));
    await server.newMail('alice', 'Inbox');
    expect(await ping).toMatchObject({ status: PingStatus.ChangesFound, folders: [inbox] });
    expect(changes).toHaveBeenCalledTimes(2);
    expect(syncState.reads).toHaveLength(1);
  });

  it('an empty Ping reads the cached parameters and the hierarchy, then its folders', async () => {
    const { server, phone, syncState } = await counted();
    const first = phone.ping(300, ['Inbox', 'Calendar']);
    await server.waiting(1);
    server.timers.fireAll();
    await first;
    syncState.reads.length = 0;
    const empty = phone.pingRaw(undefined);
    await server.waiting(1);
    server.timers.fireAll();
    expect((await empty).status).toBe(PingStatus.HeartbeatExpired);
    expect(syncState.reads.map((read) => read.map((key) => key.collectionId))).toEqual([
      [PING_PARAMETERS, '#hierarchy'],
      [server.folder('alice', 'Inbox'), server.folder('alice', 'Calendar')],
    ]);
  });
});
