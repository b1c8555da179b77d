import {
  ConflictError,
  type Folder,
  type FolderId,
  type FolderType,
  InvalidArgumentError,
  isFolderType,
  NotFoundError,
  ROOT_FOLDER_ID,
  type UserId,
} from '@easkit/mailbox';
import {
  type CollectionState,
  classifySyncKey,
  confirmPending,
  hierarchyKey,
  issuePending,
  type JsonObject,
  latestSyncKey,
  type SentChange,
  startOver,
} from '@easkit/sync-state';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import type { EasCommandContext, EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { type EasServices, folderVisible, MalformedRequestError } from './services.js';

const { FolderHierarchy: FH } = eas;

/** FolderHierarchy statuses (MS-ASCMD 2.2.3.177.2-6). */
export const FolderStatus = {
  Success: 1,
  /** FolderCreate/FolderUpdate: a folder with that name exists under the parent (or the folder is special). */
  Exists: 2,
  /** The Recipient Information Cache folder, or (FolderDelete) a special folder. */
  SpecialFolder: 3,
  /** FolderUpdate/FolderDelete: the folder does not exist. */
  NotFound: 4,
  /** FolderCreate/FolderUpdate: the parent folder does not exist. */
  ParentNotFound: 5,
  ServerError: 6,
  InvalidSyncKey: 9,
  MalformedRequest: 10,
} as const;

/** A folder as the device is known to hold it: [parentId, displayName, type]. */
export type KnownFolder = [FolderId, string, number];
type KnownHierarchy = Record<FolderId, KnownFolder>;

/**
 * The folders a device holds by its newest hierarchy key (the pending response counts as received, MS-ASCMD
 * 3.1.5.8), by id. Other commands (Ping) read the hierarchy state through this, never its layout.
 */
export function deviceHierarchy(state: CollectionState): Readonly<Record<FolderId, KnownFolder>> {
  return (
    ((state.pending?.meta?.folders ?? state.confirmed.meta?.folders) as KnownHierarchy | undefined) ?? {}
  );
}

/** What a hierarchy response carried, kept so a repeated request is answered identically. */
interface HierarchySnapshot extends JsonObject {
  command: string;
  /** The request's identifying fields, so only the same request is replayed. */
  request: JsonObject;
  /** The response fields beside SyncKey: FolderSync changes, or the ServerId/Status of the others. */
  response: JsonObject;
}

function knownOf(state: CollectionState | null): KnownHierarchy {
  return ((state?.confirmed.meta?.folders as KnownHierarchy | undefined) ?? {}) as KnownHierarchy;
}

function knownEntry(folder: Folder): KnownFolder {
  return [folder.parentId, folder.displayName, folder.type];
}

function sameEntry(a: KnownFolder | undefined, b: KnownFolder): boolean {
  return a !== undefined && a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

function statusOnly(name: 'FolderSync' | 'FolderCreate' | 'FolderUpdate' | 'FolderDelete', status: number) {
  return { kind: 'wbxml', body: FH[name](FH.Status(status)) } satisfies EasCommandResult;
}

function requireText(body: WbxmlElement | undefined, root: string, name: string): string {
  if (!body || body.name !== root) throw new MalformedRequestError(`expected a ${root} request`);
  const value = body.textOf(name);
  if (value === undefined) throw new MalformedRequestError(`${root} without ${name}`);
  return value;
}

/**
 * Reads the hierarchy state for a request that carries a key. Returns the state to build on, or a status to
 * answer with; a repeat of the very request the pending state answered returns its snapshot for replay.
 */
async function hierarchyBase(
  services: EasServices,
  user: UserId,
  deviceId: string,
  syncKey: string,
  command: string,
  request: JsonObject,
): Promise<
  | { kind: 'base'; stored: CollectionState | null; base: CollectionState }
  | { kind: 'replay'; snapshot: HierarchySnapshot; syncKey: string }
  | { kind: 'invalid' }
> {
  const stored = await services.syncState.get(hierarchyKey(user, deviceId));
  const keyClass = classifySyncKey(stored, syncKey);
  if (keyClass === 'invalid' || keyClass === 'initial' || stored === null) return { kind: 'invalid' };
  if (keyClass === 'repeat') {
    const snapshot = stored.pending!.response as HierarchySnapshot | undefined;
    if (
      snapshot &&
      snapshot.command === command &&
      JSON.stringify(snapshot.request) === JSON.stringify(request)
    ) {
      return { kind: 'replay', snapshot, syncKey: stored.pending!.syncKey };
    }
    // The device never saw the pending response and now asks something else: build on what it holds.
    return { kind: 'base', stored, base: stored };
  }
  return { kind: 'base', stored, base: keyClass === 'confirm-pending' ? confirmPending(stored) : stored };
}

async function storeHierarchy(
  services: EasServices,
  user: UserId,
  deviceId: string,
  stored: CollectionState | null,
  next: CollectionState,
): Promise<boolean> {
  return services.syncState.compareAndSet(
    hierarchyKey(user, deviceId),
    stored === null ? null : latestSyncKey(stored),
    next,
  );
}

function folderChangeElements(changes: JsonObject): WbxmlElement {
  const adds = (changes.adds ?? []) as [string, ...KnownFolder][];
  const updates = (changes.updates ?? []) as [string, ...KnownFolder][];
  const deletes = (changes.deletes ?? []) as string[];
  const folderFields = ([id, parentId, name, type]: [string, ...KnownFolder]) => [
    FH.ServerId(id),
    FH.ParentId(parentId),
    FH.DisplayName(name),
    FH.Type(type),
  ];
  return FH.Changes(
    FH.Count(adds.length + updates.length + deletes.length),
    updates.map((entry) => FH.Update(folderFields(entry))),
    deletes.map((id) => FH.Delete(FH.ServerId(id))),
    adds.map((entry) => FH.Add(folderFields(entry))),
  );
}

/** FolderSync (MS-ASCMD 2.2.1.5): the folder hierarchy, all of it for key 0, then what changed. */
export function folderSyncCommand(services: EasServices): EasCommandHandler {
  return async ({ identity, head, body }: EasCommandContext) => {
    let syncKey: string;
    try {
      syncKey = requireText(body, 'FolderSync', 'SyncKey');
    } catch {
      return statusOnly('FolderSync', FolderStatus.MalformedRequest);
    }
    const user = identity.userId;
    const key = hierarchyKey(user, head.deviceId);
    const stored = await services.syncState.get(key);
    const keyClass = classifySyncKey(stored, syncKey);
    if (keyClass === 'invalid') return statusOnly('FolderSync', FolderStatus.InvalidSyncKey);
    if (keyClass === 'repeat') {
      const snapshot = stored!.pending!.response as HierarchySnapshot | undefined;
      if (snapshot?.command === 'FolderSync') {
        return respondFolderSync(stored!.pending!.syncKey, snapshot.response);
      }
    }

    const base: CollectionState | null =
      keyClass === 'initial'
        ? null
        : keyClass === 'confirm-pending'
          ? confirmPending(stored!)
          : keyClass === 'repeat'
            ? stored!
            : stored!;
    const known = base === null ? {} : knownOf(base);
    const since = base === null ? 0 : base.confirmed.cursor;
    const all = await services.mailbox.folderChanges(user, since);
    const changes = {
      ...all,
      added: all.added.filter((folder) => folderVisible(services, folder)),
      changed: all.changed.filter((folder) => folderVisible(services, folder)),
    };

    const next: KnownHierarchy = { ...known };
    const adds: [string, ...KnownFolder][] = [];
    const updates: [string, ...KnownFolder][] = [];
    const deletes: string[] = [];
    const sent: SentChange[] = [];
    // Parents come before children in `added`, so a device can always place what it receives.
    for (const folder of [...changes.added, ...changes.changed]) {
      const entry = knownEntry(folder);
      if (sameEntry(next[folder.id], entry)) continue;
      if (next[folder.id] === undefined) {
        adds.push([folder.id, ...entry]);
        sent.push({ id: folder.id, kind: 'add' });
      } else {
        updates.push([folder.id, ...entry]);
        sent.push({ id: folder.id, kind: 'change' });
      }
      next[folder.id] = entry;
    }
    for (const folderId of changes.deleted) {
      if (next[folderId] === undefined) continue;
      deletes.push(folderId);
      sent.push({ id: folderId, kind: 'delete' });
      delete next[folderId];
    }

    if (base !== null && sent.length === 0) {
      // Nothing new: the device keeps its key. A confirmed pending state is stored so the cursor moves on.
      if (
        keyClass === 'confirm-pending' ||
        keyClass === 'repeat' ||
        base.confirmed.cursor !== changes.modseq
      ) {
        const confirmed: CollectionState = {
          ...base,
          confirmed: { ...base.confirmed, cursor: changes.modseq },
        };
        if (!(await storeHierarchy(services, user, head.deviceId, stored, confirmed))) {
          return statusOnly('FolderSync', FolderStatus.InvalidSyncKey);
        }
      }
      return respondFolderSync(base.confirmed.syncKey, {});
    }

    const response: JsonObject = { adds, updates, deletes };
    const snapshot: HierarchySnapshot = { command: 'FolderSync', request: {}, response };
    const input = { sent, cursor: changes.modseq, meta: { folders: next }, response: snapshot };
    const nextState = base === null ? startOver(stored, input) : issuePending(base, input);
    if (!(await storeHierarchy(services, user, head.deviceId, stored, nextState))) {
      return statusOnly('FolderSync', FolderStatus.InvalidSyncKey);
    }
    return respondFolderSync(nextState.pending!.syncKey, response);
  };
}

function respondFolderSync(syncKey: string, changes: JsonObject): EasCommandResult {
  return {
    kind: 'wbxml',
    body: FH.FolderSync(FH.Status(FolderStatus.Success), FH.SyncKey(syncKey), folderChangeElements(changes)),
  };
}

/** The outcome of a folder operation, answered with a new hierarchy key. */
async function answerWithNewKey(
  services: EasServices,
  context: EasCommandContext,
  stored: CollectionState | null,
  base: CollectionState,
  snapshot: HierarchySnapshot,
  sent: SentChange[],
  knownUpdate: (known: KnownHierarchy) => void,
): Promise<string | undefined> {
  const known = { ...knownOf(base) };
  knownUpdate(known);
  const next = issuePending(base, {
    sent,
    // The cursor stays: the next FolderSync sees this change in the mailbox, finds the device already knows
    // it, and sends nothing; changes other devices made meanwhile are still ahead of the cursor.
    cursor: base.confirmed.cursor,
    meta: { folders: known },
    response: snapshot,
  });
  const stored2 = await storeHierarchy(
    services,
    context.identity.userId,
    context.head.deviceId,
    stored,
    next,
  );
  return stored2 ? next.pending!.syncKey : undefined;
}

function parseFolderType(text: string | undefined): FolderType | undefined {
  if (text === undefined || !/^\d{1,2}$/.test(text)) return undefined;
  const value = Number(text);
  return isFolderType(value) ? value : undefined;
}

/** FolderCreate (MS-ASCMD 2.2.1.3). */
export function folderCreateCommand(services: EasServices): EasCommandHandler {
  return async (context) => {
    const { body, identity, head } = context;
    let syncKey: string;
    let parentId: string;
    let displayName: string;
    let type: FolderType | undefined;
    try {
      syncKey = requireText(body, 'FolderCreate', 'SyncKey');
      parentId = requireText(body, 'FolderCreate', 'ParentId');
      displayName = requireText(body, 'FolderCreate', 'DisplayName');
      type = parseFolderType(body!.textOf('Type'));
    } catch {
      return statusOnly('FolderCreate', FolderStatus.MalformedRequest);
    }
    if (type === undefined || displayName.trim() === '') {
      return statusOnly('FolderCreate', FolderStatus.MalformedRequest);
    }
    const request = { parentId, displayName, type };
    const found = await hierarchyBase(
      services,
      identity.userId,
      head.deviceId,
      syncKey,
      'FolderCreate',
      request,
    );
    if (found.kind === 'invalid') return statusOnly('FolderCreate', FolderStatus.InvalidSyncKey);
    if (found.kind === 'replay') return folderCreateAnswer(found.syncKey, found.snapshot.response);

    let folder: Folder;
    try {
      if (parentId !== ROOT_FOLDER_ID) {
        const parent = await services.mailbox.getFolder(identity.userId, parentId);
        if (parent.type === 19) return statusOnly('FolderCreate', FolderStatus.SpecialFolder);
      }
      folder = await services.mailbox.createFolder(identity.userId, { parentId, displayName, type });
    } catch (error) {
      if (error instanceof NotFoundError) return statusOnly('FolderCreate', FolderStatus.ParentNotFound);
      if (error instanceof ConflictError) return statusOnly('FolderCreate', FolderStatus.Exists);
      if (error instanceof InvalidArgumentError)
        return statusOnly('FolderCreate', FolderStatus.MalformedRequest);
      throw error;
    }
    const response = { serverId: folder.id };
    const newKey = await answerWithNewKey(
      services,
      context,
      found.stored,
      found.base,
      { command: 'FolderCreate', request, response },
      [{ id: folder.id, kind: 'add' }],
      (known) => {
        known[folder.id] = knownEntry(folder);
      },
    );
    if (newKey === undefined) return statusOnly('FolderCreate', FolderStatus.InvalidSyncKey);
    return folderCreateAnswer(newKey, response);
  };
}

function folderCreateAnswer(syncKey: string, response: JsonObject): EasCommandResult {
  return {
    kind: 'wbxml',
    body: FH.FolderCreate(
      FH.Status(FolderStatus.Success),
      FH.SyncKey(syncKey),
      FH.ServerId(String(response.serverId)),
    ),
  };
}

/** FolderUpdate (MS-ASCMD 2.2.1.6): rename and/or move a folder. */
export function folderUpdateCommand(services: EasServices): EasCommandHandler {
  return async (context) => {
    const { body, identity, head } = context;
    let syncKey: string;
    let serverId: string;
    let parentId: string;
    let displayName: string;
    try {
      syncKey = requireText(body, 'FolderUpdate', 'SyncKey');
      serverId = requireText(body, 'FolderUpdate', 'ServerId');
      parentId = requireText(body, 'FolderUpdate', 'ParentId');
      displayName = requireText(body, 'FolderUpdate', 'DisplayName');
    } catch {
      return statusOnly('FolderUpdate', FolderStatus.MalformedRequest);
    }
    if (displayName.trim() === '') return statusOnly('FolderUpdate', FolderStatus.MalformedRequest);
    const request = { serverId, parentId, displayName };
    const found = await hierarchyBase(
      services,
      identity.userId,
      head.deviceId,
      syncKey,
      'FolderUpdate',
      request,
    );
    if (found.kind === 'invalid') return statusOnly('FolderUpdate', FolderStatus.InvalidSyncKey);
    if (found.kind === 'replay') return keyAnswer('FolderUpdate', found.syncKey);

    let folder: Folder;
    try {
      const current = await services.mailbox.getFolder(identity.userId, serverId);
      if (current.type === 19) return statusOnly('FolderUpdate', FolderStatus.SpecialFolder);
      if (parentId !== ROOT_FOLDER_ID) {
        try {
          await services.mailbox.getFolder(identity.userId, parentId);
        } catch (error) {
          if (error instanceof NotFoundError) return statusOnly('FolderUpdate', FolderStatus.ParentNotFound);
          throw error;
        }
      }
      folder = await services.mailbox.updateFolder(identity.userId, serverId, { parentId, displayName });
    } catch (error) {
      if (error instanceof NotFoundError) return statusOnly('FolderUpdate', FolderStatus.NotFound);
      if (error instanceof ConflictError) return statusOnly('FolderUpdate', FolderStatus.Exists);
      if (error instanceof InvalidArgumentError) {
        // Special folders cannot be renamed or moved; the spec folds that into status 2.
        if (error.reason === 'special-folder') return statusOnly('FolderUpdate', FolderStatus.Exists);
        return statusOnly('FolderUpdate', FolderStatus.MalformedRequest);
      }
      throw error;
    }
    const newKey = await answerWithNewKey(
      services,
      context,
      found.stored,
      found.base,
      { command: 'FolderUpdate', request, response: {} },
      [{ id: folder.id, kind: 'change' }],
      (known) => {
        known[folder.id] = knownEntry(folder);
      },
    );
    if (newKey === undefined) return statusOnly('FolderUpdate', FolderStatus.InvalidSyncKey);
    return keyAnswer('FolderUpdate', newKey);
  };
}

/** FolderDelete (MS-ASCMD 2.2.1.4): deletes a folder with its subfolders and items. */
export function folderDeleteCommand(services: EasServices): EasCommandHandler {
  return async (context) => {
    const { body, identity, head } = context;
    let syncKey: string;
    let serverId: string;
    try {
      syncKey = requireText(body, 'FolderDelete', 'SyncKey');
      serverId = requireText(body, 'FolderDelete', 'ServerId');
    } catch {
      return statusOnly('FolderDelete', FolderStatus.MalformedRequest);
    }
    const request = { serverId };
    const found = await hierarchyBase(
      services,
      identity.userId,
      head.deviceId,
      syncKey,
      'FolderDelete',
      request,
    );
    if (found.kind === 'invalid') return statusOnly('FolderDelete', FolderStatus.InvalidSyncKey);
    if (found.kind === 'replay') return keyAnswer('FolderDelete', found.syncKey);

    let removed: FolderId[];
    try {
      const all = await services.mailbox.listFolders(identity.userId);
      removed = subtreeOf(all, serverId);
      await services.mailbox.deleteFolder(identity.userId, serverId);
    } catch (error) {
      if (error instanceof NotFoundError) return statusOnly('FolderDelete', FolderStatus.NotFound);
      if (error instanceof InvalidArgumentError)
        return statusOnly('FolderDelete', FolderStatus.SpecialFolder);
      throw error;
    }
    const newKey = await answerWithNewKey(
      services,
      context,
      found.stored,
      found.base,
      { command: 'FolderDelete', request, response: {} },
      [{ id: serverId, kind: 'delete' }],
      (known) => {
        for (const id of removed) delete known[id];
      },
    );
    if (newKey === undefined) return statusOnly('FolderDelete', FolderStatus.InvalidSyncKey);
    return keyAnswer('FolderDelete', newKey);
  };
}

function subtreeOf(folders: readonly Folder[], rootId: FolderId): FolderId[] {
  const ids = [rootId];
  for (let index = 0; index < ids.length; index++) {
    for (const folder of folders) if (folder.parentId === ids[index]) ids.push(folder.id);
  }
  return ids;
}

function keyAnswer(name: 'FolderUpdate' | 'FolderDelete', syncKey: string): EasCommandResult {
  return { kind: 'wbxml', body: FH[name](FH.Status(FolderStatus.Success), FH.SyncKey(syncKey)) };
}
