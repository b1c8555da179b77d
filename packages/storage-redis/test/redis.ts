import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, Redis, type RedisOptions } from 'ioredis';

/**
 * Test Redis. Every test file uses the shared server at `EASKIT_TEST_REDIS_URL` (default
 * `redis://127.0.0.1:6379`) under its own key prefix, and cleans that prefix with SCAN + DEL (never FLUSHDB).
 * In CI a server that cannot be reached fails the run; on a laptop without one, the Redis suites skip with one
 * warning line.
 */
export const redisUrl = process.env.EASKIT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

let reachable: Promise<boolean> | undefined;

/** Whether the test Redis answers; throws in CI when it does not. */
export function redisAvailable(): Promise<boolean> {
  reachable ??= (async () => {
    const client = new Redis(redisUrl, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    client.on('error', () => {});
    try {
      await client.connect();
      await client.ping();
      return true;
    } catch (error) {
      if (process.env.CI)
        throw new Error(`Redis at ${redisUrl} is required in CI: ${(error as Error).message}`);
      console.warn(
        `[storage-redis] SKIPPING Redis suites: no server at ${redisUrl} (${(error as Error).message})`,
      );
      return false;
    } finally {
      client.disconnect();
    }
  })();
  return reachable;
}

/** A prefix no other test file or run uses: `test:<file>:<random>:`. */
export function testPrefix(file: string): string {
  return `easkit-test:${file}:${randomUUID()}:`;
}

/** A client on the test Redis. */
export function connect(options: RedisOptions = {}): Redis {
  return new Redis(redisUrl, { maxRetriesPerRequest: null, ...options });
}

/** Deletes every key under `prefix` (SCAN + DEL, never FLUSHDB). The prefix must hold no glob characters. */
export async function cleanPrefix(client: Redis, prefix: string): Promise<void> {
  if (/[*?[\]\\]/.test(prefix)) throw new Error(`prefix ${prefix} holds glob characters`);
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await client.del(...keys);
  } while (cursor !== '0');
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * A private `redis-server` for tests that restart or kill it (never the shared one): no persistence, on its
 * own port. `start` resolves when the server logs that it accepts connections; `stop` resolves when it exited.
 */
export class PrivateRedis {
  readonly port: number;
  #process: ReturnType<typeof spawn> | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(extra: string[] = [], cwd?: string): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort());
    await server.start(extra, cwd);
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(extra: string[] = [], cwd?: string): Promise<void> {
    const child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...extra],
      { stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) },
    );
    this.#process = child;
    await new Promise<void>((resolve, reject) => {
      let log = '';
      const onData = (chunk: Buffer) => {
        log += chunk.toString();
        if (log.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData);
          child.stdout?.resume();
          resolve();
        }
      };
      child.stdout?.on('data', onData);
      child.once('error', reject);
      child.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${code} before it was ready:\n${log}`)),
      );
    });
  }

  async stop(): Promise<void> {
    const child = this.#process;
    this.#process = undefined;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
}

/** Resolves once `done()` holds, checking every few milliseconds; fails after `timeoutMs` (default 5 s). */
export async function until(
  done: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A private three-node Redis Cluster (no replicas, no persistence), for checking that every script keeps to
 * one slot and that sharded pub/sub works through ioredis' `Cluster`. Each node runs in its own temporary
 * folder (for its `nodes.conf`); `stop` ends the nodes and removes the folders.
 */
export class PrivateCluster {
  readonly nodes: PrivateRedis[];
  readonly #folder: string;

  private constructor(nodes: PrivateRedis[], folder: string) {
    this.nodes = nodes;
    this.#folder = folder;
  }

  static async start(): Promise<PrivateCluster> {
    const folder = mkdtempSync(join(tmpdir(), 'easkit-redis-cluster-'));
    const nodes: PrivateRedis[] = [];
    try {
      for (let index = 0; index < 3; index++) {
        const cwd = mkdtempSync(join(folder, 'node-'));
        nodes.push(
          await PrivateRedis.start(['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'], cwd),
        );
      }
      const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
      await promisify(execFile)('redis-cli', [
        '--cluster',
        'create',
        ...addresses,
        '--cluster-replicas',
        '0',
        '--cluster-yes',
      ]);
      const cluster = new PrivateCluster(nodes, folder);
      await cluster.#waitUntilFormed();
      return cluster;
    } catch (error) {
      for (const node of nodes) await node.stop();
      rmSync(folder, { recursive: true, force: true });
      throw error;
    }
  }

  /** A `Cluster` client; `shardedSubscribers` for a bus's subscriber. */
  connect(options: { shardedSubscribers?: boolean } = {}): Cluster {
    const cluster = new Cluster(
      this.nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
      {
        shardedSubscribers: options.shardedSubscribers ?? false,
        redisOptions: { maxRetriesPerRequest: null },
      },
    );
    cluster.on('error', () => {});
    return cluster;
  }

  async stop(): Promise<void> {
    for (const node of this.nodes) await node.stop();
    rmSync(this.#folder, { recursive: true, force: true });
  }

  async #waitUntilFormed(): Promise<void> {
    const clients = this.nodes.map((node) => new Redis(node.port, '127.0.0.1'));
    try {
      await until(
        async () => {
          const infos = await Promise.all(clients.map((client) => client.cluster('INFO')));
          return infos.every((info) => String(info).includes('cluster_state:ok'));
        },
        'the cluster to form',
        20_000,
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  }
}
