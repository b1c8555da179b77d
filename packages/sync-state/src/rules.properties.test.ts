import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CollectionKey } from './collection.js';
import { MemorySyncStateStore } from './memory.js';
import {
  classifySyncKey,
  confirmPending,
  issuePending,
  latestSyncKey,
  resolveClientAdds,
  startOver,
} from './rules.js';
import type { CollectionState, SentChange } from './state.js';
import { INITIAL_SYNC_KEY } from './sync-key.js';

// A whole device-server conversation about one collection, driven by random actions: server-side changes,
// local adds and deletes on the device, Syncs whose responses may be lost, start-overs, and stray requests
// with stale or garbage keys. The command layer below is the smallest one that follows the package's rules;
// the device is a model that asserts what it receives. Nothing here depends on time.

type Action =
  | { type: 'server-add' }
  | { type: 'server-change'; pick: number }
  | { type: 'server-delete'; pick: number }
  | { type: 'device-add'; count: number }
  | { type: 'device-delete'; pick: number }
  | { type: 'sync'; lose: boolean; window: number }
  | { type: 'reset'; lose: boolean }
  | { type: 'stray'; key: string | { stale: number } };

const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.constant({ type: 'server-add' as const }), weight: 3 },
  { arbitrary: fc.record({ type: fc.constant('server-change' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ type: fc.constant('server-delete' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({ type: fc.constant('device-add' as const), count: fc.integer({ min: 1, max: 2 }) }),
    weight: 2,
  },
  { arbitrary: fc.record({ type: fc.constant('device-delete' as const), pick: fc.nat() }), weight: 1 },
  {
    arbitrary: fc.record({
      type: fc.constant('sync' as const),
      lose: fc.boolean(),
      window: fc.integer({ min: 1, max: 4 }),
    }),
    weight: 6,
  },
  { arbitrary: fc.record({ type: fc.constant('reset' as const), lose: fc.boolean() }), weight: 1 },
  {
    arbitrary: fc.record({
      type: fc.constant('stray' as const),
      key: fc.oneof(fc.string({ maxLength: 12 }), fc.record({ stale: fc.nat() })),
    }),
    weight: 1,
  },
);

interface MailEvent {
  modseq: number;
  id: string;
  kind: 'add' | 'change' | 'delete';
}

/** The server's mailbox for one folder: an event log with a modseq per mutation. */
class Folder {
  readonly events: MailEvent[] = [];
  readonly live = new Set<string>();
  /** Every server id created for a client id, to catch a client add applied twice. */
  readonly createdFor = new Map<string, string[]>();
  #modseq = 0;
  #ids = 0;

  add(clientId?: string): string {
    const id = `s${++this.#ids}`;
    this.#log(id, 'add');
    this.live.add(id);
    if (clientId !== undefined) this.createdFor.set(clientId, [...(this.createdFor.get(clientId) ?? []), id]);
    return id;
  }
  change(id: string): void {
    if (this.live.has(id)) this.#log(id, 'change');
  }
  delete(id: string): void {
    if (this.live.delete(id)) this.#log(id, 'delete');
  }
  #log(id: string, kind: MailEvent['kind']): void {
    this.events.push({ modseq: ++this.#modseq, id, kind });
  }

  /**
   * The changes after `cursor` for a device holding `known`, at most `window` events of the log. Adds of
   * items the device already holds are not sent again; changes and deletes of items it never got are not sent.
   */
  changesSince(
    cursor: number,
    window: number,
    known: Set<string>,
  ): { sent: SentChange[]; cursor: number; more: boolean } {
    const after = this.events.filter((event) => event.modseq > cursor);
    const taken = after.slice(0, window);
    const kinds = new Map<string, SentChange['kind'][]>();
    const holds = new Set(known);
    for (const event of taken) {
      const list = kinds.get(event.id) ?? [];
      if (event.kind === 'add' && !holds.has(event.id)) {
        list.push('add');
        holds.add(event.id);
      } else if (event.kind === 'change' && holds.has(event.id)) list.push('change');
      else if (event.kind === 'delete' && holds.has(event.id)) {
        list.push('delete');
        holds.delete(event.id);
      }
      kinds.set(event.id, list);
    }
    const sent: SentChange[] = [];
    for (const [id, list] of kinds) {
      if (list.length === 0) continue;
      const first = list[0]!;
      const last = list[list.length - 1]!;
      if (first === 'add') {
        if (last !== 'delete') sent.push({ id, kind: 'add' });
      } else sent.push({ id, kind: last === 'delete' ? 'delete' : 'change' });
    }
    return { sent, cursor: taken.at(-1)?.modseq ?? cursor, more: after.length > taken.length };
  }
}

interface Request {
  syncKey: string;
  adds: string[];
  deletes: string[];
}

interface Response {
  status: 1 | 3;
  syncKey: string;
  sent: SentChange[];
  clientAdds: Record<string, string>;
  more: boolean;
}

/** The smallest Sync command that follows the rules of this package. */
class Server {
  readonly store = new MemorySyncStateStore();
  readonly folder = new Folder();
  readonly key: CollectionKey = { user: 'u', deviceId: 'd', collectionId: 'inbox' };
  /** Every key the server handed out, in order. */
  readonly issued: string[] = [];

  async sync(request: Request, window: number): Promise<Response> {
    const state = await this.store.get(this.key);
    const kind = classifySyncKey(state, request.syncKey);
    if (kind === 'invalid')
      return { status: 3, syncKey: request.syncKey, sent: [], clientAdds: {}, more: false };
    if (kind === 'initial') {
      const next = startOver(state, { sent: [], cursor: 0 }, { trackKnown: true });
      return this.#commit(state, next, {
        status: 1,
        syncKey: next.pending!.syncKey,
        sent: [],
        clientAdds: {},
        more: true,
      });
    }
    const current = state!;
    if (kind === 'repeat') {
      const pending = current.pending!;
      const { mapped, unmapped } = resolveClientAdds(current, request.adds);
      const removed = new Set(pending.removedByClient ?? []);
      if (unmapped.length === 0 && request.deletes.every((id) => removed.has(id))) {
        // A pure repeat: the same outcome again, nothing applied twice.
        return {
          status: 1,
          syncKey: pending.syncKey,
          sent: pending.sent,
          clientAdds: mapped,
          more: this.#more(pending.response),
        };
      }
      // The repeat brings something new: answer again from the confirmed state, reusing the ids already given.
      return this.#answer(current, current, request, mapped, window);
    }
    const base = kind === 'confirm-pending' ? confirmPending(current) : current;
    return this.#answer(current, base, request, {}, window);
  }

  async #answer(
    stored: CollectionState,
    base: CollectionState,
    request: Request,
    mapped: Record<string, string>,
    window: number,
  ): Promise<Response> {
    const clientAdds = { ...mapped };
    for (const clientId of request.adds) clientAdds[clientId] ??= this.folder.add(clientId);
    for (const id of request.deletes) this.folder.delete(id);
    const known = new Set(base.confirmed.known);
    for (const id of Object.values(clientAdds)) known.add(id);
    for (const id of request.deletes) known.delete(id);
    const changes = this.folder.changesSince(base.confirmed.cursor, window, known);
    if (
      changes.sent.length === 0 &&
      request.adds.length === 0 &&
      request.deletes.length === 0 &&
      changes.cursor === base.confirmed.cursor &&
      base.pending === null
    ) {
      // Nothing to say: answer with the presented key and write nothing.
      return { status: 1, syncKey: latestSyncKey(base), sent: [], clientAdds: {}, more: false };
    }
    const next = issuePending(base, {
      sent: changes.sent,
      clientAdds,
      removedByClient: request.deletes,
      cursor: changes.cursor,
      response: { more: changes.more },
    });
    return this.#commit(stored, next, {
      status: 1,
      syncKey: next.pending!.syncKey,
      sent: changes.sent,
      clientAdds,
      more: changes.more,
    });
  }

  #more(response: unknown): boolean {
    return (response as { more?: boolean } | undefined)?.more ?? false;
  }

  async #commit(
    stored: CollectionState | null,
    next: CollectionState,
    response: Response,
  ): Promise<Response> {
    const won = await this.store.compareAndSet(
      this.key,
      stored === null ? null : latestSyncKey(stored),
      next,
    );
    expect(won).toBe(true);
    this.issued.push(next.pending!.syncKey);
    return response;
  }
}

