import type { UserId } from '@easkit/mailbox';
import {
  type AccessRule,
  type ActivityRecord,
  type AuditEntry,
  type AuditEntryInput,
  type AuditPage,
  type AuditQuery,
  checkActivity,
  DEVICE_DETAIL_NAMES,
  type Device,
  DeviceConflictError,
  type DeviceDetailName,
  type DeviceExpectation,
  DeviceNotFoundError,
  type DevicePage,
  type DevicePatch,
  type DeviceSighting,
  type DeviceStore,
  defaultOrganizationSettings,
  emptyDeviceStats,
  InvalidArgumentError,
  InvalidPolicyError,
  InvalidRuleError,
  type OrganizationSettings,
  type PolicyAssignment,
  PolicyConflictError,
  type PolicyDocument,
  type PolicyInput,
  PolicyInUseError,
  type PolicyIssue,
  PolicyNotFoundError,
  type PolicyVersion,
  ruleProblems,
  validatePolicy,
} from '@easkit/policy';
import type { RedisClient } from './client.js';
import { checkKeyPrefix, fromSortable, part, sortable, userTag } from './keys.js';
import { LuaScript } from './lua.js';

export interface RedisDeviceStoreOptions {
  /** A connection the application made; the store never closes it. */
  client: RedisClient;
  /** Starts every key, e.g. `easkit:`. No braces. */
  keyPrefix: string;
  /**
   * Forget a device (with its statistics) this long after its last sighting (`upsertDevice`). Other writes keep
   * the expiry as it is. Absent: devices are kept until deleted.
   */
  deviceTtlMs?: number;
  /** The clock for timestamps the caller does not pass (tests inject one). */
  now?: () => Date;
}

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
const UINT32_MAX = 0xffff_ffff;
/** Optimistic writes retry this often under contention before giving up with an error. */
const MAX_ATTEMPTS = 200;
const ACCESS_STATES: readonly string[] = ['allowed', 'blocked', 'quarantined'];

const casScript = new LuaScript('cas');
const deleteListedScript = new LuaScript('delete-listed');
const hashCasScript = new LuaScript('hash-cas');
const assignScript = new LuaScript('policy-assign');
const defaultScript = new LuaScript('policy-default');
const deletePolicyScript = new LuaScript('policy-delete');
const auditScript = new LuaScript('audit-append');

/**
 * A `DeviceStore` on Redis.
 *
 * - A device is one JSON string (`<prefix>device{<user>}<deviceId>`), listed in its user's set
 *   (`<prefix>devices{<user>}`) and in one sorted index of all devices (`<prefix>{admin}device-index`, members
 *   that sort like JavaScript strings) for `listAllDevices`. Every device write reads the JSON, applies the
 *   same rules as `MemoryDeviceStore` and writes it back with a compare-and-set script, retrying when another
 *   writer came first; so each method is atomic, and concurrent `recordSync` calls lose nothing.
 * - Policies, assignments, the default policy, rules, organisation settings, the per-user EAS switches and the
 *   audit log live under the hash tag `{admin}`, so the scripts that check one against another (deleting a
 *   policy in use, assigning an unknown one) run in one slot of a Redis Cluster.
 * - `deviceTtlMs` lets Redis forget devices not seen for that long. The index of all devices may then list a
 *   device that is gone: listings skip it, and `sweepDeviceIndex()` removes such entries.
 */
export class RedisDeviceStore implements DeviceStore {
  readonly #client: RedisClient;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #now: () => Date;

  constructor(options: RedisDeviceStoreOptions) {
    this.#client = options.client;
    this.#prefix = checkKeyPrefix(options.keyPrefix);
    const ttl = options.deviceTtlMs ?? 0;
    if (!Number.isSafeInteger(ttl) || ttl < 0)
      throw new TypeError('deviceTtlMs must be a non-negative integer');
    this.#ttlMs = ttl;
    this.#now = options.now ?? (() => new Date());
  }

  // --- devices ---------------------------------------------------------------------------------------------

