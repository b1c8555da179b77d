import { MailboxError, NotFoundError } from './errors.js';
import type { FolderId, ItemId, Modseq, UserId } from './ids.js';
import { htmlToText } from './mime.js';
import type { StoredBody } from './models/common.js';
import type { Folder } from './models/folder.js';
import { ROOT_FOLDER_ID } from './models/folder.js';
import type { ItemClass, StoredItem } from './models/item.js';
import type { MailboxStore } from './store.js';

/**
 * One condition of a mailbox search. Conditions nest: `and` needs every child, `or` any of them.
 *
 * - `freeText`: every word of the text (letters and digits; everything else separates words and is never a
 *   pattern) starts a word of the item: subject, sender and recipients (names and addresses), body text,
 *   attachment names, and per class its names, location, organizer, attendees and so on. Case and accents
 *   are ignored. Text without any word matches nothing.
 * - `classes`: the item is of one of these classes.
 * - `folders`: the item is in one of these folders, or with `deep` in a folder below one of them. A folder
 *   id the user does not have fails the search with `NotFoundError('folder')`.
 * - `conversationId`: the Email belongs to this conversation (`email2:ConversationId`, bytes compared).
 * - `date`: the item's date (see {@link SearchHit.date}) is after / before / exactly at the given instants;
 *   items without a date never match.
 */
export type SearchCondition =
  | { readonly and: readonly SearchCondition[] }
  | { readonly or: readonly SearchCondition[] }
  | { readonly freeText: string }
  | { readonly classes: readonly ItemClass[] }
  | { readonly folders: readonly FolderId[]; readonly deep?: boolean }
  | { readonly conversationId: Uint8Array }
  | { readonly date: { readonly after?: Date; readonly before?: Date; readonly at?: Date } };

export interface MailboxSearchQuery {
  readonly condition: SearchCondition;
  /** Hits to skip, in result order; default 0. */
  readonly offset?: number;
  /** At most this many hits are returned (1 or more). */
  readonly limit: number;
}

/** One matching item. */
export interface SearchHit {
  readonly itemId: ItemId;
  readonly folderId: FolderId;
  readonly class: ItemClass;
  /**
   * The item's date, which orders results (newest first) and is what `date` conditions compare: Email
   * `dateReceived`, Calendar `startTime`, Tasks `utcDueDate` (else `utcStartDate`), Notes `lastModifiedDate`;
   * Contacts have none. Items without a date come after dated ones; ties are ordered by item id, descending.
   */
  readonly date?: Date;
}

export interface MailboxSearchResult {
  /** The page asked for: at most `limit` hits from `offset` on, in result order. */
  readonly hits: SearchHit[];
  /** How many items match in all. */
  readonly total: number;
}

/** Bounds on what one query may ask, so that a hostile query costs little. */
export interface SearchLimits {
  /** Nesting of `and` / `or`. */
  readonly maxDepth: number;
  /** Conditions in the whole tree. */
  readonly maxConditions: number;
  /** Words in one `freeText`. */
  readonly maxWords: number;
}

export const DEFAULT_SEARCH_LIMITS: SearchLimits = Object.freeze({
  maxDepth: 8,
  maxConditions: 64,
  maxWords: 16,
});

/** The query is beyond {@link SearchLimits} (EAS Search answers it with Status 8, "too complex"). */
export class SearchTooComplexError extends Error {
  readonly code = 'TOO_COMPLEX' as const;
  constructor(message: string) {
    super(message);
    this.name = 'SearchTooComplexError';
  }
}

/**
 * Finds a user's items by content, for the EAS Search and Find commands. A separate contract from
 * `MailboxStore`, so that a store offers search only when it can answer from an index: a search costs the
 * size of the matching posting lists and result set, never a scan of the user's items. Guarantees:
 *
 * - **Read your writes.** A search sees every mutation the store completed before the search began.
 * - **Isolation.** Only the user's own items are found; another user's folder id is a `NotFoundError`.
 * - **Order.** Results are sorted newest first by {@link SearchHit.date}, ties by item id (descending), so
 *   paging with `offset` over an unchanged mailbox neither repeats nor skips an item.
 * - **Literal text.** Free text is split into words; no character of it is a pattern.
 * - **Bounded.** A query beyond the limits fails with {@link SearchTooComplexError} before any work.
 *
 * The reference implementation is {@link IndexedMailboxSearch}, an inverted index kept in memory and brought
 * up to date from the store's change log before each search; `@easkit/mailbox/conformance` exports
 * `runMailboxSearchConformance` for other implementations (a PostgreSQL one would use full-text search).
 */
