// Fan-out benchmark of @easkit/storage-redis: `node bench/fanout.mjs` (or `pnpm bench`) in
// packages/storage-redis after building it (`pnpm -r build`: it runs dist/). Figures are printed, never
// asserted.
//
// Three subscriber processes, each a RedisPushBus with its own command and subscriber connections (three
// server instances), subscribe to --users users between them (user i on instance i % 3). This process is a
// fourth instance that only publishes: --rate events a second for --seconds, each for a random user. Every
// event carries the publish time (performance.timeOrigin + performance.now(), a clock all processes on this
// machine share); the instance that receives it records the delay. Printed: how long subscribing took,
// delivered / published, and the latency percentiles from publish to the listener call.
//
// This is the bus part of the end-to-end figure (a write on one server instance to the Ping answer
// on another): the HTTP Ping and the store reads are not in it.
//
//   --users=N      subscribed users (default 10000)
//   --rate=N       publishes a second (default 100)
//   --seconds=N    length of the run (default 20)
//   --pubsub=sharded|classic   (default sharded)
//   --url=redis://...          (default $REDIS_URL or redis://127.0.0.1:6379)
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const INSTANCES = 3;

function option(name, fallback) {
  const prefix = `--${name}=`;
  const found = process.argv.find((arg) => arg.startsWith(prefix));
  return found === undefined ? fallback : found.slice(prefix.length);
}

const now = () => performance.timeOrigin + performance.now();
const userName = (index) => `user${index}@example.com`;

async function load() {
  const { Redis } = await import('ioredis');
  const { createRedisPushBus } = await import('../dist/index.js').catch((error) => {
    throw new Error(`build the package first (pnpm -r build): ${error.message}`);
  });
  return { Redis, createRedisPushBus };
}

if (process.argv[2] === '--instance') {
  // A subscriber instance.
  const config = JSON.parse(process.argv[3]);
  const { Redis, createRedisPushBus } = await load();
  const client = new Redis(config.url);
  const subscriber = new Redis(config.url);
  const bus = createRedisPushBus({ client, subscriber, keyPrefix: config.keyPrefix, pubsub: config.pubsub });
  const delays = [];
  const started = now();
  const subscriptions = [];
  for (let index = config.instance; index < config.users; index += INSTANCES) {
    subscriptions.push(
      bus.subscribe(userName(index), (event) => {
        delays.push(now() - Number(event.folderIds[0]));
      }),
    );
  }
  await Promise.all(subscriptions);
  process.send({ ready: true, users: subscriptions.length, subscribeMs: now() - started });
  process.on('message', async (message) => {
    if (message !== 'stop') return;
    process.send({ delays });
    await bus.close();
    client.disconnect();
    subscriber.disconnect();
    process.exit(0);
  });
} else {
  const users = Number(option('users', '10000'));
  const rate = Number(option('rate', '100'));
  const seconds = Number(option('seconds', '20'));
  const pubsub = option('pubsub', 'sharded');
  const url = option('url', process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const keyPrefix = `easkit-bench:${randomUUID()}:`;
  const { Redis, createRedisPushBus } = await load();

  const children = Array.from({ length: INSTANCES }, (_, instance) =>
    fork(fileURLToPath(import.meta.url), [
      '--instance',
      JSON.stringify({ instance, users, url, keyPrefix, pubsub }),
    ]),
  );
  const next = (child) => new Promise((resolve) => child.once('message', resolve));
  const ready = await Promise.all(children.map(next));
  for (const [instance, report] of ready.entries()) {
    console.log(
      `instance ${instance + 1}: ${report.users} users subscribed in ${report.subscribeMs.toFixed(0)} ms`,
    );
  }

  const client = new Redis(url);
  // This instance only publishes: its subscriber connection is never used, so it never connects.
  const idle = new Redis(url, { lazyConnect: true });
  const bus = createRedisPushBus({ client, subscriber: idle, keyPrefix, pubsub });
  const total = rate * seconds;
  const interval = 1000 / rate;
  const begin = now();
  let published = 0;
  let failed = 0;
  for (let index = 0; index < total; index++) {
    const due = begin + index * interval;
    const wait = due - now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const user = userName(Math.floor(Math.random() * users));
    bus.publish(user, [String(now())]).then(
      () => published++,
      () => failed++,
    );
  }
  // Let the last events arrive.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const reports = await Promise.all(
    children.map((child) => {
      const answer = next(child);
      child.send('stop');
      return answer;
    }),
  );
  const delays = reports.flatMap((report) => report.delays).sort((a, b) => a - b);
  const at = (fraction) =>
    delays[Math.min(delays.length - 1, Math.floor(fraction * delays.length))] ?? Number.NaN;
  console.log(
    `${pubsub} pub/sub, ${users} users on ${INSTANCES} instances, ${rate}/s for ${seconds} s: ` +
      `${delays.length} of ${total} delivered (${failed} publishes failed)`,
  );
  console.log('| p50 (ms) | p90 (ms) | p99 (ms) | max (ms) |');
  console.log('| -------: | -------: | -------: | -------: |');
  console.log(
    `| ${[at(0.5), at(0.9), at(0.99), delays.at(-1)].map((value) => value.toFixed(2)).join(' | ')} |`,
  );
  await bus.close();
  client.disconnect();
  idle.disconnect();
}
