import { createHash } from 'node:crypto';
import {
  type ChangesPage,
  type EmailData,
  type Folder,
  type FolderId,
  FolderType,
  folderClass,
  type ItemChange,
  type ItemClass,
  type ItemId,
  isFolderType,
  type Modseq,
  NotFoundError,
  type StoredItem,
  type UserId,
} from '@easkit/mailbox';
import type { WaiterRegistry } from '@easkit/push';
import {
  type CollectionKey,
  type CollectionState,
  classifySyncKey,
  confirmPending,
  getStates,
  issuePending,
  type JsonObject,
  type JsonValue,
  latestSyncKey,
  resolveClientAdds,
  type SentChange,
  startOver,
} from '@easkit/sync-state';
import { decode, eas, encode, type WbxmlElement } from '@easkit/wbxml';
import { CONVERTERS } from '../convert/index.js';
import {
  type ConvertContext,
  type ItemConverter,
  MalformedItemError,
  type ParsedApplicationData,
} from '../convert/types.js';
import type { EasCommandContext, EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { atLeast, type ProtocolVersion } from '../http/protocol-version.js';
import {
  type AddedAttachment,
  type AttachmentChanges,
  addedAttachmentsElement,
  changeCalendarAttachments,
  type DraftAttachmentPlan,
  draftAttachmentsAfter,
  matchAddedAttachments,
  readAttachmentChanges,
} from './attachments.js';
import { composeDraft, type DraftFields } from './drafts.js';
import { ownChangesOf } from './estimate-move.js';
import { type EasServices, folderVisible } from './services.js';
import {
  contentOptions,
  filterCutoff,
  InvalidOptionsError,
  readSyncOptions,
  type SyncOptions,
} from './sync-options.js';

const { AirSync: AS } = eas;

/** Sync statuses (MS-ASCMD 2.2.3.177.16). */
export const SyncStatus = {
  Success: 1,
  InvalidSyncKey: 3,
  ProtocolError: 4,
  ServerError: 5,
  ConversionError: 6,
  Conflict: 7,
  ObjectNotFound: 8,
  HierarchyChanged: 12,
  IncompleteRequest: 13,
  InvalidWaitOrHeartbeat: 14,
  InvalidCommand: 15,
  Retry: 16,
} as const;

export interface SyncCommandOptions {
  /**
   * A response stops adding items after this long and says MoreAvailable, whatever the folder size; the
   * device asks again at once. Some Android clients give up after 30 s. Default 20 s.
   */
  readonly timeBudgetMs?: number;
  /** Called for an item that could not be rendered; the item is left out of the response. */
  readonly onItemError?: (info: { user: UserId; itemId: ItemId; folderId: string; error: unknown }) => void;
  /**
   * Called when an item is left out of a device's sync for good: the device kept failing on the response
   * that held it (it repeated its key again and again), and narrowing the window singled it out.
   */
  readonly onItemQuarantined?: (info: {
    user: UserId;
    deviceId: string;
    folderId: string;
    itemId: ItemId;
  }) => void;
  /** More collections than this in one request get Status 15 (invalid Sync request). Default 300. */
  readonly maxCollections?: number;
  /** Clock for filter windows (tests). */
  readonly now?: () => number;
}

const DEFAULT_WINDOW = 100;
const MAX_WINDOW = 512;
/** Sync state key of a device's cached last full Sync request (12.1+ empty and partial requests). */
const CACHED_REQUEST = '#sync-request';

/** What a client asked for one collection. */
interface CollectionRequest {
  syncKey: string;
  collectionId: string;
  windowSize: number;
  getChanges: boolean | undefined;
  deletesAsMoves: boolean;
  options: WbxmlElement | undefined;
  supported: WbxmlElement | undefined;
  commands: WbxmlElement | undefined;
  /** 2.5: the class named by the request. */
  className: string | undefined;
}

/** What a response reported about the client's commands; kept to answer a repeated request identically. */
type ClientResponse =
  | { kind: 'Add'; clientId: string; serverId?: string; status: number; attachments?: AddedAttachment[] }
  | { kind: 'Change'; serverId: string; status: number; attachments?: AddedAttachment[] }
  | { kind: 'Delete' | 'Fetch'; serverId: string; status: number };

/** What one collection of a run answered. */
interface CollectionOutcome {
  element: WbxmlElement;
  sentCount: number;
  /** The response must carry this collection (changes, responses, a new key, an error, MoreAvailable). */
  significant: boolean;
  /** Nothing to say, but the device wants this folder's changes: the folder and the key it holds. */
  watch?: { folderId: FolderId; syncKey: string };
}

/** One run of a Sync request over all its collections. */
interface SyncPass {
  results: WbxmlElement[];
  anythingToSay: boolean;
  /** The collections a hanging Sync waits on, with the device's key of each. */
  watched: Map<FolderId, string>;
}

/**
 * How often a hanging Sync waits again after a wake-up that had nothing for the device (a change outside its
 * filter window, or one it made itself), within the same deadline.
 */
const MAX_WAIT_ROUNDS = 20;

interface CollectionSnapshot {
  requestHash: string;
  /** How often the device presented the key this response answered again (it never confirmed it). */
  attempts?: number;
  /** The window the response was built with. */
  window?: number;
  responses: ClientResponse[];
  moreAvailable: boolean;
}

function hashCommands(commands: WbxmlElement | undefined): string {
  if (!commands) return '';
  return createHash('sha256').update(encode(commands)).digest('base64url');
}

function readCollection(element: WbxmlElement): CollectionRequest | undefined {
  const syncKey = element.textOf('SyncKey');
  const collectionId = element.textOf('CollectionId');
  if (syncKey === undefined || collectionId === undefined) return undefined;
  const window = element.textOf('WindowSize');
  const windowSize = window === undefined ? DEFAULT_WINDOW : Number(window);
  if (!Number.isInteger(windowSize) || windowSize < 0) return undefined;
  return {
    syncKey,
    collectionId,
    windowSize: Math.min(windowSize === 0 ? DEFAULT_WINDOW : windowSize, MAX_WINDOW),
    getChanges: element.has('GetChanges') ? element.boolOf('GetChanges') !== false : undefined,
    deletesAsMoves: element.has('DeletesAsMoves') ? element.boolOf('DeletesAsMoves') !== false : true,
    options: element.child('Options'),
    supported: element.child('Supported'),
    commands: element.child('Commands'),
    className: element.textOf('Class'),
  };
}

/** Fields a client never overwrites or erases with a Change (the server owns them). */
const SERVER_OWNED = new Set(['uid', 'organizerName', 'organizerEmail', 'dtStamp', 'mime', 'attachments']);

/** The Add/Change/Delete/SoftDelete/Fetch entries under the Commands of these Collection elements. */
function countCommands(collections: readonly WbxmlElement[]): number {
  let count = 0;
  for (const collection of collections) {
    const commands = collection.child('Commands');
    if (commands) count += commands.children.length;
  }
  return count;
}

/** A Sync of this process waiting for changes; a later Sync of the same device ends it through `stop`. */
interface HangingSync {
  abandoned: boolean;
  readonly stop: AbortController;
}

/**
 * Sync (MS-ASCMD 2.2.1.21): items of one or more folders both ways.
 *
 * Hanging Sync (12.1+, when `services.waiters` is given): a request with Wait or HeartbeatInterval (or an
 * empty or partial one whose cached request had one) that has nothing to report waits in the registry, under
 * the device's slot shared with Ping, until a watched collection has a change after the device's cursor for it;
 * then it runs again and answers as usual. The interval running out, a newer Ping or any newer Sync of the
 * device, and `waiters.close()` end it with the empty response: MS-ASCMD names no status for the last two,
 * and the empty response (nothing changed) is what a device handles anyway. A store error while waiting
 * propagates like any other Sync store error.
 */
export function syncCommand(services: EasServices, options: SyncCommandOptions = {}): EasCommandHandler {
  const timeBudgetMs = options.timeBudgetMs ?? 20_000;
  const now = options.now ?? Date.now;
  /**
   * The hanging Syncs of this process by user and device. Any later Sync of the device ends the older one at
   * once with the empty response: the device moved on, so the older one must not sync again (the two would
   * race for the same keys), and a device should never have to wait out a request it has given up on.
   */
  const hanging = new Map<string, HangingSync>();

  return async (context: EasCommandContext): Promise<EasCommandResult> => {
    const { identity, head } = context;
    const version = head.protocolVersion;
    const user = identity.userId;
    const deviceKey = `${user}\u0000${head.deviceId}`;
    const older = hanging.get(deviceKey);
    if (older) {
      older.abandoned = true;
      older.stop.abort();
    }
    let started = Date.now();
    const cacheKey: CollectionKey = { user, deviceId: head.deviceId, collectionId: CACHED_REQUEST };

    let body = context.body;
    let emptyRequest = false;
    /** The cached request's state, once read (an empty or partial request reads it first). */
    let cachedRequest: CollectionState | null | undefined;
    if (body === undefined) {
      if (!atLeast(version, '12.1')) return topStatus(SyncStatus.ProtocolError);
      const cached = await services.syncState.get(cacheKey);
      cachedRequest = cached;
      const saved = cached?.options?.request as string | undefined;
      if (!saved) return topStatus(SyncStatus.IncompleteRequest);
      body = decode(Buffer.from(saved, 'base64'));
      emptyRequest = true;
    }
    if (body.name !== 'Sync') return topStatus(SyncStatus.ProtocolError);
    const limitProblem = checkWaitLimits(body);
    if (limitProblem) return limitProblem;

    let collections = body.child('Collections')?.all('Collection') ?? [];
    // Wait or HeartbeatInterval: from the request, else (partial request) from the cached one.
    let hangMs = hangingIntervalMs(body);
    if (body.has('Partial') && atLeast(version, '12.1')) {
      const cached = await services.syncState.get(cacheKey);
      cachedRequest = cached;
      const saved = cached?.options?.request as string | undefined;
      if (!saved) return topStatus(SyncStatus.IncompleteRequest);
      const previous = decode(Buffer.from(saved, 'base64'));
      const named = new Set(collections.map((collection) => collection.textOf('CollectionId')));
      collections = [
        ...collections,
        ...(previous.child('Collections')?.all('Collection') ?? []).filter(
          (collection) => !named.has(collection.textOf('CollectionId')),
        ),
      ];
      if (hangMs === undefined && !checkWaitLimits(previous)) hangMs = hangingIntervalMs(previous);
    }
    if (collections.length === 0) return topStatus(SyncStatus.IncompleteRequest);
    if (collections.length > (options.maxCollections ?? 300)) return topStatus(SyncStatus.InvalidCommand);
    const requestBody = body;
    const remembers = atLeast(version, '12.1') && !emptyRequest;

    const first = await runOnce(true);
    if (typeof first === 'string') return topStatus(SyncStatus.ProtocolError);
    if (remembers) {
      await rememberRequest(body, cachedRequest ?? null);
    }
    const waiters = services.waiters;
    if (
      !atLeast(version, '12.1') ||
      first.anythingToSay ||
      hangMs === undefined ||
      waiters === undefined ||
      first.watched.size === 0
    ) {
      return answer(first);
    }

    // A hanging Sync (MS-ASCMD 3.1.5.4): nothing to say yet, so wait for a change in one of the collections
    // (relative to the device's cursor of each), then sync again. The deadline covers every round.
    const deadline = Date.now() + hangMs;
    let watched = first.watched;
    const mine: HangingSync = { abandoned: false, stop: new AbortController() };
    hanging.set(deviceKey, mine);
    const waitSignal = context.signal
      ? AbortSignal.any([context.signal, mine.stop.signal])
      : mine.stop.signal;
    try {
      return await hang(waiters, hangMs);
    } finally {
      if (hanging.get(deviceKey) === mine) hanging.delete(deviceKey);
    }

    async function hang(waiters: WaiterRegistry, hangMs: number): Promise<EasCommandResult> {
      for (let round = 0; round < MAX_WAIT_ROUNDS; round++) {
        const remaining = round === 0 ? hangMs : deadline - Date.now();
        if (remaining <= 0) break;
        let movedOn = false;
        const keys = watched;
        const outcome = await waiters.wait({
          user,
          deviceId: head.deviceId,
          folderIds: [...keys.keys()],
          heartbeatMs: remaining,
          signal: waitSignal,
          hasChanges: async (hint) => {
            const checked = hint ?? [...keys.keys()];
            const states = await getStates(services.syncState, checked.map(collectionKey));
            const flags = await Promise.all(
              checked.map((id, index) => collectionChanged(id, keys.get(id) ?? '', states[index] ?? null)),
            );
            if (flags.includes('moved-on')) {
              movedOn = true;
              return checked;
            }
            return checked.filter((_, index) => flags[index] === 'changed');
          },
        });
        // Timeout, a newer Ping or Sync of the device, shutdown, a closed connection, or the device synced the
        // collection elsewhere: the empty response, which tells the device nothing changed.
        if (outcome.kind !== 'changed' || movedOn || mine.abandoned) break;
        started = Date.now();
        const again = await runOnce();
        if (typeof again === 'string') return topStatus(SyncStatus.ProtocolError);
        if (again.anythingToSay || again.watched.size === 0) return answer(again);
        // The change was nothing for this device (filtered out, or its own): wait out the rest.
        watched = again.watched;
      }
      return { kind: 'empty' };
    }

    function answer(pass: SyncPass): EasCommandResult {
      const activity = {
        itemsSent: countCommands(pass.results),
        itemsReceived: countCommands(collections),
      };
      if (atLeast(version, '12.1') && !pass.anythingToSay) return { kind: 'empty', activity };
      return { kind: 'wbxml', body: AS.Sync(AS.Collections(pass.results)), activity };
    }

    function collectionKey(collectionId: string): CollectionKey {
      return { user, deviceId: head.deviceId, collectionId };
    }

    /**
     * One run over the collections; 'malformed' for a collection the request does not describe well. The
     * first run reads every collection's state (and the cached request's, when it will be remembered) in one
     * batch up front; each collection uses its state once and reads it again if it comes up a second time.
     */
    async function runOnce(first = false): Promise<SyncPass | 'malformed'> {
      const requests: CollectionRequest[] = [];
      for (const element of collections) {
        const request = readCollection(element);
        if (!request) return 'malformed';
        requests.push(request);
      }
      let requestWindow = Number(requestBody.textOf('WindowSize') ?? '0');
      if (!Number.isInteger(requestWindow) || requestWindow <= 0) requestWindow = Number.POSITIVE_INFINITY;

      let prefetched: Map<string, CollectionState | null> | undefined;
      if (first) {
        const ids = [...new Set(requests.map((request) => request.collectionId))];
        const withCache = remembers && cachedRequest === undefined;
        const states = await getStates(services.syncState, [
          ...(withCache ? [cacheKey] : []),
          ...ids.map(collectionKey),
        ]);
        if (withCache) cachedRequest = states.shift() ?? null;
        prefetched = new Map(ids.map((id, index) => [id, states[index] ?? null]));
      }

      // An empty (or partial) request reuses the keys the device was last given.
      if (emptyRequest || requestBody.has('Partial')) {
        const states = prefetched
          ? requests.map((request) => prefetched.get(request.collectionId) ?? null)
          : await getStates(
              services.syncState,
              requests.map((request) => collectionKey(request.collectionId)),
            );
        for (const [index, request] of requests.entries()) {
          const state = states[index];
          if (state) request.syncKey = latestSyncKey(state);
        }
      }

      const results: WbxmlElement[] = [];
      const watched = new Map<FolderId, string>();
      let anythingToSay = false;
      for (const request of requests) {
        const budget = Math.min(request.windowSize, requestWindow);
        let stored: CollectionState | null | undefined;
        if (prefetched?.has(request.collectionId)) {
          stored = prefetched.get(request.collectionId);
          prefetched.delete(request.collectionId);
        }
        const outcome = await syncCollection(request, budget, stored);
        requestWindow -= outcome.sentCount;
        results.push(outcome.element);
        if (outcome.significant) anythingToSay = true;
        if (outcome.watch) watched.set(outcome.watch.folderId, outcome.watch.syncKey);
      }
      return { results, anythingToSay, watched };
    }

    /**
     * Whether a waiting collection has something for the device: a change after the cursor of its newest key
     * (the rule Ping uses), or the folder is gone (the next run answers Status 12). 'moved-on' when the
     * device's key is no longer the one this request holds: another request of the device synced it.
     */
    async function collectionChanged(
      folderId: FolderId,
      syncKey: string,
      state: CollectionState | null,
    ): Promise<'changed' | 'unchanged' | 'moved-on'> {
      if (state === null || latestSyncKey(state) !== syncKey) return 'moved-on';
      const cursor = state.pending?.cursor ?? state.confirmed.cursor;
      try {
        const page = await services.mailbox.changes(user, folderId, cursor, 1);
        return page.changes.length > 0 ? 'changed' : 'unchanged';
      } catch (error) {
        if (error instanceof NotFoundError) return 'changed';
        throw error;
      }
    }

    /** Caches the request unless `previous` (the cached request's state read before) already holds it. */
    async function rememberRequest(request: WbxmlElement, previous: CollectionState | null): Promise<void> {
      // Keep the collection list and options only: keys and client commands are not replayed.
      const stripped = AS.Sync(
        AS.Collections(
          (request.child('Collections')?.all('Collection') ?? []).map((collection) =>
            AS.Collection(
              collection.children.filter((child) => child.name !== 'Commands' && child.name !== 'SyncKey'),
              AS.SyncKey('0'),
            ),
          ),
        ),
        request.has('WindowSize') ? AS.WindowSize(request.textOf('WindowSize')!) : null,
        // An empty request hangs like the request it stands for.
        request.has('Wait') ? AS.Wait(request.textOf('Wait')!) : null,
        request.has('HeartbeatInterval') ? AS.HeartbeatInterval(request.textOf('HeartbeatInterval')!) : null,
      );
      const saved = Buffer.from(encode(stripped)).toString('base64');
      if (previous?.options?.request === saved) return;
      const next: CollectionState = {
        confirmed: { syncKey: 'cache', cursor: 0 },
        pending: null,
        options: { request: saved },
      };
      await services.syncState.compareAndSet(cacheKey, previous ? latestSyncKey(previous) : null, next);
    }

    /** `prefetched`: the collection's state read earlier in this request; `undefined` reads it now. */
    async function syncCollection(
      request: CollectionRequest,
      window: number,
      prefetched: CollectionState | null | undefined,
    ): Promise<CollectionOutcome> {
      const classElement =
        !atLeast(version, '14.0') && request.className ? AS.Class(request.className) : null;
      const failed = (status: number, syncKey = request.syncKey) => ({
        element: AS.Collection(
          classElement,
          AS.SyncKey(syncKey),
          AS.CollectionId(request.collectionId),
          AS.Status(status),
        ),
        sentCount: 0,
        significant: true,
      });

      // The folder's type decides its class and whether devices see it. A folder keeps its type for life, so a
      // state written by an earlier Sync remembers it (options.folderType), and a Sync that will read the
      // folder's changes anyway skips reading the folder: changes() fails with NotFoundError for a deleted
      // folder, which answers Status 12 just as the read would have. Every other Sync reads the folder first.
      let state =
        prefetched !== undefined
          ? prefetched
          : await services.syncState.get(collectionKey(request.collectionId));
      const storedType = state?.options?.folderType;
      const rememberedType = isFolderType(storedType) ? storedType : undefined;
      const presentedKey = classifySyncKey(state, request.syncKey);
      let folder: Pick<Folder, 'id' | 'type'>;
      /** False while the folder is known only from the state: no store call has confirmed it exists yet. */
      let folderConfirmed: boolean;
      if (
        rememberedType !== undefined &&
        folderClass(rememberedType) !== undefined &&
        (presentedKey === 'current' || presentedKey === 'confirm-pending') &&
        request.commands === undefined &&
        (request.getChanges ?? true) &&
        window > 0
      ) {
        folder = { id: request.collectionId, type: rememberedType };
        folderConfirmed = false;
      } else {
        try {
          folder = await services.mailbox.getFolder(user, request.collectionId);
        } catch (error) {
          if (error instanceof NotFoundError) return failed(SyncStatus.HierarchyChanged);
          throw error;
        }
        folderConfirmed = true;
        if (folder.id !== request.collectionId)
          state = await services.syncState.get(collectionKey(folder.id));
      }
      const stored = state;
      if (!folderVisible(services, folder)) return failed(SyncStatus.HierarchyChanged);
      /** Status 12 when the folder is gone (checked now if nothing has confirmed it yet), else `status`. */
      const failedInFolder = async (status: number) => {
        if (!folderConfirmed) {
          try {
            await services.mailbox.getFolder(user, folder.id);
          } catch (error) {
            if (error instanceof NotFoundError) return failed(SyncStatus.HierarchyChanged);
            throw error;
          }
        }
        return failed(status);
      };
      const itemClass = folderClass(folder.type);
      const key: CollectionKey = { user, deviceId: head.deviceId, collectionId: folder.id };
      const keyClass =
        folder.id === request.collectionId ? presentedKey : classifySyncKey(stored, request.syncKey);
      if (keyClass === 'invalid') return failed(SyncStatus.InvalidSyncKey, '0');

      let syncOptions: SyncOptions;
      try {
        syncOptions = readSyncOptions(
          request.options,
          stored?.options?.sync as SyncOptions | undefined,
          request.syncKey === '0' ? request.supported : undefined,
        );
      } catch (error) {
        if (error instanceof InvalidOptionsError) return failedInFolder(SyncStatus.ProtocolError);
        throw error;
      }
      // Items this device failed on again and again; they stay out of its sync of this folder.
      const quarantined = new Set((stored?.options?.quarantined as string[] | undefined) ?? []);
      const storedOptions: JsonObject = {
        sync: syncOptions as unknown as JsonObject,
        folderType: folder.type,
      };
      const withQuarantine = (): JsonObject =>
        quarantined.size > 0 ? { ...storedOptions, quarantined: [...quarantined] } : storedOptions;

      if (keyClass === 'initial') {
        const next = startOver(stored, { sent: [], cursor: 0, options: withQuarantine() });
        const previousKey = stored === null ? null : latestSyncKey(stored);
        if (!(await services.syncState.compareAndSet(key, previousKey, next))) {
          return failed(atLeast(version, '14.0') ? SyncStatus.Retry : SyncStatus.ServerError);
        }
        return {
          element: AS.Collection(
            classElement,
            AS.SyncKey(next.pending!.syncKey),
            AS.CollectionId(folder.id),
            AS.Status(SyncStatus.Success),
          ),
          sentCount: 0,
          significant: true,
        };
      }

      const converter = itemClass ? (CONVERTERS[itemClass] as ItemConverter) : undefined;
      const requestHash = hashCommands(request.commands);
      const render = async (item: StoredItem): Promise<WbxmlElement[] | undefined> => {
        if (!converter) return undefined;
        const convertContext: ConvertContext = {
          version,
          options: contentOptions(syncOptions),
          readBody: (type, truncateBytes) =>
            services.mailbox.readBody(user, item.id, {
              type: type as 'plain' | 'html' | 'mime',
              ...(truncateBytes === undefined ? {} : { truncateBytes }),
            }),
        };
        try {
          return await converter.toApplicationData(item as never, convertContext);
        } catch (error) {
          options.onItemError?.({ user, itemId: item.id, folderId: folder.id, error });
          return undefined;
        }
      };

      // The same request again after the response was not confirmed. Once, it is a lost response: the same
      // answer again, re-read from the store. Again and again, the response itself is the suspect (it crashed
      // the client or timed out): the window halves until one item remains, and that item is left out.
      let carried:
        | { responses: ClientResponse[]; clientAdds: Record<string, ItemId>; removed: ItemId[] }
        | undefined;
      let forcedWindow: number | undefined;
      if (keyClass === 'repeat') {
        const pending = stored!.pending!;
        const snapshot = pending.response as unknown as CollectionSnapshot | undefined;
        const attempts = (snapshot?.attempts ?? 0) + 1;
        const serverItems = pending.sent.filter(
          (change) => change.kind === 'add' || change.kind === 'change',
        );
        if (snapshot && snapshot.requestHash === requestHash && attempts >= 2 && serverItems.length > 0) {
          carried = {
            responses: snapshot.responses,
            clientAdds: { ...pending.clientAdds },
            removed: [...(pending.removedByClient ?? [])],
          };
          if (serverItems.length > 1) {
            forcedWindow = Math.ceil(pending.sent.length / 2);
          } else {
            const culprit = serverItems[0]!.id;
            quarantined.add(culprit);
            options.onItemQuarantined?.({
              user,
              deviceId: head.deviceId,
              folderId: folder.id,
              itemId: culprit,
            });
            forcedWindow = snapshot.window ?? window;
          }
        } else if (snapshot && snapshot.requestHash === requestHash) {
          await services.syncState.compareAndSet(key, latestSyncKey(stored!), {
            ...stored!,
            pending: { ...pending, response: { ...snapshot, attempts } as unknown as JsonValue },
          });
          const commands: WbxmlElement[] = [];
          for (const change of stored!.pending!.sent) {
            const element = await renderSent(change);
            if (element) commands.push(element);
          }
          return {
            element: collectionElement(
              stored!.pending!.syncKey,
              snapshot.moreAvailable,
              commands,
              snapshot.responses,
            ),
            sentCount: commands.length,
            significant: true,
          };
        }
      }

      async function renderSent(change: SentChange): Promise<WbxmlElement | undefined> {
        if (change.kind === 'delete' || change.kind === 'soft-delete') {
          return (change.kind === 'delete' ? AS.Delete : AS.SoftDelete)(AS.ServerId(change.id));
        }
        let item: StoredItem;
        try {
          item = await services.mailbox.getItem(user, change.id);
        } catch (error) {
          if (error instanceof NotFoundError) return undefined;
          throw error;
        }
        const data = await render(item);
        if (!data) return undefined;
        return (change.kind === 'add' ? AS.Add : AS.Change)(AS.ServerId(item.id), AS.ApplicationData(data));
      }

      function collectionElement(
        syncKey: string,
        moreAvailable: boolean,
        commands: WbxmlElement[],
        responses: ClientResponse[],
        fetched: Map<string, WbxmlElement[]> = new Map(),
      ): WbxmlElement {
        return AS.Collection(
          classElement,
          AS.SyncKey(syncKey),
          AS.CollectionId(folder.id),
          AS.Status(SyncStatus.Success),
          moreAvailable ? AS.MoreAvailable() : null,
          commands.length > 0 ? AS.Commands(commands) : null,
          responses.length > 0
            ? AS.Responses(responses.map((response) => responseElement(response, classElement, fetched)))
            : null,
        );
      }

      const base = keyClass === 'confirm-pending' ? confirmPending(stored!) : stored!;
      if (forcedWindow !== undefined) window = Math.min(window, forcedWindow);
      const cursorAtStart = base.confirmed.cursor;
      const responses: ClientResponse[] = [];
      const fetched = new Map<string, WbxmlElement[]>();
      const ownModseqs = new Set<Modseq>();
      const ownElsewhere = ownChangesOf(base);
      const clientAdds: Record<string, ItemId> = { ...carried?.clientAdds };
      const removedByClient: ItemId[] = [...(carried?.removed ?? [])];
      if (carried) responses.push(...carried.responses);

      // The Deleted Items folder, looked up once per collection however many messages a request deletes.
      let trashLookup: Promise<Folder | undefined> | undefined;
      const deletedItemsFolder = () =>
        (trashLookup ??= services.mailbox
          .listFolders(user)
          .then((folders) => folders.find((candidate) => candidate.type === FolderType.DeletedItems)));

      /**
       * Items this device added to the folder with a ClientId after the collection's cursor: written by an
       * earlier run of this same request whose outcome was never recorded (the server stopped between the
       * writes and the sync-state update). A retried Add maps to them instead of adding again, and they are
       * not sent back as server Adds. Read once per request, only when the request has Adds; costs the changes
       * since the cursor, which the rest of the Sync reads anyway.
       */
      let recovered: Promise<Map<string, ItemId>> | undefined;
      const addedBeforeACrash = () =>
        (recovered ??= (async () => {
          const found = new Map<string, ItemId>();
          // Adds the state already maps belong to an earlier, recorded request: a ClientId the device uses again
          // must not map to them (they are still not sent back).
          const recorded = new Set(Object.values(stored?.pending?.clientAdds ?? {}));
          let since = cursorAtStart;
          for (let page = 0; page < 100; page++) {
            const changes = await services.mailbox.changes(user, folder.id, since, 500);
            for (const change of changes.changes) {
              const origin = change.kind === 'add' ? change.item.data.clientOrigin : undefined;
              if (origin?.deviceId === head.deviceId && change.kind === 'add') {
                if (!recorded.has(change.itemId)) found.set(origin.clientId, change.itemId);
                ownModseqs.add(change.modseq);
              }
            }
            if (!changes.more) break;
            since = changes.nextModseq;
          }
          return found;
        })());

      // Client commands, in the order they came (already applied when a suspect response is being narrowed).
      if (request.commands && !carried) {
        const addIds = request.commands.all('Add').map((add) => add.textOf('ClientId') ?? '');
        const alreadyAdded = keyClass === 'repeat' ? resolveClientAdds(stored, addIds).mapped : {};
        for (const command of request.commands.children) {
          switch (command.name) {
            case 'Add':
              responses.push(await clientAdd(command, alreadyAdded));
              break;
            case 'Change': {
              // A Change is answered only when it failed or added attachments (MS-ASCMD 2.2.3.24, 2.2.3.154).
              const response = await clientChange(command);
              if (response.status !== SyncStatus.Success || response.attachments?.length)
                responses.push(response);
              break;
            }
            case 'Delete': {
              const response = await clientDelete(command);
              if (response.status !== SyncStatus.Success) responses.push(response);
              break;
            }
            case 'Fetch':
              responses.push(await clientFetch(command));
              break;
            default:
              return failed(SyncStatus.ProtocolError);
          }
        }
      }

      async function clientAdd(
        command: WbxmlElement,
        alreadyAdded: Record<string, ItemId>,
      ): Promise<ClientResponse> {
        const clientId = command.textOf('ClientId');
        if (!clientId) return { kind: 'Add', clientId: '', status: SyncStatus.ProtocolError };
        const mapped = alreadyAdded[clientId] ?? (await addedBeforeACrash()).get(clientId);
        if (mapped !== undefined) {
          clientAdds[clientId] = mapped;
          return { kind: 'Add', clientId, serverId: mapped, status: SyncStatus.Success };
        }
        const clientOrigin = { deviceId: head.deviceId, clientId };
        const applicationData = command.child('ApplicationData');
        const isDraftAdd =
          itemClass === 'Email' && atLeast(version, '16.0') && folder.type === FolderType.Drafts;
        if (!converter || !applicationData || (itemClass === 'Email' && !isDraftAdd)) {
          // Mail arrives by delivery or SendMail; only 16.x drafts are added by Sync. Journal folders hold nothing.
          return { kind: 'Add', clientId, status: SyncStatus.ConversionError };
        }
        try {
          const parsed = converter.fromApplicationData(applicationData, version);
          const attachmentChanges = atLeast(version, '16.0')
            ? readAttachmentChanges(applicationData)
            : undefined;
          if (isDraftAdd) {
            const draft = parsed as ParsedApplicationData<'Email'>;
            const data = await composeDraft({
              from: { address: identity.addresses[0] ?? user },
              ...draftFields(draft),
              ...(attachmentChanges?.adds.length ? { attachments: attachmentChanges.adds } : {}),
            });
            data.clientOrigin = clientOrigin;
            if (attachmentChanges?.adds.length) {
              data.attachmentClientIds = attachmentChanges.adds.map((add) => ({
                clientId: add.clientId,
                displayName: add.displayName,
                estimatedDataSize: add.content.byteLength,
              }));
            }
            const created = await services.mailbox.createItem(user, folder.id, { class: 'Email', data });
            ownModseqs.add(created.modseq);
            clientAdds[clientId] = created.id;
            const attachments = attachmentChanges
              ? matchAddedAttachments(
                  created.class === 'Email' ? created.data.attachments : [],
                  [],
                  attachmentChanges.adds,
                )
              : [];
            return {
              kind: 'Add',
              clientId,
              serverId: created.id,
              status: SyncStatus.Success,
              ...(attachments.length ? { attachments } : {}),
            };
          }
          const created = await services.mailbox.createItem(user, folder.id, {
            class: itemClass,
            data: { ...withRequiredDefaults(itemClass!, parsed.data), clientOrigin },
          } as never);
          ownModseqs.add(created.modseq);
          clientAdds[clientId] = created.id;
          if (created.class === 'Calendar' && attachmentChanges?.adds.length) {
            // 16.x calendar attachments (MS-ASAIRS 2.2.2.2): their references name the item, so they are added
            // once it has an id.
            const next = changeCalendarAttachments(created.id, undefined, attachmentChanges);
            const updated = await services.mailbox.updateItem(user, created.id, {
              class: 'Calendar',
              data: { attachments: next.attachments },
            });
            ownModseqs.add(updated.modseq);
            return {
              kind: 'Add',
              clientId,
              serverId: created.id,
              status: SyncStatus.Success,
              attachments: next.added,
            };
          }
          return { kind: 'Add', clientId, serverId: created.id, status: SyncStatus.Success };
        } catch (error) {
          if (error instanceof MalformedItemError) {
            return { kind: 'Add', clientId, status: SyncStatus.ConversionError };
          }
          if (isMailboxArgumentError(error))
            return { kind: 'Add', clientId, status: SyncStatus.ConversionError };
          throw error;
        }
      }

      async function ownItem(serverId: string): Promise<StoredItem | undefined> {
        try {
          const item = await services.mailbox.getItem(user, serverId);
          return item.folderId === folder.id ? item : undefined;
        } catch (error) {
          if (error instanceof NotFoundError) return undefined;
          throw error;
        }
      }

      /** A 16.x draft edited on the device: its MIME is composed again from the old fields and the new ones. */
      async function recomposeDraft(
        item: StoredItem & { class: 'Email' },
        parsed: ParsedApplicationData<'Email'>,
        attachmentChanges?: AttachmentChanges,
      ): Promise<{ data: EmailData; plan: DraftAttachmentPlan }> {
        const current = item.data;
        let body = parsed.draftBody;
        if (!body) {
          const nativeType = (
            await services.mailbox.readBody(user, item.id, { type: 'plain', truncateBytes: 0 })
          ).nativeType;
          const type = nativeType === 'html' ? 'html' : 'plain';
          body = { type, data: (await services.mailbox.readBody(user, item.id, { type })).data as string };
        }
        // The draft's attachments survive every edit; the device's Attachments Add/Delete change them.
        const plan = await draftAttachmentsAfter(services.mailbox, user, current, attachmentChanges);
        const { attachments } = plan;
        const data = await composeDraft({
          from: current.from ?? { address: identity.addresses[0] ?? user },
          ...(current.to ? { to: current.to } : {}),
          ...(current.cc ? { cc: current.cc } : {}),
          ...(current.bcc ? { bcc: current.bcc } : {}),
          ...(current.subject !== undefined ? { subject: current.subject } : {}),
          ...(current.importance !== undefined ? { importance: current.importance } : {}),
          ...draftFields(parsed),
          body,
          ...(attachments.length ? { attachments } : {}),
        });
        if (plan.clientIds.length) data.attachmentClientIds = plan.clientIds;
        return { data, plan };
      }

      async function clientChange(
        command: WbxmlElement,
      ): Promise<Extract<ClientResponse, { kind: 'Change' }>> {
        const serverId = command.textOf('ServerId') ?? '';
        const item = await ownItem(serverId);
        if (!item) return { kind: 'Change', serverId, status: SyncStatus.ObjectNotFound };
        const applicationData = command.child('ApplicationData');
        if (!converter || !applicationData)
          return { kind: 'Change', serverId, status: SyncStatus.ProtocolError };
        if (item.modseq > cursorAtStart && syncOptions.conflict === 1) {
          // Changed on the server since the device last synced, and the server wins: the device gets the
          // server's version among the changes below.
          return { kind: 'Change', serverId, status: SyncStatus.Conflict };
        }
        let parsed: ReturnType<ItemConverter['fromApplicationData']>;
        let attachmentChanges: AttachmentChanges | undefined;
        let attachments: AddedAttachment[] = [];
        try {
          parsed = converter.fromApplicationData(applicationData, version);
          if (atLeast(version, '16.0')) attachmentChanges = readAttachmentChanges(applicationData);
        } catch (error) {
          if (error instanceof MalformedItemError)
            return { kind: 'Change', serverId, status: SyncStatus.ConversionError };
          throw error;
        }
        try {
          let updated: StoredItem;
          if (item.class === 'Email') {
            updated = item;
            const data = parsed.data as { read?: boolean; flag?: unknown; categories?: string[] };
            if (parsed.present.has('read' as never) && data.read !== undefined) {
              updated = await services.mailbox.setReadState(user, item.id, data.read);
              ownModseqs.add(updated.modseq);
            }
            if (parsed.present.has('flag' as never)) {
              updated = await services.mailbox.setFlag(user, item.id, data.flag as never);
              ownModseqs.add(updated.modseq);
            }
            if (
              item.data.isDraft &&
              atLeast(version, '16.0') &&
              (isDraftEdit(parsed as ParsedApplicationData<'Email'>) || attachmentChanges)
            ) {
              const recomposed = await recomposeDraft(
                item as StoredItem & { class: 'Email' },
                parsed as ParsedApplicationData<'Email'>,
                attachmentChanges,
              );
              updated = await services.mailbox.updateItem(user, item.id, {
                class: 'Email',
                // attachmentClientIds given even when absent, so that the old list is replaced.
                data: { ...recomposed.data, attachmentClientIds: recomposed.data.attachmentClientIds },
              });
              ownModseqs.add(updated.modseq);
              if (attachmentChanges && updated.class === 'Email') {
                attachments = matchAddedAttachments(
                  updated.data.attachments,
                  recomposed.plan.kept,
                  recomposed.plan.adds,
                );
              }
            }
            if (parsed.present.has('categories' as never)) {
              updated = await services.mailbox.updateItem(user, item.id, {
                class: 'Email',
                data: { categories: data.categories ?? [] },
              });
              ownModseqs.add(updated.modseq);
            }
          } else {
            const patch: Record<string, unknown> = { ...parsed.data };
            for (const field of erasedFields(item, parsed.present, converter)) patch[field] = undefined;
            if (item.class === 'Calendar' && attachmentChanges) {
              const next = changeCalendarAttachments(item.id, item.data.attachments, attachmentChanges);
              patch.attachments = next.attachments.length ? next.attachments : undefined;
              attachments = next.added;
            }
            updated = await services.mailbox.updateItem(user, item.id, {
              class: item.class,
              data: patch,
            } as never);
            ownModseqs.add(updated.modseq);
          }
          return {
            kind: 'Change',
            serverId,
            status: SyncStatus.Success,
            ...(attachments.length ? { attachments } : {}),
          };
        } catch (error) {
          if (isMailboxArgumentError(error))
            return { kind: 'Change', serverId, status: SyncStatus.ConversionError };
          throw error;
        }
      }

      function erasedFields(
        item: StoredItem,
        present: ReadonlySet<string>,
        itemConverter: ItemConverter,
      ): string[] {
        // Ghosting (MS-ASCMD Supported): with a Supported list, only the listed properties may be erased by
        // leaving them out; without one, every property the device could have sent counts as sent.
        const candidates = syncOptions.supported
          ? syncOptions.supported
              .map((tag) => {
                const colon = tag.indexOf(':');
                return itemConverter.fieldOfTag(tag.slice(0, colon), tag.slice(colon + 1)) as
                  | string
                  | undefined;
              })
              .filter((field): field is string => field !== undefined)
          : Object.keys(item.data);
        return candidates.filter(
          (field) => !present.has(field) && !SERVER_OWNED.has(field) && field in item.data,
        );
      }

      async function clientDelete(command: WbxmlElement): Promise<ClientResponse> {
        const serverId = command.textOf('ServerId') ?? '';
        const item = await ownItem(serverId);
        if (!item) return { kind: 'Delete', serverId, status: SyncStatus.ObjectNotFound };
        removedByClient.push(item.id);
        if (request.deletesAsMoves && item.class === 'Email' && folder.type !== FolderType.DeletedItems) {
          const trash = await deletedItemsFolder();
          if (trash) {
            const moved = await services.mailbox.moveItem(user, item.id, trash.id);
            ownModseqs.add(moved.modseq);
            return { kind: 'Delete', serverId, status: SyncStatus.Success };
          }
        }
        const { modseq } = await services.mailbox.deleteItem(user, item.id);
        ownModseqs.add(modseq);
        return { kind: 'Delete', serverId, status: SyncStatus.Success };
      }

      async function clientFetch(command: WbxmlElement): Promise<ClientResponse> {
        const serverId = command.textOf('ServerId') ?? '';
        const item = await ownItem(serverId);
        if (!item) return { kind: 'Fetch', serverId, status: SyncStatus.ObjectNotFound };
        const data = await render(item);
        if (!data) return { kind: 'Fetch', serverId, status: SyncStatus.ConversionError };
        fetched.set(serverId, data);
        return { kind: 'Fetch', serverId, status: SyncStatus.Success };
      }

      // Server changes since the device's cursor, within the window and the time budget.
      const commands: WbxmlElement[] = [];
      const sent: SentChange[] = [];
      // MaxItems (MS-ASCMD 2.2.3.111): a recipient information cache holds at most that many recipients; adds
      // beyond it are passed over (they come again only after a key-0 restart).
      const riCap = folder.type === FolderType.RecipientInformationCache ? syncOptions.maxItems : 0;
      const riAddsBefore = (base.confirmed.meta?.riAdds as number | undefined) ?? 0;
      let addsSent = 0;
      const riCapReached = (): boolean => riCap > 0 && riAddsBefore + addsSent >= riCap;

      let cursor = cursorAtStart;
      let moreAvailable = false;
      const getChanges = request.getChanges ?? true;
      if (getChanges && converter && window > 0) {
        const cutoff = filterCutoff(syncOptions.filterType, now());
        const inWindow = (item: StoredItem): boolean => filterAllows(item, cutoff, syncOptions.filterType);
        let rounds = 0;
        outer: while (rounds++ < 50) {
          let page: ChangesPage;
          try {
            page = await services.mailbox.changes(user, folder.id, cursor, Math.max(window - sent.length, 1));
          } catch (error) {
            // The folder was known only from the sync state and is gone: Status 12, as a folder read answers.
            if (!folderConfirmed && error instanceof NotFoundError)
              return failed(SyncStatus.HierarchyChanged);
            throw error;
          }
          folderConfirmed = true;
          let consumed = 0;
          for (const change of page.changes) {
            // At least one item per response, so a slow item cannot stall the device forever.
            if (sent.length >= window || (sent.length > 0 && Date.now() - started > timeBudgetMs)) {
              moreAvailable = true;
              if (consumed > 0) cursor = page.changes[consumed - 1]!.modseq;
              break outer;
            }
            consumed++;
            const element = await renderChange(change, inWindow);
            if (element) {
              commands.push(element.element);
              sent.push(element.sent);
              if (element.sent.kind === 'add') addsSent++;
            }
          }
          cursor = page.nextModseq;
          if (!page.more) break;
          if (sent.length >= window) {
            moreAvailable = true;
            break;
          }
        }
        if (rounds > 50) moreAvailable = true;
      }

      async function renderChange(
        change: ItemChange,
        inWindow: (item: StoredItem) => boolean,
      ): Promise<{ element: WbxmlElement; sent: SentChange } | undefined> {
        if (quarantined.has(change.itemId)) return undefined;
        if (ownModseqs.has(change.modseq) || ownElsewhere.has(`${change.itemId}@${change.modseq}`))
          return undefined;
        if (change.kind === 'delete') {
          return {
            element: AS.Delete(AS.ServerId(change.itemId)),
            sent: { id: change.itemId, kind: 'delete' },
          };
        }
        if (!inWindow(change.item)) return undefined;
        if (change.kind === 'add' && riCapReached()) return undefined;
        const data = await render(change.item);
        if (!data) return undefined;
        const make = change.kind === 'add' ? AS.Add : AS.Change;
        return {
          element: make(AS.ServerId(change.itemId), AS.ApplicationData(data)),
          sent: { id: change.itemId, kind: change.kind },
        };
      }

      // A request that carried commands always gets a new key, as clients expect.
      const nothingNew = sent.length === 0 && request.commands === undefined;
      if (nothingNew && keyClass !== 'repeat') {
        // The device keeps its key; the cursor may still move past changes it does not need (filtered ones).
        if (
          cursor !== base.confirmed.cursor ||
          keyClass === 'confirm-pending' ||
          optionsChanged(stored!, withQuarantine())
        ) {
          const next: CollectionState = {
            ...base,
            confirmed: { ...base.confirmed, cursor },
            options: withQuarantine(),
          };
          await services.syncState.compareAndSet(key, latestSyncKey(stored!), next);
        }
        return {
          element: collectionElement(base.confirmed.syncKey, moreAvailable, [], []),
          sentCount: 0,
          significant: moreAvailable,
          // A collection whose changes the device asked for can make a hanging Sync answer.
          ...(getChanges && converter
            ? { watch: { folderId: folder.id, syncKey: base.confirmed.syncKey } }
            : {}),
        };
      }

      const snapshot: CollectionSnapshot = { requestHash, responses, moreAvailable, window };
      const next = issuePending(base, {
        sent,
        clientAdds,
        removedByClient,
        cursor,
        response: snapshot as unknown as JsonValue,
        options: withQuarantine(),
        ...(riCap > 0
          ? {
              meta: {
                ...base.confirmed.meta,
                riAdds: riAddsBefore + addsSent,
              },
            }
          : {}),
      });
      if (!(await services.syncState.compareAndSet(key, latestSyncKey(stored!), next))) {
        return failed(atLeast(version, '14.0') ? SyncStatus.Retry : SyncStatus.ServerError);
      }
      return {
        element: collectionElement(next.pending!.syncKey, moreAvailable, commands, responses, fetched),
        sentCount: sent.length,
        significant: true,
      };
    }
  };
}

function responseElement(
  response: ClientResponse,
  classElement: WbxmlElement | null,
  fetched: ReadonlyMap<string, WbxmlElement[]>,
): WbxmlElement {
  switch (response.kind) {
    case 'Add':
      return AS.Add(
        classElement,
        AS.ClientId(response.clientId),
        response.serverId === undefined ? null : AS.ServerId(response.serverId),
        response.attachments?.length ? addedAttachmentsElement(response.attachments) : null,
        AS.Status(response.status),
      );
    case 'Change':
      return AS.Change(
        AS.ServerId(response.serverId),
        response.attachments?.length ? addedAttachmentsElement(response.attachments) : null,
        AS.Status(response.status),
      );
    case 'Delete':
      return AS.Delete(AS.ServerId(response.serverId), AS.Status(response.status));
    case 'Fetch': {
      const data = fetched.get(response.serverId);
      return AS.Fetch(
        AS.ServerId(response.serverId),
        AS.Status(response.status),
        data ? AS.ApplicationData(data) : null,
      );
    }
  }
}

const DRAFT_FIELDS = ['to', 'cc', 'bcc', 'subject', 'importance'] as const;

function draftFields(parsed: ParsedApplicationData<'Email'>): Omit<DraftFields, 'from'> {
  const fields: { -readonly [K in keyof Omit<DraftFields, 'from'>]?: unknown } = {};
  for (const key of DRAFT_FIELDS)
    if (parsed.present.has(key) && parsed.data[key] !== undefined) fields[key] = parsed.data[key];
  if (parsed.draftBody) fields.body = parsed.draftBody;
  return fields as Omit<DraftFields, 'from'>;
}

function isDraftEdit(parsed: ParsedApplicationData<'Email'>): boolean {
  return parsed.draftBody !== undefined || DRAFT_FIELDS.some((key) => parsed.present.has(key));
}

function optionsChanged(stored: CollectionState, options: JsonObject): boolean {
  return JSON.stringify(stored.options) !== JSON.stringify(options);
}

function isMailboxArgumentError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'INVALID_ARGUMENT'
  );
}

