// The Direct Push benchmark of @easkit/push: `node bench/ping.mjs` in packages/push after building the
// workspace packages (or `pnpm bench`). Figures are printed, never asserted.
//
// A real EAS endpoint (bench/ping-server.mjs: publishing MemoryMailboxStore, InProcessPushBus,
// WaiterRegistry, createEasCommands with waiters, node:http) runs in a child process; load generators
// (bench/ping-client.mjs) run in other processes and hold one raw keep-alive socket per device on loopback,
// spread over several 127.0.0.x source addresses. Every process is started through bash with
// `ulimit -n` raised as far as the hard limit allows; the limit actually got is printed.
//
// 1. Memory: waiting Pings (HeartbeatInterval 3540 s, so none expires) at each size in --sizes, the server's
//    RSS and heap after a full GC, minus those of the idle, seeded process, divided by the waits held.
// 2. Latency: --latency-devices waiting; the server writes one Email into a user's Inbox --rate times a
//    second for --seconds; the time from just before that write (which publishes) to the Ping answer reaching
//    the client, on the shared monotonic clock. Woken devices Sync and Ping again, as phones do.
//
//   --sizes=a,b,c            waiting Pings for the memory table (default 1000,10000,50000)
//   --devices-per-user=N     devices per mailbox user (default 2)
//   --sources=N              client source addresses 127.0.0.1..127.0.0.N (default 8)
//   --latency-devices=N      devices waiting during the latency run (default 10000)
//   --rate=N                 changes per second (default 100)
//   --seconds=N              length of the latency run (default 20)
//   --only=memory|latency    run one part only
//   --server-prof            CPU profile of the server during the latency run, into bench/.out/
//   --heap-snapshot          heap snapshots of the server when idle and at the largest size, into bench/.out/;
//                            compare them with `node bench/heap-diff.mjs <idle> <loaded> <waits>` (use small
//                            --sizes: a snapshot of a large heap takes minutes)
import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const WANTED_NOFILE = 200_000;
/** File descriptors a process keeps for itself beyond its sockets (stdio, IPC, node internals). */
const FD_RESERVE = 256;

function option(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((arg) => arg.startsWith(prefix));
  return found === undefined ? fallback : found.slice(prefix.length);
}
const sizes = option('sizes', '1000,10000,50000').split(',').filter(Boolean).map(Number);
const perUser = Number(option('devices-per-user', '2'));
const sources = Number(option('sources', '8'));
const latencyDevices = Number(option('latency-devices', '10000'));
const rate = Number(option('rate', '100'));
const seconds = Number(option('seconds', '20'));
const only = option('only', '');
const profiling = process.argv.includes('--server-prof');
const snapshots = process.argv.includes('--heap-snapshot');
const HEARTBEAT_SEC = 3540;

const raiseLimit = `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`;
const nofile = Number(execFileSync('bash', ['-c', `${raiseLimit}; ulimit -n`], { encoding: 'utf8' }).trim());
const capacity = nofile - FD_RESERVE;

