// The Sync benchmark of @easkit/eas-commands (bench/sync.mjs there), run over PgMailboxStore and
// PgSyncStateStore on PostgreSQL and on PGlite, plus delivery rates. `pnpm bench` in packages/storage-pg
// builds this package first; build @easkit/eas-commands (and what it depends on) once before:
//   npx --yes pnpm@10.34.9 exec turbo run build --filter=@easkit/eas-commands
// Client and server run in this process and talk EAS 14.1 over HTTP on 127.0.0.1. Every statement passes
// through a counting wrapper of the Database, so the figures include statements per request. Figures are
// printed, never asserted.
//
//   --backends=postgres,pglite   which databases (default both; postgres needs EASKIT_BENCH_PG_URL or
//                                postgres://postgres@127.0.0.1:5432/postgres, and creates easkit_bench_sync)
//   --inbox=N                    Inbox size for the initial sync (default 5000)
//   --sizes=a,b,c                folder sizes for the no-change Sync (default 1000,10000,100000)
//   --runs=N                     measured initial syncs, each by a new device, after one warm-up (default 3)
//   --requests=N                 timed no-change Syncs per folder (default 200)
//   --deliveries=N               messages delivered per delivery measurement (default 2000)
//   --concurrency=N              deliveries in flight at once (default 8)
//   --only=deliver|initial|nochange
import { Agent, createServer, request as httpRequest } from 'node:http';
import os from 'node:os';
import { loadCommands, loadMailbox, loadStoragePg, loadWbxml } from './packages.mjs';

const { createEasCommands, createEasHandler, createNodeListener } = await loadCommands();
const { FolderType, ROOT_FOLDER_ID } = await loadMailbox();
const { PgMailboxStore, PgSyncStateStore, migrate, pgliteDatabase, postgresDatabase } = await loadStoragePg();
const { decode, eas, encode } = await loadWbxml();
const { inboxMessage, smallMessage } = await import('../../eas-commands/bench/mail.mjs');
const { AirSync: AS, AirSyncBase: ASB, FolderHierarchy: FH } = eas;

function option(name, fallback) {
  const found = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return found === undefined ? fallback : found.slice(name.length + 3);
}
const backends = option('backends', 'postgres,pglite').split(',').filter(Boolean);
const inboxSize = Number(option('inbox', '5000'));
const sizes = option('sizes', '1000,10000,100000').split(',').filter(Boolean).map(Number);
const runs = Number(option('runs', '3'));
const timedRequests = Number(option('requests', '200'));
const deliveries = Number(option('deliveries', '2000'));
const concurrency = Number(option('concurrency', '8'));
const only = option('only', '');
const part = (name) => only === '' || only === name;
const TARGET = { initialSeconds: 4, noChangeMs: 5 };
const USER = { id: 'bench@easkit.test', password: 'bench-pw' };
const owner = { name: 'Bench User', email: USER.id };

// Databases --------------------------------------------------------------------------------------------------

/** Counts statements through a Database: every query, plus BEGIN and COMMIT of each transaction. */
function counting(database) {
  const counter = { statements: 0 };
  const wrap = (executor) => ({
    ...executor,
    query: (text, params) => {
      counter.statements++;
      return executor.query(text, params);
    },
  });
  return {
    counter,
    database: {
      ...wrap(database),
      dialect: database.dialect,
      transaction: (work) => {
        counter.statements += 2;
        return database.transaction((tx) => work(wrap(tx)));
      },
      listen: database.listen,
      close: database.close,
    },
  };
}

async function openDatabase(backend) {
  if (backend === 'pglite') {
    const database = await pgliteDatabase();
    return { database, close: () => database.close(), label: 'PGlite (in memory)' };
  }
  const { default: pg } = await import(await resolveFromHere('pg'));
  const adminUrl = process.env.EASKIT_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query('DROP DATABASE IF EXISTS easkit_bench_sync WITH (FORCE)');
  await admin.query('CREATE DATABASE easkit_bench_sync');
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = '/easkit_bench_sync';
  const pool = new pg.Pool({ connectionString: url.toString(), max: 10 });
  const database = postgresDatabase({ pool });
  const { rows } = await database.query('SHOW server_version');
  return {
    database,
    pool,
    close: () => pool.end(),
    label: `PostgreSQL ${rows[0].server_version} on 127.0.0.1 (synchronous_commit on, pool of 10)`,
  };
}

