import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast } from '../protocol.js';
import { intOf } from './items.js';

const { GetItemEstimate: GE, AirSync: AS, Move: MV } = eas;

export interface EstimateRequest {
  collectionId: string;
  syncKey: string;
  class?: string;
  filterType?: number;
}

export interface EstimateResult {
  collectionId: string;
  /** 1 success, 2 unknown collection, 3 not primed, 4 invalid key (MS-ASCMD 2.2.3.177.7). */
  status: number;
  estimate?: number;
}

/** GetItemEstimate: the 14.0+ form, or the 2.5-12.1 form with Class and FilterType beside the key. */
export function estimateRequest(version: string, collections: EstimateRequest[]): WbxmlElement {
  const modern = atLeast(version, '14.0');
  return GE.GetItemEstimate(
    GE.Collections(
      collections.map((collection) =>
        modern
          ? GE.Collection(
              AS.SyncKey(collection.syncKey),
              GE.CollectionId(collection.collectionId),
              collection.filterType !== undefined && AS.Options(AS.FilterType(collection.filterType)),
            )
          : GE.Collection(
              collection.class !== undefined && GE.Class(collection.class),
              AS.SyncKey(collection.syncKey),
              GE.CollectionId(collection.collectionId),
              AS.FilterType(collection.filterType ?? 0),
            ),
      ),
    ),
  );
}

export function readEstimate(body: WbxmlElement | undefined): EstimateResult[] {
  return (body?.all('GetItemEstimate:Response') ?? []).map((response) => {
    const collection = response.child('GetItemEstimate:Collection');
    const estimate = intOf(collection, 'GetItemEstimate:Estimate');
    return {
      collectionId: collection?.textOf('GetItemEstimate:CollectionId') ?? '',
      status: intOf(response, 'GetItemEstimate:Status') ?? 0,
      ...(estimate !== undefined ? { estimate } : {}),
    };
  });
}

export interface MoveRequest {
  serverId: string;
  fromCollectionId: string;
  toCollectionId: string;
}

export interface MoveResult {
  serverId: string;
  /** 3 is success here; 1 bad source, 2 bad destination, 4 same folder, 5, 7 (MS-ASCMD 2.2.3.177.10). */
  status: number;
  /** The item's id in the destination. */
  newServerId?: string;
}

export function moveItemsRequest(moves: MoveRequest[]): WbxmlElement {
  return MV.MoveItems(
    moves.map((move) =>
      MV.Move(
        MV.SrcMsgId(move.serverId),
        MV.SrcFldId(move.fromCollectionId),
        MV.DstFldId(move.toCollectionId),
      ),
    ),
  );
}

export function readMoveItems(body: WbxmlElement | undefined): MoveResult[] {
  return (body?.all('Move:Response') ?? []).map((response) => {
    const newServerId = response.textOf('Move:DstMsgId');
    return {
      serverId: response.textOf('Move:SrcMsgId') ?? '',
      status: intOf(response, 'Move:Status') ?? 0,
      ...(newServerId !== undefined ? { newServerId } : {}),
    };
  });
}
