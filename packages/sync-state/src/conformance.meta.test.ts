import { beforeAll, describe, expect, it } from 'vitest';
import type { CollectionKey } from './collection.js';
import { syncStateChecks } from './conformance.js';
import { latestSyncKey } from './rules.js';
import type { CollectionState } from './state.js';
import type { SyncStateStore } from './store.js';

// The suite must not pass vacuously: every broken store below has one realistic bug, and the check aimed at
// that bug has to fail against it, while an independent correct store passes everything.

interface Entry {
  key: CollectionKey;
  stored: unknown;
}

/** A second, straightforward correct store (flat map, JSON text), with hooks the broken variants override. */
class MapStore implements SyncStateStore {
  protected readonly entries = new Map<string, Entry>();

  protected id(key: CollectionKey): string {
    return JSON.stringify([key.user, key.deviceId, key.collectionId]);
  }
  protected encode(state: CollectionState): unknown {
    return JSON.stringify(state);
  }
  protected decode(stored: unknown): CollectionState {
    return JSON.parse(stored as string);
  }
  protected lookup(id: string): Entry | undefined {
    return this.entries.get(id);
  }
  protected matches(current: CollectionState | undefined, expected: string | null): boolean {
    return current === undefined ? expected === null : latestSyncKey(current) === expected;
  }
  /** A pause between the check and the write; none here, so the check and the write are one step. */
  protected beforeWrite(_existed: boolean): Promise<void> | undefined {
    return undefined;
  }

  async get(key: CollectionKey): Promise<CollectionState | null> {
    const entry = this.entries.get(this.id(key));
    return entry === undefined ? null : this.decode(entry.stored);
  }
  async getMany(keys: readonly CollectionKey[]): Promise<(CollectionState | null)[]> {
    return keys.map((key) => {
      const entry = this.entries.get(this.id(key));
      return entry === undefined ? null : this.decode(entry.stored);
    });
  }
  async compareAndSet(key: CollectionKey, expected: string | null, next: CollectionState): Promise<boolean> {
    const id = this.id(key);
    const entry = this.lookup(id);
    if (!this.matches(entry && this.decode(entry.stored), expected)) return false;
    const pause = this.beforeWrite(entry !== undefined);
    if (pause !== undefined) await pause;
    this.entries.set(id, { key: { ...key }, stored: this.encode(next) });
    return true;
  }
  async delete(key: CollectionKey): Promise<boolean> {
    return this.entries.delete(this.id(key));
  }
  protected ofDevice(entry: Entry, user: string, deviceId: string): boolean {
    return entry.key.user === user && entry.key.deviceId === deviceId;
  }
  async deleteDevice(user: string, deviceId: string): Promise<number> {
    let removed = 0;
    for (const [id, entry] of this.entries) {
      if (this.ofDevice(entry, user, deviceId)) {
        this.entries.delete(id);
        removed++;
      }
    }
    return removed;
  }
  async listCollections(user: string, deviceId: string): Promise<string[]> {
    return [...this.entries.values()]
      .filter((entry) => this.ofDevice(entry, user, deviceId))
      .map((e) => e.key.collectionId);
  }
}

async function ticks(count: number): Promise<void> {
  for (let index = 0; index < count; index++) await Promise.resolve();
}

/** Copies by assigning property by property: a `__proto__` key is silently lost. */
function naiveCopy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(naiveCopy);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value)) out[key] = naiveCopy((value as Record<string, unknown>)[key]);
  return out;
}

