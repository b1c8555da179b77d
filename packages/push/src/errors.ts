/** Why a bus refused a call. Stable strings: match on these, not on messages. */
export type PushBusErrorCode = 'bus-closed';

/** Thrown (as a rejection) by `publish` and `subscribe` once `close()` has been called. */
export class PushBusClosedError extends Error {
  override readonly name = 'PushBusClosedError';
  readonly code = 'bus-closed' as const;

  constructor(operation: 'publish' | 'subscribe') {
    super(`cannot ${operation}: the push bus is closed`);
  }
}

export function isPushBusClosedError(error: unknown): error is PushBusClosedError {
  return error instanceof PushBusClosedError;
}
