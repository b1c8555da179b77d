import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliverMessage } from '@easkit/eas-commands';
import { FolderType, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { decode, eas, type WbxmlElement } from '@easkit/wbxml';
import { createTransport } from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { freshDatabaseUrl, postgresAvailable } from '../test/postgres.js';
import { freePort, type ServerProcess, startServerProcess } from '../test/server-process.js';
import { cloneItems, openDirectStore } from '../test/storage-target.js';
import { folderIdsByType, type SyncPage, syncOnce } from '../test/sync-client.js';
import { seedDemoMailbox } from './seed.js';

const { AirSync: AS, AirSyncBase: ASB, GetItemEstimate: GIE, ItemOperations: IO } = eas;
const USER = 'demo@easkit.test';
const PASSWORD = 'hostile-pw';
/** Items in the big folder, written with SQL before the server starts. */
const HUGE_FOLDER_ITEMS = 100_000;
/** Every Sync, ItemOperations and GetItemEstimate must be answered within this (the device gives up after). */
const RESPONSE_DEADLINE_MS = 20_000;
/** The bound on the server's resident memory, peak included (VmHWM). */
const RSS_BOUND_BYTES = 1.5 * 1024 ** 3;
const CRLF = '\r\n';

const LONG_SUBJECT = `long-${'subject words that go on and on '.repeat(3_200)}end`;

/** A header block with a 100 KB Subject folded over many lines, as a mailer would send it. */
function longSubjectMessage(): Buffer {
  const folded = (LONG_SUBJECT.match(/.{1,70}(\s|$)/g) ?? []).map((line) => line.trimEnd()).join(`${CRLF} `);
  return Buffer.from(
    [
      `From: long@remote.test`,
      `To: ${USER}`,
      `Subject: ${folded}`,
      'Message-ID: <long@remote.test>',
      '',
      'body',
    ]
      .join(CRLF)
      .concat(CRLF),
  );
}

/** Bytes that are not UTF-8 (stray continuation bytes, overlong and surrogate forms) in three headers. */
function invalidUtf8Message(): Buffer {
  return Buffer.concat([
    Buffer.from('From: "Bad '),
    Buffer.from([0xff, 0xfe, 0x41]),
    Buffer.from(`" <broken@remote.test>${CRLF}To: ${USER}${CRLF}Subject: bad-`),
    Buffer.from([0x80, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xc0, 0xaf]),
    Buffer.from(`-end${CRLF}X-Junk: `),
    Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
    Buffer.from(`${CRLF}Message-ID: <broken@remote.test>${CRLF}${CRLF}plain body${CRLF}`),
  ]);
}

/** NUL bytes in the Subject, the From name and another header. */
function nulHeadersMessage(): Buffer {
  return Buffer.concat([
    Buffer.from('From: "Nul '),
    Buffer.from([0x00]),
    Buffer.from(` Sender" <nul@remote.test>${CRLF}To: ${USER}${CRLF}Subject: nul-`),
    Buffer.from([0x00]),
    Buffer.from(`-end${CRLF}X-Junk: a`),
    Buffer.from([0x00, 0x00]),
    Buffer.from(`b${CRLF}Message-ID: <nul@remote.test>${CRLF}${CRLF}plain body${CRLF}`),
  ]);
}

/** A message of at least 25 MB: a short text part and a base64 attachment of random bytes. */
function bigMessage(): Buffer {
  const attachment = randomBytes(19 * 1024 * 1024)
    .toString('base64')
    .replace(/.{76}/g, `$&${CRLF}`);
  return Buffer.from(
    [
      'From: big@remote.test',
      `To: ${USER}`,
      'Subject: big-message',
      'Message-ID: <big@remote.test>',
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b1"',
      '',
      '--b1',
      'Content-Type: text/plain; charset=utf-8',
      '',
      'A large attachment follows.',
      '--b1',
      'Content-Type: application/octet-stream; name="big.bin"',
      'Content-Transfer-Encoding: base64',
      'Content-Disposition: attachment; filename="big.bin"',
      '',
      attachment,
      '--b1--',
      '',
    ].join(CRLF),
  );
}

describe.runIf(await postgresAvailable())('hostile data end to end on PostgreSQL (the built server)', () => {
  let server: ServerProcess;
  let mailPort: number;
  let hugeId: string;
  let peakSampled = 0;
  let sampler: NodeJS.Timeout | undefined;
  const timings: Record<string, number> = {};
  /** The device of the first test, synced to the end of the Inbox. */
  let inbox: { device: TestDevice; inboxId: string; key: string } | undefined;

  beforeAll(async () => {
    const databaseUrl = await freshDatabaseUrl('server_hostile_data');
    const store = await openDirectStore({ kind: 'postgres', databaseUrl });
    try {
      const user = await seedDemoMailbox(store.mailbox, USER);
      const huge = await store.mailbox.createFolder(user.id, {
        parentId: ROOT_FOLDER_ID,
        displayName: 'Huge',
        type: FolderType.UserMail,
      });
      hugeId = huge.id;
      // One real delivery, then copies of its row: what 100,000 deliveries would leave, in seconds.
      const template = await deliverMessage(
        store.mailbox,
        user.id,
        Buffer.from(
          `From: bulk@remote.test${CRLF}To: ${USER}${CRLF}Subject: template${CRLF}${CRLF}bulk body${CRLF}`,
        ),
      );
      await cloneItems(store.database, user.id, template, huge.id, HUGE_FOLDER_ITEMS, 'huge ');
      await store.database.exec('ANALYZE easkit_mailbox_items');
    } finally {
      await store.close();
    }
    const config = join(mkdtempSync(join(tmpdir(), 'easkit-hostile-')), 'easkit.yaml');
    writeFileSync(config, `mailIn:\n  maxMessageBytes: ${64 * 1024 * 1024}\n`);
    mailPort = await freePort();
    server = await startServerProcess({
      DATABASE_URL: databaseUrl,
      EASKIT_CONFIG: config,
      EASKIT_MAIL_IN_PORT: String(mailPort),
      EASKIT_DEMO_PASSWORD: PASSWORD,
    });
    sampler = setInterval(() => {
      peakSampled = Math.max(peakSampled, server.memory().rssBytes);
    }, 100);
  }, 120_000);

  afterAll(async () => {
    clearInterval(sampler);
    process.stdout.write(`[hostile-data] response times (ms, not asserted): ${JSON.stringify(timings)}\n`);
    await server?.stop();
  });

  /** A command the device gives up on after RESPONSE_DEADLINE_MS; its time is printed, not asserted. */
  async function timed<T>(label: string, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const started = performance.now();
    const result = await work(AbortSignal.timeout(RESPONSE_DEADLINE_MS));
    timings[label] = Math.round(performance.now() - started);
    return result;
  }

  async function command(device: TestDevice, name: string, body: WbxmlElement, signal: AbortSignal) {
    const response = await device.open(name, body, signal);
    const bytes = new Uint8Array(await response.arrayBuffer());
    expect(response.status, name).toBe(200);
    return decode(bytes);
  }

  function estimate(device: TestDevice, collectionId: string, syncKey: string, label: string) {
    return timed(label, async (signal) => {
      const reply = await command(
        device,
        'GetItemEstimate',
        GIE.GetItemEstimate(
          GIE.Collections(GIE.Collection(AS.SyncKey(syncKey), GIE.CollectionId(collectionId))),
        ),
        signal,
      );
      const response = reply.require('Response');
      expect(response.intOf('Status')).toBe(1);
      return response.require('Collection').intOf('Estimate');
    });
  }

  /** ItemOperations Fetch of a message's full MIME (BodyPreference Type 4); returns its bytes. */
  function fetchMime(device: TestDevice, collectionId: string, serverId: string, label: string) {
    return timed(label, async (signal) => {
      const reply = await command(
        device,
        'ItemOperations',
        IO.ItemOperations(
          IO.Fetch(
            IO.Store('Mailbox'),
            AS.CollectionId(collectionId),
            AS.ServerId(serverId),
            IO.Options(AS.MIMESupport(2), ASB.BodyPreference(ASB.Type(4))),
          ),
        ),
        signal,
      );
      expect(reply.intOf('Status')).toBe(1);
      const fetched = reply.require('Response').require('Fetch');
      expect(fetched.intOf('Status')).toBe(1);
      const data = fetched.require('Properties').require('Body').require('Data');
      return data.bytes ?? Buffer.from(data.text ?? '', 'utf8');
    });
  }

  it('takes a 100 KB subject, invalid UTF-8 in headers and a 25 MB message over SMTP; Sync, ItemOperations and GetItemEstimate answer each', async () => {
    const transport = createTransport({ host: '127.0.0.1', port: mailPort, ignoreTLS: true });
    const send = (raw: Buffer) =>
      transport.sendMail({ envelope: { from: 'x@remote.test', to: [USER] }, raw });
    const long = longSubjectMessage();
    const broken = invalidUtf8Message();
    const big = bigMessage();
    expect(big.byteLength).toBeGreaterThan(25_000_000);
    await send(long);
    await send(broken);
    await send(big);
    transport.close();

    const device = new TestDevice(server.url, USER, PASSWORD, 'hostile-phone');
    await device.provision();
    const inboxId = (await folderIdsByType(device)).get(FolderType.Inbox)!;
    let key = (await timed('Sync Inbox key 0', (signal) => syncOnce(device, '0', inboxId, { signal })))
      .syncKey;
    const subjects = new Map<string, string | undefined>();
    for (let round = 0, more = true; more; round++) {
      const page: SyncPage = await timed(`Sync Inbox ${round}`, (signal) =>
        syncOnce(device, key, inboxId, { windowSize: 100, truncation: 1024, signal }),
      );
      expect(page.status).toBe(1);
      for (const add of page.adds) subjects.set(add.serverId, add.data?.textOf('Subject'));
      key = page.syncKey;
      more = page.moreAvailable;
    }
    const idOf = (test: (subject: string) => boolean) =>
      [...subjects].find(([, subject]) => subject !== undefined && test(subject))?.[0];
    const longId = idOf((subject) => subject.startsWith('long-'));
    const brokenId = idOf((subject) => subject.startsWith('bad-'));
    const bigId = idOf((subject) => subject === 'big-message');
    expect(
      [longId, brokenId, bigId].every((id) => id !== undefined),
      JSON.stringify([...subjects.values()]),
    ).toBe(true);
    // The long subject arrives whole (unfolded); the broken one with replacement characters.
    expect(subjects.get(longId!)).toBe(LONG_SUBJECT);
    expect(subjects.get(brokenId!)).toMatch(/^bad-.*-end$/s);

    // The full MIME of each comes back byte for byte, the 25 MB one included.
    expect(Buffer.from(await fetchMime(device, inboxId, longId!, 'ItemOperations long subject'))).toEqual(
      long,
    );
    expect(Buffer.from(await fetchMime(device, inboxId, brokenId!, 'ItemOperations broken headers'))).toEqual(
      broken,
    );
    const bigMime = await fetchMime(device, inboxId, bigId!, 'ItemOperations 25 MB');
    expect(bigMime.byteLength).toBe(big.byteLength);
    expect(Buffer.from(bigMime).equals(big)).toBe(true);

    expect(await estimate(device, inboxId, key, 'GetItemEstimate Inbox')).toBe(0);
    inbox = { device, inboxId, key };
  }, 120_000);

  // PostgreSQL keeps the NUL in the stored data (tagged); a WBXML string cannot hold one, so the response
  // carries U+FFFD in its place instead of failing as a whole (HTTP 500 before 8a73ac1).
  it('takes NUL bytes in headers over SMTP and the Inbox keeps syncing', async () => {
    expect(inbox).toBeDefined();
    const { device, inboxId } = inbox!;
    const transport = createTransport({ host: '127.0.0.1', port: mailPort, ignoreTLS: true });
    const nul = nulHeadersMessage();
    await transport.sendMail({ envelope: { from: 'x@remote.test', to: [USER] }, raw: nul });
    transport.close();
    const page = await timed('Sync Inbox after NUL headers', (signal) =>
      syncOnce(device, inbox!.key, inboxId, { windowSize: 100, truncation: 1024, signal }),
    );
    expect(page.status).toBe(1);
    expect(page.adds).toHaveLength(1);
    const subject = page.adds[0]!.data?.textOf('Subject');
    expect(subject).toBe('nul-\uFFFD-end');
    expect(
      Buffer.from(await fetchMime(device, inboxId, page.adds[0]!.serverId, 'ItemOperations NUL')),
    ).toEqual(nul);
  });

  it(`syncs, estimates and fetches in a ${HUGE_FOLDER_ITEMS.toLocaleString('en')}-item folder`, async () => {
    const device = new TestDevice(server.url, USER, PASSWORD, 'huge-phone');
    await device.provision();
    const primed = await timed('Sync Huge key 0', (signal) => syncOnce(device, '0', hugeId, { signal }));
    let key = primed.syncKey;
    expect(await estimate(device, hugeId, key, 'GetItemEstimate Huge (all)')).toBe(HUGE_FOLDER_ITEMS);
    const seen = new Set<string>();
    for (let round = 0; round < 3; round++) {
      const page = await timed(`Sync Huge window ${round}`, (signal) =>
        syncOnce(device, key, hugeId, { windowSize: 512, truncation: 512, signal }),
      );
      expect(page.status).toBe(1);
      expect(page.adds).toHaveLength(512);
      expect(page.moreAvailable).toBe(true);
      for (const add of page.adds) seen.add(add.serverId);
      key = page.syncKey;
    }
    expect(seen.size).toBe(3 * 512);
    // After a cursor, GetItemEstimate counts at most 10,000 changes (MAX_COUNTED_CHANGES of eas-commands).
    expect(await estimate(device, hugeId, key, 'GetItemEstimate Huge (rest)')).toBe(
      Math.min(HUGE_FOLDER_ITEMS - 3 * 512, 10_000),
    );
    const mime = await fetchMime(device, hugeId, [...seen][0]!, 'ItemOperations Huge item');
    expect(Buffer.from(mime).toString('latin1')).toContain('Subject: template');
  }, 120_000);

  it('kept the server within the memory bound throughout (peak resident set size)', () => {
    const { peakRssBytes } = server.memory();
    process.stdout.write(
      `[hostile-data] server peak RSS ${Math.round(peakRssBytes / 2 ** 20)} MiB (sampled ${Math.round(peakSampled / 2 ** 20)} MiB)\n`,
    );
    expect(peakRssBytes).toBeGreaterThan(0);
    expect(peakRssBytes).toBeLessThan(RSS_BOUND_BYTES);
  });
});
