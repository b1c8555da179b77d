import {
  type Directory,
  type DirectoryEntry,
  type Folder,
  type FolderId,
  ITEM_CLASSES,
  type ItemClass,
  type MailboxSearch,
  NotFoundError,
  type SearchCondition,
  SearchTooComplexError,
  type StoredItem,
  type UserId,
} from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { parseEasDate } from '../convert/dates.js';
import { CONVERTERS } from '../convert/index.js';
import type { ConvertContext, ItemConverter } from '../convert/types.js';
import type { EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { atLeast, type ProtocolVersion } from '../http/protocol-version.js';
import { type EasServices, folderVisible } from './services.js';
import { contentOptions, InvalidOptionsError, readSyncOptions, type SyncOptions } from './sync-options.js';

const { Search: SR, AirSync: AS, Gal: GAL } = eas;

/**
 * Search statuses (MS-ASCMD 2.2.3.177.13). The Search element carries 1 or 3; the Store element any of these;
 * `gal:Picture` the {@link PictureStatus} values.
 */
export const SearchStatus = {
  Success: 1,
  /** The request breaks the protocol (Store element: invalid request). */
  ProtocolError: 2,
  ServerError: 3,
  /** A document library link this server cannot reach (it has no document library access). */
  BadLink: 4,
  AccessDenied: 5,
  NotFound: 6,
  ConnectionFailed: 7,
  /** The query nests too deeply, has too many parts, or puts an element where only `And` may hold it. */
  TooComplex: 8,
  TimedOut: 10,
  /** A `CollectionId` the user does not have: the device's folder list is out of date. */
  FolderSyncRequired: 11,
  /** The requested range is wider than the server returns in one response: the first entries are sent. */
  EndOfRetrievableRange: 12,
  AccessBlocked: 13,
  CredentialsRequired: 14,
} as const;

/** Status of a `Picture` in GAL results (Search, ResolveRecipients, Find): MS-ASCMD common statuses 173-175. */
export const PictureStatus = {
  Success: 1,
  NoPicture: 173,
  TooLarge: 174,
  LimitReached: 175,
} as const;

export interface SearchCommandOptions {
  /** Most results one response carries (and the default range's size); MS-ASCMD names 100 for both stores. */
  readonly maxResults?: number;
  /** Called when a search failed on the server side (answered with Status 3). */
  readonly onError?: (info: { user: UserId; error: unknown }) => void;
}

/** What the GAL and mailbox searches need: the mailbox (for items and folders), a search index, a directory. */
export interface SearchServices extends Pick<EasServices, 'mailbox' | 'classes'> {
  readonly search: MailboxSearch;
  readonly directory?: Directory;
}

/** Raised while reading a request: answered with the (Store) status it carries. */
export class SearchRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A zero-based inclusive `m-n` range; undefined when malformed or reversed. */
export function parseSearchRange(
  text: string,
  maxIndex = 9_999_999,
): { start: number; end: number } | undefined {
  const match = /^\s*(\d{1,9})\s*-\s*(\d{1,9})\s*$/.exec(text);
  if (!match) return undefined;
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start > end || end > maxIndex) return undefined;
  return { start, end };
}

/** `MaxSize` (bytes) and `MaxPictures` of a Picture request; undefined values mean no limit. */
export interface PictureRequest {
  readonly maxSize?: number;
  readonly maxPictures?: number;
}

/** Reads a `Picture` options element in any namespace (Search, ResolveRecipients, Find). */
export function readPictureRequest(element: WbxmlElement | undefined): PictureRequest | undefined {
  if (!element) return undefined;
  const number = (name: string): number | undefined => {
    const child = element.children.find((candidate) => candidate.name === name);
    if (!child) return undefined;
    const text = child.text?.trim() ?? '';
    if (!/^\d{1,10}$/.test(text))
      throw new SearchRequestError(SearchStatus.ProtocolError, `${name} is not a number`);
    return Number(text);
  };
  const request: { maxSize?: number; maxPictures?: number } = {};
  const maxSize = number('MaxSize');
  const maxPictures = number('MaxPictures');
  if (maxSize !== undefined) request.maxSize = maxSize;
  if (maxPictures !== undefined) request.maxPictures = maxPictures;
  return request;
}

