import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runMailboxSearchConformance } from './conformance.js';
import { MemoryMailboxStore } from './memory.js';
import { plainMime, setUpUser } from './samples.js';
import { IndexedMailboxSearch, SearchTooComplexError, searchWords } from './search.js';
import type { MailboxStore } from './store.js';

runMailboxSearchConformance({
  name: 'IndexedMailboxSearch over MemoryMailboxStore',
  create: () => {
    const store = new MemoryMailboxStore();
    return { store, search: new IndexedMailboxSearch(store) };
  },
});

/** A store that counts the items `changes` hands out, to show what keeping the index current costs. */
function counting(store: MailboxStore): { store: MailboxStore; read: () => number } {
  let read = 0;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (property !== 'changes' || typeof value !== 'function') return value;
      return async (...args: Parameters<MailboxStore['changes']>) => {
        const page = await target.changes(...args);
        read += page.changes.length;
        return page;
      };
    },
  });
  return { store: proxy, read: () => read };
}

const mail = (subject: string, received: Date) => ({
  class: 'Email' as const,
  data: {
    mime: plainMime('body text', subject),
    subject,
    dateReceived: received,
    read: false,
    messageClass: 'IPM.Note',
  },
});

describe('IndexedMailboxSearch', () => {
  it('catches up from the change log: a search after one write reads one change, not the mailbox', async () => {
    const memory = new MemoryMailboxStore();
    const { store, read } = counting(memory);
    const search = new IndexedMailboxSearch(store);
    const { user, inbox } = await setUpUser(memory, 'u');
    for (let i = 0; i < 300; i++)
      await memory.createItem(user.id, inbox.id, mail(`item ${i}`, new Date(i * 1000)));
    await search.search(user.id, { condition: { freeText: 'item' }, limit: 1 });
    expect(read()).toBe(300);
    await search.search(user.id, { condition: { freeText: 'item' }, limit: 1 });
    expect(read()).toBe(300); // nothing changed: no change log read at all
    await memory.createItem(user.id, inbox.id, mail('fresh', new Date()));
    const result = await search.search(user.id, { condition: { freeText: 'fresh' }, limit: 5 });
    expect(result.total).toBe(1);
    expect(read()).toBe(301);
  });

  it('answers concurrent searches of one user consistently', async () => {
    const store = new MemoryMailboxStore();
    const search = new IndexedMailboxSearch(store);
    const { user, inbox } = await setUpUser(store, 'u');
    for (let i = 0; i < 50; i++) await store.createItem(user.id, inbox.id, mail(`topic ${i}`, new Date(i)));
    const totals = await Promise.all(
      Array.from({ length: 8 }, () => search.search(user.id, { condition: { freeText: 'topic' }, limit: 5 })),
    );
    expect(totals.map((r) => r.total)).toEqual(Array(8).fill(50));
  });

  it('never throws anything but its typed errors for arbitrary free text, and stays literal', async () => {
    const store = new MemoryMailboxStore();
    const search = new IndexedMailboxSearch(store);
    const { user, inbox } = await setUpUser(store, 'u');
    await store.createItem(user.id, inbox.id, mail('Hello (world) [x] *', new Date()));
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 300 }), async (text) => {
        let total: number;
        try {
          total = (await search.search(user.id, { condition: { freeText: text }, limit: 10 })).total;
        } catch (error) {
          expect(error).toBeInstanceOf(SearchTooComplexError);
          return;
        }
        const known = ['hello', 'world', 'x', 'body', 'text'];
        const words = searchWords(text);
        const expected = words.length > 0 && words.every((w) => known.some((k) => k.startsWith(w)));
        expect(total).toBe(expected ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });

  it('splits words at anything but letters and digits, folds case and accents, cuts long words', () => {
    expect(searchWords('Çà-va? ÉCOLE_42 foo.bar@x.org')).toEqual([
      'ca',
      'va',
      'ecole',
      '42',
      'foo',
      'bar',
      'x',
      'org',
    ]);
    expect(searchWords('z'.repeat(10_000))[0]).toHaveLength(48);
  });
});
