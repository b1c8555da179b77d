import { cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deliverMessage } from '@easkit/eas-commands';
import { FolderType } from '@easkit/mailbox';
import { eas } from '@easkit/wbxml';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { freshDatabaseUrl, postgresAvailable } from '../test/postgres.js';
import { type ServerProcess, startServerProcess } from '../test/server-process.js';
import { folderContent, openDirectStore, type StorageTarget, storageEnv } from '../test/storage-target.js';
import { folderIdsByType, type SyncPage, syncOnce, syncRequest } from '../test/sync-client.js';
import { seedDemoMailbox } from './seed.js';

const { AirSync: AS, Contacts: C } = eas;
const USER = 'demo@easkit.test';
const PASSWORD = 'crash-pw';
/** Messages in the Inbox before the first start (a large initial Sync: six windows of 512). */
const MESSAGES = 3000;
const WINDOW = 512;

/** A message of about 1.5 KB with a subject that names it. */
function message(n: number): Uint8Array {
  const body = `Message ${n} of the crash test.\r\n${'All work and no play makes a dull inbox. '.repeat(30)}\r\n`;
  return new TextEncoder().encode(
    [
      'From: Sender <sender@remote.test>',
      `To: Demo <${USER}>`,
      `Subject: crash-mail ${n}`,
      `Date: ${new Date(Date.UTC(2024, 0, 1) + n * 60_000).toUTCString()}`,
      `Message-ID: <crash-${n}@remote.test>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      body,
    ].join('\r\n'),
  );
}

/** The demo mailbox with MESSAGES messages in its Inbox, written straight into the store before any start. */
async function seed(target: StorageTarget): Promise<void> {
  const store = await openDirectStore(target);
  try {
    const user = await seedDemoMailbox(store.mailbox, USER);
    for (let n = 1; n <= MESSAGES; n++) await deliverMessage(store.mailbox, user.id, message(n));
  } finally {
    await store.close();
  }
}

/** The target's content, read directly once the server is gone (a PGlite folder has one owner at a time). */
async function storeContent(target: StorageTarget, folderType: FolderType) {
  const store = await openDirectStore(target);
  try {
    const folder = (await store.mailbox.listFolders(USER)).find(
      (candidate) => candidate.type === folderType,
    )!;
    return await folderContent(store.mailbox, USER, folder.id);
  } finally {
    await store.close();
  }
}

/** A device's own copy of one collection: its key and the items it holds. */
class DeviceCollection {
  readonly items = new Map<string, string | undefined>();
  /** Server ids the server added while the device already had them. */
  readonly addedTwice: string[] = [];
  key = '0';

  constructor(
    readonly collectionId: string,
    private readonly label: (data: SyncPage['adds'][number]['data']) => string | undefined,
  ) {}

  /** Applies a response the device received whole, as a client would: then the new key is its key. */
  apply(page: SyncPage): void {
    if (page.status !== 1) throw new Error(`Sync status ${page.status}`);
    for (const add of page.adds) {
      if (this.items.has(add.serverId)) this.addedTwice.push(add.serverId);
      this.items.set(add.serverId, this.label(add.data));
    }
    for (const change of page.changes) this.items.set(change.serverId, this.label(change.data));
    for (const id of page.deletes) this.items.delete(id);
    this.key = page.syncKey;
  }
}

function crashSuite(name: string, makeTarget: () => Promise<StorageTarget>) {
  describe.sequential(name, () => {
    let server: ServerProcess | undefined;

    async function start(target: StorageTarget): Promise<ServerProcess> {
      server = await startServerProcess({ ...storageEnv(target), EASKIT_DEMO_PASSWORD: PASSWORD });
      return server;
    }

    /** The device as it comes back to a (restarted) server: same id, same policy key. */
    function deviceOn(running: ServerProcess, deviceId: string, policyKey?: string): TestDevice {
      const device = new TestDevice(running.url, USER, PASSWORD, deviceId);
      if (policyKey) device.policyKey = policyKey;
      return device;
    }

    it('a large Sync (WindowSize 512) killed with SIGKILL mid-response and mid-computation: the retry with the last key loses nothing and sends nothing twice', async () => {
      const target = await makeTarget();
      await seed(target);
      let running = await start(target);
      try {
        let device = deviceOn(running, 'crash-sync');
        await device.provision();
        const inboxId = (await folderIdsByType(device)).get(FolderType.Inbox)!;
        const inbox = new DeviceCollection(inboxId, (data) => data?.textOf('Subject'));
        inbox.apply(await syncOnce(device, '0', inboxId));

        const restart = async () => {
          await running.crash();
          running = await start(target);
          device = deviceOn(running, 'crash-sync', device.policyKey);
        };
        const round = () => syncOnce(device, inbox.key, inboxId, { windowSize: WINDOW, truncation: 512 });

        // Round 1 arrives whole.
        inbox.apply(await round());
        // Round 2: killed as soon as the response headers arrive; the device drops the response (a lost response).
        {
          const response = await device.open(
            'Sync',
            syncRequest(inbox.key, inboxId, { windowSize: WINDOW, truncation: 512 }),
          );
          await restart();
          await response.arrayBuffer().catch(() => undefined);
        }
        // The retry with the same key after the restart.
        inbox.apply(await round());
        // Round 4: killed while the server is still reading and rendering the window (no response yet). On a
        // busy machine the answer can win the race; a device that got it whole applies it, and the kill is tried
        // again on the next window (at most three times).
        const outcomes: string[] = [];
        for (let attempt = 0; attempt < 3 && !outcomes.includes('lost'); attempt++) {
          const pending = syncOnce(device, inbox.key, inboxId, { windowSize: WINDOW, truncation: 512 }).then(
            (page) => page,
            () => 'lost' as const,
          );
          await waitForCpu(running, 20);
          await restart();
          const outcome = await pending;
          if (outcome === 'lost') outcomes.push('lost');
          else {
            outcomes.push('answered');
            inbox.apply(outcome);
          }
        }
        expect(outcomes).toContain('lost');
        // Round 5 arrives whole, then the server dies before the device confirms it with its next key.
        inbox.apply(await round());
        await restart();
        let more = true;
        for (let guard = 0; more && guard < 20; guard++) {
          const page = await round();
          inbox.apply(page);
          more = page.moreAvailable;
        }
        expect(more).toBe(false);
        expect(inbox.addedTwice).toEqual([]);
        await running.stop();

        const stored = await storeContent(target, FolderType.Inbox);
        expect(stored.size).toBeGreaterThanOrEqual(MESSAGES);
        expect([...inbox.items.keys()].sort()).toEqual([...stored.keys()].sort());
        for (const [id, item] of stored) {
          expect(inbox.items.get(id)).toBe((item.data as { subject?: string }).subject);
        }
      } finally {
        await server?.crash();
      }
    }, 240_000);

    /** What the batch test left behind, for the exactly-once check below. */
    let batch: { duplicatedLastNames: string[]; storedCount: number; expectedCount: number } | undefined;

    it("a batch of client Adds, Changes and Deletes killed with SIGKILL partway: after the restart the retry with the same key loses nothing, and the device ends with exactly the store's items", async () => {
      const target = await makeTarget();
      // The seeded demo mailbox only (no bulk mail).
      const store = await openDirectStore(target);
      await seedDemoMailbox(store.mailbox, USER);
      await store.close();
      let running = await start(target);
      try {
        let device = deviceOn(running, 'crash-batch');
        await device.provision();
        const contactsId = (await folderIdsByType(device)).get(FolderType.Contacts)!;
        const contacts = new DeviceCollection(contactsId, (data) => data?.textOf('LastName'));
        const syncContacts = (commands?: ReturnType<typeof AS.Add>[]) =>
          syncOnce(device, contacts.key, contactsId, {
            windowSize: WINDOW,
            ...(commands ? { commands } : {}),
          });
        contacts.apply(await syncOnce(device, '0', contactsId));
        for (let more = true; more; ) {
          const page = await syncContacts();
          contacts.apply(page);
          more = page.moreAvailable;
        }
        const before = contacts.items.size;

        // Batch 1 (not interrupted): 300 contacts from the device.
        const batch1 = Array.from({ length: 300 }, (_, n) => contactAdd(`one-${n}`));
        const progress = await writeProgress(target, running);
        const beforeBatch1 = await progress.read();
        const reply1 = await syncContacts(batch1);
        // What one write moves the probe by (exactly 1 on PostgreSQL; bytes on PGlite).
        const perWrite = ((await progress.read()) - beforeBatch1) / 300;
        const clientToServer = new Map<string, string>();
        for (const response of reply1.responses) {
          expect(response).toMatchObject({ kind: 'Add', status: 1 });
          clientToServer.set(response.clientId!, response.serverId!);
          contacts.items.set(response.serverId!, `last-${response.clientId}`);
        }
        contacts.apply(reply1);
        expect(clientToServer.size).toBe(300);

        // Batch 2: 400 Adds, 100 Changes and 100 Deletes interleaved; the server dies with part of it applied.
        const changed = [...clientToServer.values()].slice(0, 100);
        const deleted = [...clientToServer.values()].slice(100, 200);
        const batch2: ReturnType<typeof AS.Add>[] = [];
        for (let n = 0; n < 400; n++) {
          batch2.push(contactAdd(`two-${n}`));
          if (n % 4 === 0) {
            const index = n / 4;
            batch2.push(
              AS.Change(
                AS.ServerId(changed[index]!),
                AS.ApplicationData(C.FirstName('Changed'), C.LastName(`changed-${index}`)),
              ),
            );
            batch2.push(AS.Delete(AS.ServerId(deleted[index]!)));
          }
        }
        const start0 = await progress.read();
        const attempt = syncContacts(batch2).then(
          () => 'answered' as const,
          () => 'lost' as const,
        );
        // 600 writes in all: kill once about a quarter of them is done.
        await progress.waitFor(start0 + 150 * perWrite);
        await running.crash();
        await progress.close();
        expect(await attempt).toBe('lost');

        // The kill landed inside the batch: part of it is in the store, each write whole and once.
        const afterCrash = await lastNameCounts(target);
        const appliedAdds = [...afterCrash.keys()].filter((last) => last.startsWith('last-two-')).length;
        expect(appliedAdds).toBeGreaterThan(0);
        expect(appliedAdds).toBeLessThan(400);
        expect([...afterCrash.values()].every((count) => count === 1)).toBe(true);

        running = await start(target);
        device = deviceOn(running, 'crash-batch', device.policyKey);
        const retry = await syncContacts(batch2);
        for (const response of retry.responses) {
          if (response.kind === 'Add') {
            expect(response.status).toBe(1);
            contacts.items.set(response.serverId!, `last-${response.clientId}`);
          } else {
            // A Change or Delete the crashed attempt had already made may be answered (Conflict, not found).
            expect([1, 7, 8]).toContain(response.status);
          }
        }
        contacts.apply(retry);
        for (const id of deleted) contacts.items.delete(id);
        for (const [index, id] of changed.entries()) contacts.items.set(id, `changed-${index}`);
        for (let more = true, guard = 0; more && guard < 20; guard++) {
          const page = await syncContacts();
          contacts.apply(page);
          more = page.moreAvailable;
        }
        await running.stop();

        const stored = await storeContent(target, FolderType.Contacts);
        const counts = await lastNameCounts(target);
        // Nothing lost: every Add of both batches, every Change; every Delete done.
        // Batch 1's contacts 0-99 were changed and 100-199 deleted by batch 2; 200-299 stay as they were.
        for (let n = 200; n < 300; n++) expect(counts.has(`last-one-${n}`), `one-${n}`).toBe(true);
        for (let n = 0; n < 400; n++) expect(counts.has(`last-two-${n}`), `two-${n}`).toBe(true);
        for (let index = 0; index < 100; index++) expect(counts.get(`changed-${index}`)).toBe(1);
        for (const id of deleted) expect(stored.has(id)).toBe(false);
        // The device holds exactly what the store holds, and was never sent an item it had already.
        expect(contacts.addedTwice).toEqual([]);
        expect([...contacts.items.keys()].sort()).toEqual([...stored.keys()].sort());
        batch = {
          duplicatedLastNames: [...counts].filter(([, count]) => count > 1).map(([last]) => last),
          storedCount: stored.size,
          expectedCount: before + 300 - 100 + 400,
        };
      } finally {
        await server?.crash();
      }
    }, 240_000);

    // A crash between the mailbox writes and the sync-state update must not make the retried Adds new ones
    // (eas-commands recognises them by the ClientId recorded on each item).
    it('... and applies every client Add exactly once (none twice in the store)', () => {
      expect(batch).toBeDefined();
      expect(batch!.duplicatedLastNames).toEqual([]);
      expect(batch!.storedCount).toBe(batch!.expectedCount);
    });
  });
}

/**
 * How many contacts carry each LastName, read from the stopped server's data. A PGlite folder is copied first,
 * so that the server, not this process, is the one that recovers the original after the crash.
 */
async function lastNameCounts(target: StorageTarget): Promise<Map<string, number>> {
  const readable: StorageTarget =
    target.kind === 'pglite' ? { kind: 'pglite', dataDir: copyFolder(target.dataDir) } : target;
  const items = await storeContent(readable, FolderType.Contacts);
  const counts = new Map<string, number>();
  for (const item of items.values()) {
    const last = String((item.data as { lastName?: string }).lastName);
    counts.set(last, (counts.get(last) ?? 0) + 1);
  }
  return counts;
}

function copyFolder(folder: string): string {
  const copy = mkdtempSync(join(tmpdir(), 'easkit-crash-copy-'));
  cpSync(folder, copy, { recursive: true });
  return copy;
}

function contactAdd(clientId: string) {
  return AS.Add(
    AS.ClientId(clientId),
    AS.ApplicationData(
      C.FirstName('Crash'),
      C.LastName(`last-${clientId}`),
      C.Email1Address(`${clientId}@contacts.test`),
    ),
  );
}

/**
 * How far the server has got through a batch of writes, as a counter that only grows. On PostgreSQL: the
 * user's modseq, read from the database (every mailbox write takes one). A PGlite folder cannot be opened by a
 * second process while the server owns it, so there it is the bytes the server process has written (`wchar`
 * of /proc/<pid>/io: WAL and pages, a little HTTP), which the test converts with a rate it measures first.
 */
async function writeProgress(target: StorageTarget, running: ServerProcess) {
  if (target.kind === 'postgres') {
    const client = new pg.Client({ connectionString: target.databaseUrl });
    await client.connect();
    const read = async () =>
      Number(
        (await client.query('SELECT modseq FROM easkit_mailbox_users WHERE id = $1', [USER])).rows[0].modseq,
      );
    return { read, waitFor: (value: number) => pollUntil(read, value), close: () => client.end() };
  }
  const read = async () =>
    Number(/^wchar:\s+(\d+)/m.exec(readFileSync(`/proc/${running.pid}/io`, 'utf8'))?.[1] ?? 0);
  return { read, waitFor: (value: number) => pollUntil(read, value), close: async () => {} };
}

async function pollUntil(read: () => Promise<number>, value: number): Promise<void> {
  for (;;) {
    if ((await read()) >= value) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Waits until the server process has spent `ms` of CPU time more than now: it is working on the request. */
async function waitForCpu(running: ServerProcess, ms: number): Promise<void> {
  const cpu = () => {
    const fields = readFileSync(`/proc/${running.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10;
  };
  const start = cpu();
  while (cpu() - start < ms) await new Promise((resolve) => setTimeout(resolve, 1));
}

crashSuite('crash safety on PGlite (EASKIT_DATA_DIR)', async () => ({
  kind: 'pglite',
  dataDir: mkdtempSync(join(tmpdir(), 'easkit-crash-')),
}));

describe.runIf(await postgresAvailable())('PostgreSQL', () => {
  let runs = 0;
  crashSuite('crash safety on PostgreSQL (DATABASE_URL)', async () => ({
    kind: 'postgres',
    databaseUrl: await freshDatabaseUrl(`server_crash_safety_${runs++}`),
  }));
});
