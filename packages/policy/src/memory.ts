import type { UserId } from '@easkit/mailbox';
import { type AccessRule, ruleProblems } from './access.js';
import {
  type AuditEntry,
  DEVICE_DETAIL_NAMES,
  type Device,
  type DeviceDetailName,
  defaultOrganizationSettings,
  emptyDeviceStats,
  type OrganizationSettings,
  type PolicyDocument,
  type PolicyVersion,
} from './device.js';
import {
  type ActivityRecord,
  type AuditEntryInput,
  type AuditPage,
  type AuditQuery,
  checkActivity,
  type DeviceExpectation,
  type DevicePage,
  type DevicePatch,
  type DeviceSighting,
  type DeviceStore,
  type PolicyAssignment,
  type PolicyInput,
} from './device-store.js';
import {
  DeviceConflictError,
  DeviceNotFoundError,
  InvalidArgumentError,
  InvalidPolicyError,
  InvalidRuleError,
  PolicyConflictError,
  PolicyInUseError,
  PolicyNotFoundError,
} from './errors.js';
import { type PolicyIssue, validatePolicy } from './validate.js';

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
const UINT32_MAX = 0xffff_ffff;

/**
 * A `DeviceStore` in memory: for tests, for the embedded quick start and as the model an adapter copies. Every
 * method does its work synchronously before its promise settles, so each is atomic within the process.
 */
export class MemoryDeviceStore implements DeviceStore {
  /** user → deviceId → device */
  readonly #devices = new Map<UserId, Map<string, Device>>();
  readonly #policies = new Map<string, PolicyDocument>();
  readonly #assignments = new Map<UserId, string>();
  #defaultPolicy: string | null = null;
  readonly #rules = new Map<string, AccessRule>();
  #organization: OrganizationSettings = defaultOrganizationSettings();
  readonly #userEas = new Map<UserId, boolean>();
  /** Oldest first; ids are 1, 2, 3, ... */
  readonly #audit: AuditEntry[] = [];
  readonly #now: () => Date;

  /** @param options.now the clock for timestamps the caller does not pass (tests inject a fixed one). */
  constructor(options: { now?: () => Date } = {}) {
    this.#now = options.now ?? (() => new Date());
  }

