import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast } from '../protocol.js';
import { type ItemData, intOf, readItemData } from './items.js';

const { AirSync: AS, AirSyncBase: ASB } = eas;

/** One AirSyncBase:BodyPreference (MS-ASAIRS 2.2.2.7): the body type wanted and how much of it. */
export interface BodyPreference {
  /** 1 plain text, 2 HTML, 3 RTF, 4 MIME. */
  type: 1 | 2 | 3 | 4;
  truncationSize?: number;
  allOrNone?: boolean;
  /** 14.0+: characters of preview text. */
  preview?: number;
}

/** How a collection is synced; kept by the caller or the client's defaults. */
export interface SyncOptions {
  /** Items per answer (1-512). Default 100 in the client. */
  windowSize?: number;
  /** 0 all, 1 one day, 2 three days, 3 a week, 4 two weeks, 5 a month, 6 three months, 7 six months, 8 incomplete tasks. */
  filterType?: number;
  /** 12.0+. Ignored for 2.5. */
  bodyPreferences?: BodyPreference[];
  /** 0 never MIME, 1 S/MIME only, 2 always MIME. */
  mimeSupport?: 0 | 1 | 2;
  /** 0 client wins, 1 server wins. */
  conflict?: 0 | 1;
  deletesAsMoves?: boolean;
  /** 14.0+ Email only. */
  conversationMode?: boolean;
}

/** A change the client makes in a Sync request (MS-ASCMD 2.2.3.24 Commands). */
export type ClientChange =
  | { kind: 'add'; clientId: string; data: WbxmlElement[] }
  | { kind: 'change'; serverId: string; data: WbxmlElement[] }
  | { kind: 'delete'; serverId: string }
  /** 2.5-12.1: fetch one item whole (later versions use ItemOperations). */
  | { kind: 'fetch'; serverId: string };

export interface SyncCollectionRequest extends SyncOptions {
  collectionId: string;
  syncKey: string;
  /** The class; sent only to 2.5-12.1 servers, where it is required (2.5) or allowed. */
  class?: string;
  /** Default: true unless the key is 0. */
  getChanges?: boolean;
  commands?: ClientChange[];
}

export interface SyncRequestOptions {
  /** 12.1-14.x hanging Sync, in minutes. */
  wait?: number;
  /** 14.0+ hanging Sync, in seconds. */
  heartbeatInterval?: number;
}

export interface SyncItem {
  serverId: string;
  class?: string;
  data: ItemData;
}

export interface SyncCollectionResult {
  collectionId: string;
  /** The new key; absent when the status is not 1. */
  syncKey?: string;
  /** 1 success, 3 invalid key (start from 0), 12 hierarchy changed, ... (MS-ASCMD 2.2.3.177.17). */
  status: number;
  class?: string;
  moreAvailable: boolean;
  added: SyncItem[];
  changed: SyncItem[];
  deleted: string[];
  softDeleted: string[];
  responses: {
    added: { clientId: string; serverId?: string; status: number }[];
    changed: { serverId: string; status: number }[];
    deleted: { serverId: string; status: number }[];
    fetched: { serverId: string; status: number; data?: ItemData }[];
  };
  raw: WbxmlElement;
}

export interface SyncResult {
  /** The top-level status: 1 when the answer had none. 0 for an empty answer (nothing changed). */
  status: number;
  /** With Status 14 or 15: the nearest allowed value. */
  limit?: number;
  collections: SyncCollectionResult[];
  raw?: WbxmlElement;
}

function collectionElement(version: string, request: SyncCollectionRequest): WbxmlElement {
  const legacy = !atLeast(version, '14.0');
  const getChanges = request.getChanges ?? request.syncKey !== '0';
  const options: WbxmlElement[] = [];
  if (request.filterType !== undefined) options.push(AS.FilterType(request.filterType));
  if (atLeast(version, '12.0')) {
    for (const preference of request.bodyPreferences ?? []) {
      options.push(
        ASB.BodyPreference(
          ASB.Type(preference.type),
          preference.truncationSize !== undefined && ASB.TruncationSize(preference.truncationSize),
          preference.allOrNone !== undefined && ASB.AllOrNone(preference.allOrNone ? 1 : 0),
          preference.preview !== undefined && atLeast(version, '14.0') && ASB.Preview(preference.preview),
        ),
      );
    }
  }
  if (request.conflict !== undefined) options.push(AS.Conflict(request.conflict));
  if (request.mimeSupport !== undefined) options.push(AS.MIMESupport(request.mimeSupport));
  const commands = request.commands ?? [];
  return AS.Collection(
    // 2.5 names the class first (MS-ASCMD 2.2.3.27.5); 12.x allows it; 14.0+ does not send it here.
    legacy && request.class !== undefined && AS.Class(request.class),
    AS.SyncKey(request.syncKey),
    AS.CollectionId(request.collectionId),
    request.deletesAsMoves !== undefined && AS.DeletesAsMoves(request.deletesAsMoves ? 1 : 0),
    request.syncKey !== '0' && (getChanges ? AS.GetChanges() : AS.GetChanges(0)),
    request.windowSize !== undefined && AS.WindowSize(request.windowSize),
    request.conversationMode !== undefined &&
      atLeast(version, '14.0') &&
      AS.ConversationMode(request.conversationMode ? 1 : 0),
    options.length > 0 && request.syncKey !== '0' && AS.Options(...options),
    commands.length > 0 &&
      AS.Commands(
        commands.map((change) => {
          switch (change.kind) {
            case 'add':
              return AS.Add(AS.ClientId(change.clientId), AS.ApplicationData(change.data));
            case 'change':
              return AS.Change(AS.ServerId(change.serverId), AS.ApplicationData(change.data));
            case 'delete':
              return AS.Delete(AS.ServerId(change.serverId));
            default:
              return AS.Fetch(AS.ServerId(change.serverId));
          }
        }),
      ),
  );
}

