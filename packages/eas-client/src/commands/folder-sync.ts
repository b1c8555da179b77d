import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { KnownFolder } from '../state.js';
import { intOf } from './items.js';

const { FolderHierarchy: FH } = eas;

export interface FolderSyncResult {
  /** 1 success; 9 the key is unknown (start again from 0); see MS-ASCMD 2.2.3.177.5. */
  status: number;
  syncKey?: string;
  added: KnownFolder[];
  updated: KnownFolder[];
  deleted: string[];
  raw?: WbxmlElement;
}

export function folderSyncRequest(syncKey: string): WbxmlElement {
  return FH.FolderSync(FH.SyncKey(syncKey));
}

export function readFolderSync(body: WbxmlElement | undefined): FolderSyncResult {
  if (!body) return { status: 0, added: [], updated: [], deleted: [] };
  const changes = body.child('FolderHierarchy:Changes');
  const folder = (element: WbxmlElement): KnownFolder => ({
    serverId: element.textOf('ServerId') ?? '',
    parentId: element.textOf('ParentId') ?? '0',
    displayName: element.textOf('DisplayName') ?? '',
    type: intOf(element, 'Type') ?? 18,
  });
  const syncKey = body.textOf('FolderHierarchy:SyncKey');
  return {
    status: intOf(body, 'Status') ?? 0,
    ...(syncKey !== undefined ? { syncKey } : {}),
    added: (changes?.all('FolderHierarchy:Add') ?? []).map(folder),
    updated: (changes?.all('FolderHierarchy:Update') ?? []).map(folder),
    deleted: (changes?.all('FolderHierarchy:Delete') ?? []).map(
      (element) => element.textOf('ServerId') ?? '',
    ),
    raw: body,
  };
}

/** Applies a FolderSync answer to the kept hierarchy. */
export function applyFolderChanges(folders: KnownFolder[], result: FolderSyncResult): KnownFolder[] {
  const byId = new Map(folders.map((folder) => [folder.serverId, folder]));
  for (const id of result.deleted) byId.delete(id);
  for (const folder of [...result.added, ...result.updated]) byId.set(folder.serverId, folder);
  return [...byId.values()];
}
