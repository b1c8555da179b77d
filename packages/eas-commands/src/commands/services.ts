import type { MailboxStore } from '@easkit/mailbox';
import type { SyncStateStore } from '@easkit/sync-state';

/** The stores the command handlers work against; each is a contract with swappable implementations. */
export interface EasServices {
  readonly mailbox: MailboxStore;
  readonly syncState: SyncStateStore;
}

/** A request body the command cannot read: answered with the command's "malformed request" status. */
export class MalformedRequestError extends Error {
  override readonly name = 'MalformedRequestError';
}
