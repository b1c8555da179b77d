import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPGlite, freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import type { Database } from './database.js';
import { migrate } from './migrate.js';

const sample = [
  { id: '0001_first', sql: 'CREATE TABLE sample_a (id int PRIMARY KEY); CREATE TABLE sample_b (id int);' },
  { id: '0002_second', sql: 'ALTER TABLE sample_b ADD COLUMN name text;' },
];

function migrationSuite(open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  let database: Database;
  beforeAll(async () => {
    target = await open();
    database = target.database;
  });
  afterAll(async () => target?.close());

  it('applies migrations once, in order, and records them', async () => {
    expect(await migrate(database, sample)).toEqual({ applied: ['0001_first', '0002_second'], skipped: [] });
    expect(await migrate(database, sample)).toEqual({ applied: [], skipped: ['0001_first', '0002_second'] });
    await database.query('INSERT INTO sample_b (id, name) VALUES ($1, $2)', [1, 'x']);
  });

  it('leaves the schema unchanged when a migration fails', async () => {
    const broken = [
      ...sample,
      { id: '0003_broken', sql: 'CREATE TABLE sample_c (id int); SELECT * FROM nope;' },
    ];
    await expect(migrate(database, broken)).rejects.toThrow();
    const tables = await database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name = 'sample_c'",
    );
    expect(tables.rows[0]?.n).toBe(0);
  });

  it('refuses migrations out of order', async () => {
    await expect(migrate(database, [sample[1], sample[0]] as typeof sample)).rejects.toThrow(/out of order/);
  });

  it('rolls back a transaction whose callback throws', async () => {
    await expect(
      database.transaction(async (tx) => {
        await tx.query('INSERT INTO sample_a (id) VALUES (1)');
        throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect((await database.query('SELECT * FROM sample_a')).rows).toEqual([]);
  });

  it('delivers NOTIFY to listeners and stops after close', async () => {
    const seen: string[] = [];
    const listening = await database.listen('easkit_test_channel', (payload) => seen.push(payload));
    await database.query("SELECT pg_notify('easkit_test_channel', 'hello')");
    await until(() => seen.length === 1);
    await listening.close();
    await database.query("SELECT pg_notify('easkit_test_channel', 'again')");
    await database.query('SELECT 1');
    expect(seen).toEqual(['hello']);
  });
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('migrate on PGlite', () => migrationSuite(() => freshPGlite({ migrate: false })));

describe.runIf(await postgresAvailable())('migrate on PostgreSQL', () => {
  migrationSuite(() => freshPostgres('migrate', { migrate: false }));

  it('lets parallel instances migrate without racing', async () => {
    const target = await freshPostgres('migrate_parallel', { migrate: false });
    try {
      const results = await Promise.all([1, 2, 3].map(() => migrate(target.database, sample)));
      expect(results.flatMap((result) => result.applied).sort()).toEqual(['0001_first', '0002_second']);
    } finally {
      await target.close();
    }
  });
});