/** Keeps every collection of a device in one JSON blob, read-modify-write with an await in between. */
class DeviceBlobStore implements SyncStateStore {
  readonly #blobs = new Map<string, string>();
  #device(user: string, deviceId: string) {
    return JSON.stringify([user, deviceId]);
  }
  #read(user: string, deviceId: string): Record<string, CollectionState> {
    return JSON.parse(this.#blobs.get(this.#device(user, deviceId)) ?? '{}');
  }
  async get(key: CollectionKey) {
    return this.#read(key.user, key.deviceId)[key.collectionId] ?? null;
  }
  async compareAndSet(key: CollectionKey, expected: string | null, next: CollectionState) {
    const blob = this.#read(key.user, key.deviceId);
    const current = blob[key.collectionId];
    if (current === undefined ? expected !== null : latestSyncKey(current) !== expected) return false;
    await ticks(2);
    blob[key.collectionId] = JSON.parse(JSON.stringify(next));
    this.#blobs.set(this.#device(key.user, key.deviceId), JSON.stringify(blob));
    return true;
  }
  async delete(key: CollectionKey) {
    const blob = this.#read(key.user, key.deviceId);
    if (!(key.collectionId in blob)) return false;
    delete blob[key.collectionId];
    this.#blobs.set(this.#device(key.user, key.deviceId), JSON.stringify(blob));
    return true;
  }
  async deleteDevice(user: string, deviceId: string) {
    const count = Object.keys(this.#read(user, deviceId)).length;
    this.#blobs.delete(this.#device(user, deviceId));
    return count;
  }
  async listCollections(user: string, deviceId: string) {
    return Object.keys(this.#read(user, deviceId));
  }
}

const broken: Record<string, { create: () => SyncStateStore; catchers: string[] }> = {
  'returns undefined for a missing state': {
    create: () =>
      new (class extends MapStore {
        override async get(key: CollectionKey) {
          return (await super.get(key)) ?? (undefined as unknown as null);
        }
      })(),
    catchers: ['get returns null for a collection without state'],
  },
  'reports success for a first write it drops': {
    create: () =>
      new (class extends MapStore {
        override async compareAndSet(key: CollectionKey, expected: string | null, next: CollectionState) {
          if (this.lookup(this.id(key)) === undefined && expected === null) return true;
          return super.compareAndSet(key, expected, next);
        }
      })(),
    catchers: ['compareAndSet with null creates the state and get returns it'],
  },
  'copies property by property': {
    create: () =>
      new (class extends MapStore {
        protected override encode(state: CollectionState) {
          return naiveCopy(state);
        }
        protected override decode(stored: unknown) {
          return naiveCopy(stored) as CollectionState;
        }
      })(),
    catchers: ['every part of a state round-trips exactly'],
  },
  'lets null overwrite an existing state': {
    create: () =>
      new (class extends MapStore {
        protected override matches(current: CollectionState | undefined, expected: string | null) {
          return expected === null || super.matches(current, expected);
        }
      })(),
    catchers: ['compareAndSet with null loses when a state exists and leaves it unchanged'],
  },
  'compares the confirmed key': {
    create: () =>
      new (class extends MapStore {
        protected override matches(current: CollectionState | undefined, expected: string | null) {
          return current === undefined ? expected === null : current.confirmed.syncKey === expected;
        }
      })(),
    catchers: [
      'compareAndSet expecting the pending key replaces the state',
      'compareAndSet expecting the confirmed key loses while a pending part exists',
    ],
  },
  'compares the pending key only': {
    create: () =>
      new (class extends MapStore {
        protected override matches(current: CollectionState | undefined, expected: string | null) {
          return current === undefined ? expected === null : current.pending?.syncKey === expected;
        }
      })(),
    catchers: ['compareAndSet expecting the confirmed key replaces a state without pending part'],
  },
  'accepts the confirmed or the pending key': {
    create: () =>
      new (class extends MapStore {
        protected override matches(current: CollectionState | undefined, expected: string | null) {
          if (current === undefined) return expected === null;
          return current.pending?.syncKey === expected || current.confirmed.syncKey === expected;
        }
      })(),
    catchers: ['compareAndSet expecting the confirmed key loses while a pending part exists'],
  },
  'ignores the expected key once a state exists': {
    create: () =>
      new (class extends MapStore {
        protected override matches(current: CollectionState | undefined, expected: string | null) {
          return current === undefined ? expected === null : expected !== null;
        }
      })(),
    catchers: ['compareAndSet with a wrong key loses and leaves the state unchanged'],
  },
  'creates a missing state whatever was expected': {
    create: () =>
      new (class extends MapStore {
        protected override matches(current: CollectionState | undefined, expected: string | null) {
          return current === undefined || super.matches(current, expected);
        }
      })(),
    catchers: ['compareAndSet with a key on a missing state loses and creates nothing'],
  },
  'keeps and hands out the caller’s objects': {
    create: () =>
      new (class extends MapStore {
        protected override encode(state: CollectionState) {
          return state;
        }
        protected override decode(stored: unknown) {
          return stored as CollectionState;
        }
      })(),
    catchers: ['states are copied in and out'],
  },
  'leaves the user out of the key': {
    create: () =>
      new (class extends MapStore {
        protected override id(key: CollectionKey) {
          return JSON.stringify([key.deviceId, key.collectionId]);
        }
      })(),
    catchers: ['users are isolated'],
  },
  'leaves the device out of the key': {
    create: () =>
      new (class extends MapStore {
        protected override id(key: CollectionKey) {
          return JSON.stringify([key.user, key.collectionId]);
        }
      })(),
    catchers: ['devices are isolated'],
  },
  'leaves the collection out of the key': {
    create: () =>
      new (class extends MapStore {
        protected override id(key: CollectionKey) {
          return JSON.stringify([key.user, key.deviceId]);
        }
      })(),
    catchers: ['collections are isolated, the hierarchy included'],
  },
  'joins the key parts with a separator': {
    create: () =>
      new (class extends MapStore {
        protected override id(key: CollectionKey) {
          return `${key.user}:${key.deviceId}:${key.collectionId}`;
        }
        protected override ofDevice(entry: Entry, user: string, deviceId: string) {
          return `${entry.key.user}:${entry.key.deviceId}` === `${user}:${deviceId}`;
        }
      })(),
    catchers: ['key parts containing separators do not collide'],
  },
  'deletes the whole device on delete': {
    create: () =>
      new (class extends MapStore {
        override async delete(key: CollectionKey) {
          return (await this.deleteDevice(key.user, key.deviceId)) > 0;
        }
      })(),
    catchers: ['delete removes one collection and says whether it existed'],
  },
  'keeps a tombstone that still takes part in compare-and-set': {
    create: () =>
      new (class extends MapStore {
        readonly tombstones = new Map<string, Entry>();
        protected override lookup(id: string) {
          return this.entries.get(id) ?? this.tombstones.get(id);
        }
        override async delete(key: CollectionKey) {
          const entry = this.entries.get(this.id(key));
          if (entry !== undefined) this.tombstones.set(this.id(key), entry);
          return super.delete(key);
        }
      })(),
    catchers: ['a deleted collection starts again from null and its old key is gone'],
  },
  'deletes every device of the user on deleteDevice': {
    create: () =>
      new (class extends MapStore {
        override async deleteDevice(user: string) {
          let removed = 0;
          for (const [id, entry] of this.entries) {
            if (entry.key.user === user) {
              this.entries.delete(id);
              removed++;
            }
          }
          return removed;
        }
      })(),
    catchers: ['deleteDevice removes every collection of that device only'],
  },
  'lists every collection of the user': {
    create: () =>
      new (class extends MapStore {
        override async listCollections(user: string) {
          return [...this.entries.values()].filter((e) => e.key.user === user).map((e) => e.key.collectionId);
        }
      })(),
    catchers: ['listCollections lists the collections of one device, the hierarchy included'],
  },
  'checks and writes in two steps': {
    create: () =>
      new (class extends MapStore {
        protected override beforeWrite() {
          return ticks(2);
        }
      })(),
    catchers: ['concurrent compareAndSet calls expecting the same key: exactly one wins'],
  },
  'inserts a new state in two steps': {
    create: () =>
      new (class extends MapStore {
        protected override beforeWrite(existed: boolean) {
          return existed ? undefined : ticks(2);
        }
      })(),
    catchers: ['concurrent creation from null: exactly one wins'],
  },
  'rewrites one blob per device': {
    create: () => new DeviceBlobStore(),
    catchers: ['concurrent writes to different collections of one device all land'],
  },
  'truncates long strings': {
    create: () =>
      new (class extends MapStore {
        protected override encode(state: CollectionState) {
          return JSON.stringify(state, (_key, value) =>
            typeof value === 'string' && value.length > 65_536 ? value.slice(0, 65_536) : value,
          );
        }
      })(),
    catchers: ['a large state round-trips'],
  },
  'forgets the newest write when a chain grows long': {
    create: () =>
      new (class extends MapStore {
        writes = 0;
        override async compareAndSet(key: CollectionKey, expected: string | null, next: CollectionState) {
          const won = await super.compareAndSet(key, expected, next);
          if (won && ++this.writes === 5) this.entries.delete(this.id(key));
          return won;
        }
      })(),
    catchers: ['a chain of writes follows the newest key'],
  },
};

/** Answers `getMany` from decoded states it keeps until the next write (a read-through cache). */
class CachingStore extends MapStore {
  readonly #decoded = new Map<string, CollectionState>();
  override async compareAndSet(key: CollectionKey, expected: string | null, next: CollectionState) {
    this.#decoded.clear();
    return super.compareAndSet(key, expected, next);
  }
  override async delete(key: CollectionKey) {
    this.#decoded.clear();
    return super.delete(key);
  }
  override async getMany(keys: readonly CollectionKey[]) {
    return keys.map((key) => {
      const id = this.id(key);
      const entry = this.entries.get(id);
      if (entry === undefined) return null;
      let state = this.#decoded.get(id);
      if (state === undefined) {
        state = this.decode(entry.stored);
        this.#decoded.set(id, state);
      }
      return state;
    });
  }
}

/** `getMany` bugs: each store answers `get` correctly and `getMany` with one realistic mistake. */
const brokenGetMany: Record<string, { create: () => SyncStateStore; catchers: string[] }> = {
  'answers getMany in the order the states were written': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          const wanted = new Set(keys.map((key) => this.id(key)));
          const found = [...this.entries]
            .filter(([id]) => wanted.has(id))
            .map(([, e]) => this.decode(e.stored));
          return keys.map((_, index) => found[index] ?? null);
        }
      })(),
    catchers: ['getMany answers in the order of the keys'],
  },
  'answers a key named twice in getMany only once': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          const unique = [...new Map(keys.map((key) => [this.id(key), key])).values()];
          const states = await super.getMany(unique);
          return keys.map((_, index) => states[index] ?? null);
        }
      })(),
    catchers: ['getMany answers a key named more than once at every position'],
  },
  'leaves keys without a state out of getMany': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          const found = (await super.getMany(keys)).filter((state) => state !== null);
          return keys.map((_, index) => found[index] ?? null);
        }
      })(),
    catchers: ['getMany answers null for keys without a state, a deleted one included'],
  },
  'matches getMany keys on their parts joined with a separator': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          const joined = (key: CollectionKey) => [key.user, key.deviceId, key.collectionId].join(':');
          const byJoined = new Map<string, Entry>();
          for (const entry of this.entries.values()) byJoined.set(joined(entry.key), entry);
          return keys.map((key) => {
            const entry = byJoined.get(joined(key));
            return entry === undefined ? null : this.decode(entry.stored);
          });
        }
      })(),
    catchers: ['getMany keeps users, devices and collections apart, whatever characters the keys contain'],
  },
  'decodes a key named twice in getMany once and shares the object': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          const decoded = new Map<string, CollectionState | null>();
          return keys.map((key) => {
            const id = this.id(key);
            if (!decoded.has(id)) {
              const entry = this.entries.get(id);
              decoded.set(id, entry === undefined ? null : this.decode(entry.stored));
            }
            return decoded.get(id)!;
          });
        }
      })(),
    catchers: ['getMany hands out copies: changing them changes neither the store nor each other'],
  },
  'hands out the states its getMany cache keeps': {
    create: () => new CachingStore(),
    catchers: ['getMany hands out copies: changing them changes neither the store nor each other'],
  },
  'fails getMany for no keys': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          if (keys.length === 0) throw new Error('syntax error at or near ")"');
          return super.getMany(keys);
        }
      })(),
    catchers: ['getMany with no keys answers an empty list'],
  },
  'decodes getMany states property by property': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          return (await super.getMany(keys)).map((state) => naiveCopy(state) as CollectionState | null);
        }
      })(),
    catchers: ['getMany agrees with get, every part of a state included'],
  },
  'answers at most 256 keys in getMany': {
    create: () =>
      new (class extends MapStore {
        override async getMany(keys: readonly CollectionKey[]) {
          const states = await super.getMany(keys.slice(0, 256));
          return keys.map((_, index) => states[index] ?? null);
        }
      })(),
    catchers: ['getMany reads 300 keys of several devices at once'],
  },
};

