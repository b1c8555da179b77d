import { createHmac, randomBytes } from 'node:crypto';
import type { EasAuthenticator, MailboxIdentity } from '@easkit/eas-commands';
import type { MailboxStore, User } from '@easkit/mailbox';
import type { LoginThrottle } from './lockout.js';
import type { PasswordDirectory } from './passwords.js';
import { ExpiringMap } from './remembered.js';

/** The account names devices send, as the mailbox knows them: `DOMAIN\user`, `user@domain`, aliases, `user`. */
export async function resolveAccount(
  mailbox: MailboxStore,
  username: string,
  defaultDomain: string | undefined,
): Promise<User | undefined> {
  let name = username.trim();
  const backslash = name.lastIndexOf('\\');
  if (backslash >= 0) name = name.slice(backslash + 1);
  if (name === '') return undefined;
  if (!name.includes('@')) {
    if (!defaultDomain) return undefined;
    name = `${name}@${defaultDomain}`;
  }
  return mailbox.resolveAddress(name);
}

export function identityOf(user: User): MailboxIdentity {
  return { userId: user.id, addresses: [user.primarySmtpAddress, ...user.aliases] };
}

/** What the HTTP layer knows about the request being authenticated (the EAS handler does not pass it on). */
export interface RequestScope {
  deviceId?: string;
  remoteAddress?: string;
  /** Set once the request is authenticated. */
  userId?: string;
}

/** The scope a request of this server carries as its `context` (see `EasHttpRequest.context`). */
export function scopeOf(request: { readonly context?: unknown } | undefined): RequestScope | undefined {
  const context = request?.context;
  return typeof context === 'object' && context !== null ? (context as RequestScope) : undefined;
}

export interface AuthenticatorOptions {
  mailbox: MailboxStore;
  passwords: PasswordDirectory;
  defaultDomain: string | undefined;
  /** Failed-login lockout; none when absent. */
  throttle?: LoginThrottle;
  onAttempt?: (
    outcome: 'ok' | 'failed' | 'locked',
    username: string,
    scope: RequestScope | undefined,
  ) => void;
  /**
   * How long a successful login (account name, password and device) is accepted again without looking up the
   * account, the lockout state or the password: a device sends its credentials with every request. A password
   * change on this instance ends it at once (on other instances the password cache's own 60 s apply); an
   * account renamed or an alias removed is noticed within this time. Default 60 s; 0 turns it off.
   */
  rememberMs?: number;
  /** At most this many logins are remembered (oldest forgotten first). Default 100,000. */
  maxRemembered?: number;
  now?: () => number;
}

/**
 * Basic authentication against the password directory, with lockout per account name and device. A locked key
 * is refused without checking the password (so guessing stops), and unknown accounts cost the same scrypt work
 * as wrong passwords. Bearer tokens are not accepted by this authenticator.
 */
export function createAuthenticator(options: AuthenticatorOptions): EasAuthenticator {
  const { mailbox, passwords, defaultDomain, throttle } = options;
  const now = options.now ?? Date.now;
  const rememberMs = options.rememberMs ?? 60_000;
  const maxRemembered = rememberMs > 0 ? (options.maxRemembered ?? 100_000) : 0;
  const remembered = new ExpiringMap<{
    identity: MailboxIdentity;
    userId: string;
    generation: number;
    at: number;
  }>(maxRemembered, now);
  // When each (account, device) last failed: a failure after a remembered login ends that memory, so a device
  // that is being locked out is checked (and refused) like any other.
  const failedAt = new ExpiringMap<number>(maxRemembered, now);
  // Keys are HMACs under a per-process random key: the map never holds a password.
  const rememberKey = randomBytes(32);
  return async (credentials, request) => {
    if (credentials.scheme !== 'basic') return undefined;
    const scope = scopeOf(request);
    const account = credentials.username;
    const deviceId = scope?.deviceId ?? '';
    const loginKey = createHmac('sha256', rememberKey)
      .update(account)
      .update('\u0000')
      .update(credentials.password)
      .update('\u0000')
      .update(deviceId)
      .digest('base64');
    const failureKey = `${account.toLowerCase()}\u0000${deviceId}`;
    const known = remembered.get(loginKey);
    const lastFailure = known ? failedAt.get(failureKey) : undefined;
    if (
      known &&
      known.generation === passwords.generation(known.userId) &&
      (lastFailure === undefined || lastFailure < known.at)
    ) {
      if (scope) scope.userId = known.userId;
      options.onAttempt?.('ok', credentials.username, scope);
      return known.identity;
    }
    if (throttle && (await throttle.lockedFor(account, deviceId)) > 0) {
      options.onAttempt?.('locked', credentials.username, scope);
      return undefined;
    }
    const user = await resolveAccount(mailbox, credentials.username, defaultDomain);
    // Taken before the check, so that a password changed while it runs is not remembered as the new one.
    const generation = user ? passwords.generation(user.id) : 0;
    const valid = (await passwords.verify(user?.id, credentials.password)) && user !== undefined;
    if (!valid) {
      if (maxRemembered > 0) failedAt.set(failureKey, now(), now() + rememberMs);
      const lock = throttle ? await throttle.failure(account, deviceId) : 0;
      options.onAttempt?.(lock > 0 ? 'locked' : 'failed', credentials.username, scope);
      return undefined;
    }
    await throttle?.success(account, deviceId);
    if (scope) scope.userId = user.id;
    options.onAttempt?.('ok', credentials.username, scope);
    const identity = identityOf(user);
    remembered.set(loginKey, { identity, userId: user.id, generation, at: now() }, now() + rememberMs);
    return identity;
  };
}