async function resolveFromHere(specifier) {
  const { createRequire } = await import('node:module');
  const { pathToFileURL } = await import('node:url');
  return pathToFileURL(createRequire(import.meta.url).resolve(specifier)).href;
}

// Seeding ----------------------------------------------------------------------------------------------------

const STANDARD_FOLDERS = [
  ['Inbox', FolderType.Inbox],
  ['Drafts', FolderType.Drafts],
  ['Deleted Items', FolderType.DeletedItems],
  ['Sent Items', FolderType.SentItems],
  ['Calendar', FolderType.Calendar],
  ['Contacts', FolderType.Contacts],
];

async function createMailbox(store, id) {
  await store.createUser({ id, primarySmtpAddress: id, displayName: owner.name });
  const folders = {};
  for (const [displayName, type] of STANDARD_FOLDERS) {
    folders[displayName] = (await store.createFolder(id, { displayName, type, parentId: ROOT_FOLDER_ID })).id;
  }
  return folders;
}

/** Runs `count` jobs with `concurrency` in flight; returns the seconds it took. */
async function parallel(count, job) {
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return (performance.now() - start) / 1000;
}

/**
 * A folder of `size` small messages, seeded in SQL from one message delivered through the store: the rows are
 * what createItem writes (new ids and modseqs), without paying createItem's commit per row.
 */
async function seedFolder(store, database, folderId, size) {
  const first = await store.createItem(USER.id, folderId, { class: 'Email', data: smallMessage(0, owner) });
  await database.query(
    `WITH u AS (
       UPDATE easkit_mailbox_users SET modseq = modseq + $3 WHERE id = $1 RETURNING modseq - $3 AS base
     )
     INSERT INTO easkit_mailbox_items (user_id, id, folder_id, class, added_modseq, modseq, data, mime, body_plain,
       body_html, body_native, subject, received_at, read, flag_status, message_class, window_end_ms, complete)
     SELECT user_id, nextval('easkit_mailbox_ids'), folder_id, class, u.base + n, u.base + n, data, mime,
            body_plain, body_html, body_native, subject, received_at, read, flag_status, message_class,
            window_end_ms, complete
       FROM easkit_mailbox_items, u, generate_series(1, $3::int) AS n
      WHERE user_id = $1 AND id = $2`,
    [USER.id, first.id.slice(1), size - 1],
  );
  await database.exec('ANALYZE');
}

// Client -----------------------------------------------------------------------------------------------------

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const authorization = `Basic ${Buffer.from(`${USER.id}:${USER.password}`).toString('base64')}`;

