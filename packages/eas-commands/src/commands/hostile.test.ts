import { eas, encode } from '@easkit/wbxml';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestServer, USERS } from '../../test/harness.js';

const { AirSync: AS, FolderHierarchy: FH } = eas;

/** The base64 query form of MS-ASHTTP 2.2.1.1.1.1, built by hand as a device would. */
function base64Query(command: number, deviceId: string, deviceType: string, version = 141): string {
  const id = Buffer.from(deviceId, 'utf8');
  const type = Buffer.from(deviceType, 'utf8');
  const bytes = Buffer.concat([
    Buffer.from([version, command, 0x09, 0x04, id.length]),
    id,
    Buffer.from([0, type.length]),
    type,
  ]);
  return bytes.toString('base64');
}

describe('hostile and unusual requests over HTTP', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  const auth = (user: (typeof USERS)[keyof typeof USERS]) =>
    `Basic ${Buffer.from(`${user.id}:${user.password}`).toString('base64')}`;

  async function post(query: string, body: Uint8Array, headers: Record<string, string> = {}) {
    return fetch(`${server.url}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: {
        Authorization: auth(USERS.alice),
        'MS-ASProtocolVersion': '14.1',
        'Content-Type': 'application/vnd.ms-sync.wbxml',
        ...headers,
      },
      body,
    });
  }

  it('reads the base64 query form to the same request as the plain form', async () => {
    const body = encode(FH.FolderSync(FH.SyncKey('0')));
    const response = await fetch(
      `${server.url}/Microsoft-Server-ActiveSync?${base64Query(9, 'b64device', 'SmartPhone')}`,
      {
        method: 'POST',
        headers: { Authorization: auth(USERS.alice), 'Content-Type': 'application/vnd.ms-sync.wbxml' },
        body,
      },
    );
    expect(response.status).toBe(200);
    const state = await server.syncState.listCollections(USERS.alice.id, 'b64device');
    expect(state).toContain('#hierarchy');
  });

  it('answers bad WBXML with 400, a wrong user with 403, and an oversized body with 413', async () => {
    const query = 'Cmd=Sync&User=alice@example.com&DeviceId=hostile&DeviceType=Phone';
    expect((await post(query, Uint8Array.of(3, 1, 0x6a, 0, 0x45, 0x45, 0x45))).status).toBe(400);
    const other = 'Cmd=FolderSync&User=bob@example.com&DeviceId=hostile&DeviceType=Phone';
    expect((await post(other, encode(FH.FolderSync(FH.SyncKey('0'))))).status).toBe(403);
    expect((await post(query, new Uint8Array(2 * 1024 * 1024))).status).toBe(413);
    expect((await post(query, encode(AS.Sync()), { 'MS-ASProtocolVersion': '99.9' })).status).toBe(400);
  });

  it('never answers 500 to random bodies, random WBXML trees or random sync keys', async () => {
    const inbox = server.folders.get('alice:Inbox')!.id;
    const query = 'Cmd=Sync&User=alice@example.com&DeviceId=fuzz&DeviceType=Phone';
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), async (bytes) => {
        const status = (await post(query, Uint8Array.of(3, 1, 0x6a, 0, ...bytes))).status;
        return status === 200 || status === 400;
      }),
      { numRuns: 60 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.string({ maxLength: 40 }),
        fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
        fc.integer({ min: 0, max: 1000 }),
        async (syncKey, collectionId, windowSize) => {
          const body = AS.Sync(
            AS.Collections(
              AS.Collection(
                AS.SyncKey(syncKey),
                AS.CollectionId(collectionId ?? inbox),
                AS.WindowSize(windowSize),
                AS.Commands(AS.Fetch(AS.ServerId(syncKey))),
              ),
            ),
          );
          const response = await post(query, encode(body));
          return response.status === 200;
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('Sync Wait and HeartbeatInterval limits', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('answers out-of-range values with Status 14 and the Limit, and both at once with Status 4', async () => {
    const device = server.device('alice', 'limits');
    const inbox = server.folders.get('alice:Inbox')!.id;
    const collections = AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)));
    const tooLong = await device.send('Sync', AS.Sync(collections, AS.Wait(90)));
    expect(tooLong.body!.intOf('Status')).toBe(14);
    expect(tooLong.body!.intOf('Limit')).toBe(59);
    const tooShort = await device.send('Sync', AS.Sync(collections, AS.HeartbeatInterval(10)));
    expect(tooShort.body!.intOf('Limit')).toBe(60);
    const both = await device.send('Sync', AS.Sync(collections, AS.Wait(5), AS.HeartbeatInterval(300)));
    expect(both.body!.intOf('Status')).toBe(4);
    const fine = await device.send('Sync', AS.Sync(collections, AS.Wait(5)));
    expect(fine.body!.child('Collections')!.child('Collection')!.intOf('Status')).toBe(1);
  });
});

describe('Sync with too many collections', () => {
  const server = new TestServer({ maxCollections: 2 });
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('answers Status 15', async () => {
    const device = server.device('alice', 'many');
    const ids = ['alice:Inbox', 'alice:Drafts', 'alice:Contacts'].map((name) => server.folders.get(name)!.id);
    const reply = await device.send(
      'Sync',
      AS.Sync(AS.Collections(ids.map((id) => AS.Collection(AS.SyncKey('0'), AS.CollectionId(id))))),
    );
    expect(reply.body!.intOf('Status')).toBe(15);
  });
});
