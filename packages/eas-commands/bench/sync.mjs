// The Sync benchmark of @easkit/eas-commands: `node bench/sync.mjs` in packages/eas-commands after building
// (or `pnpm bench`, which builds first). Client and server talk EAS 14.1 over real HTTP on 127.0.0.1, with
// WBXML built by @easkit/wbxml; the server runs the built package (dist/) over the in-memory stores.
// Figures are printed, never asserted.
//
//   --in-process        run the server in this process instead of a child process
//   --inbox=N           Inbox size for the initial sync (default 5000)
//   --sizes=a,b,c       folder sizes for the no-change Sync (default 1000,10000,100000)
//   --runs=N            measured initial syncs, each by a new device, after one warm-up sync (default 3)
//   --requests=N        timed no-change Syncs per folder (default 200)
//   --only=initial|nochange   run one part only
//   --no-gzip           do not ask for gzip (by default the client sends Accept-Encoding: gzip, as devices do)
//   --server-prof       record a CPU profile of the server child during the measured traffic (the last
//                       initial sync; the timed no-change Syncs per size) into bench/.out/; summarise it with
//                       `node bench/profile.mjs bench/.out/<name>.cpuprofile`
import { fork } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { decode, eas, encode } from '@easkit/wbxml';

const { AirSync: AS, AirSyncBase: ASB, FolderHierarchy: FH } = eas;

const here = path.dirname(fileURLToPath(import.meta.url));
const MB = 1e6;
const VERSION = '14.1';
const PEER = { initialSeconds: 42, noChangeMs: 400 };
const TARGET = { initialSeconds: 4, noChangeMs: 5 };

function option(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((arg) => arg.startsWith(prefix));
  return found === undefined ? fallback : found.slice(prefix.length);
}
const flag = (name) => process.argv.includes(`--${name}`);

const inProcess = flag('in-process');
const inboxSize = Number(option('inbox', '5000'));
const sizes = option('sizes', '1000,10000,100000').split(',').filter(Boolean).map(Number);
const runs = Number(option('runs', '3'));
const timedRequests = Number(option('requests', '200'));
const only = option('only', '');
const gzip = !flag('no-gzip');
const profiling = flag('server-prof') && !flag('in-process');
const doInitial = only === '' || only === 'initial';
const doNoChange = only === '' || only === 'nochange';

// Server ---------------------------------------------------------------------------------------------------