/** The device: what it holds, what it still has to tell the server, and the assertions on what it gets. */
class Device {
  syncKey = INITIAL_SYNC_KEY;
  readonly items = new Set<string>();
  /** Local adds without a server id yet, by client id. */
  readonly unsentAdds = new Set<string>();
  readonly unsentDeletes = new Set<string>();
  #clientIds = 0;

  addLocal(): void {
    this.unsentAdds.add(`c${++this.#clientIds}`);
  }
  deleteLocal(pick: number): void {
    const held = [...this.items];
    if (held.length === 0) return;
    const id = held[pick % held.length]!;
    this.items.delete(id);
    this.unsentDeletes.add(id);
  }
  request(): Request {
    // A request with key 0 carries no commands (MS-ASCMD 2.2.3.181.4); local changes wait for the next one.
    if (this.syncKey === INITIAL_SYNC_KEY) return { syncKey: this.syncKey, adds: [], deletes: [] };
    return { syncKey: this.syncKey, adds: [...this.unsentAdds], deletes: [...this.unsentDeletes] };
  }
  startOver(): void {
    this.syncKey = INITIAL_SYNC_KEY;
    this.items.clear();
    this.unsentAdds.clear();
    this.unsentDeletes.clear();
  }
  apply(request: Request, response: Response): void {
    if (response.status === 3) {
      this.startOver();
      return;
    }
    for (const clientId of request.adds) {
      const serverId = response.clientAdds[clientId];
      expect(serverId, `no server id for client add ${clientId}`).toBeDefined();
      expect(this.items.has(serverId!), `client add ${clientId} answered with an id already held`).toBe(
        false,
      );
      this.items.add(serverId!);
      this.unsentAdds.delete(clientId);
    }
    for (const id of request.deletes) this.unsentDeletes.delete(id);
    for (const change of response.sent) {
      if (change.kind === 'add') {
        expect(this.items.has(change.id), `item ${change.id} delivered twice as an add`).toBe(false);
        this.items.add(change.id);
        continue;
      }
      // A change or delete names an item the device holds, or one it deleted and has not told the server yet.
      const held = this.items.has(change.id) || this.unsentDeletes.has(change.id);
      expect(held, `${change.kind} of ${change.id}, which the device does not hold`).toBe(true);
      if (change.kind !== 'change') this.items.delete(change.id);
    }
    this.syncKey = response.syncKey;
  }
}

