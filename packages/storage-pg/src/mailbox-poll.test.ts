import { FolderType, pollChanges, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { reportingDatabase } from '../test/counting.js';
import { freshPGlite, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { fastPostgres, MAILBOX_TABLES } from '../test/mailbox-databases.js';
import { PgMailboxStore } from './mailbox-store.js';

/**
 * pollChanges beyond the conformance suite (which checks its answers at every cursor): one statement whatever
 * the number of folders, and ids no folder can have cost nothing.
 */
function suite(open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  const seen = { statements: 0 };
  let store: PgMailboxStore;

  beforeAll(async () => {
    target = await open();
    const counting = reportingDatabase(target.database, () => {
      seen.statements++;
    });
    store = new PgMailboxStore({ database: counting });
  });
  afterAll(async () => target?.close());
  beforeEach(async () => {
    await target.database.exec(`TRUNCATE ${MAILBOX_TABLES}`);
    await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
  });

  it('answers the hierarchy and every folder in one statement', async () => {
    const inbox = await store.createFolder('ada', {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Inbox',
      type: FolderType.Inbox,
    });
    const calendar = await store.createFolder('ada', {
      parentId: ROOT_FOLDER_ID,
      displayName: 'Calendar',
      type: FolderType.Calendar,
    });
    const since = await store.currentModseq('ada');
    await store.createItem('ada', inbox.id, {
      class: 'Email',
      data: {
        mime: new TextEncoder().encode('Subject: hi\r\n\r\nhello\r\n'),
        subject: 'hi',
        dateReceived: new Date('2026-01-01T00:00:00Z'),
        read: false,
        messageClass: 'IPM.Note',
      },
    });
    seen.statements = 0;
    const folders = [inbox.id, calendar.id, 'f999999', 'not-an-id'].map((folderId) => ({
      folderId,
      sinceModseq: since,
    }));
    expect(await pollChanges(store, 'ada', { hierarchySince: since, folders })).toEqual({
      hierarchyChanged: false,
      folders: ['changed', 'unchanged', 'gone', 'gone'],
    });
    expect(seen.statements).toBe(1);

    seen.statements = 0;
    expect(await store.pollChanges('ada', { folders: [{ folderId: 'not-an-id', sinceModseq: 0 }] })).toEqual({
      folders: ['gone'],
    });
    expect(seen.statements).toBe(1); // the user is still checked
  });
}

describe('PgMailboxStore.pollChanges on PGlite', () => suite(() => freshPGlite()));

describe.runIf(await postgresAvailable())('PgMailboxStore.pollChanges on PostgreSQL', () =>
  suite(() => fastPostgres('poll_changes')),
);