function filterAllows(item: StoredItem, cutoff: Date | undefined, filterType: number): boolean {
  switch (item.class) {
    case 'Email':
      return cutoff === undefined || item.data.dateReceived >= cutoff;
    case 'Calendar': {
      if (cutoff === undefined) return true;
      if (item.data.endTime >= cutoff) return true;
      const recurrence = item.data.recurrence;
      return recurrence !== undefined && (recurrence.until === undefined || recurrence.until >= cutoff);
    }
    case 'Tasks':
      return filterType !== 8 || !item.data.complete;
    default:
      return true;
  }
}

/** Fills the fields a model requires when a client's item leaves them out. */
function withRequiredDefaults(itemClass: ItemClass, data: Record<string, unknown>): Record<string, unknown> {
  switch (itemClass) {
    case 'Calendar': {
      const start = (data.startTime as Date | undefined) ?? new Date();
      return { ...data, startTime: start, endTime: (data.endTime as Date | undefined) ?? start };
    }
    case 'Tasks':
      return { ...data, complete: (data.complete as boolean | undefined) ?? false };
    default:
      return data;
  }
}

/**
 * Wait (minutes, 1-59) and HeartbeatInterval (seconds, 60-3540) ask for a hanging Sync; out of range they get
 * Status 14 with the nearest allowed value in Limit, both at once is a protocol error.
 */
