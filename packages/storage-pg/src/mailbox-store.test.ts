import { runMailboxConformance } from '@easkit/mailbox/conformance';
import { afterAll, beforeAll, describe } from 'vitest';
import { freshPGlite, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { fastPostgres, MAILBOX_TABLES } from '../test/mailbox-databases.js';
import { PgMailboxStore } from './mailbox-store.js';

/** Every check starts from empty mailbox tables: the checks of one suite run one after the other on one database. */
function suite(name: string, open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  beforeAll(async () => {
    target = await open();
  });
  afterAll(async () => target?.close());
  runMailboxConformance({
    name,
    create: async () => {
      await target.database.exec(`TRUNCATE ${MAILBOX_TABLES}`);
      return new PgMailboxStore({ database: target.database });
    },
  });
}

describe('PgMailboxStore on PGlite', () => suite('PGlite', () => freshPGlite()));

describe.runIf(await postgresAvailable())('PgMailboxStore on PostgreSQL', () =>
  suite('PostgreSQL', () => fastPostgres('mailbox')),
);
