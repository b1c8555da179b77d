/**
 * The behavioural tests every `MailboxStore` must pass, for adapter authors:
 *
 * ```ts
 * import { runMailboxConformance } from '@easkit/mailbox/conformance';
 * runMailboxConformance({ name: 'postgres', create: () => createPgMailboxStore({ pool }) });
 * ```
 *
 * This module imports vitest (an optional peer dependency); the package's main entry never loads it. The checks
 * are also exported as plain data (`mailboxChecks`) so a custom runner, or a test of the suite, can run them.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import type { FolderId, ItemId, Modseq, UserId } from './ids.js';
import type { EmailData } from './models/email.js';
import type { ItemData, StoredItem } from './models/item.js';
import { pollChanges } from './poll.js';
import {
  plainMime,
  SAMPLE_HTML,
  SAMPLE_PDF,
  SAMPLE_PLAIN,
  SAMPLE_PNG,
  sampleCalendar,
  sampleContact,
  sampleEmail,
  sampleMime,
  sampleNote,
  sampleTask,
  setUpUser,
} from './samples.js';
import type { ItemChange, MailboxStore, PollResult } from './store.js';

/**
 * What a backend may not support. Unlike most flags, these default to supported: set one to `false` to skip
 * the checks that need it (their titles name the capability).
 */
export interface MailboxCapabilities {
  /** Stores compressed-RTF bodies for Calendar/Contacts/Tasks/Notes and returns them as `rtf`. */
  rtfBodies?: boolean;
  /** Runs the 10,000-item folder check (turn off only for very slow backends, e.g. in a quick local loop). */
  largeFolders?: boolean;
}

export type MailboxCapability = keyof MailboxCapabilities;

export interface MailboxCheckContext {
  /** A fresh, empty store. */
  readonly store: MailboxStore;
}

export interface ConformanceCheck {
  readonly name: string;
  readonly capability?: MailboxCapability;
  run(context: MailboxCheckContext): Promise<void>;
}

export interface MailboxConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /** A fresh, empty store that no other check shares. */
  create: () => MailboxStore | Promise<MailboxStore>;
  capabilities?: MailboxCapabilities;
  /** Runs after each check. */
  cleanup?: (store: MailboxStore) => void | Promise<void>;
  /** Per-check timeout in ms (the large-folder check writes 10,000 items); 60,000 unless set. */
  timeoutMs?: number;
}

// Helpers -----------------------------------------------------------------------------------------------------

async function rejectsWith(promise: Promise<unknown>, code: string, reason?: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    const e = error as { code?: unknown; reason?: unknown };
    assert.equal(e?.code, code, `expected a ${code} error, got ${String(error)}`);
    if (reason !== undefined) assert.equal(e.reason, reason, `expected reason ${reason}`);
    return true;
  });
}

function email(overrides: Partial<EmailData> = {}): ItemData {
  return { class: 'Email', data: sampleEmail(overrides) };
}

function quickEmail(subject: string, dateReceived = new Date('2025-01-07T10:00:00Z')): ItemData {
  return { class: 'Email', data: sampleEmail({ subject, mime: plainMime(subject, subject), dateReceived }) };
}

async function allChanges(
  store: MailboxStore,
  user: UserId,
  folder: FolderId,
  since: Modseq,
  limit = 1000,
): Promise<{ changes: ItemChange[]; nextModseq: Modseq; pages: number }> {
  const changes: ItemChange[] = [];
  let cursor = since;
  for (let pages = 1; ; pages++) {
    const page = await store.changes(user, folder, cursor, limit);
    assert.ok(page.changes.length <= limit, 'a page never exceeds the limit');
    assert.ok(page.nextModseq >= cursor, 'nextModseq never goes backwards');
    changes.push(...page.changes);
    cursor = page.nextModseq;
    if (!page.more) return { changes, nextModseq: cursor, pages };
    assert.ok(page.changes.length > 0, 'a page that says more remain is not empty');
    assert.ok(pages < 100_000, 'pagination terminates');
  }
}

/** The live items of a folder, as a device that synced from scratch would hold them. */
async function folderSnapshot(
  store: MailboxStore,
  user: UserId,
  folder: FolderId,
): Promise<Map<ItemId, StoredItem>> {
  const { changes } = await allChanges(store, user, folder, 0);
  const map = new Map<ItemId, StoredItem>();
  for (const c of changes) {
    assert.equal(c.kind, 'add', 'from modseq 0 every change is an add');
    if (c.kind === 'add') map.set(c.itemId, c.item);
  }
  return map;
}

/**
 * Replays changes on a simulated device: an add must be new to it, a change must hit an item it has. A delete
 * of an item it never received is allowed only in the paging race the contract names (an item added and
 * removed while the device paged); such ids are collected in `strayDeletes` for the caller to vet.
 */
function replay(
  device: Map<ItemId, StoredItem>,
  changes: ItemChange[],
  strayDeletes?: Set<ItemId>,
): Map<ItemId, StoredItem> {
  for (const c of changes) {
    if (c.kind === 'add') {
      assert.ok(!device.has(c.itemId), `add of ${c.itemId}, which the device already holds`);
      device.set(c.itemId, c.item);
    } else if (c.kind === 'change') {
      assert.ok(device.has(c.itemId), `change of ${c.itemId}, which the device never received`);
      device.set(c.itemId, c.item);
    } else if (device.has(c.itemId)) {
      device.delete(c.itemId);
    } else {
      assert.ok(strayDeletes, `delete of ${c.itemId}, which the device never received`);
      strayDeletes.add(c.itemId);
    }
  }
  return device;
}

/** Stray deletes may only name items created after the device's starting point and gone by now. */
function vetStrayDeletes(strays: Set<ItemId>, initial: Set<ItemId>, final: Map<ItemId, StoredItem>): void {
  for (const id of strays) {
    assert.ok(!initial.has(id), `delete of ${id}: the device had it at the start but lost it on the way`);
    assert.ok(!final.has(id), `delete of ${id}, which is still in the folder`);
  }
}

function assertAscending(changes: ItemChange[]): void {
  for (let i = 1; i < changes.length; i++) {
    assert.ok(changes[i]!.modseq > changes[i - 1]!.modseq, 'changes are in strictly ascending modseq order');
  }
}

function sameItems(actual: Map<ItemId, StoredItem>, expected: Map<ItemId, StoredItem>): void {
  assert.deepEqual(
    [...actual.keys()].sort(),
    [...expected.keys()].sort(),
    'the device holds exactly the folder',
  );
  for (const [id, item] of expected)
    assert.deepEqual(actual.get(id), item, `item ${id} is current on the device`);
}

const bytes = (text: string) => new TextEncoder().encode(text).byteLength;

// The checks ----------------------------------------------------------------------------------------------------