async function converse(actions: Action[]): Promise<void> {
  const server = new Server();
  const device = new Device();
  let lost: { request: Request; response: Response } | undefined;

  const sync = async (window: number, lose: boolean) => {
    const request = device.request();
    const response = await server.sync(request, window);
    if (lost !== undefined && JSON.stringify(lost.request) === JSON.stringify(request)) {
      // The same request after a lost response gets the same outcome (key, items, ids), unless the lost
      // response was a start-over, which always begins a new epoch.
      if (request.syncKey !== INITIAL_SYNC_KEY && lost.response.syncKey !== request.syncKey) {
        expect(response).toEqual(lost.response);
      }
    }
    if (lose) lost = { request, response };
    else {
      lost = undefined;
      device.apply(request, response);
    }
    return response;
  };

  for (const action of actions) {
    switch (action.type) {
      case 'server-add':
        server.folder.add();
        break;
      case 'server-change': {
        const live = [...server.folder.live];
        if (live.length > 0) server.folder.change(live[action.pick % live.length]!);
        break;
      }
      case 'server-delete': {
        const live = [...server.folder.live];
        if (live.length > 0) server.folder.delete(live[action.pick % live.length]!);
        break;
      }
      case 'device-add':
        for (let index = 0; index < action.count; index++) device.addLocal();
        break;
      case 'device-delete':
        device.deleteLocal(action.pick);
        break;
      case 'sync':
        await sync(action.window, action.lose);
        break;
      case 'reset': {
        const liveBefore = [...server.folder.live];
        device.startOver();
        await sync(1, action.lose);
        // Key 0 starts the device over; it never deletes anything on the server.
        expect([...server.folder.live]).toEqual(liveBefore);
        break;
      }
      case 'stray': {
        const before = await server.store.get(server.key);
        const key =
          typeof action.key === 'string'
            ? action.key
            : server.issued[action.key.stale % Math.max(1, server.issued.length)];
        if (key === undefined || key === INITIAL_SYNC_KEY) break;
        // The model: only the confirmed and the pending key of the stored state are accepted.
        if (before !== null && (key === before.confirmed.syncKey || key === before.pending?.syncKey)) break;
        const response = await server.sync(
          { syncKey: key, adds: ['stray'], deletes: [...server.folder.live] },
          4,
        );
        expect(response.status).toBe(3);
        expect(await server.store.get(server.key)).toEqual(before);
        expect(server.folder.createdFor.has('stray')).toBe(false);
        break;
      }
    }
  }

  // Keys never repeat, across start-overs included.
  expect(new Set(server.issued).size).toBe(server.issued.length);
  // No client add was ever applied twice.
  for (const [clientId, ids] of server.folder.createdFor)
    expect(ids, `client add ${clientId}`).toHaveLength(1);

  // Nothing is lost: with a reliable network the device ends up holding exactly the server's items.
  let drained = false;
  for (let round = 0; round < 200 && !drained; round++) {
    const presented = device.syncKey;
    const hadCommands = device.unsentAdds.size + device.unsentDeletes.size > 0;
    const response = await sync(4, false);
    // Done when the server looked at the mailbox and had nothing to say (it answers with the same key);
    // a replayed response does not count, it says nothing about changes made since.
    drained =
      response.status === 1 &&
      !hadCommands &&
      response.syncKey === presented &&
      response.sent.length === 0 &&
      latestSyncKey((await server.store.get(server.key))!) === device.syncKey;
  }
  expect(drained).toBe(true);
  expect([...device.items].sort()).toEqual([...server.folder.live].sort());
  // And the state, once the device's key is confirmed, knows exactly what the device holds.
  const final = confirmPending((await server.store.get(server.key))!);
  expect([...(final.confirmed.known ?? [])].sort()).toEqual([...device.items].sort());
}

describe('sync key rules, against a device that loses responses', () => {
  it('never delivers an item twice, never duplicates a client add, never repeats a key, loses nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(actionArbitrary, { maxLength: 60 }), (actions) => converse(actions)),
      { numRuns: 300 },
    );
  });

  it('starts over on key 0 and sends everything again', async () => {
    await converse([
      { type: 'server-add' },
      { type: 'sync', lose: false, window: 4 },
      { type: 'sync', lose: false, window: 4 },
      { type: 'server-add' },
      { type: 'sync', lose: false, window: 4 },
      { type: 'reset', lose: false },
    ]);
  });

  it('replays a lost response exactly, client ids included', async () => {
    await converse([
      { type: 'server-add' },
      { type: 'sync', lose: false, window: 4 },
      { type: 'sync', lose: false, window: 4 },
      { type: 'device-add', count: 2 },
      { type: 'server-add' },
      { type: 'sync', lose: true, window: 4 },
      { type: 'sync', lose: true, window: 4 },
      { type: 'device-add', count: 1 },
      { type: 'sync', lose: true, window: 1 },
      { type: 'sync', lose: false, window: 1 },
    ]);
  });
});
