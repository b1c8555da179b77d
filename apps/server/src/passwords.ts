import { createHmac, randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { Database } from '@easkit/storage-pg';
import { ExpiringMap } from './remembered.js';

const scrypt = promisify(scryptCallback) as (
  password: string,
  salt: Buffer,
  keylen: number,
) => Promise<Buffer>;
const KEY_LENGTH = 32;

/** One stored password: scrypt's output and its salt. Never the password itself. */
export interface PasswordHash {
  salt: Buffer;
  hash: Buffer;
}

/** Where password hashes live: in memory, or in the server's database so they survive restarts. */
export interface CredentialStore {
  get(userId: string): Promise<PasswordHash | undefined>;
  put(userId: string, hash: PasswordHash): Promise<void>;
  delete(userId: string): Promise<void>;
}

export class MemoryCredentialStore implements CredentialStore {
  readonly #hashes = new Map<string, PasswordHash>();
  async get(userId: string) {
    return this.#hashes.get(userId);
  }
  async put(userId: string, hash: PasswordHash) {
    this.#hashes.set(userId, hash);
  }
  async delete(userId: string) {
    this.#hashes.delete(userId);
  }
}

/** The server's own tables, migrated beside storage-pg's (ids sort after the package's). */
export const CREDENTIALS_MIGRATIONS = [
  {
    id: 'server_0001_credentials',
    sql: `CREATE TABLE easkit_server_credentials (
            user_id text PRIMARY KEY,
            salt bytea NOT NULL,
            hash bytea NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now()
          );`,
  },
] as const;

/** Password hashes in PostgreSQL or PGlite (the table of `CREDENTIALS_MIGRATIONS`). */
export class SqlCredentialStore implements CredentialStore {
  constructor(private readonly database: Database) {}

  async get(userId: string): Promise<PasswordHash | undefined> {
    const { rows } = await this.database.query<{ salt: Uint8Array; hash: Uint8Array }>(
      'SELECT salt, hash FROM easkit_server_credentials WHERE user_id = $1',
      [userId],
    );
    const row = rows[0];
    return row ? { salt: Buffer.from(row.salt), hash: Buffer.from(row.hash) } : undefined;
  }

  async put(userId: string, hash: PasswordHash): Promise<void> {
    await this.database.query(
      `INSERT INTO easkit_server_credentials (user_id, salt, hash) VALUES ($1, $2, $3)
       ON CONFLICT (user_id) DO UPDATE SET salt = EXCLUDED.salt, hash = EXCLUDED.hash, updated_at = now()`,
      [userId, hash.salt, hash.hash],
    );
  }

  async delete(userId: string): Promise<void> {
    await this.database.query('DELETE FROM easkit_server_credentials WHERE user_id = $1', [userId]);
  }
}

/**
 * Password checking with scrypt (node:crypto), over a {@link CredentialStore}. Checking an unknown account costs
 * the same as checking a wrong password, so response times tell nobody which accounts exist.
 */
export interface PasswordDirectoryOptions {
  /**
   * How long a verified (account, password) pair is accepted again without scrypt. Devices authenticate every
   * request, and scrypt costs tens of milliseconds of CPU by design, so without this the password check is
   * most of a server's work. Only correct passwords are remembered (keyed by an HMAC under a per-process random
   * key, never the password); a password change on this instance forgets the account at once, on other
   * instances within this time. Default 60 s; 0 turns it off.
   */
  verifiedTtlMs?: number;
  /** At most this many pairs are remembered (oldest forgotten first). Default 100,000. */
  maxVerified?: number;
  now?: () => number;
}

export class PasswordDirectory {
  readonly #store: CredentialStore;
  readonly #decoy = { salt: randomBytes(16), hash: randomBytes(KEY_LENGTH) };
  readonly #cacheKey = randomBytes(32);
  /** Correct (account, password) pairs, with the account's generation when they were checked. */
  readonly #verified: ExpiringMap<number>;
  /** How often each account's password changed on this instance (absent: never). */
  readonly #generations = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #now: () => number;

  constructor(store: CredentialStore = new MemoryCredentialStore(), options: PasswordDirectoryOptions = {}) {
    this.#store = store;
    this.#ttlMs = options.verifiedTtlMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#verified = new ExpiringMap(this.#ttlMs > 0 ? (options.maxVerified ?? 100_000) : 0, this.#now);
  }

  async setPassword(userId: string, password: string): Promise<void> {
    const salt = randomBytes(16);
    await this.#store.put(userId, { salt, hash: await scrypt(password, salt, KEY_LENGTH) });
    this.#forget(userId);
  }

  #pairKey(userId: string, password: string): string {
    return createHmac('sha256', this.#cacheKey)
      .update(userId)
      .update('\u0000')
      .update(password)
      .digest('base64');
  }

  /**
   * A number that changes whenever this instance changes or removes the account's password: a caller that
   * remembers a successful login keeps the number with it and stops trusting the memory when it differs.
   */
  generation(userId: string): number {
    return this.#generations.get(userId) ?? 0;
  }

  /** Remembered pairs of the account stop counting: their generation no longer matches. */
  #forget(userId: string): void {
    this.#generations.set(userId, this.generation(userId) + 1);
  }

  async hasPassword(userId: string): Promise<boolean> {
    return (await this.#store.get(userId)) !== undefined;
  }

  async removePassword(userId: string): Promise<void> {
    await this.#store.delete(userId);
    this.#forget(userId);
  }

  async verify(userId: string | undefined, password: string): Promise<boolean> {
    const pairKey = userId !== undefined && this.#ttlMs > 0 ? this.#pairKey(userId, password) : undefined;
    const generation = userId === undefined ? 0 : this.generation(userId);
    if (pairKey !== undefined && this.#verified.get(pairKey) === generation) return true;
    const stored = userId === undefined ? undefined : await this.#store.get(userId);
    const entry = stored ?? this.#decoy;
    const hash = await scrypt(password, entry.salt, KEY_LENGTH);
    const valid = timingSafeEqual(hash, entry.hash) && entry !== this.#decoy;
    if (valid && pairKey !== undefined && userId !== undefined) {
      // The generation from before the check: a password changed while scrypt ran is not remembered as valid.
      this.#verified.set(pairKey, generation, this.#now() + this.#ttlMs);
    }
    return valid;
  }
}

/** A password for the demo account when the operator set none: 18 random bytes, URL-safe. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
