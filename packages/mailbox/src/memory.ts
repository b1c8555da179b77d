import { ChangeLog } from './change-log.js';
import { ConflictError, InvalidArgumentError, NotFoundError } from './errors.js';
import type { FolderId, ItemId, Modseq, UserId } from './ids.js';
import {
  attachmentBytes,
  attachmentInfos,
  htmlBody,
  htmlToText,
  type ParsedMime,
  parseMime,
  plainBody,
  textToHtml,
  truncateUtf8,
  truncateUtf8Bytes,
} from './mime.js';
import type { EmailData, EmailFlag } from './models/email.js';
import {
  type Folder,
  folderClass,
  isFolderType,
  isSpecialFolderType,
  ROOT_FOLDER_ID,
} from './models/folder.js';
import type { ItemData, ItemPatch, StoredItem } from './models/item.js';
import type {
  AttachmentContent,
  BodyContent,
  ChangesPage,
  FolderChanges,
  FolderUpdate,
  ItemChange,
  ItemFilter,
  MailboxStore,
  NewFolder,
  NewUser,
  ReadBodyOptions,
  UpdateOptions,
  User,
  UserUpdate,
} from './store.js';
import { validateItem } from './validate-item.js';

interface UserState {
  user: User;
  modseq: Modseq;
  folders: Map<FolderId, Folder>;
  folderLog: ChangeLog;
  /** Live items by id. */
  items: Map<ItemId, StoredItem>;
  /** Per folder: the ids of its live items, and the log `changes` reads. */
  contents: Map<FolderId, { items: Set<ItemId>; log: ChangeLog }>;
}

/**
 * The reference `MailboxStore`: everything in memory, for tests, the embedded quick start and as the model
 * for adapters. Data is deep-copied on the way in and out. Each method runs its checks and its mutation in one
 * synchronous step after any parsing, so concurrent calls see each other's effects whole.
 *
 * Tombstones are kept for the life of the store.
 */
/** An Email's body text, derived once from its MIME (parsing is by far the dearest part of reading a body). */
interface DerivedBody {
  plain: string;
  html: string;
  nativeType: 'plain' | 'html';
}

export class MemoryMailboxStore implements MailboxStore {
  /**
   * Keyed by the stored MIME bytes, which the store never hands out (reads get copies) and keeps as the same
   * object while the MIME is unchanged; an item that goes away takes its entry with it.
   */
  private readonly derivedBodies = new WeakMap<Uint8Array, DerivedBody>();
  private readonly users = new Map<UserId, UserState>();
  private readonly addresses = new Map<string, UserId>();
  private lastId = 0;

  // Users ---------------------------------------------------------------------------------------------------

  async createUser(input: NewUser): Promise<User> {
    const user: User = {
      id: input.id,
      primarySmtpAddress: input.primarySmtpAddress,
      aliases: [...(input.aliases ?? [])],
    };
    if (input.displayName !== undefined) user.displayName = input.displayName;
    if (typeof user.id !== 'string' || user.id === '') throw malformed('user id must be a non-empty string');
    const all = [user.primarySmtpAddress, ...user.aliases];
    for (const a of all) {
      if (typeof a !== 'string' || !a.includes('@')) throw malformed(`not an address: ${String(a)}`);
    }
    if (this.users.has(user.id)) throw new ConflictError('user-exists', `user already exists: ${user.id}`);
    const keys = all.map((a) => a.toLowerCase());
    for (const k of keys) {
      if (this.addresses.has(k)) throw new ConflictError('address-taken', `address already in use: ${k}`);
    }
    for (const k of keys) this.addresses.set(k, user.id);
    this.users.set(user.id, {
      user,
      modseq: 0,
      folders: new Map(),
      folderLog: new ChangeLog(),
      items: new Map(),
      contents: new Map(),
    });
    return clone(user);
  }

