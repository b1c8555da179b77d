import { type Folder, folderClass, type ItemClass, type MailboxStore } from '@easkit/mailbox';
import type { DeviceStore } from '@easkit/policy';
import type { WaiterRegistry } from '@easkit/push';
import type { SyncStateStore } from '@easkit/sync-state';
import type { MailSubmitter } from './mail-submitter.js';

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
}

/** Whether devices may see this folder: mail-type folders always, others when the store supports the class. */
export function folderVisible(services: EasServices, folder: Pick<Folder, 'type'>): boolean {
  if (!services.classes) return true;
  const itemClass = folderClass(folder.type);
  return itemClass === undefined || services.classes.includes(itemClass);
}

/** A request body the command cannot read: answered with the command's "malformed request" status. */
export class MalformedRequestError extends Error {
  override readonly name = 'MalformedRequestError';
}
