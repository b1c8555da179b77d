import {
  type ChangesPage,
  type Folder,
  type FolderId,
  FolderType,
  type ItemClass,
  MemoryMailboxStore,
  type Modseq,
  ROOT_FOLDER_ID,
  type UserId,
} from '@easkit/mailbox';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { beforeEach, describe, expect, it } from 'vitest';
import type { EasCommandHandler } from '../http/handler.js';
import type { EasRequestHead } from '../http/request.js';
import { syncCommand } from './sync.js';

const { AirSync: AS, Notes: N } = eas;
const ALICE = 'alice@example.com';

/** Counts the folder reads and change reads a Sync makes. */
class CountingMailbox extends MemoryMailboxStore {
  folderReads = 0;
  changeReads = 0;

  override async getFolder(userId: UserId, folderId: FolderId): Promise<Folder> {
    this.folderReads++;
    return super.getFolder(userId, folderId);
  }

  override async changes(
    userId: UserId,
    folderId: FolderId,
    sinceModseq: Modseq,
    limit: number,
  ): Promise<ChangesPage> {
    this.changeReads++;
    return super.changes(userId, folderId, sinceModseq, limit);
  }

  reset(): void {
    this.folderReads = 0;
    this.changeReads = 0;
  }
}

interface Reply {
  status: number | undefined;
  syncKey: string | undefined;
  adds: number;
  /** The empty response (nothing to say). */
  empty: boolean;
}

let mailbox: CountingMailbox;
let syncState: MemorySyncStateStore;
let folders: Record<'inbox' | 'notes' | 'projects', Folder>;

beforeEach(async () => {
  mailbox = new CountingMailbox();
  syncState = new MemorySyncStateStore();
  await mailbox.createUser({ id: ALICE, primarySmtpAddress: ALICE });
  const create = (displayName: string, type: FolderType) =>
    mailbox.createFolder(ALICE, { parentId: ROOT_FOLDER_ID, displayName, type });
  folders = {
    inbox: await create('Inbox', FolderType.Inbox),
    notes: await create('Notes', FolderType.Notes),
    projects: await create('Projects', FolderType.UserMail),
  };
});

function handlerFor(classes?: readonly ItemClass[]): EasCommandHandler {
  return syncCommand({ mailbox, syncState, ...(classes ? { classes } : {}) });
}

async function sync(
  handler: EasCommandHandler,
  folderId: FolderId,
  syncKey: string,
  extra: (WbxmlElement | null)[] = [],
): Promise<Reply> {
  const head = { protocolVersion: '14.1', deviceId: 'phone', acceptMultiPart: false } as EasRequestHead;
  const result = await handler({
    identity: { userId: ALICE, addresses: [ALICE] },
    head,
    body: AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(syncKey), AS.CollectionId(folderId), extra))),
    rawBody: new Uint8Array(),
  });
  if (result.kind === 'empty') return { status: undefined, syncKey: undefined, adds: 0, empty: true };
  if (result.kind !== 'wbxml') throw new Error(`unexpected ${result.kind}`);
  const collection = result.body.child('Collections')?.child('Collection');
  return {
    status: collection?.intOf('Status') ?? result.body.intOf('Status'),
    syncKey: collection?.textOf('SyncKey'),
    adds: collection?.child('Commands')?.all('Add').length ?? 0,
    empty: false,
  };
}

async function deliver(folderId: FolderId, subject: string): Promise<void> {
  const mime = `From: <sender@example.org>\r\nTo: <${ALICE}>\r\nSubject: ${subject}\r\n\r\nHello\r\n`;
  await mailbox.createItem(ALICE, folderId, {
    class: 'Email',
    data: {
      mime: new TextEncoder().encode(mime),
      subject,
      dateReceived: new Date(),
      read: false,
      messageClass: 'IPM.Note',
    },
  });
}

/** Primes a collection and confirms its first key; returns the key the device holds. */
async function primed(handler: EasCommandHandler, folderId: FolderId): Promise<string> {
  const first = await sync(handler, folderId, '0');
  expect(first.status).toBe(1);
  const second = await sync(handler, folderId, first.syncKey!);
  return second.empty ? first.syncKey! : second.syncKey!;
}

