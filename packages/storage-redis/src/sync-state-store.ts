import type { UserId } from '@easkit/mailbox';
import {
  type CollectionId,
  type CollectionKey,
  type CollectionState,
  jsonCopy,
  latestSyncKey,
  type SyncStateStore,
} from '@easkit/sync-state';
import type { RedisClient } from './client.js';
import { checkKeyPrefix, part, userTag } from './keys.js';
import { LuaScript } from './lua.js';

export interface RedisSyncStateStoreOptions {
  /** A connection the application made; the store never closes it. */
  client: RedisClient;
  /** Starts every key, e.g. `easkit:`. No braces. */
  keyPrefix: string;
  /**
   * Expire a device's sync states this long after the last write to any of them (a device that stopped
   * syncing starts over with SyncKey 0 when it comes back). Absent: states are kept until deleted.
   */
  deviceTtlMs?: number;
}

/** The fields `getMany` reads from one device hash, and the positions of the answers. */
interface DeviceRead {
  readonly hash: string;
  readonly fields: string[];
  readonly positions: number[];
}

const compareAndSetScript = new LuaScript('sync-cas');
const deleteScript = new LuaScript('sync-delete');
const deleteDeviceScript = new LuaScript('sync-delete-device');

/**
 * A `SyncStateStore` on Redis. Each device has one hash (`<prefix>sync{<user>}<device>`) holding, per
 * collection, the newest sync key (`k:<collection>`) and the state as JSON (`s:<collection>`). The
 * compare-and-set is a Lua script that compares the stored newest key and writes both fields, so it is atomic
 * across every server instance; the state's JSON is never parsed inside Redis.
 */
export class RedisSyncStateStore implements SyncStateStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;

  constructor(options: RedisSyncStateStoreOptions) {
    this.#client = options.client;
    this.#prefix = checkKeyPrefix(options.keyPrefix);
    const ttl = options.deviceTtlMs ?? 0;
    if (!Number.isSafeInteger(ttl) || ttl < 0)
      throw new TypeError('deviceTtlMs must be a non-negative integer');
    this.#ttlMs = ttl;
  }

  async get(key: CollectionKey): Promise<CollectionState | null> {
    const raw = await this.#client.hget(
      this.#deviceKey(key.user, key.deviceId),
      `s:${part(key.collectionId)}`,
    );
    return raw === null ? null : (JSON.parse(raw) as CollectionState);
  }

  /**
   * One `HMGET` per device hash; with several devices, one pipeline of them per Redis Cluster slot group. The
   * hashes of one user share a slot (the user's hash tag), those of different users may not, and an ioredis
   * Cluster pipeline has to stay on one node: so on a Cluster the pipelines are per user, sent at once; on a
   * standalone Redis everything is one pipeline. The common case, keys of one device, is a single `HMGET`.
   */
  async getMany(keys: readonly CollectionKey[]): Promise<(CollectionState | null)[]> {
    const states: (CollectionState | null)[] = keys.map(() => null);
    const devices = new Map<string, DeviceRead>();
    const groups = new Map<string, DeviceRead[]>();
    for (const [index, key] of keys.entries()) {
      const hash = this.#deviceKey(key.user, key.deviceId);
      let read = devices.get(hash);
      if (read === undefined) {
        read = { hash, fields: [], positions: [] };
        devices.set(hash, read);
        const group = this.#client.isCluster ? key.user : '';
        const members = groups.get(group);
        if (members === undefined) groups.set(group, [read]);
        else members.push(read);
      }
      read.fields.push(`s:${part(key.collectionId)}`);
      read.positions.push(index);
    }
    await Promise.all(
      [...groups.values()].map(async (reads) => {
        const replies = await this.#hmgetAll(reads);
        for (const [which, read] of reads.entries()) {
          const values = replies[which]!;
          for (const [position, index] of read.positions.entries()) {
            const raw = values[position];
            states[index] = raw === null || raw === undefined ? null : (JSON.parse(raw) as CollectionState);
          }
        }
      }),
    );
    return states;
  }

  /** `HMGET` of each read, as one command when there is one and as one pipeline otherwise. */
  async #hmgetAll(reads: readonly DeviceRead[]): Promise<(string | null)[][]> {
    if (reads.length === 1) return [await this.#client.hmget(reads[0]!.hash, ...reads[0]!.fields)];
    const pipeline = this.#client.pipeline();
    for (const read of reads) pipeline.hmget(read.hash, ...read.fields);
    const results = (await pipeline.exec()) ?? [];
    if (results.length !== reads.length) throw new Error('getMany: the pipeline was not executed');
    return results.map(([error, values]) => {
      if (error) throw error;
      return values as (string | null)[];
    });
  }

  async compareAndSet(
    key: CollectionKey,
    expectedSyncKey: string | null,
    next: CollectionState,
  ): Promise<boolean> {
    // jsonCopy refuses what JSON would not keep (the in-memory store does the same) and drops undefined.
    const json = JSON.stringify(jsonCopy(next));
    const newest = latestSyncKey(next);
    if (expectedSyncKey === '') return false; // no stored key is empty; '' means "nothing stored" in the script
    const written = await compareAndSetScript.run(
      this.#client,
      [this.#deviceKey(key.user, key.deviceId)],
      [part(key.collectionId), expectedSyncKey ?? '', newest, json, this.#ttlMs],
    );
    return written === 1;
  }

  async delete(key: CollectionKey): Promise<boolean> {
    const removed = await deleteScript.run(
      this.#client,
      [this.#deviceKey(key.user, key.deviceId)],
      [part(key.collectionId)],
    );
    return removed === 1;
  }

  async deleteDevice(user: UserId, deviceId: string): Promise<number> {
    return Number(await deleteDeviceScript.run(this.#client, [this.#deviceKey(user, deviceId)], []));
  }

  async listCollections(user: UserId, deviceId: string): Promise<CollectionId[]> {
    const fields = await this.#client.hkeys(this.#deviceKey(user, deviceId));
    return fields
      .filter((field) => field.startsWith('s:'))
      .map((field) => JSON.parse(field.slice(2)) as string);
  }

  #deviceKey(user: UserId, deviceId: string): string {
    return `${this.#prefix}sync${userTag(user)}${part(deviceId)}`;
  }
}

/** Factory form of {@link RedisSyncStateStore}. */
export function createRedisSyncStateStore(options: RedisSyncStateStoreOptions): RedisSyncStateStore {
  return new RedisSyncStateStore(options);
}
