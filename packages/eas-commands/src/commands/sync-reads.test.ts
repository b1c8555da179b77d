import { type CollectionKey, type CollectionState, MemorySyncStateStore } from '@easkit/sync-state';
import { eas } from '@easkit/wbxml';
import { afterEach, describe, expect, it } from 'vitest';
import { TestServer } from '../../test/harness.js';

const { AirSync: AS } = eas;

/** Records every sync-state read round trip: the collection ids of a `get` or of a `getMany`. */
class CountingSyncState extends MemorySyncStateStore {
  readonly reads: string[][] = [];

  override async get(key: CollectionKey): Promise<CollectionState | null> {
    this.reads.push([key.collectionId]);
    return super.get(key);
  }

  override async getMany(keys: readonly CollectionKey[]): Promise<(CollectionState | null)[]> {
    this.reads.push(keys.map((key) => key.collectionId));
    return Promise.all(keys.map((key) => super.get(key)));
  }
}

class CountingServer extends TestServer {
  override readonly syncState = new CountingSyncState();
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

describe('Sync sync-state reads', () => {
  it('reads the cached request and every collection state in one round trip', async () => {
    const server = await new CountingServer().start();
    servers.push(server);
    const phone = server.device('alice', 'phone');
    const inbox = server.folders.get('alice:Inbox')!.id;
    const calendar = server.folders.get('alice:Calendar')!.id;
    const keys = new Map<string, string>();
    for (const id of [inbox, calendar]) {
      const reply = await phone.send(
        'Sync',
        AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(id)))),
      );
      keys.set(id, reply.body!.child('Collections')!.child('Collection')!.textOf('SyncKey')!);
    }

    server.syncState.reads.length = 0;
    const reply = await phone.send(
      'Sync',
      AS.Sync(
        AS.Collections(
          [inbox, calendar].map((id) => AS.Collection(AS.SyncKey(keys.get(id)!), AS.CollectionId(id))),
        ),
      ),
    );
    // Nothing new in either collection: the empty response.
    expect(reply.status).toBe(200);
    expect(reply.body).toBeUndefined();
    expect(server.syncState.reads).toEqual([['#sync-request', inbox, calendar]]);
  });

  it('reads a collection named twice again for its second run', async () => {
    const server = await new CountingServer().start();
    servers.push(server);
    const phone = server.device('alice', 'phone');
    const inbox = server.folders.get('alice:Inbox')!.id;
    server.syncState.reads.length = 0;
    const reply = await phone.send(
      'Sync',
      AS.Sync(
        AS.Collections(
          AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)),
          AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)),
        ),
      ),
    );
    expect(reply.status).toBe(200);
    expect(server.syncState.reads).toEqual([['#sync-request', inbox], [inbox]]);
    // Both runs started over; the second saw the first one's state and replaced it.
    const collections = reply.body?.child('Collections')?.all('Collection') ?? [];
    expect(collections.map((collection) => collection.intOf('Status'))).toEqual([1, 1]);
    const stored = await server.syncState.get({
      user: 'alice@example.com',
      deviceId: 'phone',
      collectionId: inbox,
    });
    expect(stored?.pending?.syncKey).toBe(collections[1]?.textOf('SyncKey'));
  });
});
