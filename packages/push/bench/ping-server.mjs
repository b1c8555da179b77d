// The server side of the Direct Push benchmark: a real EAS endpoint on 127.0.0.1, built the way
// apps/server mounts Ping (a MemoryMailboxStore wrapped by publishingMailbox over an InProcessPushBus, a
// WaiterRegistry, createEasCommands with `waiters`, createEasHandler, createNodeListener), from the built
// packages (dist/).
//
// Started by bench/ping.mjs as a child process with the plan as JSON in argv[2]:
// `{ users, devicesPerUser }`. It seeds the users and drives FolderSync and a Sync of the Inbox (SyncKey 0,
// then the new key) for every device through the EAS handler itself (the same code path as HTTP, without
// sockets), so each device holds the state a real one would before its first Ping. IPC messages:
//   -> { ready, port, seedSeconds, nofile, inboxes, syncKeys }   inboxes[user], syncKeys[device]   once listening
//   <- { memory: true }       -> { memory: { rss, heapUsed, external, arrayBuffers }, waiters, users }
//                                (after a full GC; the process runs with --expose-gc)
//   <- { stats: true }        -> { stats: { waiters, users } }
//   <- { changes: { users, perSecond, seconds } }  writes one Email into each listed user's Inbox, in order,
//                                at the given rate; -> { changed: [[userIndex, hrtimeNs], ...], lagMs }
//                                where hrtimeNs is process.hrtime.bigint() (CLOCK_MONOTONIC, comparable
//                                across processes) taken just before the write that publishes
//   <- { snapshot: name }    -> { snapshot: path }  a V8 heap snapshot into bench/.out/<name>.heapsnapshot
//   <- { profile: 'start' | 'stop' }   V8 CPU profile of the server into bench/.out/ping-server.cpuprofile
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { loadCommands, loadMailbox, loadPush, loadSyncState, loadWbxml } from './packages.mjs';
import { authorization, deviceId, PASSWORD, userId } from './wire.mjs';

const { createEasCommands, createEasHandler, createNodeListener } = await loadCommands();
const { FolderType, MemoryMailboxStore, ROOT_FOLDER_ID } = await loadMailbox();
const { InProcessPushBus, WaiterRegistry, publishingMailbox } = await loadPush();
const { MemorySyncStateStore } = await loadSyncState();
const { decode, eas, encode } = await loadWbxml();
const { AirSync: AS, FolderHierarchy: FH } = eas;

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

const plan = JSON.parse(process.argv[2]);
const bus = new InProcessPushBus();
const mailbox = publishingMailbox(new MemoryMailboxStore(), bus);
const syncState = new MemorySyncStateStore();
const waiters = new WaiterRegistry({ bus });
const passwords = new Map();

const handler = createEasHandler({
  authenticate: async (credentials) =>
    credentials.scheme === 'basic' && passwords.get(credentials.username) === credentials.password
      ? { userId: credentials.username, addresses: [credentials.username] }
      : undefined,
  commands: createEasCommands({ mailbox, syncState, waiters }),
  onRequest: (log) => {
    if (log.httpStatus >= 400) console.error('ping bench server:', log.command, log.httpStatus, log.reason);
  },
});

/** One EAS request through the handler, without a socket. Returns the decoded body (undefined if empty). */
async function call(user, device, command, body) {
  const response = await handler({
    method: 'POST',
    url: `/Microsoft-Server-ActiveSync?Cmd=${command}&User=${encodeURIComponent(user)}&DeviceId=${device}&DeviceType=BenchPhone`,
    headers: {
      authorization: authorization(user),
      'ms-asprotocolversion': '14.1',
      'content-type': 'application/vnd.ms-sync.wbxml',
      'user-agent': 'easkit-ping-bench/1.0',
    },
    body: encode(body),
  });
  if (response.status !== 200) throw new Error(`${command} for ${user}/${device}: HTTP ${response.status}`);
  return response.body && response.body.length > 0 ? decode(response.body) : undefined;
}

const syncBody = (inbox, syncKey) =>
  AS.Sync(
    AS.Collections(
      AS.Collection(AS.SyncKey(syncKey), AS.CollectionId(inbox), syncKey === '0' ? null : AS.GetChanges()),
    ),
  );

/** FolderSync, then the Inbox's first Sync (key 0) and the Sync that fetches its (empty) content. */
async function seedDevice(user, device, inbox) {
  const folders = await call(user, device, 'FolderSync', FH.FolderSync(FH.SyncKey('0')));
  if (folders?.intOf('Status') !== 1) throw new Error(`FolderSync answered ${folders?.intOf('Status')}`);
  const first = await call(user, device, 'Sync', syncBody(inbox, '0'));
  const collection = first?.child('Collections')?.child('Collection');
  if (collection?.intOf('Status') !== 1) throw new Error(`Sync 0 answered ${collection?.intOf('Status')}`);
  const syncKey = collection.textOf('SyncKey');
  const second = await call(user, device, 'Sync', syncBody(inbox, syncKey));
  // An empty answer: nothing to send, the key stays.
  const next = second?.child('Collections')?.child('Collection')?.textOf('SyncKey');
  return next ?? syncKey;
}

