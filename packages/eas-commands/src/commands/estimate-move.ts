import {
  type Folder,
  folderClass,
  type ItemId,
  type Modseq,
  NotFoundError,
  type UserId,
} from '@easkit/mailbox';
import {
  type CollectionState,
  classifySyncKey,
  confirmPending,
  type JsonObject,
  latestSyncKey,
} from '@easkit/sync-state';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { EasCommandHandler } from '../http/handler.js';
import type { EasServices } from './services.js';
import { filterCutoff, type SyncOptions } from './sync-options.js';

const { GetItemEstimate: GIE, Move: MV } = eas;

/** GetItemEstimate statuses (MS-ASCMD 2.2.3.177.8). */
export const EstimateStatus = { Success: 1, InvalidCollection: 2, NotPrimed: 3, InvalidSyncKey: 4 } as const;

/** Counting stops here: the estimate is a progress hint, not an audit. */
const MAX_COUNTED_CHANGES = 10_000;

/** GetItemEstimate (MS-ASCMD 2.2.1.9): how many changes the next Sync of each collection would bring. */
export function getItemEstimateCommand(services: EasServices): EasCommandHandler {
  return async ({ identity, head, body }) => {
    const user = identity.userId;
    const collections =
      body?.name === 'GetItemEstimate' ? (body.child('Collections')?.all('Collection') ?? []) : [];
    if (collections.length === 0) {
      return {
        kind: 'wbxml',
        body: GIE.GetItemEstimate(GIE.Response(GIE.Status(EstimateStatus.InvalidCollection))),
      };
    }
    const responses: WbxmlElement[] = [];
    for (const collection of collections) {
      const collectionId = collection.textOf('CollectionId') ?? '';
      const answer = (status: number, estimate?: number) =>
        GIE.Response(
          GIE.Status(status),
          GIE.Collection(
            GIE.CollectionId(collectionId),
            estimate === undefined ? null : GIE.Estimate(estimate),
          ),
        );
      let folder: Folder;
      try {
        folder = await services.mailbox.getFolder(user, collectionId);
      } catch (error) {
        if (error instanceof NotFoundError) {
          responses.push(answer(EstimateStatus.InvalidCollection));
          continue;
        }
        throw error;
      }
      const state = await services.syncState.get({ user, deviceId: head.deviceId, collectionId: folder.id });
      // 12.0+ sends the collection's key (AirSync:SyncKey); 2.5 may send none.
      const syncKey = collection.textOf('AirSync:SyncKey') ?? collection.textOf('SyncKey');
      if (state === null || syncKey === '0') {
        responses.push(answer(EstimateStatus.NotPrimed));
        continue;
      }
      let base: CollectionState = state;
      if (syncKey !== undefined) {
        const keyClass = classifySyncKey(state, syncKey);
        if (keyClass === 'invalid') {
          responses.push(answer(EstimateStatus.InvalidSyncKey));
          continue;
        }
        if (keyClass === 'confirm-pending') base = confirmPending(state);
      } else if (state.pending) {
        base = confirmPending(state);
      }
      const stored = (state.options?.sync ?? {}) as Partial<SyncOptions>;
      const filterText =
        collection.child('Options')?.textOf('AirSync:FilterType') ??
        collection.textOf('AirSync:FilterType') ??
        collection.textOf('FilterType');
      const filterType = filterText === undefined ? (stored.filterType ?? 0) : Number(filterText);
      responses.push(
        answer(EstimateStatus.Success, await estimate(user, folder, base.confirmed.cursor, filterType)),
      );
    }
    return { kind: 'wbxml', body: GIE.GetItemEstimate(responses) };
  };

  async function estimate(user: UserId, folder: Folder, cursor: Modseq, filterType: number): Promise<number> {
    const itemClass = folderClass(folder.type);
    if (!itemClass) return 0;
    const cutoff = filterCutoff(filterType, Date.now());
    if (cursor === 0) {
      return services.mailbox.countItems(user, folder.id, {
        ...(cutoff && (itemClass === 'Email' || itemClass === 'Calendar') ? { since: cutoff } : {}),
        ...(filterType === 8 && itemClass === 'Tasks' ? { incompleteOnly: true } : {}),
      });
    }
    let count = 0;
    let since = cursor;
    while (count < MAX_COUNTED_CHANGES) {
      const page = await services.mailbox.changes(user, folder.id, since, 500);
      count += page.changes.length;
      since = page.nextModseq;
      if (!page.more) break;
    }
    return Math.min(count, MAX_COUNTED_CHANGES);
  }
}