export const mailboxChecks: ConformanceCheck[] = [
  // Users
  {
    name: 'users: createUser and getUser round-trip the addresses',
    async run({ store }) {
      const created = await store.createUser({
        id: 'ada',
        primarySmtpAddress: 'ada@example.com',
        aliases: ['a.lovelace@example.com'],
        displayName: 'Ada Lovelace',
      });
      const expected = {
        id: 'ada',
        primarySmtpAddress: 'ada@example.com',
        aliases: ['a.lovelace@example.com'],
        displayName: 'Ada Lovelace',
      };
      assert.deepEqual(created, expected);
      assert.deepEqual(await store.getUser('ada'), expected);
      assert.deepEqual(
        (await store.createUser({ id: 'bob', primarySmtpAddress: 'bob@example.com' })).aliases,
        [],
      );
    },
  },
  {
    name: 'items: the clientOrigin of a device Add round-trips on every class and survives updates',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      const contacts = await store.createFolder('ada', { parentId: '0', displayName: 'Contacts', type: 9 });
      const inbox = await store.createFolder('ada', { parentId: '0', displayName: 'Inbox', type: 2 });
      const origin = { deviceId: 'phone-1', clientId: 'c-42' };
      const contact = await store.createItem('ada', contacts.id, {
        class: 'Contacts',
        data: { ...sampleContact(), clientOrigin: { ...origin } },
      });
      const mail = await store.createItem('ada', inbox.id, {
        class: 'Email',
        data: { ...sampleEmail(), clientOrigin: { ...origin, clientId: 'c-43' } },
      });
      assert.deepEqual((await store.getItem('ada', contact.id)).data.clientOrigin, origin);
      assert.deepEqual((await store.getItem('ada', mail.id)).data.clientOrigin, {
        ...origin,
        clientId: 'c-43',
      });
      await store.updateItem('ada', contact.id, { class: 'Contacts', data: { lastName: 'Changed' } });
      assert.deepEqual((await store.getItem('ada', contact.id)).data.clientOrigin, origin);
      const page = await store.changes('ada', contacts.id, 0, 10);
      const added = page.changes.find((change) => change.kind === 'add');
      assert.ok(added && added.kind === 'add');
      assert.deepEqual(added.item.data.clientOrigin, origin);
    },
  },
  {
    name: 'users: updateUser renames and replaces aliases; old aliases stop resolving; taken aliases conflict',
    async run({ store }) {
      await store.createUser({
        id: 'ada',
        primarySmtpAddress: 'ada@example.com',
        aliases: ['old@example.com'],
      });
      await store.createUser({ id: 'bob', primarySmtpAddress: 'bob@example.com' });
      const before = await store.currentModseq('ada');
      const updated = await store.updateUser('ada', {
        displayName: 'Ada L.',
        aliases: ['new@example.org', 'Second@Example.org'],
      });
      assert.deepEqual(updated.aliases, ['new@example.org', 'Second@Example.org']);
      assert.equal(updated.displayName, 'Ada L.');
      assert.deepEqual(await store.getUser('ada'), updated);
      assert.equal(await store.resolveAddress('old@example.com'), undefined);
      assert.equal((await store.resolveAddress('second@example.org'))?.id, 'ada');
      assert.equal((await store.resolveAddress('ada@example.com'))?.id, 'ada');
      assert.equal(await store.currentModseq('ada'), before);
      await rejectsWith(
        store.updateUser('ada', { aliases: ['bob@example.com'] }),
        'CONFLICT',
        'address-taken',
      );
      assert.deepEqual((await store.getUser('ada')).aliases, ['new@example.org', 'Second@Example.org']);
      const renamed = await store.updateUser('ada', { displayName: null });
      assert.equal(renamed.displayName, undefined);
      await rejectsWith(store.updateUser('nobody', { aliases: [] }), 'NOT_FOUND');
      await rejectsWith(
        store.updateUser('ada', { aliases: ['not-an-address'] }),
        'INVALID_ARGUMENT',
        'malformed',
      );
    },
  },
  {
    name: 'users: resolveAddress finds primary addresses and aliases, ignoring case',
    async run({ store }) {
      await store.createUser({
        id: 'ada',
        primarySmtpAddress: 'ada@example.com',
        aliases: ['boss@example.com'],
      });
      await store.createUser({ id: 'bob', primarySmtpAddress: 'bob@example.com' });
      assert.equal((await store.resolveAddress('ADA@Example.com'))?.id, 'ada');
      assert.equal((await store.resolveAddress('boss@example.com'))?.id, 'ada');
      assert.equal((await store.resolveAddress('bob@example.com'))?.id, 'bob');
      assert.equal(await store.resolveAddress('nobody@example.com'), undefined);
    },
  },
  {
    name: 'users: a taken id or address is a ConflictError; unknown users are NotFoundError everywhere',
    async run({ store }) {
      await store.createUser({
        id: 'ada',
        primarySmtpAddress: 'ada@example.com',
        aliases: ['boss@example.com'],
      });
      await rejectsWith(
        store.createUser({ id: 'ada', primarySmtpAddress: 'x@example.com' }),
        'CONFLICT',
        'user-exists',
      );
      await rejectsWith(
        store.createUser({ id: 'eve', primarySmtpAddress: 'eve@example.com', aliases: ['BOSS@example.com'] }),
        'CONFLICT',
        'address-taken',
      );
      assert.equal(
        await store.resolveAddress('eve@example.com'),
        undefined,
        'a failed createUser claims nothing',
      );
      const u = 'ghost';
      const calls: Array<() => Promise<unknown>> = [
        () => store.getUser(u),
        () => store.currentModseq(u),
        () => store.createFolder(u, { parentId: '0', displayName: 'X', type: 12 }),
        () => store.listFolders(u),
        () => store.folderChanges(u, 0),
        () => store.getItem(u, 'i1'),
        () => store.changes(u, 'f1', 0, 10),
      ];
      for (const call of calls) await rejectsWith(call(), 'NOT_FOUND');
    },
  },

  // Modseq
  {
    name: 'modseq: starts at 0 and every mutation takes exactly the next value',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      assert.equal(await store.currentModseq('ada'), 0);
      let expected = 0;
      const step = async (modseq: Modseq) => {
        expected++;
        assert.equal(modseq, expected, 'the mutation took the next modseq');
        assert.equal(await store.currentModseq('ada'), expected);
      };
      const inbox = await store.createFolder('ada', { parentId: '0', displayName: 'Inbox', type: 2 });
      await step(await store.currentModseq('ada'));
      const sub = await store.createFolder('ada', { parentId: '0', displayName: 'Projects', type: 12 });
      await step(await store.currentModseq('ada'));
      const item = await store.createItem('ada', inbox.id, quickEmail('one'));
      await step(item.modseq);
      await step(
        (await store.updateItem('ada', item.id, { class: 'Email', data: { subject: 'two' } })).modseq,
      );
      await step((await store.setReadState('ada', item.id, true)).modseq);
      await step((await store.setFlag('ada', item.id, { status: 2, flagType: 'Follow up' })).modseq);
      const moved = await store.moveItem('ada', item.id, sub.id);
      await step(moved.modseq);
      await store.updateFolder('ada', sub.id, { displayName: 'Projects 2025' });
      await step(await store.currentModseq('ada'));
      await step((await store.deleteItem('ada', moved.id)).modseq);
      await step((await store.deleteFolder('ada', sub.id)).modseq);
    },
  },
  {
    name: 'modseq: failed mutations take none, reads take none',
    async run({ store }) {
      const { user, inbox, calendar } = await setUpUser(store, 'ada');
      const before = await store.currentModseq(user.id);
      await rejectsWith(
        store.createFolder(user.id, { parentId: '0', displayName: 'Inbox', type: 12 }),
        'CONFLICT',
      );
      await rejectsWith(store.createItem(user.id, calendar.id, quickEmail('x')), 'INVALID_ARGUMENT');
      await rejectsWith(store.deleteItem(user.id, 'missing'), 'NOT_FOUND');
      await rejectsWith(store.createItem(user.id, 'missing', quickEmail('x')), 'NOT_FOUND');
      await store.listFolders(user.id);
      await store.changes(user.id, inbox.id, 0, 10);
      await store.folderChanges(user.id, 0);
      assert.equal(await store.currentModseq(user.id), before);
    },
  },
  {
    name: 'modseq: concurrent mutations get distinct, consecutive values; users count separately',
    async run({ store }) {
      const a = await setUpUser(store, 'ada');
      const b = await setUpUser(store, 'bob');
      const base = await store.currentModseq('ada');
      const bobBase = await store.currentModseq('bob');
      const created = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          i % 2 === 0
            ? store.createItem('ada', a.inbox.id, quickEmail(`a${i}`))
            : store.createItem('bob', b.inbox.id, quickEmail(`b${i}`)),
        ),
      );
      const ada = created.filter((x) => x.folderId === a.inbox.id).map((x) => x.modseq);
      const bob = created.filter((x) => x.folderId === b.inbox.id).map((x) => x.modseq);
      assert.deepEqual(
        [...ada].sort((x, y) => x - y),
        Array.from({ length: 20 }, (_, i) => base + i + 1),
      );
      assert.deepEqual(
        [...bob].sort((x, y) => x - y),
        Array.from({ length: 20 }, (_, i) => bobBase + i + 1),
      );
      assert.equal(await store.currentModseq('ada'), base + 20);
    },
  },

  // Folders
  {
    name: 'folders: create, get and list, parents before children',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      const inbox = await store.createFolder('ada', { parentId: '0', displayName: 'Inbox', type: 2 });
      assert.deepEqual(await store.getFolder('ada', inbox.id), {
        id: inbox.id,
        parentId: '0',
        displayName: 'Inbox',
        type: 2,
      });
      const top = await store.createFolder('ada', { parentId: '0', displayName: 'Projects', type: 12 });
      const child = await store.createFolder('ada', { parentId: top.id, displayName: 'Apollo', type: 12 });
      const grandchild = await store.createFolder('ada', {
        parentId: child.id,
        displayName: 'Docs',
        type: 12,
      });
      // Re-parent the top folder under a later one, so creation order is no longer parent-first.
      const late = await store.createFolder('ada', { parentId: '0', displayName: 'Archive', type: 1 });
      await store.updateFolder('ada', top.id, { parentId: late.id });
      const list = await store.listFolders('ada');
      assert.equal(list.length, 5);
      const position = new Map(list.map((f, i) => [f.id, i]));
      for (const f of list) {
        if (f.parentId !== '0')
          assert.ok(position.get(f.parentId)! < position.get(f.id)!, 'parent listed first');
      }
      assert.equal(new Set(list.map((f) => f.id)).size, 5, 'ids are unique');
      assert.equal(list.find((f) => f.id === grandchild.id)?.parentId, child.id);
      await rejectsWith(store.getFolder('ada', 'missing'), 'NOT_FOUND');
    },
  },
  {
    name: 'folders: names are unique per parent (ignoring case); special types are unique and fixed',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      const inbox = await store.createFolder('ada', { parentId: '0', displayName: 'Inbox', type: 2 });
      const a = await store.createFolder('ada', { parentId: '0', displayName: 'Receipts', type: 12 });
      await rejectsWith(
        store.createFolder('ada', { parentId: '0', displayName: 'RECEIPTS', type: 12 }),
        'CONFLICT',
        'folder-name-taken',
      );
      await store.createFolder('ada', { parentId: inbox.id, displayName: 'Receipts', type: 12 });
      const b = await store.createFolder('ada', { parentId: '0', displayName: 'Bills', type: 12 });
      await rejectsWith(
        store.updateFolder('ada', b.id, { displayName: 'receipts' }),
        'CONFLICT',
        'folder-name-taken',
      );
      await rejectsWith(
        store.createFolder('ada', { parentId: a.id, displayName: 'Second inbox', type: 2 }),
        'CONFLICT',
        'special-folder-exists',
      );
      await rejectsWith(
        store.updateFolder('ada', inbox.id, { displayName: 'Mail' }),
        'INVALID_ARGUMENT',
        'special-folder',
      );
      await rejectsWith(store.deleteFolder('ada', inbox.id), 'INVALID_ARGUMENT', 'special-folder');
      await rejectsWith(
        store.createFolder('ada', { parentId: 'missing', displayName: 'X', type: 12 }),
        'NOT_FOUND',
      );
      await rejectsWith(
        store.createFolder('ada', { parentId: '0', displayName: ' ', type: 12 }),
        'INVALID_ARGUMENT',
      );
      await rejectsWith(
        store.createFolder('ada', { parentId: '0', displayName: 'X', type: 42 as never }),
        'INVALID_ARGUMENT',
      );
    },
  },
  {
    name: 'folders: updateFolder renames and moves; a folder cannot move below itself',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      const a = await store.createFolder('ada', { parentId: '0', displayName: 'A', type: 12 });
      const b = await store.createFolder('ada', { parentId: a.id, displayName: 'B', type: 12 });
      const c = await store.createFolder('ada', { parentId: '0', displayName: 'C', type: 12 });
      assert.deepEqual(await store.updateFolder('ada', b.id, { displayName: 'B2', parentId: c.id }), {
        ...b,
        displayName: 'B2',
        parentId: c.id,
      });
      assert.deepEqual(await store.getFolder('ada', b.id), { ...b, displayName: 'B2', parentId: c.id });
      await rejectsWith(
        store.updateFolder('ada', c.id, { parentId: b.id }),
        'INVALID_ARGUMENT',
        'folder-cycle',
      );
      await rejectsWith(
        store.updateFolder('ada', c.id, { parentId: c.id }),
        'INVALID_ARGUMENT',
        'folder-cycle',
      );
      await rejectsWith(store.updateFolder('ada', c.id, { parentId: 'missing' }), 'NOT_FOUND');
      await rejectsWith(store.updateFolder('ada', 'missing', { displayName: 'Z' }), 'NOT_FOUND');
      assert.equal((await store.updateFolder('ada', b.id, { parentId: '0' })).parentId, '0');
    },
  },
  {
    name: 'folders: deleteFolder takes its subfolders and their items with it',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      const keep = await store.createFolder('ada', { parentId: '0', displayName: 'Keep', type: 12 });
      const top = await store.createFolder('ada', { parentId: '0', displayName: 'Old', type: 12 });
      const sub = await store.createFolder('ada', { parentId: top.id, displayName: 'Older', type: 12 });
      const kept = await store.createItem('ada', keep.id, quickEmail('kept'));
      const gone1 = await store.createItem('ada', top.id, quickEmail('gone 1'));
      const gone2 = await store.createItem('ada', sub.id, email({ subject: 'gone 2' }));
      const [ref] = gone2.class === 'Email' ? (gone2.data.attachments ?? []) : [];
      assert.ok(ref, 'the sample message has attachments');
      const before = await store.currentModseq('ada');
      assert.equal((await store.deleteFolder('ada', top.id)).modseq, before + 1);
      for (const id of [top.id, sub.id]) await rejectsWith(store.getFolder('ada', id), 'NOT_FOUND');
      for (const id of [gone1.id, gone2.id]) await rejectsWith(store.getItem('ada', id), 'NOT_FOUND');
      await rejectsWith(store.readAttachment('ada', ref.fileReference), 'NOT_FOUND');
      await rejectsWith(store.changes('ada', sub.id, 0, 10), 'NOT_FOUND');
      assert.deepEqual(await store.getItem('ada', kept.id), kept);
      assert.deepEqual(
        (await store.listFolders('ada')).map((f) => f.id),
        [keep.id],
      );
      // A name freed by the delete can be used again.
      await store.createFolder('ada', { parentId: '0', displayName: 'Old', type: 12 });
    },
  },
  {
    name: 'folderChanges: adds, changes and deletes since a modseq, with tombstones',
    async run({ store }) {
      await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
      const inbox = await store.createFolder('ada', { parentId: '0', displayName: 'Inbox', type: 2 });
      const renamed = await store.createFolder('ada', { parentId: '0', displayName: 'Before', type: 12 });
      const doomed = await store.createFolder('ada', { parentId: '0', displayName: 'Doomed', type: 12 });
      const doomedChild = await store.createFolder('ada', {
        parentId: doomed.id,
        displayName: 'Child',
        type: 12,
      });
      const all = await store.folderChanges('ada', 0);
      assert.deepEqual(
        new Set(all.added.map((f) => f.id)),
        new Set([inbox.id, renamed.id, doomed.id, doomedChild.id]),
      );
      assert.deepEqual(all.changed, []);
      assert.deepEqual(all.deleted, []);
      assert.equal(all.modseq, await store.currentModseq('ada'));
      const since = all.modseq;

      await store.updateFolder('ada', renamed.id, { displayName: 'After' });
      await store.deleteFolder('ada', doomed.id);
      const fresh = await store.createFolder('ada', { parentId: '0', displayName: 'Fresh', type: 12 });
      const freshChild = await store.createFolder('ada', {
        parentId: fresh.id,
        displayName: 'Kid',
        type: 12,
      });
      await store.updateFolder('ada', fresh.id, { displayName: 'Fresh renamed' });
      const ephemeral = await store.createFolder('ada', {
        parentId: '0',
        displayName: 'Ephemeral',
        type: 12,
      });
      await store.deleteFolder('ada', ephemeral.id);

      const delta = await store.folderChanges('ada', since);
      assert.deepEqual(
        delta.added.map((f) => f.id),
        [fresh.id, freshChild.id],
        'new folders, parents first, not reported as changed even when renamed',
      );
      assert.equal(delta.added[0]!.displayName, 'Fresh renamed');
      assert.deepEqual(delta.changed, [{ ...renamed, displayName: 'After' }]);
      assert.deepEqual(new Set(delta.deleted), new Set([doomed.id, doomedChild.id]));
      assert.equal(delta.modseq, await store.currentModseq('ada'));
      const none = await store.folderChanges('ada', delta.modseq);
      assert.deepEqual([none.added, none.changed, none.deleted], [[], [], []]);
    },
  },

  // Items
  {
    name: 'items: every class round-trips with all its fields (dates, bytes, nested objects)',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const inputs: Array<[FolderId, ItemData]> = [
        [
          f.inbox.id,
          email({ flag: { status: 2, flagType: 'Follow up', utcDueDate: new Date('2025-01-09T00:00:00Z') } }),
        ],
        [f.calendar.id, { class: 'Calendar', data: sampleCalendar() }],
        [f.contacts.id, { class: 'Contacts', data: sampleContact() }],
        [f.tasks.id, { class: 'Tasks', data: sampleTask() }],
        [f.notes.id, { class: 'Notes', data: sampleNote() }],
      ];
      const ids = new Set<ItemId>();
      for (const [folderId, input] of inputs) {
        const stored = await store.createItem('ada', folderId, input);
        ids.add(stored.id);
        assert.equal(stored.folderId, folderId);
        assert.equal(stored.class, input.class);
        assert.equal(stored.modseq, await store.currentModseq('ada'));
        const { attachments: _ignored, ...expectedData } = input.data as EmailData;
        const { attachments: _derived, ...storedData } = stored.data as EmailData;
        assert.deepEqual(storedData, expectedData, `${input.class} data round-trips`);
        assert.deepEqual(await store.getItem('ada', stored.id), stored);
      }
      assert.equal(ids.size, inputs.length, 'item ids are unique');
    },
  },
  {
    name: 'items: the store copies data in and out',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const input = email();
      const created = await store.createItem('ada', f.inbox.id, input);
      const snapshot = structuredClone(created);
      if (input.class === 'Email') {
        input.data.subject = 'mutated input';
        input.data.mime[0] = 0;
        input.data.to!.push({ address: 'eve@example.com' });
      }
      if (created.class === 'Email') {
        created.data.subject = 'mutated output';
        created.data.categories!.push('Hacked');
        created.data.dateReceived.setFullYear(1999);
      }
      const read = await store.getItem('ada', created.id);
      assert.deepEqual(read, snapshot);
      if (read.class === 'Email') read.data.mime[0] = 0;
      assert.deepEqual(await store.getItem('ada', created.id), snapshot);
      const folders = await store.listFolders('ada');
      folders[0]!.displayName = 'mutated';
      assert.deepEqual(
        await store.listFolders('ada'),
        (await store.listFolders('ada')).map((x) => ({ ...x })),
      );
      assert.notEqual((await store.listFolders('ada'))[0]!.displayName, 'mutated');
      const page = await store.changes('ada', f.inbox.id, 0, 10);
      const first = page.changes[0]!;
      if (first.kind !== 'delete') first.item.folderId = 'elsewhere';
      assert.deepEqual(await store.getItem('ada', created.id), snapshot);
      const user = await store.getUser('ada');
      user.aliases.push('sneaky@example.com');
      assert.equal(await store.resolveAddress('sneaky@example.com'), undefined);
    },
  },
  {
    name: 'items: the class must fit the folder type; malformed items are rejected',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      await rejectsWith(
        store.createItem('ada', f.calendar.id, email()),
        'INVALID_ARGUMENT',
        'class-mismatch',
      );
      await rejectsWith(
        store.createItem('ada', f.inbox.id, { class: 'Tasks', data: sampleTask() }),
        'INVALID_ARGUMENT',
        'class-mismatch',
      );
      await rejectsWith(
        store.createItem('ada', f.inbox.id, {
          class: 'Email',
          data: { ...sampleEmail(), mime: 'text' as never },
        }),
        'INVALID_ARGUMENT',
        'malformed',
      );
      await rejectsWith(
        store.createItem('ada', f.calendar.id, {
          class: 'Calendar',
          data: { ...sampleCalendar(), startTime: undefined as never },
        }),
        'INVALID_ARGUMENT',
        'malformed',
      );
      const sub = await store.createFolder('ada', { parentId: '0', displayName: 'Team', type: 13 });
      await store.createItem('ada', sub.id, { class: 'Calendar', data: sampleCalendar() });
      const item = await store.createItem('ada', f.inbox.id, email());
      await rejectsWith(store.moveItem('ada', item.id, f.calendar.id), 'INVALID_ARGUMENT', 'class-mismatch');
      await rejectsWith(store.moveItem('ada', item.id, f.inbox.id), 'INVALID_ARGUMENT', 'same-folder');
      await rejectsWith(store.moveItem('ada', item.id, 'missing'), 'NOT_FOUND');
    },
  },
  {
    name: 'items: updateItem deep-merges objects, replaces arrays and removes keys given as undefined',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const event = await store.createItem('ada', f.calendar.id, {
        class: 'Calendar',
        data: sampleCalendar(),
      });
      const updated = await store.updateItem('ada', event.id, {
        class: 'Calendar',
        data: {
          subject: 'Planning v2',
          location: { displayName: 'Room 2' },
          attendees: [{ email: 'carol@example.com', status: 5 }],
          reminder: undefined,
        },
      });
      assert.equal(updated.id, event.id);
      assert.equal(updated.modseq, event.modseq + 1);
      const expected = structuredClone(sampleCalendar());
      expected.subject = 'Planning v2';
      expected.location = { ...expected.location, displayName: 'Room 2' };
      expected.attendees = [{ email: 'carol@example.com', status: 5 }];
      delete expected.reminder;
      assert.deepEqual(updated.data, expected);
      assert.deepEqual(await store.getItem('ada', event.id), updated);
      await rejectsWith(
        store.updateItem('ada', event.id, { class: 'Tasks', data: { complete: true } }),
        'INVALID_ARGUMENT',
        'class-mismatch',
      );
      await rejectsWith(
        store.updateItem('ada', event.id, { class: 'Calendar', data: { startTime: undefined } }),
        'INVALID_ARGUMENT',
        'malformed',
      );
      assert.deepEqual(await store.getItem('ada', event.id), updated, 'a rejected update changes nothing');
      await rejectsWith(store.updateItem('ada', 'missing', { class: 'Notes', data: {} }), 'NOT_FOUND');
    },
  },
  {
    name: 'items: updateItem with expectedModseq fails with ConflictError once the item has changed',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const note = await store.createItem('ada', f.notes.id, { class: 'Notes', data: sampleNote() });
      const first = await store.updateItem(
        'ada',
        note.id,
        { class: 'Notes', data: { subject: 'A' } },
        { expectedModseq: note.modseq },
      );
      await rejectsWith(
        store.updateItem(
          'ada',
          note.id,
          { class: 'Notes', data: { subject: 'B' } },
          { expectedModseq: note.modseq },
        ),
        'CONFLICT',
        'modseq-mismatch',
      );
      assert.deepEqual(await store.getItem('ada', note.id), first);
    },
  },
  {
    name: 'items: deleteItem removes the item and leaves a tombstone',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const a = await store.createItem('ada', f.notes.id, { class: 'Notes', data: sampleNote() });
      const since = await store.currentModseq('ada');
      const { modseq } = await store.deleteItem('ada', a.id);
      assert.equal(modseq, since + 1);
      await rejectsWith(store.getItem('ada', a.id), 'NOT_FOUND');
      await rejectsWith(store.deleteItem('ada', a.id), 'NOT_FOUND');
      const page = await store.changes('ada', f.notes.id, since, 10);
      assert.deepEqual(page.changes, [{ kind: 'delete', itemId: a.id, modseq }]);
      assert.equal(await store.countItems('ada', f.notes.id), 0);
    },
  },
  {
    name: 'items: setReadState and setFlag change only those fields and never rewrite the MIME',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const created = await store.createItem('ada', f.inbox.id, email());
      assert.equal(created.class, 'Email');
      const original = created.class === 'Email' ? created.data : undefined;
      const read = await store.setReadState('ada', created.id, true);
      const flag = { status: 2 as const, flagType: 'Follow up', dueDate: new Date('2025-01-10T00:00:00Z') };
      const flagged = await store.setFlag('ada', created.id, flag);
      assert.equal(flagged.modseq, read.modseq + 1);
      assert.ok(flagged.class === 'Email' && read.class === 'Email');
      assert.equal(read.data.read, true);
      assert.deepEqual(flagged.data, { ...original, read: true, flag });
      assert.deepEqual(Buffer.from(flagged.data.mime), Buffer.from(sampleMime()), 'MIME is byte-identical');
      const cleared = await store.setFlag('ada', created.id, undefined);
      assert.ok(cleared.class === 'Email' && !('flag' in cleared.data));
      const note = await store.createItem('ada', f.notes.id, { class: 'Notes', data: sampleNote() });
      await rejectsWith(store.setReadState('ada', note.id, true), 'INVALID_ARGUMENT', 'class-mismatch');
      await rejectsWith(store.setFlag('ada', note.id, flag), 'INVALID_ARGUMENT', 'class-mismatch');
    },
  },
  {
    name: 'items: moveItem gives a new id, tombstones the source and adds to the destination at one modseq',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const archive = await store.createFolder('ada', { parentId: '0', displayName: 'Archive', type: 12 });
      const item = await store.createItem('ada', f.inbox.id, email());
      const since = await store.currentModseq('ada');
      const moved = await store.moveItem('ada', item.id, archive.id);
      assert.notEqual(moved.id, item.id);
      assert.equal(moved.folderId, archive.id);
      assert.equal(moved.modseq, since + 1);
      assert.equal(await store.currentModseq('ada'), since + 1);
      const strip = (d: StoredItem['data']) => ({ ...(d as EmailData), attachments: undefined });
      assert.deepEqual(strip(moved.data), strip(item.data), 'the content moves unchanged');
      await rejectsWith(store.getItem('ada', item.id), 'NOT_FOUND');
      assert.deepEqual(await store.getItem('ada', moved.id), moved);
      const source = await store.changes('ada', f.inbox.id, since, 10);
      assert.deepEqual(source.changes, [{ kind: 'delete', itemId: item.id, modseq: since + 1 }]);
      const target = await store.changes('ada', archive.id, since, 10);
      assert.deepEqual(target.changes, [{ kind: 'add', itemId: moved.id, modseq: since + 1, item: moved }]);
      // Moving back yields yet another id and an add in the inbox, never a change of the old id.
      const back = await store.moveItem('ada', moved.id, f.inbox.id);
      const again = await store.changes('ada', f.inbox.id, since, 10);
      assert.deepEqual(
        again.changes.map((c) => [c.kind, c.itemId]),
        [
          ['delete', item.id],
          ['add', back.id],
        ],
      );
      assert.equal(await store.countItems('ada', f.inbox.id), 1);
      assert.equal(await store.countItems('ada', archive.id), 0);
    },
  },

  // changes
  {
    name: 'changes: add, change and delete are judged against sinceModseq; each item once per page',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const old1 = await store.createItem('ada', f.inbox.id, quickEmail('old 1'));
      const old2 = await store.createItem('ada', f.inbox.id, quickEmail('old 2'));
      const old3 = await store.createItem('ada', f.inbox.id, quickEmail('old 3'));
      const since = await store.currentModseq('ada');
      const fresh = await store.createItem('ada', f.inbox.id, quickEmail('new'));
      await store.setReadState('ada', old1.id, true);
      const freshRead = await store.setReadState('ada', fresh.id, true);
      const { modseq: deletedAt } = await store.deleteItem('ada', old2.id);
      const ephemeral = await store.createItem('ada', f.inbox.id, quickEmail('ephemeral'));
      await store.deleteItem('ada', ephemeral.id);
      const last = await store.setFlag('ada', old1.id, { status: 2 });
      await store.createItem('ada', f.notes.id, { class: 'Notes', data: sampleNote() }); // another folder

      const page = await store.changes('ada', f.inbox.id, since, 100);
      assert.equal(page.more, false);
      assert.deepEqual(
        page.changes.map((c) => [c.kind, c.itemId, c.modseq]),
        [
          ['add', fresh.id, fresh.modseq],
          ['delete', old2.id, deletedAt],
          ['change', old1.id, last.modseq],
        ],
      );
      const add = page.changes[0]!;
      assert.ok(add.kind === 'add');
      assert.deepEqual(
        add.item,
        freshRead,
        'an add is reported where the item was created, with its current data',
      );
      const change = page.changes[2]!;
      assert.ok(change.kind === 'change');
      assert.deepEqual(change.item, await store.getItem('ada', old1.id));
      assert.ok(!page.changes.some((c) => c.itemId === old3.id), 'untouched items are not reported');
      assert.ok(page.nextModseq >= last.modseq);
      const none = await store.changes('ada', f.inbox.id, page.nextModseq, 100);
      assert.deepEqual([none.changes, none.more], [[], false]);
      assert.ok(none.nextModseq >= page.nextModseq);
      // From a cursor that saw the ephemeral item, its delete is reported.
      const sawIt = await store.changes('ada', f.inbox.id, ephemeral.modseq, 100);
      assert.ok(sawIt.changes.some((c) => c.kind === 'delete' && c.itemId === ephemeral.id));
      await rejectsWith(store.changes('ada', 'missing', 0, 10), 'NOT_FOUND');
      await rejectsWith(store.changes('ada', f.inbox.id, 0, 0), 'INVALID_ARGUMENT');
      await rejectsWith(store.changes('ada', f.inbox.id, -1, 10), 'INVALID_ARGUMENT');
    },
  },
  {
    name: 'changes: pages of `limit` return every change exactly once, in order',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      for (let i = 0; i < 23; i++) await store.createItem('ada', f.inbox.id, quickEmail(`m${i}`));
      const whole = await store.changes('ada', f.inbox.id, 0, 1000);
      assert.equal(whole.changes.length, 23);
      assertAscending(whole.changes);
      const paged = await allChanges(store, 'ada', f.inbox.id, 0, 5);
      assert.equal(paged.pages, 5);
      assert.deepEqual(paged.changes, whole.changes);
      const first = await store.changes('ada', f.inbox.id, 0, 5);
      assert.equal(first.more, true);
      assert.equal(
        first.nextModseq,
        first.changes[4]!.modseq,
        'the cursor stops at the last change returned',
      );
      const exact = await store.changes('ada', f.inbox.id, whole.changes[17]!.modseq, 5);
      assert.equal(exact.changes.length, 5);
      assert.equal(exact.more, false, 'no phantom page when the last page is exactly full');
    },
  },
  {
    name: 'changes: paging under interleaved writes loses nothing and repeats only later changes',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const ids: ItemId[] = [];
      for (let i = 0; i < 30; i++)
        ids.push((await store.createItem('ada', f.inbox.id, quickEmail(`m${i}`))).id);
      const device = await folderSnapshot(store, 'ada', f.inbox.id);
      const initial = new Set(device.keys());
      const strays = new Set<ItemId>();
      const since = await store.currentModseq('ada');
      // Touch everything once so the device has 30 changes to page through.
      for (const id of ids) await store.setReadState('ada', id, true);
      const seen: ItemChange[] = [];
      let cursor = since;
      let round = 0;
      for (;;) {
        const page = await store.changes('ada', f.inbox.id, cursor, 4);
        assertAscending(page.changes);
        replay(device, page.changes, strays);
        seen.push(...page.changes);
        cursor = page.nextModseq;
        if (!page.more) break;
        // Writes between pages: an item already sent, one not yet sent, a new item, deletes on both sides, a
        // move out and a move in.
        round++;
        const sent = seen.filter((c) => c.kind !== 'delete').map((c) => c.itemId);
        const live = [...(await folderSnapshot(store, 'ada', f.inbox.id)).keys()];
        const pending = live.filter((id) => !sent.includes(id));
        const sentLive = live.filter((id) => sent.includes(id));
        if (sentLive[0]) await store.setFlag('ada', sentLive[0], { status: 2, flagType: `round ${round}` });
        if (pending[0])
          await store.updateItem('ada', pending[0], { class: 'Email', data: { subject: `r${round}` } });
        await store.createItem('ada', f.inbox.id, quickEmail(`added in round ${round}`));
        if (round % 2 === 0 && pending[1]) await store.deleteItem('ada', pending[1]);
        if (round % 3 === 0 && sentLive[1]) await store.deleteItem('ada', sentLive[1]);
        if (round === 2 && pending[2]) await store.moveItem('ada', pending[2], f.sent.id);
        if (round === 3) {
          const other = await store.createItem('ada', f.sent.id, quickEmail('moved in'));
          await store.moveItem('ada', other.id, f.inbox.id);
        }
        assert.ok(round < 200, 'paging terminates');
      }
      assert.ok(round >= 5, 'the check interleaved writes between several pages');
      const final = await folderSnapshot(store, 'ada', f.inbox.id);
      sameItems(device, final);
      vetStrayDeletes(strays, initial, final);
      // An id reported twice must have changed again after it was first reported.
      const lastModseq = new Map<ItemId, Modseq>();
      for (const c of seen) {
        const previous = lastModseq.get(c.itemId);
        if (previous !== undefined)
          assert.ok(c.modseq > previous, `${c.itemId} repeated without a later write`);
        lastModseq.set(c.itemId, c.modseq);
      }
    },
  },
  {
    name: 'changes: concurrent writers and a paging reader agree with the final folder',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const ids: ItemId[] = [];
      for (let i = 0; i < 20; i++)
        ids.push((await store.createItem('ada', f.inbox.id, quickEmail(`m${i}`))).id);
      const device = await folderSnapshot(store, 'ada', f.inbox.id);
      const initial = new Set(device.keys());
      const strays = new Set<ItemId>();
      let cursor = await store.currentModseq('ada');
      const writers = Promise.all(
        ids.map(async (id, i) => {
          if (i % 4 === 0) await store.deleteItem('ada', id);
          else if (i % 4 === 1) await store.moveItem('ada', id, f.sent.id);
          else await store.setReadState('ada', id, true);
          await store.createItem('ada', f.inbox.id, quickEmail(`c${i}`));
        }),
      );
      const reader = (async () => {
        for (let i = 0; i < 10; i++) {
          const page = await store.changes('ada', f.inbox.id, cursor, 3);
          replay(device, page.changes, strays);
          cursor = page.nextModseq;
        }
      })();
      await Promise.all([writers, reader]);
      const rest = await allChanges(store, 'ada', f.inbox.id, cursor, 3);
      replay(device, rest.changes, strays);
      const final = await folderSnapshot(store, 'ada', f.inbox.id);
      sameItems(device, final);
      vetStrayDeletes(strays, initial, final);
    },
  },
  {
    name: 'pollChanges: agrees with folderChanges and changes(…, 1) at every cursor',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const archive = await store.createFolder('ada', { parentId: '0', displayName: 'Archive', type: 12 });
      const doomed = await store.createFolder('ada', { parentId: '0', displayName: 'Doomed', type: 12 });
      const kept = await store.createItem('ada', f.inbox.id, quickEmail('kept'));
      const moved = await store.createItem('ada', f.inbox.id, quickEmail('moved'));
      await store.createItem('ada', doomed.id, quickEmail('in the doomed folder'));
      await store.setReadState('ada', kept.id, true);
      await store.moveItem('ada', moved.id, archive.id);
      const ephemeral = await store.createItem('ada', f.inbox.id, quickEmail('ephemeral'));
      await store.deleteItem('ada', ephemeral.id);
      await store.updateFolder('ada', archive.id, { displayName: 'Archive 2' });
      await store.deleteFolder('ada', doomed.id);
      await store.createItem('ada', f.notes.id, { class: 'Notes', data: sampleNote() });
      await store.setFlag('ada', kept.id, { status: 2 });

      const folderIds = [f.inbox.id, archive.id, doomed.id, f.notes.id, f.calendar.id, 'no-such-folder'];
      const current = await store.currentModseq('ada');
      for (let since = 0; since <= current + 1; since++) {
        const folders = folderIds.map((folderId, index) => ({
          folderId,
          sinceModseq: (since + index) % (current + 2),
        }));
        const expected: PollResult = { hierarchyChanged: false, folders: [] };
        const hierarchy = await store.folderChanges('ada', since);
        expected.hierarchyChanged =
          hierarchy.added.length + hierarchy.changed.length + hierarchy.deleted.length > 0;
        for (const { folderId, sinceModseq } of folders) {
          try {
            const page = await store.changes('ada', folderId, sinceModseq, 1);
            expected.folders.push(page.changes.length > 0 ? 'changed' : 'unchanged');
          } catch (error) {
            assert.equal((error as { code?: unknown }).code, 'NOT_FOUND');
            expected.folders.push('gone');
          }
        }
        assert.deepEqual(
          await pollChanges(store, 'ada', { hierarchySince: since, folders }),
          expected,
          `cursors from ${since}`,
        );
        assert.deepEqual(await pollChanges(store, 'ada', { folders }), { folders: expected.folders });
      }
      assert.deepEqual(await pollChanges(store, 'ada', { folders: [] }), { folders: [] });
      await rejectsWith(
        pollChanges(store, 'nobody', { folders: [{ folderId: f.inbox.id, sinceModseq: 0 }] }),
        'NOT_FOUND',
      );
      await rejectsWith(
        pollChanges(store, 'ada', { folders: [{ folderId: f.inbox.id, sinceModseq: -1 }] }),
        'INVALID_ARGUMENT',
      );
      await rejectsWith(pollChanges(store, 'ada', { hierarchySince: -1, folders: [] }), 'INVALID_ARGUMENT');
    },
  },
  {
    name: 'changes: a 10,000-item folder answers a few recent edits with exactly those edits',
    capability: 'largeFolders',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const ids: ItemId[] = [];
      for (let i = 0; i < 10_000; i++) {
        const item = await store.createItem('ada', f.notes.id, {
          class: 'Notes',
          data: { subject: `note ${i}`, body: { type: 'plain', data: `body ${i}` } },
        });
        ids.push(item.id);
      }
      const before = await store.currentModseq('ada');
      // The last five writes: two updates, a delete, a create and a move out.
      await store.updateItem('ada', ids[10]!, { class: 'Notes', data: { subject: 'edited 10' } });
      await store.updateItem('ada', ids[9_999]!, { class: 'Notes', data: { subject: 'edited 9999' } });
      await store.deleteItem('ada', ids[500]!);
      const created = await store.createItem('ada', f.notes.id, { class: 'Notes', data: { subject: 'new' } });
      const otherNotes = await store.createFolder('ada', {
        parentId: '0',
        displayName: 'More notes',
        type: 17,
      });
      const since = await store.currentModseq('ada');
      await store.moveItem('ada', ids[7_000]!, otherNotes.id);
      const expected = [
        ['change', ids[10]],
        ['change', ids[9_999]],
        ['delete', ids[500]],
        ['add', created.id],
        ['delete', ids[7_000]],
      ];
      const page = await store.changes('ada', f.notes.id, before, 1000);
      assert.deepEqual(
        page.changes.map((c) => [c.kind, c.itemId]),
        expected,
      );
      assert.equal(page.more, false);
      const small = await store.changes('ada', f.notes.id, before, 2);
      assert.deepEqual(
        small.changes.map((c) => [c.kind, c.itemId]),
        expected.slice(0, 2),
      );
      assert.equal(small.more, true);
      const latest = await store.changes('ada', f.notes.id, since, 1000);
      assert.deepEqual(
        latest.changes.map((c) => [c.kind, c.itemId]),
        [['delete', ids[7_000]]],
      );
      assert.equal(await store.countItems('ada', f.notes.id), 9_999);
      const initial = await store.changes('ada', f.notes.id, 0, 100);
      assert.equal(initial.changes.length, 100);
      assert.equal(initial.more, true);
    },
  },

  // Isolation
  {
    name: "isolation: another user's folders, items and attachments are NotFound and never leak",
    async run({ store }) {
      const a = await setUpUser(store, 'ada');
      const item = await store.createItem('ada', a.inbox.id, email());
      const ref = item.class === 'Email' ? item.data.attachments![0]!.fileReference : '';
      await store.createUser({ id: 'bob', primarySmtpAddress: 'bob@example.com' });
      await rejectsWith(store.getFolder('bob', a.inbox.id), 'NOT_FOUND');
      await rejectsWith(store.getItem('bob', item.id), 'NOT_FOUND');
      await rejectsWith(store.readAttachment('bob', ref), 'NOT_FOUND');
      await rejectsWith(store.changes('bob', a.inbox.id, 0, 10), 'NOT_FOUND');
      await rejectsWith(store.createItem('bob', a.inbox.id, email()), 'NOT_FOUND');
      await rejectsWith(store.deleteItem('bob', item.id), 'NOT_FOUND');
      await rejectsWith(store.setReadState('bob', item.id, true), 'NOT_FOUND');
      await rejectsWith(store.readBody('bob', item.id, { type: 'plain' }), 'NOT_FOUND');
      await rejectsWith(store.countItems('bob', a.inbox.id), 'NOT_FOUND');
      assert.deepEqual(await store.listFolders('bob'), []);
      assert.equal(await store.currentModseq('bob'), 0);
      const b = await store.createFolder('bob', { parentId: '0', displayName: 'Inbox', type: 2 });
      if (b.id !== a.inbox.id) {
        await rejectsWith(store.moveItem('ada', item.id, b.id), 'NOT_FOUND');
        await rejectsWith(
          store.createFolder('ada', { parentId: b.id, displayName: 'X', type: 12 }),
          'NOT_FOUND',
        );
      }
      const bobItem = await store.createItem('bob', b.id, email());
      const bobChanges = await store.changes('bob', b.id, 0, 100);
      assert.deepEqual(
        bobChanges.changes.map((c) => c.itemId),
        [bobItem.id],
      );
      const adaChanges = await store.changes('ada', a.inbox.id, 0, 100);
      assert.deepEqual(
        adaChanges.changes.map((c) => c.itemId),
        [item.id],
      );
      assert.deepEqual(await store.getItem('ada', item.id), item);
    },
  },

  // Bodies
  {
    name: 'bodies: plain, HTML and MIME come from the raw message',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const item = await store.createItem('ada', f.inbox.id, email());
      const plain = await store.readBody('ada', item.id, { type: 'plain' });
      assert.deepEqual(plain, {
        type: 'plain',
        data: SAMPLE_PLAIN,
        estimatedSize: bytes(SAMPLE_PLAIN),
        truncated: false,
        nativeType: 'html',
      });
      const html = await store.readBody('ada', item.id, { type: 'html' });
      assert.deepEqual(html, {
        type: 'html',
        data: SAMPLE_HTML,
        estimatedSize: bytes(SAMPLE_HTML),
        truncated: false,
        nativeType: 'html',
      });
      const mime = await store.readBody('ada', item.id, { type: 'mime' });
      assert.equal(mime.type, 'mime');
      assert.deepEqual(Buffer.from(mime.data as Uint8Array), Buffer.from(sampleMime()));
      assert.equal(mime.estimatedSize, sampleMime().byteLength);
      assert.equal(mime.truncated, false);
      // A text-only message: plain is native, HTML is derived from it.
      const simple = await store.createItem('ada', f.inbox.id, quickEmail('just text'));
      const derived = await store.readBody('ada', simple.id, { type: 'html' });
      assert.equal(derived.nativeType, 'plain');
      assert.ok(typeof derived.data === 'string' && derived.data.includes('just text'));
      await rejectsWith(
        store.readBody('ada', item.id, { type: 'rtf' }),
        'INVALID_ARGUMENT',
        'unsupported-body-type',
      );
      await rejectsWith(store.readBody('ada', 'missing', { type: 'plain' }), 'NOT_FOUND');
    },
  },
  {
    name: 'bodies: truncation cuts on a UTF-8 character boundary and reports the full size',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const text = 'añ✓𝄞end'; // 1 + 2 + 3 + 4 + 3 bytes
      const item = await store.createItem('ada', f.inbox.id, {
        class: 'Email',
        data: sampleEmail({ mime: plainMime(text) }),
      });
      const whole = await store.readBody('ada', item.id, { type: 'plain' });
      assert.ok(typeof whole.data === 'string' && whole.data.trimEnd() === text);
      const full = bytes(whole.data);
      assert.equal(whole.estimatedSize, full);
      const expectations: Array<[number, string]> = [
        [0, ''],
        [1, 'a'],
        [2, 'a'],
        [3, 'añ'],
        [5, 'añ'],
        [6, 'añ✓'],
        [9, 'añ✓'],
        [10, 'añ✓𝄞'],
        [11, 'añ✓𝄞e'],
        [12, 'añ✓𝄞en'],
      ];
      for (const [max, expected] of expectations) {
        const body = await store.readBody('ada', item.id, { type: 'plain', truncateBytes: max });
        assert.equal(body.data, expected, `truncated to ${max} bytes`);
        assert.equal(body.truncated, true);
        assert.equal(body.estimatedSize, full);
      }
      for (const max of [full, full + 100]) {
        const body = await store.readBody('ada', item.id, { type: 'plain', truncateBytes: max });
        assert.deepEqual([body.data, body.truncated, body.estimatedSize], [whole.data, false, full]);
      }
      const mime = await store.readBody('ada', item.id, { type: 'mime', truncateBytes: 20 });
      assert.ok(mime.truncated && (mime.data as Uint8Array).byteLength <= 20);
      await rejectsWith(
        store.readBody('ada', item.id, { type: 'plain', truncateBytes: -1 }),
        'INVALID_ARGUMENT',
      );
    },
  },
  {
    name: 'bodies: other classes serve their stored body, converted between plain and HTML',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const note = await store.createItem('ada', f.notes.id, { class: 'Notes', data: sampleNote() });
      const plain = await store.readBody('ada', note.id, { type: 'plain' });
      assert.deepEqual(
        [plain.data, plain.nativeType, plain.truncated],
        [sampleNote().body!.data, 'plain', false],
      );
      const html = await store.readBody('ada', note.id, { type: 'html' });
      assert.ok(
        typeof html.data === 'string' && html.data.includes('&lt;two&gt; &amp; three'),
        'text is escaped',
      );
      const event = await store.createItem('ada', f.calendar.id, {
        class: 'Calendar',
        data: sampleCalendar(),
      });
      const eventText = await store.readBody('ada', event.id, { type: 'plain', truncateBytes: 8 });
      assert.deepEqual(
        [eventText.data, eventText.nativeType, eventText.truncated, eventText.estimatedSize],
        ['Agenda: ', 'html', true, bytes('Agenda: budget & plans')],
      );
      const bare = await store.createItem('ada', f.tasks.id, {
        class: 'Tasks',
        data: { complete: false, subject: 'no body' },
      });
      const empty = await store.readBody('ada', bare.id, { type: 'plain' });
      assert.deepEqual([empty.data, empty.estimatedSize, empty.truncated], ['', 0, false]);
      await rejectsWith(
        store.readBody('ada', note.id, { type: 'mime' }),
        'INVALID_ARGUMENT',
        'unsupported-body-type',
      );
    },
  },
  {
    name: 'bodies: compressed RTF bodies are kept and served as stored',
    capability: 'rtfBodies',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const rtf = 'LAAAAB0AAABMWkZ1AAAAAAAAAAA=';
      const contact = await store.createItem('ada', f.contacts.id, {
        class: 'Contacts',
        data: sampleContact({ body: { type: 'rtf', data: rtf } }),
      });
      const body = await store.readBody('ada', contact.id, { type: 'rtf' });
      assert.deepEqual([body.type, body.data, body.nativeType], ['rtf', rtf, 'rtf']);
      await rejectsWith(
        store.readBody('ada', contact.id, { type: 'plain' }),
        'INVALID_ARGUMENT',
        'unsupported-body-type',
      );
    },
  },

  // Attachments
  {
    name: 'attachments: metadata is derived from the MIME and the bytes are read by reference',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      const bogus = [{ fileReference: 'x', displayName: 'fake', method: 1 as const, estimatedDataSize: 1 }];
      const item = await store.createItem('ada', f.inbox.id, email({ attachments: bogus }));
      assert.ok(item.class === 'Email');
      const atts = item.data.attachments ?? [];
      assert.deepEqual(
        atts.map((a) => [a.displayName, a.method, a.estimatedDataSize, a.contentType, a.isInline === true]),
        [
          ['logo.png', 1, SAMPLE_PNG.byteLength, 'image/png', true],
          ['report.pdf', 1, SAMPLE_PDF.byteLength, 'application/pdf', false],
          [atts[2]?.displayName, 5, atts[2]?.estimatedDataSize, 'message/rfc822', false],
        ],
      );
      assert.equal(atts[0]!.contentId, 'logo@example');
      assert.equal(new Set(atts.map((a) => a.fileReference)).size, 3, 'references are distinct');
      const logo = await store.readAttachment('ada', atts[0]!.fileReference);
      assert.deepEqual(logo, { contentType: 'image/png', fileName: 'logo.png', data: SAMPLE_PNG });
      const pdf = await store.readAttachment('ada', atts[1]!.fileReference);
      assert.deepEqual(pdf, { contentType: 'application/pdf', fileName: 'report.pdf', data: SAMPLE_PDF });
      const inner = await store.readAttachment('ada', atts[2]!.fileReference);
      assert.ok(new TextDecoder().decode(inner.data).includes('inner body'));
      await rejectsWith(store.readAttachment('ada', 'no-such-reference'), 'NOT_FOUND');
      // Flags do not disturb attachments; a moved message's attachments are readable under its new references.
      await store.setReadState('ada', item.id, true);
      const moved = await store.moveItem('ada', item.id, f.sent.id);
      assert.ok(moved.class === 'Email');
      const movedRef = moved.data.attachments![1]!.fileReference;
      assert.deepEqual((await store.readAttachment('ada', movedRef)).data, SAMPLE_PDF);
      // Replacing the MIME replaces the attachments.
      const replaced = await store.updateItem('ada', moved.id, {
        class: 'Email',
        data: { mime: plainMime('no files') },
      });
      assert.ok(replaced.class === 'Email');
      assert.deepEqual(replaced.data.attachments ?? [], []);
      await rejectsWith(store.readAttachment('ada', movedRef), 'NOT_FOUND');
    },
  },

  // Counting
  {
    name: 'countItems: by received/end time, class and completeness',
    async run({ store }) {
      const f = await setUpUser(store, 'ada');
      for (const day of ['2025-01-01', '2025-01-10', '2025-01-20']) {
        await store.createItem('ada', f.inbox.id, quickEmail(day, new Date(`${day}T12:00:00Z`)));
      }
      assert.equal(await store.countItems('ada', f.inbox.id), 3);
      assert.equal(await store.countItems('ada', f.inbox.id, { since: new Date('2025-01-10T12:00:00Z') }), 2);
      assert.equal(await store.countItems('ada', f.inbox.id, { since: new Date('2025-02-01T00:00:00Z') }), 0);
      assert.equal(await store.countItems('ada', f.inbox.id, { classes: ['Calendar'] }), 0);
      assert.equal(await store.countItems('ada', f.inbox.id, { classes: ['Email'] }), 3);
      const single = (start: string, end: string) =>
        store.createItem('ada', f.calendar.id, {
          class: 'Calendar',
          data: sampleCalendar({ startTime: new Date(start), endTime: new Date(end), recurrence: undefined }),
        });
      await single('2025-01-01T09:00:00Z', '2025-01-01T10:00:00Z');
      await single('2025-03-01T09:00:00Z', '2025-03-01T10:00:00Z');
      await store.createItem('ada', f.calendar.id, { class: 'Calendar', data: sampleCalendar() }); // recurring
      const cutoff = new Date('2025-02-15T00:00:00Z');
      assert.equal(await store.countItems('ada', f.calendar.id), 3);
      assert.equal(
        await store.countItems('ada', f.calendar.id, { since: cutoff }),
        2,
        'later event + open series',
      );
      await store.createItem('ada', f.tasks.id, { class: 'Tasks', data: sampleTask() });
      await store.createItem('ada', f.tasks.id, { class: 'Tasks', data: sampleTask({ complete: true }) });
      assert.equal(await store.countItems('ada', f.tasks.id), 2);
      assert.equal(await store.countItems('ada', f.tasks.id, { incompleteOnly: true }), 1);
      await rejectsWith(store.countItems('ada', 'missing'), 'NOT_FOUND');
    },
  },
];

/**
 * Registers one vitest test per check. Each check gets a fresh store from `create`; checks whose capability is
 * switched off are registered as skipped, with the capability in the title.
 */
export function runMailboxConformance(options: MailboxConformanceOptions): void {
  const capabilities = options.capabilities ?? {};
  describe(`MailboxStore conformance: ${options.name}`, () => {
    for (const check of mailboxChecks) {
      const supported = check.capability === undefined || capabilities[check.capability] !== false;
      if (!supported) {
        it.skip(`${check.name} (needs capability ${check.capability})`, () => {});
        continue;
      }
      it(
        check.name,
        async () => {
          const store = await options.create();
          try {
            await check.run({ store });
          } finally {
            await options.cleanup?.(store);
          }
        },
        options.timeoutMs ?? 60_000,
      );
    }
  });
}

export {
  type MailboxSearchCheck,
  type MailboxSearchCheckContext,
  type MailboxSearchConformanceOptions,
  mailboxSearchChecks,
  runMailboxSearchConformance,
} from './search-conformance.js';
