import type { UserId } from '@easkit/mailbox';
import type { CollectionId, CollectionKey } from './collection.js';
import { latestSyncKey } from './rules.js';
import { type CollectionState, jsonCopy } from './state.js';
import type { SyncStateStore } from './store.js';

/**
 * The reference {@link SyncStateStore}: states in memory, nested by user, then device, then collection, so
 * no choice of characters in a key can make two keys meet. It copies states in and out through
 * {@link jsonCopy}, so a state that is not JSON-able is refused with a `TypeError` here just as a database
 * would fail to keep it. Every method runs without awaiting in the middle, which makes `compareAndSet`
 * atomic within the process.
 *
 * For tests, the embedded quick start and single-process servers. Nothing survives a restart.
 */
export class MemorySyncStateStore implements SyncStateStore {
  readonly #users = new Map<UserId, Map<string, Map<CollectionId, CollectionState>>>();

  async get(key: CollectionKey): Promise<CollectionState | null> {
    const state = this.#users.get(key.user)?.get(key.deviceId)?.get(key.collectionId);
    return state === undefined ? null : jsonCopy(state);
  }

  /**
   * Every entry through `get`: each read finishes without awaiting, so the batch is one snapshot, and a test
   * that replaces `get` to make the store fail sees these reads fail too.
   */
  async getMany(keys: readonly CollectionKey[]): Promise<(CollectionState | null)[]> {
    return Promise.all(keys.map((key) => this.get(key)));
  }

  async compareAndSet(
    key: CollectionKey,
    expectedSyncKey: string | null,
    next: CollectionState,
  ): Promise<boolean> {
    const copy = jsonCopy(next);
    const current = this.#users.get(key.user)?.get(key.deviceId)?.get(key.collectionId);
    const matches =
      current === undefined ? expectedSyncKey === null : latestSyncKey(current) === expectedSyncKey;
    if (!matches) return false;
    let devices = this.#users.get(key.user);
    if (devices === undefined) {
      devices = new Map();
      this.#users.set(key.user, devices);
    }
    let collections = devices.get(key.deviceId);
    if (collections === undefined) {
      collections = new Map();
      devices.set(key.deviceId, collections);
    }
    collections.set(key.collectionId, copy);
    return true;
  }

  async delete(key: CollectionKey): Promise<boolean> {
    const devices = this.#users.get(key.user);
    const collections = devices?.get(key.deviceId);
    if (devices === undefined || collections === undefined) return false;
    const removed = collections.delete(key.collectionId);
    if (collections.size === 0) devices.delete(key.deviceId);
    if (devices.size === 0) this.#users.delete(key.user);
    return removed;
  }

  async deleteDevice(user: UserId, deviceId: string): Promise<number> {
    const devices = this.#users.get(user);
    const count = devices?.get(deviceId)?.size ?? 0;
    devices?.delete(deviceId);
    if (devices?.size === 0) this.#users.delete(user);
    return count;
  }

  async listCollections(user: UserId, deviceId: string): Promise<CollectionId[]> {
    return [...(this.#users.get(user)?.get(deviceId)?.keys() ?? [])];
  }
}