  async updateUser(userId: UserId, update: UserUpdate): Promise<User> {
    const state = this.state(userId);
    const user = state.user;
    const aliases = update.aliases === undefined ? user.aliases : [...update.aliases];
    for (const a of aliases) {
      if (typeof a !== 'string' || !a.includes('@')) throw malformed(`not an address: ${String(a)}`);
    }
    if (
      update.displayName !== undefined &&
      update.displayName !== null &&
      typeof update.displayName !== 'string'
    ) {
      throw malformed('displayName must be a string or null');
    }
    const newKeys = new Set([user.primarySmtpAddress, ...aliases].map((a) => a.toLowerCase()));
    for (const k of newKeys) {
      const owner = this.addresses.get(k);
      if (owner !== undefined && owner !== userId) {
        throw new ConflictError('address-taken', `address already in use: ${k}`);
      }
    }
    for (const a of user.aliases) {
      const k = a.toLowerCase();
      if (!newKeys.has(k)) this.addresses.delete(k);
    }
    for (const k of newKeys) this.addresses.set(k, userId);
    user.aliases = aliases;
    if (update.displayName === null) delete user.displayName;
    else if (update.displayName !== undefined) user.displayName = update.displayName;
    return clone(user);
  }

  async getUser(userId: UserId): Promise<User> {
    return clone(this.state(userId).user);
  }

  async resolveAddress(address: string): Promise<User | undefined> {
    const id = this.addresses.get(address.toLowerCase());
    return id === undefined ? undefined : clone(this.state(id).user);
  }

  /** Every user, in creation order (not part of `MailboxStore`; `UserDirectory` lists the GAL from it). */
  async listUsers(): Promise<User[]> {
    return [...this.users.values()].map((s) => clone(s.user));
  }

  async currentModseq(userId: UserId): Promise<Modseq> {
    return this.state(userId).modseq;
  }

  // Folders -------------------------------------------------------------------------------------------------

  async createFolder(userId: UserId, input: NewFolder): Promise<Folder> {
    const s = this.state(userId);
    const displayName = checkName(input.displayName);
    if (!isFolderType(input.type)) throw malformed(`not an EAS folder type: ${String(input.type)}`);
    this.parent(s, input.parentId);
    this.checkNameFree(s, input.parentId, displayName);
    if (isSpecialFolderType(input.type) && [...s.folders.values()].some((f) => f.type === input.type)) {
      throw new ConflictError('special-folder-exists', `the user already has a folder of type ${input.type}`);
    }
    const folder: Folder = {
      id: `f${++this.lastId}`,
      parentId: input.parentId,
      displayName,
      type: input.type,
    };
    const modseq = ++s.modseq;
    s.folders.set(folder.id, folder);
    s.folderLog.record(folder.id, modseq, 'add');
    s.contents.set(folder.id, { items: new Set(), log: new ChangeLog(modseq) });
    return clone(folder);
  }

  async getFolder(userId: UserId, folderId: FolderId): Promise<Folder> {
    return clone(this.folder(this.state(userId), folderId));
  }

  async listFolders(userId: UserId): Promise<Folder[]> {
    const s = this.state(userId);
    return clone(parentsFirst(s, [...s.folders.values()]));
  }

  async updateFolder(userId: UserId, folderId: FolderId, update: FolderUpdate): Promise<Folder> {
    const s = this.state(userId);
    const folder = this.folder(s, folderId);
    if (isSpecialFolderType(folder.type)) {
      throw new InvalidArgumentError('special-folder', `folder ${folderId} is a default folder`);
    }
    const displayName = update.displayName === undefined ? folder.displayName : checkName(update.displayName);
    const parentId = update.parentId ?? folder.parentId;
    this.parent(s, parentId);
    for (let p = parentId; p !== ROOT_FOLDER_ID; p = s.folders.get(p)!.parentId) {
      if (p === folderId) throw new InvalidArgumentError('folder-cycle', 'a folder cannot move below itself');
    }
    this.checkNameFree(s, parentId, displayName, folderId);
    const modseq = ++s.modseq;
    folder.displayName = displayName;
    folder.parentId = parentId;
    s.folderLog.record(folderId, modseq, 'change');
    return clone(folder);
  }

