import type { MailboxIdentity } from './identity.js';

/** Credentials of an HTTP `Authorization` header. Basic is what EAS clients send; bearer is for OAuth setups. */
export type EasCredentials =
  | { readonly scheme: 'basic'; readonly username: string; readonly password: string }
  | { readonly scheme: 'bearer'; readonly token: string };

/** What an authenticator is told about the request besides its credentials. */
export interface EasAuthenticationRequest {
  /** The application's own value for this request (`EasHttpRequest.context`), e.g. the client's address. */
  readonly context?: unknown;
}

/**
 * Decides who a request is. Returns the account's identity, or undefined when the credentials are wrong (the
 * client then gets 401). Implementations must take about the same time for unknown users and wrong passwords.
 * The handler passes the request as the second argument, so that an authenticator can read its `context`.
 */
export type EasAuthenticator = (
  credentials: EasCredentials,
  request?: EasAuthenticationRequest,
) => Promise<MailboxIdentity | undefined>;

/** Reads an `Authorization` header; undefined when it is absent or not one of the two schemes. */
export function parseAuthorization(header: string | undefined): EasCredentials | undefined {
  if (!header) return undefined;
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match) return undefined;
  const scheme = match[1]!.toLowerCase();
  const value = match[2]!;
  if (scheme === 'bearer') return { scheme: 'bearer', token: value };
  if (scheme !== 'basic') return undefined;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
