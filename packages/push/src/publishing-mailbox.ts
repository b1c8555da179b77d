import type {
  AttachmentContent,
  BodyContent,
  ChangesPage,
  EmailFlag,
  Folder,
  FolderChanges,
  FolderId,
  FolderUpdate,
  ItemData,
  ItemFilter,
  ItemId,
  ItemPatch,
  MailboxStore,
  Modseq,
  NewFolder,
  NewUser,
  PollRequest,
  ReadBodyOptions,
  StoredItem,
  UpdateOptions,
  User,
  UserId,
  UserUpdate,
} from '@easkit/mailbox';
import type { PushBus } from './push-bus.js';

/**
 * The folder list published for a change of the folder hierarchy: the empty list, which the `PushBus` contract
 * defines as "something changed, re-read every folder you watch". A folder operation can change many folders
 * at once (deleting a folder removes its subfolders and their items), and a waiter must also learn that the
 * hierarchy itself moved on (Ping Status 7), so naming single folders would not be enough.
 */
export const HIERARCHY_CHANGED: readonly FolderId[] = Object.freeze([]);

export interface PublishingMailboxOptions {
  /**
   * Receives what `bus.publish` rejects with. The mutation itself has succeeded by then, so the error is not
   * thrown to the caller (who would otherwise retry a write that is done); without this hook it is dropped.
   */
  onPublishError?: (error: unknown, user: UserId, folderIds: readonly FolderId[]) => void;
}

/**
 * Wraps a `MailboxStore` so that every successful mutation announces the user's changed folders on `bus`:
 *
 * - `createItem`, `updateItem`, `setReadState`, `setFlag`, `deleteItem`: the item's folder, with the modseq
 *   the store returned for the mutation;
 * - `moveItem`: the source and the destination folder, with the move's modseq;
 * - `createFolder`, `updateFolder`, `deleteFolder`: {@link HIERARCHY_CHANGED} (the empty list).
 *
 * The event is published after the store call has resolved (so a waiter that re-reads the store sees the
 * change) and before the wrapper's call resolves (so with an in-process bus, waiting requests have been woken
 * when the write returns). Failed mutations publish nothing; reads and `createUser` are passed through.
 * `deleteItem` and `moveItem` read the item first to learn its folder: one extra read per call.
 */
export function publishingMailbox(
  store: MailboxStore,
  bus: PushBus,
  options: PublishingMailboxOptions = {},
): MailboxStore {
  const wrapped = new PublishingMailboxStore(store, bus, options);
  // Optional reads of the wrapped store stay visible through the wrapper (e.g. `listUsers`, the GAL source).
  const lister = (store as MailboxStore & { listUsers?: () => Promise<User[]> }).listUsers;
  if (typeof lister === 'function') {
    Object.defineProperty(wrapped, 'listUsers', { value: () => lister.call(store), enumerable: false });
  }
  const poller = store.pollChanges;
  if (typeof poller === 'function') {
    Object.defineProperty(wrapped, 'pollChanges', {
      value: (userId: UserId, request: PollRequest) => poller.call(store, userId, request),
      enumerable: false,
    });
  }
  return wrapped;
}

class PublishingMailboxStore implements MailboxStore {
  constructor(
    readonly store: MailboxStore,
    readonly bus: PushBus,
    readonly options: PublishingMailboxOptions,
  ) {}

