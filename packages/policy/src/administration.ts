import type { UserId } from '@easkit/mailbox';
import type { AccessRule } from './access.js';
import type {
  AccessState,
  AuditDetail,
  AuditEntry,
  AuditTarget,
  Device,
  DeviceAccess,
  OrganizationSettings,
  PolicyDocument,
  WipeKind,
} from './device.js';
import type { AuditPage, AuditQuery, DeviceStore, PolicyInput } from './device-store.js';
import { DeviceNotFoundError, InvalidArgumentError } from './errors.js';

/**
 * One word for where a device stands, for lists: a wipe outranks access, access outranks provisioning.
 * `wipe-requested` (not yet sent), `wipe-pending` (sent, not confirmed), `wiped` (confirmed; the device stays
 * shut out until `clearWipe` or `remove`), `blocked`, `quarantined`, `not-provisioned` (no key yet), `active`.
 */
export type DeviceCondition =
  | 'wipe-requested'
  | 'wipe-pending'
  | 'wiped'
  | 'blocked'
  | 'quarantined'
  | 'not-provisioned'
  | 'active';

export interface AdministeredDevice extends Device {
  condition: DeviceCondition;
}

export function deviceCondition(device: Device): DeviceCondition {
  if (device.wipe.state === 'requested') return 'wipe-requested';
  if (device.wipe.state === 'pending') return 'wipe-pending';
  if (device.wipe.state === 'acknowledged') return 'wiped';
  if (device.access.state === 'blocked') return 'blocked';
  if (device.access.state === 'quarantined') return 'quarantined';
  if (device.policyKey === 0) return 'not-provisioned';
  return 'active';
}

/** The actions an administrator takes; each one is written to the store's audit log with who and when. */
export interface DeviceActions {
  /** Full remote wipe (factory reset) at the device's next contact. */
  wipe(user: UserId, deviceId: string): Promise<Device>;
  /** 16.1 account-only wipe: the device removes this account's data only. Older devices are shut out instead. */
  accountOnlyWipe(user: UserId, deviceId: string): Promise<Device>;
  /** Ends a wipe (requested, pending or done): the device may provision and sync again from scratch. */
  clearWipe(user: UserId, deviceId: string): Promise<Device>;
  /** Releases a quarantined (or blocked) device: allowed by an individual decision. */
  approve(user: UserId, deviceId: string, note?: string): Promise<Device>;
  /** Allows a device by an individual decision that access rules cannot override. */
  allow(user: UserId, deviceId: string, note?: string): Promise<Device>;
  block(user: UserId, deviceId: string, note?: string): Promise<Device>;
  quarantine(user: UserId, deviceId: string, note?: string): Promise<Device>;
  /** Drops the individual decision: access rules and the default decide again at the next request. */
  resetAccess(user: UserId, deviceId: string): Promise<Device>;
  /** Forgets the device, its statistics and any wipe; if it connects again it is a new device. */
  remove(user: UserId, deviceId: string): Promise<boolean>;
  /** Creates or replaces a policy document (a new version: devices holding an older one provision again). */
  putPolicy(policy: PolicyInput): Promise<PolicyDocument>;
  deletePolicy(policyId: string): Promise<void>;
  /** Assigns a policy to one user (`null`: back to the default). */
  setUserPolicy(user: UserId, policyId: string | null): Promise<void>;
  /** Sets the policy of users without their own (`null`: none, devices get the built-in default). */
  setDefaultPolicy(policyId: string | null): Promise<void>;
  /** EAS on or off for one user (`null`: follow the organisation). */
  setUserEasEnabled(user: UserId, enabled: boolean | null): Promise<void>;
  /** EAS on or off for everyone. */
  setEasEnabled(enabled: boolean): Promise<OrganizationSettings>;
  /** The access of new devices that no rule matches. */
  setDefaultAccess(state: AccessState): Promise<OrganizationSettings>;
  putRule(rule: AccessRule): Promise<AccessRule>;
  deleteRule(ruleId: string): Promise<boolean>;
}

