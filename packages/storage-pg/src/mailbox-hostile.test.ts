import { type ItemData, MemoryMailboxStore, type StoredItem } from '@easkit/mailbox';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportingDatabase } from '../test/counting.js';
import { freshPGlite, postgresAvailable, type TestDatabase } from '../test/databases.js';
import { fastPostgres, MAILBOX_TABLES } from '../test/mailbox-databases.js';
import type { Database } from './database.js';
import { PgMailboxStore } from './mailbox-store.js';

/**
 * What the conformance suite does not cover: hostile sizes and bytes, bodies read exactly as the in-memory
 * store reads them, and a 100,000-item folder whose reads stay O(page) in rows and O(changes) in the plan.
 */

const CRLF = '\r\n';
const encoder = new TextEncoder();

function concat(...parts: Array<string | Uint8Array>): Uint8Array {
  const chunks = parts.map((part) => (typeof part === 'string' ? encoder.encode(part) : part));
  const out = new Uint8Array(chunks.reduce((n, chunk) => n + chunk.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Header bytes with NUL and invalid UTF-8 (a lone continuation byte, 0xFF, a truncated sequence). */
function hostileHeaders(): Uint8Array {
  return concat(
    'From: "Eve ',
    new Uint8Array([0x00, 0xff, 0xfe]),
    '" <eve@example.com>',
    CRLF,
    'Subject: broken ',
    new Uint8Array([0x80, 0x00, 0xe2, 0x82]),
    ' end',
    CRLF,
    'Content-Type: text/plain; charset=utf-8',
    CRLF,
    CRLF,
    'body with ',
    new Uint8Array([0x00, 0xc3]),
    ' bytes',
    CRLF,
  );
}

/** A message of about `megabytes` MB: an HTML body and one large base64 attachment. */
function bigMessage(megabytes: number): { mime: Uint8Array; attachment: Uint8Array } {
  const attachment = new Uint8Array(Math.floor((megabytes * 1e6 * 3) / 4));
  for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 31 + (i >> 9)) & 0xff;
  const base64 = Buffer.from(attachment).toString('base64').replace(/.{76}/g, `$&${CRLF}`);
  const mime = concat(
    [
      'From: big@example.com',
      'Subject: a large message',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      '',
      `<p>${'Grüße ✓ '.repeat(2000)}</p>`,
      '--b',
      'Content-Type: application/octet-stream; name="blob.bin"',
      'Content-Disposition: attachment; filename="blob.bin"',
      'Content-Transfer-Encoding: base64',
      '',
      '',
    ].join(CRLF),
    base64,
    `${CRLF}--b--${CRLF}`,
  );
  return { mime, attachment };
}

function email(mime: Uint8Array, subject?: string): ItemData {
  return {
    class: 'Email',
    data: {
      mime,
      dateReceived: new Date('2025-01-07T10:00:00Z'),
      read: false,
      messageClass: 'IPM.Note',
      ...(subject === undefined ? {} : { subject }),
    },
  };
}

/** Counts the statements and the rows each returns, around a Database. */
function counting(database: Database) {
  const seen = { statements: 0, maxRows: 0, last: { text: '', params: [] as readonly unknown[] } };
  const wrapped = reportingDatabase(database, (result, text, params) => {
    seen.statements++;
    seen.maxRows = Math.max(seen.maxRows, result.rows.length);
    seen.last = { text, params };
  });
  return { database: wrapped, seen };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  Plans?: PlanNode[];
}

/** Rows read from each table by the plan of a statement (rows per loop times loops, summed per relation). */
async function rowsRead(database: Database, text: string, params: readonly unknown[]) {
  const { rows } = await database.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> | string }>(
    `EXPLAIN (ANALYZE, FORMAT JSON) ${text}`,
    params,
  );
  const raw = rows[0]!['QUERY PLAN'];
  const plan = (typeof raw === 'string' ? JSON.parse(raw) : raw)[0].Plan as PlanNode;
  const perTable = new Map<string, number>();
  const walk = (node: PlanNode) => {
    if (node['Relation Name']) {
      const name = node['Relation Name'];
      perTable.set(name, (perTable.get(name) ?? 0) + node['Actual Rows'] * node['Actual Loops']);
    }
    for (const child of node.Plans ?? []) walk(child);
  };
  walk(plan);
  return { perTable, seqScans: JSON.stringify(plan).includes('"Seq Scan"') };
}

function hostileSuite(open: () => Promise<TestDatabase>) {
  let target: TestDatabase;
  let store: PgMailboxStore;
  let inbox: string;
  beforeAll(async () => {
    target = await open();
    await target.database.exec(`TRUNCATE ${MAILBOX_TABLES}`);
    store = new PgMailboxStore({ database: target.database });
    await store.createUser({ id: 'ada', primarySmtpAddress: 'ada@example.com' });
    inbox = (await store.createFolder('ada', { parentId: '0', displayName: 'Inbox', type: 2 })).id;
  });
  afterAll(async () => target?.close());

  it('keeps a 1 MB subject and a 20,000-character folder name', async () => {
    const subject = `${'Ä long subject ✓ '.repeat(65_000)}end`;
    const item = await store.createItem(
      'ada',
      inbox,
      email(encoder.encode(`Subject: x${CRLF}${CRLF}hi`), subject),
    );
    expect(item.class === 'Email' && item.data.subject).toBe(subject);
    expect((await store.getItem('ada', item.id)).data).toEqual(item.data);
    const name = 'N'.repeat(20_000);
    const folder = await store.createFolder('ada', { parentId: '0', displayName: name, type: 12 });
    expect((await store.getFolder('ada', folder.id)).displayName).toBe(name);
    await expect(
      store.createFolder('ada', { parentId: '0', displayName: name.toLowerCase(), type: 12 }),
    ).rejects.toMatchObject({ code: 'CONFLICT', reason: 'folder-name-taken' });
  });

  it('stores a 25 MB message and reads its parts without sending all of it', async () => {
    const { mime, attachment } = bigMessage(25);
    expect(mime.byteLength).toBeGreaterThan(25e6);
    const { database, seen } = counting(target.database);
    const counted = new PgMailboxStore({ database });
    const item = await counted.createItem('ada', inbox, email(mime));
    const stored = await store.getItem('ada', item.id);
    expect(stored.class === 'Email' && Buffer.from(stored.data.mime).equals(Buffer.from(mime))).toBe(true);
    const plain = await counted.readBody('ada', item.id, { type: 'plain', truncateBytes: 5120 });
    expect(plain.truncated).toBe(true);
    expect(encoder.encode(plain.data as string).byteLength).toBeLessThanOrEqual(5120);
    const head = await counted.readBody('ada', item.id, { type: 'mime', truncateBytes: 1000 });
    expect([head.estimatedSize, head.truncated, (head.data as Uint8Array).byteLength]).toEqual([
      mime.byteLength,
      true,
      1000,
    ]);
    expect(seen.statements).toBe(3);
    const [info] = stored.class === 'Email' ? (stored.data.attachments ?? []) : [];
    expect(info?.estimatedDataSize).toBe(attachment.byteLength);
    const part = await store.readAttachment('ada', info!.fileReference);
    expect(Buffer.from(part.data).equals(Buffer.from(attachment))).toBe(true);
    const archive = await store.createFolder('ada', { parentId: '0', displayName: 'Big', type: 12 });
    const moved = await store.moveItem('ada', item.id, archive.id);
    expect(moved.class === 'Email' && moved.data.mime.byteLength).toBe(mime.byteLength);
    await store.deleteFolder('ada', archive.id);
  }, 60_000);

  it('keeps NUL, lone surrogates and invalid UTF-8 exactly; projections get U+FFFD; names refuse them', async () => {
    const mime = hostileHeaders();
    const odd = 'nul\u0000here \ud800 lone \udc00 end';
    const created = await store.createItem('ada', inbox, {
      class: 'Email',
      data: {
        mime,
        subject: odd,
        dateReceived: new Date('2025-01-07T10:00:00Z'),
        read: false,
        messageClass: 'IPM.Note\u0000x',
        categories: ['\u0000', 'ok'],
        from: { name: 'E\u0000ve', address: 'eve@example.com' },
      },
    });
    const read = await store.getItem('ada', created.id);
    expect(read).toEqual(created);
    expect(read.class === 'Email' && Buffer.from(read.data.mime).equals(Buffer.from(mime))).toBe(true);
    expect(read.data).toMatchObject({ subject: odd, categories: ['\u0000', 'ok'] });
    const memory = await memoryBodies(mime);
    for (const type of ['plain', 'html', 'mime'] as const) {
      expect(await store.readBody('ada', created.id, { type })).toEqual(memory[type]);
    }
    const { rows } = await target.database.query<{ subject: string }>(
      'SELECT subject FROM easkit_mailbox_items WHERE id = $1',
      [created.id.slice(1)],
    );
    expect(rows[0]?.subject).toBe('nul\ufffdhere \ufffd lone \ufffd end');
    const note = await store.createItem('ada', (await notes()).id, {
      class: 'Notes',
      data: { subject: 'n', body: { type: 'plain', data: 'a\u0000b' } },
    });
    expect((await store.readBody('ada', note.id, { type: 'plain' })).data).toBe('a\u0000b');
    await expect(
      store.createFolder('ada', { parentId: '0', displayName: 'a\u0000b', type: 12 }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', reason: 'malformed' });
    await expect(
      store.createUser({ id: 'x\u0000', primarySmtpAddress: 'x@example.com' }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(store.getUser('x\u0000')).rejects.toMatchObject({ code: 'NOT_FOUND', entity: 'user' });
    await expect(store.getItem('ada', 'i1\u0000')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      entity: 'item',
    });
    expect(await store.resolveAddress('x\u0000@example.com')).toBeUndefined();
  });

  it('races deliveries against a folder delete: every modseq is accounted for, no item outlives its folder', async () => {
    const doomed = await store.createFolder('ada', { parentId: '0', displayName: 'Doomed', type: 12 });
    const before = await store.currentModseq('ada');
    const mime = encoder.encode(`Subject: race${CRLF}${CRLF}body`);
    const outcomes = await Promise.allSettled([
      ...Array.from({ length: 40 }, (_, i) =>
        i === 20 ? store.deleteFolder('ada', doomed.id) : store.createItem('ada', doomed.id, email(mime)),
      ),
    ]);
    const succeeded = outcomes.filter((o) => o.status === 'fulfilled').length;
    for (const o of outcomes) {
      if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'NOT_FOUND', entity: 'folder' });
    }
    expect(await store.currentModseq('ada')).toBe(before + succeeded);
    const { rows } = await target.database.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM easkit_mailbox_items i
        WHERE NOT EXISTS (SELECT 1 FROM easkit_mailbox_folders f WHERE f.user_id = i.user_id AND f.id = i.folder_id)`,
    );
    expect(rows[0]?.n).toBe(0);
  });

  it('answers absurd limits without a database error', async () => {
    const item = await store.createItem('ada', inbox, email(encoder.encode(`Subject: s${CRLF}${CRLF}añ✓`)));
    const page = await store.changes('ada', inbox, 0, Number.MAX_SAFE_INTEGER);
    expect(page.changes.some((c) => c.itemId === item.id)).toBe(true);
    const huge = await store.readBody('ada', item.id, { type: 'plain', truncateBytes: 2 ** 40 });
    expect([(huge.data as string).trimEnd(), huge.truncated]).toEqual(['añ✓', false]);
    const mime = await store.readBody('ada', item.id, { type: 'mime', truncateBytes: 2 ** 31 });
    expect(mime.truncated).toBe(false);
    await expect(store.changes('ada', inbox, 2 ** 53, 10)).resolves.toMatchObject({ changes: [] });
    await expect(store.readAttachment('ada', `${item.id}:99999999999`)).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
  });

  it('round-trips any strings, numbers and dates in class data (generated)', async () => {
    const folder = await notes();
    const anyChar = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
    const text = fc.string({ unit: fc.oneof(anyChar, fc.constantFrom('\u0000', '\ud83d', '\ude00', '😀')) });
    const value = fc.oneof(
      text,
      fc.double(),
      fc.date({ noInvalidDate: false }),
      fc.uint8Array({ maxLength: 16 }),
      fc.boolean(),
      fc.constant(undefined),
    );
    await fc.assert(
      fc.asyncProperty(text, fc.array(text, { maxLength: 4 }), value, async (subject, categories, extra) => {
        const data = { subject, categories, body: { type: 'plain' as const, data: subject }, extra };
        const item = await store.createItem('ada', folder.id, { class: 'Notes', data: data as never });
        const read = await store.getItem('ada', item.id);
        expect(read).toEqual(item);
        expect(Object.is((read.data as { extra?: unknown }).extra, extra) || typeof extra === 'object').toBe(
          true,
        );
        expect((read.data as typeof data).subject).toBe(subject);
        expect((await store.readBody('ada', item.id, { type: 'plain' })).data).toBe(subject);
      }),
      { numRuns: 60 },
    );
  });

  it('reads bodies exactly as the in-memory store does, at every truncation (generated)', async () => {
    const messages = [
      hostileHeaders(),
      bigMessage(0.01).mime,
      encoder.encode(`Subject: añ✓𝄞${CRLF}${CRLF}añ✓𝄞end`),
    ];
    for (const mime of messages) {
      const item = await store.createItem('ada', inbox, email(mime));
      const memory = await memoryStore(mime);
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom('plain' as const, 'html' as const, 'mime' as const),
          fc.option(fc.nat({ max: 20_000 }), { nil: undefined }),
          async (type, truncateBytes) => {
            const options = truncateBytes === undefined ? { type } : { type, truncateBytes };
            expect(await store.readBody('ada', item.id, options)).toEqual(
              await memory.store.readBody('m', memory.id, options),
            );
          },
        ),
        { numRuns: 40 },
      );
    }
  });

  it('pages a 100,000-item folder with bounded rows per statement and answers recent changes from the index', async () => {
    const folder = await store.createFolder('ada', { parentId: '0', displayName: 'Huge', type: 17 });
    const key = folder.id.slice(1);
    // Seeded in SQL (as createItem would write a note), so the test spends its time reading, not writing.
    await target.database.query(
      `WITH u AS (UPDATE easkit_mailbox_users SET modseq = modseq + 100000 WHERE id = 'ada' RETURNING modseq - 100000 AS base)
       INSERT INTO easkit_mailbox_items (user_id, id, folder_id, class, added_modseq, modseq, data, subject)
       SELECT 'ada', nextval('easkit_mailbox_ids'), $1, 'Notes', u.base + n, u.base + n,
              jsonb_build_object('subject', 'note ' || n), 'note ' || n
         FROM u, generate_series(1, 100000) AS n`,
      [key],
    );
    await target.database.exec('ANALYZE easkit_mailbox_items');
    const { database, seen } = counting(target.database);
    const counted = new PgMailboxStore({ database });
    let cursor = 0;
    let total = 0;
    let pages = 0;
    for (;;) {
      const page = await counted.changes('ada', folder.id, cursor, 1000);
      total += page.changes.length;
      pages++;
      cursor = page.nextModseq;
      if (!page.more) break;
    }
    expect([total, pages]).toEqual([100_000, 100]);
    expect(seen.maxRows).toBeLessThanOrEqual(1001);
    expect(await counted.countItems('ada', folder.id)).toBe(100_000);

    // A few writes at the end of a long history: the statement reads about as many rows as there are changes.
    const some = await counted.changes('ada', folder.id, 0, 3);
    const since = await counted.currentModseq('ada');
    await counted.updateItem('ada', some.changes[1]!.itemId, { class: 'Notes', data: { subject: 'edited' } });
    await counted.deleteItem('ada', some.changes[2]!.itemId);
    const fresh = await counted.createItem('ada', folder.id, { class: 'Notes', data: { subject: 'new' } });
    const recent = await counted.changes('ada', folder.id, since, 100);
    expect(recent.changes.map((c) => [c.kind, c.itemId])).toEqual([
      ['change', some.changes[1]!.itemId],
      ['delete', some.changes[2]!.itemId],
      ['add', fresh.id],
    ]);
    const plan = await rowsRead(target.database, seen.last.text, seen.last.params);
    expect(plan.seqScans).toBe(false);
    expect(plan.perTable.get('easkit_mailbox_items') ?? 0).toBeLessThan(20);
    expect((await counted.changes('ada', folder.id, recent.nextModseq, 100)).changes).toEqual([]);
    const idle = await rowsRead(target.database, seen.last.text, seen.last.params);
    expect(idle.perTable.get('easkit_mailbox_items') ?? 0).toBeLessThan(5);

    // Deleting the folder takes its 100,000 items in the database, not through the process.
    seen.maxRows = 0;
    await counted.deleteFolder('ada', folder.id);
    expect(seen.maxRows).toBeLessThan(20);
    const { rows } = await target.database.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM easkit_mailbox_items WHERE folder_id = $1',
      [key],
    );
    expect(rows[0]?.n).toBe(0);
  }, 60_000);

  async function notes() {
    const existing = (await store.listFolders('ada')).find((f) => f.type === 10);
    return existing ?? store.createFolder('ada', { parentId: '0', displayName: 'Notes', type: 10 });
  }
}

async function memoryStore(mime: Uint8Array): Promise<{ store: MemoryMailboxStore; id: string }> {
  const store = new MemoryMailboxStore();
  await store.createUser({ id: 'm', primarySmtpAddress: 'm@example.com' });
  const folder = await store.createFolder('m', { parentId: '0', displayName: 'Inbox', type: 2 });
  const item: StoredItem = await store.createItem('m', folder.id, email(mime));
  return { store, id: item.id };
}

async function memoryBodies(mime: Uint8Array) {
  const { store, id } = await memoryStore(mime);
  return {
    plain: await store.readBody('m', id, { type: 'plain' }),
    html: await store.readBody('m', id, { type: 'html' }),
    mime: await store.readBody('m', id, { type: 'mime' }),
  };
}

describe('PgMailboxStore with hostile data on PGlite', () => hostileSuite(() => freshPGlite()));

describe.runIf(await postgresAvailable())('PgMailboxStore with hostile data on PostgreSQL', () =>
  hostileSuite(() => fastPostgres('mailbox_hostile')),
);
