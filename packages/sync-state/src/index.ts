export { type CollectionId, type CollectionKey, HIERARCHY, hierarchyKey } from './collection.js';
export {
  InvalidSyncKeyError,
  isSyncStateError,
  SyncStateConflictError,
  type SyncStateErrorCode,
} from './errors.js';
export { MemorySyncStateStore } from './memory.js';
export {
  classifySyncKey,
  confirmPending,
  issuePending,
  latestSyncKey,
  type PendingInput,
  type ResolvedClientAdds,
  requireValidSyncKey,
  resolveClientAdds,
  type StartOverOptions,
  type SyncKeyClass,
  startOver,
} from './rules.js';
export {
  type CollectionState,
  type ConfirmedState,
  type JsonObject,
  type JsonValue,
  jsonCopy,
  type PendingState,
  type SentChange,
  type SentChangeKind,
} from './state.js';
export { INVALID_SYNC_KEY_STATUS, invalidSyncKeyStatus, type SyncKeyCommand } from './statuses.js';
export { compareAndSetOrThrow, getStates, type SyncStateStore } from './store.js';
export {
  firstSyncKey,
  formatSyncKey,
  INITIAL_SYNC_KEY,
  newEpoch,
  nextSyncKey,
  type ParsedSyncKey,
  parseSyncKey,
} from './sync-key.js';
