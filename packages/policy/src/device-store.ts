import type { UserId } from '@easkit/mailbox';
import type { AccessRule } from './access.js';
import type {
  AuditDetail,
  AuditEntry,
  AuditTarget,
  Device,
  DeviceAccess,
  DeviceDetailName,
  DeviceInformation,
  DeviceWipe,
  OrganizationSettings,
  PolicyDocument,
  PolicyState,
  PolicyVersion,
} from './device.js';
import { InvalidArgumentError } from './errors.js';
import type { PolicySettings } from './settings.js';

/** What a request tells the store about a device it has just seen. */
export interface DeviceSighting extends DeviceInformation {
  user: UserId;
  deviceId: string;
  /** The access a device gets when this call creates it; `{ state: 'allowed', reason: 'global-default' }` if absent. */
  initialAccess?: DeviceAccess;
}

/**
 * A partial update of a device. Absent fields stay as they are; `null` clears an optional field. `access` and
 * `wipe` are replaced as a whole. Identity, first/last seen and statistics are not patchable (use
 * `upsertDevice` and `recordSync`).
 */
export type DevicePatch = { [Name in DeviceDetailName]?: DeviceInformation[Name] | null } & {
  deviceType?: string;
  policyKey?: number;
  policyState?: PolicyState;
  pendingPolicyKey?: number | null;
  policyVersion?: PolicyVersion | null;
  pendingPolicyVersion?: PolicyVersion | null;
  access?: DeviceAccess;
  wipe?: DeviceWipe;
};

/** Preconditions of `updateDevice`; each given one must equal the stored value or the update fails. */
export interface DeviceExpectation {
  policyKey?: number;
  /** `null` expects no pending key. */
  pendingPolicyKey?: number | null;
  policyState?: PolicyState;
}

/** One recorded request, for the per-device statistics. All counts are non-negative integers (default 0). */
export interface ActivityRecord {
  /** The EAS command (`Sync`, `Ping`, `FolderSync`, ...). `Sync` bumps `syncCount` and `lastSyncAt`, `Ping` bumps `pingCount`. */
  command: string;
  at: Date;
  itemsSent?: number;
  itemsReceived?: number;
  bytesIn?: number;
  bytesOut?: number;
}

export interface DevicePage {
  devices: Device[];
  /** Pass back as `cursor` for the next page; `null` on the last page. */
  nextCursor: string | null;
}

export interface PolicyInput {
  id: string;
  name: string;
  settings: PolicySettings;
  /** See `PolicyDocument.allowNonProvisionableDevices`; default false. */
  allowNonProvisionableDevices?: boolean;
  /** When given, the write only happens if the stored version is this one (0 = the policy must not exist yet). */
  expectedVersion?: number;
}

/** What `appendAudit` records; the store adds the id (and the time, if absent). */
export interface AuditEntryInput {
  actor: string;
  action: string;
  target: AuditTarget;
  /** Default: the store's clock. */
  at?: Date;
  details?: Record<string, AuditDetail>;
}

export interface AuditQuery {
  /** Page size, 1-1000 (default 100). */
  limit?: number;
  /** From a previous page's `nextCursor`. */
  cursor?: string | null;
  /** Only entries whose target has this user. */
  user?: UserId;
  /** Only entries whose target has this deviceId (usually with `user`). */
  deviceId?: string;
}

export interface AuditPage {
  /** Newest first (by id). */
  entries: AuditEntry[];
  nextCursor: string | null;
}

