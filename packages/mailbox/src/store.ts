import type { FolderId, ItemId, Modseq, UserId } from './ids.js';
import type { EmailFlag } from './models/email.js';
import type { Folder, FolderType } from './models/folder.js';
import type { ItemClass, ItemData, ItemPatch, StoredItem } from './models/item.js';

/** A mailbox owner. Addresses are matched case-insensitively and belong to at most one user. */
export interface User {
  id: UserId;
  primarySmtpAddress: string;
  aliases: string[];
  displayName?: string;
}

export interface NewUser {
  id: UserId;
  primarySmtpAddress: string;
  aliases?: string[];
  displayName?: string;
}

/** A change to a user: a new display name (`null` removes it) and/or the whole alias list. */
export interface UserUpdate {
  displayName?: string | null;
  aliases?: string[];
}

export interface NewFolder {
  /** {@link ROOT_FOLDER_ID} (`'0'`) for a top-level folder. */
  parentId: FolderId;
  displayName: string;
  type: FolderType;
}

export interface FolderUpdate {
  displayName?: string;
  parentId?: FolderId;
}

/** What {@link MailboxStore.pollChanges} is asked. */
export interface PollRequest {
  /** When given, whether the folder hierarchy changed after this modseq is answered too. */
  readonly hierarchySince?: Modseq;
  /** The folders to check, each against its own cursor. */
  readonly folders: readonly { readonly folderId: FolderId; readonly sinceModseq: Modseq }[];
}

/** The answer of {@link MailboxStore.pollChanges}. */
export interface PollResult {
  /** Present when `hierarchySince` was asked: a folder was added, renamed, moved or deleted after it. */
  hierarchyChanged?: boolean;
  /** In the order of the request's folders. */
  folders: FolderPoll[];
}

/** Whether one folder has changes after a cursor, or is gone. */
export type FolderPoll = 'changed' | 'unchanged' | 'gone';

/** Folder hierarchy changes after a modseq, for FolderSync. */
export interface FolderChanges {
  /** Folders created after `sinceModseq` and still present, in their current state, parents before children. */
  added: Folder[];
  /** Folders that existed at `sinceModseq` and were renamed or moved since, in their current state. */
  changed: Folder[];
  /** Folders that existed at `sinceModseq` and are gone now (including subfolders of a deleted folder). */
  deleted: FolderId[];
  /** The cursor for the next call: the user's modseq when the changes were read. */
  modseq: Modseq;
}

/**
 * One entry of {@link ChangesPage}. `modseq` is the change's position in the folder's log (pages are ordered by
 * it and `nextModseq` refers to it); `item` is the item's current state, whose own `modseq` may be later: an
 * add is reported at the item's creation even when it has been edited since.
 */
export type ItemChange =
  | { kind: 'add'; itemId: ItemId; modseq: Modseq; item: StoredItem }
  | { kind: 'change'; itemId: ItemId; modseq: Modseq; item: StoredItem }
  | { kind: 'delete'; itemId: ItemId; modseq: Modseq };

/** A page of item changes in one folder, for Sync. */
export interface ChangesPage {
  /** In ascending modseq order; each item at most once per page. */
  changes: ItemChange[];
  /** True when changes after the last one returned remain. */
  more: boolean;
  /**
   * The cursor for the next call. Every change of the folder with modseq ≤ `nextModseq` has been returned by
   * this call or an earlier one, or has been superseded by a later change that a later call will return.
   */
  nextModseq: Modseq;
}

export interface ReadBodyOptions {
  /**
   * `plain`: text; `html`: HTML; `rtf`: compressed RTF, base64 (only for items stored as RTF); `mime`: the raw
   * RFC 5322 message (Email only).
   */
  type: 'plain' | 'html' | 'rtf' | 'mime';
  /** Cut the data to at most this many bytes (UTF-8), never inside a character. */
  truncateBytes?: number;
}

export type BodyContent =
  | {
      type: 'plain' | 'html' | 'rtf';
      data: string;
      /** Size in bytes of the whole body in this form, before truncation. */
      estimatedSize: number;
      truncated: boolean;
      /** The form the item is stored in (`airsyncbase:NativeBodyType`). */
      nativeType: 'plain' | 'html' | 'rtf';
    }
  | {
      type: 'mime';
      data: Uint8Array;
      estimatedSize: number;
      truncated: boolean;
      nativeType: 'plain' | 'html' | 'rtf';
    };

export interface AttachmentContent {
  contentType: string;
  fileName: string;
  data: Uint8Array;
}

/** For GetItemEstimate: which of a folder's items a Sync with the given filter would hold. */
export interface ItemFilter {
  /**
   * Only items on or after this time: Email by `dateReceived`; Calendar by `endTime`, recurring series
   * counting while their recurrence has not ended. Other classes ignore it.
   */
  since?: Date;
  /** Only items of these classes. */
  classes?: ItemClass[];
  /** Tasks only: leave out completed tasks (EAS FilterType 8). */
  incompleteOnly?: boolean;
}