const seedStart = performance.now();
const inboxes = [];
const syncKeys = [];
for (let u = 0; u < plan.users; u++) {
  const user = userId(u);
  passwords.set(user, PASSWORD);
  await mailbox.createUser({ id: user, primarySmtpAddress: user, displayName: `Bench ${u}` });
  let inbox;
  for (const [displayName, type] of STANDARD_FOLDERS) {
    const folder = await mailbox.createFolder(user, { displayName, type, parentId: ROOT_FOLDER_ID });
    if (type === FolderType.Inbox) inbox = folder.id;
  }
  inboxes.push(inbox);
  for (let d = 0; d < plan.devicesPerUser; d++) {
    syncKeys.push(await seedDevice(user, deviceId(u, d), inbox));
  }
}
const seedSeconds = (performance.now() - seedStart) / 1000;

const server = createServer(createNodeListener({ handler }));
// As apps/server: Ping hangs for up to 3,540 s, so no request timeout; keep-alive longer than a proxy's.
server.requestTimeout = 0;
server.headersTimeout = 60_000;
server.keepAliveTimeout = 65_000;
server.maxConnections = Number.POSITIVE_INFINITY;
await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 65_535 }, resolve));

function memory() {
  globalThis.gc?.();
  globalThis.gc?.();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
}

const newMessage = (user, index) => {
  const subject = `Bench change ${index}`;
  const date = new Date(Date.UTC(2026, 0, 1) + index * 1000);
  const mime = new TextEncoder().encode(
    [
      'From: Notifier <noreply@example.com>',
      `To: <${user}>`,
      `Subject: ${subject}`,
      `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      `Change ${index}.`,
      '',
    ].join('\r\n'),
  );
  return {
    class: 'Email',
    data: {
      mime,
      from: { name: 'Notifier', address: 'noreply@example.com' },
      to: [{ address: user }],
      subject,
      dateReceived: date,
      read: false,
      messageClass: 'IPM.Note',
    },
  };
};

/** Writes one Email per listed user at `perSecond`, on a schedule that does not drift. */
async function runChanges({ users, perSecond, seconds }) {
  const total = Math.min(users.length, Math.round(perSecond * seconds));
  const changed = [];
  const delay = monitorEventLoopDelay({ resolution: 5 });
  delay.enable();
  const start = performance.now();
  let lagMs = 0;
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    else lagMs = Math.max(lagMs, -wait);
    const u = users[k];
    const at = process.hrtime.bigint();
    await mailbox.createItem(userId(u), inboxes[u], newMessage(userId(u), k));
    changed.push([u, String(at)]);
  }
  delay.disable();
  return {
    changed,
    lagMs,
    loopDelayMs: { p50: delay.percentile(50) / 1e6, p99: delay.percentile(99) / 1e6, max: delay.max / 1e6 },
  };
}

let profiler;
process.on('message', async (message) => {
  if (message?.memory) process.send({ memory: memory(), ...waiters.stats() });
  if (message?.stats) process.send({ stats: waiters.stats() });
  if (message?.snapshot) {
    const { mkdirSync } = await import('node:fs');
    const { writeHeapSnapshot } = await import('node:v8');
    const directory = new URL('./.out/', import.meta.url);
    mkdirSync(directory, { recursive: true });
    globalThis.gc?.();
    process.send({
      snapshot: writeHeapSnapshot(new URL(`${message.snapshot}.heapsnapshot`, directory).pathname),
    });
  }
  if (message?.changes) process.send({ changes: await runChanges(message.changes) });
  if (message?.profile === 'start') {
    const { Session } = await import('node:inspector/promises');
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
    process.send({ profiling: true });
  }
  if (message?.profile === 'stop' && profiler) {
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    const { mkdirSync, writeFileSync } = await import('node:fs');
    const directory = new URL('./.out/', import.meta.url);
    mkdirSync(directory, { recursive: true });
    const file = new URL('ping-server.cpuprofile', directory);
    writeFileSync(file, JSON.stringify(profile));
    process.send({ profiled: file.pathname });
  }
  if (message?.stop) {
    await waiters.close();
    server.closeAllConnections();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send({
  ready: true,
  port: server.address().port,
  seedSeconds,
  nofile: Number(process.env.BENCH_NOFILE ?? 0),
  inboxes,
  syncKeys,
});
