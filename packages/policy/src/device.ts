import type { UserId } from '@easkit/mailbox';
import type { PolicySettings, ProtocolVersion } from './settings.js';

/** Where a device stands in the two-phase Provision flow (MS-ASPROV 3.1.5.1). */
export type PolicyState = 'none' | 'pending' | 'provisioned';

export type AccessState = 'allowed' | 'blocked' | 'quarantined';

/**
 * Why a device has its access state: `individual` an administrator's decision for this device (wins over rules),
 * `rule` an access rule matched (`ruleId` says which), `global-default` no rule matched, `policy` the Provision
 * flow refused the device (it cannot apply the policy), `wipe` the device was wiped.
 */
export type AccessReason = 'individual' | 'rule' | 'global-default' | 'policy' | 'wipe';

export interface DeviceAccess {
  state: AccessState;
  reason: AccessReason;
  /** The rule that decided, when `reason` is `rule`. */
  ruleId?: string;
  /** Free text for the administrator, e.g. why a device was blocked or what a quarantine waits for. */
  note?: string;
  /** Who made an `individual` decision (an administrator's name). */
  by?: string;
  /** When the decision was made. */
  at?: Date;
}

/**
 * Remote wipe (MS-ASPROV 3.1.5.1.2): `requested` by an administrator, `pending` sent to the device in a Provision
 * response, `acknowledged` when the device confirmed. `account-only` is the 16.1 AccountOnlyRemoteWipe.
 */
export type WipeState = 'none' | 'requested' | 'pending' | 'acknowledged';
export type WipeKind = 'full' | 'account-only';

export interface DeviceWipe {
  state: WipeState;
  kind?: WipeKind;
  requestedAt?: Date;
  acknowledgedAt?: Date;
  /** When the directive first went out to the device in a Provision response. */
  deliveredAt?: Date;
  /** Who asked for it (an administrator's name or the user). */
  requestedBy?: string;
}

/**
 * Which policy document, in which version, a policy key was issued for. `policyId: null` stands for the built-in
 * default (`defaultPolicy`), used when neither the user nor the organisation has a policy. A device whose stamp
 * differs from what `resolvePolicy` gives now holds a stale key and must provision again; a protocol version
 * change or a reconnect does not change the stamp, so neither forces a new Provision.
 */
export interface PolicyVersion {
  policyId: string | null;
  version: number;
}

/** Per-device counters, kept by `DeviceStore.recordSync`. */
export interface DeviceStats {
  /** When the last Sync command was recorded. */
  lastSyncAt?: Date;
  syncCount: number;
  pingCount: number;
  itemsSent: number;
  itemsReceived: number;
  bytesIn: number;
  bytesOut: number;
  /** The command of the most recent recorded request (by its `at`), e.g. `Sync`, `Ping`, `FolderSync`. */
  lastCommand?: string;
  lastCommandAt?: Date;
}

/** What a device reports about itself: request parameters and the Settings command's DeviceInformation. */
export interface DeviceInformation {
  /** The EAS DeviceType, e.g. `iPhone`, `Android`, `WindowsMail`. */
  deviceType: string;
  model?: string;
  friendlyName?: string;
  imei?: string;
  os?: string;
  osLanguage?: string;
  phoneNumber?: string;
  mobileOperator?: string;
  userAgent?: string;
  protocolVersion?: ProtocolVersion;
}

/** The optional fields of `DeviceInformation`; a patch may clear them with `null`. */
export type DeviceDetailName = Exclude<keyof DeviceInformation, 'deviceType'>;

export const DEVICE_DETAIL_NAMES: readonly DeviceDetailName[] = [
  'model',
  'friendlyName',
  'imei',
  'os',
  'osLanguage',
  'phoneNumber',
  'mobileOperator',
  'userAgent',
  'protocolVersion',
];

/** One device of one user. (user, deviceId) identifies it; both are compared as exact strings. */
export interface Device extends DeviceInformation {
  user: UserId;
  /** The EAS DeviceId the device sends with every request. */
  deviceId: string;
  firstSeen: Date;
  lastSeen: Date;
  /** The policy key the device holds (an unsigned 32-bit number); 0 means none. */
  policyKey: number;
  policyState: PolicyState;
  /** The key sent in the first phase of Provision, waiting for the device's acknowledgement. */
  pendingPolicyKey?: number;
  /** The policy (and version) `policyKey` was issued for; absent while the device holds no key. */
  policyVersion?: PolicyVersion;
  /** The policy (and version) sent with `pendingPolicyKey`; becomes `policyVersion` on acknowledgement. */
  pendingPolicyVersion?: PolicyVersion;
  access: DeviceAccess;
  wipe: DeviceWipe;
  stats: DeviceStats;
}

/** The counters of a device that has recorded nothing yet. */
export function emptyDeviceStats(): DeviceStats {
  return { syncCount: 0, pingCount: 0, itemsSent: 0, itemsReceived: 0, bytesIn: 0, bytesOut: 0 };
}

/** A policy document: the settings sent in a Provision response, with an id, a name and a version counter. */
export interface PolicyDocument {
  id: string;
  name: string;
  settings: PolicySettings;
  /**
   * Starts at 1 and goes up by one with every `putPolicy`. A device whose policy key was issued for an older
   * version must provision again.
   */
  version: number;
  updatedAt: Date;
  /**
   * Exchange's AllowNonProvisionableDevices, a server-side property never sent to devices: when true, a device
   * that sends no policy key may use EAS without provisioning, and a device that acknowledges the policy as only
   * partly applied (Status 2) still gets a key. Default false.
   */
  allowNonProvisionableDevices: boolean;
}

/** Organisation-wide switches, kept by the `DeviceStore`. */
export interface OrganizationSettings {
  /** EAS for everyone (default true). When false every user is refused, whatever their own switch says. */
  easEnabled: boolean;
  /** The access of a new device that no access rule matches (default `allowed`). */
  defaultAccess: AccessState;
}

/** The settings a store that was never told otherwise reports. */
export function defaultOrganizationSettings(): OrganizationSettings {
  return { easEnabled: true, defaultAccess: 'allowed' };
}

/** What an audit entry is about; every field is optional, but an entry names at least one. */
export interface AuditTarget {
  user?: UserId;
  deviceId?: string;
  policyId?: string;
  ruleId?: string;
}

/** A value in an audit entry's details: flat, so any backend can keep it as JSON. */
export type AuditDetail = string | number | boolean | null;

/** One recorded administrative action: who did what, when, to what. */
export interface AuditEntry {
  /** Assigned by the store: a positive integer, larger for every later append. */
  id: number;
  at: Date;
  /** Who did it: an administrator's name, `system`, or the user. */
  actor: string;
  /** What was done, e.g. `wipe`, `approve`, `block`, `set-policy`. */
  action: string;
  target: AuditTarget;
  details: Record<string, AuditDetail>;
}