/** A Sync request for one or more collections (MS-ASCMD 2.2.1.21). */
export function syncRequest(
  version: string,
  collections: SyncCollectionRequest[],
  options: SyncRequestOptions = {},
): WbxmlElement {
  return AS.Sync(
    AS.Collections(collections.map((collection) => collectionElement(version, collection))),
    options.wait !== undefined && AS.Wait(options.wait),
    options.heartbeatInterval !== undefined && AS.HeartbeatInterval(options.heartbeatInterval),
  );
}

export function readSync(body: WbxmlElement | undefined): SyncResult {
  if (!body) return { status: 0, collections: [] };
  const limit = intOf(body, 'AirSync:Limit');
  return {
    status: intOf(body, 'AirSync:Status') ?? 1,
    ...(limit !== undefined ? { limit } : {}),
    collections: (body.child('AirSync:Collections')?.all('AirSync:Collection') ?? []).map(readCollection),
    raw: body,
  };
}

function readCollection(element: WbxmlElement): SyncCollectionResult {
  const item = (change: WbxmlElement): SyncItem => {
    const data = change.child('AirSync:ApplicationData');
    const itemClass = change.textOf('AirSync:Class');
    return {
      serverId: change.textOf('AirSync:ServerId') ?? '',
      ...(itemClass !== undefined ? { class: itemClass } : {}),
      data: data ? readItemData(data) : { fields: {}, attachments: [], raw: change },
    };
  };
  const commands = element.child('AirSync:Commands');
  const responses = element.child('AirSync:Responses');
  const status = (change: WbxmlElement) => intOf(change, 'AirSync:Status') ?? 1;
  const syncKey = element.textOf('AirSync:SyncKey');
  const collectionClass = element.textOf('AirSync:Class');
  return {
    collectionId: element.textOf('AirSync:CollectionId') ?? '',
    ...(syncKey !== undefined ? { syncKey } : {}),
    status: intOf(element, 'AirSync:Status') ?? 1,
    ...(collectionClass !== undefined ? { class: collectionClass } : {}),
    moreAvailable: element.has('AirSync:MoreAvailable'),
    added: (commands?.all('AirSync:Add') ?? []).map(item),
    changed: (commands?.all('AirSync:Change') ?? []).map(item),
    deleted: (commands?.all('AirSync:Delete') ?? []).map((change) => change.textOf('AirSync:ServerId') ?? ''),
    softDeleted: (commands?.all('AirSync:SoftDelete') ?? []).map(
      (change) => change.textOf('AirSync:ServerId') ?? '',
    ),
    responses: {
      added: (responses?.all('AirSync:Add') ?? []).map((change) => {
        const serverId = change.textOf('AirSync:ServerId');
        return {
          clientId: change.textOf('AirSync:ClientId') ?? '',
          ...(serverId !== undefined ? { serverId } : {}),
          status: status(change),
        };
      }),
      changed: (responses?.all('AirSync:Change') ?? []).map((change) => ({
        serverId: change.textOf('AirSync:ServerId') ?? '',
        status: status(change),
      })),
      deleted: (responses?.all('AirSync:Delete') ?? []).map((change) => ({
        serverId: change.textOf('AirSync:ServerId') ?? '',
        status: status(change),
      })),
      fetched: (responses?.all('AirSync:Fetch') ?? []).map((change) => {
        const data = change.child('AirSync:ApplicationData');
        return {
          serverId: change.textOf('AirSync:ServerId') ?? '',
          status: status(change),
          ...(data ? { data: readItemData(data) } : {}),
        };
      }),
    },
    raw: element,
  };
}