/**
 * Hands out photos under one request's limits: a photo larger than `maxSize` is 174, photos after
 * `maxPictures` have been sent are 175, an entry without one is 173.
 */
export function pictureBudget(
  directory: Directory,
  request: PictureRequest,
): (entryId: string) => Promise<{ status: number; data?: Uint8Array }> {
  let sent = 0;
  return async (entryId) => {
    const photo = await directory.photo(entryId);
    if (!photo || photo.byteLength === 0) return { status: PictureStatus.NoPicture };
    if (request.maxSize !== undefined && photo.byteLength > request.maxSize)
      return { status: PictureStatus.TooLarge };
    if (request.maxPictures !== undefined && sent >= request.maxPictures) {
      return { status: PictureStatus.LimitReached };
    }
    sent++;
    return { status: PictureStatus.Success, data: photo };
  };
}

/** The Gal-page properties of a directory entry, in the order of the code page; empty values are left out. */
export function galProperties(
  entry: DirectoryEntry,
  picture?: { status: number; data?: Uint8Array },
): WbxmlElement[] {
  const text = (make: (value: string) => WbxmlElement, value: string | undefined) =>
    value === undefined || value === '' ? null : make(value);
  return [
    text(GAL.DisplayName, entry.displayName),
    text(GAL.Phone, entry.phone),
    text(GAL.Office, entry.office),
    text(GAL.Title, entry.title),
    text(GAL.Company, entry.company),
    text(GAL.Alias, entry.alias),
    text(GAL.FirstName, entry.firstName),
    text(GAL.LastName, entry.lastName),
    text(GAL.HomePhone, entry.homePhone),
    text(GAL.MobilePhone, entry.mobilePhone),
    text(GAL.EmailAddress, entry.emailAddress),
    picture
      ? GAL.Picture(
          GAL.Status(picture.status),
          picture.data ? GAL.Data(Buffer.from(picture.data).toString('base64')) : null,
        )
      : null,
  ].filter((element): element is WbxmlElement => element !== null);
}

/** Renders an item as `Properties` content the way Sync and ItemOperations do. */
export async function itemProperties(
  services: Pick<EasServices, 'mailbox'>,
  user: UserId,
  item: StoredItem,
  syncOptions: SyncOptions,
  version: ProtocolVersion,
): Promise<WbxmlElement[]> {
  const converter = CONVERTERS[item.class] as ItemConverter;
  const context: ConvertContext = {
    version,
    options: contentOptions(syncOptions),
    readBody: (type, truncateBytes) =>
      services.mailbox.readBody(user, item.id, {
        type,
        ...(truncateBytes === undefined ? {} : { truncateBytes }),
      }),
  };
  return converter.toApplicationData(item as never, context);
}

const MAX_QUERY_DEPTH = 8;

/**
 * Search (MS-ASCMD 2.2.1.16): the GAL (every version) through `Directory`, and the mailbox (12.0+) through
 * `MailboxSearch`. One Store per request.
 *
 * Mailbox queries: `Query` holds one `And` (or `Or`) whose children may be `airsync:Class` (any number),
 * `airsync:CollectionId` (any number; `DeepTraversal` takes in their subfolders), `FreeText`,
 * `ConversationId` (14.0+), `GreaterThan` / `LessThan` on `email:DateReceived` with a `Value`, and nested
 * `And` / `Or`. As an extension, `EqualTo` on `email:DateReceived` matches that instant. `Class`,
 * `CollectionId`, `ConversationId` or `FreeText` anywhere but in an `And` (or `FreeText` in an `Or`), nesting
 * deeper than 8, or more words and conditions than the search allows answer 8. Results are the newest first,
 * each with `airsync:Class`, `LongId` (the item's ServerId, which ItemOperations, SmartReply/SmartForward and
 * MeetingResponse accept), `airsync:CollectionId` and `Properties` rendered with the request's
 * `BodyPreference` / `BodyPartPreference` / `MIMESupport` like Sync. `RebuildResults` changes nothing: every
 * search is answered from the current index.
 *
 * GAL queries: `Query` is text matched as a prefix of names, addresses and phone numbers (see `Directory`);
 * `Picture` (14.1+) adds photos under `MaxSize` and `MaxPictures`.
 *
 * `Range` is `m-n` (default `0-99`); a wider range returns its first 100 entries with Status 12. DocumentLibrary
 * answers 4: this server has no document library access.
 */
