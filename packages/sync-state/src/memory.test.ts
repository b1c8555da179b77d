import { describe, expect, it } from 'vitest';
import { runSyncStateConformance } from './conformance.js';
import { MemorySyncStateStore } from './memory.js';
import type { CollectionState } from './state.js';

runSyncStateConformance({ name: 'MemorySyncStateStore', create: () => new MemorySyncStateStore() });

describe('MemorySyncStateStore', () => {
  const key = { user: 'u', deviceId: 'd', collectionId: 'c' };

  it('refuses states that are not JSON-able, naming the path', async () => {
    const store = new MemorySyncStateStore();
    const withBytes = {
      confirmed: { syncKey: 'e-1', cursor: 0 },
      pending: null,
      options: { raw: new Uint8Array([1]) },
    } as unknown as CollectionState;
    await expect(store.compareAndSet(key, null, withBytes)).rejects.toThrow(
      /\$\.options\.raw is a Uint8Array/,
    );
    const withNaN: CollectionState = {
      confirmed: { syncKey: 'e-1', cursor: Number.NaN },
      pending: null,
      options: null,
    };
    await expect(store.compareAndSet(key, null, withNaN)).rejects.toThrow(TypeError);
    expect(await store.get(key)).toBeNull();
  });

  it('drops properties whose value is undefined, as a JSON round trip does', async () => {
    const store = new MemorySyncStateStore();
    const state: CollectionState = {
      confirmed: { syncKey: 'e-1', cursor: 0, meta: undefined },
      pending: null,
      options: null,
    };
    await store.compareAndSet(key, null, state);
    expect(Object.keys((await store.get(key))!.confirmed)).toEqual(['syncKey', 'cursor']);
  });
});
