import type { UserId } from '@easkit/mailbox';
import type { CollectionId, CollectionKey } from './collection.js';
import { SyncStateConflictError } from './errors.js';
import type { CollectionState } from './state.js';

/**
 * Where sync states live: one {@link CollectionState} per (user, device, collection). Copy
 * `MemorySyncStateStore` to write an adapter, and run `runSyncStateConformance` from
 * `@easkit/sync-state/conformance` against it.
 *
 * Guarantees every implementation makes (the conformance suite checks each):
 *
 * - **Exact round trip.** `get` returns a state deep-equal to the one last written, for any JSON-able state
 *   (see `JsonValue`). Properties whose value is `undefined` may come back absent.
 * - **Copies.** Changing an object passed to `compareAndSet` or returned by `get` never changes the stored
 *   state.
 * - **Atomic compare-and-set.** Among any number of concurrent `compareAndSet` calls for one key that expect
 *   the same stored key, at most one returns `true` (exactly one, when the expectation held), across every
 *   process sharing the backend.
 * - **Isolation.** States of different users, devices and collections never affect each other, whatever
 *   characters the key parts contain.
 * - **Nothing else is touched.** Deleting a state removes sync state only, never mailbox data.
 *
 * Methods reject only for backend failures (connection lost, ...); a lost race is `false`, not an error.
 */
export interface SyncStateStore {
  /** The stored state of a collection, or `null` when there is none. */
  get(key: CollectionKey): Promise<CollectionState | null>;

  /**
   * Optional: the stored states of several collections in one round trip to the backend, in the order of
   * `keys` (a key may appear more than once; each position gets its own copy), `null` where there is none.
   * The same guarantees as `get` hold for every entry. Keys may name different users and devices. Callers
   * that do not care whether a store has it use {@link getStates}.
   */
  getMany?(keys: readonly CollectionKey[]): Promise<(CollectionState | null)[]>;

  /**
   * Writes `next` if the stored state's newest key (`latestSyncKey`: the pending key if there is a pending
   * part, otherwise the confirmed key) equals `expectedSyncKey`, or if nothing is stored and
   * `expectedSyncKey` is `null`. Returns whether it wrote. A `false` leaves the stored state unchanged.
   *
   * The rules in this package issue a new newest key with every write that needs one, so two requests that
   * read the same state cannot both win.
   */
  compareAndSet(key: CollectionKey, expectedSyncKey: string | null, next: CollectionState): Promise<boolean>;

  /** Removes a collection's state (the device dropped the folder). Returns whether there was one. */
  delete(key: CollectionKey): Promise<boolean>;

  /**
   * Removes every collection state of a device, the hierarchy's included (the device was removed or wiped).
   * Other devices of the user and other users' devices with the same id are untouched. Returns how many
   * states were removed.
   */
  deleteDevice(user: UserId, deviceId: string): Promise<number>;

  /** The collection ids that have a state for a device, `HIERARCHY` included, in no particular order. */
  listCollections(user: UserId, deviceId: string): Promise<CollectionId[]>;
}

/**
 * The stored states of `keys`, in their order (`null` where there is none): one `store.getMany` call when the
 * store has it, otherwise one `get` per key, all at once.
 */
export async function getStates(
  store: SyncStateStore,
  keys: readonly CollectionKey[],
): Promise<(CollectionState | null)[]> {
  if (keys.length === 0) return [];
  if (store.getMany !== undefined) return store.getMany(keys);
  return Promise.all(keys.map((key) => store.get(key)));
}

/**
 * `store.compareAndSet`, throwing {@link SyncStateConflictError} instead of returning `false`, for command
 * code that prefers one error path for a lost race.
 */
export async function compareAndSetOrThrow(
  store: SyncStateStore,
  key: CollectionKey,
  expectedSyncKey: string | null,
  next: CollectionState,
): Promise<void> {
  if (!(await store.compareAndSet(key, expectedSyncKey, next))) {
    throw new SyncStateConflictError(key, expectedSyncKey);
  }
}
