import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;
const KEY_LENGTH = 32;

/**
 * Password hashes of the accounts, kept with scrypt (node:crypto) so no secret is stored in the clear. Checking
 * an unknown account costs the same as checking a wrong password.
 */
export class PasswordDirectory {
  readonly #hashes = new Map<string, { salt: Buffer; hash: Buffer }>();
  readonly #decoy = { salt: randomBytes(16), hash: randomBytes(KEY_LENGTH) };

  async setPassword(userId: string, password: string): Promise<void> {
    const salt = randomBytes(16);
    this.#hashes.set(userId, { salt, hash: await scrypt(password, salt, KEY_LENGTH) });
  }

  async verify(userId: string | undefined, password: string): Promise<boolean> {
    const entry = (userId === undefined ? undefined : this.#hashes.get(userId)) ?? this.#decoy;
    const hash = await scrypt(password, entry.salt, KEY_LENGTH);
    return timingSafeEqual(hash, entry.hash) && entry !== this.#decoy;
  }
}

/** A password for the demo account when the operator set none: 18 random bytes, URL-safe. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