  async upsertDevice(sighting: DeviceSighting, seenAt?: Date): Promise<{ device: Device; created: boolean }> {
    requireId(sighting.user, 'user');
    requireId(sighting.deviceId, 'deviceId');
    requireId(sighting.deviceType, 'deviceType');
    const at = requireDate(seenAt ?? this.#now(), 'seenAt');
    // Listed before it can exist, so a walk of listAllDevices never misses a device that exists throughout.
    await this.#client.zadd(this.#indexKey(), 0, indexMember(sighting.user, sighting.deviceId));
    let created = false;
    const device = await this.#mutateDevice(sighting.user, sighting.deviceId, true, (existing) => {
      if (existing) {
        existing.deviceType = sighting.deviceType;
        for (const name of DEVICE_DETAIL_NAMES) {
          const value = sighting[name];
          if (value !== undefined) setDetail(existing, name, value);
        }
        if (at.getTime() > existing.lastSeen.getTime()) existing.lastSeen = new Date(at);
        created = false;
        return existing;
      }
      const fresh: Device = {
        user: sighting.user,
        deviceId: sighting.deviceId,
        deviceType: sighting.deviceType,
        firstSeen: new Date(at),
        lastSeen: new Date(at),
        policyKey: 0,
        policyState: 'none',
        access: structuredClone(sighting.initialAccess ?? { state: 'allowed', reason: 'global-default' }),
        wipe: { state: 'none' },
        stats: emptyDeviceStats(),
      };
      for (const name of DEVICE_DETAIL_NAMES) {
        const value = sighting[name];
        if (value !== undefined) setDetail(fresh, name, value);
      }
      created = true;
      return fresh;
    });
    return { device, created };
  }

  async getDevice(user: UserId, deviceId: string): Promise<Device | null> {
    const raw = await this.#client.get(this.#deviceKey(user, deviceId));
    return raw === null ? null : decode<Device>(raw);
  }

  async listDevices(user: UserId): Promise<Device[]> {
    const members = await this.#client.smembers(this.#userDevicesKey(user));
    if (members.length === 0) return [];
    const ids = members.map((member) => JSON.parse(member) as string);
    // One slot (the user's hash tag), so one MGET also works on a Redis Cluster.
    const raws = await this.#client.mget(...ids.map((id) => this.#deviceKey(user, id)));
    return raws
      .filter((raw): raw is string => raw !== null)
      .map((raw) => decode<Device>(raw))
      .sort((a, b) => compare(a.deviceId, b.deviceId));
  }

  async listAllDevices(options: { limit?: number; cursor?: string | null } = {}): Promise<DevicePage> {
    const limit = options.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    let after = '-';
    if (options.cursor) {
      if (!/^[0-9a-f]* [0-9a-f]*$/.test(options.cursor) || options.cursor.length % 4 !== 1) {
        throw new InvalidArgumentError('cursor was not made by this store');
      }
      after = `(${options.cursor}`;
    }
    const page: Device[] = [];
    let more = false;
    // Entries of devices that are gone (expired) are skipped, so read in chunks until the page is full.
    while (!more) {
      const members = await this.#client.zrangebylex(this.#indexKey(), after, '+', 'LIMIT', 0, limit + 1);
      if (members.length === 0) break;
      const keys = members.map((member) => {
        const [user, deviceId] = member.split(' ').map(fromSortable) as [string, string];
        return this.#deviceKey(user, deviceId);
      });
      const raws = await Promise.all(keys.map((key) => this.#client.get(key)));
      for (const raw of raws) {
        if (raw === null) continue;
        if (page.length === limit) {
          more = true;
          break;
        }
        page.push(decode<Device>(raw));
      }
      if (members.length < limit + 1) break;
      after = `(${members.at(-1)}`;
    }
    const last = page.at(-1);
    return { devices: page, nextCursor: more && last ? indexMember(last.user, last.deviceId) : null };
  }

  async updateDevice(
    user: UserId,
    deviceId: string,
    patch: DevicePatch,
    expected?: DeviceExpectation,
  ): Promise<Device> {
    // Validate everything before writing anything, so a bad patch leaves the device untouched.
    if (patch.policyKey !== undefined) requirePolicyKey(patch.policyKey, 'policyKey');
    if (patch.pendingPolicyKey !== undefined && patch.pendingPolicyKey !== null) {
      requirePolicyKey(patch.pendingPolicyKey, 'pendingPolicyKey');
    }
    if (patch.deviceType !== undefined) requireId(patch.deviceType, 'deviceType');
    if (patch.policyVersion) requirePolicyVersion(patch.policyVersion, 'policyVersion');
    if (patch.pendingPolicyVersion) requirePolicyVersion(patch.pendingPolicyVersion, 'pendingPolicyVersion');
    return this.#mutateDevice(user, deviceId, false, (device) => {
      if (!device) throw new DeviceNotFoundError(user, deviceId);
      if (expected) checkExpectation(device, expected);
      if (patch.deviceType !== undefined) device.deviceType = patch.deviceType;
      for (const name of DEVICE_DETAIL_NAMES) {
        if (!Object.hasOwn(patch, name)) continue;
        const value = patch[name];
        if (value === null) delete device[name];
        else if (value !== undefined) setDetail(device, name, value);
      }
      if (patch.policyKey !== undefined) device.policyKey = patch.policyKey;
      if (patch.policyState !== undefined) device.policyState = patch.policyState;
      if (patch.pendingPolicyKey === null) delete device.pendingPolicyKey;
      else if (patch.pendingPolicyKey !== undefined) device.pendingPolicyKey = patch.pendingPolicyKey;
      if (patch.policyVersion === null) delete device.policyVersion;
      else if (patch.policyVersion !== undefined)
        device.policyVersion = copyPolicyVersion(patch.policyVersion);
      if (patch.pendingPolicyVersion === null) delete device.pendingPolicyVersion;
      else if (patch.pendingPolicyVersion !== undefined)
        device.pendingPolicyVersion = copyPolicyVersion(patch.pendingPolicyVersion);
      if (patch.access !== undefined) device.access = structuredClone(patch.access);
      if (patch.wipe !== undefined) device.wipe = structuredClone(patch.wipe);
      return device;
    });
  }

  async deleteDevice(user: UserId, deviceId: string): Promise<boolean> {
    const existed = await deleteListedScript.run(
      this.#client,
      [this.#deviceKey(user, deviceId), this.#userDevicesKey(user)],
      [part(deviceId)],
    );
    // Unlisted after it is gone, for the same reason it is listed before it exists.
    await this.#client.zrem(this.#indexKey(), indexMember(user, deviceId));
    return existed === 1;
  }

  async recordSync(user: UserId, deviceId: string, activity: ActivityRecord): Promise<Device> {
    const counts = checkActivity(activity);
    const at = counts.at;
    return this.#mutateDevice(user, deviceId, false, (device) => {
      if (!device) throw new DeviceNotFoundError(user, deviceId);
      const stats = device.stats;
      stats.itemsSent += counts.itemsSent;
      stats.itemsReceived += counts.itemsReceived;
      stats.bytesIn += counts.bytesIn;
      stats.bytesOut += counts.bytesOut;
      if (activity.command === 'Sync') {
        stats.syncCount++;
        if (!stats.lastSyncAt || at.getTime() > stats.lastSyncAt.getTime()) stats.lastSyncAt = new Date(at);
      }
      if (activity.command === 'Ping') stats.pingCount++;
      if (!stats.lastCommandAt || at.getTime() >= stats.lastCommandAt.getTime()) {
        stats.lastCommand = activity.command;
        stats.lastCommandAt = new Date(at);
      }
      return device;
    });
  }

  /**
   * Removes entries of the all-devices index whose device is gone (expired through `deviceTtlMs`). Run it from
   * a periodic job when devices expire. A device being created during the sweep may lose its entry; its next
   * sighting lists it again. Returns how many entries were removed.
   */
  async sweepDeviceIndex(): Promise<number> {
    let removed = 0;
    let after = '-';
    for (;;) {
      const members = await this.#client.zrangebylex(this.#indexKey(), after, '+', 'LIMIT', 0, 500);
      if (members.length === 0) return removed;
      const exists = await Promise.all(
        members.map((member) => {
          const [user, deviceId] = member.split(' ').map(fromSortable) as [string, string];
          return this.#client.exists(this.#deviceKey(user, deviceId));
        }),
      );
      const gone = members.filter((_, index) => exists[index] === 0);
      if (gone.length > 0) removed += await this.#client.zrem(this.#indexKey(), ...gone);
      after = `(${members.at(-1)}`;
    }
  }

  // --- policies ----------------------------------------------------------------------------------------------

  async getPolicy(policyId: string): Promise<PolicyDocument | null> {
    const raw = await this.#client.hget(this.#adminKey('policies'), policyId);
    return raw === null ? null : decode<PolicyDocument>(raw);
  }

  async putPolicy(input: PolicyInput): Promise<PolicyDocument> {
    const issues: PolicyIssue[] = [];
    if (typeof input.id !== 'string' || input.id === '') {
      issues.push({ code: 'wrong-type', setting: 'id', message: 'id must be a non-empty string' });
    }
    if (typeof input.name !== 'string' || input.name.trim() === '') {
      issues.push({ code: 'wrong-type', setting: 'name', message: 'name must be a non-empty string' });
    }
    if (
      input.allowNonProvisionableDevices !== undefined &&
      typeof input.allowNonProvisionableDevices !== 'boolean'
    ) {
      issues.push({
        code: 'wrong-type',
        setting: 'allowNonProvisionableDevices',
        message: 'allowNonProvisionableDevices must be a boolean',
      });
    }
    issues.push(...validatePolicy(input.settings));
    if (issues.length > 0) throw new InvalidPolicyError(issues);
    const key = this.#adminKey('policies');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.#client.hget(key, input.id);
      const currentVersion = raw === null ? 0 : decode<PolicyDocument>(raw).version;
      if (input.expectedVersion !== undefined && input.expectedVersion !== currentVersion) {
        throw new PolicyConflictError(input.id, input.expectedVersion, currentVersion);
      }
      const stored: PolicyDocument = {
        id: input.id,
        name: input.name,
        settings: structuredClone(input.settings),
        version: currentVersion + 1,
        updatedAt: this.#now(),
        allowNonProvisionableDevices: input.allowNonProvisionableDevices ?? false,
      };
      const written = await hashCasScript.run(this.#client, [key], [input.id, raw ?? '', encode(stored)]);
      if (written === 1) return stored;
    }
    throw new Error(`putPolicy ${input.id}: too much contention`);
  }

  async listPolicies(): Promise<PolicyDocument[]> {
    const raws = await this.#client.hvals(this.#adminKey('policies'));
    return raws.map((raw) => decode<PolicyDocument>(raw)).sort((a, b) => compare(a.id, b.id));
  }

  async deletePolicy(policyId: string): Promise<void> {
    const result = await deletePolicyScript.run(
      this.#client,
      [this.#adminKey('policies'), this.#adminKey('policy-users'), this.#adminKey('default-policy')],
      [policyId],
    );
    if (result === 'not-found') throw new PolicyNotFoundError(policyId);
    if (result === 'in-use') throw new PolicyInUseError(policyId);
  }

  async assignPolicy(user: UserId, policyId: string | null): Promise<void> {
    requireId(user, 'user');
    if (policyId === '') throw new PolicyNotFoundError(policyId);
    const result = await assignScript.run(
      this.#client,
      [this.#adminKey('policies'), this.#adminKey('assignments'), this.#adminKey('policy-users')],
      [user, policyId ?? ''],
    );
    if (result === 'not-found') throw new PolicyNotFoundError(policyId ?? '');
  }

  async setDefaultPolicy(policyId: string | null): Promise<void> {
    if (policyId === '') throw new PolicyNotFoundError(policyId);
    const result = await defaultScript.run(
      this.#client,
      [this.#adminKey('policies'), this.#adminKey('default-policy')],
      [policyId ?? ''],
    );
    if (result === 'not-found') throw new PolicyNotFoundError(policyId ?? '');
  }

  async getPolicyAssignment(user: UserId): Promise<PolicyAssignment> {
    const [assigned, fallback] = await Promise.all([
      this.#client.hget(this.#adminKey('assignments'), user),
      this.#client.get(this.#adminKey('default-policy')),
    ]);
    return { assigned, default: fallback };
  }

  async resolvePolicy(user: UserId): Promise<PolicyDocument | null> {
    // A policy in use cannot be deleted, so the id read here still names a document.
    const { assigned, default: fallback } = await this.getPolicyAssignment(user);
    const policyId = assigned ?? fallback;
    return policyId === null ? null : this.getPolicy(policyId);
  }

  // --- rules -------------------------------------------------------------------------------------------------

  async putRule(rule: AccessRule): Promise<AccessRule> {
    const problems = ruleProblems(rule);
    if (problems.length > 0) throw new InvalidRuleError(problems.join('; '));
    const stored = structuredClone(rule);
    await this.#client.hset(this.#adminKey('rules'), rule.id, encode(stored));
    return stored;
  }

  async listRules(): Promise<AccessRule[]> {
    const raws = await this.#client.hvals(this.#adminKey('rules'));
    return raws
      .map((raw) => decode<AccessRule>(raw))
      .sort((a, b) => b.priority - a.priority || compare(a.id, b.id));
  }

  async deleteRule(ruleId: string): Promise<boolean> {
    return (await this.#client.hdel(this.#adminKey('rules'), ruleId)) === 1;
  }

  // --- organisation and users ----------------------------------------------------------------------------------

  async getOrganizationSettings(): Promise<OrganizationSettings> {
    const raw = await this.#client.hget(this.#adminKey('settings'), 'organization');
    return {
      ...defaultOrganizationSettings(),
      ...(raw === null ? {} : (JSON.parse(raw) as OrganizationSettings)),
    };
  }

  async updateOrganizationSettings(patch: Partial<OrganizationSettings>): Promise<OrganizationSettings> {
    if (patch.easEnabled !== undefined && typeof patch.easEnabled !== 'boolean') {
      throw new InvalidArgumentError('easEnabled must be a boolean');
    }
    if (patch.defaultAccess !== undefined && !ACCESS_STATES.includes(patch.defaultAccess)) {
      throw new InvalidArgumentError('defaultAccess must be allowed, blocked or quarantined');
    }
    const key = this.#adminKey('settings');
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.#client.hget(key, 'organization');
      const current = { ...defaultOrganizationSettings(), ...(raw === null ? {} : JSON.parse(raw)) };
      const next: OrganizationSettings = {
        easEnabled: patch.easEnabled ?? current.easEnabled,
        defaultAccess: patch.defaultAccess ?? current.defaultAccess,
      };
      if (
        (await hashCasScript.run(this.#client, [key], ['organization', raw ?? '', JSON.stringify(next)])) ===
        1
      ) {
        return next;
      }
    }
    throw new Error('updateOrganizationSettings: too much contention');
  }

  async getUserEasEnabled(user: UserId): Promise<boolean | null> {
    const raw = await this.#client.hget(this.#adminKey('user-eas'), user);
    return raw === null ? null : raw === '1';
  }

  async setUserEasEnabled(user: UserId, enabled: boolean | null): Promise<void> {
    requireId(user, 'user');
    if (enabled === null) await this.#client.hdel(this.#adminKey('user-eas'), user);
    else if (typeof enabled === 'boolean')
      await this.#client.hset(this.#adminKey('user-eas'), user, enabled ? '1' : '0');
    else throw new InvalidArgumentError('enabled must be a boolean or null');
  }

  // --- audit -------------------------------------------------------------------------------------------------

  async appendAudit(input: AuditEntryInput): Promise<AuditEntry> {
    requireId(input.actor, 'actor');
    requireId(input.action, 'action');
    if (typeof input.target !== 'object' || input.target === null) {
      throw new InvalidArgumentError('target must be an object');
    }
    const details = input.details ?? {};
    for (const [name, value] of Object.entries(details)) {
      const type = typeof value;
      if (
        value !== null &&
        type !== 'string' &&
        type !== 'boolean' &&
        !(type === 'number' && Number.isFinite(value))
      ) {
        throw new InvalidArgumentError(`details.${name} must be a string, finite number, boolean or null`);
      }
    }
    const target: AuditEntry['target'] = {};
    for (const name of ['user', 'deviceId', 'policyId', 'ruleId'] as const) {
      const value = input.target[name];
      if (value !== undefined) target[name] = value;
    }
    const body: Omit<AuditEntry, 'id'> = {
      at: new Date(requireDate(input.at ?? this.#now(), 'at')),
      actor: input.actor,
      action: input.action,
      target,
      details: { ...details },
    };
    const keys = [this.#adminKey('audit-id'), this.#adminKey('audit'), this.#adminKey('audit-index')];
    if (target.user !== undefined) keys.push(this.#auditUserKey(target.user));
    const id = Number(await auditScript.run(this.#client, keys, [encode(body).slice(1)]));
    return { id, ...body };
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = query.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    let before = '+inf';
    if (query.cursor) {
      const match = /^a(\d{1,15})$/.exec(query.cursor);
      if (!match) throw new InvalidArgumentError('cursor was not made by this store');
      before = `(${match[1]}`;
    }
    const index = query.user === undefined ? this.#adminKey('audit-index') : this.#auditUserKey(query.user);
    const entries: AuditEntry[] = [];
    let more = false;
    const chunk = Math.max(limit + 1, 100);
    while (!more) {
      const ids = await this.#client.zrevrangebyscore(index, before, '-inf', 'LIMIT', 0, chunk);
      if (ids.length === 0) break;
      const raws = await this.#client.hmget(this.#adminKey('audit'), ...ids);
      for (const raw of raws) {
        if (raw === null) continue;
        const entry = decode<AuditEntry>(raw);
        if (query.user !== undefined && entry.target.user !== query.user) continue;
        if (query.deviceId !== undefined && entry.target.deviceId !== query.deviceId) continue;
        if (entries.length === limit) {
          more = true;
          break;
        }
        entries.push(entry);
      }
      if (ids.length < chunk) break;
      before = `(${ids.at(-1)}`;
    }
    const last = entries.at(-1);
    return { entries, nextCursor: more && last ? `a${last.id}` : null };
  }

  // --- internals ---------------------------------------------------------------------------------------------

  /**
   * Read, change and compare-and-set one device, retrying from a fresh read when another writer came first.
   * `change` gets a private copy (or null) and returns the device to store; it may throw to refuse.
   */
  async #mutateDevice(
    user: UserId,
    deviceId: string,
    sighting: boolean,
    change: (device: Device | null) => Device,
  ): Promise<Device> {
    const key = this.#deviceKey(user, deviceId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const raw = await this.#client.get(key);
      const next = change(raw === null ? null : decode<Device>(raw));
      const json = encode(next);
      const written = await casScript.run(
        this.#client,
        [key, this.#userDevicesKey(user)],
        [raw ?? '', json, part(deviceId), this.#ttlMs, sighting ? '1' : '0'],
      );
      if (written === 1) return decode<Device>(json);
    }
    throw new Error(`device ${user}/${deviceId}: too much contention`);
  }

  #deviceKey(user: UserId, deviceId: string): string {
    return `${this.#prefix}device${userTag(user)}${part(deviceId)}`;
  }

  #userDevicesKey(user: UserId): string {
    return `${this.#prefix}devices${userTag(user)}`;
  }

  #indexKey(): string {
    return this.#adminKey('device-index');
  }

  #auditUserKey(user: UserId): string {
    return `${this.#adminKey('audit-user')}:${part(user)}`;
  }

  #adminKey(name: string): string {
    return `${this.#prefix}{admin}${name}`;
  }
}

/** Factory form of {@link RedisDeviceStore}. */
export function createRedisDeviceStore(options: RedisDeviceStoreOptions): RedisDeviceStore {
  return new RedisDeviceStore(options);
}

/** A member of the all-devices index: sorts by (user, deviceId) in UTF-16 code unit order. */
function indexMember(user: UserId, deviceId: string): string {
  return `${sortable(user)} ${sortable(deviceId)}`;
}

/** JSON with dates kept as `{"$date": <ms>}`, so they come back as `Date`s. */
function encode(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, encoded: unknown) {
    const raw = this[key];
    return raw instanceof Date ? { $date: raw.getTime() } : encoded;
  });
}

function decode<T>(json: string): T {
  return JSON.parse(json, (_key, value: unknown) => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length === 1 && keys[0] === '$date' && typeof record.$date === 'number')
        return new Date(record.$date);
    }
    return value;
  }) as T;
}

