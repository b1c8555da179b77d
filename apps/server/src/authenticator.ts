import { AsyncLocalStorage } from 'node:async_hooks';
import type { EasAuthenticator, MailboxIdentity } from '@easkit/eas-commands';
import type { MailboxStore, User } from '@easkit/mailbox';
import type { LoginThrottle } from './lockout.js';
import type { PasswordDirectory } from './passwords.js';

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

export const requestScope = new AsyncLocalStorage<RequestScope>();

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
}

/**
 * Basic authentication against the password directory, with lockout per account name and device. A locked key
 * is refused without checking the password (so guessing stops), and unknown accounts cost the same scrypt work
 * as wrong passwords. Bearer tokens are not accepted by this authenticator.
 */
export function createAuthenticator(options: AuthenticatorOptions): EasAuthenticator {
  const { mailbox, passwords, defaultDomain, throttle } = options;
  return async (credentials) => {
    if (credentials.scheme !== 'basic') return undefined;
    const scope = requestScope.getStore();
    const account = credentials.username;
    const deviceId = scope?.deviceId ?? '';
    if (throttle && (await throttle.lockedFor(account, deviceId)) > 0) {
      options.onAttempt?.('locked', credentials.username, scope);
      return undefined;
    }
    const user = await resolveAccount(mailbox, credentials.username, defaultDomain);
    const valid = (await passwords.verify(user?.id, credentials.password)) && user !== undefined;
    if (!valid) {
      const lock = throttle ? await throttle.failure(account, deviceId) : 0;
      options.onAttempt?.(lock > 0 ? 'locked' : 'failed', credentials.username, scope);
      return undefined;
    }
    await throttle?.success(account, deviceId);
    if (scope) scope.userId = user.id;
    options.onAttempt?.('ok', credentials.username, scope);
    return identityOf(user);
  };
}