/** MoveItems statuses (MS-ASCMD 2.2.3.177.9). */
export const MoveStatus = {
  InvalidSource: 1,
  InvalidDestination: 2,
  Success: 3,
  SameFolder: 4,
  Failed: 5,
} as const;

/**
 * MoveItems (MS-ASCMD 2.2.1.12): many moves in one request, each with its own status and the item's new id.
 * The moving device is not told about its own move by its next Sync of either folder.
 */
export function moveItemsCommand(services: EasServices): EasCommandHandler {
  return async ({ identity, head, body }) => {
    const user = identity.userId;
    const moves = body?.name === 'MoveItems' ? body.all('Move') : [];
    const responses: WbxmlElement[] = [];
    const echoes = new Map<string, [ItemId, Modseq][]>();
    for (const move of moves) {
      const source = move.textOf('SrcMsgId') ?? '';
      const sourceFolder = move.textOf('SrcFldId') ?? '';
      const destination = move.textOf('DstFldId') ?? '';
      const answer = (status: number, newId?: string) =>
        MV.Response(MV.SrcMsgId(source), MV.Status(status), newId === undefined ? null : MV.DstMsgId(newId));
      if (sourceFolder === destination) {
        responses.push(answer(MoveStatus.SameFolder));
        continue;
      }
      try {
        const item = await services.mailbox.getItem(user, source);
        if (item.folderId !== sourceFolder) {
          responses.push(answer(MoveStatus.InvalidSource));
          continue;
        }
      } catch (error) {
        if (error instanceof NotFoundError) {
          responses.push(answer(MoveStatus.InvalidSource));
          continue;
        }
        throw error;
      }
      try {
        await services.mailbox.getFolder(user, destination);
      } catch (error) {
        if (error instanceof NotFoundError) {
          responses.push(answer(MoveStatus.InvalidDestination));
          continue;
        }
        throw error;
      }
      try {
        const moved = await services.mailbox.moveItem(user, source, destination);
        for (const [folderId, itemId] of [
          [sourceFolder, source],
          [destination, moved.id],
        ] as const) {
          const list = echoes.get(folderId) ?? [];
          list.push([itemId, moved.modseq]);
          echoes.set(folderId, list);
        }
        responses.push(answer(MoveStatus.Success, moved.id));
      } catch (error) {
        if ((error as { code?: unknown }).code === 'INVALID_ARGUMENT') {
          responses.push(answer(MoveStatus.InvalidDestination));
          continue;
        }
        throw error;
      }
    }
    for (const [folderId, entries] of echoes) {
      await rememberOwnChanges(services, user, head.deviceId, folderId, entries);
    }
    if (responses.length === 0) {
      return { kind: 'wbxml', body: MV.MoveItems(MV.Response(MV.Status(MoveStatus.Failed))) };
    }
    return { kind: 'wbxml', body: MV.MoveItems(responses) };
  };
}

/**
 * Records changes a device made outside Sync (MoveItems) in its collection state, so the next Sync of that
 * collection does not send them back. The key does not change; a lost race only costs a redundant message.
 */
export async function rememberOwnChanges(
  services: EasServices,
  user: UserId,
  deviceId: string,
  folderId: string,
  entries: [ItemId, Modseq][],
): Promise<void> {
  const key = { user, deviceId, collectionId: folderId };
  for (let attempt = 0; attempt < 3; attempt++) {
    const state = await services.syncState.get(key);
    if (!state) return;
    const meta = { ...(state.confirmed.meta ?? {}) } as JsonObject;
    const own = [...((meta.own as [string, number][] | undefined) ?? []), ...entries];
    meta.own = own.slice(-1000);
    const next: CollectionState = { ...state, confirmed: { ...state.confirmed, meta } };
    if (await services.syncState.compareAndSet(key, latestSyncKey(state), next)) return;
  }
}

/** The own-change marks of a state: `itemId@modseq`. */
export function ownChangesOf(state: CollectionState): Set<string> {
  const own = (state.confirmed.meta?.own as [string, number][] | undefined) ?? [];
  return new Set(own.map(([itemId, modseq]) => `${itemId}@${modseq}`));
}
