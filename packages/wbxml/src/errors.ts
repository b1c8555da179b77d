/** Why a document was refused. Stable strings: match on these, not on messages. */
export type WbxmlErrorCode =
  | 'truncated'
  | 'unsupported-version'
  | 'unsupported-charset'
  | 'unknown-page'
  | 'unknown-tag'
  | 'unsupported-token'
  | 'attributes'
  | 'mb-int-overlong'
  | 'mb-int-overflow'
  | 'unbalanced-end'
  | 'text-outside-element'
  | 'trailing-data'
  | 'no-root'
  | 'mixed-content'
  | 'bad-string-reference'
  | 'nul-in-string'
  | 'limit-input'
  | 'limit-depth'
  | 'limit-nodes'
  | 'limit-string'
  | 'limit-opaque'
  | 'invalid-xml'
  | 'invalid-tree';

/**
 * The one error type the codec throws for bad input. `offset` is the byte offset in the WBXML input (or the
 * character offset in XML text) where the problem was found; -1 when the error is about a tree, not input.
 */
export class WbxmlError extends Error {
  override readonly name = 'WbxmlError';
  readonly code: WbxmlErrorCode;
  readonly offset: number;

  constructor(code: WbxmlErrorCode, offset: number, reason: string) {
    super(offset >= 0 ? `${reason} (at offset ${offset}, ${code})` : `${reason} (${code})`);
    this.code = code;
    this.offset = offset;
  }
}

export function isWbxmlError(error: unknown): error is WbxmlError {
  return error instanceof WbxmlError;
}