export interface MailboxSearch {
  /** @throws NotFoundError `user`, `folder`; SearchTooComplexError; InvalidArgumentError `malformed`. */
  search(userId: UserId, query: MailboxSearchQuery): Promise<MailboxSearchResult>;
}

// Words ---------------------------------------------------------------------------------------------------

/** Longest word kept; longer runs of letters are cut (a 1 MB "word" costs no more than this). */
const MAX_WORD = 48;

/**
 * The searchable words of a text: NFKD-normalised, accents dropped, lower-cased, split at everything that is
 * not a letter or digit, each cut to {@link MAX_WORD} characters.
 */
export function searchWords(text: string, max = Number.POSITIVE_INFINITY): string[] {
  const words: string[] = [];
  const folded = text
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase();
  for (const match of folded.matchAll(/[\p{L}\p{N}]+/gu)) {
    words.push(match[0].slice(0, MAX_WORD));
    if (words.length >= max) break;
  }
  return words;
}

/** Checks a query against the limits before any work is done. */
export function checkSearchQuery(
  query: MailboxSearchQuery,
  limits: SearchLimits = DEFAULT_SEARCH_LIMITS,
): void {
  if (!Number.isInteger(query.limit) || query.limit < 1) {
    throw new SearchArgumentError('limit must be a positive integer');
  }
  const offset = query.offset ?? 0;
  if (!Number.isInteger(offset) || offset < 0) throw new SearchArgumentError('offset must be ≥ 0');
  let count = 0;
  const visit = (condition: SearchCondition, depth: number): void => {
    if (++count > limits.maxConditions) {
      throw new SearchTooComplexError(`more than ${limits.maxConditions} conditions`);
    }
    if (depth > limits.maxDepth) throw new SearchTooComplexError(`nested deeper than ${limits.maxDepth}`);
    if (typeof condition !== 'object' || condition === null) throw new SearchArgumentError('not a condition');
    if ('and' in condition) for (const child of condition.and) visit(child, depth + 1);
    else if ('or' in condition) for (const child of condition.or) visit(child, depth + 1);
    else if ('freeText' in condition) {
      if (typeof condition.freeText !== 'string') throw new SearchArgumentError('freeText must be a string');
      if (new Set(searchWords(condition.freeText)).size > limits.maxWords) {
        throw new SearchTooComplexError(`more than ${limits.maxWords} words`);
      }
    } else if ('date' in condition) {
      for (const value of [condition.date.after, condition.date.before, condition.date.at]) {
        if (value !== undefined && (!(value instanceof Date) || Number.isNaN(value.getTime()))) {
          throw new SearchArgumentError('date bounds must be valid Dates');
        }
      }
    } else if (!('classes' in condition || 'folders' in condition || 'conversationId' in condition)) {
      throw new SearchArgumentError('unknown condition');
    }
  };
  visit(query.condition, 0);
}

/** A malformed query (not a limit): `InvalidArgumentError`-shaped, with `code` and `reason`. */
class SearchArgumentError extends MailboxError {
  readonly code = 'INVALID_ARGUMENT' as const;
  readonly reason = 'malformed' as const;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}

// The in-memory index ---------------------------------------------------------------------------------------

interface IndexedItem {
  id: ItemId;
  folderId: FolderId;
  class: ItemClass;
  /** Milliseconds, or undefined for items without a date. */
  time: number | undefined;
  conversation: string | undefined;
  words: string[];
}

/** One user's index: postings per word, items per folder and conversation, and items in date order. */
class UserIndex {
  modseq: Modseq = -1;
  readonly cursors = new Map<FolderId, Modseq>();
  folders = new Map<FolderId, Folder>();
  readonly items = new Map<ItemId, IndexedItem>();
  readonly postings = new Map<string, Set<ItemId>>();
  readonly byFolder = new Map<FolderId, Set<ItemId>>();
  readonly byConversation = new Map<string, Set<ItemId>>();
  readonly byClass = new Map<ItemClass, Set<ItemId>>();
  /** Dated items, ascending by (time, id); kept sorted on insert. */
  readonly byDate: IndexedItem[] = [];
  /** Every distinct word, sorted, for prefix lookups; rebuilt lazily after new words arrive. */
  #vocabulary: string[] = [];
  #vocabularyStale = false;

