/**
 * The EAS Status each command answers when the device presents an invalid sync key. The device reacts by
 * starting the collection (or the hierarchy) over with key `0`.
 *
 * - Sync: 3, MS-ASCMD 2.2.3.177.17
 * - FolderSync: 9, MS-ASCMD 2.2.3.177.5 (also FolderCreate 2.2.3.177.3, FolderDelete 2.2.3.177.4 and
 *   FolderUpdate 2.2.3.177.6, which carry the hierarchy's key)
 * - GetItemEstimate: 4, MS-ASCMD 2.2.3.177.7 (it reads the collection's key and never changes it)
 */
export const INVALID_SYNC_KEY_STATUS = {
  Sync: 3,
  FolderSync: 9,
  FolderCreate: 9,
  FolderDelete: 9,
  FolderUpdate: 9,
  GetItemEstimate: 4,
} as const satisfies Record<string, number>;

/** A command that carries a sync key. */
export type SyncKeyCommand = keyof typeof INVALID_SYNC_KEY_STATUS;

/** The Status `command` answers for an invalid sync key (Sync 3, FolderSync 9, ...). */
export function invalidSyncKeyStatus(command: SyncKeyCommand): number {
  return INVALID_SYNC_KEY_STATUS[command];
}
