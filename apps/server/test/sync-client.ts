import { decode, eas, type WbxmlElement } from '@easkit/wbxml';
import type { TestDevice } from './device.js';

const { AirSync: AS, AirSyncBase: AB, FolderHierarchy: FH } = eas;

/** A FolderSync from key 0: the device's folders as ServerId by folder Type (the first of each type). */
export async function folderIdsByType(device: TestDevice): Promise<Map<number, string>> {
  const reply = await device.send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
  if (reply.body?.intOf('Status') !== 1) throw new Error(`FolderSync failed: HTTP ${reply.status}`);
  const byType = new Map<number, string>();
  for (const folder of reply.body.require('Changes').all('Add')) {
    const type = folder.intOf('Type') as number;
    if (!byType.has(type)) byType.set(type, folder.textOf('ServerId') as string);
  }
  return byType;
}

/** What one Sync response said about one collection. */
export interface SyncPage {
  status: number;
  /** The key for the next request (the request's key again when the server answered an empty response). */
  syncKey: string;
  moreAvailable: boolean;
  adds: { serverId: string; data: WbxmlElement | undefined }[];
  changes: { serverId: string; data: WbxmlElement | undefined }[];
  deletes: string[];
  /** Responses to the client's commands: Add (ClientId, ServerId, Status), Change and Delete (on failure). */
  responses: { kind: string; clientId?: string; serverId?: string; status: number }[];
}

export interface SyncRequestOptions {
  windowSize?: number;
  /** Client commands (AS.Add / AS.Change / AS.Delete elements). */
  commands?: WbxmlElement[];
  /** Plain-text bodies cut at this many bytes (AirSyncBase BodyPreference Type 1); none when undefined. */
  truncation?: number;
}

/** A Sync request for one collection. */
export function syncRequest(syncKey: string, collectionId: string, options: SyncRequestOptions = {}) {
  return AS.Sync(
    AS.Collections(
      AS.Collection(
        AS.SyncKey(syncKey),
        AS.CollectionId(collectionId),
        syncKey === '0' ? null : AS.GetChanges(),
        options.windowSize !== undefined ? AS.WindowSize(options.windowSize) : null,
        options.truncation !== undefined && syncKey !== '0'
          ? AS.Options(AB.BodyPreference(AB.Type(1), AB.TruncationSize(options.truncation)))
          : null,
        options.commands?.length ? AS.Commands(options.commands) : null,
      ),
    ),
  );
}

/** Reads the collection of a Sync response; an empty body (nothing new, 12.1+) keeps `requestKey`. */
export function readSyncPage(body: WbxmlElement | undefined, requestKey: string): SyncPage {
  const page: SyncPage = {
    status: 1,
    syncKey: requestKey,
    moreAvailable: false,
    adds: [],
    changes: [],
    deletes: [],
    responses: [],
  };
  if (!body) return page;
  const collection = body.child('Collections')?.child('Collection');
  if (!collection) {
    page.status = body.intOf('Status') ?? -1;
    return page;
  }
  page.status = collection.intOf('Status') ?? -1;
  page.syncKey = collection.textOf('SyncKey') ?? requestKey;
  page.moreAvailable = collection.has('MoreAvailable');
  for (const command of collection.child('Commands')?.children ?? []) {
    const serverId = command.textOf('ServerId') as string;
    if (command.name === 'Add') page.adds.push({ serverId, data: command.child('ApplicationData') });
    else if (command.name === 'Change')
      page.changes.push({ serverId, data: command.child('ApplicationData') });
    else if (command.name === 'Delete' || command.name === 'SoftDelete') page.deletes.push(serverId);
  }
  for (const response of collection.child('Responses')?.children ?? []) {
    const clientId = response.textOf('ClientId');
    const serverId = response.textOf('ServerId');
    page.responses.push({
      kind: response.name,
      status: response.intOf('Status') ?? -1,
      ...(clientId !== undefined ? { clientId } : {}),
      ...(serverId !== undefined ? { serverId } : {}),
    });
  }
  return page;
}

/** One Sync round trip; throws on anything but HTTP 200. `signal` bounds how long the device waits. */
export async function syncOnce(
  device: TestDevice,
  syncKey: string,
  collectionId: string,
  options: SyncRequestOptions & { signal?: AbortSignal } = {},
): Promise<SyncPage> {
  const response = await device.open('Sync', syncRequest(syncKey, collectionId, options), options.signal);
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) throw new Error(`Sync answered HTTP ${response.status}`);
  return readSyncPage(bytes.length > 0 ? decode(bytes) : undefined, syncKey);
}