export function searchCommand(
  services: SearchServices,
  options: SearchCommandOptions = {},
): EasCommandHandler {
  const maxResults = options.maxResults ?? 100;
  return async ({ identity, head, body }): Promise<EasCommandResult> => {
    const user = identity.userId;
    const version = head.protocolVersion;
    const answer = (storeStatus: number, content: WbxmlElement[] = []): EasCommandResult => ({
      kind: 'wbxml',
      body: SR.Search(
        SR.Status(SearchStatus.Success),
        SR.Response(SR.Store(SR.Status(storeStatus), content)),
      ),
    });
    const stores = body?.qualifiedName === 'Search:Search' ? body.all('Search:Store') : [];
    if (stores.length !== 1) return answer(SearchStatus.ProtocolError);
    const store = stores[0]!;
    try {
      const name = store.textOf('Search:Name')?.trim().toLowerCase();
      const query = store.child('Search:Query');
      const storeOptions = store.child('Search:Options');
      if (!query) throw new SearchRequestError(SearchStatus.ProtocolError, 'no Query');
      const range = readRange(storeOptions, maxResults);
      if (name === 'gal') {
        const results = await galSearch(query, storeOptions, range);
        return answer(range.clipped ? SearchStatus.EndOfRetrievableRange : SearchStatus.Success, results);
      }
      if (name === 'mailbox' && atLeast(version, '12.0')) {
        const results = await mailboxSearch(query, storeOptions, range);
        return answer(range.clipped ? SearchStatus.EndOfRetrievableRange : SearchStatus.Success, results);
      }
      if (name === 'documentlibrary' && atLeast(version, '12.0')) return answer(SearchStatus.BadLink);
      return answer(SearchStatus.ProtocolError);
    } catch (error) {
      if (error instanceof SearchRequestError) return answer(error.status);
      if (error instanceof SearchTooComplexError) return answer(SearchStatus.TooComplex);
      if (error instanceof NotFoundError && error.entity === 'folder') {
        return answer(SearchStatus.FolderSyncRequired);
      }
      options.onError?.({ user, error });
      return { kind: 'wbxml', body: SR.Search(SR.Status(SearchStatus.ServerError)) };
    }

    async function galSearch(
      query: WbxmlElement,
      storeOptions: WbxmlElement | undefined,
      range: RequestedRange,
    ): Promise<WbxmlElement[]> {
      const text = query.text;
      if (text === undefined || text.trim() === '') {
        throw new SearchRequestError(SearchStatus.ProtocolError, 'GAL Query must be text');
      }
      const directory = services.directory;
      if (!directory) return [SR.Total(0)];
      const pictureRequest = atLeast(version, '14.1')
        ? readPictureRequest(storeOptions?.child('Search:Picture'))
        : undefined;
      const found = await directory.search(text, { offset: range.start, limit: range.count });
      const picture = pictureRequest ? pictureBudget(directory, pictureRequest) : undefined;
      const results: WbxmlElement[] = [];
      for (const entry of found.entries) {
        const photo = picture ? await picture(entry.id) : undefined;
        results.push(SR.Result(SR.Properties(galProperties(entry, photo))));
      }
      return [
        ...results,
        results.length > 0 ? SR.Range(`${range.start}-${range.start + results.length - 1}`) : null,
        SR.Total(found.total),
      ].filter((element): element is WbxmlElement => element !== null);
    }

    async function mailboxSearch(
      query: WbxmlElement,
      storeOptions: WbxmlElement | undefined,
      range: RequestedRange,
    ): Promise<WbxmlElement[]> {
      const deep = storeOptions?.has('Search:DeepTraversal') === true;
      const top = query.children;
      if (top.length !== 1 || !['Search:And', 'Search:Or'].includes(top[0]!.qualifiedName)) {
        if (top.some((child) => FILTERS.has(child.qualifiedName))) {
          throw new SearchRequestError(SearchStatus.TooComplex, `${top[0]?.qualifiedName} outside And`);
        }
        throw new SearchRequestError(SearchStatus.ProtocolError, 'a mailbox Query holds one And');
      }
      const condition = readCondition(top[0]!, 0, deep, version);
      let syncOptions: SyncOptions;
      try {
        syncOptions = readSyncOptions(storeOptions, undefined, undefined);
      } catch (error) {
        if (error instanceof InvalidOptionsError)
          throw new SearchRequestError(SearchStatus.ProtocolError, error.message);
        throw error;
      }
      if (!atLeast(version, '14.1')) syncOptions.rightsManagementSupport = false;

      const visible = await visibleFolders(user);
      const scoped: SearchCondition = { and: [condition, { folders: visible.map((folder) => folder.id) }] };
      const found = await services.search.search(user, {
        condition: scoped,
        offset: range.start,
        limit: range.count,
      });
      const results: WbxmlElement[] = [];
      for (const hit of found.hits) {
        let item: StoredItem;
        try {
          item = await services.mailbox.getItem(user, hit.itemId);
        } catch (error) {
          if (error instanceof NotFoundError) continue; // deleted since the search: leave it out
          throw error;
        }
        const properties = await itemProperties(services, user, item, syncOptions, version);
        results.push(
          SR.Result(
            AS.Class(item.class),
            SR.LongId(item.id),
            AS.CollectionId(item.folderId),
            SR.Properties(properties),
          ),
        );
      }
      if (results.length === 0) return [SR.Result(), SR.Total(found.total)];
      return [
        ...results,
        SR.Range(`${range.start}-${range.start + results.length - 1}`),
        SR.Total(found.total),
      ];
    }

    async function visibleFolders(userId: UserId): Promise<Folder[]> {
      return (await services.mailbox.listFolders(userId)).filter((folder) => folderVisible(services, folder));
    }
  };
}

