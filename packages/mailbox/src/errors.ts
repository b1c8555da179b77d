/** What a {@link NotFoundError} could not find. */
export type MissingEntity = 'user' | 'folder' | 'item' | 'attachment';

/** Base class of every error the `MailboxStore` contract defines; `code` tells them apart without `instanceof`. */
export abstract class MailboxError extends Error {
  abstract readonly code: 'NOT_FOUND' | 'CONFLICT' | 'INVALID_ARGUMENT';
}

/**
 * The user, folder, item or attachment does not exist for this user. Ids of another user's objects are
 * reported this way too, never as a permission problem.
 */
export class NotFoundError extends MailboxError {
  readonly code = 'NOT_FOUND' as const;
  constructor(
    readonly entity: MissingEntity,
    readonly id: string,
  ) {
    super(`${entity} not found: ${id}`);
    this.name = 'NotFoundError';
  }
}

/**
 * Why a {@link ConflictError} was raised: a folder name already used under the same parent, a second folder of a
 * special type, a user id or address already taken, or an `expectedModseq` that no longer matches.
 */
export type ConflictReason =
  | 'folder-name-taken'
  | 'special-folder-exists'
  | 'user-exists'
  | 'address-taken'
  | 'modseq-mismatch';

/** The request is valid but clashes with the current state. */
export class ConflictError extends MailboxError {
  readonly code = 'CONFLICT' as const;
  constructor(
    readonly reason: ConflictReason,
    message: string,
  ) {
    super(message);
    this.name = 'ConflictError';
  }
}

/**
 * Why an {@link InvalidArgumentError} was raised: malformed input, an item class the folder cannot hold, an
 * operation on a special folder, a folder moved below itself, a move to the folder the item is already in, or a
 * body form the item class does not have.
 */
export type InvalidArgumentReason =
  | 'malformed'
  | 'class-mismatch'
  | 'special-folder'
  | 'folder-cycle'
  | 'same-folder'
  | 'unsupported-body-type';

/** The request itself is wrong; repeating it will fail the same way. */
export class InvalidArgumentError extends MailboxError {
  readonly code = 'INVALID_ARGUMENT' as const;
  constructor(
    readonly reason: InvalidArgumentReason,
    message: string,
  ) {
    super(message);
    this.name = 'InvalidArgumentError';
  }
}
