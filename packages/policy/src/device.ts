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
  /** Who asked for it (an administrator's name or the user). */
  requestedBy?: string;
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
}
