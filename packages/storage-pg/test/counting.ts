import type { Database, QueryResult } from '../src/database.js';

/**
 * `database` with every statement (inside transactions too) reported to `seen` after it ran: for tests that
 * count what a store call costs.
 */
export function reportingDatabase(
  database: Database,
  seen: (result: QueryResult<unknown>, text: string, params: readonly unknown[]) => void,
): Database {
  return {
    ...database,
    query: async <Row>(text: string, params?: readonly unknown[]) => {
      const result = await database.query<Row>(text, params);
      seen(result, text, params ?? []);
      return result;
    },
    transaction: (work) =>
      database.transaction((tx) =>
        work({
          ...tx,
          query: async <Row>(text: string, params?: readonly unknown[]) => {
            const result = await tx.query<Row>(text, params);
            seen(result, text, params ?? []);
            return result;
          },
        }),
      ),
  };
}