function send(url, deviceId, command, body) {
  const query = `Cmd=${command}&User=${encodeURIComponent(USER.id)}&DeviceId=${deviceId}&DeviceType=BenchPhone`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/Microsoft-Server-ActiveSync?${query}`,
      {
        method: 'POST',
        agent,
        headers: {
          Authorization: authorization,
          'MS-ASProtocolVersion': '14.1',
          'Content-Type': 'application/vnd.ms-sync.wbxml',
          'Content-Length': String(body.length),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`${command}: HTTP ${res.statusCode}`));
          const bytes = Buffer.concat(chunks);
          resolve(bytes.length > 0 ? decode(bytes) : undefined);
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

function syncRequest(collectionId, syncKey, windowSize) {
  const options = AS.Options(AS.FilterType(0), ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(5120)));
  return encode(
    AS.Sync(
      AS.Collections(
        AS.Collection(
          AS.SyncKey(syncKey),
          AS.CollectionId(collectionId),
          syncKey === '0' ? null : AS.GetChanges(),
          AS.WindowSize(windowSize),
          options,
        ),
      ),
    ),
  );
}

function collectionOf(body) {
  const collection = body?.child('Collections')?.child('Collection');
  const status = collection?.intOf('Status') ?? body?.intOf('Status');
  if (body !== undefined && status !== 1) throw new Error(`Sync answered Status ${status}`);
  return collection;
}

async function folderSync(url, deviceId) {
  const reply = await send(url, deviceId, 'FolderSync', encode(FH.FolderSync(FH.SyncKey('0'))));
  const folders = new Map();
  for (const add of reply.child('Changes')?.all('Add') ?? [])
    folders.set(add.textOf('DisplayName'), add.textOf('ServerId'));
  return folders;
}

async function initialSync(url, deviceId, collectionId, windowSize) {
  let syncKey = collectionOf(await send(url, deviceId, 'Sync', syncRequest(collectionId, '0', 1))).textOf(
    'SyncKey',
  );
  let items = 0;
  let requests = 1;
  for (;;) {
    const collection = collectionOf(
      await send(url, deviceId, 'Sync', syncRequest(collectionId, syncKey, windowSize)),
    );
    requests++;
    if (collection === undefined) break;
    syncKey = collection.textOf('SyncKey');
    items += collection.child('Commands')?.all('Add').length ?? 0;
    if (!collection.has('MoreAvailable')) break;
  }
  return { syncKey, items, requests };
}

// Measurement ------------------------------------------------------------------------------------------------

const fixed = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

function table(headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
  console.log();
}

async function startServer(mailbox, syncState) {
  const handler = createEasHandler({
    authenticate: async (credentials) =>
      credentials.scheme === 'basic' &&
      credentials.username === USER.id &&
      credentials.password === USER.password
        ? { userId: USER.id, addresses: [USER.id] }
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
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((r) => server.close(r)),
  };
}

async function benchBackend(backend) {
  const opened = await openDatabase(backend);
  const { database, counter } = counting(opened.database);
  await migrate(opened.database);
  const mailbox = new PgMailboxStore({ database });
  const syncState = new PgSyncStateStore({ database });
  console.log(`## ${opened.label}\n`);
  const folders = await createMailbox(mailbox, USER.id);
  const server = await startServer(mailbox, syncState);
  try {
    if (part('deliver') || part('initial')) {
      // Delivery into one mailbox: the Inbox the initial sync reads.
      const messages = Array.from({ length: Math.max(inboxSize, deliveries) }, (_, i) =>
        inboxMessage(i, owner),
      );
      const before = counter.statements;
      const seconds = await parallel(inboxSize, (i) =>
        mailbox.createItem(USER.id, folders.Inbox, { class: 'Email', data: messages[i] }),
      );
      const perMessage = (counter.statements - before) / inboxSize;
      const rows = [
        [
          'one mailbox (the bench Inbox)',
          inboxSize,
          fixed(seconds, 2),
          fixed(inboxSize / seconds, 0),
          fixed(perMessage, 1),
        ],
      ];
      if (part('deliver')) {
        const users = Array.from({ length: 1000 }, (_, i) => `user${i}@easkit.test`);
        const inboxes = [];
        for (const id of users) inboxes.push((await createMailbox(mailbox, id)).Inbox);
        const spread = await parallel(deliveries, (i) =>
          mailbox.createItem(users[i % 1000], inboxes[i % 1000], { class: 'Email', data: messages[i] }),
        );
        rows.push([
          'across 1,000 mailboxes',
          deliveries,
          fixed(spread, 2),
          fixed(deliveries / spread, 0),
          '1.0',
        ]);
      }
      console.log(
        `Delivery: createItem of generated messages (median ${fixed(median(messages.slice(0, 200).map((m) => m.mime.byteLength)) / 1000, 1)} kB), ` +
          `${concurrency} in flight; MIME parsed once per message`,
      );
      table(['into', 'messages', 'seconds', 'messages/s', 'statements/message'], rows);
    }

    if (part('initial')) {
      const results = [];
      for (let run = 0; run <= runs; run++) {
        const deviceId = `BENCHINIT${run}`;
        const before = counter.statements;
        const start = performance.now();
        const inboxId = (await folderSync(server.url, deviceId)).get('Inbox');
        const { items, requests } = await initialSync(server.url, deviceId, inboxId, 100);
        const seconds = (performance.now() - start) / 1000;
        if (items !== inboxSize)
          throw new Error(`initial sync delivered ${items} items, expected ${inboxSize}`);
        results.push({
          label: run === 0 ? 'warm-up' : `run ${run}`,
          seconds,
          requests: requests + 1,
          statements: counter.statements - before,
        });
      }
      const measured = results.slice(1);
      const medianSeconds = median(measured.map((r) => r.seconds));
      console.log(
        `Initial sync of a ${inboxSize.toLocaleString('en')}-message Inbox: FolderSync, Sync key 0, then WindowSize 100, ` +
          'BodyPreference Type 1 truncated at 5,120 bytes, until no MoreAvailable',
      );
      table(
        ['run', 'seconds', 'items/s', 'requests', 'statements', 'statements/Sync'],
        [
          ...results.map((r) => [
            r.label,
            fixed(r.seconds, 2),
            fixed(inboxSize / r.seconds, 0),
            r.requests,
            r.statements,
            fixed(r.statements / r.requests, 1),
          ]),
          [
            `median of ${measured.length}`,
            fixed(medianSeconds, 2),
            fixed(inboxSize / medianSeconds, 0),
            '',
            '',
            '',
          ],
        ],
      );
      console.log(
        `target <= ${TARGET.initialSeconds} s: ${inboxSize === 5000 ? (medianSeconds <= TARGET.initialSeconds ? 'met' : 'missed') : 'not measured (other size)'}\n`,
      );
    }

    if (part('nochange')) {
      const rows = [];
      for (const size of sizes) {
        const folderId = (
          await mailbox.createFolder(USER.id, {
            displayName: `Bench ${size}`,
            type: FolderType.UserMail,
            parentId: ROOT_FOLDER_ID,
          })
        ).id;
        const seedStart = performance.now();
        await seedFolder(mailbox, opened.database, folderId, size);
        const seedSeconds = (performance.now() - seedStart) / 1000;
        const deviceId = `BENCHIDLE${size}`;
        await folderSync(server.url, deviceId);
        const prepStart = performance.now();
        const { syncKey, items } = await initialSync(server.url, deviceId, folderId, 512);
        const prepSeconds = (performance.now() - prepStart) / 1000;
        if (items !== size) throw new Error(`folder of ${size}: initial sync delivered ${items} items`);
        const body = syncRequest(folderId, syncKey, 100);
        const once = async () => {
          const collection = collectionOf(await send(server.url, deviceId, 'Sync', body));
          if (collection?.child('Commands'))
            throw new Error(`folder of ${size}: a no-change Sync sent changes`);
        };
        for (let i = 0; i < 50; i++) await once();
        const times = [];
        const before = counter.statements;
        for (let i = 0; i < timedRequests; i++) {
          const start = performance.now();
          await once();
          times.push(performance.now() - start);
        }
        const statements = (counter.statements - before) / timedRequests;
        times.sort((a, b) => a - b);
        rows.push([
          size.toLocaleString('en'),
          fixed(median(times), 2),
          fixed(percentile(times, 95), 2),
          fixed(times.at(-1), 2),
          percentile(times, 95) <= TARGET.noChangeMs ? 'met' : 'missed',
          fixed(statements, 1),
          `${fixed(seedSeconds, 1)} s / ${fixed(prepSeconds, 1)} s`,
        ]);
      }
      console.log(
        `No-change Sync (the device holds the current key; ${timedRequests} timed requests after 50 untimed)`,
      );
      table(
        [
          'folder items',
          'median ms',
          'p95 ms',
          'max ms',
          `p95 <= ${TARGET.noChangeMs} ms`,
          'statements/Sync',
          'seed / initial sync',
        ],
        rows,
      );
    }
  } finally {
    await server.close();
    await opened.close();
  }
}

console.log(
  `@easkit/storage-pg Sync benchmark - ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
    `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.arch()}, load ${fixed(os.loadavg()[0], 2)}`,
);
console.log(
  'EAS 14.1 over HTTP/1.1 on 127.0.0.1, client and server in one process; PgMailboxStore + PgSyncStateStore.\n',
);
try {
  for (const backend of backends) await benchBackend(backend);
} finally {
  agent.destroy();
}