  async upsertDevice(sighting: DeviceSighting, seenAt?: Date): Promise<{ device: Device; created: boolean }> {
    requireId(sighting.user, 'user');
    requireId(sighting.deviceId, 'deviceId');
    requireId(sighting.deviceType, 'deviceType');
    const at = requireDate(seenAt ?? this.#now(), 'seenAt');
    const existing = this.#devices.get(sighting.user)?.get(sighting.deviceId);
    if (existing) {
      existing.deviceType = sighting.deviceType;
      for (const name of DEVICE_DETAIL_NAMES) {
        const value = sighting[name];
        if (value !== undefined) setDetail(existing, name, value);
      }
      if (at.getTime() > existing.lastSeen.getTime()) existing.lastSeen = new Date(at);
      return { device: structuredClone(existing), created: false };
    }
    const device: Device = {
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
      if (value !== undefined) setDetail(device, name, value);
    }
    let devices = this.#devices.get(sighting.user);
    if (!devices) {
      devices = new Map();
      this.#devices.set(sighting.user, devices);
    }
    devices.set(sighting.deviceId, device);
    return { device: structuredClone(device), created: true };
  }

  async getDevice(user: UserId, deviceId: string): Promise<Device | null> {
    const device = this.#devices.get(user)?.get(deviceId);
    return device ? structuredClone(device) : null;
  }

  async listDevices(user: UserId): Promise<Device[]> {
    const devices = [...(this.#devices.get(user)?.values() ?? [])];
    return devices.sort((a, b) => compare(a.deviceId, b.deviceId)).map((device) => structuredClone(device));
  }

  async listAllDevices(options: { limit?: number; cursor?: string | null } = {}): Promise<DevicePage> {
    const limit = options.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    const after = options.cursor ? decodeCursor(options.cursor) : null;
    const users = [...this.#devices.keys()].sort(compare);
    const page: Device[] = [];
    let more = false;
    for (const user of users) {
      if (after && compare(user, after[0]) < 0) continue;
      const ids = [...(this.#devices.get(user)?.keys() ?? [])].sort(compare);
      for (const deviceId of ids) {
        if (after && user === after[0] && compare(deviceId, after[1]) <= 0) continue;
        if (page.length === limit) {
          more = true;
          break;
        }
        page.push(structuredClone(this.#devices.get(user)!.get(deviceId)!));
      }
      if (more) break;
    }
    const last = page.at(-1);
    return { devices: page, nextCursor: more && last ? encodeCursor(last.user, last.deviceId) : null };
  }

  async updateDevice(
    user: UserId,
    deviceId: string,
    patch: DevicePatch,
    expected?: DeviceExpectation,
  ): Promise<Device> {
    const device = this.#devices.get(user)?.get(deviceId);
    if (!device) throw new DeviceNotFoundError(user, deviceId);
    if (expected) {
      if (expected.policyKey !== undefined && expected.policyKey !== device.policyKey) {
        throw new DeviceConflictError(
          user,
          deviceId,
          `policy key is ${device.policyKey}, not ${expected.policyKey}`,
        );
      }
      if (
        expected.pendingPolicyKey !== undefined &&
        expected.pendingPolicyKey !== (device.pendingPolicyKey ?? null)
      ) {
        throw new DeviceConflictError(user, deviceId, 'pending policy key differs');
      }
      if (expected.policyState !== undefined && expected.policyState !== device.policyState) {
        throw new DeviceConflictError(user, deviceId, `policy state is ${device.policyState}`);
      }
    }
    // Validate everything before writing anything, so a bad patch leaves the device untouched.
    if (patch.policyKey !== undefined) requirePolicyKey(patch.policyKey, 'policyKey');
    if (patch.pendingPolicyKey !== undefined && patch.pendingPolicyKey !== null) {
      requirePolicyKey(patch.pendingPolicyKey, 'pendingPolicyKey');
    }
    if (patch.deviceType !== undefined) requireId(patch.deviceType, 'deviceType');
    if (patch.policyVersion) requirePolicyVersion(patch.policyVersion, 'policyVersion');
    if (patch.pendingPolicyVersion) requirePolicyVersion(patch.pendingPolicyVersion, 'pendingPolicyVersion');
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
    else if (patch.policyVersion !== undefined) device.policyVersion = copyPolicyVersion(patch.policyVersion);
    if (patch.pendingPolicyVersion === null) delete device.pendingPolicyVersion;
    else if (patch.pendingPolicyVersion !== undefined)
      device.pendingPolicyVersion = copyPolicyVersion(patch.pendingPolicyVersion);
    if (patch.access !== undefined) device.access = structuredClone(patch.access);
    if (patch.wipe !== undefined) device.wipe = structuredClone(patch.wipe);
    return structuredClone(device);
  }

  async deleteDevice(user: UserId, deviceId: string): Promise<boolean> {
    const devices = this.#devices.get(user);
    const existed = devices?.delete(deviceId) ?? false;
    if (devices && devices.size === 0) this.#devices.delete(user);
    return existed;
  }

  async recordSync(user: UserId, deviceId: string, activity: ActivityRecord): Promise<Device> {
    const device = this.#devices.get(user)?.get(deviceId);
    if (!device) throw new DeviceNotFoundError(user, deviceId);
    const counts = checkActivity(activity);
    const at = counts.at;
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
    return structuredClone(device);
  }

  async getPolicy(policyId: string): Promise<PolicyDocument | null> {
    const policy = this.#policies.get(policyId);
    return policy ? structuredClone(policy) : null;
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
    const current = this.#policies.get(input.id);
    const currentVersion = current?.version ?? 0;
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
    this.#policies.set(input.id, stored);
    return structuredClone(stored);
  }

  async listPolicies(): Promise<PolicyDocument[]> {
    return [...this.#policies.values()]
      .sort((a, b) => compare(a.id, b.id))
      .map((policy) => structuredClone(policy));
  }

  async deletePolicy(policyId: string): Promise<void> {
    if (!this.#policies.has(policyId)) throw new PolicyNotFoundError(policyId);
    if (this.#defaultPolicy === policyId || [...this.#assignments.values()].includes(policyId)) {
      throw new PolicyInUseError(policyId);
    }
    this.#policies.delete(policyId);
  }

  async assignPolicy(user: UserId, policyId: string | null): Promise<void> {
    requireId(user, 'user');
    if (policyId === null) {
      this.#assignments.delete(user);
      return;
    }
    if (!this.#policies.has(policyId)) throw new PolicyNotFoundError(policyId);
    this.#assignments.set(user, policyId);
  }

  async setDefaultPolicy(policyId: string | null): Promise<void> {
    if (policyId !== null && !this.#policies.has(policyId)) throw new PolicyNotFoundError(policyId);
    this.#defaultPolicy = policyId;
  }

  async getPolicyAssignment(user: UserId): Promise<PolicyAssignment> {
    return { assigned: this.#assignments.get(user) ?? null, default: this.#defaultPolicy };
  }

  async resolvePolicy(user: UserId): Promise<PolicyDocument | null> {
    const policyId = this.#assignments.get(user) ?? this.#defaultPolicy;
    return policyId === null ? null : this.getPolicy(policyId);
  }

  async putRule(rule: AccessRule): Promise<AccessRule> {
    const problems = ruleProblems(rule);
    if (problems.length > 0) throw new InvalidRuleError(problems.join('; '));
    const stored = structuredClone(rule);
    this.#rules.set(rule.id, stored);
    return structuredClone(stored);
  }

  async listRules(): Promise<AccessRule[]> {
    return [...this.#rules.values()]
      .sort((a, b) => b.priority - a.priority || compare(a.id, b.id))
      .map((rule) => structuredClone(rule));
  }

  async deleteRule(ruleId: string): Promise<boolean> {
    return this.#rules.delete(ruleId);
  }

  async getOrganizationSettings(): Promise<OrganizationSettings> {
    return { ...this.#organization };
  }

  async updateOrganizationSettings(patch: Partial<OrganizationSettings>): Promise<OrganizationSettings> {
    if (patch.easEnabled !== undefined && typeof patch.easEnabled !== 'boolean') {
      throw new InvalidArgumentError('easEnabled must be a boolean');
    }
    if (patch.defaultAccess !== undefined && !ACCESS_STATES.includes(patch.defaultAccess)) {
      throw new InvalidArgumentError('defaultAccess must be allowed, blocked or quarantined');
    }
    this.#organization = {
      easEnabled: patch.easEnabled ?? this.#organization.easEnabled,
      defaultAccess: patch.defaultAccess ?? this.#organization.defaultAccess,
    };
    return { ...this.#organization };
  }

  async getUserEasEnabled(user: UserId): Promise<boolean | null> {
    return this.#userEas.get(user) ?? null;
  }

  async setUserEasEnabled(user: UserId, enabled: boolean | null): Promise<void> {
    requireId(user, 'user');
    if (enabled === null) this.#userEas.delete(user);
    else if (typeof enabled === 'boolean') this.#userEas.set(user, enabled);
    else throw new InvalidArgumentError('enabled must be a boolean or null');
  }

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
    const entry: AuditEntry = {
      id: this.#audit.length + 1,
      at: new Date(requireDate(input.at ?? this.#now(), 'at')),
      actor: input.actor,
      action: input.action,
      target,
      details: { ...details },
    };
    this.#audit.push(entry);
    return structuredClone(entry);
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = query.limit ?? DEFAULT_PAGE;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE}`);
    }
    let before = Number.POSITIVE_INFINITY;
    if (query.cursor) {
      const match = /^a(\d{1,15})$/.exec(query.cursor);
      if (!match) throw new InvalidArgumentError('cursor was not made by this store');
      before = Number(match[1]);
    }
    const entries: AuditEntry[] = [];
    let more = false;
    for (let index = this.#audit.length - 1; index >= 0; index--) {
      const entry = this.#audit[index]!;
      if (entry.id >= before) continue;
      if (query.user !== undefined && entry.target.user !== query.user) continue;
      if (query.deviceId !== undefined && entry.target.deviceId !== query.deviceId) continue;
      if (entries.length === limit) {
        more = true;
        break;
      }
      entries.push(structuredClone(entry));
    }
    const last = entries.at(-1);
    return { entries, nextCursor: more && last ? `a${last.id}` : null };
  }
}

const ACCESS_STATES: readonly string[] = ['allowed', 'blocked', 'quarantined'];

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

function encodeCursor(user: UserId, deviceId: string): string {
  return Buffer.from(JSON.stringify([user, deviceId]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): [UserId, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) {
      return parsed as [UserId, string];
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError('cursor was not made by this store');
}