async function startServer(plan) {
  if (inProcess) {
    const { startBenchServer } = await import('./server.mjs');
    const started = await startBenchServer(plan);
    return {
      ...started,
      cpuUsage: async () => process.cpuUsage(),
      profile: (_name, body) => body(),
      stop: started.close,
    };
  }
  const child = fork(path.join(here, 'server.mjs'), [JSON.stringify(plan)], { stdio: 'inherit' });
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code} before it was ready`)));
  });
  const reply = (key) =>
    new Promise((resolve) => {
      const listener = (message) => {
        if (message?.[key] === undefined) return;
        child.off('message', listener);
        resolve(message[key]);
      };
      child.on('message', listener);
    });
  return {
    ...ready,
    cpuUsage: async () => {
      child.send({ cpu: true });
      return reply('cpuUsage');
    },
    profile: async (name, body) => {
      if (!profiling) return body();
      child.send({ profile: 'start' });
      await reply('profiling');
      try {
        return await body();
      } finally {
        child.send({ profile: 'stop', name });
        console.log(`server CPU profile: ${path.relative(process.cwd(), await reply('profiled'))}`);
      }
    },
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', resolve);
        child.send({ stop: true });
      }),
  };
}

// Client ---------------------------------------------------------------------------------------------------

const USER = { id: 'bench@easkit.test', password: 'bench-pw' };
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const authorization = `Basic ${Buffer.from(`${USER.id}:${USER.password}`).toString('base64')}`;

/** Counters of one measured stretch of traffic. */
function traffic() {
  return { requests: 0, sentBytes: 0, wireBytes: 0, wbxmlBytes: 0 };
}

/**
 * One EAS request over a kept-alive connection: returns the decoded body (undefined for an empty 200) and
 * counts bytes into `counter`. Request and response headers are not counted, bodies are.
 */
function send(url, deviceId, command, bodyBytes, counter) {
  const query = `Cmd=${command}&User=${encodeURIComponent(USER.id)}&DeviceId=${deviceId}&DeviceType=BenchPhone`;
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/Microsoft-Server-ActiveSync?${query}`,
      {
        method: 'POST',
        agent,
        headers: {
          Authorization: authorization,
          'MS-ASProtocolVersion': VERSION,
          'Content-Type': 'application/vnd.ms-sync.wbxml',
          'Content-Length': String(bodyBytes.length),
          'User-Agent': 'easkit-bench/1.0',
          ...(gzip ? { 'Accept-Encoding': 'gzip' } : {}),
        },
      },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200) {
            reject(new Error(`${command}: HTTP ${res.statusCode}`));
            return;
          }
          let bytes = Buffer.concat(chunks);
          counter.requests++;
          counter.sentBytes += bodyBytes.length;
          counter.wireBytes += bytes.length;
          if (res.headers['content-encoding'] === 'gzip') bytes = gunzipSync(bytes);
          counter.wbxmlBytes += bytes.length;
          resolve(bytes.length > 0 ? decode(bytes) : undefined);
        });
      },
    );
    req.on('error', reject);
    req.end(bodyBytes);
  });
}

/** Mail Options of every Sync request: all dates, plain-text bodies truncated at 5,120 bytes. */
const mailOptions = () =>
  AS.Options(AS.FilterType(0), ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(5120)));

