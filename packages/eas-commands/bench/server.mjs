// The server side of the Sync benchmark: a real EAS endpoint on 127.0.0.1 over the in-memory stores, built
// from the published entry points (dist/), seeded with deterministic mail.
//
// Run by bench/sync.mjs, as a child process (the default: client and server then use separate CPU time, as
// they would on two machines) or in the client's own process (`--in-process`). As a child it is started with
// the seed plan as JSON in argv[2] and reports `{ ready, url, folders, seedSeconds }` over the IPC channel;
// `{ cpu: true }` answers `{ cpuUsage }` (process.cpuUsage()); `{ profile: 'start' }` and `{ profile: 'stop', name }` record a V8 CPU profile into bench/.out/<name>.cpuprofile.
import { createServer } from 'node:http';
import { createEasCommands, createEasHandler, createNodeListener } from '@easkit/eas-commands';
import { FolderType, MemoryMailboxStore, ROOT_FOLDER_ID } from '@easkit/mailbox';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { inboxMessage, smallMessage } from './mail.mjs';

export const BENCH_USER = {
  id: 'bench@easkit.test',
  name: 'Bench User',
  email: 'bench@easkit.test',
  password: 'bench-pw',
};

const STANDARD_FOLDERS = [
  ['Inbox', FolderType.Inbox],
  ['Drafts', FolderType.Drafts],
  ['Deleted Items', FolderType.DeletedItems],
  ['Sent Items', FolderType.SentItems],
  ['Outbox', FolderType.Outbox],
  ['Calendar', FolderType.Calendar],
  ['Contacts', FolderType.Contacts],
  ['Tasks', FolderType.Tasks],
  ['Notes', FolderType.Notes],
];

/**
 * Starts the endpoint. `plan`: `{ inbox: number, sizes: number[] }`, the Inbox message count and the item
 * counts of the extra mail folders ("Bench <n>") for the no-change measurement.
 * Resolves to `{ url, folders: Record<displayName, id>, seedSeconds, close() }`.
 */
export async function startBenchServer(plan) {
  const mailbox = new MemoryMailboxStore();
  const syncState = new MemorySyncStateStore();
  const owner = { name: BENCH_USER.name, email: BENCH_USER.email };
  const seedStart = performance.now();
  await mailbox.createUser({
    id: BENCH_USER.id,
    primarySmtpAddress: BENCH_USER.email,
    displayName: owner.name,
  });
  const folders = {};
  for (const [displayName, type] of STANDARD_FOLDERS) {
    const folder = await mailbox.createFolder(BENCH_USER.id, { displayName, type, parentId: ROOT_FOLDER_ID });
    folders[displayName] = folder.id;
  }
  for (let i = 0; i < plan.inbox; i++) {
    await mailbox.createItem(BENCH_USER.id, folders.Inbox, { class: 'Email', data: inboxMessage(i, owner) });
  }
  for (const size of plan.sizes) {
    const displayName = `Bench ${size}`;
    const folder = await mailbox.createFolder(BENCH_USER.id, {
      displayName,
      type: FolderType.UserMail,
      parentId: ROOT_FOLDER_ID,
    });
    folders[displayName] = folder.id;
    for (let i = 0; i < size; i++) {
      await mailbox.createItem(BENCH_USER.id, folder.id, { class: 'Email', data: smallMessage(i, owner) });
    }
  }
  const seedSeconds = (performance.now() - seedStart) / 1000;

  const handler = createEasHandler({
    authenticate: async (credentials) =>
      credentials.scheme === 'basic' &&
      credentials.username === BENCH_USER.id &&
      credentials.password === BENCH_USER.password
        ? { userId: BENCH_USER.id, addresses: [BENCH_USER.email] }
        : undefined,
    commands: createEasCommands({ mailbox, syncState }),
    onRequest: (log) => {
      if (log.httpStatus >= 400)
        console.error('bench server:', log.command, log.httpStatus, log.reason, log.error);
    },
  });
  const server = createServer(createNodeListener({ handler }));
  server.keepAliveTimeout = 60_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    folders,
    seedSeconds,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// As a child process: start, report, and stay up until the parent says stop or goes away.
if (process.send && process.argv[2]) {
  const started = await startBenchServer(JSON.parse(process.argv[2]));
  const stop = async () => {
    await started.close();
    process.exit(0);
  };
  let profiler;
  process.on('message', async (message) => {
    if (message?.stop) void stop();
    if (message?.cpu) process.send({ cpuUsage: process.cpuUsage() });
    // Profiling on request, so a profile holds the measured traffic only (not the seeding).
    if (message?.profile === 'start') {
      const { Session } = await import('node:inspector/promises');
      profiler = new Session();
      profiler.connect();
      await profiler.post('Profiler.enable');
      await profiler.post('Profiler.setSamplingInterval', { interval: 200 });
      await profiler.post('Profiler.start');
      process.send({ profiling: true });
    }
    if (message?.profile === 'stop' && profiler) {
      const { profile } = await profiler.post('Profiler.stop');
      profiler.disconnect();
      profiler = undefined;
      const { mkdirSync, writeFileSync } = await import('node:fs');
      const { dirname, join } = await import('node:path');
      const directory = join(dirname(new URL(import.meta.url).pathname), '.out');
      mkdirSync(directory, { recursive: true });
      const file = join(directory, `${message.name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      process.send({ profiled: file });
    }
  });
  process.on('disconnect', () => void stop());
  process.send({ ready: true, url: started.url, folders: started.folders, seedSeconds: started.seedSeconds });
}
