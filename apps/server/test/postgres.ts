import pg from 'pg';

const adminUrl = process.env.EASKIT_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
let reachable: Promise<boolean> | undefined;

/** Whether the test PostgreSQL server answers; in CI a missing server fails the run, locally it warns once. */
export function postgresAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      return true;
    } catch (error) {
      if (process.env.CI)
        throw new Error(`PostgreSQL at ${adminUrl} is required in CI: ${(error as Error).message}`);
      console.warn(
        `[server] SKIPPING PostgreSQL tests: no server at ${adminUrl} (${(error as Error).message})`,
      );
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/** Drops and creates `easkit_test_<name>`; returns its connection string. One name per test file. */
export async function freshDatabaseUrl(name: string): Promise<string> {
  const dbName = `easkit_test_${name}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${dbName}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}

const redisUrl = process.env.EASKIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
let redisReachable: Promise<boolean> | undefined;

/** Whether the test Redis answers; in CI a missing server fails the run, locally it warns once. */
export function redisAvailable(): Promise<boolean> {
  redisReachable ??= (async () => {
    const { Redis } = await import('ioredis');
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return true;
    } catch (error) {
      if (process.env.CI)
        throw new Error(`Redis at ${redisUrl} is required in CI: ${(error as Error).message}`);
      console.warn(`[server] SKIPPING Redis tests: no server at ${redisUrl} (${(error as Error).message})`);
      return false;
    } finally {
      client.disconnect();
    }
  })();
  return redisReachable;
}

export { redisUrl };