/**
 * Devices, policy documents, policy assignments and access rules: what the policy gate and the Provision flow
 * read and write on every request.
 *
 * Guarantees every implementation makes (checked by `runDeviceStoreConformance` from
 * `@easkit/policy/conformance`):
 * - **Isolation.** A device is identified by (user, deviceId), both exact strings; two users may use the same
 *   deviceId without seeing each other's device.
 * - **Atomicity.** Every method is atomic. `updateDevice` with `expected` is a compare-and-set: of two concurrent
 *   updates expecting the same state, exactly one succeeds and the other throws `DeviceConflictError`.
 *   `recordSync` increments never get lost under concurrency. `putPolicy` with `expectedVersion` likewise.
 * - **Time.** `firstSeen` is set once; `lastSeen` only moves forward, even when sightings arrive out of order.
 * - **Creation.** Concurrent first sightings of one device create it once: exactly one call reports `created`.
 * - **Copies.** Values returned are the caller's to keep: changing them never changes the store, and later
 *   writes never change an object returned earlier.
 * - **Order.** `listDevices` sorts by deviceId, `listAllDevices` by (user, deviceId), `listPolicies` by id,
 *   `listRules` by priority (highest first) then id; strings compare by UTF-16 code units.
 * - **Pagination.** Paging through `listAllDevices` returns every device that exists for the whole walk exactly
 *   once, whatever is added or deleted meanwhile.
 * - **Audit.** `appendAudit` gives every entry a larger id than any entry before it (also under concurrency, no
 *   two equal); entries are never changed or deleted, not even with the device they name.
 *
 * The reference implementation to copy is `MemoryDeviceStore`.
 */
export interface DeviceStore {
  /**
   * Records that a device made a request at `seenAt` (default: now). Creates the device if it is new (policy key
   * 0, policy state `none`, no wipe, zero statistics, `initialAccess`); otherwise updates `deviceType` and every
   * detail the sighting carries (absent ones stay) and moves `lastSeen` forward (a store may leave `lastSeen`
   * up to 30 s behind when the sighting changes nothing else, to spare a write per request). Nothing else
   * changes.
   * @throws {InvalidArgumentError} for an empty user, deviceId or deviceType.
   */
  upsertDevice(sighting: DeviceSighting, seenAt?: Date): Promise<{ device: Device; created: boolean }>;

  /** The device, or `null` if it does not exist. */
  getDevice(user: UserId, deviceId: string): Promise<Device | null>;

  /** The user's devices, sorted by deviceId. */
  listDevices(user: UserId): Promise<Device[]>;

  /**
   * All devices of all users, a page at a time, sorted by (user, deviceId).
   * @param options.limit page size, 1-1000 (default 100).
   * @throws {InvalidArgumentError} for a bad limit or a cursor this store did not make.
   */
  listAllDevices(options?: { limit?: number; cursor?: string | null }): Promise<DevicePage>;

  /**
   * Applies `patch` atomically and returns the device as stored afterwards.
   * @throws {DeviceNotFoundError} if the device does not exist.
   * @throws {DeviceConflictError} if `expected` does not hold; nothing is written.
   * @throws {InvalidArgumentError} for a policy key that is not an unsigned 32-bit integer.
   */
  updateDevice(
    user: UserId,
    deviceId: string,
    patch: DevicePatch,
    expected?: DeviceExpectation,
  ): Promise<Device>;

  /** Removes the device with its statistics. Returns whether it existed. */
  deleteDevice(user: UserId, deviceId: string): Promise<boolean>;

  /**
   * Adds one request to the device's statistics, atomically.
   * @throws {DeviceNotFoundError} if the device does not exist.
   * @throws {InvalidArgumentError} for a negative or fractional count.
   */
  recordSync(user: UserId, deviceId: string, activity: ActivityRecord): Promise<Device>;

  /** The policy document, or `null`. */
  getPolicy(policyId: string): Promise<PolicyDocument | null>;

  /**
   * Creates (version 1) or replaces (version + 1) a policy document and returns it as stored.
   * @throws {InvalidPolicyError} when the settings fail `validatePolicy`, or the id or name is empty.
   * @throws {PolicyConflictError} when `expectedVersion` is given and differs from the stored version.
   */
  putPolicy(policy: PolicyInput): Promise<PolicyDocument>;

