import { eas, type WbxmlElement } from '@easkit/wbxml';
import { type ItemData, intOf, readItemData } from './items.js';
import type { BodyPreference } from './sync.js';

const { ItemOperations: IO, AirSync: AS, AirSyncBase: ASB, Search: SR } = eas;

/** One ItemOperations Fetch (MS-ASCMD 2.2.3.67.1): an item, an attachment, or a Search result. */
export type FetchTarget =
  | { collectionId: string; serverId: string }
  | { fileReference: string }
  | { longId: string };

export interface FetchOptions {
  bodyPreferences?: BodyPreference[];
  mimeSupport?: 0 | 1 | 2;
  /** Byte range `m-n` of an attachment. */
  range?: string;
}

export interface FetchResult {
  /** 1 success, 6 not found, 15 bad attachment reference, ... (MS-ASCMD 2.2.3.177.8). */
  status: number;
  collectionId?: string;
  serverId?: string;
  fileReference?: string;
  longId?: string;
  class?: string;
  /** The item's properties (item fetches). */
  data?: ItemData;
  /** Attachment fetches. */
  contentType?: string;
  bytes?: Uint8Array;
  range?: string;
  total?: number;
}

export interface ItemOperationsResult {
  status: number;
  fetches: FetchResult[];
  raw?: WbxmlElement;
}

export function fetchRequest(targets: (FetchTarget & FetchOptions)[]): WbxmlElement {
  return IO.ItemOperations(
    targets.map((target) =>
      IO.Fetch(
        IO.Store('Mailbox'),
        'serverId' in target && [AS.CollectionId(target.collectionId), AS.ServerId(target.serverId)],
        'fileReference' in target && ASB.FileReference(target.fileReference),
        'longId' in target && SR.LongId(target.longId),
        (target.bodyPreferences?.length || target.mimeSupport !== undefined || target.range !== undefined) &&
          IO.Options(
            target.range !== undefined && IO.Range(target.range),
            target.mimeSupport !== undefined && AS.MIMESupport(target.mimeSupport),
            (target.bodyPreferences ?? []).map((preference) =>
              ASB.BodyPreference(
                ASB.Type(preference.type),
                preference.truncationSize !== undefined && ASB.TruncationSize(preference.truncationSize),
              ),
            ),
          ),
      ),
    ),
  );
}

/** Reads the answer; `parts` are the multipart answer's parts after the WBXML one, which `Part` indexes name. */
export function readItemOperations(
  body: WbxmlElement | undefined,
  parts: Uint8Array[] = [],
): ItemOperationsResult {
  if (!body) return { status: 0, fetches: [] };
  const fetches = (body.child('ItemOperations:Response')?.all('ItemOperations:Fetch') ?? []).map((fetch) => {
    const result: FetchResult = { status: intOf(fetch, 'ItemOperations:Status') ?? 0 };
    const set = (key: 'collectionId' | 'serverId' | 'fileReference' | 'longId' | 'class', name: string) => {
      const value = fetch.textOf(name);
      if (value !== undefined) result[key] = value;
    };
    set('collectionId', 'AirSync:CollectionId');
    set('serverId', 'AirSync:ServerId');
    set('fileReference', 'AirSyncBase:FileReference');
    set('longId', 'Search:LongId');
    set('class', 'AirSync:Class');
    const properties = fetch.child('ItemOperations:Properties');
    if (properties) {
      const contentType = properties.textOf('AirSyncBase:ContentType');
      const data = properties.child('ItemOperations:Data');
      const part = intOf(properties, 'ItemOperations:Part');
      if (contentType !== undefined || data || part !== undefined) {
        if (contentType !== undefined) result.contentType = contentType;
        if (data) result.bytes = data.bytes ?? new Uint8Array(Buffer.from(data.text ?? '', 'base64'));
        // Part n is the n-th part of the whole answer, part 0 being this WBXML document.
        if (part !== undefined && parts[part - 1]) result.bytes = parts[part - 1];
        const range = properties.textOf('ItemOperations:Range');
        if (range !== undefined) result.range = range;
        const total = intOf(properties, 'ItemOperations:Total');
        if (total !== undefined) result.total = total;
      } else {
        result.data = readItemData(properties);
      }
    }
    return result;
  });
  return { status: intOf(body, 'ItemOperations:Status') ?? 0, fetches, raw: body };
}