/** Starts a bench process through bash (to raise its open-file limit) with an IPC channel. */
function start(script, config, nodeFlags = []) {
  const command = `${raiseLimit}; export BENCH_NOFILE="$(ulimit -n)"; exec node ${nodeFlags.join(' ')} "$0" "$1"`;
  const child = spawn('bash', ['-c', command, path.join(here, script), JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies = new Map();
  child.on('message', (message) => {
    for (const key of Object.keys(message)) {
      const waiting = replies.get(key);
      if (waiting) {
        replies.delete(key);
        waiting(message);
      }
    }
  });
  const exited = new Promise((_, reject) =>
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code}`))),
  );
  exited.catch(() => undefined);
  const ask = (message, key) =>
    Promise.race([
      new Promise((resolve) => {
        replies.set(key, resolve);
        if (message) child.send(message);
      }),
      exited,
    ]);
  return { child, ask, ready: ask(undefined, 'ready') };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;
const fmt = (value, digits = 1) => value.toFixed(digits);

async function startServer(devices) {
  const users = Math.ceil(devices / perUser);
  const server = start('ping-server.mjs', { users, devicesPerUser: perUser }, ['--expose-gc']);
  const ready = await server.ready;
  console.log(
    `server: ${users} users x ${perUser} devices seeded (FolderSync + Inbox Sync each) in ${fmt(ready.seedSeconds)} s, open-file limit ${ready.nofile}`,
  );
  return { ...server, ...ready };
}

async function startClients(server, devices) {
  const count = Math.ceil(devices / capacity);
  const clients = [];
  for (let c = 0; c < count; c++) {
    const client = start('ping-client.mjs', {
      port: server.port,
      devicesPerUser: perUser,
      sources,
      heartbeatSec: HEARTBEAT_SEC,
    });
    await client.ready;
    clients.push(client);
  }
  return clients;
}

/** Opens devices [from, to), each on the client that owns its range, and waits until the server holds them. */
async function grow(server, clients, from, to) {
  const jobs = [];
  for (let c = 0; c < clients.length; c++) {
    const low = Math.max(from, c * capacity);
    const high = Math.min(to, (c + 1) * capacity);
    if (low >= high) continue;
    const inboxes = [];
    for (let i = low; i < high; i++) inboxes.push(server.inboxes[Math.floor(i / perUser)]);
    jobs.push(
      clients[c].ask(
        { open: { from: low, to: high, syncKeys: server.syncKeys.slice(low, high), inboxes } },
        'opened',
      ),
    );
  }
  const opened = await Promise.all(jobs);
  const failed = opened.reduce((sum, { opened: o }) => sum + o.failed, 0);
  let stats;
  for (let tries = 0; tries < 600; tries++) {
    stats = (await server.ask({ stats: true }, 'stats')).stats;
    if (stats.waiters >= to - failed) break;
    await sleep(100);
  }
  return { failed, waiting: stats.waiters };
}

async function stopAll(server, clients) {
  for (const client of clients) client.child.send({ stop: true });
  server.child.send({ stop: true });
  await sleep(500);
}

async function memoryRun() {
  const stages = [...new Set(sizes.map((size) => Math.min(size, capacity)))].sort((a, b) => a - b);
  const largest = stages.at(-1);
  const server = await startServer(largest);
  const clients = await startClients(server, largest);
  const idle = (await server.ask({ memory: true }, 'memory')).memory;
  console.log(`idle seeded server: RSS ${fmt(idle.rss / MB)} MB, heap ${fmt(idle.heapUsed / MB)} MB`);
  if (snapshots) console.log('heap snapshot:', (await server.ask({ snapshot: 'idle' }, 'snapshot')).snapshot);
  const rows = [];
  let open = 0;
  for (const stage of stages) {
    const started = performance.now();
    const { failed, waiting } = await grow(server, clients, open, stage);
    const connectSeconds = (performance.now() - started) / 1000;
    open = stage;
    const now = (await server.ask({ memory: true }, 'memory')).memory;
    rows.push({
      requested: sizes.find((size) => Math.min(size, capacity) === stage),
      waiting,
      failed,
      connectSeconds,
      rssMB: now.rss / MB,
      rssPerKB: (now.rss - idle.rss) / waiting / 1024,
      heapPerKB: (now.heapUsed - idle.heapUsed) / waiting / 1024,
      externalPerKB: (now.external - idle.external) / waiting / 1024,
    });
  }
  if (snapshots) {
    console.log(
      'heap snapshot:',
      (await server.ask({ snapshot: `waiting-${largest}` }, 'snapshot')).snapshot,
    );
  }
  await stopAll(server, clients);
  console.log(
    '\nWaiting Pings held by one server process (RSS and heap after a full GC, beyond the idle seeded process)',
  );
  console.log(
    '| requested | waiting | connect errors | time to open (s) | server RSS (MB) | RSS / wait (KB) | heap / wait (KB) | external / wait (KB) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of rows) {
    console.log(
      `| ${row.requested} | ${row.waiting} | ${row.failed} | ${fmt(row.connectSeconds)} | ${fmt(row.rssMB)} | ${fmt(row.rssPerKB, 2)} | ${fmt(row.heapPerKB, 2)} | ${fmt(row.externalPerKB, 2)} |`,
    );
  }
  const cut = sizes.filter((size) => size > capacity);
  if (cut.length > 0) {
    console.log(
      `NOTE: ${cut.join(', ')} waiting Pings need more than ${nofile} open files in one process; the hard limit here is ${nofile} (ulimit -Hn), so that row holds ${capacity}.`,
    );
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function latencyRun() {
  const devices = Math.min(latencyDevices, capacity);
  const server = await startServer(devices);
  const clients = await startClients(server, devices);
  const { waiting } = await grow(server, clients, 0, devices);
  const users = Math.ceil(devices / perUser);
  // Each user changes at most once, so every answer belongs to exactly one publish.
  const order = Array.from({ length: users }, (_, u) => u);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const total = Math.min(users, Math.round(rate * seconds));
  if (profiling) await server.ask({ profile: 'start' }, 'profiling');
  const { changes } = await server.ask(
    { changes: { users: order.slice(0, total), perSecond: rate, seconds } },
    'changes',
  );
  await sleep(1000);
  if (profiling) console.log('server profile:', (await server.ask({ profile: 'stop' }, 'profiled')).profiled);
  const after = (await server.ask({ stats: true }, 'stats')).stats;
  const published = new Map(changes.changed.map(([u, at]) => [u, BigInt(at)]));
  const latencies = [];
  const counts = [];
  for (const client of clients) {
    const { report } = await client.ask({ report: true }, 'report');
    counts.push(report.counts);
    for (const [device, arrived] of report.wakes) {
      const at = published.get(Math.floor(device / perUser));
      if (at !== undefined) latencies.push(Number(BigInt(arrived) - at) / 1e6);
    }
  }
  await stopAll(server, clients);
  latencies.sort((a, b) => a - b);
  const expected = changes.changed.length * perUser;
  console.log(
    `\nPublish-to-answer latency: ${waiting} Pings waiting, ${changes.changed.length} changes at ${rate}/s (each wakes the ${perUser} devices of one user)`,
  );
  console.log(
    '| waiting | changes | answers | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) | loop delay p99 (ms) |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|');
  console.log(
    `| ${waiting} | ${changes.changed.length} | ${latencies.length} of ${expected} | ${fmt(percentile(latencies, 50), 2)} | ${fmt(percentile(latencies, 90), 2)} | ${fmt(percentile(latencies, 99), 2)} | ${fmt(latencies.at(-1) ?? Number.NaN, 2)} | ${fmt(changes.loopDelayMs.p99, 2)} |`,
  );
  console.log(
    `waiting after the run: ${after.waiters}; schedule lag ${fmt(changes.lagMs, 2)} ms; client counts ${JSON.stringify(counts)}`,
  );
}

console.log(
  `easkit Direct Push bench: node ${process.version}, open-file limit ${nofile} (asked for ${WANTED_NOFILE}), ${sources} source addresses, ${perUser} devices per user, ${new Date().toISOString()}`,
);
if (only === '' || only === 'memory') await memoryRun();
if (only === '' || only === 'latency') await latencyRun();
process.exit(0);