  /** Every policy document, sorted by id. */
  listPolicies(): Promise<PolicyDocument[]>;

  /**
   * Deletes a policy document.
   * @throws {PolicyNotFoundError} if it does not exist.
   * @throws {PolicyInUseError} if it is assigned to a user or is the default.
   */
  deletePolicy(policyId: string): Promise<void>;

  /**
   * Assigns a policy to one user (`null` removes the assignment; the user then gets the default).
   * @throws {PolicyNotFoundError} if `policyId` does not exist.
   */
  assignPolicy(user: UserId, policyId: string | null): Promise<void>;

  /**
   * Sets the policy of every user without an assignment of their own (`null`: no default).
   * @throws {PolicyNotFoundError} if `policyId` does not exist.
   */
  setDefaultPolicy(policyId: string | null): Promise<void>;

  /** The user's own assignment and the default, as policy ids. */
  getPolicyAssignment(user: UserId): Promise<PolicyAssignment>;

  /** The policy a user's devices get: their own assignment, else the default, else `null` (no policy). */
  resolvePolicy(user: UserId): Promise<PolicyDocument | null>;

  /**
   * Creates or replaces (by id) an access rule and returns it as stored.
   * @throws {InvalidRuleError} when the rule is malformed.
   */
  putRule(rule: AccessRule): Promise<AccessRule>;

  /** Every rule, highest priority first, then by id. */
  listRules(): Promise<AccessRule[]>;

  /** Removes a rule. Returns whether it existed. */
  deleteRule(ruleId: string): Promise<boolean>;

  /** The organisation-wide switches; `defaultOrganizationSettings()` until changed. */
  getOrganizationSettings(): Promise<OrganizationSettings>;

  /**
   * Changes some organisation-wide switches (absent fields stay) and returns all of them as stored.
   * @throws {InvalidArgumentError} for a value of the wrong type or an unknown access state.
   */
  updateOrganizationSettings(patch: Partial<OrganizationSettings>): Promise<OrganizationSettings>;

  /** The user's own EAS switch: `true`, `false`, or `null` when none is set (the user follows the organisation). */
  getUserEasEnabled(user: UserId): Promise<boolean | null>;

  /**
   * Sets (or with `null` removes) the user's own EAS switch. EAS is available to a user when the organisation's
   * `easEnabled` is true and the user's switch is not `false`.
   * @throws {InvalidArgumentError} for an empty user.
   */
  setUserEasEnabled(user: UserId, enabled: boolean | null): Promise<void>;

  /**
   * Records an administrative action and returns it as stored, with its id.
   * @throws {InvalidArgumentError} for an empty actor or action, or details that are not flat JSON values.
   */
  appendAudit(entry: AuditEntryInput): Promise<AuditEntry>;

  /**
   * Audit entries, newest first, a page at a time; `user` and `deviceId` filter on the target.
   * @throws {InvalidArgumentError} for a bad limit or a cursor this store did not make.
   */
  listAudit(query?: AuditQuery): Promise<AuditPage>;

  /**
   * Optional: everything a request's policy check reads, in one call, so that a database store answers it in
   * one round trip. Records the sighting like `upsertDevice` (a device this call creates gets the
   * organisation's `defaultAccess` with reason `global-default`; `initialAccess` is not taken) and returns, as
   * of the same moment, what `getOrganizationSettings`, `getUserEasEnabled`, `listRules` and `resolvePolicy`
   * would. Use it through {@link checkInDevice}, which falls back to those calls for a store without it.
   */
  checkIn?(sighting: Omit<DeviceSighting, 'initialAccess'>, seenAt?: Date): Promise<DeviceCheckIn>;

  /**
   * Optional: many `recordSync` calls at once (one statement for a database store), with the same result as
   * making them one after the other in the order given, except that records of devices that do not exist are
   * skipped. Returns how many records were applied. Use it through {@link recordActivities}.
   * @throws {InvalidArgumentError} when any record is malformed; then nothing is written.
   */
  recordSyncs?(records: readonly DeviceActivity[]): Promise<number>;
}

