import type { EasAuthenticator, MailboxIdentity } from '@easkit/eas-commands';
import type { MailboxStore, User } from '@easkit/mailbox';
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

/** Basic authentication against the password directory; bearer tokens are not accepted by this server. */
export function createAuthenticator(
  mailbox: MailboxStore,
  passwords: PasswordDirectory,
  defaultDomain: string | undefined,
): EasAuthenticator {
  return async (credentials) => {
    if (credentials.scheme !== 'basic') return undefined;
    const user = await resolveAccount(mailbox, credentials.username, defaultDomain);
    const valid = await passwords.verify(user?.id, credentials.password);
    return valid && user ? identityOf(user) : undefined;
  };
}