/** The elements that narrow a mailbox search; only `And` may hold them (MS-ASCMD 2.2.3.30.5, 2.2.3.80.2). */
const FILTERS = new Set([
  'AirSync:Class',
  'AirSync:CollectionId',
  'Search:FreeText',
  'Search:ConversationId',
  'Search:GreaterThan',
  'Search:LessThan',
  'Search:EqualTo',
]);

interface RequestedRange {
  readonly start: number;
  readonly count: number;
  /** The request asked for more than one response carries. */
  readonly clipped: boolean;
}

function readRange(options: WbxmlElement | undefined, maxResults: number): RequestedRange {
  const text = options?.textOf('Search:Range');
  if (text === undefined) return { start: 0, count: maxResults, clipped: false };
  const range = parseSearchRange(text);
  if (!range) throw new SearchRequestError(SearchStatus.ProtocolError, `bad Range ${text}`);
  const wanted = range.end - range.start + 1;
  return { start: range.start, count: Math.min(wanted, maxResults), clipped: wanted > maxResults };
}

/** Reads `And` / `Or` into a search condition (Mailbox store). */
function readCondition(
  element: WbxmlElement,
  depth: number,
  deep: boolean,
  version: ProtocolVersion,
): SearchCondition {
  if (depth >= MAX_QUERY_DEPTH)
    throw new SearchRequestError(SearchStatus.TooComplex, 'query nests too deeply');
  const isAnd = element.qualifiedName === 'Search:And';
  const parts: SearchCondition[] = [];
  const classes: ItemClass[] = [];
  let sawClass = false;
  const folders: FolderId[] = [];
  let freeTexts = 0;
  for (const child of element.children) {
    const name = child.qualifiedName;
    const onlyInAnd = () => {
      if (!isAnd) throw new SearchRequestError(SearchStatus.TooComplex, `${name} outside And`);
    };
    switch (name) {
      case 'Search:And':
      case 'Search:Or':
        parts.push(readCondition(child, depth + 1, deep, version));
        break;
      case 'AirSync:Class': {
        onlyInAnd();
        sawClass = true;
        const value = child.text?.trim();
        const known = ITEM_CLASSES.find((candidate) => candidate === value);
        if (known) classes.push(known);
        break;
      }
      case 'AirSync:CollectionId': {
        onlyInAnd();
        const value = child.text?.trim();
        if (!value) throw new SearchRequestError(SearchStatus.ProtocolError, 'empty CollectionId');
        folders.push(value);
        break;
      }
      case 'Search:FreeText': {
        // One FreeText per And (MS-ASCMD 2.2.3.80.2); an Or may offer several alternatives.
        if (isAnd && ++freeTexts > 1) {
          throw new SearchRequestError(SearchStatus.ProtocolError, 'more than one FreeText');
        }
        parts.push({ freeText: child.text ?? '' });
        break;
      }
      case 'Search:ConversationId': {
        onlyInAnd();
        if (!atLeast(version, '14.0'))
          throw new SearchRequestError(SearchStatus.ProtocolError, 'ConversationId before 14.0');
        parts.push({ conversationId: conversationBytes(child) });
        break;
      }
      case 'Search:GreaterThan':
      case 'Search:LessThan':
      case 'Search:EqualTo': {
        if (name === 'Search:EqualTo') onlyInAnd();
        if (child.has('DocumentLibrary:LinkId')) {
          throw new SearchRequestError(SearchStatus.ProtocolError, 'LinkId in a mailbox search');
        }
        const first = child.children[0];
        const value = child.textOf('Search:Value');
        if (first?.qualifiedName !== 'Email:DateReceived' || value === undefined) {
          throw new SearchRequestError(
            SearchStatus.ProtocolError,
            `${name} needs email:DateReceived then Value`,
          );
        }
        let date: Date;
        try {
          date = parseEasDate(value);
        } catch {
          throw new SearchRequestError(SearchStatus.ProtocolError, `not a date: ${value}`);
        }
        parts.push({
          date:
            name === 'Search:GreaterThan'
              ? { after: date }
              : name === 'Search:LessThan'
                ? { before: date }
                : { at: date },
        });
        break;
      }
      default:
        throw new SearchRequestError(SearchStatus.ProtocolError, `unexpected ${name} in a query`);
    }
  }
  if (sawClass) parts.push({ classes });
  if (folders.length > 0) parts.push({ folders, deep });
  if (parts.length === 0) throw new SearchRequestError(SearchStatus.ProtocolError, `empty ${element.name}`);
  return isAnd ? { and: parts } : { or: parts };
}

/**
 * A Search `ConversationId`: opaque bytes as Sync sends `email2:ConversationId`; a string is read as the hex
 * or base64 of those bytes when it is one, else as its UTF-8 bytes.
 */
function conversationBytes(element: WbxmlElement): Uint8Array {
  if (element.bytes) return element.bytes;
  const text = (element.text ?? '').trim();
  if (/^(?:[0-9a-f]{2})+$/i.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(text) && text.length % 4 === 0) {
    return new Uint8Array(Buffer.from(text, 'base64'));
  }
  return new TextEncoder().encode(text);
}