function checkExpectation(device: Device, expected: DeviceExpectation): void {
  const fail = (why: string): DeviceConflictError =>
    new DeviceConflictError(device.user, device.deviceId, why);
  if (expected.policyKey !== undefined && expected.policyKey !== device.policyKey) {
    throw fail(`policy key is ${device.policyKey}, not ${expected.policyKey}`);
  }
  if (
    expected.pendingPolicyKey !== undefined &&
    expected.pendingPolicyKey !== (device.pendingPolicyKey ?? null)
  ) {
    throw fail('pending policy key differs');
  }
  if (expected.policyState !== undefined && expected.policyState !== device.policyState) {
    throw fail(`policy state is ${device.policyState}`);
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function setDetail(device: Device, name: DeviceDetailName, value: string): void {
  (device as unknown as Record<DeviceDetailName, string>)[name] = value;
}

function requireId(value: unknown, what: string): void {
  if (typeof value !== 'string' || value === '')
    throw new InvalidArgumentError(`${what} must be a non-empty string`);
}

function requireDate(value: unknown, what: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidArgumentError(`${what} must be a valid Date`);
  }
  return value;
}

function requirePolicyKey(value: unknown, what: string): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > UINT32_MAX) {
    throw new InvalidArgumentError(`${what} must be an unsigned 32-bit integer`);
  }
}

function requirePolicyVersion(value: PolicyVersion, what: string): void {
  const idOk = value.policyId === null || (typeof value.policyId === 'string' && value.policyId !== '');
  if (!idOk || !Number.isSafeInteger(value.version) || value.version < 0) {
    throw new InvalidArgumentError(
      `${what} needs a policyId (string or null) and a non-negative integer version`,
    );
  }
}

function copyPolicyVersion(value: PolicyVersion): PolicyVersion {
  return { policyId: value.policyId, version: value.version };
}
