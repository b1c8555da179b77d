import { eas, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll, STANDARD_FOLDERS, type TestDevice, TestServer } from '../../test/harness.js';

const { FolderHierarchy: FH } = eas;

interface HierarchyChanges {
  adds: { serverId: string; parentId: string; displayName: string; type: number }[];
  updates: { serverId: string; parentId: string; displayName: string; type: number }[];
  deletes: string[];
}

function changesOf(body: WbxmlElement | undefined): HierarchyChanges {
  const changes = body?.child('Changes');
  const folder = (element: WbxmlElement) => ({
    serverId: element.textOf('ServerId')!,
    parentId: element.textOf('ParentId')!,
    displayName: element.textOf('DisplayName')!,
    type: element.intOf('Type')!,
  });
  return {
    adds: changes?.all('Add').map(folder) ?? [],
    updates: changes?.all('Update').map(folder) ?? [],
    deletes: changes?.all('Delete').map((element) => element.textOf('ServerId')!) ?? [],
  };
}

async function folderSync(device: TestDevice, syncKey: string) {
  const reply = await device.send('FolderSync', FH.FolderSync(FH.SyncKey(syncKey)));
  expect(reply.status).toBe(200);
  const changes = changesOf(reply.body);
  const count = reply.body?.child('Changes')?.intOf('Count');
  if (count !== undefined)
    expect(count).toBe(changes.adds.length + changes.updates.length + changes.deletes.length);
  return { status: reply.body!.intOf('Status'), syncKey: reply.body!.textOf('SyncKey'), ...changes, reply };
}

async function create(device: TestDevice, syncKey: string, parentId: string, displayName: string, type = 12) {
  const reply = await device.send(
    'FolderCreate',
    FH.FolderCreate(FH.SyncKey(syncKey), FH.ParentId(parentId), FH.DisplayName(displayName), FH.Type(type)),
  );
  return {
    status: reply.body!.intOf('Status'),
    syncKey: reply.body!.textOf('SyncKey'),
    serverId: reply.body!.textOf('ServerId'),
  };
}

async function update(device: TestDevice, syncKey: string, serverId: string, parentId: string, name: string) {
  const reply = await device.send(
    'FolderUpdate',
    FH.FolderUpdate(FH.SyncKey(syncKey), FH.ServerId(serverId), FH.ParentId(parentId), FH.DisplayName(name)),
  );
  return { status: reply.body!.intOf('Status'), syncKey: reply.body!.textOf('SyncKey') };
}

async function remove(device: TestDevice, syncKey: string, serverId: string) {
  const reply = await device.send(
    'FolderDelete',
    FH.FolderDelete(FH.SyncKey(syncKey), FH.ServerId(serverId)),
  );
  return { status: reply.body!.intOf('Status'), syncKey: reply.body!.textOf('SyncKey') };
}

