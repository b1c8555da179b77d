/**
 * The behavioural tests every `MailboxSearch` must pass, exported from `@easkit/mailbox/conformance`:
 *
 * ```ts
 * import { runMailboxSearchConformance } from '@easkit/mailbox/conformance';
 * runMailboxSearchConformance({
 *   name: 'postgres',
 *   create: async () => { const store = createPgMailboxStore({ pool }); return { store, search: createPgSearch({ pool }) }; },
 * });
 * ```
 *
 * Each check gets a fresh, empty store and the search over it, writes through the store and searches.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import type { ItemId } from './ids.js';
import type { EmailData } from './models/email.js';
import type { ItemData } from './models/item.js';
import { plainMime, sampleCalendar, sampleContact, sampleNote, setUpUser } from './samples.js';
import type { MailboxSearch, SearchCondition } from './search.js';
import type { MailboxStore } from './store.js';

export interface MailboxSearchCheckContext {
  readonly store: MailboxStore;
  readonly search: MailboxSearch;
}

export interface MailboxSearchCheck {
  readonly name: string;
  run(context: MailboxSearchCheckContext): Promise<void>;
}

export interface MailboxSearchConformanceOptions {
  name: string;
  /** A fresh, empty store and the search that indexes it. */
  create: () => MailboxSearchCheckContext | Promise<MailboxSearchCheckContext>;
  cleanup?: (context: MailboxSearchCheckContext) => void | Promise<void>;
  timeoutMs?: number;
}

function mail(subject: string, body: string, received: string, overrides: Partial<EmailData> = {}): ItemData {
  return {
    class: 'Email',
    data: {
      mime: plainMime(body, subject),
      subject,
      from: { name: 'Ada Lovelace', address: 'ada@example.com' },
      to: [{ name: 'Grace Hopper', address: 'grace@example.org' }],
      dateReceived: new Date(received),
      read: false,
      messageClass: 'IPM.Note',
      ...overrides,
    },
  };
}

async function ids(search: MailboxSearch, user: string, condition: SearchCondition, limit = 100) {
  const result = await search.search(user, { condition, limit });
  return result.hits.map((hit) => hit.itemId);
}

function sameSet(actual: readonly ItemId[], expected: readonly ItemId[], message?: string): void {
  assert.deepEqual([...actual].sort(), [...expected].sort(), message);
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.equal((error as { code?: unknown })?.code, code, `expected ${code}, got ${String(error)}`);
    return true;
  });
}

