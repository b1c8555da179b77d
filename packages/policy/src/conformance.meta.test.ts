import { strict as assert } from 'node:assert';
import type { UserId } from '@easkit/mailbox';
import { describe, it } from 'vitest';
import type { AccessRule } from './access.js';
import { type ConformanceCheck, deviceStoreChecks } from './conformance.js';
import type { AuditEntry, Device, OrganizationSettings } from './device.js';
import {
  type ActivityRecord,
  type AuditEntryInput,
  type AuditQuery,
  checkActivity,
  type DeviceActivity,
  type DeviceExpectation,
  type DevicePage,
  type DevicePatch,
  type DeviceSighting,
  type PolicyInput,
  recordActivities,
} from './device-store.js';
import { DeviceConflictError, PolicyConflictError } from './errors.js';
import { MemoryDeviceStore } from './memory.js';
import { defaultPolicySettings } from './settings.js';
import { validatePolicy } from './validate.js';

// The suite must not pass vacuously: each check is run against a MemoryDeviceStore with one deliberate bug and
// must fail with an assertion.

function check(name: string): ConformanceCheck {
  const found = deviceStoreChecks.find((each) => each.name.startsWith(name));
  assert.ok(found, `no check named "${name}"`);
  return found;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const key = (user: UserId, deviceId: string) => JSON.stringify([user, deviceId]);
const SHARED = '(everyone)';

async function allDevices(store: MemoryDeviceStore): Promise<Device[]> {
  const all: Device[] = [];
  let cursor: string | null = null;
  do {
    const page: DevicePage = await MemoryDeviceStore.prototype.listAllDevices.call(store, {
      limit: 1000,
      cursor,
    });
    all.push(...page.devices);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return all;
}

const cases: Array<[check: string, bug: string, create: () => MemoryDeviceStore]> = [
  [
    'upsertDevice creates a device',
    'ignores initialAccess',
    () =>
      new (class extends MemoryDeviceStore {
        override upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
          const { initialAccess: _ignored, ...rest } = sighting;
          return super.upsertDevice(rest, seenAt);
        }
      })(),
  ],
  [
    'upsertDevice on a known device',
    'applies initialAccess on every sighting',
    () =>
      new (class extends MemoryDeviceStore {
        override async upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
          const result = await super.upsertDevice(sighting, seenAt);
          if (result.created || !sighting.initialAccess) return result;
          const device = await this.updateDevice(sighting.user, sighting.deviceId, {
            access: sighting.initialAccess,
          });
          return { device, created: false };
        }
      })(),
  ],
  [
    'concurrent first sightings',
    'looks the device up, then creates it after an await',
    () =>
      new (class extends MemoryDeviceStore {
        override async upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
          const existed = (await this.getDevice(sighting.user, sighting.deviceId)) !== null;
          await tick();
          const result = await super.upsertDevice(sighting, seenAt);
          return { ...result, created: !existed };
        }
      })(),
  ],
  [
    'firstSeen never changes',
    'lastSeen follows the latest sighting to arrive',
    () => new LatestSightingStore(),
  ],
  [
    'devices are identified by (user, deviceId)',
    'keys devices by deviceId alone',
    () =>
      new (class extends MemoryDeviceStore {
        override async upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
          const result = await super.upsertDevice({ ...sighting, user: SHARED }, seenAt);
          return { ...result, device: { ...result.device, user: sighting.user } };
        }
        override async getDevice(user: UserId, deviceId: string) {
          const device = await super.getDevice(SHARED, deviceId);
          return device && { ...device, user };
        }
        override updateDevice(
          _user: UserId,
          deviceId: string,
          patch: DevicePatch,
          expected?: DeviceExpectation,
        ) {
          return super.updateDevice(SHARED, deviceId, patch, expected);
        }
        override recordSync(_user: UserId, deviceId: string, activity: ActivityRecord) {
          return super.recordSync(SHARED, deviceId, activity);
        }
        override deleteDevice(_user: UserId, deviceId: string) {
          return super.deleteDevice(SHARED, deviceId);
        }
      })(),
  ],
  [
    'getDevice returns null',
    'matches device ids case-insensitively',
    () =>
      new (class extends MemoryDeviceStore {
        override async getDevice(user: UserId, deviceId: string) {
          const devices = await this.listDevices(user);
          return devices.find((device) => device.deviceId.toLowerCase() === deviceId.toLowerCase()) ?? null;
        }
      })(),
  ],
  [
    'returned values are copies',
    'hands out one cached object per device',
    () =>
      new (class extends MemoryDeviceStore {
        readonly cache = new Map<string, Device>();
        override async getDevice(user: UserId, deviceId: string) {
          const cached = this.cache.get(key(user, deviceId));
          if (cached) return cached;
          const device = await super.getDevice(user, deviceId);
          if (device) this.cache.set(key(user, deviceId), device);
          return device;
        }
      })(),
  ],
  [
    'listDevices returns exactly one user',
    'sorts device ids case-insensitively',
    () =>
      new (class extends MemoryDeviceStore {
        override async listDevices(user: UserId) {
          return (await super.listDevices(user)).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
        }
      })(),
  ],
  [
    'listAllDevices pages through every device exactly once',
    'never returns a next cursor',
    () =>
      new (class extends MemoryDeviceStore {
        override async listAllDevices(options?: { limit?: number; cursor?: string | null }) {
          return { ...(await super.listAllDevices(options)), nextCursor: null };
        }
      })(),
  ],
  [
    'listAllDevices returns each device that exists for the whole walk',
    'uses offsets as cursors',
    () =>
      new (class extends MemoryDeviceStore {
        override async listAllDevices(options: { limit?: number; cursor?: string | null } = {}) {
          const all = await allDevices(this);
          const limit = options.limit ?? 100;
          const offset = options.cursor ? Number(options.cursor) : 0;
          const end = offset + limit;
          return { devices: all.slice(offset, end), nextCursor: end < all.length ? String(end) : null };
        }
      })(),
  ],
  [
    'listAllDevices rejects a bad limit',
    'clamps the limit instead of refusing it',
    () =>
      new (class extends MemoryDeviceStore {
        override listAllDevices(options: { limit?: number; cursor?: string | null } = {}) {
          const limit = Math.min(1000, Math.max(1, Math.round(options.limit || 100)));
          return super.listAllDevices({ ...options, limit });
        }
      })(),
  ],
  [
    'updateDevice applies a partial patch',
    'ignores null in a patch',
    () =>
      new (class extends MemoryDeviceStore {
        override updateDevice(
          user: UserId,
          deviceId: string,
          patch: DevicePatch,
          expected?: DeviceExpectation,
        ) {
          const kept = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== null));
          return super.updateDevice(user, deviceId, kept, expected);
        }
      })(),
  ],
  [
    'updateDevice on an unknown device',
    'creates the device',
    () =>
      new (class extends MemoryDeviceStore {
        override async updateDevice(
          user: UserId,
          deviceId: string,
          patch: DevicePatch,
          expected?: DeviceExpectation,
        ) {
          if (!(await this.getDevice(user, deviceId)))
            await this.upsertDevice({ user, deviceId, deviceType: 'unknown' });
          return super.updateDevice(user, deviceId, patch, expected);
        }
      })(),
  ],
  [
    'updateDevice with expected is a compare-and-set',
    'ignores expected',
    () =>
      new (class extends MemoryDeviceStore {
        override updateDevice(user: UserId, deviceId: string, patch: DevicePatch) {
          return super.updateDevice(user, deviceId, patch);
        }
      })(),
  ],
  [
    'of concurrent updates expecting the same policy key',
    'checks expected, then writes after an await',
    () =>
      new (class extends MemoryDeviceStore {
        override async updateDevice(
          user: UserId,
          deviceId: string,
          patch: DevicePatch,
          expected?: DeviceExpectation,
        ) {
          const current = await this.getDevice(user, deviceId);
          if (current && expected?.policyKey !== undefined && current.policyKey !== expected.policyKey) {
            throw new DeviceConflictError(user, deviceId, 'policy key differs');
          }
          await tick();
          return super.updateDevice(user, deviceId, patch);
        }
      })(),
  ],
  [
    'updateDevice rejects a policy key',
    'wraps policy keys into 32 bits',
    () =>
      new (class extends MemoryDeviceStore {
        override updateDevice(
          user: UserId,
          deviceId: string,
          patch: DevicePatch,
          expected?: DeviceExpectation,
        ) {
          const wrapped = { ...patch };
          if (wrapped.policyKey !== undefined) wrapped.policyKey = wrapped.policyKey >>> 0;
          if (typeof wrapped.pendingPolicyKey === 'number')
            wrapped.pendingPolicyKey = wrapped.pendingPolicyKey >>> 0;
          return super.updateDevice(user, deviceId, wrapped, expected);
        }
      })(),
  ],
  [
    'deleteDevice removes only that device',
    'always reports that the device existed',
    () =>
      new (class extends MemoryDeviceStore {
        override async deleteDevice(user: UserId, deviceId: string) {
          await super.deleteDevice(user, deviceId);
          return true;
        }
      })(),
  ],
  [
    'recordSync adds to the counters',
    'counts a Ping as a Sync',
    () =>
      new (class extends MemoryDeviceStore {
        override recordSync(user: UserId, deviceId: string, activity: ActivityRecord) {
          return super.recordSync(
            user,
            deviceId,
            activity.command === 'Ping' ? { ...activity, command: 'Sync' } : activity,
          );
        }
      })(),
  ],
  [
    'concurrent recordSync calls lose no increment',
    'drops a record while another is in flight',
    () => new LossyStatsStore(),
  ],
  [
    'recordSync refuses unknown devices and bad counts',
    'clamps bad counts instead of refusing them',
    () =>
      new (class extends MemoryDeviceStore {
        override recordSync(user: UserId, deviceId: string, activity: ActivityRecord) {
          const clamp = (value?: number) => Math.max(0, Math.round(value ?? 0));
          return super.recordSync(user, deviceId, {
            ...activity,
            itemsSent: clamp(activity.itemsSent),
            itemsReceived: clamp(activity.itemsReceived),
            bytesIn: clamp(activity.bytesIn),
            bytesOut: clamp(activity.bytesOut),
          });
        }
      })(),
  ],
  [
    'upsertDevice refuses an empty',
    'fills in an empty device type',
    () =>
      new (class extends MemoryDeviceStore {
        override upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
          return super.upsertDevice({ ...sighting, deviceType: sighting.deviceType || 'Unknown' }, seenAt);
        }
      })(),
  ],
  [
    'putPolicy creates version 1',
    'reports version 1 forever',
    () =>
      new (class extends MemoryDeviceStore {
        override async getPolicy(policyId: string) {
          const policy = await super.getPolicy(policyId);
          return policy && { ...policy, version: 1 };
        }
        override async putPolicy(input: PolicyInput) {
          return { ...(await super.putPolicy(input)), version: 1 };
        }
      })(),
  ],
  [
    'putPolicy with expectedVersion is a compare-and-set',
    'ignores expectedVersion',
    () =>
      new (class extends MemoryDeviceStore {
        override putPolicy({ expectedVersion: _ignored, ...input }: PolicyInput) {
          return super.putPolicy(input);
        }
      })(),
  ],
  [
    'of concurrent putPolicy calls',
    'checks the version, then writes after an await',
    () =>
      new (class extends MemoryDeviceStore {
        override async putPolicy({ expectedVersion, ...input }: PolicyInput) {
          const version = (await this.getPolicy(input.id))?.version ?? 0;
          if (expectedVersion !== undefined && expectedVersion !== version) {
            throw new PolicyConflictError(input.id, expectedVersion, version);
          }
          await tick();
          return super.putPolicy(input);
        }
      })(),
  ],
  [
    'putPolicy refuses invalid settings',
    'replaces invalid settings with the defaults',
    () =>
      new (class extends MemoryDeviceStore {
        override putPolicy(input: PolicyInput) {
          const settings =
            validatePolicy(input.settings).length > 0 ? defaultPolicySettings() : input.settings;
          return super.putPolicy({ ...input, id: input.id || 'unnamed', settings });
        }
      })(),
  ],
  [
    'listPolicies returns every policy sorted by id',
    'sorts ids case-insensitively',
    () =>
      new (class extends MemoryDeviceStore {
        override async listPolicies() {
          return (await super.listPolicies()).sort((a, b) => a.id.localeCompare(b.id));
        }
      })(),
  ],
  [
    'a user’s own policy beats the default',
    'prefers the default over the user’s own policy',
    () =>
      new (class extends MemoryDeviceStore {
        override async resolvePolicy(user: UserId) {
          const assignment = await this.getPolicyAssignment(user);
          const id = assignment.default ?? assignment.assigned;
          return id === null ? null : this.getPolicy(id);
        }
      })(),
  ],
  [
    'deletePolicy refuses an assigned or default policy',
    'silently keeps a policy that is in use',
    () =>
      new (class extends MemoryDeviceStore {
        override async deletePolicy(policyId: string) {
          await super.deletePolicy(policyId).catch((error: { code?: string }) => {
            if (error.code !== 'policy-in-use') throw error;
          });
        }
      })(),
  ],
  [
    'putRule stores and replaces rules by id',
    'lists the lowest priority first',
    () =>
      new (class extends MemoryDeviceStore {
        override async listRules() {
          return (await super.listRules()).reverse();
        }
      })(),
  ],
  [
    'rules keep every match field',
    'drops the description',
    () =>
      new (class extends MemoryDeviceStore {
        override putRule({ description: _dropped, ...rule }: AccessRule) {
          return super.putRule(rule);
        }
      })(),
  ],
  [
    'putRule refuses malformed rules',
    'rounds a fractional priority',
    () =>
      new (class extends MemoryDeviceStore {
        override putRule(rule: AccessRule) {
          return super.putRule({ ...rule, priority: Math.round(rule.priority) });
        }
      })(),
  ],
  [
    'policyVersion and pendingPolicyVersion',
    'forgets the policy version on every sighting',
    () =>
      new (class extends MemoryDeviceStore {
        override async upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
          const result = await super.upsertDevice(sighting, seenAt);
          if (result.created) return result;
          const device = await this.updateDevice(sighting.user, sighting.deviceId, { policyVersion: null });
          return { device, created: false };
        }
      })(),
  ],
  [
    'access notes and wipe delivery times',
    'drops the wipe delivery time',
    () =>
      new (class extends MemoryDeviceStore {
        override updateDevice(
          user: UserId,
          deviceId: string,
          patch: DevicePatch,
          expected?: DeviceExpectation,
        ) {
          if (!patch.wipe) return super.updateDevice(user, deviceId, patch, expected);
          const { deliveredAt: _dropped, ...wipe } = patch.wipe;
          return super.updateDevice(user, deviceId, { ...patch, wipe }, expected);
        }
      })(),
  ],
  [
    'allowNonProvisionableDevices defaults',
    'keeps the flag of the first version forever',
    () =>
      new (class extends MemoryDeviceStore {
        override async putPolicy(input: PolicyInput) {
          const existing = await this.getPolicy(input.id);
          return super.putPolicy(
            existing
              ? { ...input, allowNonProvisionableDevices: existing.allowNonProvisionableDevices }
              : input,
          );
        }
      })(),
  ],
  [
    'organisation settings start enabled',
    'replaces the whole settings with the patch',
    () =>
      new (class extends MemoryDeviceStore {
        override updateOrganizationSettings(patch: Partial<OrganizationSettings>) {
          return super.updateOrganizationSettings({ easEnabled: true, defaultAccess: 'allowed', ...patch });
        }
      })(),
  ],
  [
    'each user has their own EAS switch',
    'treats clearing a switch as switching it on',
    () =>
      new (class extends MemoryDeviceStore {
        override setUserEasEnabled(user: UserId, enabled: boolean | null) {
          return super.setUserEasEnabled(user, enabled ?? true);
        }
      })(),
  ],
  [
    'appendAudit keeps who, what, when and target',
    'lists the oldest entries first',
    () =>
      new (class extends MemoryDeviceStore {
        override async listAudit(query?: AuditQuery) {
          const page = await super.listAudit(query);
          return { ...page, entries: page.entries.reverse() };
        }
      })(),
  ],
  [
    'concurrent appendAudit calls',
    'numbers entries by reading the log, then writing after an await',
    () => new RacyAuditStore(),
  ],
  [
    'checkInDevice records the sighting like upsertDevice',
    "answers check-ins with the default policy, not the user's own",
    () =>
      new (class extends CheckingInStore {
        override async policyFor(user: UserId) {
          const { default: fallback } = await this.getPolicyAssignment(user);
          return fallback === null ? null : this.getPolicy(fallback);
        }
      })(),
  ],
  [
    'concurrent check-ins of a new device',
    'reports created from a read made before the write',
    () =>
      new (class extends CheckingInStore {
        override async checkIn(sighting: Omit<DeviceSighting, 'initialAccess'>, seenAt?: Date) {
          const before = await this.getDevice(sighting.user, sighting.deviceId);
          await new Promise((resolve) => setTimeout(resolve, 1));
          return { ...(await super.checkIn(sighting, seenAt)), created: before === null };
        }
      })(),
  ],
  [
    'recordActivities equals recordSync one after the other',
    'keeps only the last record of each device in a batch',
    () =>
      new (class extends MemoryDeviceStore {
        async recordSyncs(records: readonly DeviceActivity[]) {
          const last = new Map(records.map((record) => [`${record.user}/${record.deviceId}`, record]));
          return recordActivities(new NoBatchStore(this), [...last.values()]);
        }
      })(),
  ],
  [
    'recordActivities with a malformed record',
    'writes the records before the malformed one',
    () =>
      new (class extends MemoryDeviceStore {
        async recordSyncs(records: readonly DeviceActivity[]) {
          let applied = 0;
          for (const record of records) {
            await this.recordSync(record.user, record.deviceId, record.activity);
            applied++;
          }
          return applied;
        }
      })(),
  ],
  [
    'concurrent recordActivities batches',
    'drops a batch that arrives while another is being written',
    () =>
      new (class extends MemoryDeviceStore {
        #busy = false;
        async recordSyncs(records: readonly DeviceActivity[]) {
          for (const record of records) checkActivity(record.activity);
          if (this.#busy) return 0;
          this.#busy = true;
          await new Promise((resolve) => setTimeout(resolve, 1));
          try {
            return await recordActivities(new NoBatchStore(this), records);
          } finally {
            this.#busy = false;
          }
        }
      })(),
  ],
  ['pages through 2,000 devices', 'stops a walk after 1,000 devices', () => new TruncatingListStore()],
];