/** One request's statistics for one device, for `recordSyncs`. */
export interface DeviceActivity {
  user: UserId;
  deviceId: string;
  activity: ActivityRecord;
}

/** The checked counts and time of an activity record. */
export interface CheckedActivity {
  at: Date;
  itemsSent: number;
  itemsReceived: number;
  bytesIn: number;
  bytesOut: number;
}

/**
 * Checks an activity record the way `recordSync` must (a command, a valid date, non-negative integer counts)
 * and returns its counts with absent ones as 0.
 * @throws {InvalidArgumentError}
 */
export function checkActivity(activity: ActivityRecord): CheckedActivity {
  if (typeof activity?.command !== 'string' || activity.command === '') {
    throw new InvalidArgumentError('command must be a non-empty string');
  }
  if (!(activity.at instanceof Date) || Number.isNaN(activity.at.getTime())) {
    throw new InvalidArgumentError('at must be a valid Date');
  }
  const checked: CheckedActivity = {
    at: activity.at,
    itemsSent: activity.itemsSent ?? 0,
    itemsReceived: activity.itemsReceived ?? 0,
    bytesIn: activity.bytesIn ?? 0,
    bytesOut: activity.bytesOut ?? 0,
  };
  for (const name of ['itemsSent', 'itemsReceived', 'bytesIn', 'bytesOut'] as const) {
    const value = checked[name];
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidArgumentError(`${name} must be a non-negative integer`);
    }
  }
  return checked;
}

/**
 * `store.recordSyncs` when the store has it; otherwise `recordSync` for each record in turn (all checked first,
 * so a malformed one writes nothing), skipping devices that no longer exist. Returns how many were applied.
 */
export async function recordActivities(
  store: DeviceStore,
  records: readonly DeviceActivity[],
): Promise<number> {
  if (store.recordSyncs) return store.recordSyncs(records);
  for (const record of records) checkActivity(record.activity);
  let applied = 0;
  for (const record of records) {
    try {
      await store.recordSync(record.user, record.deviceId, record.activity);
      applied++;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'device-not-found') throw error;
    }
  }
  return applied;
}

/** What `checkIn` returns: the device as recorded, and the settings and rules that decide its access. */
export interface DeviceCheckIn {
  device: Device;
  created: boolean;
  organization: OrganizationSettings;
  /** The user's own EAS switch, as `getUserEasEnabled` returns it. */
  userEasEnabled: boolean | null;
  /** Every access rule, in `listRules` order. */
  rules: AccessRule[];
  /** The policy the user's devices get, as `resolvePolicy` returns it. */
  policy: PolicyDocument | null;
}

/**
 * `store.checkIn` when the store has it; otherwise the same answer from the separate calls (the organisation's
 * settings first, for the access of a device the call creates).
 */
export async function checkInDevice(
  store: DeviceStore,
  sighting: Omit<DeviceSighting, 'initialAccess'>,
  seenAt?: Date,
): Promise<DeviceCheckIn> {
  if (store.checkIn) return store.checkIn(sighting, seenAt);
  const [organization, userEasEnabled, rules, policy] = await Promise.all([
    store.getOrganizationSettings(),
    store.getUserEasEnabled(sighting.user),
    store.listRules(),
    store.resolvePolicy(sighting.user),
  ]);
  const { initialAccess: _ignored, ...seen } = sighting as DeviceSighting;
  const { device, created } = await store.upsertDevice(
    { ...seen, initialAccess: { state: organization.defaultAccess, reason: 'global-default' } },
    seenAt,
  );
  return { device, created, organization, userEasEnabled, rules, policy };
}

export interface PolicyAssignment {
  /** The policy assigned to this user, or `null`. */
  assigned: string | null;
  /** The default policy, or `null`. */
  default: string | null;
}
