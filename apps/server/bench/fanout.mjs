// End-to-end Direct Push fan-out benchmark of the reference server (issue #8): `node bench/fanout.mjs` in
// apps/server (or `pnpm bench`), after building the server and its packages
// (`pnpm exec turbo run build --filter=@easkit/server...`). Figures are printed, never asserted.
//
// Three built server processes (dist/main.js) share one fresh PostgreSQL database (easkit_bench_fanout,
// dropped at the end) and the shared Redis under a key prefix of their own (removed with SCAN + DEL at the
// end). Instance 1 takes mail over SMTP; every device waits on instance 2 or 3 (a user's first device on 2,
// its second on 3), so each measured wake-up crosses instances through Redis pub/sub.
//
//   1. Users are created through instance 1's admin API (no password: devices sign in with bearer tokens,
//      see below). Each user has two devices.
//   2. Device processes (bench/fanout-devices.mjs, as many as the open-file limit needs) hold one raw
//      kept-alive socket per device, do FolderSync, Sync key 0 and a Sync of the Inbox, then Ping
//      (HeartbeatInterval 3540) and, after every answer, Sync and Ping again.
//   3. --rate messages a second for --seconds go to instance 1's SMTP listener over a pooled nodemailer
//      transport, each to the next user of a shuffled list (so with more users than messages nobody gets two).
//      Latency: from just before sendMail is called to the Ping answer reaching the device, both stamped with
//      process.hrtime.bigint() (CLOCK_MONOTONIC, one clock for every process on the machine).
//
// The configuration sets `policy.withoutPolicy: skip` (devices sync without Provision) and accepts OAuth2
// bearer tokens (Ed25519 JWTs checked against a JWKS file the bench writes): Basic authentication costs a
// scrypt (about 40 ms of CPU here) per account and instance at the first request and again 60 s later, which
// would measure scrypt, not push.
//
//   --devices=N[,N...]     devices per run, one fresh setup per value (default 10000)
//   --rate=N[,N...]        messages a second (default 100); several values run one write phase each on the
//                          same waiting devices, each to users not written to before while there are enough
//   --seconds=N            length of the write phase (default 20)
//   --mailbox-size=N       messages in every Inbox before the devices first sync (default 5; sent over SMTP):
//                          real mailboxes are not empty, and PostgreSQL plans the servers' statements for the
//                          tables it sees
//   --warmup=N             seconds of writes at the first rate before the first measured phase, to users the
//                          measured phases do not write to (default 2): the SMTP pool connects and the servers'
//                          delivery and wake-up paths are compiled and their statements prepared before timing
//   --sources=N            client source addresses 127.0.0.1..127.0.0.N (default 8)
//   --concurrency=N        devices setting up at once per device process (default 48)
//   --smtp-pool=N          SMTP connections to instance 1 (default 8)
//   --database=postgres://...   server to create the database on (default postgres://postgres@127.0.0.1:5432/postgres)
//   --redis=redis://...         (default $REDIS_URL or redis://127.0.0.1:6379)
//   --sync-state=database|redis  EASKIT_SYNC_STATE of the servers (default database)
//   --pg-statements        statements per message during the write phase, from pg_stat_statements (the
//                          PostgreSQL server must preload it and have the extension in the --database
//                          database; it is reset before each write phase)
//   Diagnosis: BENCH_SERVER_FLAGS / BENCH_DEVICE_FLAGS add node flags to the servers / device processes (e.g.
//   `--trace-gc`, `-r ./lag-probe.cjs`), BENCH_SERVER_LOG=<path> appends each server's output to <path>.<n>.
//   --server-prof          V8 CPU profiles of the three servers (written when they stop) into a directory
//                          the bench prints; open them in Chrome DevTools
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { exportJWK, generateKeyPair } from 'jose';
import { createTransport } from 'nodemailer';
import pg from 'pg';
import { AUDIENCE, address, ISSUER } from './fanout-wire.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const serverMain = path.join(here, '..', 'dist', 'main.js');
const DATABASE = 'easkit_bench_fanout';
const HEARTBEAT_SEC = 3540;
const PER_USER = 2;
const WANTED_NOFILE = 200_000;
/** Descriptors a device process keeps beyond its sockets (stdio, IPC, node internals). */
const FD_RESERVE = 256;