describe('the DeviceStore conformance checks fail against broken stores', () => {
  for (const [name, bug, create] of cases) {
    it(`"${name}" fails when the store ${bug}`, async () => {
      await assert.rejects(check(name).run({ store: create() }), assert.AssertionError);
    });
  }

  it('has a broken store for every check', () => {
    const covered = new Set(cases.map(([name]) => check(name).name));
    assert.deepEqual(
      deviceStoreChecks.map((each) => each.name).filter((name) => !covered.has(name)),
      [],
    );
  });
});

/** The separate recordSync calls of another store, for broken batch stores to build on. */
class NoBatchStore extends MemoryDeviceStore {
  constructor(readonly inner: MemoryDeviceStore) {
    super();
  }
  override recordSync(user: UserId, deviceId: string, activity: ActivityRecord) {
    return this.inner.recordSync(user, deviceId, activity);
  }
}

/** A store with its own checkIn, made of the separate calls; the broken ones change one part of it. */
class CheckingInStore extends MemoryDeviceStore {
  policyFor(user: UserId) {
    return this.resolvePolicy(user);
  }
  async checkIn(sighting: Omit<DeviceSighting, 'initialAccess'>, seenAt?: Date) {
    const organization = await this.getOrganizationSettings();
    const { device, created } = await this.upsertDevice(
      { ...sighting, initialAccess: { state: organization.defaultAccess, reason: 'global-default' } },
      seenAt,
    );
    return {
      device,
      created,
      organization,
      userEasEnabled: await this.getUserEasEnabled(sighting.user),
      rules: await this.listRules(),
      policy: await this.policyFor(sighting.user),
    };
  }
}

