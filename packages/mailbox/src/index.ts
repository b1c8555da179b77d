export type { FolderId, ItemId, Modseq, UserId } from './ids.js';
