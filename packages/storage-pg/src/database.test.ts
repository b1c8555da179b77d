import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { postgresDatabase } from './database.js';

const available = await postgresAvailable();

describe.skipIf(!available)('postgresDatabase prepared statements', () => {
  let target: TestDatabase;
  let single: pg.Pool;
  beforeAll(async () => {
    target = await freshPostgres('database_prepared', { migrate: false });
    // One connection, so that every statement below runs where pg_prepared_statements can see it.
    single = new pg.Pool({ connectionString: target.url, max: 1 });
  });
  afterAll(async () => {
    await single?.end();
    await target?.close();
  });

  const prepared = async (database: ReturnType<typeof postgresDatabase>) =>
    (
      await database.query<{ name: string; statement: string }>(
        `SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'easkit\\_%' AND statement NOT LIKE '%pg_prepared_statements%' ORDER BY name`,
        [],
      )
    ).rows;

  it('prepares each parameterized statement once per connection, under a name taken from its text', async () => {
    const database = postgresDatabase({ pool: single });
    for (let round = 0; round < 3; round++) {
      expect((await database.query<{ n: number }>('SELECT $1::int + 1 AS n', [round])).rows).toEqual([
        { n: round + 1 },
      ]);
    }
    await database.transaction(async (tx) => {
      expect((await tx.query<{ n: number }>('SELECT $1::int + 1 AS n', [10])).rows).toEqual([{ n: 11 }]);
    });
    const statements = await prepared(database);
    expect(statements.map((row) => row.statement)).toEqual(['SELECT $1::int + 1 AS n']);
    // A second Database over the same pool names the same text the same way (no "already exists" error).
    const again = postgresDatabase({ pool: single });
    expect((await again.query<{ n: number }>('SELECT $1::int + 1 AS n', [41])).rows).toEqual([{ n: 42 }]);
  });

  it('runs scripts and statements without parameters unprepared, and prepares nothing when turned off', async () => {
    await single.query('DEALLOCATE ALL');
    const database = postgresDatabase({ pool: single, preparedStatements: false });
    await database.exec('CREATE TEMP TABLE t (n int); INSERT INTO t VALUES (1), (2)');
    expect(
      (await database.query<{ n: number }>('SELECT n FROM t WHERE n > $1 ORDER BY n', [0])).rows,
    ).toEqual([{ n: 1 }, { n: 2 }]);
    expect((await database.query<{ c: string }>('SELECT count(*) AS c FROM t')).rows).toEqual([{ c: '2' }]);
    expect(await prepared(database)).toEqual([]);
  });

  it('plans statements over arrays once (generic plans) unless genericPlans is false', async () => {
    const plansOf = async (genericPlans: boolean | undefined) => {
      const pool = new pg.Pool({ connectionString: target.url, max: 1 });
      try {
        const database = postgresDatabase({ pool, ...(genericPlans === undefined ? {} : { genericPlans }) });
        for (let round = 0; round < 8; round++) {
          await database.query('SELECT count(*) FROM unnest($1::int[]) AS k(x) WHERE x > $2', [
            [1, 2, 3],
            round,
          ]);
        }
        const { rows } = await pool.query<{ mode: string; generic: string; custom: string }>(
          `SELECT current_setting('plan_cache_mode') AS mode, generic_plans AS generic, custom_plans AS custom
             FROM pg_prepared_statements WHERE statement LIKE '%unnest($1::int[])%'`,
        );
        return rows[0];
      } finally {
        await pool.end();
      }
    };
    expect(await plansOf(undefined)).toEqual({ mode: 'force_generic_plan', generic: '8', custom: '0' });
    const planned = await plansOf(false);
    expect(planned?.mode).toBe('auto');
    expect(Number(planned?.custom)).toBeGreaterThanOrEqual(5);
  });
});
