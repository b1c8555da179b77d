/** A user's stable identifier (the account name the server authenticates, e.g. `alice@example.com`). */
export type UserId = string;
/** A folder's server id: the EAS `ServerId` of a folder and the `CollectionId` of a collection. */
export type FolderId = string;
/** An item's server id: the EAS `ServerId` of an item, unique within the user's mailbox. */
export type ItemId = string;
/**
 * A value of the per-user monotonic change counter. Every mutation of a user's mailbox takes the next one;
 * a JavaScript number holds 2^53 of them, far more than any mailbox will see.
 */
export type Modseq = number;