export interface UpdateOptions {
  /** Fail with `ConflictError('modseq-mismatch')` unless the item's modseq is still this value. */
  expectedModseq?: Modseq;
}

/**
 * The mailbox storage contract: per user, a folder tree and items of the five EAS classes.
 *
 * Guarantees every implementation makes (and `@easkit/mailbox/conformance` checks):
 * - **Plain data.** Arguments and results are plain values; a store never keeps a reference to an argument and
 *   never hands out a reference to its state, so callers may mutate what they pass or receive.
 * - **Modseq.** Each user has a change counter, 0 for a new user. Every successful mutation takes exactly the
 *   next value (one per call, even when it touches many objects); failed calls take none. So modseqs are strictly
 *   increasing per user, in the order mutations take effect.
 * - **Atomicity.** Each method either completes entirely or changes nothing; readers never observe half of a
 *   mutation (a move is a delete in one folder and an add in the other at the same modseq).
 * - **Tombstones.** Deleting an item or moving it out of a folder leaves a tombstone at the new modseq, so
 *   `changes` reports the delete; deleting a folder leaves one in the folder hierarchy.
 * - **Isolation.** Ids are only meaningful for their user: another user's folder, item or file reference is
 *   reported as `NotFoundError`.
 * - **Errors.** Only {@link NotFoundError}, {@link ConflictError} and {@link InvalidArgumentError} (all with a
 *   `code`) are thrown for caller mistakes. Every per-user method throws `NotFoundError('user')` for an unknown user.
 *
 * The reference implementation is `MemoryMailboxStore` (`memory.ts`); start from it when writing an adapter.
 */
export interface MailboxStore {
  // Users -------------------------------------------------------------------------------------------------

  /** @throws ConflictError `user-exists`, `address-taken`; InvalidArgumentError `malformed` (empty id/address). */
  createUser(user: NewUser): Promise<User>;
  /** @throws NotFoundError `user`. */
  getUser(userId: UserId): Promise<User>;
  /**
   * Renames a user and/or replaces their aliases. The primary address and id never change. Does not take a
   * modseq (it changes no folder or item).
   * @throws NotFoundError `user`; ConflictError `address-taken` (an alias belongs to another user);
   * InvalidArgumentError `malformed`.
   */
  updateUser(userId: UserId, update: UserUpdate): Promise<User>;
  /** The user owning this primary address or alias (case-insensitive), or `undefined`. */
  resolveAddress(address: string): Promise<User | undefined>;
  /** The user's current modseq: the value taken by their latest mutation, 0 before any. */
  currentModseq(userId: UserId): Promise<Modseq>;

  // Folders -----------------------------------------------------------------------------------------------

  /**
   * Creates a folder under a fresh id: an id is never given to another folder, not even after its folder was
   * deleted, and a folder keeps its type for life (`updateFolder` renames and moves only). Sync relies on both
   * when it remembers a folder's type with the device's sync state.
   * @throws NotFoundError `folder` (parent); ConflictError `folder-name-taken` (same name, case-insensitive, under
   * the parent), `special-folder-exists`; InvalidArgumentError `malformed` (empty name, bad type).
   */
  createFolder(userId: UserId, folder: NewFolder): Promise<Folder>;
  /** @throws NotFoundError `folder`. */
  getFolder(userId: UserId, folderId: FolderId): Promise<Folder>;
  /** Every folder of the user, parents before children. */
  listFolders(userId: UserId): Promise<Folder[]>;
  /**
   * Renames and/or moves a folder.
   * @throws NotFoundError `folder` (it or the new parent); ConflictError `folder-name-taken`;
   * InvalidArgumentError `special-folder`, `folder-cycle` (new parent is the folder or below it), `malformed`.
   */
  updateFolder(userId: UserId, folderId: FolderId, update: FolderUpdate): Promise<Folder>;
  /**
   * Deletes a folder, its subfolders and every item in them, at one modseq.
   * @throws NotFoundError `folder`; InvalidArgumentError `special-folder`.
   */
  deleteFolder(userId: UserId, folderId: FolderId): Promise<{ modseq: Modseq }>;
  /** Hierarchy changes after `sinceModseq` (0 = everything). */
  folderChanges(userId: UserId, sinceModseq: Modseq): Promise<FolderChanges>;

  // Items -------------------------------------------------------------------------------------------------

