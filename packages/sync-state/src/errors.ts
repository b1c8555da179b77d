import type { CollectionKey } from './collection.js';

/** Stable codes of the errors this package throws. Match on these, not on messages. */
export type SyncStateErrorCode = 'invalid-sync-key' | 'sync-state-conflict';

/**
 * The device presented a sync key that is neither `0`, nor the confirmed key, nor the pending key of the
 * collection. `status` is the EAS Status the command answers with (Sync 3, FolderSync 9, ...; see
 * {@link INVALID_SYNC_KEY_STATUS}); the device then starts the collection over with key `0`.
 *
 * Thrown by `requireValidSyncKey` and by `nextSyncKey` when the key it is given cannot be continued.
 */
export class InvalidSyncKeyError extends Error {
  override readonly name = 'InvalidSyncKeyError';
  readonly code = 'invalid-sync-key' as const;
  /** The key as the device sent it (possibly empty or garbage). */
  readonly syncKey: string;
  /** The EAS Status code the command answers with, when the command is known. */
  readonly status: number | undefined;

  constructor(syncKey: string, status?: number, reason = 'unknown or stale sync key') {
    super(`${reason}: ${JSON.stringify(syncKey.length > 80 ? `${syncKey.slice(0, 80)}...` : syncKey)}`);
    this.syncKey = syncKey;
    this.status = status;
  }
}

/**
 * A compare-and-set lost: the stored state of the collection no longer carries the sync key the writer read.
 * Another request for the same collection won the race. Re-read the state and classify the key again (the
 * loser of two identical requests then sees `'repeat'` and replays the winner's outcome).
 *
 * Thrown by `compareAndSetOrThrow`; `SyncStateStore.compareAndSet` itself reports a lost race by returning
 * `false`.
 */
export class SyncStateConflictError extends Error {
  override readonly name = 'SyncStateConflictError';
  readonly code = 'sync-state-conflict' as const;
  readonly key: CollectionKey;
  /** The key the writer expected to find (`null`: expected no state at all). */
  readonly expectedSyncKey: string | null;

  constructor(key: CollectionKey, expectedSyncKey: string | null) {
    super(
      `sync state of ${key.user}/${key.deviceId}/${key.collectionId} changed concurrently ` +
        `(expected ${expectedSyncKey === null ? 'no state' : JSON.stringify(expectedSyncKey)})`,
    );
    this.key = { ...key };
    this.expectedSyncKey = expectedSyncKey;
  }
}

/** True for the errors of this package. */
export function isSyncStateError(error: unknown): error is InvalidSyncKeyError | SyncStateConflictError {
  return error instanceof InvalidSyncKeyError || error instanceof SyncStateConflictError;
}