async function failingChecks(create: () => SyncStateStore): Promise<string[]> {
  const failed: string[] = [];
  for (const check of syncStateChecks) {
    try {
      await check.run({ store: create() });
    } catch {
      failed.push(check.name);
    }
  }
  return failed;
}

const allBroken = { ...broken, ...brokenGetMany };

describe('the conformance suite', () => {
  const failures = new Map<string, string[]>();

  beforeAll(async () => {
    for (const [name, { create }] of Object.entries(allBroken))
      failures.set(name, await failingChecks(create));
  });

  it('has unique check names', () => {
    const names = syncStateChecks.map((check) => check.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('passes an independent correct store', async () => {
    expect(await failingChecks(() => new MapStore())).toEqual([]);
  });

  it.each(Object.entries(allBroken))('catches a store that %s', (name, { catchers }) => {
    expect(failures.get(name)).toEqual(expect.arrayContaining(catchers));
  });

  it('has no check that no broken store fails', () => {
    const caught = new Set([...failures.values()].flat());
    expect(syncStateChecks.map((check) => check.name).filter((name) => !caught.has(name))).toEqual([]);
  });

  it('names only checks that exist', () => {
    const names = new Set(syncStateChecks.map((check) => check.name));
    for (const { catchers } of Object.values(allBroken))
      for (const name of catchers) expect(names).toContain(name);
  });
});
