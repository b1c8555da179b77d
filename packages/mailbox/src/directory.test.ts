import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryDirectoryProfiles, UserDirectory } from './directory.js';
import { MemoryMailboxStore } from './memory.js';

async function setUp() {
  const store = new MemoryMailboxStore();
  const profiles = new MemoryDirectoryProfiles();
  await store.createUser({
    id: 'alice',
    primarySmtpAddress: 'alice@example.com',
    aliases: ['a.liddell@example.com'],
    displayName: 'Alice Liddell',
  });
  await store.createUser({
    id: 'albert',
    primarySmtpAddress: 'albert@example.com',
    displayName: 'Albert Ölberg',
  });
  await store.createUser({ id: 'bob', primarySmtpAddress: 'bob@example.com', displayName: 'Bob Builder' });
  await store.createUser({ id: 'carol', primarySmtpAddress: 'carol@example.com' });
  profiles.set('alice', {
    firstName: 'Alice',
    lastName: 'Liddell',
    title: 'Explorer',
    company: 'Wonderland Ltd',
    mobilePhone: '+44 (20) 7946-0018',
    photo: new Uint8Array([0xff, 0xd8, 0xff]),
    certificates: [new Uint8Array([0x30, 0x82])],
  });
  profiles.set('bob', { phone: '+1 555 0100', alias: 'bobby' });
  let now = 0;
  const directory = new UserDirectory({ users: store, profile: profiles.get, now: () => now });
  return { store, profiles, directory, advance: (ms: number) => (now += ms) };
}

const names = (result: { entries: { id: string }[] }) => result.entries.map((entry) => entry.id);

describe('UserDirectory', () => {
  it('finds people by name, word, address and phone prefix, in display-name order', async () => {
    const { directory } = await setUp();
    expect(names(await directory.search('al', { limit: 10 }))).toEqual(['albert', 'alice']);
    expect(names(await directory.search('LIDD', { limit: 10 }))).toEqual(['alice']);
    expect(names(await directory.search('olberg', { limit: 10 }))).toEqual(['albert']);
    expect(names(await directory.search('a.lidd', { limit: 10 }))).toEqual(['alice']);
    expect(names(await directory.search('alice liddell', { limit: 10 }))).toEqual(['alice']);
    expect(names(await directory.search('lid ali', { limit: 10 }))).toEqual(['alice']);
    expect(names(await directory.search('+44 20 79', { limit: 10 }))).toEqual(['alice']);
    expect(names(await directory.search('1555', { limit: 10 }))).toEqual(['bob']);
    expect(names(await directory.search('bobby', { limit: 10 }))).toEqual(['bob']);
    expect(names(await directory.search('carol@', { limit: 10 }))).toEqual(['carol']);
    expect(names(await directory.search('zed', { limit: 10 }))).toEqual([]);
    expect(names(await directory.search('', { limit: 10 }))).toEqual([]);
  });

  it('pages with offset and limit and reports the total', async () => {
    const { directory } = await setUp();
    // Domains are not name words: only carol, whose display name falls back to her address, has them.
    expect(names(await directory.search('example.com', { limit: 5 }))).toEqual(['carol']);
    const all = await directory.search('a', { limit: 1 });
    expect(all.total).toBe(2);
    expect(names(await directory.search('a', { offset: 1, limit: 1 }))).toEqual(['alice']);
  });

  it('resolves exact addresses and serves photos, certificates and profile fields', async () => {
    const { directory } = await setUp();
    const alice = await directory.resolve('A.Liddell@Example.com');
    expect(alice).toMatchObject({ id: 'alice', emailAddress: 'alice@example.com', title: 'Explorer' });
    expect(await directory.resolve('alice@example')).toBeUndefined();
    expect(await directory.photo('alice')).toEqual(new Uint8Array([0xff, 0xd8, 0xff]));
    expect(await directory.photo('bob')).toBeUndefined();
    expect(await directory.certificates('alice')).toEqual([new Uint8Array([0x30, 0x82])]);
    expect(await directory.certificates('nobody')).toEqual([]);
    expect((await directory.resolve('carol@example.com'))?.displayName).toBe('carol@example.com');
  });

  it('sees new users after its maximum age or invalidate()', async () => {
    const { store, directory, advance } = await setUp();
    expect((await directory.search('dave', { limit: 5 })).total).toBe(0);
    await store.createUser({ id: 'dave', primarySmtpAddress: 'dave@example.com', displayName: 'Dave' });
    expect((await directory.search('dave', { limit: 5 })).total).toBe(0);
    advance(60_001);
    expect((await directory.search('dave', { limit: 5 })).total).toBe(1);
    await store.createUser({ id: 'erin', primarySmtpAddress: 'erin@example.com', displayName: 'Erin' });
    directory.invalidate();
    expect((await directory.search('erin', { limit: 5 })).total).toBe(1);
  });

  it('treats any query text literally and never throws', async () => {
    const { directory } = await setUp();
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), async (query) => {
        const result = await directory.search(query, { limit: 5 });
        expect(result.total).toBeGreaterThanOrEqual(result.entries.length);
      }),
      { numRuns: 200 },
    );
    expect((await directory.search('.*', { limit: 5 })).total).toBe(0);
    expect((await directory.search('x'.repeat(1_000_000), { limit: 5 })).total).toBe(0);
  });
});
