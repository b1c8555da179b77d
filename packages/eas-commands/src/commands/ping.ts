import { type FolderId, pollChanges, type UserId } from '@easkit/mailbox';
import type { WaiterRegistry, WaitOutcome } from '@easkit/push';
import {
  type CollectionKey,
  type CollectionState,
  getStates,
  hierarchyKey,
  latestSyncKey,
} from '@easkit/sync-state';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { EasCommandContext, EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { deviceHierarchy } from './folders.js';
import { type EasServices, folderVisible } from './services.js';

const { Ping: P } = eas;

/** Ping statuses (MS-ASCMD 2.2.3.177.11). */
export const PingStatus = {
  /** The heartbeat ran out with no change in the watched folders. */
  HeartbeatExpired: 1,
  /** Watched folders changed; the response lists them. */
  ChangesFound: 2,
  /** An empty (or partial) Ping and no earlier parameters to fill it from. */
  MissingParameters: 3,
  /** The request cannot be read as a Ping. */
  SyntaxError: 4,
  /** HeartbeatInterval out of the server's bounds; the response carries the bound that was crossed. */
  HeartbeatOutOfBounds: 5,
  /** More folders than the server watches at once; the response carries MaxFolders. */
  TooManyFolders: 6,
  /** A watched folder is unknown to the device's hierarchy, or the hierarchy changed: FolderSync first. */
  HierarchyChanged: 7,
  ServerError: 8,
} as const;

export interface PingCommandOptions {
  /** Shortest HeartbeatInterval accepted, in seconds. Default 60, the lower bound Sync's HeartbeatInterval has. */
  readonly minHeartbeatSec?: number;
  /**
   * Longest HeartbeatInterval accepted, in seconds. Default 3540 (59 minutes), the protocol's maximum. Every
   * timeout on the way to the device (socket, proxy, load balancer) must be longer than this; lower it when
   * they cannot be raised (clients then learn the bound from Status 5 and stay below it).
   */
  readonly maxHeartbeatSec?: number;
  /** How many folders one Ping may watch. Default 300: more than the folders clients push-enable in practice. */
  readonly maxFolders?: number;
}

/** The services Ping needs: the stores, and the registry its requests wait in. */
export interface PingServices extends EasServices {
  readonly waiters: WaiterRegistry;
}

export const PING_DEFAULTS = { minHeartbeatSec: 60, maxHeartbeatSec: 3540, maxFolders: 300 } as const;

/**
 * Sync-state collection id under which a device's last Ping parameters are kept, so an empty Ping (or one
 * that leaves out HeartbeatInterval or Folders) reuses them (MS-ASCMD 3.1.5.8).
 */
export const PING_PARAMETERS = '#ping';

interface PingParameters {
  heartbeatSec: number;
  /** [folder id, class as the device named it ('' when it named none)]. */
  folders: [FolderId, string][];
}

/** The states a Ping read before waiting, for its first change check. */
interface PrefetchedStates {
  hierarchy: CollectionState | null;
  /** In the order of the watched folders. */
  folders: (CollectionState | null)[];
}

class PingSyntaxError extends Error {}

function pingAnswer(status: number, ...rest: (WbxmlElement | null)[]): EasCommandResult {
  return { kind: 'wbxml', body: P.Ping(P.Status(status), ...rest) };
}

/** The parameters the request names (either may be absent). @throws PingSyntaxError */
function readRequest(body: WbxmlElement | undefined): Partial<PingParameters> {
  if (body === undefined) return {};
  if (body.name !== 'Ping') throw new PingSyntaxError('not a Ping request');
  const request: Partial<PingParameters> = {};
  const heartbeat = body.textOf('HeartbeatInterval');
  if (heartbeat !== undefined) {
    if (!/^\d{1,9}$/.test(heartbeat)) throw new PingSyntaxError('HeartbeatInterval is not a number');
    request.heartbeatSec = Number(heartbeat);
  }
  const folders = body.child('Folders');
  if (folders !== undefined) {
    const list = folders.all('Folder');
    if (list.length === 0) throw new PingSyntaxError('Folders without Folder');
    const seen = new Set<FolderId>();
    request.folders = [];
    for (const folder of list) {
      const id = folder.textOf('Id');
      if (id === undefined || id === '') throw new PingSyntaxError('Folder without Id');
      if (seen.has(id)) continue;
      seen.add(id);
      request.folders.push([id, folder.textOf('Class') ?? '']);
    }
  }
  return request;
}

/**
 * Ping (MS-ASCMD 2.2.1.13), every protocol version: waits until one of the watched folders changes for this
 * device (Status 2 with those folders) or the heartbeat runs out (Status 1).
 *
 * - Parameters left out of the request (all of them in an empty Ping) come from the device's previous Ping,
 *   kept in the sync-state store under {@link PING_PARAMETERS}; Status 3 when there is none. A `<Ping/>`
 *   with neither element is read as an empty Ping.
 * - A change counts relative to what the device was last sent: a folder changed when the mailbox has a change
 *   after the cursor of the device's newest sync key for it (a folder never synced counts from 0). So a change
 *   made before the Ping arrived answers at once (MS-ASCMD 3.1.5.8). While waiting, a bus event that carries
 *   the change's modseq is compared with the cursors the Ping read when it started, without a read; events
 *   without one make the Ping read the mailbox.
 * - Status 7 when a watched folder is not in the hierarchy the device holds (or no longer visible), when the
 *   device never ran FolderSync, or when the hierarchy changed since its last FolderSync; also when that
 *   happens during the wait.
 * - A newer Ping (or hanging Sync) of the same device ends this one with Status 1, as does server shutdown
 *   (`waiters.close()`): the spec names no status for either; 1 is what every client handles as "ask again",
 *   so a device that already moved on to the newer request loses nothing.
 * - Status 8 for a store failure.
 */
export function pingCommand(services: PingServices, options: PingCommandOptions = {}): EasCommandHandler {
  const minHeartbeatSec = options.minHeartbeatSec ?? PING_DEFAULTS.minHeartbeatSec;
  const maxHeartbeatSec = options.maxHeartbeatSec ?? PING_DEFAULTS.maxHeartbeatSec;
  const maxFolders = options.maxFolders ?? PING_DEFAULTS.maxFolders;
  if (!(minHeartbeatSec >= 1 && minHeartbeatSec <= maxHeartbeatSec && maxFolders >= 1)) {
    throw new RangeError('pingCommand: need 1 <= minHeartbeatSec <= maxHeartbeatSec and maxFolders >= 1');
  }

  return async ({ identity, head, body, signal }: EasCommandContext): Promise<EasCommandResult> => {
    const user = identity.userId;
    const deviceId = head.deviceId;
    let request: Partial<PingParameters>;
    try {
      request = readRequest(body);
    } catch (error) {
      if (error instanceof PingSyntaxError) return pingAnswer(PingStatus.SyntaxError);
      throw error;
    }
    try {
      const cacheKey: CollectionKey = { user, deviceId, collectionId: PING_PARAMETERS };
      const folderKey = (collectionId: FolderId): CollectionKey => ({ user, deviceId, collectionId });
      // One read before the wait: the cached parameters, the hierarchy and (when the request names them, and
      // not too many) every watched folder. An empty Ping learns its folders from the cache, so reads them after.
      const named =
        request.folders !== undefined && request.folders.length <= maxFolders ? request.folders : [];
      const [cached = null, hierarchy = null, ...namedStates] = await getStates(services.syncState, [
        cacheKey,
        hierarchyKey(user, deviceId),
        ...named.map(([id]) => folderKey(id)),
      ]);
      const previous = (
        request.heartbeatSec === undefined || request.folders === undefined ? (cached?.options ?? {}) : {}
      ) as Partial<PingParameters>;
      const heartbeatSec = request.heartbeatSec ?? previous.heartbeatSec;
      const folders = request.folders ?? previous.folders;
      if (heartbeatSec === undefined || folders === undefined)
        return pingAnswer(PingStatus.MissingParameters);
      if (folders.length > maxFolders) return pingAnswer(PingStatus.TooManyFolders, P.MaxFolders(maxFolders));
      if (heartbeatSec < minHeartbeatSec || heartbeatSec > maxHeartbeatSec) {
        const bound = heartbeatSec < minHeartbeatSec ? minHeartbeatSec : maxHeartbeatSec;
        return pingAnswer(PingStatus.HeartbeatOutOfBounds, P.HeartbeatInterval(bound));
      }
      if (request.heartbeatSec !== undefined || request.folders !== undefined) {
        await remember(cacheKey, cached, { heartbeatSec, folders });
      }

      const folderIds = folders.map(([id]) => id);
      const folderStates =
        request.folders !== undefined
          ? namedStates
          : await getStates(services.syncState, folderIds.map(folderKey));
      // What the first check uses instead of reading again. The states were read just before the bus
      // subscription rather than just after: a write in between only makes them older than stored, which at
      // worst reports a change (or a hierarchy change) the device already has, never misses one: the mailbox
      // is still read after subscribing.
      let prefetched: PrefetchedStates | undefined = { hierarchy, folders: folderStates };
      // The device's cursors that checks woken by the bus compare against. Only the device's own requests move
      // them, and one that does so while this Ping waits makes them older, never newer: the worst case is a
      // change reported that the device already has, which costs it one Sync.
      let held = folderStates;
      // The registry's first re-read (hint undefined) checks the hierarchy too, so a stale one answers at once.
      let stale = false;
      const outcome: WaitOutcome = await services.waiters.wait({
        user,
        deviceId,
        folderIds,
        heartbeatMs: heartbeatSec * 1000,
        ...(signal ? { signal } : {}),
        hasChanges: async (hint, modseqs) => {
          if (hint !== undefined) return hintedChanges(hint, modseqs);
          let hierarchyState: CollectionState | null;
          let states: (CollectionState | null)[];
          if (prefetched !== undefined) {
            ({ hierarchy: hierarchyState, folders: states } = prefetched);
            prefetched = undefined;
          } else {
            // Woken with "re-read everything" (a hierarchy change, a bus reconnect): fresh states, one batch.
            states = await getStates(services.syncState, [
              hierarchyKey(user, deviceId),
              ...folderIds.map(folderKey),
            ]);
            hierarchyState = states.shift() ?? null;
          }
          held = states;
          if (!hierarchyHolds(hierarchyState, folderIds)) {
            stale = true;
            return folderIds;
          }
          // One read for the hierarchy and every folder (on stores with pollChanges).
          const poll = await pollChanges(services.mailbox, user, {
            hierarchySince: cursorOf(hierarchyState),
            folders: folderIds.map((folderId, index) => ({
              folderId,
              sinceModseq: cursorOf(states[index] ?? null),
            })),
          });
          if (poll.hierarchyChanged && (await hierarchyMoved(user, hierarchyState!))) {
            stale = true;
            return folderIds;
          }
          if (poll.folders.includes('gone')) {
            stale = true;
            return folderIds;
          }
          return folderIds.filter((_, index) => poll.folders[index] === 'changed');
        },
      });

      /**
       * A check for folders a bus event named. A folder whose events carried a modseq changed for the device
       * when that modseq is past the device's cursor: no read. The others are read from the mailbox.
       */
      async function hintedChanges(
        hint: readonly FolderId[],
        modseqs: ReadonlyMap<FolderId, number> | undefined,
      ): Promise<readonly FolderId[]> {
        const known: FolderId[] = [];
        const unknown: FolderId[] = [];
        for (const id of hint) {
          const modseq = modseqs?.get(id);
          if (modseq === undefined) unknown.push(id);
          else if (modseq > cursorOf(held[folderIds.indexOf(id)] ?? null)) known.push(id);
        }
        if (known.length > 0 || unknown.length === 0) return known;
        const poll = await pollChanges(services.mailbox, user, {
          folders: unknown.map((folderId) => ({
            folderId,
            sinceModseq: cursorOf(held[folderIds.indexOf(folderId)] ?? null),
          })),
        });
        if (poll.folders.includes('gone')) {
          stale = true;
          return folderIds;
        }
        return unknown.filter((_, index) => poll.folders[index] === 'changed');
      }
      if (outcome.kind !== 'changed') return pingAnswer(PingStatus.HeartbeatExpired);
      if (stale) return pingAnswer(PingStatus.HierarchyChanged);
      return pingAnswer(PingStatus.ChangesFound, P.Folders(outcome.folderIds.map((id) => P.Folder(id))));
    } catch {
      return pingAnswer(PingStatus.ServerError);
    }
  };

  /** Stores the parameters unless `stored` (the state read before) already holds them. */
  async function remember(
    key: CollectionKey,
    stored: CollectionState | null,
    parameters: PingParameters,
  ): Promise<void> {
    if (stored && JSON.stringify(stored.options) === JSON.stringify(parameters)) return;
    const next: CollectionState = {
      confirmed: { syncKey: 'ping', cursor: 0 },
      pending: null,
      options: { heartbeatSec: parameters.heartbeatSec, folders: parameters.folders },
    };
    // A lost race means another request of the device wrote its parameters just now: theirs are as good.
    await services.syncState.compareAndSet(key, stored ? latestSyncKey(stored) : null, next);
  }

  /**
   * Whether the hierarchy changed since the device's last FolderSync in a way it must learn of (a folder added,
   * renamed, moved or deleted that it has not been told about), which makes its Ping meaningless.
   */
  async function hierarchyMoved(user: UserId, state: CollectionState): Promise<boolean> {
    // The newest key's view: the device is taken to hold the last response it was sent (MS-ASCMD 3.1.5.8).
    const known = deviceHierarchy(state);
    const changes = await services.mailbox.folderChanges(user, cursorOf(state));
    for (const folder of [...changes.added, ...changes.changed]) {
      if (!folderVisible(services, folder)) {
        if (known[folder.id] !== undefined) return true;
        continue;
      }
      const entry = known[folder.id];
      if (
        entry === undefined ||
        entry[0] !== folder.parentId ||
        entry[1] !== folder.displayName ||
        entry[2] !== folder.type
      ) {
        return true;
      }
    }
    return changes.deleted.some((id) => known[id] !== undefined);
  }
}

/** Whether the device ran FolderSync and every watched folder is in the hierarchy it was last sent. */
function hierarchyHolds(state: CollectionState | null, folderIds: readonly FolderId[]): boolean {
  if (state === null) return false;
  const known = deviceHierarchy(state);
  return folderIds.every((id) => known[id] !== undefined);
}

/** The cursor of the device's newest sync key for a folder (0 for a folder never synced). */
function cursorOf(state: CollectionState | null): number {
  return state === null ? 0 : (state.pending?.cursor ?? state.confirmed.cursor);
}