/** Reports the latest sighting to arrive as lastSeen, even when it is older than one already seen. */
class LatestSightingStore extends MemoryDeviceStore {
  readonly #seen = new Map<string, Date>();
  override async upsertDevice(sighting: DeviceSighting, seenAt?: Date) {
    const result = await super.upsertDevice(sighting, seenAt);
    if (seenAt) this.#seen.set(key(sighting.user, sighting.deviceId), seenAt);
    result.device.lastSeen = new Date(seenAt ?? result.device.lastSeen);
    return result;
  }
  override async getDevice(user: UserId, deviceId: string) {
    const device = await super.getDevice(user, deviceId);
    const seen = this.#seen.get(key(user, deviceId));
    if (device && seen) device.lastSeen = new Date(seen);
    return device;
  }
}

/** A read-modify-write without a lock: a record that arrives while another is being written is lost. */
class LossyStatsStore extends MemoryDeviceStore {
  #busy = false;
  override async recordSync(user: UserId, deviceId: string, activity: ActivityRecord) {
    if (this.#busy) return (await this.getDevice(user, deviceId))!;
    this.#busy = true;
    try {
      await tick();
      return await super.recordSync(user, deviceId, activity);
    } finally {
      this.#busy = false;
    }
  }
}

/** Ends every listing after 1,000 devices. */
class TruncatingListStore extends MemoryDeviceStore {
  #listed = 0;
  override async listAllDevices(options: { limit?: number; cursor?: string | null } = {}) {
    if (!options.cursor) this.#listed = 0;
    const page = await super.listAllDevices(options);
    this.#listed += page.devices.length;
    return this.#listed >= 1000 ? { ...page, nextCursor: null } : page;
  }
}

/** Gives each entry the id after the newest one it read, with an await in between: concurrent appends collide. */
class RacyAuditStore extends MemoryDeviceStore {
  readonly #entries: AuditEntry[] = [];
  override async appendAudit(input: AuditEntryInput) {
    if (!input.actor || !input.action) return super.appendAudit(input);
    const last = this.#entries.at(-1)?.id ?? 0;
    await tick();
    const entry: AuditEntry = {
      id: last + 1,
      at: input.at ?? new Date(),
      actor: input.actor,
      action: input.action,
      target: { ...input.target },
      details: { ...input.details },
    };
    this.#entries.push(entry);
    return entry;
  }
  override async listAudit(query: AuditQuery = {}) {
    await super.listAudit(query);
    const unique = new Map(this.#entries.map((entry) => [entry.id, entry]));
    return { entries: [...unique.values()].reverse().slice(0, query.limit ?? 100), nextCursor: null };
  }
}