export interface DeviceAdministration {
  /** The devices of one user, or a page of all devices, each with its `condition`. */
  listDevices(options?: {
    user?: UserId;
    limit?: number;
    cursor?: string | null;
  }): Promise<{ devices: AdministeredDevice[]; nextCursor: string | null }>;
  getDevice(user: UserId, deviceId: string): Promise<AdministeredDevice | null>;
  /** The audit log, newest first. */
  auditLog(query?: AuditQuery): Promise<AuditPage>;
  /** The actions, recorded under `actor` (an administrator's name). */
  as(actor: string): DeviceActions;
}

/** Whose requests an action may shut out: one device, all devices of a user, or (empty) everyone. */
export interface InterruptScope {
  user?: UserId;
  deviceId?: string;
}

export interface DeviceAdministrationOptions {
  readonly devices: DeviceStore;
  /**
   * Called after an action that can shut devices out (wipe, account-only wipe, block, quarantine, remove, EAS
   * switched off), so that their waiting Pings end now rather than at their heartbeat and the next request
   * meets the gate. Wire it to the policy gate's `interrupt` of `@easkit/eas-commands`.
   */
  readonly interrupt?: (scope: InterruptScope) => void;
  /** The clock for request, decision and audit times. Default `new Date()`. */
  readonly now?: () => Date;
}

/**
 * The administration API a server exposes (CLI, HTTP, UI): device lists with their condition and last sync, and
 * every action, each recorded in the store's audit log (`appendAudit`) after it succeeded.
 */
