import { describe, expect, it } from 'vitest';
import { queryUserMatches } from './identity.js';

const alice = { userId: 'alice@example.com', addresses: ['alice@example.com', 'a.smith@example.org'] };

describe('queryUserMatches', () => {
  it('accepts the spellings devices use for the account', () => {
    for (const user of [
      'alice@example.com',
      'ALICE@Example.com',
      'alice',
      'EXAMPLE\\alice',
      'example\\Alice@example.com',
      'a.smith@example.org',
      'a.smith',
      undefined,
      '',
    ]) {
      expect(queryUserMatches(alice, user), String(user)).toBe(true);
    }
  });

  it("refuses another user's mailbox", () => {
    for (const user of ['bob@example.com', 'bob', 'EXAMPLE\\bob', 'alice@evil.test', 'EXAMPLE\\', 'alice@']) {
      expect(queryUserMatches(alice, user), user).toBe(false);
    }
  });
});
