/** Base class of every error this client throws on purpose. */
export class EasClientError extends Error {
  override readonly name: string = 'EasClientError';
}

/** The server answered an HTTP status the client cannot continue from. */
export class EasHttpError extends EasClientError {
  override readonly name: string = 'EasHttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Headers = new Headers(),
  ) {
    super(message);
  }
}

/** HTTP 401: the credentials were refused (or are missing). */
export class EasAuthError extends EasHttpError {
  override readonly name: string = 'EasAuthError';
}

/**
 * HTTP 403, or a 14.0+ access status (126 user disabled, 127 EAS disabled, 129 blocked, 130 denied or
 * quarantined, 141 not provisionable): the server will not serve this device or user now.
 */
export class EasAccessDeniedError extends EasHttpError {
  override readonly name: string = 'EasAccessDeniedError';
  constructor(
    status: number,
    message: string,
    headers?: Headers,
    /** The EAS status when the refusal came inside a 14.0+ body. */
    readonly easStatus?: number,
  ) {
    super(status, message, headers);
  }
}

/** HTTP 503 (or 429): the server is busy or throttles this client; wait `retryAfterSec` when it says. */
export class EasThrottledError extends EasHttpError {
  override readonly name: string = 'EasThrottledError';
  constructor(
    status: number,
    message: string,
    headers: Headers,
    readonly retryAfterSec: number | undefined,
    /** The `X-MS-ASThrottle` reason, when given. */
    readonly throttleReason: string | undefined,
  ) {
    super(status, message, headers);
  }
}

/** HTTP 451: the mailbox is served elsewhere; `location` is the new URL when the server named one. */
export class EasRedirectError extends EasHttpError {
  override readonly name: string = 'EasRedirectError';
  constructor(
    status: number,
    message: string,
    headers: Headers,
    readonly location: string | undefined,
  ) {
    super(status, message, headers);
  }
}

/** A command answered a Status that is not success; `status` is the EAS status code. */
export class EasStatusError extends EasClientError {
  override readonly name: string = 'EasStatusError';
  constructor(
    readonly command: string,
    readonly status: number,
    message?: string,
  ) {
    super(message ?? `${command} failed with Status ${status}`);
  }
}

/** The server still asks for Provision after the client provisioned and retried once. */
export class EasProvisionError extends EasClientError {
  override readonly name: string = 'EasProvisionError';
}

/**
 * The server ordered a remote wipe (or an account-only wipe); the client acknowledged it through the `onWipe`
 * callback's answer and cleared its state. Nothing more should be sent with this identity.
 */
export class EasRemoteWipeError extends EasClientError {
  override readonly name: string = 'EasRemoteWipeError';
  constructor(readonly kind: 'device' | 'account') {
    super(
      kind === 'account' ? 'the server ordered an account-only wipe' : 'the server ordered a remote wipe',
    );
  }
}

/** The request did not reach the server or its answer was lost (network error, timeout). */
export class EasNetworkError extends EasClientError {
  override readonly name: string = 'EasNetworkError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

/** The server's answer could not be read (not WBXML, or not the shape the command has). */
export class EasProtocolError extends EasClientError {
  override readonly name: string = 'EasProtocolError';
}