  async deleteFolder(userId: UserId, folderId: FolderId): Promise<{ modseq: Modseq }> {
    const s = this.state(userId);
    const folder = this.folder(s, folderId);
    if (isSpecialFolderType(folder.type)) {
      throw new InvalidArgumentError('special-folder', `folder ${folderId} is a default folder`);
    }
    const doomed = new Set([folderId]);
    // Folders are few; a fixed-point pass over them finds every descendant.
    for (let grew = true; grew; ) {
      grew = false;
      for (const f of s.folders.values()) {
        if (!doomed.has(f.id) && doomed.has(f.parentId)) {
          doomed.add(f.id);
          grew = true;
        }
      }
    }
    const modseq = ++s.modseq;
    for (const id of doomed) {
      for (const itemId of s.contents.get(id)!.items) s.items.delete(itemId);
      s.contents.delete(id);
      s.folders.delete(id);
      s.folderLog.record(id, modseq, 'delete');
    }
    return { modseq };
  }

  async folderChanges(userId: UserId, sinceModseq: Modseq): Promise<FolderChanges> {
    const s = this.state(userId);
    checkModseq(sinceModseq);
    const added: Folder[] = [];
    const changed: Folder[] = [];
    const deleted: FolderId[] = [];
    const seen = new Set<FolderId>();
    for (const e of s.folderLog.since(sinceModseq)) {
      if (seen.has(e.key)) continue;
      seen.add(e.key);
      const isNew = e.addedModseq > sinceModseq;
      if (e.deleted) {
        if (!isNew) deleted.push(e.key);
      } else {
        (isNew ? added : changed).push(s.folders.get(e.key)!);
      }
    }
    return clone({ added: parentsFirst(s, added), changed, deleted, modseq: s.modseq });
  }

  // Items ---------------------------------------------------------------------------------------------------

  async createItem(userId: UserId, folderId: FolderId, input: ItemData): Promise<StoredItem> {
    const s = this.state(userId);
    const item = clone(input);
    validateItem(item);
    this.checkClass(this.folder(s, folderId), item.class);
    const id = `i${++this.lastId}`;
    if (item.class === 'Email') this.remember(item.data.mime, await deriveAttachments(id, item.data));
    // Parsing yielded: check again that the folder still exists before the synchronous mutation.
    const contents = this.contents(s, folderId);
    const modseq = ++s.modseq;
    const stored = { id, folderId, modseq, ...item } as StoredItem;
    s.items.set(id, stored);
    contents.items.add(id);
    contents.log.record(id, modseq, 'add');
    return clone(stored);
  }

  async getItem(userId: UserId, itemId: ItemId): Promise<StoredItem> {
    return clone(this.item(this.state(userId), itemId));
  }

  async updateItem(
    userId: UserId,
    itemId: ItemId,
    patch: ItemPatch,
    options: UpdateOptions = {},
  ): Promise<StoredItem> {
    const s = this.state(userId);
    const current = this.item(s, itemId);
    if (patch.class !== current.class) {
      throw new InvalidArgumentError(
        'class-mismatch',
        `item ${itemId} is ${current.class}, not ${patch.class}`,
      );
    }
    const data = deepMerge(
      clone(current.data) as Record<string, unknown>,
      clone(patch.data) as Record<string, unknown>,
    );
    const merged = { class: current.class, data } as ItemData;
    validateItem(merged);
    const mimeChanged = merged.class === 'Email' && 'mime' in patch.data && patch.data.mime !== undefined;
    if (merged.class === 'Email') {
      if (mimeChanged) this.remember(merged.data.mime, await deriveAttachments(itemId, merged.data));
      else if (current.class === 'Email') {
        // Keep the stored bytes themselves (not the copy the merge made), so derived bodies stay valid.
        merged.data.mime = current.data.mime;
      }
      // New MIME: the attachments were just derived from it (as on create). Same MIME: keep the stored list.
      if (!mimeChanged) {
        if (current.class === 'Email' && current.data.attachments !== undefined) {
          merged.data.attachments = clone(current.data.attachments);
        } else delete merged.data.attachments;
      }
    }
    // Parsing may have yielded: re-read the item and apply the precondition at the moment of the write.
    const latest = this.item(s, itemId);
    if (options.expectedModseq !== undefined && latest.modseq !== options.expectedModseq) {
      throw new ConflictError('modseq-mismatch', `item ${itemId} changed at modseq ${latest.modseq}`);
    }
    if (latest !== current) {
      // Someone else wrote while MIME was parsed; merge onto their version so their change is not lost.
      return this.updateItem(userId, itemId, patch, options);
    }
    return clone(this.write(s, current, merged.data));
  }

