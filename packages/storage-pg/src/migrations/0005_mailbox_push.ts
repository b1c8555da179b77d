import type { Migration } from './index.js';

/**
 * Opt-in wake-ups for programs that write the mailbox tables themselves. Every mailbox change moves the user's
 * counter `easkit_mailbox_users.modseq` (migration `0001_mailbox`), whoever makes it; the trigger function
 * below wakes that user's waiting requests whenever it moves, with an empty folder list ("re-read
 * everything"), delivered on commit. PostgreSQL folds identical notifications of one transaction into one, so
 * a batch of writes wakes each user once.
 *
 * The trigger itself is not created here: easkit's own writes already publish precise folder ids through the
 * bus, and a NOTIFY in every write transaction serializes their commits on PostgreSQL's notification queue.
 * An operator whose other programs write mailboxes directly turns it on with `setMailboxPushTrigger(database,
 * true)` (push-bus.ts), which creates the trigger `easkit_mailbox_push` on `easkit_mailbox_users`.
 */
export const mailboxPushMigration: Migration = {
  id: '0005_mailbox_push',
  sql: `
    CREATE FUNCTION easkit_mailbox_push() RETURNS trigger LANGUAGE plpgsql AS $fn$
    BEGIN
      PERFORM easkit_notify_push(NEW.id);
      RETURN NULL;
    END
    $fn$;
  `,
};