function syncRequest(collectionId, syncKey, windowSize) {
  return encode(
    AS.Sync(
      AS.Collections(
        AS.Collection(
          AS.SyncKey(syncKey),
          AS.CollectionId(collectionId),
          syncKey === '0' ? null : AS.GetChanges(),
          AS.WindowSize(windowSize),
          mailOptions(),
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

async function folderSync(url, deviceId, counter) {
  const reply = await send(url, deviceId, 'FolderSync', encode(FH.FolderSync(FH.SyncKey('0'))), counter);
  if (reply?.intOf('Status') !== 1) throw new Error(`FolderSync answered Status ${reply?.intOf('Status')}`);
  const folders = new Map();
  for (const add of reply.child('Changes')?.all('Add') ?? []) {
    folders.set(add.textOf('DisplayName'), add.textOf('ServerId'));
  }
  return folders;
}

/**
 * A device's first sync of a folder: SyncKey 0, then Sync until no MoreAvailable. Returns the key the
 * device holds afterwards and the items received.
 */
async function initialSync(url, deviceId, collectionId, windowSize, counter, check) {
  let syncKey = collectionOf(
    await send(url, deviceId, 'Sync', syncRequest(collectionId, '0', 1), counter),
  ).textOf('SyncKey');
  let items = 0;
  for (;;) {
    const collection = collectionOf(
      await send(url, deviceId, 'Sync', syncRequest(collectionId, syncKey, windowSize), counter),
    );
    if (collection === undefined) break; // nothing to send at all: an empty folder
    syncKey = collection.textOf('SyncKey');
    const adds = collection.child('Commands')?.all('Add') ?? [];
    items += adds.length;
    if (check && adds.length > 0) check(adds);
    if (!collection.has('MoreAvailable')) break;
  }
  return { syncKey, items };
}

/** Checks one page of the Inbox sync: plain-text bodies, truncated at 5,120 bytes where longer. */
function checkBodies(adds) {
  for (const add of adds) {
    const body = add.child('ApplicationData')?.child('Body');
    if (body?.intOf('Type') !== 1) throw new Error(`item ${add.textOf('ServerId')}: no Type 1 body`);
    const data = body.textOf('Data') ?? '';
    if (Buffer.byteLength(data) > 5120) throw new Error(`item ${add.textOf('ServerId')}: body not truncated`);
  }
}

// Measurement helpers ---------------------------------------------------------------------------------------

const now = () => performance.now();

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function table(headers, rows) {
  const cells = [headers, ...rows].map((row) => row.map(String));
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) =>
    row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ');
  console.log(line(cells[0]));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const row of cells.slice(1)) console.log(line(row));
  console.log();
}

const fixed = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '-');
const verdict = (value, target) => (value <= target ? 'met' : 'missed');

// Main -----------------------------------------------------------------------------------------------------

console.log(
  `@easkit/eas-commands Sync benchmark - ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
    `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.platform()} ${os.arch()}`,
);
console.log(
  `EAS ${VERSION} over HTTP/1.1 on 127.0.0.1 (keep-alive, ${gzip ? 'gzip accepted' : 'no gzip'}); server ` +
    `${inProcess ? 'in the client process' : 'in a child process'}, in-memory stores. MB = 10^6 bytes.`,
);
console.log(
  "Each part has its own server process, seeded first, so one part's data does not weigh on the other's heap.\n",
);

/** Seeds a server with `plan`, runs `body(server)` against it, and stops it. */
async function withServer(plan, body) {
  process.stdout.write(
    `Seeding a server (${plan.inbox} Inbox messages, folders of ${plan.sizes.join(', ') || 'no'} items)... `,
  );
  const server = await startServer(plan);
  console.log(`${fixed(server.seedSeconds, 1)} s`);
  const load = os.loadavg()[0];
  try {
    await body(server);
  } finally {
    await server.stop();
    // Other work on the machine skews the figures: say how busy it was.
    console.log(
      `load average (1 min) before / after this part: ${fixed(load, 2)} / ${fixed(os.loadavg()[0], 2)}\n`,
    );
  }
}

try {
  if (doInitial)
    await withServer({ inbox: inboxSize, sizes: [] }, async (server) => {
      // Each run is a new device: its own sync state, the same mailbox. The first run warms the JIT up.
      const results = [];
      for (let run = 0; run <= runs; run++) {
        const counter = traffic();
        const deviceId = `BENCHINIT${run}`;
        const measure = async () => {
          const serverCpu = await server.cpuUsage();
          const clientCpu = process.cpuUsage();
          const start = now();
          const folders = await folderSync(server.url, deviceId, counter);
          const inbox = folders.get('Inbox');
          const { items } = await initialSync(server.url, deviceId, inbox, 100, counter, checkBodies);
          const seconds = (now() - start) / 1000;
          const clientUsed = process.cpuUsage(clientCpu);
          const serverNow = await server.cpuUsage();
          const cpuSeconds = (usage) => (usage.user + usage.system) / 1e6;
          return {
            items,
            seconds,
            serverCpuSeconds: cpuSeconds(serverNow) - cpuSeconds(serverCpu),
            clientCpuSeconds: cpuSeconds(clientUsed),
          };
        };
        const { items, seconds, serverCpuSeconds, clientCpuSeconds } =
          run === runs ? await server.profile('initial', measure) : await measure();
        if (items !== inboxSize)
          throw new Error(`initial sync delivered ${items} items, expected ${inboxSize}`);
        results.push({
          label: run === 0 ? 'warm-up (cold JIT)' : `run ${run}`,
          seconds,
          serverCpuSeconds,
          clientCpuSeconds,
          items,
          counter,
        });
      }
      console.log(
        `Initial sync of a ${inboxSize.toLocaleString('en')}-message Inbox: FolderSync, Sync key 0, then Sync ` +
          'with WindowSize 100, BodyPreference Type 1, TruncationSize 5120 until no MoreAvailable',
      );
      const rows = results.map(({ label, seconds, serverCpuSeconds, clientCpuSeconds, items, counter }) => [
        label,
        fixed(seconds, 2),
        fixed(serverCpuSeconds, 2),
        fixed(clientCpuSeconds, 2),
        counter.requests,
        fixed(counter.wireBytes / MB, 2),
        fixed(counter.wbxmlBytes / MB, 2),
        fixed(counter.sentBytes / 1e3, 1),
        fixed(items / seconds, 0),
      ]);
      const measured = results.slice(1);
      const medianSeconds = median(measured.map((result) => result.seconds));
      rows.push([
        `median of ${measured.length}`,
        fixed(medianSeconds, 2),
        fixed(median(measured.map((result) => result.serverCpuSeconds)), 2),
        fixed(median(measured.map((result) => result.clientCpuSeconds)), 2),
        '',
        '',
        '',
        '',
        fixed(inboxSize / medianSeconds, 0),
      ]);
      table(
        [
          'run',
          'seconds',
          'server CPU s',
          'client CPU s',
          'requests',
          'MB down (wire)',
          'MB down (WBXML)',
          'kB up',
          'items/s',
        ],
        rows,
      );
      console.log(
        'CPU s: user + system CPU time of each process during the run; less sensitive than seconds to other ' +
          'work on the machine.',
      );
      console.log(
        `target <= ${TARGET.initialSeconds} s for 5,000 messages: ` +
          `${inboxSize === 5000 ? verdict(medianSeconds, TARGET.initialSeconds) : 'not measured (other size)'}; ` +
          `peer (PHP server, IMAP store, same machine per issue #4): about ${PEER.initialSeconds} s`,
      );
    });

  if (doNoChange)
    await withServer({ inbox: 0, sizes }, async (server) => {
      const rows = [];
      const deviceId = 'BENCHIDLE';
      const folders = await folderSync(server.url, deviceId, traffic());
      for (const size of sizes) {
        const collectionId = folders.get(`Bench ${size}`);
        // The device's own initial sync first (WindowSize 512, the server's maximum, to get there quickly).
        const prep = traffic();
        const prepStart = now();
        const { syncKey, items } = await initialSync(server.url, deviceId, collectionId, 512, prep);
        const prepSeconds = (now() - prepStart) / 1000;
        if (items !== size) throw new Error(`folder of ${size}: initial sync delivered ${items} items`);
        const body = syncRequest(collectionId, syncKey, 100);
        const idle = traffic();
        const once = async () => {
          const collection = collectionOf(await send(server.url, deviceId, 'Sync', body, idle));
          if (collection?.child('Commands'))
            throw new Error(`folder of ${size}: a no-change Sync sent changes`);
        };
        // The first one confirms the last key the device was given; then a warm-up; then the timed requests.
        for (let i = 0; i < 50; i++) await once();
        const times = [];
        await server.profile(`nochange-${size}`, async () => {
          for (let i = 0; i < timedRequests; i++) {
            const start = now();
            await once();
            times.push(now() - start);
          }
        });
        times.sort((a, b) => a - b);
        rows.push([
          size.toLocaleString('en'),
          fixed(median(times), 2),
          fixed(percentile(times, 95), 2),
          fixed(times.at(-1), 2),
          verdict(percentile(times, 95), TARGET.noChangeMs),
          `${fixed(prepSeconds, 1)} s / ${prep.requests}`,
        ]);
      }
      console.log(
        `No-change Sync (the device holds the current key; same request body each time; ${timedRequests} timed ` +
          'requests after 50 untimed, one at a time; round trip as the client sees it)',
      );
      table(
        [
          'folder items',
          'median ms',
          'p95 ms',
          'max ms',
          `p95 <= ${TARGET.noChangeMs} ms`,
          'initial sync / requests',
        ],
        rows,
      );
      console.log(`peer (PHP server, IMAP store, same machine per issue #4): about ${PEER.noChangeMs} ms`);
    });
} finally {
  agent.destroy();
}