  async deleteItem(userId: UserId, itemId: ItemId): Promise<{ modseq: Modseq }> {
    const s = this.state(userId);
    const item = this.item(s, itemId);
    const contents = this.contents(s, item.folderId);
    const modseq = ++s.modseq;
    s.items.delete(itemId);
    contents.items.delete(itemId);
    contents.log.record(itemId, modseq, 'delete');
    return { modseq };
  }

  async moveItem(userId: UserId, itemId: ItemId, destinationFolderId: FolderId): Promise<StoredItem> {
    const s = this.state(userId);
    const item = this.item(s, itemId);
    const destination = this.folder(s, destinationFolderId);
    if (destination.id === item.folderId) {
      throw new InvalidArgumentError(
        'same-folder',
        `item ${itemId} is already in folder ${destinationFolderId}`,
      );
    }
    this.checkClass(destination, item.class);
    const source = this.contents(s, item.folderId);
    const target = this.contents(s, destinationFolderId);
    const id = `i${++this.lastId}`;
    const modseq = ++s.modseq;
    const moved = { ...item, id, folderId: destinationFolderId, modseq } as StoredItem;
    if (moved.class === 'Email' && moved.data.attachments) {
      moved.data = {
        ...moved.data,
        attachments: moved.data.attachments.map((a, i) => ({ ...a, fileReference: fileReference(id, i) })),
      };
    }
    s.items.delete(itemId);
    source.items.delete(itemId);
    source.log.record(itemId, modseq, 'delete');
    s.items.set(id, moved);
    target.items.add(id);
    target.log.record(id, modseq, 'add');
    return clone(moved);
  }

  async setReadState(userId: UserId, itemId: ItemId, read: boolean): Promise<StoredItem> {
    if (typeof read !== 'boolean') throw malformed('read must be a boolean');
    const s = this.state(userId);
    const item = this.email(s, itemId);
    return clone(this.write(s, item, { ...item.data, read }));
  }

  async setFlag(userId: UserId, itemId: ItemId, flag: EmailFlag | undefined): Promise<StoredItem> {
    if (flag !== undefined && ![0, 1, 2].includes(flag.status))
      throw malformed('flag status must be 0, 1 or 2');
    const s = this.state(userId);
    const item = this.email(s, itemId);
    const data: EmailData = { ...item.data };
    if (flag === undefined) delete data.flag;
    else data.flag = clone(flag);
    return clone(this.write(s, item, data));
  }

  async changes(
    userId: UserId,
    folderId: FolderId,
    sinceModseq: Modseq,
    limit: number,
  ): Promise<ChangesPage> {
    const s = this.state(userId);
    checkModseq(sinceModseq);
    if (!Number.isInteger(limit) || limit < 1) throw malformed('limit must be a positive integer');
    const { log } = this.contents(s, folderId);
    const changes: ItemChange[] = [];
    const reported = new Set<ItemId>();
    let more = false;
    for (const e of log.since(sinceModseq)) {
      // An item new since the cursor is first met at its creation entry and reported there as an add, with its
      // current data; its later entry in the same page adds nothing.
      if (reported.has(e.key)) continue;
      const isNew = e.addedModseq > sinceModseq;
      if (e.deleted && isNew) continue; // created and gone since the cursor: the client never saw it
      if (changes.length === limit) {
        more = true;
        break;
      }
      reported.add(e.key);
      if (e.deleted) changes.push({ kind: 'delete', itemId: e.key, modseq: e.modseq });
      else {
        const item = clone(s.items.get(e.key)!);
        changes.push({ kind: isNew ? 'add' : 'change', itemId: e.key, modseq: e.modseq, item });
      }
    }
    const nextModseq = more ? changes.at(-1)!.modseq : Math.max(sinceModseq, log.high());
    return { changes, more, nextModseq };
  }

  // Content -------------------------------------------------------------------------------------------------

