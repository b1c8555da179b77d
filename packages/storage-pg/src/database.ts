import { createHash } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import type { Pool, PoolClient } from 'pg';

/** The result of one statement: the rows it returned and how many rows it touched. */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** Runs one parameterized statement. Every query of this package goes through this interface. */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

/** A callback for `LISTEN`: the payload of each notification on the channel. */
export type NotificationListener = (payload: string) => void;

/** What `Database.listen` gives back: stop listening, and learn when the listening connection was lost. */
export interface Listening {
  close(): Promise<void>;
}

export interface ListenOptions {
  /**
   * Called when the listening connection is lost and notifications may have been missed; listening resumes by
   * itself (with back-off), and `onReconnect` is called once it has.
   */
  onDisconnect?: (error: Error) => void;
  onReconnect?: () => void;
}

/**
 * One connection option for the whole package: PostgreSQL through a `pg.Pool`, or an embedded PGlite. Both run
 * the same SQL. `transaction` runs its callback on one connection inside BEGIN/COMMIT, rolling back when it
 * throws; nested calls are not supported (pass the executor down instead).
 */
export interface Database extends SqlExecutor {
  readonly dialect: 'postgres' | 'pglite';
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** Subscribe to `NOTIFY` on a channel. */
  listen(channel: string, listener: NotificationListener, options?: ListenOptions): Promise<Listening>;
  /** Releases what the Database opened itself (a PGlite it created; never a pool the caller passed in). */
  close(): Promise<void>;
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface PostgresDatabaseOptions {
  pool: Pool;
  /** Delay before re-opening a lost LISTEN connection; doubles up to 30 s. Default 250 ms. */
  listenRetryMs?: number;
  /**
   * Run parameterized statements as named prepared statements, so that each pooled connection parses and plans
   * a statement once rather than on every call (most statements of a Sync or Ping are small lookups whose
   * parse and plan cost more than their execution). Default true. Turn it off behind a pooler that hands a
   * session's statements to other server connections (PgBouncer in transaction mode before 1.21, or without
   * `max_prepared_statements`).
   */
  preparedStatements?: boolean;
  /**
   * With `preparedStatements`, run every connection the pool opens from now on with `plan_cache_mode =
   * force_generic_plan`. PostgreSQL otherwise keeps planning a prepared statement on every call when the plan
   * for its actual values looks cheaper than the generic one, which is what happens to statements over arrays
   * (the sync states of a request, a Ping's folders): the plan of a 3-element array always looks cheaper than one
   * for an array of unknown size, and planning those cost more than running them. Every statement easkit runs
   * is an index lookup keyed by user, device or folder, for which the generic plan is the right one. Default
   * true; set false when the same pool serves other queries that depend on plans made for their values.
   */
  genericPlans?: boolean;
}

/** Statement texts given a name; past this many, further texts run unnamed (bounds per-connection memory). */
const MAX_NAMED_STATEMENTS = 1000;

/** Names of prepared statements, derived from their text so that every pooled connection agrees on them. */
function statementNamer(
  enabled: boolean,
): (text: string, params: readonly unknown[] | undefined) => string | undefined {
  const names = new Map<string, string>();
  return (text, params) => {
    if (!enabled || params === undefined) return undefined;
    let name = names.get(text);
    if (name === undefined && names.size < MAX_NAMED_STATEMENTS) {
      name = `easkit_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
      names.set(text, name);
    }
    return name;
  };
}

/** A Database on a `pg.Pool` the application made (and closes). */
export function postgresDatabase(options: PostgresDatabaseOptions): Database {
  const { pool } = options;
  const retryBase = options.listenRetryMs ?? 250;
  const prepared = options.preparedStatements ?? true;
  const nameOf = statementNamer(prepared);
  if (prepared && (options.genericPlans ?? true)) {
    // Queued on the new connection before anything else runs on it. A server that does not know the setting
    // (before PostgreSQL 12) refuses it; statements then plan as they always did.
    pool.on('connect', (client) => {
      client.query('SET plan_cache_mode = force_generic_plan').catch(() => undefined);
    });
  }
  return {
    dialect: 'postgres',
    async query<Row>(text: string, params?: readonly unknown[]) {
      const result = await pool.query({
        text,
        values: params as unknown[] | undefined,
        name: nameOf(text, params),
      });
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await pool.query(script);
    },
    async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: unknown;
      try {
        await client.query('BEGIN');
        const result = await work(clientExecutor(client, nameOf));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError;
        }
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroy it rather than reuse it.
        client.release(broken instanceof Error ? broken : undefined);
      }
    },
    async listen(channel, listener, listenOptions = {}) {
      let closed = false;
      let client: PoolClient | undefined;
      let retry: NodeJS.Timeout | undefined;
      let delay = retryBase;
      const onNotification = (message: { channel: string; payload?: string }) => {
        if (message.channel === channel) listener(message.payload ?? '');
      };
      // The handlers this listen() put on a pooled client; removed before the client goes back to the pool,
      // so a reused client does not collect listeners of earlier subscriptions.
      const onError = new WeakMap<PoolClient, (error: Error) => void>();
      const detach = (which: PoolClient) => {
        which.removeListener('notification', onNotification);
        const handler = onError.get(which);
        if (handler) which.removeListener('error', handler);
      };
      const connect = async (): Promise<void> => {
        const next = await pool.connect();
        const handler = (error: Error) => lost(next, error);
        onError.set(next, handler);
        next.on('notification', onNotification);
        next.on('error', handler);
        try {
          await next.query(`LISTEN ${quoteIdentifier(channel)}`);
        } catch (error) {
          detach(next);
          next.release(error instanceof Error ? error : new Error(String(error)));
          throw error;
        }
        if (closed) {
          detach(next);
          next.release(new Error('listening closed while connecting'));
          return;
        }
        client = next;
        delay = retryBase;
      };
      const lost = (which: PoolClient, error: Error) => {
        if (closed || which !== client) return;
        client = undefined;
        detach(which);
        which.release(error);
        listenOptions.onDisconnect?.(error);
        schedule();
      };
      const schedule = () => {
        retry = setTimeout(async () => {
          retry = undefined;
          if (closed) return;
          try {
            await connect();
            if (!closed) listenOptions.onReconnect?.();
          } catch {
            delay = Math.min(delay * 2, 30_000);
            schedule();
          }
        }, delay);
        retry.unref?.();
      };
      await connect();
      return {
        async close() {
          closed = true;
          if (retry) clearTimeout(retry);
          const current = client;
          client = undefined;
          if (!current) return;
          detach(current);
          try {
            await current.query(`UNLISTEN ${quoteIdentifier(channel)}`);
            current.release();
          } catch (error) {
            current.release(error instanceof Error ? error : new Error(String(error)));
          }
        },
      };
    },
    async close() {},
  };
}

function clientExecutor(
  client: PoolClient,
  nameOf: (text: string, params: readonly unknown[] | undefined) => string | undefined,
): SqlExecutor {
  return {
    async query<Row>(text: string, params?: readonly unknown[]) {
      const result = await client.query({
        text,
        values: params as unknown[] | undefined,
        name: nameOf(text, params),
      });
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(script: string) {
      await client.query(script);
    },
  };
}

export interface PGliteDatabaseOptions {
  /** A PGlite the application made (and closes), or a data folder for a new one (kept across restarts). */
  pglite?: PGlite;
  /** A folder for the database files; without it (and without `pglite`) the database lives in memory. */
  dataDir?: string;
}

/** A Database on embedded PGlite: the same SQL as on PostgreSQL, with no server to run. */
export async function pgliteDatabase(options: PGliteDatabaseOptions = {}): Promise<Database> {
  const owned = !options.pglite;
  const db = options.pglite ?? (await createPGlite(options.dataDir));
  const executor = (target: Pick<PGlite, 'query' | 'exec'>): SqlExecutor => ({
    async query<Row>(text: string, params?: readonly unknown[]) {
      const result = await target.query<Row>(text, params as unknown[] | undefined);
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length };
    },
    async exec(script: string) {
      await target.exec(script);
    },
  });
  const base = executor(db);
  return {
    dialect: 'pglite',
    query: base.query,
    exec: base.exec,
    transaction: (work) => db.transaction((tx) => work(executor(tx))),
    async listen(channel, listener) {
      const unsubscribe = await db.listen(channel, listener);
      return { close: () => unsubscribe() };
    },
    async close() {
      if (owned) await db.close();
    },
  };
}

async function createPGlite(dataDir: string | undefined): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  return new PGlite(dataDir);
}
