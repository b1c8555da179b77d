import type { Migration } from './index.js';

/**
 * `easkit_notify_push(user_id, folder_ids, channel)`: wakes a user's waiting Ping and Sync requests on every
 * instance, for programs that write to the database without going through easkit (an import job, a mail
 * delivery agent with its own SQL). It sends the payload `PgPushBus` understands (see `pushPayload`), falling
 * back to an empty folder list ("re-read everything") and then to a digest of the user id when the payload
 * would reach NOTIFY's 8000-byte limit. Like any NOTIFY, inside a transaction it is delivered on commit.
 *
 *   SELECT easkit_notify_push('alice@example.com', ARRAY['5']);
 */
export const pushMigration: Migration = {
  id: '0004_push',
  sql: `
    CREATE FUNCTION easkit_notify_push(
      user_id text,
      folder_ids text[] DEFAULT '{}',
      channel text DEFAULT 'easkit_push'
    ) RETURNS void LANGUAGE sql VOLATILE AS $fn$
      SELECT pg_notify(channel, CASE
          WHEN octet_length(p.full_payload) <= 7999 THEN p.full_payload
          WHEN octet_length(p.short_payload) <= 7999 THEN p.short_payload
          ELSE json_build_object('h', encode(sha256(convert_to(user_id, 'UTF8')), 'hex'))::text
        END)
      FROM (SELECT json_build_object('u', user_id, 'f', coalesce(folder_ids, '{}'::text[]))::text AS full_payload,
                   json_build_object('u', user_id, 'f', '[]'::json)::text AS short_payload) AS p
    $fn$;
  `,
};
