import type { FolderId, UserId } from '@easkit/mailbox';

/**
 * The collection id under which the folder hierarchy (FolderSync) keeps its state. It starts with `#`, which
 * no folder id the mailbox hands out is expected to do, so it cannot clash with a folder's collection.
 */
export const HIERARCHY = '#hierarchy';

/** A folder's collection id (its `CollectionId` in Sync) or {@link HIERARCHY} for FolderSync. */
export type CollectionId = FolderId | typeof HIERARCHY;

/**
 * Names one sync state: a device of a user, and one of its collections. All three parts are compared as
 * exact strings; a store keeps states of different keys apart even when the parts contain separators
 * (`{user: 'a:b', deviceId: 'c'}` and `{user: 'a', deviceId: 'b:c'}` are different devices).
 */
export interface CollectionKey {
  readonly user: UserId;
  /** The EAS `DeviceId` from the request line. */
  readonly deviceId: string;
  readonly collectionId: CollectionId;
}

/** The key of the folder hierarchy's state for a device. */
export function hierarchyKey(user: UserId, deviceId: string): CollectionKey {
  return { user, deviceId, collectionId: HIERARCHY };
}