function option(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((arg) => arg.startsWith(prefix));
  return found === undefined ? fallback : found.slice(prefix.length);
}
const sizes = option('devices', '10000').split(',').filter(Boolean).map(Number);
const rates = option('rate', '100').split(',').filter(Boolean).map(Number);
const seconds = Number(option('seconds', '20'));
const warmupSeconds = Number(option('warmup', '2'));
const mailboxSize = Number(option('mailbox-size', '5'));
const sources = Number(option('sources', '8'));
const concurrency = Number(option('concurrency', '48'));
const smtpPool = Number(option('smtp-pool', '8'));
const adminUrl = option('database', 'postgres://postgres@127.0.0.1:5432/postgres');
const redisUrl = option('redis', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const syncState = option('sync-state', 'database');
const pgStatements = process.argv.includes('--pg-statements');
const profileDir = process.argv.includes('--server-prof')
  ? mkdtempSync(path.join(os.tmpdir(), 'easkit-fanout-prof-'))
  : undefined;

const raiseLimit = `ulimit -n ${WANTED_NOFILE} 2>/dev/null || ulimit -n "$(ulimit -Hn)"`;
const nofile = Number(execFileSync('bash', ['-c', `${raiseLimit}; ulimit -n`], { encoding: 'utf8' }).trim());
const capacity = nofile - FD_RESERVE;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fmt = (value, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');
const load = () =>
  os
    .loadavg()
    .map((value) => value.toFixed(2))
    .join(' ');
const MB = 1024 * 1024;
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** Resident memory of a process, from /proc. */
function rssOf(pid) {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds (user + system) a process has used, from /proc. */
function cpuOf(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}

/**
 * CPU seconds by pid of the processes with this command name whose command line holds `marker` (PostgreSQL
 * backends name their database there, so other users of the shared server are left out; redis-server is
 * shared and counted whole).
 */
function cpuOfCommand(name, marker = '') {
  const byPid = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (
        readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === name &&
        readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)
      )
        byPid.set(entry, cpuOf(entry));
    } catch {
      // gone meanwhile
    }
  }
  return byPid;
}

/** CPU used between two `cpuOfCommand` samples by the processes alive at the second (exited ones are lost). */
function cpuBetween(before, after) {
  let total = 0;
  for (const [pid, seconds] of after) total += seconds - (before.get(pid) ?? 0);
  return total;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

/** Starts a process through bash so that `ulimit -n` is raised before node runs. */
function startThroughBash(args, options) {
  const command = `${raiseLimit}; export BENCH_NOFILE="$(ulimit -n)"; exec node "$@"`;
  return spawn('bash', ['-c', command, 'bash', ...args], options);
}

async function startServer(number, env, configFile) {
  const flags = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  if (process.env.BENCH_SERVER_FLAGS) flags.push(...process.env.BENCH_SERVER_FLAGS.split(' '));
  const child = startThroughBash([...flags, serverMain, '--config', configFile], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let shown = 0;
  let hidden = 0;
  let quiet = false;
  const relay = (line) => {
    if (process.env.BENCH_SERVER_LOG)
      appendFileSync(`${process.env.BENCH_SERVER_LOG}.${number}`, `${line}\n`);
    if (line.trim() === '' || /listening on/.test(line) || quiet) return;
    if (shown < 10) {
      shown++;
      console.log(`  [server ${number}] ${line.slice(0, 400)}`);
    } else hidden++;
  };
  const url = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop();
      for (const line of lines) {
        const found = /listening on (http:\/\/[^/\s]+)/.exec(line);
        if (found) resolve(found[1]);
        relay(line);
      }
    });
    child.stderr.on('data', (chunk) => {
      for (const line of String(chunk).split('\n')) relay(line);
    });
    child.once('exit', (code) => reject(new Error(`server ${number} exited with ${code} before listening`)));
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    number,
    child,
    pid: child.pid,
    url,
    exited,
    hiddenLines: () => hidden,
    // Requests cut off by the shutdown fail noisily; that is not the run's business.
    silence: () => {
      quiet = true;
    },
  };
}