describe('FolderSync and folder commands over HTTP', () => {
  const server = new TestServer();
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  for (const version of ['2.5', '12.1', '14.1', '16.1'] as const) {
    it(`sends the whole hierarchy for key 0, then nothing, in protocol ${version}`, async () => {
      const device = server.device('alice', `full-${version}`, version);
      const first = await folderSync(device, '0');
      expect(first.status).toBe(1);
      expect(first.adds.map((folder) => folder.displayName).sort()).toEqual(
        STANDARD_FOLDERS.map((folder) => folder.displayName).sort(),
      );
      expect(first.adds.find((folder) => folder.displayName === 'Drafts')).toMatchObject({
        type: 3,
        parentId: '0',
      });
      expect(first.adds.find((folder) => folder.displayName === 'Outbox')).toMatchObject({ type: 6 });
      const second = await folderSync(device, first.syncKey!);
      expect(second).toMatchObject({ status: 1, syncKey: first.syncKey, adds: [], updates: [], deletes: [] });
      // Clients expect the Changes container even when it is empty.
      expect(second.reply.body!.child('Changes')?.intOf('Count')).toBe(0);
    });
  }

  it('answers a repeated key (lost response) with the same changes and key', async () => {
    const device = server.device('alice', 'lost-response');
    const first = await folderSync(device, '0');
    const again = await folderSync(device, '0');
    expect(again.adds).toEqual(first.adds);
    const confirmed = await folderSync(device, again.syncKey!);
    const other = server.device('alice', 'lost-response-other');
    const otherKey = (await folderSync(other, '0')).syncKey!;
    const made = await create(other, otherKey, '0', 'Projects');
    expect(made.status).toBe(1);

    const withAdd = await folderSync(device, confirmed.syncKey!);
    expect(withAdd.adds.map((folder) => folder.displayName)).toEqual(['Projects']);
    expect(withAdd.syncKey).not.toBe(confirmed.syncKey);
    const repeated = await folderSync(device, confirmed.syncKey!);
    expect(repeated.syncKey).toBe(withAdd.syncKey);
    expect(repeated.adds).toEqual(withAdd.adds);
    const after = await folderSync(device, withAdd.syncKey!);
    expect(after.adds).toEqual([]);
  });

  it('answers a key it never issued with Status 9 and a malformed request with Status 10', async () => {
    const device = server.device('alice', 'bad-key');
    expect((await folderSync(device, 'bogus')).status).toBe(9);
    expect((await folderSync(device, '0')).status).toBe(1);
    expect((await folderSync(device, '1')).status).toBe(9);
    const malformed = await device.send('FolderSync', FH.FolderSync());
    expect(malformed.body!.intOf('Status')).toBe(10);
    const wrongRoot = await device.send('FolderSync', FH.FolderCreate(FH.SyncKey('0')));
    expect(wrongRoot.body!.intOf('Status')).toBe(10);
  });

  it('creates, renames, moves and deletes folders; other devices see each change once', async () => {
    const phone = server.device('bob', 'phone');
    const tablet = server.device('bob', 'tablet', '16.1');
    let phoneKey = (await folderSync(phone, '0')).syncKey!;
    let tabletKey = (await folderSync(tablet, '0')).syncKey!;

    const made = await create(phone, phoneKey, '0', 'Receipts');
    expect(made).toMatchObject({ status: 1 });
    expect(made.serverId).toBeTruthy();
    phoneKey = made.syncKey!;
    const child = await create(phone, phoneKey, made.serverId!, '2026');
    phoneKey = child.syncKey!;

    // The creating device is not told about its own folders again.
    const phoneSync = await folderSync(phone, phoneKey);
    expect(phoneSync.adds).toEqual([]);
    phoneKey = phoneSync.syncKey!;

    const tabletSync = await folderSync(tablet, tabletKey);
    expect(tabletSync.adds).toEqual([
      { serverId: made.serverId, parentId: '0', displayName: 'Receipts', type: 12 },
      { serverId: child.serverId, parentId: made.serverId, displayName: '2026', type: 12 },
    ]);
    tabletKey = tabletSync.syncKey!;

    const renamed = await update(tablet, tabletKey, child.serverId!, '0', 'Receipts 2026');
    expect(renamed.status).toBe(1);
    tabletKey = renamed.syncKey!;
    const phoneSeesRename = await folderSync(phone, phoneKey);
    expect(phoneSeesRename.updates).toEqual([
      { serverId: child.serverId, parentId: '0', displayName: 'Receipts 2026', type: 12 },
    ]);
    phoneKey = phoneSeesRename.syncKey!;

    const deleted = await remove(phone, phoneKey, made.serverId!);
    expect(deleted.status).toBe(1);
    phoneKey = deleted.syncKey!;
    const tabletSeesDelete = await folderSync(tablet, tabletKey);
    expect(tabletSeesDelete.deletes).toEqual([made.serverId]);
    expect(tabletSeesDelete.updates).toEqual([]);
    expect((await folderSync(phone, phoneKey)).deletes).toEqual([]);
  });

  it('answers every folder status the spec defines', async () => {
    const device = server.device('alice', 'statuses');
    let key = (await folderSync(device, '0')).syncKey!;
    const inbox = server.folders.get('alice:Inbox')!;

    const first = await create(device, key, '0', 'Status Tests');
    expect(first.status).toBe(1);
    key = first.syncKey!;
    const duplicate = await create(device, key, '0', 'status tests');
    expect(duplicate.status).toBe(2);
    expect((await create(device, key, 'no-such-folder', 'X')).status).toBe(5);
    expect((await create(device, 'stale', '0', 'X')).status).toBe(9);
    expect((await create(device, key, '0', 'X', 99)).status).toBe(10);

    expect((await update(device, key, inbox.id, '0', 'Renamed Inbox')).status).toBe(2);
    expect((await update(device, key, 'no-such-folder', '0', 'X')).status).toBe(4);
    expect((await update(device, key, first.serverId!, 'no-such-parent', 'X')).status).toBe(5);
    expect((await update(device, 'stale', first.serverId!, '0', 'X')).status).toBe(9);

    expect((await remove(device, key, inbox.id)).status).toBe(3);
    expect((await remove(device, key, 'no-such-folder')).status).toBe(4);
    expect((await remove(device, 'stale', first.serverId!)).status).toBe(9);
    const gone = await remove(device, key, first.serverId!);
    expect(gone.status).toBe(1);
  });

  it('answers a repeated FolderCreate (lost response) with the same folder, created once', async () => {
    const device = server.device('alice', 'create-retry');
    const key = (await folderSync(device, '0')).syncKey!;
    const made = await create(device, key, '0', 'Once');
    const again = await create(device, key, '0', 'Once');
    expect(again).toEqual(made);
    const folders = await server.mailbox.listFolders('alice@example.com');
    expect(folders.filter((folder) => folder.displayName === 'Once')).toHaveLength(1);
    const next = await folderSync(device, made.syncKey!);
    expect(next.status).toBe(1);
    expect(next.adds).toEqual([]);
  });

  it('answers a repeated FolderUpdate and FolderDelete (lost responses) with the same outcome', async () => {
    const device = server.device('alice', 'update-delete-retry');
    let key = (await folderSync(device, '0')).syncKey!;
    const made = await create(device, key, '0', 'Retry Me');
    key = made.syncKey!;
    const renamed = await update(device, key, made.serverId!, '0', 'Retried');
    const renamedAgain = await update(device, key, made.serverId!, '0', 'Retried');
    expect(renamedAgain).toEqual(renamed);
    expect(renamed.status).toBe(1);
    key = renamed.syncKey!;
    const deleted = await remove(device, key, made.serverId!);
    const deletedAgain = await remove(device, key, made.serverId!);
    expect(deletedAgain).toEqual(deleted);
    expect(deleted.status).toBe(1);
    const next = await folderSync(device, deleted.syncKey!);
    expect(next).toMatchObject({ status: 1, adds: [], updates: [], deletes: [] });
  });

  it("never shows or touches another user's folders", async () => {
    const device = server.device('alice', 'isolation');
    const key = (await folderSync(device, '0')).syncKey!;
    const bobInbox = server.folders.get('bob:Inbox')!;
    expect((await remove(device, key, bobInbox.id)).status).toBe(4);
    expect((await update(device, key, bobInbox.id, '0', 'Mine')).status).toBe(4);
    expect((await create(device, key, bobInbox.id, 'Inside')).status).toBe(5);
    await expect(server.mailbox.getFolder('bob@example.com', bobInbox.id)).resolves.toMatchObject({
      displayName: 'Inbox',
    });
  });

  it('produces responses that libwbxml decodes', async () => {
    await expectLibwbxmlReadsAll(server.responses, 21);
  });
});

describe('a store that holds only some classes', () => {
  const server = new TestServer({}, ['Email', 'Calendar', 'Contacts']);
  beforeAll(() => server.start());
  afterAll(() => server.stop());

  it('does not show folders of classes the store does not support', async () => {
    const device = server.device('alice', 'partial-store');
    const first = await folderSync(device, '0');
    const names = first.adds.map((folder) => folder.displayName);
    expect(names).toContain('Calendar');
    expect(names).not.toContain('Notes');
    expect(names).not.toContain('Tasks');
    const notes = server.folders.get('alice:Notes')!.id;
    const reply = await device.send(
      'Sync',
      eas.AirSync.Sync(
        eas.AirSync.Collections(
          eas.AirSync.Collection(eas.AirSync.SyncKey('0'), eas.AirSync.CollectionId(notes)),
        ),
      ),
    );
    expect(reply.body!.child('Collections')!.child('Collection')!.intOf('Status')).toBe(12);
  });
});
