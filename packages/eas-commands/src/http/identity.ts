/**
 * The mailbox-ownership check of MS-ASHTTP: the `User` of the request URI must name the authenticated user.
 * Devices send the account name in several spellings, so the comparison accepts `DOMAIN\user`, the bare local
 * part, and any of the user's SMTP addresses (primary or alias), all case-insensitively.
 */
export interface MailboxIdentity {
  /** The account id the authenticator established. */
  readonly userId: string;
  /** Every SMTP address of the account: the primary one and its aliases. */
  readonly addresses: readonly string[];
}

function normalise(name: string): string {
  return name.trim().toLowerCase();
}

/**
 * True when `queryUser` (the `User` parameter, possibly absent in the base64 form, where it is not sent)
 * names the authenticated account. A missing `queryUser` is accepted: the identity then comes from
 * authentication alone.
 */
export function queryUserMatches(identity: MailboxIdentity, queryUser: string | undefined): boolean {
  if (queryUser === undefined || queryUser.trim() === '') return true;
  let candidate = normalise(queryUser);
  const backslash = candidate.lastIndexOf('\\');
  if (backslash >= 0) candidate = candidate.slice(backslash + 1);
  if (candidate === '') return false;

  const names = new Set<string>([normalise(identity.userId)]);
  for (const address of identity.addresses) names.add(normalise(address));
  if (names.has(candidate)) return true;
  if (candidate.includes('@')) return false;
  // A bare account name (`alice`, or `CONTOSO\alice`) matches the local part of the account's own addresses.
  for (const name of names) {
    const at = name.lastIndexOf('@');
    if (at > 0 && name.slice(0, at) === candidate) return true;
  }
  return false;
}