  add(item: IndexedItem): void {
    this.remove(item.id);
    this.items.set(item.id, item);
    for (const word of item.words) {
      let posting = this.postings.get(word);
      if (!posting) {
        posting = new Set();
        this.postings.set(word, posting);
        this.#vocabularyStale = true;
      }
      posting.add(item.id);
    }
    setOf(this.byFolder, item.folderId).add(item.id);
    setOf(this.byClass, item.class).add(item.id);
    if (item.conversation !== undefined) setOf(this.byConversation, item.conversation).add(item.id);
    if (item.time !== undefined) this.byDate.splice(this.#dateSlot(item.time, item.id), 0, item);
  }

  remove(id: ItemId): void {
    const item = this.items.get(id);
    if (!item) return;
    this.items.delete(id);
    for (const word of item.words) {
      const posting = this.postings.get(word);
      posting?.delete(id);
      if (posting?.size === 0) {
        this.postings.delete(word);
        this.#vocabularyStale = true;
      }
    }
    dropFrom(this.byFolder, item.folderId, id);
    dropFrom(this.byClass, item.class, id);
    if (item.conversation !== undefined) dropFrom(this.byConversation, item.conversation, id);
    if (item.time !== undefined) {
      const slot = this.#dateSlot(item.time, id);
      if (this.byDate[slot]?.id === id) this.byDate.splice(slot, 1);
    }
  }

  /** Items having a word that starts with `prefix`. */
  withPrefix(prefix: string): Set<ItemId> {
    if (this.#vocabularyStale) {
      this.#vocabulary = [...this.postings.keys()].sort();
      this.#vocabularyStale = false;
    }
    const words = this.#vocabulary;
    const result = new Set<ItemId>();
    for (let i = lowerBound(words, prefix); i < words.length && words[i]!.startsWith(prefix); i++) {
      for (const id of this.postings.get(words[i]!) ?? []) result.add(id);
    }
    return result;
  }

  /** Dated items with after < time < before (either bound optional), or time === at. */
  inDateRange(after: number | undefined, before: number | undefined): IndexedItem[] {
    const start = after === undefined ? 0 : this.#firstAfter(after);
    const end = before === undefined ? this.byDate.length : this.#firstAtOrAfter(before);
    return this.byDate.slice(start, Math.max(start, end));
  }

  #firstAfter(time: number): number {
    let low = 0;
    let high = this.byDate.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.byDate[mid]!.time! <= time) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #firstAtOrAfter(time: number): number {
    let low = 0;
    let high = this.byDate.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.byDate[mid]!.time! < time) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #dateSlot(time: number, id: ItemId): number {
    let low = 0;
    let high = this.byDate.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const other = this.byDate[mid]!;
      if (other.time! < time || (other.time === time && other.id < id)) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function setOf<K, V>(map: Map<K, Set<V>>, key: K): Set<V> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

function dropFrom<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  set?.delete(value);
  if (set?.size === 0) map.delete(key);
}

function lowerBound(sorted: readonly string[], value: string): number {
  let low = 0;
  let high = sorted.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (sorted[mid]! < value) low = mid + 1;
    else high = mid;
  }
  return low;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) out += byte.toString(16).padStart(2, '0');
  return out;
}

export interface IndexedMailboxSearchOptions {
  /** Body text beyond this many bytes is not indexed; default 256 KiB. */
  readonly maxBodyBytes?: number;
  readonly limits?: Partial<SearchLimits>;
  /** Items read from the store per `changes` call while catching up; default 500. */
  readonly pageSize?: number;
}

/**
 * The reference {@link MailboxSearch}: an inverted index per user in process memory, over any `MailboxStore`.
 * Before each search it reads what changed since its last look: `currentModseq` tells whether anything did,
 * then `changes(folder, cursor)` per folder, so keeping up costs the writes made since, never the mailbox size.
 * A user's first search reads the whole mailbox once. Catching up and searching are serialised per user.
 *
 * Every item class is indexed (see {@link SearchCondition} for the fields); Email body text comes from
 * `readBody('plain')`, cut at `maxBodyBytes`.
 */
export class IndexedMailboxSearch implements MailboxSearch {
  readonly #store: MailboxStore;
  readonly #users = new Map<UserId, UserIndex>();
  readonly #locks = new Map<UserId, Promise<unknown>>();
  readonly #limits: SearchLimits;
  readonly #maxBodyBytes: number;
  readonly #pageSize: number;

  constructor(store: MailboxStore, options: IndexedMailboxSearchOptions = {}) {
    this.#store = store;
    this.#limits = { ...DEFAULT_SEARCH_LIMITS, ...options.limits };
    this.#maxBodyBytes = options.maxBodyBytes ?? 256 * 1024;
    this.#pageSize = options.pageSize ?? 500;
  }

