import { type Folder, FolderType, MemoryMailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reportingDatabase } from '../test/counting.js';
import { freshPGlite, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { fastPostgres, MAILBOX_TABLES } from '../test/mailbox-databases.js';
import { PgMailboxStore } from './mailbox-store.js';

/**
 * folderChanges beyond the conformance suite: it returns the folders written after the modseq, not the whole
 * tree, in one statement, and still sends new folders parents first when their ancestors did not change.
 */

const STANDARD: readonly [string, FolderType][] = [
  ['Inbox', FolderType.Inbox],
  ['Drafts', FolderType.Drafts],
  ['Deleted Items', FolderType.DeletedItems],
  ['Sent Items', FolderType.SentItems],
  ['Outbox', FolderType.Outbox],
  ['Tasks', FolderType.Tasks],
  ['Calendar', FolderType.Calendar],
  ['Contacts', FolderType.Contacts],
  ['Notes', FolderType.Notes],
  ['Journal', FolderType.Journal],
  ['Suggested Contacts', FolderType.RecipientInformationCache],
  ['Archive', FolderType.UserMail],
];

function suite(open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  /** Statements and rows returned, counted since the last reset. */
  const seen = { statements: 0, rows: 0 };
  let store: PgMailboxStore;

  beforeAll(async () => {
    target = await open();
    const counting = reportingDatabase(target.database, (result) => {
      seen.statements++;
      seen.rows += result.rows.length;
    });
    store = new PgMailboxStore({ database: counting });
  });
  afterAll(async () => target?.close());
  beforeEach(async () => {
    await target.database.exec(`TRUNCATE ${MAILBOX_TABLES}`);
    await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
  });

  const create = (displayName: string, type: FolderType, parentId = ROOT_FOLDER_ID) =>
    store.createFolder('ada', { parentId, displayName, type });
  const counted = async <T>(work: () => Promise<T>): Promise<T> => {
    seen.statements = 0;
    seen.rows = 0;
    return work();
  };

  it('returns only what was written after the modseq, in one statement', async () => {
    const folders: Folder[] = [];
    for (const [name, type] of STANDARD) folders.push(await create(name, type));
    const since = await store.currentModseq('ada');

    const none = await counted(() => store.folderChanges('ada', since));
    expect(none).toEqual({ added: [], changed: [], deleted: [], modseq: since });
    // The user's row only: none of the twelve folders.
    expect(seen).toEqual({ statements: 1, rows: 1 });

    const archive = folders.at(-1)!;
    await store.updateFolder('ada', archive.id, { displayName: 'Old mail' });
    const fresh = await create('Projects', FolderType.UserMail);
    const doomed = await create('Doomed', FolderType.UserMail);
    await store.deleteFolder('ada', doomed.id);
    const delta = await counted(() => store.folderChanges('ada', since));
    expect(delta.added).toEqual([fresh]);
    expect(delta.changed).toEqual([{ ...archive, displayName: 'Old mail' }]);
    expect(delta.deleted).toEqual([]);
    // The renamed folder, the new one and the user's row.
    expect(seen).toEqual({ statements: 1, rows: 3 });

    const all = await store.folderChanges('ada', 0);
    expect(all.added.map((folder) => folder.displayName)).toHaveLength(STANDARD.length + 1);
  });

  it('sends new folders parents first when an unchanged folder lies between them', async () => {
    const memory = new MemoryMailboxStore();
    await memory.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
    const both = async (displayName: string, parent?: { pg: Folder; memory: Folder }) => ({
      pg: await create(displayName, FolderType.UserMail, parent?.pg.id),
      memory: await memory.createFolder('ada', {
        parentId: parent?.memory.id ?? ROOT_FOLDER_ID,
        displayName,
        type: FolderType.UserMail,
      }),
    });
    const outer = await both('Outer');
    const inner = await both('Inner', outer);
    const since = { pg: await store.currentModseq('ada'), memory: await memory.currentModseq('ada') };

    // Created before its new ancestor: its depth comes from the unchanged Inner and the moved Outer.
    const leaf = await both('Leaf', inner);
    const top = await both('Top');
    await store.updateFolder('ada', outer.pg.id, { parentId: top.pg.id });
    await memory.updateFolder('ada', outer.memory.id, { parentId: top.memory.id });

    const pg = await store.folderChanges('ada', since.pg);
    const reference = await memory.folderChanges('ada', since.memory);
    expect(pg.added.map((folder) => folder.displayName)).toEqual(['Top', 'Leaf']);
    expect(reference.added.map((folder) => folder.displayName)).toEqual(['Top', 'Leaf']);
    expect(pg.added[1]).toEqual(leaf.pg);
    expect(pg.changed).toEqual([{ ...outer.pg, parentId: top.pg.id }]);
  });
}

describe('PgMailboxStore.folderChanges on PGlite', () => suite(() => freshPGlite()));

describe.runIf(await postgresAvailable())('PgMailboxStore.folderChanges on PostgreSQL', () =>
  suite(() => fastPostgres('folder_changes')),
);
