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