  async readBody(userId: UserId, itemId: ItemId, options: ReadBodyOptions): Promise<BodyContent> {
    const item = this.item(this.state(userId), itemId);
    const max = options.truncateBytes;
    if (max !== undefined && (!Number.isInteger(max) || max < 0)) {
      throw malformed('truncateBytes must be a non-negative integer');
    }
    if (!['plain', 'html', 'rtf', 'mime'].includes(options.type))
      throw malformed(`unknown body type ${options.type}`);
    const unsupported = () =>
      new InvalidArgumentError('unsupported-body-type', `item ${itemId} has no ${options.type} body`);
    if (item.class === 'Email') {
      const mime = item.data.mime;
      const derived = this.derivedBodies.get(mime) ?? this.remember(mime, await parseMime(mime));
      const nativeType = derived.nativeType;
      if (options.type === 'mime') {
        const data = max === undefined ? mime : truncateUtf8Bytes(mime, max);
        return {
          type: 'mime',
          data: data.slice(),
          estimatedSize: mime.byteLength,
          truncated: data !== mime,
          nativeType,
        };
      }
      if (options.type === 'rtf') throw unsupported();
      return textBody(options.type, options.type === 'plain' ? derived.plain : derived.html, nativeType, max);
    }
    if (options.type === 'mime') throw unsupported();
    const body = item.data.body ?? { type: 'plain', data: '' };
    if (body.type === 'rtf' || options.type === 'rtf') {
      if (body.type !== options.type) throw unsupported();
      return textBody('rtf', body.data, 'rtf', max);
    }
    let text = body.data;
    if (body.type !== options.type) text = options.type === 'plain' ? htmlToText(text) : textToHtml(text);
    return textBody(options.type, text, body.type, max);
  }

  async readAttachment(userId: UserId, reference: string): Promise<AttachmentContent> {
    const s = this.state(userId);
    const cut = reference.lastIndexOf(':');
    const item = cut > 0 ? s.items.get(reference.slice(0, cut)) : undefined;
    const indexText = reference.slice(cut + 1);
    const index = /^\d+$/.test(indexText) ? Number(indexText) : -1;
    if (item?.class !== 'Email' || index < 0) {
      throw new NotFoundError('attachment', reference);
    }
    const mime = item.data.mime;
    const part = (await parseMime(mime)).attachments[index];
    const info = item.data.attachments?.[index];
    if (!part || !info) throw new NotFoundError('attachment', reference);
    return {
      contentType: part.mimeType,
      fileName: info.displayName,
      data: attachmentBytes(part.content).slice(),
    };
  }

  async countItems(userId: UserId, folderId: FolderId, filter: ItemFilter = {}): Promise<number> {
    const s = this.state(userId);
    const { items } = this.contents(s, folderId);
    let count = 0;
    for (const id of items) if (matches(s.items.get(id)!, filter)) count++;
    return count;
  }

  // Internals -----------------------------------------------------------------------------------------------

  private state(userId: UserId): UserState {
    const s = this.users.get(userId);
    if (!s) throw new NotFoundError('user', userId);
    return s;
  }

  private folder(s: UserState, folderId: FolderId): Folder {
    const f = s.folders.get(folderId);
    if (!f) throw new NotFoundError('folder', folderId);
    return f;
  }

  private contents(s: UserState, folderId: FolderId): { items: Set<ItemId>; log: ChangeLog } {
    const c = s.contents.get(folderId);
    if (!c) throw new NotFoundError('folder', folderId);
    return c;
  }

  private parent(s: UserState, parentId: FolderId): void {
    if (parentId !== ROOT_FOLDER_ID) this.folder(s, parentId);
  }

  private item(s: UserState, itemId: ItemId): StoredItem {
    const item = s.items.get(itemId);
    if (!item) throw new NotFoundError('item', itemId);
    return item;
  }

  private email(s: UserState, itemId: ItemId): Extract<StoredItem, { class: 'Email' }> {
    const item = this.item(s, itemId);
    if (item.class !== 'Email') {
      throw new InvalidArgumentError('class-mismatch', `item ${itemId} is ${item.class}, not Email`);
    }
    return item;
  }