describe('Sync folder reads', () => {
  it('does not read the folder when the state remembers its type and the Sync reads its changes', async () => {
    const handler = handlerFor();
    let key = await primed(handler, folders.inbox.id);
    const stored = await syncState.get({ user: ALICE, deviceId: 'phone', collectionId: folders.inbox.id });
    expect(stored?.options?.folderType).toBe(FolderType.Inbox);

    await deliver(folders.inbox.id, 'Woken');
    mailbox.reset();
    const woken = await sync(handler, folders.inbox.id, key);
    expect(woken).toMatchObject({ status: 1, adds: 1 });
    expect(mailbox.folderReads).toBe(0);
    expect(mailbox.changeReads).toBe(1);
    key = woken.syncKey!;

    // Confirming that key with nothing new: still no folder read.
    mailbox.reset();
    expect((await sync(handler, folders.inbox.id, key)).empty).toBe(true);
    expect(mailbox.folderReads).toBe(0);
  });

  it('still reads the folder for key 0, client commands, GetChanges 0 and states without a type', async () => {
    const handler = handlerFor();
    const key = await primed(handler, folders.notes.id);

    mailbox.reset();
    await sync(handler, folders.inbox.id, '0');
    expect(mailbox.folderReads).toBe(1);

    mailbox.reset();
    const added = await sync(handler, folders.notes.id, key, [
      AS.Commands(AS.Add(AS.ClientId('c1'), AS.ApplicationData(N.Subject('From the phone')))),
    ]);
    expect(added.status).toBe(1);
    expect(mailbox.folderReads).toBe(1);

    mailbox.reset();
    const quiet = await sync(handler, folders.notes.id, added.syncKey!, [AS.GetChanges('0')]);
    expect(quiet.status ?? 1).toBe(1);
    expect(mailbox.folderReads).toBe(1);

    // A state written before the type was remembered: the folder is read, and the type stored for next time.
    const collection = { user: ALICE, deviceId: 'phone', collectionId: folders.notes.id };
    const state = (await syncState.get(collection))!;
    const { folderType: _dropped, ...olderOptions } = state.options ?? {};
    const older = { ...state, options: olderOptions };
    expect(
      await syncState.compareAndSet(collection, state.pending?.syncKey ?? state.confirmed.syncKey, older),
    ).toBe(true);
    const current = older.pending?.syncKey ?? older.confirmed.syncKey;
    mailbox.reset();
    await sync(handler, folders.notes.id, current);
    expect(mailbox.folderReads).toBe(1);
    expect((await syncState.get(collection))?.options?.folderType).toBe(FolderType.Notes);
    const latest = (await syncState.get(collection))!;
    mailbox.reset();
    await sync(handler, folders.notes.id, latest.pending?.syncKey ?? latest.confirmed.syncKey);
    expect(mailbox.folderReads).toBe(0);
  });

  it('answers Status 12 for a deleted folder without reading it, as before', async () => {
    const handler = handlerFor();
    const key = await primed(handler, folders.projects.id);
    await mailbox.deleteFolder(ALICE, folders.projects.id);

    mailbox.reset();
    expect((await sync(handler, folders.projects.id, key)).status).toBe(12);
    expect(mailbox.folderReads).toBe(0);
    expect(mailbox.changeReads).toBe(1);

    // Bad options for a deleted folder: Status 12 wins over Status 4, as when the folder was read first.
    mailbox.reset();
    expect((await sync(handler, folders.projects.id, key, [AS.Options(AS.FilterType('42'))])).status).toBe(
      12,
    );
    expect(mailbox.folderReads).toBe(1);
    // ...and for a folder that still exists, Status 4.
    const inboxKey = await primed(handler, folders.inbox.id);
    expect((await sync(handler, folders.inbox.id, inboxKey, [AS.Options(AS.FilterType('42'))])).status).toBe(
      4,
    );
  });

  it('answers Status 12 for a folder whose class the server no longer offers, without reading it', async () => {
    const key = await primed(handlerFor(), folders.notes.id);
    // The server restarted without Notes: the same stores, fewer classes.
    const restricted = handlerFor(['Email', 'Calendar', 'Contacts']);
    mailbox.reset();
    expect((await sync(restricted, folders.notes.id, key)).status).toBe(12);
    expect(mailbox.folderReads).toBe(0);
    expect(mailbox.changeReads).toBe(0);
    // Mail folders stay visible on the same path.
    const inboxKey = await primed(handlerFor(), folders.inbox.id);
    await deliver(folders.inbox.id, 'Still here');
    mailbox.reset();
    expect(await sync(restricted, folders.inbox.id, inboxKey)).toMatchObject({ status: 1, adds: 1 });
    expect(mailbox.folderReads).toBe(0);
  });
});