  async #publish(user: UserId, folderIds: readonly FolderId[], modseq?: Modseq): Promise<void> {
    try {
      await this.bus.publish(user, folderIds, modseq);
    } catch (error) {
      try {
        this.options.onPublishError?.(error, user, folderIds);
      } catch {
        // The hook failing must not turn a successful write into an error either.
      }
    }
  }

  /** The item's folder, or undefined when the item is unknown (the mutation then throws NotFoundError). */
  async #folderOf(user: UserId, itemId: ItemId): Promise<FolderId | undefined> {
    try {
      return (await this.store.getItem(user, itemId)).folderId;
    } catch {
      return undefined;
    }
  }

  // Pass-through reads -------------------------------------------------------------------------------------

  createUser(user: NewUser): Promise<User> {
    return this.store.createUser(user);
  }
  getUser(userId: UserId): Promise<User> {
    return this.store.getUser(userId);
  }
  updateUser(userId: UserId, update: UserUpdate): Promise<User> {
    return this.store.updateUser(userId, update);
  }
  resolveAddress(address: string): Promise<User | undefined> {
    return this.store.resolveAddress(address);
  }
  currentModseq(userId: UserId): Promise<Modseq> {
    return this.store.currentModseq(userId);
  }
  getFolder(userId: UserId, folderId: FolderId): Promise<Folder> {
    return this.store.getFolder(userId, folderId);
  }
  listFolders(userId: UserId): Promise<Folder[]> {
    return this.store.listFolders(userId);
  }
  folderChanges(userId: UserId, sinceModseq: Modseq): Promise<FolderChanges> {
    return this.store.folderChanges(userId, sinceModseq);
  }
  getItem(userId: UserId, itemId: ItemId): Promise<StoredItem> {
    return this.store.getItem(userId, itemId);
  }
  changes(userId: UserId, folderId: FolderId, sinceModseq: Modseq, limit: number): Promise<ChangesPage> {
    return this.store.changes(userId, folderId, sinceModseq, limit);
  }
  readBody(userId: UserId, itemId: ItemId, options: ReadBodyOptions): Promise<BodyContent> {
    return this.store.readBody(userId, itemId, options);
  }
  readAttachment(userId: UserId, fileReference: string): Promise<AttachmentContent> {
    return this.store.readAttachment(userId, fileReference);
  }
  countItems(userId: UserId, folderId: FolderId, filter?: ItemFilter): Promise<number> {
    return this.store.countItems(userId, folderId, filter);
  }

  // Folder mutations ---------------------------------------------------------------------------------------

  async createFolder(userId: UserId, folder: NewFolder): Promise<Folder> {
    const created = await this.store.createFolder(userId, folder);
    await this.#publish(userId, HIERARCHY_CHANGED);
    return created;
  }

  async updateFolder(userId: UserId, folderId: FolderId, update: FolderUpdate): Promise<Folder> {
    const updated = await this.store.updateFolder(userId, folderId, update);
    await this.#publish(userId, HIERARCHY_CHANGED);
    return updated;
  }

  async deleteFolder(userId: UserId, folderId: FolderId): Promise<{ modseq: Modseq }> {
    const result = await this.store.deleteFolder(userId, folderId);
    await this.#publish(userId, HIERARCHY_CHANGED);
    return result;
  }

  // Item mutations -----------------------------------------------------------------------------------------

  async createItem(userId: UserId, folderId: FolderId, item: ItemData): Promise<StoredItem> {
    const created = await this.store.createItem(userId, folderId, item);
    await this.#publish(userId, [created.folderId], created.modseq);
    return created;
  }

  async updateItem(
    userId: UserId,
    itemId: ItemId,
    patch: ItemPatch,
    options?: UpdateOptions,
  ): Promise<StoredItem> {
    const updated = await this.store.updateItem(userId, itemId, patch, options);
    await this.#publish(userId, [updated.folderId], updated.modseq);
    return updated;
  }

  async deleteItem(userId: UserId, itemId: ItemId): Promise<{ modseq: Modseq }> {
    const folderId = await this.#folderOf(userId, itemId);
    const result = await this.store.deleteItem(userId, itemId);
    // Moved between the read and the delete by someone else: the folder is not known, wake everything.
    await this.#publish(userId, folderId === undefined ? HIERARCHY_CHANGED : [folderId], result.modseq);
    return result;
  }

  async moveItem(userId: UserId, itemId: ItemId, destinationFolderId: FolderId): Promise<StoredItem> {
    const sourceId = await this.#folderOf(userId, itemId);
    const moved = await this.store.moveItem(userId, itemId, destinationFolderId);
    await this.#publish(
      userId,
      sourceId === undefined ? HIERARCHY_CHANGED : [sourceId, moved.folderId],
      moved.modseq,
    );
    return moved;
  }

  async setReadState(userId: UserId, itemId: ItemId, read: boolean): Promise<StoredItem> {
    const updated = await this.store.setReadState(userId, itemId, read);
    await this.#publish(userId, [updated.folderId], updated.modseq);
    return updated;
  }

  async setFlag(userId: UserId, itemId: ItemId, flag: EmailFlag | undefined): Promise<StoredItem> {
    const updated = await this.store.setFlag(userId, itemId, flag);
    await this.#publish(userId, [updated.folderId], updated.modseq);
    return updated;
  }
}
