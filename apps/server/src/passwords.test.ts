import { migrate, pgliteDatabase, postgresDatabase } from '@easkit/storage-pg';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { freshDatabaseUrl, postgresAvailable } from '../test/postgres.js';
import {
  CREDENTIALS_MIGRATIONS,
  type CredentialStore,
  MemoryCredentialStore,
  PasswordDirectory,
  SqlCredentialStore,
} from './passwords.js';

function directorySuite(open: () => Promise<{ store: CredentialStore; close(): Promise<void> }>) {
  it('verifies the right password only, and stores no password in the clear', async () => {
    const { store, close } = await open();
    try {
      const passwords = new PasswordDirectory(store);
      await passwords.setPassword('alice', 'correct horse');
      expect(await passwords.verify('alice', 'correct horse')).toBe(true);
      expect(await passwords.verify('alice', 'Correct horse')).toBe(false);
      expect(await passwords.verify('bob', 'correct horse')).toBe(false);
      expect(await passwords.verify(undefined, 'correct horse')).toBe(false);
      const stored = await store.get('alice');
      expect(Buffer.from(stored!.hash).toString('utf8')).not.toContain('correct');
      await passwords.setPassword('alice', 'battery staple');
      expect(await passwords.verify('alice', 'correct horse')).toBe(false);
      expect(await passwords.verify('alice', 'battery staple')).toBe(true);
      await passwords.removePassword('alice');
      expect(await passwords.hasPassword('alice')).toBe(false);
    } finally {
      await close();
    }
  });
}

describe('passwords in memory', () => {
  directorySuite(async () => ({ store: new MemoryCredentialStore(), close: async () => {} }));
});

describe('passwords on PGlite', () => {
  directorySuite(async () => {
    const database = await pgliteDatabase();
    await migrate(database, CREDENTIALS_MIGRATIONS);
    return { store: new SqlCredentialStore(database), close: () => database.close() };
  });
});

describe.runIf(await postgresAvailable())('passwords on PostgreSQL', () => {
  directorySuite(async () => {
    const pool = new pg.Pool({ connectionString: await freshDatabaseUrl('server_credentials') });
    const database = postgresDatabase({ pool });
    await migrate(database, CREDENTIALS_MIGRATIONS);
    return { store: new SqlCredentialStore(database), close: () => pool.end() };
  });
});

describe('remembered verifications', () => {
  it('skips scrypt for a recently verified pair, never for a wrong password, and forgets on change or expiry', async () => {
    let now = 0;
    let reads = 0;
    const memory = new MemoryCredentialStore();
    const counting: CredentialStore = {
      get: (userId) => {
        reads++;
        return memory.get(userId);
      },
      put: (userId, hash) => memory.put(userId, hash),
      delete: (userId) => memory.delete(userId),
    };
    const passwords = new PasswordDirectory(counting, { verifiedTtlMs: 1000, now: () => now });
    await passwords.setPassword('ada', 'right');
    expect(await passwords.verify('ada', 'right')).toBe(true);
    expect(reads).toBe(1);
    expect(await passwords.verify('ada', 'right')).toBe(true);
    expect(reads).toBe(1);
    expect(await passwords.verify('ada', 'wrong')).toBe(false);
    expect(await passwords.verify('ada', 'wrong')).toBe(false);
    expect(reads).toBe(3);
    now += 1001;
    expect(await passwords.verify('ada', 'right')).toBe(true);
    expect(reads).toBe(4);
    await passwords.setPassword('ada', 'new');
    expect(await passwords.verify('ada', 'right')).toBe(false);
    expect(await passwords.verify('ada', 'new')).toBe(true);
  });
});
