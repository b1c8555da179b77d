import {
  type Directory,
  type Folder,
  folderClass,
  type ItemClass,
  type MailboxSearch,
  type MailboxStore,
} from '@easkit/mailbox';
import type { DeviceStore } from '@easkit/policy';
import type { WaiterRegistry } from '@easkit/push';
import type { SyncStateStore } from '@easkit/sync-state';
import type { MailSubmitter } from './mail-submitter.js';
import type { TrustStore } from './validate-cert.js';

/** The stores the command handlers work against; each is a contract with swappable implementations. */
export interface EasServices {
  readonly mailbox: MailboxStore;
  readonly syncState: SyncStateStore;
  /**
   * The item classes the mailbox store really holds; default all five. Folders of other classes are not shown
   * to devices (FolderSync leaves them out, Sync answers Status 12), so the server never claims, say, Notes
   * for a store without notes.
   */
  readonly classes?: readonly ItemClass[];
  /**
   * Where hanging requests (Ping, and Sync with Wait or HeartbeatInterval) wait for the PushBus; without it
   * Ping is not offered and Sync answers at once. Wrap the mailbox with
   * `publishingMailbox` from @easkit/push so that writes wake them.
   */
  readonly waiters?: WaiterRegistry;
  /** Devices and policies; without it Provision is not offered. */
  readonly devices?: DeviceStore;
  /** Where outgoing mail goes; without it SendMail, SmartReply and SmartForward are not offered. */
  readonly submitter?: MailSubmitter;
  /**
   * Mailbox search for Search (Store Mailbox), Find and the contacts side of ResolveRecipients. Default: an
   * `IndexedMailboxSearch` over `mailbox` (an in-memory index kept current from the change log).
   */
  readonly search?: MailboxSearch;
  /**
   * The GAL for Search (Store GAL), Find and ResolveRecipients. Default: a `UserDirectory` of the mailbox's users
   * when the store can list them (`listUsers`, as `MemoryMailboxStore` can); otherwise GAL lookups find nobody.
   */
  readonly directory?: Directory;
  /** Trust anchors and revocation lists for ValidateCert; without it ValidateCert is not offered. */
  readonly trustStore?: TrustStore;
}

/** Whether devices may see this folder: mail-type folders always, others when the store supports the class. */
export function folderVisible(services: Pick<EasServices, 'classes'>, folder: Pick<Folder, 'type'>): boolean {
  if (!services.classes) return true;
  const itemClass = folderClass(folder.type);
  return itemClass === undefined || services.classes.includes(itemClass);
}

/** A request body the command cannot read: answered with the command's "malformed request" status. */
export class MalformedRequestError extends Error {
  override readonly name = 'MalformedRequestError';
}