function startDevices(config) {
  const child = startThroughBash(
    [
      ...(process.env.BENCH_DEVICE_FLAGS ? process.env.BENCH_DEVICE_FLAGS.split(' ') : []),
      path.join(here, 'fanout-devices.mjs'),
      JSON.stringify(config),
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  const replies = new Map();
  child.on('message', (message) => {
    for (const key of Object.keys(message)) {
      const waiting = replies.get(key);
      if (waiting) {
        replies.delete(key);
        waiting(message[key]);
      }
    }
  });
  const gone = new Promise((_, reject) =>
    child.once('exit', (code) => reject(new Error(`device process exited with ${code}`))),
  );
  gone.catch(() => undefined);
  const ask = (message, key) =>
    Promise.race([
      new Promise((resolve) => {
        replies.set(key, resolve);
        if (message) child.send(message);
      }),
      gone,
    ]);
  return { child, pid: child.pid, ask, ready: ask(undefined, 'ready') };
}

/** Waits (at most 3 minutes) until instances 2 and 3 hold `count` waiting Pings; returns how many they hold. */
async function settle(servers, count) {
  let waiting = 0;
  for (let attempt = 0; attempt < 1800; attempt++) {
    waiting = (await waitingRequests(servers[1])) + (await waitingRequests(servers[2]));
    if (waiting >= count) break;
    await sleep(100);
  }
  return waiting;
}

async function waitingRequests(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return Number(/^easkit_waiting_requests (\d+)/m.exec(text)?.[1] ?? 0);
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function createDatabase() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${DATABASE}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${DATABASE}`;
  return url.toString();
}

async function analyzeDatabase(url) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

/** Clears pg_stat_statements (--pg-statements) so that the next report covers one write phase only. */
async function resetStatements() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query('SELECT pg_stat_statements_reset()');
  } finally {
    await admin.end();
  }
}

/** The bench database's statements since the last reset, most executed first, per message written. */
async function reportStatements(messages) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query(
      `SELECT s.calls, s.total_exec_time, s.rows, regexp_replace(s.query, '\\s+', ' ', 'g') AS query
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 ORDER BY s.calls DESC`,
      [DATABASE],
    );
    const calls = rows.reduce((sum, row) => sum + Number(row.calls), 0);
    const time = rows.reduce((sum, row) => sum + row.total_exec_time, 0);
    console.log(
      `PostgreSQL statements during the write phase: ${calls} (${fmt(calls / messages)} per message), ${fmt(time / messages, 2)} ms of execution per message`,
    );
    console.log('| per message | mean (ms) | rows per call | statement |');
    console.log('|---:|---:|---:|---|');
    for (const row of rows.slice(0, 20)) {
      console.log(
        `| ${fmt(Number(row.calls) / messages, 2)} | ${fmt(row.total_exec_time / Number(row.calls), 3)} | ${fmt(Number(row.rows) / Number(row.calls), 1)} | ${row.query.slice(0, 110).replaceAll('|', '\\|')} |`,
      );
    }
  } finally {
    await admin.end();
  }
}

async function dropDatabase() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  await admin.end();
}

async function removeRedisKeys(prefix) {
  const redis = new Redis(redisUrl);
  let cursor = '0';
  let removed = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length > 0) removed += await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  return removed;
}

async function createUsers(server, token, users) {
  let next = 0;
  let failed = 0;
  let firstError;
  const worker = async () => {
    while (next < users) {
      const user = next++;
      const response = await fetch(`${server.url}/admin/v1/users`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ address: address(user) }),
      });
      if (response.status !== 200) {
        failed++;
        firstError ??= `${response.status} ${await response.text()}`;
      } else await response.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { failed, firstError };
}

/** Sends `total` messages at `rate` a second; returns each one's recipient, start and acknowledgement times. */
async function writeMail(transport, order, total, rate) {
  const writes = [];
  let failed = 0;
  let firstError;
  const pending = [];
  const interval = 1000 / rate;
  const begin = performance.now();
  let lag = 0;
  for (let n = 0; n < total; n++) {
    const wait = begin + n * interval - performance.now();
    if (wait > 0) await sleep(wait);
    else lag = Math.max(lag, -wait);
    const user = order[n % order.length];
    const write = { user, started: process.hrtime.bigint(), acked: undefined };
    writes.push(write);
    pending.push(
      transport
        .sendMail({
          envelope: { from: 'sender@remote.bench.test', to: [address(user)] },
          raw:
            `From: sender@remote.bench.test\r\nTo: ${address(user)}\r\nSubject: fan-out ${n}\r\n` +
            `Message-ID: <fanout-${n}-${randomUUID()}@remote.bench.test>\r\n\r\nmessage ${n}\r\n`,
        })
        .then(
          () => {
            write.acked = process.hrtime.bigint();
          },
          (error) => {
            failed++;
            firstError ??= error.message;
          },
        ),
    );
  }
  await Promise.all(pending);
  return { writes, failed, firstError, lagMs: lag };
}

/** Matches each answer to the latest write to its user that started before it; first answer per write counts. */
function latencies(writes, wakes) {
  const byUser = new Map();
  for (const [index, write] of writes.entries()) {
    if (!byUser.has(write.user)) byUser.set(write.user, []);
    byUser.get(write.user).push({ index, started: write.started });
  }
  const seen = new Set();
  const result = [];
  const first = writes[0]?.started ?? 0n;
  /** Latencies by the second of the write phase their write started in. */
  const bySecond = [];
  let unmatched = 0;
  let repeated = 0;
  for (const [device, arrivedText] of wakes) {
    const arrived = BigInt(arrivedText);
    const list = byUser.get(Math.floor(device / PER_USER)) ?? [];
    let match;
    for (const write of list) if (write.started <= arrived) match = write;
    if (!match) {
      unmatched++;
      continue;
    }
    const key = `${match.index}:${device}`;
    if (seen.has(key)) {
      repeated++;
      continue;
    }
    seen.add(key);
    const latency = Number(arrived - match.started) / 1e6;
    result.push(latency);
    const second = Number((match.started - first) / 1_000_000_000n);
    bySecond[second] ??= [];
    bySecond[second].push(latency);
  }
  return { values: result.sort((a, b) => a - b), unmatched, repeated, bySecond };
}

async function run(devices) {
  console.log(`\n## ${devices} devices (${devices / PER_USER} users x ${PER_USER}), load average ${load()}`);
  const users = Math.ceil(devices / PER_USER);
  const work = mkdtempSync(path.join(os.tmpdir(), 'easkit-fanout-'));
  const keyPrefix = `easkit-bench-fanout:${randomUUID()}:`;
  const adminToken = randomBytes(24).toString('base64url');
  const servers = [];
  const clients = [];
  let databaseCreated = false;
  try {
    const { publicKey, privateKey } = await generateKeyPair('EdDSA', { extractable: true });
    const publicJwk = { ...(await exportJWK(publicKey)), kid: 'fanout-bench', alg: 'EdDSA', use: 'sig' };
    const privateJwk = await exportJWK(privateKey);
    const jwksFile = path.join(work, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [publicJwk] }));
    const configFile = path.join(work, 'easkit.yaml');
    writeFileSync(
      configFile,
      [
        'policy:',
        '  withoutPolicy: skip',
        'demo:',
        '  enabled: false',
        'jwt:',
        `  jwksFile: ${JSON.stringify(jwksFile)}`,
        `  issuer: ${JSON.stringify(ISSUER)}`,
        `  audience: ${JSON.stringify(AUDIENCE)}`,
        '',
      ].join('\n'),
    );
    const databaseUrl = await createDatabase();
    databaseCreated = true;
    const mailInPort = await freePort();
    const common = {
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      EASKIT_REDIS_PREFIX: keyPrefix,
      EASKIT_PORT: '0',
      EASKIT_ADMIN_TOKEN: adminToken,
      EASKIT_LOG_LEVEL: 'warn',
      EASKIT_SYNC_STATE: syncState,
    };
    let started = performance.now();
    // Instance 1 first: it runs the migrations; the others then find a migrated database.
    servers.push(await startServer(1, { ...common, EASKIT_MAIL_IN_PORT: String(mailInPort) }, configFile));
    servers.push(...(await Promise.all([2, 3].map((n) => startServer(n, common, configFile)))));
    console.log(
      `servers: ${servers.map((s) => `${s.number} ${s.url} (pid ${s.pid})`).join(', ')}; SMTP on instance 1 port ${mailInPort}; ` +
        `config: policy.withoutPolicy skip (no Provision), bearer tokens (EdDSA JWT), sync state in ${syncState === 'redis' ? 'Redis' : 'PostgreSQL'}, ` +
        `push through Redis; started in ${fmt((performance.now() - started) / 1000)} s`,
    );

    started = performance.now();
    const created = await createUsers(servers[0], adminToken, users);
    console.log(
      `users: ${users - created.failed} of ${users} created through the admin API of instance 1 in ${fmt((performance.now() - started) / 1000)} s` +
        (created.firstError ? ` (first error: ${created.firstError})` : ''),
    );

    if (mailboxSize > 0) {
      started = performance.now();
      const filler = createTransport({
        host: '127.0.0.1',
        port: mailInPort,
        ignoreTLS: true,
        pool: true,
        maxConnections: smtpPool,
        maxMessages: Number.POSITIVE_INFINITY,
      });
      let next = 0;
      let failedFills = 0;
      const fill = async () => {
        for (let n = next++; n < users * mailboxSize; n = next++) {
          const user = n % users;
          await filler
            .sendMail({
              envelope: { from: 'archive@remote.bench.test', to: [address(user)] },
              raw:
                `From: archive@remote.bench.test\r\nTo: ${address(user)}\r\nSubject: earlier mail ${n}\r\n` +
                `Message-ID: <fill-${n}-${randomUUID()}@remote.bench.test>\r\n\r\nan earlier message\r\n`,
            })
            .catch(() => failedFills++);
        }
      };
      await Promise.all(Array.from({ length: smtpPool * 4 }, fill));
      filler.close();
      console.log(
        `mailboxes: ${mailboxSize} messages in each Inbox over SMTP in ${fmt((performance.now() - started) / 1000)} s (${failedFills} failed)`,
      );
    }

    const ports = [servers[1], servers[2]].map((s) => Number(new URL(s.url).port));
    const processes = Math.ceil(devices / capacity);
    const perProcess = Math.ceil(devices / processes / PER_USER) * PER_USER;
    started = performance.now();
    for (let from = 0; from < devices; from += perProcess) {
      const client = startDevices({
        from,
        to: Math.min(devices, from + perProcess),
        ports,
        sources,
        heartbeatSec: HEARTBEAT_SEC,
        concurrency,
        privateJwk,
      });
      clients.push(client);
    }
    const readies = await Promise.all(clients.map((client) => client.ready));
    const setups = await Promise.all(clients.map((client) => client.ask({ setup: true }, 'setup')));
    const ok = setups.reduce((sum, s) => sum + s.ok, 0);
    const failedSetups = setups.reduce((sum, s) => sum + s.failed, 0);
    const waiting = await settle(servers, ok);
    const setupSeconds = (performance.now() - started) / 1000;
    // What an operator does after loading a database in bulk: fresh statistics. The servers' prepared statements
    // were planned while the tables were nearly empty; ANALYZE makes PostgreSQL plan them again (autovacuum would
    // too, a minute or so later).
    await analyzeDatabase(databaseUrl);
    console.log(
      `devices: ${clients.length} device process(es) (open-file limit ${readies.map((r) => r.nofile).join(', ')}), ` +
        `${ok} set up (FolderSync, Sync 0, Sync) and ${failedSetups} failed in ${fmt(setupSeconds)} s; ` +
        `${waiting} Pings waiting (instance 2: ${await waitingRequests(servers[1])}, instance 3: ${await waitingRequests(servers[2])})` +
        (setups.find((s) => s.firstError)
          ? `; first error: ${setups.find((s) => s.firstError).firstError}`
          : ''),
    );

    // Nobody is written to twice while there are more users than messages.
    const order = Array.from({ length: users }, (_, u) => u);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    const transport = createTransport({
      host: '127.0.0.1',
      port: mailInPort,
      ignoreTLS: true,
      pool: true,
      maxConnections: smtpPool,
      maxMessages: Number.POSITIVE_INFINITY,
    });
    let offset = 0;
    if (warmupSeconds > 0 && rates.length > 0) {
      const total = Math.round(rates[0] * warmupSeconds);
      const warm = await writeMail(transport, order.slice(order.length - total), total, rates[0]);
      console.log(
        `warm-up: ${warm.writes.length} messages at ${rates[0]}/s to users the measured phases do not write to first (not counted)`,
      );
      await sleep(1000);
    }
    for (const rate of rates) {
      const total = Math.round(rate * seconds);
      // Every device Pinging again (the previous phase's Syncs done) before the next phase starts.
      const settleStarted = performance.now();
      const before = await settle(servers, ok);
      const settledSeconds = (performance.now() - settleStarted) / 1000;
      const rssBefore = servers.map((s) => rssOf(s.pid));
      const cpuBefore = [...servers, ...clients].map((p) => cpuOf(p.pid));
      const sharedBefore = [cpuOfCommand('postgres', ` ${DATABASE} `), cpuOfCommand('redis-server')];
      const loadBefore = load();
      for (const client of clients) await client.ask({ report: true }, 'report');
      if (pgStatements) await resetStatements();
      const writeStarted = performance.now();
      const writeStartedAt = new Date().toISOString();
      const written = await writeMail(
        transport,
        order.slice(offset).concat(order.slice(0, offset)),
        total,
        rate,
      );
      offset = (offset + total) % order.length;
      const expected = written.writes.length * PER_USER;
      // Let the last answers arrive: until all are in, or none came for 3 s (at most 60 s).
      const wakes = [];
      // The first report waits until the last answers are in: serializing the answer times busies the device
      // process, which would then stamp the answers still arriving late.
      await sleep(1500);
      let quietSince = performance.now();
      const drainStarted = performance.now();
      for (;;) {
        const before = wakes.length;
        for (const client of clients) wakes.push(...(await client.ask({ report: true }, 'report')).wakes);
        if (wakes.length > before) quietSince = performance.now();
        const now = performance.now();
        if (wakes.length >= expected || now - quietSince > 3000 || now - drainStarted > 60_000) break;
        await sleep(200);
      }
      const wallSeconds = (performance.now() - writeStarted) / 1000;
      const cpuAfter = [...servers, ...clients].map((p) => cpuOf(p.pid));
      const sharedAfter = [cpuOfCommand('postgres', ` ${DATABASE} `), cpuOfCommand('redis-server')];
      const rssAfter = servers.map((s) => rssOf(s.pid));
      if (pgStatements) await reportStatements(total);
      const reports = await Promise.all(clients.map((client) => client.ask({ report: true }, 'report')));
      wakes.push(...reports.flatMap((report) => report.wakes));
      const { values, unmatched, repeated, bySecond } = latencies(written.writes, wakes);
      const acks = written.writes
        .filter((write) => write.acked !== undefined)
        .map((write) => Number(write.acked - write.started) / 1e6)
        .sort((a, b) => a - b);
      const distinct = new Set(written.writes.map((write) => write.user)).size;

      console.log(
        `\nWrite (SMTP to instance 1) to Ping answer (instances 2 and 3): ${ok} devices waiting, ${written.writes.length} messages at ${rate}/s for ${seconds} s to ${distinct} distinct users` +
          `, each waking the user's ${PER_USER} devices`,
      );
      console.log(
        '| devices waiting | messages | answers / expected | p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |',
      );
      console.log('|---:|---:|---:|---:|---:|---:|---:|');
      console.log(
        `| ${ok} | ${written.writes.length} | ${values.length} / ${expected} | ${fmt(percentile(values, 50), 2)} | ${fmt(percentile(values, 90), 2)} | ${fmt(percentile(values, 99), 2)} | ${fmt(values.at(-1), 2)} |`,
      );
      console.log(
        `slowest answer by second of the write phase (began ${writeStartedAt}) (ms): ${bySecond.map((list) => fmt(Math.max(...(list ?? [])), 0)).join(' ')}`,
      );
      console.log(
        `SMTP acknowledgement (message stored on instance 1): p50 ${fmt(percentile(acks, 50), 2)} ms, p99 ${fmt(percentile(acks, 99), 2)} ms, max ${fmt(acks.at(-1), 2)} ms; ` +
          `${written.failed} sends failed${written.firstError ? ` (${written.firstError})` : ''}; writer schedule lag max ${fmt(written.lagMs, 1)} ms`,
      );
      console.log(
        `answers not matched to a write: ${unmatched}; second answers for one write: ${repeated}; device counts: ${JSON.stringify(reports.map((r) => ({ ...r.counts, open: r.open })))}`,
      );
      const names = [
        ...servers.map((s) => `server ${s.number}`),
        ...clients.map((_, i) => `devices ${i + 1}`),
      ];
      console.log(
        `CPU seconds used during the ${fmt(wallSeconds)} s write phase and drain: ${names.map((name, i) => `${name} ${fmt(cpuAfter[i] - cpuBefore[i], 2)}`).join(', ')}, ` +
          `PostgreSQL backends of the bench database ${fmt(cpuBetween(sharedBefore[0], sharedAfter[0]), 2)}, the shared redis-server ${fmt(cpuBetween(sharedBefore[1], sharedAfter[1]), 2)} (of ${fmt(wallSeconds * os.cpus().length)} on ${os.cpus().length} cores shared with other work)`,
      );
      console.log(
        `server RSS before -> after the writes (MB): ${servers.map((s, i) => `${s.number}: ${fmt(rssBefore[i] / MB)} -> ${fmt(rssAfter[i] / MB)}`).join(', ')}`,
      );
      console.log(
        `load average before the writes ${loadBefore}, after ${load()}; ${before} Pings were waiting when the writes began (${fmt(settledSeconds)} s after the previous phase's last answer)`,
      );
    }
    transport.close();
  } finally {
    for (const server of servers) server.silence();
    for (const client of clients) client.child.connected && client.child.send({ stop: true });
    await sleep(300);
    for (const server of servers) server.child.kill('SIGTERM');
    await Promise.race([Promise.all(servers.map((s) => s.exited)), sleep(15_000)]);
    for (const server of servers) if (server.child.exitCode === null) server.child.kill('SIGKILL');
    const hidden = servers.reduce((sum, s) => sum + s.hiddenLines(), 0);
    if (hidden > 0) console.log(`(${hidden} more server log lines not shown)`);
    if (databaseCreated) await dropDatabase();
    const removed = await removeRedisKeys(keyPrefix);
    rmSync(work, { recursive: true, force: true });
    console.log(`cleaned up: database ${DATABASE} dropped, ${removed} Redis keys under ${keyPrefix} removed`);
  }
}

console.log(
  `easkit fan-out bench: node ${process.version}, ${os.cpus().length} CPUs, open-file limit ${nofile} (asked for ${WANTED_NOFILE}), ` +
    `${sources} source addresses, ${rates.join(', ')} messages/s for ${seconds} s, ${new Date().toISOString()}, load average ${load()}`,
);
for (const devices of sizes) await run(devices);
if (profileDir) console.log(`server CPU profiles (server pids above): ${profileDir}`);
process.exit(0);