function checkWaitLimits(body: WbxmlElement): EasCommandResult | undefined {
  const wait = body.textOf('Wait');
  const heartbeat = body.textOf('HeartbeatInterval');
  if (wait !== undefined && heartbeat !== undefined) return topStatus(SyncStatus.ProtocolError);
  const check = (text: string | undefined, min: number, max: number): EasCommandResult | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value)) return topStatus(SyncStatus.ProtocolError);
    if (value < min || value > max) {
      return {
        kind: 'wbxml',
        body: AS.Sync(AS.Status(SyncStatus.InvalidWaitOrHeartbeat), AS.Limit(value < min ? min : max)),
      };
    }
    return undefined;
  };
  return check(wait, 1, 59) ?? check(heartbeat, 60, 3540);
}

/** How long a request that passed {@link checkWaitLimits} asks to hang, in ms; undefined when it does not. */
function hangingIntervalMs(body: WbxmlElement): number | undefined {
  const wait = body.textOf('Wait');
  if (wait !== undefined) return Number(wait) * 60_000;
  const heartbeat = body.textOf('HeartbeatInterval');
  if (heartbeat !== undefined) return Number(heartbeat) * 1000;
  return undefined;
}

function topStatus(status: number): EasCommandResult {
  return { kind: 'wbxml', body: AS.Sync(AS.Status(status)) };
}

export type { ProtocolVersion };
