import { IndexedMailboxSearch, UserDirectory } from '@easkit/mailbox';
import { runMailboxSearchConformance } from '@easkit/mailbox/conformance';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { PgMailboxStore } from './mailbox-store.js';

describe('PgMailboxStore.listUsers and the GAL over it (PGlite)', () => {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await freshPGlite();
  }, 120_000);
  afterAll(() => target.close());

  it('lists every user, sorted by id, and a UserDirectory finds them by prefix', async () => {
    const store = new PgMailboxStore({ database: target.database });
    await store.createUser({
      id: 'zoe@example.com',
      primarySmtpAddress: 'zoe@example.com',
      displayName: 'Zoe Adams',
    });
    await store.createUser({
      id: 'abe@example.com',
      primarySmtpAddress: 'abe@example.com',
      aliases: ['abraham@example.org'],
      displayName: 'Abe Zimmer',
    });
    const users = await store.listUsers();
    expect(users.map((user) => user.id)).toEqual(['abe@example.com', 'zoe@example.com']);
    expect(users[0]?.aliases).toEqual(['abraham@example.org']);
    const directory = new UserDirectory({ users: store });
    const found = await directory.search('abra', { limit: 10 });
    expect(found.entries.map((entry) => entry.emailAddress)).toEqual(['abe@example.com']);
  });
});

// Mailbox search over this store: the in-memory index kept up to date from the store's change feed. On
// PostgreSQL only: every check needs an empty store, and a database is far cheaper to create than a PGlite.
const databases: TestDatabase[] = [];
let created = 0;
if (await postgresAvailable()) {
  runMailboxSearchConformance({
    name: 'IndexedMailboxSearch over PgMailboxStore (PostgreSQL)',
    create: async () => {
      const target = await freshPostgres(`mailbox_search_${created++}`);
      databases.push(target);
      const store = new PgMailboxStore({ database: target.database });
      return { store, search: new IndexedMailboxSearch(store) };
    },
    cleanup: async () => {
      await databases.pop()?.close();
    },
  });
}