  async search(userId: UserId, query: MailboxSearchQuery): Promise<MailboxSearchResult> {
    checkSearchQuery(query, this.#limits);
    return this.#serialised(userId, async () => {
      const index = await this.#catchUp(userId);
      const matches = this.#evaluate(index, query.condition);
      const hits = [...matches].map((id) => index.items.get(id)!);
      hits.sort(newestFirst);
      const offset = query.offset ?? 0;
      return {
        total: hits.length,
        hits: hits.slice(offset, offset + query.limit).map((item) => {
          const hit: { itemId: ItemId; folderId: FolderId; class: ItemClass; date?: Date } = {
            itemId: item.id,
            folderId: item.folderId,
            class: item.class,
          };
          if (item.time !== undefined) hit.date = new Date(item.time);
          return hit;
        }),
      };
    });
  }

  /** Forgets a user's index (the next search reads the mailbox again). */
  forget(userId: UserId): void {
    this.#users.delete(userId);
  }

  async #serialised<T>(userId: UserId, work: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(userId) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.#locks.set(userId, settled);
    try {
      return await next;
    } finally {
      if (this.#locks.get(userId) === settled) this.#locks.delete(userId);
    }
  }

  async #catchUp(userId: UserId): Promise<UserIndex> {
    const store = this.#store;
    const modseq = await store.currentModseq(userId); // NotFoundError('user') for unknown users
    let index = this.#users.get(userId);
    if (!index) {
      index = new UserIndex();
      this.#users.set(userId, index);
    }
    if (index.modseq === modseq) return index;
    const folders = await store.listFolders(userId);
    const current = new Map(folders.map((folder) => [folder.id, folder]));
    // Folders that are gone take their items with them.
    for (const folderId of [...index.cursors.keys()]) {
      if (current.has(folderId)) continue;
      for (const id of [...(index.byFolder.get(folderId) ?? [])]) index.remove(id);
      index.cursors.delete(folderId);
    }
    for (const folder of folders) {
      let since = index.cursors.get(folder.id) ?? 0;
      for (;;) {
        let page: Awaited<ReturnType<MailboxStore['changes']>>;
        try {
          page = await store.changes(userId, folder.id, since, this.#pageSize);
        } catch (error) {
          if (error instanceof NotFoundError) break; // deleted meanwhile: the next catch-up drops it
          throw error;
        }
        for (const change of page.changes) {
          if (change.kind === 'delete') index.remove(change.itemId);
          else index.add(await this.#document(userId, change.item));
        }
        since = page.nextModseq;
        if (!page.more) break;
      }
      index.cursors.set(folder.id, since);
    }
    index.folders = current;
    index.modseq = modseq;
    return index;
  }

  async #document(userId: UserId, item: StoredItem): Promise<IndexedItem> {
    const texts: (string | undefined)[] = [];
    let time: Date | undefined;
    let conversation: string | undefined;
    const addresses = (list: readonly { name?: string; address: string }[] | undefined) => {
      for (const entry of list ?? []) texts.push(entry.name, entry.address);
    };
    switch (item.class) {
      case 'Email': {
        const d = item.data;
        texts.push(d.subject, d.threadTopic, d.displayTo, d.preview, ...(d.categories ?? []));
        addresses(d.from ? [d.from] : undefined);
        addresses(d.sender ? [d.sender] : undefined);
        addresses(d.to);
        addresses(d.cc);
        addresses(d.bcc);
        for (const attachment of d.attachments ?? []) texts.push(attachment.displayName);
        try {
          const body = await this.#store.readBody(userId, item.id, {
            type: 'plain',
            truncateBytes: this.#maxBodyBytes,
          });
          if (body.type !== 'mime') texts.push(body.data);
        } catch (error) {
          // Gone since the change was read, or a body the store cannot render: index the rest.
          if (!(error instanceof MailboxError)) throw error;
        }
        time = d.dateReceived;
        if (d.conversationId && d.conversationId.byteLength > 0) conversation = hex(d.conversationId);
        break;
      }
      case 'Calendar': {
        const d = item.data;
        texts.push(d.subject, d.location?.displayName, d.organizerName, d.organizerEmail);
        texts.push(...(d.categories ?? []));
        for (const attendee of d.attendees ?? []) texts.push(attendee.name, attendee.email);
        texts.push(this.#bodyText(d.body));
        time = d.startTime;
        break;
      }
      case 'Contacts': {
        const d = item.data;
        texts.push(d.firstName, d.middleName, d.lastName, d.nickName, d.fileAs, d.companyName);
        texts.push(d.department, d.jobTitle, d.officeLocation, d.email1Address, d.email2Address);
        texts.push(d.email3Address, d.mobilePhoneNumber, d.businessPhoneNumber, d.homePhoneNumber);
        texts.push(...(d.categories ?? []));
        texts.push(this.#bodyText(d.body));
        break;
      }
      case 'Tasks': {
        const d = item.data;
        texts.push(d.subject, ...(d.categories ?? []));
        texts.push(this.#bodyText(d.body));
        time = d.utcDueDate ?? d.utcStartDate;
        break;
      }
      case 'Notes': {
        const d = item.data;
        texts.push(d.subject, ...(d.categories ?? []));
        texts.push(this.#bodyText(d.body));
        time = d.lastModifiedDate;
        break;
      }
    }
    const words = new Set<string>();
    for (const text of texts) if (text) for (const word of searchWords(text)) words.add(word);
    const stamp = time?.getTime();
    return {
      id: item.id,
      folderId: item.folderId,
      class: item.class,
      time: stamp === undefined || Number.isNaN(stamp) ? undefined : stamp,
      conversation,
      words: [...words],
    };
  }

  /** A stored (non-Email) body as text to index: HTML without its markup; RTF is not decoded. */
  #bodyText(body: StoredBody | undefined): string | undefined {
    if (!body || body.type === 'rtf') return undefined;
    const text = body.data.slice(0, this.#maxBodyBytes);
    return body.type === 'html' ? htmlToText(text) : text;
  }

  /** The ids matching a condition, from the index structures only. */
  #evaluate(index: UserIndex, condition: SearchCondition): Set<ItemId> {
    if ('and' in condition) {
      if (condition.and.length === 0) return new Set(index.items.keys());
      const parts = condition.and.map((child) => this.#evaluate(index, child));
      parts.sort((a, b) => a.size - b.size);
      const [smallest, ...rest] = parts;
      return new Set([...smallest!].filter((id) => rest.every((part) => part.has(id))));
    }
    if ('or' in condition) {
      const union = new Set<ItemId>();
      for (const child of condition.or) for (const id of this.#evaluate(index, child)) union.add(id);
      return union;
    }
    if ('freeText' in condition) {
      const words = [...new Set(searchWords(condition.freeText))];
      if (words.length === 0) return new Set();
      const parts = words.map((word) => index.withPrefix(word)).sort((a, b) => a.size - b.size);
      const [smallest, ...rest] = parts;
      return new Set([...smallest!].filter((id) => rest.every((part) => part.has(id))));
    }
    if ('classes' in condition) {
      const result = new Set<ItemId>();
      for (const itemClass of condition.classes) {
        for (const id of index.byClass.get(itemClass) ?? []) result.add(id);
      }
      return result;
    }
    if ('folders' in condition) {
      const wanted = new Set<FolderId>();
      for (const folderId of condition.folders) {
        if (!index.folders.has(folderId)) throw new NotFoundError('folder', folderId);
        wanted.add(folderId);
      }
      if (condition.deep) {
        // Folders are few: grow the set until no folder below it is left out.
        for (let grew = true; grew; ) {
          grew = false;
          for (const folder of index.folders.values()) {
            if (!wanted.has(folder.id) && folder.parentId !== ROOT_FOLDER_ID && wanted.has(folder.parentId)) {
              wanted.add(folder.id);
              grew = true;
            }
          }
        }
      }
      const result = new Set<ItemId>();
      for (const folderId of wanted) for (const id of index.byFolder.get(folderId) ?? []) result.add(id);
      return result;
    }
    if ('conversationId' in condition) {
      return new Set(index.byConversation.get(hex(condition.conversationId)) ?? []);
    }
    const { after, before, at } = condition.date;
    let low = after?.getTime();
    let high = before?.getTime();
    if (at !== undefined) {
      // "Exactly at" is the one-millisecond window around the instant.
      const t = at.getTime();
      low = low === undefined ? t - 1 : Math.max(low, t - 1);
      high = high === undefined ? t + 1 : Math.min(high, t + 1);
    }
    return new Set(index.inDateRange(low, high).map((item) => item.id));
  }
}

function newestFirst(a: IndexedItem, b: IndexedItem): number {
  if (a.time !== b.time) {
    if (a.time === undefined) return 1;
    if (b.time === undefined) return -1;
    return b.time - a.time;
  }
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}