export function createDeviceAdministration(options: DeviceAdministrationOptions): DeviceAdministration {
  const { devices } = options;
  const now = options.now ?? (() => new Date());
  const summarise = (device: Device): AdministeredDevice => ({
    ...device,
    condition: deviceCondition(device),
  });
  const interrupt = (scope: InterruptScope) => options.interrupt?.(scope);

  return {
    async listDevices(query = {}) {
      if (query.user !== undefined) {
        return { devices: (await devices.listDevices(query.user)).map(summarise), nextCursor: null };
      }
      const page = await devices.listAllDevices({
        ...(query.limit === undefined ? {} : { limit: query.limit }),
        cursor: query.cursor ?? null,
      });
      return { devices: page.devices.map(summarise), nextCursor: page.nextCursor };
    },

    async getDevice(user, deviceId) {
      const device = await devices.getDevice(user, deviceId);
      return device ? summarise(device) : null;
    },

    auditLog(query) {
      return devices.listAudit(query);
    },

    as(actor: string): DeviceActions {
      if (typeof actor !== 'string' || actor.trim() === '') {
        throw new InvalidArgumentError('actor must be a non-empty string');
      }
      const audit = (
        action: string,
        target: AuditTarget,
        details: Record<string, AuditDetail> = {},
      ): Promise<AuditEntry> => devices.appendAudit({ actor, action, target, at: now(), details });

      async function existing(user: UserId, deviceId: string): Promise<Device> {
        const device = await devices.getDevice(user, deviceId);
        if (!device) throw new DeviceNotFoundError(user, deviceId);
        return device;
      }

      async function requestWipe(user: UserId, deviceId: string, kind: WipeKind): Promise<Device> {
        const device = await existing(user, deviceId);
        const updated = await devices.updateDevice(user, deviceId, {
          wipe: { state: 'requested', kind, requestedAt: now(), requestedBy: actor },
        });
        await audit(
          kind === 'full' ? 'wipe' : 'account-only-wipe',
          { user, deviceId },
          {
            previousWipe: device.wipe.state,
            protocolVersion: device.protocolVersion ?? null,
          },
        );
        interrupt({ user, deviceId });
        return updated;
      }

      async function decide(
        action: string,
        user: UserId,
        deviceId: string,
        state: AccessState,
        note: string | undefined,
      ): Promise<Device> {
        const device = await existing(user, deviceId);
        const access: DeviceAccess = { state, reason: 'individual', by: actor, at: now() };
        if (note !== undefined && note !== '') access.note = note;
        const updated = await devices.updateDevice(user, deviceId, { access });
        await audit(action, { user, deviceId }, { from: device.access.state, to: state, note: note ?? null });
        if (state !== 'allowed') interrupt({ user, deviceId });
        return updated;
      }

      return {
        wipe: (user, deviceId) => requestWipe(user, deviceId, 'full'),
        accountOnlyWipe: (user, deviceId) => requestWipe(user, deviceId, 'account-only'),

        async clearWipe(user, deviceId) {
          const device = await existing(user, deviceId);
          // The device was (or was about to be) wiped: it must provision from scratch.
          const updated = await devices.updateDevice(user, deviceId, {
            wipe: { state: 'none' },
            policyKey: 0,
            policyState: 'none',
            pendingPolicyKey: null,
            policyVersion: null,
            pendingPolicyVersion: null,
          });
          await audit('clear-wipe', { user, deviceId }, { previousWipe: device.wipe.state });
          return updated;
        },

        approve: (user, deviceId, note) => decide('approve', user, deviceId, 'allowed', note),
        allow: (user, deviceId, note) => decide('allow', user, deviceId, 'allowed', note),
        block: (user, deviceId, note) => decide('block', user, deviceId, 'blocked', note),
        quarantine: (user, deviceId, note) => decide('quarantine', user, deviceId, 'quarantined', note),

        async resetAccess(user, deviceId) {
          const device = await existing(user, deviceId);
          // Rules are evaluated again at the device's next request; until then it keeps its state.
          const updated = await devices.updateDevice(user, deviceId, {
            access: { state: device.access.state, reason: 'global-default' },
          });
          await audit('reset-access', { user, deviceId }, { from: device.access.reason });
          return updated;
        },

        async remove(user, deviceId) {
          const existed = await devices.deleteDevice(user, deviceId);
          if (existed) {
            await audit('remove-device', { user, deviceId });
            interrupt({ user, deviceId });
          }
          return existed;
        },

        async putPolicy(policy) {
          const stored = await devices.putPolicy(policy);
          await audit('put-policy', { policyId: stored.id }, { version: stored.version, name: stored.name });
          return stored;
        },

        async deletePolicy(policyId) {
          await devices.deletePolicy(policyId);
          await audit('delete-policy', { policyId });
        },

        async setUserPolicy(user, policyId) {
          await devices.assignPolicy(user, policyId);
          await audit('set-user-policy', { user, ...(policyId === null ? {} : { policyId }) });
        },

        async setDefaultPolicy(policyId) {
          await devices.setDefaultPolicy(policyId);
          await audit('set-default-policy', policyId === null ? {} : { policyId }, { policyId });
        },

        async setUserEasEnabled(user, enabled) {
          await devices.setUserEasEnabled(user, enabled);
          await audit('set-user-eas', { user }, { enabled });
          if (enabled === false) interrupt({ user });
        },

        async setEasEnabled(enabled) {
          const settings = await devices.updateOrganizationSettings({ easEnabled: enabled });
          await audit('set-eas', {}, { enabled });
          if (!enabled) interrupt({});
          return settings;
        },

        async setDefaultAccess(state) {
          const settings = await devices.updateOrganizationSettings({ defaultAccess: state });
          await audit('set-default-access', {}, { state });
          return settings;
        },

        async putRule(rule) {
          const stored = await devices.putRule(rule);
          await audit(
            'put-rule',
            { ruleId: stored.id },
            {
              action: stored.action,
              priority: stored.priority,
              match: JSON.stringify(stored.match),
            },
          );
          return stored;
        },

        async deleteRule(ruleId) {
          const existed = await devices.deleteRule(ruleId);
          if (existed) await audit('delete-rule', { ruleId });
          return existed;
        },
      };
    },
  };
}