export const mailboxSearchChecks: MailboxSearchCheck[] = [
  {
    name: 'free text matches word prefixes of subject, body, sender and recipients, ignoring case and accents',
    async run({ store, search }) {
      const { user, inbox } = await setUpUser(store, 'u');
      const a = await store.createItem(
        user.id,
        inbox.id,
        mail('Budget Überblick', 'see the numbers', '2025-01-01'),
      );
      const b = await store.createItem(user.id, inbox.id, mail('Lunch', 'Pizza at noon', '2025-01-02'));
      sameSet(await ids(search, user.id, { freeText: 'budget' }), [a.id]);
      sameSet(await ids(search, user.id, { freeText: 'BUD' }), [a.id], 'prefix, any case');
      sameSet(await ids(search, user.id, { freeText: 'uberblick' }), [a.id], 'accents folded');
      sameSet(await ids(search, user.id, { freeText: 'pizza' }), [b.id], 'body text');
      sameSet(await ids(search, user.id, { freeText: 'lovelace' }), [a.id, b.id], 'sender name');
      sameSet(
        await ids(search, user.id, { freeText: 'grace@example.org' }),
        [a.id, b.id],
        'recipient address',
      );
      sameSet(await ids(search, user.id, { freeText: 'izza' }), [], 'only word starts match');
    },
  },
  {
    name: 'every word of the free text must match; text without words and pattern characters match literally',
    async run({ store, search }) {
      const { user, inbox } = await setUpUser(store, 'u');
      const a = await store.createItem(user.id, inbox.id, mail('alpha beta', 'x', '2025-01-01'));
      await store.createItem(user.id, inbox.id, mail('alpha gamma', 'x', '2025-01-02'));
      sameSet(await ids(search, user.id, { freeText: 'alpha  beta' }), [a.id]);
      sameSet(await ids(search, user.id, { freeText: '.*' }), [], 'no words: nothing');
      sameSet(await ids(search, user.id, { freeText: '' }), []);
      sameSet(await ids(search, user.id, { freeText: '(alp[ha]+)|*?' }), [], 'no regular expressions');
      sameSet(await ids(search, user.id, { freeText: 'beta$' }), [a.id], 'punctuation separates words');
      const long = 'a'.repeat(1_000_000);
      sameSet(await ids(search, user.id, { freeText: long }), [], 'a huge word is cheap and matches nothing');
    },
  },
  {
    name: 'folders scope the search; deep includes subfolders; another user’s folder is NotFound',
    async run({ store, search }) {
      const { user, inbox, sent } = await setUpUser(store, 'u');
      const other = await setUpUser(store, 'v');
      const child = await store.createFolder(user.id, {
        parentId: inbox.id,
        displayName: 'Projects',
        type: 12,
      });
      const grandchild = await store.createFolder(user.id, {
        parentId: child.id,
        displayName: 'Old',
        type: 12,
      });
      const inInbox = await store.createItem(user.id, inbox.id, mail('report', 'x', '2025-01-01'));
      const inChild = await store.createItem(user.id, child.id, mail('report', 'x', '2025-01-02'));
      const inGrand = await store.createItem(user.id, grandchild.id, mail('report', 'x', '2025-01-03'));
      const inSent = await store.createItem(user.id, sent.id, mail('report', 'x', '2025-01-04'));
      const text: SearchCondition = { freeText: 'report' };
      sameSet(await ids(search, user.id, { and: [text, { folders: [inbox.id] }] }), [inInbox.id]);
      sameSet(await ids(search, user.id, { and: [text, { folders: [inbox.id], deep: true }] }), [
        inInbox.id,
        inChild.id,
        inGrand.id,
      ]);
      sameSet(await ids(search, user.id, { and: [text, { folders: [child.id, sent.id] }] }), [
        inChild.id,
        inSent.id,
      ]);
      await rejectsWithCode(
        search.search(user.id, { condition: { folders: [other.inbox.id] }, limit: 10 }),
        'NOT_FOUND',
      );
      await rejectsWithCode(
        search.search('nobody', { condition: { freeText: 'x' }, limit: 10 }),
        'NOT_FOUND',
      );
    },
  },
  {
    name: 'classes, dates (after, before, at), conversation and or-conditions select what they say',
    async run({ store, search }) {
      const { user, inbox, calendar, contacts, notes } = await setUpUser(store, 'u');
      const conversation = new Uint8Array([1, 2, 3, 4]);
      const jan = await store.createItem(user.id, inbox.id, mail('plan', 'x', '2025-01-10T00:00:00Z'));
      const feb = await store.createItem(
        user.id,
        inbox.id,
        mail('plan', 'x', '2025-02-10T00:00:00Z', { conversationId: conversation }),
      );
      const mar = await store.createItem(
        user.id,
        inbox.id,
        mail('other', 'x', '2025-03-10T00:00:00Z', { conversationId: conversation }),
      );
      const event = await store.createItem(user.id, calendar.id, {
        class: 'Calendar',
        data: sampleCalendar({ subject: 'plan review' }),
      });
      const person = await store.createItem(user.id, contacts.id, {
        class: 'Contacts',
        data: sampleContact({ firstName: 'Planck', lastName: 'Max' }),
      });
      const note = await store.createItem(user.id, notes.id, {
        class: 'Notes',
        data: sampleNote({ subject: 'unrelated' }),
      });
      sameSet(await ids(search, user.id, { freeText: 'plan' }), [jan.id, feb.id, event.id, person.id]);
      sameSet(await ids(search, user.id, { and: [{ freeText: 'plan' }, { classes: ['Email'] }] }), [
        jan.id,
        feb.id,
      ]);
      sameSet(
        await ids(search, user.id, { and: [{ freeText: 'plan' }, { classes: ['Contacts', 'Calendar'] }] }),
        [event.id, person.id],
      );
      const email: SearchCondition = { classes: ['Email'] };
      sameSet(
        await ids(search, user.id, { and: [email, { date: { after: new Date('2025-01-10T00:00:00Z') } }] }),
        [feb.id, mar.id],
        'after is strict',
      );
      sameSet(
        await ids(search, user.id, { and: [email, { date: { before: new Date('2025-03-10T00:00:00Z') } }] }),
        [jan.id, feb.id],
        'before is strict',
      );
      sameSet(
        await ids(search, user.id, { and: [email, { date: { at: new Date('2025-02-10T00:00:00Z') } }] }),
        [feb.id],
      );
      sameSet(await ids(search, user.id, { conversationId: new Uint8Array([1, 2, 3, 4]) }), [feb.id, mar.id]);
      sameSet(await ids(search, user.id, { conversationId: new Uint8Array([9]) }), []);
      sameSet(await ids(search, user.id, { or: [{ freeText: 'other' }, { freeText: 'unrelated' }] }), [
        mar.id,
        note.id,
      ]);
    },
  },
  {
    name: 'results come newest first with a total, and pages by offset and limit without repeats',
    async run({ store, search }) {
      const { user, inbox } = await setUpUser(store, 'u');
      const created: ItemId[] = [];
      for (let day = 1; day <= 25; day++) {
        const item = await store.createItem(
          user.id,
          inbox.id,
          mail(`weekly ${day}`, 'status', `2025-01-${String(day).padStart(2, '0')}T08:00:00Z`),
        );
        created.push(item.id);
      }
      const seen: ItemId[] = [];
      for (let offset = 0; offset < 30; offset += 10) {
        const page = await search.search(user.id, { condition: { freeText: 'weekly' }, offset, limit: 10 });
        assert.equal(page.total, 25);
        seen.push(...page.hits.map((hit) => hit.itemId));
        for (let i = 1; i < page.hits.length; i++) {
          assert.ok(page.hits[i - 1]!.date!.getTime() >= page.hits[i]!.date!.getTime(), 'newest first');
        }
      }
      assert.deepEqual(seen, [...created].reverse());
      const past = await search.search(user.id, {
        condition: { freeText: 'weekly' },
        offset: 100,
        limit: 10,
      });
      assert.equal(past.total, 25);
      assert.equal(past.hits.length, 0);
    },
  },
  {
    name: 'a search sees every write before it: edits, deletes, moves and folder deletes',
    async run({ store, search }) {
      const { user, inbox, sent } = await setUpUser(store, 'u');
      const folder = await store.createFolder(user.id, {
        parentId: inbox.id,
        displayName: 'Archive',
        type: 12,
      });
      const item = await store.createItem(user.id, inbox.id, mail('apples', 'x', '2025-01-01'));
      const doomed = await store.createItem(user.id, folder.id, mail('apples too', 'x', '2025-01-02'));
      sameSet(await ids(search, user.id, { freeText: 'apples' }), [item.id, doomed.id]);
      await store.updateItem(user.id, item.id, { class: 'Email', data: { subject: 'oranges' } });
      sameSet(await ids(search, user.id, { freeText: 'apples' }), [doomed.id], 'old subject forgotten');
      sameSet(await ids(search, user.id, { freeText: 'oranges' }), [item.id]);
      const moved = await store.moveItem(user.id, item.id, sent.id);
      const hits = await search.search(user.id, { condition: { freeText: 'oranges' }, limit: 10 });
      assert.deepEqual(
        hits.hits.map((hit) => [hit.itemId, hit.folderId]),
        [[moved.id, sent.id]],
        'moved item found under its new id and folder',
      );
      await store.deleteFolder(user.id, folder.id);
      sameSet(await ids(search, user.id, { freeText: 'apples' }), [], 'items of a deleted folder are gone');
      await store.deleteItem(user.id, moved.id);
      sameSet(await ids(search, user.id, { freeText: 'oranges' }), []);
    },
  },
  {
    name: 'users never see each other’s items',
    async run({ store, search }) {
      const u = await setUpUser(store, 'u');
      const v = await setUpUser(store, 'v');
      const mine = await store.createItem(u.user.id, u.inbox.id, mail('secret plans', 'x', '2025-01-01'));
      const theirs = await store.createItem(v.user.id, v.inbox.id, mail('secret plans', 'x', '2025-01-01'));
      sameSet(await ids(search, u.user.id, { freeText: 'secret' }), [mine.id]);
      sameSet(await ids(search, v.user.id, { freeText: 'secret' }), [theirs.id]);
    },
  },
  {
    name: 'queries beyond the limits fail with TOO_COMPLEX; a malformed one with INVALID_ARGUMENT',
    async run({ store, search }) {
      const { user } = await setUpUser(store, 'u');
      let deep: SearchCondition = { freeText: 'x' };
      for (let i = 0; i < 1000; i++) deep = { and: [deep] };
      await rejectsWithCode(search.search(user.id, { condition: deep, limit: 10 }), 'TOO_COMPLEX');
      const wide: SearchCondition = { or: Array.from({ length: 1000 }, () => ({ freeText: 'x' })) };
      await rejectsWithCode(search.search(user.id, { condition: wide, limit: 10 }), 'TOO_COMPLEX');
      const words = Array.from({ length: 1000 }, (_, i) => `w${i}`).join(' ');
      await rejectsWithCode(
        search.search(user.id, { condition: { freeText: words }, limit: 10 }),
        'TOO_COMPLEX',
      );
      await rejectsWithCode(
        search.search(user.id, { condition: { freeText: 'x' }, limit: 0 }),
        'INVALID_ARGUMENT',
      );
    },
  },
];

/** Registers one vitest test per check of {@link mailboxSearchChecks}. */
export function runMailboxSearchConformance(options: MailboxSearchConformanceOptions): void {
  describe(`MailboxSearch conformance: ${options.name}`, () => {
    for (const check of mailboxSearchChecks) {
      it(
        check.name,
        async () => {
          const context = await options.create();
          try {
            await check.run(context);
          } finally {
            await options.cleanup?.(context);
          }
        },
        options.timeoutMs ?? 60_000,
      );
    }
  });
}