  private checkNameFree(s: UserState, parentId: FolderId, name: string, except?: FolderId): void {
    const key = name.toLowerCase();
    for (const f of s.folders.values()) {
      if (f.parentId === parentId && f.id !== except && f.displayName.toLowerCase() === key) {
        throw new ConflictError('folder-name-taken', `a folder named "${name}" already exists there`);
      }
    }
  }

  private checkClass(folder: Folder, itemClass: string): void {
    const expected = folderClass(folder.type);
    if (expected !== undefined && expected !== itemClass) {
      throw new InvalidArgumentError(
        'class-mismatch',
        `folder ${folder.id} holds ${expected} items, not ${itemClass}`,
      );
    }
  }

  private remember(mime: Uint8Array, parsed: ParsedMime): DerivedBody {
    const derived: DerivedBody = {
      plain: plainBody(parsed),
      html: htmlBody(parsed),
      nativeType: parsed.html !== undefined ? 'html' : 'plain',
    };
    this.derivedBodies.set(mime, derived);
    return derived;
  }

  /** Replaces an item's data at the next modseq, keeping its id and folder. */
  private write(s: UserState, item: StoredItem, data: StoredItem['data']): StoredItem {
    const contents = this.contents(s, item.folderId);
    const modseq = ++s.modseq;
    const updated = { ...item, modseq, data } as StoredItem;
    s.items.set(item.id, updated);
    contents.log.record(item.id, modseq, 'change');
    return updated;
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function malformed(message: string): InvalidArgumentError {
  return new InvalidArgumentError('malformed', message);
}

function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '')
    throw malformed('folder name must be a non-empty string');
  return name;
}

function checkModseq(modseq: unknown): void {
  if (typeof modseq !== 'number' || !Number.isInteger(modseq) || modseq < 0) {
    throw malformed('modseq must be a non-negative integer');
  }
}

function fileReference(itemId: ItemId, index: number): string {
  return `${itemId}:${index}`;
}

async function deriveAttachments(itemId: ItemId, data: EmailData): Promise<ParsedMime> {
  const parsed = await parseMime(data.mime);
  data.attachments = attachmentInfos(parsed, (i) => fileReference(itemId, i));
  return parsed;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function deepMerge(target: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(patch)) {
    if (value === undefined) delete target[key];
    else if (isPlainObject(value) && isPlainObject(target[key])) target[key] = deepMerge(target[key], value);
    else target[key] = value;
  }
  return target;
}

function textBody(
  type: 'plain' | 'html' | 'rtf',
  text: string,
  nativeType: 'plain' | 'html' | 'rtf',
  max: number | undefined,
): BodyContent {
  if (max === undefined) {
    return {
      type,
      data: text,
      estimatedSize: new TextEncoder().encode(text).byteLength,
      truncated: false,
      nativeType,
    };
  }
  const cut = truncateUtf8(text, max);
  return { type, data: cut.data, estimatedSize: cut.size, truncated: cut.truncated, nativeType };
}

function depth(s: UserState, folder: Folder): number {
  let d = 0;
  for (let p = folder.parentId; p !== ROOT_FOLDER_ID; p = s.folders.get(p)?.parentId ?? ROOT_FOLDER_ID) d++;
  return d;
}

function parentsFirst(s: UserState, folders: Folder[]): Folder[] {
  return folders
    .map((f) => ({ f, d: depth(s, f) }))
    .sort((a, b) => a.d - b.d)
    .map((x) => x.f);
}

function matches(item: StoredItem, filter: ItemFilter): boolean {
  if (filter.classes && !filter.classes.includes(item.class)) return false;
  const since = filter.since?.getTime();
  switch (item.class) {
    case 'Email':
      return since === undefined || item.data.dateReceived.getTime() >= since;
    case 'Calendar': {
      if (since === undefined) return true;
      const r = item.data.recurrence;
      if (r) return r.until === undefined || r.until.getTime() >= since;
      return item.data.endTime.getTime() >= since;
    }
    case 'Tasks':
      return !filter.incompleteOnly || !item.data.complete;
    default:
      return true;
  }
}
