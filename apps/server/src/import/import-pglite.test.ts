import { fileURLToPath } from 'node:url';
import { FolderType, type MailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { createPgMailboxStore, type Database, migrate, pgliteDatabase } from '@easkit/storage-pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from './import.js';

/*
 * The same import on the server's default store (PostgreSQL's SQL on embedded PGlite, in memory): what comes
 * back from the database must be recognised as already imported, so a second run adds nothing.
 */

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/import/', import.meta.url));
let database: Database;
let mailbox: MailboxStore;

beforeAll(async () => {
  database = await pgliteDatabase();
  await migrate(database);
  mailbox = createPgMailboxStore({ database });
  await mailbox.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
  for (const [displayName, type] of [
    ['Inbox', FolderType.Inbox],
    ['Calendar', FolderType.Calendar],
    ['Contacts', FolderType.Contacts],
    ['Tasks', FolderType.Tasks],
  ] as const) {
    await mailbox.createFolder('ada', { parentId: ROOT_FOLDER_ID, displayName, type });
  }
}, 60_000);

afterAll(async () => {
  await database?.close();
});

describe('importFiles on PgMailboxStore (PGlite)', () => {
  it('imports every format once, and nothing the second time', async () => {
    const paths = ['archive.mbox', 'message.eml', 'calendar.ics', 'contacts.vcf'].map(
      (name) => FIXTURES + name,
    );
    const first = await importFiles({ mailbox, user: 'ada', paths });
    expect(first.counts).toEqual({
      Email: { imported: 4, skipped: 2 },
      Calendar: { imported: 3, skipped: 1 },
      Contacts: { imported: 3, skipped: 2 },
      Tasks: { imported: 3, skipped: 0 },
    });
    const second = await importFiles({ mailbox, user: 'ada', paths });
    expect(second.counts).toEqual({
      Email: { imported: 0, skipped: 6 },
      Calendar: { imported: 0, skipped: 4 },
      Contacts: { imported: 0, skipped: 5 },
      Tasks: { imported: 0, skipped: 3 },
    });
    expect(second.skipped.filter((event) => event.code === 'duplicate')).toHaveLength(13);
  });
});