  /**
   * Adds an item. For Email the attachments metadata is derived from `data.mime`.
   * @throws NotFoundError `folder`; InvalidArgumentError `class-mismatch` (the folder type holds another class),
   * `malformed`.
   */
  createItem(userId: UserId, folderId: FolderId, item: ItemData): Promise<StoredItem>;
  /** @throws NotFoundError `item`. */
  getItem(userId: UserId, itemId: ItemId): Promise<StoredItem>;
  /**
   * Deep-merges `patch.data` into the item: plain objects merge key by key, arrays, bytes and dates are
   * replaced whole, and a key given as `undefined` removes the field. Replacing an Email's `mime` re-derives its
   * attachments.
   * @throws NotFoundError `item`; InvalidArgumentError `class-mismatch` (patch class differs), `malformed`;
   * ConflictError `modseq-mismatch`.
   */
  updateItem(userId: UserId, itemId: ItemId, patch: ItemPatch, options?: UpdateOptions): Promise<StoredItem>;
  /** Deletes an item, leaving a tombstone. @throws NotFoundError `item`. */
  deleteItem(userId: UserId, itemId: ItemId): Promise<{ modseq: Modseq }>;
  /**
   * Moves an item to another folder. The moved item gets a new id (EAS `DstMsgId`); the old id leaves a
   * tombstone in the source folder and the new one is an add in the destination, both at one modseq.
   * @throws NotFoundError `item`, `folder`; InvalidArgumentError `same-folder`, `class-mismatch`.
   */
  moveItem(userId: UserId, itemId: ItemId, destinationFolderId: FolderId): Promise<StoredItem>;
  /** Sets an Email's read state without touching its MIME. @throws NotFoundError `item`; InvalidArgumentError `class-mismatch`. */
  setReadState(userId: UserId, itemId: ItemId, read: boolean): Promise<StoredItem>;
  /**
   * Sets (or with `undefined` removes) an Email's follow-up flag without touching its MIME.
   * @throws NotFoundError `item`; InvalidArgumentError `class-mismatch`, `malformed`.
   */
  setFlag(userId: UserId, itemId: ItemId, flag: EmailFlag | undefined): Promise<StoredItem>;

  /**
   * Changes in one folder after `sinceModseq`, at most `limit` of them, in ascending modseq order, each item
   * at most once. `add`: the item entered the folder (created or moved in) after `sinceModseq`; it is reported
   * at that point, with its current data. `change`: it was in the folder at `sinceModseq` and was written
   * since; reported at its latest write. `delete`: it was in the folder at `sinceModseq` and has been deleted
   * or moved out since. Items created and removed after `sinceModseq` are not reported.
   *
   * Paging (`sinceModseq` = the previous page's `nextModseq`) while others write loses nothing, never
   * reports an add twice and never a change of an item not yet reported. An item may be reported again (as a
   * `change` at a later modseq) when it was written after the page that reported it, or when it was added and
   * edited before either was reported. One race remains, which no modseq cursor can rule out: an item added
   * and then removed while a reader is between pages may be reported as a `delete` the reader never saw the
   * add of; readers ignore deletes of ids they do not hold. Costs O(changes written since `sinceModseq`), never
   * O(folder size).
   * @throws NotFoundError `folder`; InvalidArgumentError `malformed` (limit < 1, negative modseq).
   */
  changes(userId: UserId, folderId: FolderId, sinceModseq: Modseq, limit: number): Promise<ChangesPage>;

  /**
   * Optional: what a Ping's check needs, in one read where the backend can do that. For each folder, whether
   * `changes(userId, folderId, sinceModseq, 1)` would return a change (`changed`), none (`unchanged`) or throw
   * NotFoundError `folder` (`gone`); with `hierarchySince`, also whether `folderChanges(userId,
   * hierarchySince)` would report anything (`hierarchyChanged`). Use {@link pollChanges} from this package,
   * which falls back to those calls for a store without it.
   * @throws NotFoundError `user`; InvalidArgumentError `malformed` (a negative modseq).
   */
  pollChanges?(userId: UserId, request: PollRequest): Promise<PollResult>;

  // Content -----------------------------------------------------------------------------------------------

  /**
   * An item's body in the requested form. Email bodies come from the raw MIME (plain text falls back to text
   * extracted from the HTML part and vice versa); other classes from their stored body (empty when they have
   * none).
   * @throws NotFoundError `item`; InvalidArgumentError `unsupported-body-type` (`mime` for a non-Email item;
   * `rtf` unless stored as RTF; `plain`/`html` when stored as RTF, which the store does not decode),
   * `malformed` (negative truncateBytes).
   */
  readBody(userId: UserId, itemId: ItemId, options: ReadBodyOptions): Promise<BodyContent>;
  /** The decoded bytes of an attachment. @throws NotFoundError `attachment`. */
  readAttachment(userId: UserId, fileReference: string): Promise<AttachmentContent>;
  /** How many items of the folder match `filter` (GetItemEstimate). @throws NotFoundError `folder`. */
  countItems(userId: UserId, folderId: FolderId, filter?: ItemFilter): Promise<number>;
}
