export { ChangeLog, type LogEntry } from './change-log.js';
export {
  type Directory,
  type DirectoryEntry,
  type DirectoryProfile,
  type DirectorySearchOptions,
  type DirectorySearchResult,
  MemoryDirectoryProfiles,
  UserDirectory,
  type UserDirectoryOptions,
  type UserListing,
} from './directory.js';
export {
  ConflictError,
  type ConflictReason,
  InvalidArgumentError,
  type InvalidArgumentReason,
  MailboxError,
  type MissingEntity,
  NotFoundError,
} from './errors.js';
export type { FolderId, ItemId, Modseq, UserId } from './ids.js';
export { MemoryMailboxStore } from './memory.js';
export {
  attachmentBytes,
  attachmentInfos,
  htmlBody,
  htmlToText,
  type ParsedMime,
  parseMime,
  plainBody,
  textToHtml,
  truncateUtf8,
} from './mime.js';
export * from './models/calendar.js';
export * from './models/common.js';
export type * from './models/contact.js';
export type * from './models/email.js';
export * from './models/folder.js';
export * from './models/item.js';
export type * from './models/note.js';
export type * from './models/task.js';
export { pollChanges } from './poll.js';
export {
  checkSearchQuery,
  DEFAULT_SEARCH_LIMITS,
  IndexedMailboxSearch,
  type IndexedMailboxSearchOptions,
  type MailboxSearch,
  type MailboxSearchQuery,
  type MailboxSearchResult,
  type SearchCondition,
  type SearchHit,
  type SearchLimits,
  SearchTooComplexError,
  searchWords,
} from './search.js';
export type * from './store.js';
export { validateItem } from './validate-item.js';
