import type { UserId } from '@easkit/mailbox';
import {
  checkInDevice,
  type Device,
  type DeviceAccess,
  type DeviceActivity,
  type DeviceCheckIn,
  type DeviceStore,
  defaultPolicy,
  evaluateAccess,
  type PolicyVersion,
  recordActivities,
} from '@easkit/policy';
import { element, type WbxmlElement } from '@easkit/wbxml';
import type { EasCommandName } from './commands.js';
import type { MailboxIdentity } from './identity.js';
import { atLeast } from './protocol-version.js';
import type { EasRequestHead } from './request.js';

/** Why the gate turned a request away. */
export type GateRefusal =
  | 'wipe'
  | 'not-provisioned'
  | 'policy-refresh'
  | 'invalid-policy-key'
  | 'blocked'
  | 'quarantined'
  | 'user-disabled'
  | 'eas-disabled';

/**
 * The answer for each refusal: the common status a 14.0+ device gets inside the command's own response
 * (MS-ASCMD 2.2.2), and the HTTP status older versions get instead (they have no such statuses).
 *
 * - 140 RemoteWipeRequested / 449: the device must Provision, where it finds the wipe directive.
 * - 142 DeviceNotProvisioned / 449: no policy key at all.
 * - 143 PolicyRefresh / 449: the key is the one issued, but for an older version of the policy (or another policy).
 * - 144 InvalidPolicyKey / 449: a key this server did not issue to this device (or no longer knows).
 * - 129 DeviceIsBlockedForThisUser / 403, 130 AccessDenied / 403 for a quarantined device (no status names
 *   quarantine; 130 says "not allowed now", and approval lifts it).
 * - 126 UserDisabledForSync / 403, 127 (EAS sync disabled server-wide) / 403.
 *
 * 2.5-12.1 get 449 also without a key, rather than the 403 Exchange sends there: 449 makes every client run
 * Provision, while a 403 sends some into Autodiscover (MS-ASHTTP 3.1.5.2.1).
 */
export const GATE_ANSWERS: Readonly<Record<GateRefusal, { status: number; legacyHttpStatus: 403 | 449 }>> = {
  wipe: { status: 140, legacyHttpStatus: 449 },
  'not-provisioned': { status: 142, legacyHttpStatus: 449 },
  'policy-refresh': { status: 143, legacyHttpStatus: 449 },
  'invalid-policy-key': { status: 144, legacyHttpStatus: 449 },
  blocked: { status: 129, legacyHttpStatus: 403 },
  quarantined: { status: 130, legacyHttpStatus: 403 },
  'user-disabled': { status: 126, legacyHttpStatus: 403 },
  'eas-disabled': { status: 127, legacyHttpStatus: 403 },
};

type StatusHome = readonly [namespace: Parameters<typeof element>[0], tag: string];

/**
 * Where each command's response carries its top-level Status (MS-ASCMD 2.2.3.177.x): `<FolderSync><Status>`,
 * `<Sync><Status>`, `<Ping><Status>`, ... `null` for GetAttachment, whose response is the attachment itself
 * with no WBXML body: it gets the HTTP status in every version.
 */
export const COMMAND_STATUS_HOME: Readonly<Record<EasCommandName, StatusHome | null>> = {
  Sync: ['AirSync', 'Sync'],
  SendMail: ['ComposeMail', 'SendMail'],
  SmartForward: ['ComposeMail', 'SmartForward'],
  SmartReply: ['ComposeMail', 'SmartReply'],
  GetAttachment: null,
  FolderSync: ['FolderHierarchy', 'FolderSync'],
  FolderCreate: ['FolderHierarchy', 'FolderCreate'],
  FolderDelete: ['FolderHierarchy', 'FolderDelete'],
  FolderUpdate: ['FolderHierarchy', 'FolderUpdate'],
  MoveItems: ['Move', 'MoveItems'],
  GetItemEstimate: ['GetItemEstimate', 'GetItemEstimate'],
  MeetingResponse: ['MeetingResponse', 'MeetingResponse'],
  Search: ['Search', 'Search'],
  Settings: ['Settings', 'Settings'],
  Ping: ['Ping', 'Ping'],
  ItemOperations: ['ItemOperations', 'ItemOperations'],
  Provision: ['Provision', 'Provision'],
  ResolveRecipients: ['ResolveRecipients', 'ResolveRecipients'],
  ValidateCert: ['ValidateCert', 'ValidateCert'],
  Find: ['Find', 'Find'],
};

/** The 14.0+ body for a refusal: `<Command><Status>n</Status></Command>` in the command's namespace. */
export function refusalBody(command: EasCommandName, status: number): WbxmlElement | undefined {
  const home = COMMAND_STATUS_HOME[command];
  if (!home) return undefined;
  const [namespace, tag] = home;
  return element(namespace, tag as never, element(namespace, 'Status' as never, String(status)));
}

export interface PolicyGateOptions {
  readonly devices: DeviceStore;
  /**
   * Commands that skip the policy-key check (a wipe, a block, a quarantine and the EAS switches still apply).
   * Default `['Ping']`: a waiting Ping never bounces for a key; the device learns at its next Sync or FolderSync.
   * Provision is always exempt from the key check.
   */
  readonly keyExempt?: readonly EasCommandName[];
  /**
   * When neither the user nor the organisation has a policy: `provision` (default) makes devices provision the
   * built-in default policy; `skip` lets them sync without a key.
   */
  readonly withoutPolicy?: 'provision' | 'skip';
  /** Record each request in the device's statistics (`recordSync`) after it was answered. Default true. */
  readonly recordActivity?: boolean;
  /**
   * Collect the statistics of answered requests for this long and write them together
   * (`recordActivities`: one statement per batch on PostgreSQL), rather than one write per request before its
   * response goes out. Statistics then show a request up to this much later, and a crash loses at most this
   * much of them (they are best effort). Default 0: each request is recorded before it is answered. Call
   * `flush()` before shutting down.
   */
  readonly activityBatchMs?: number;
  /** A batch is written early once it holds this many requests. Default 5,000. */
  readonly maxActivityBatch?: number;
  /** Called when writing statistics failed (they are dropped). */
  readonly onActivityError?: (error: unknown) => void;
  /**
   * A key-exempt request (a Ping) that comes within this many milliseconds of an earlier request of the same
   * device, with the same device type, protocol version and user agent, reuses that request's check-in (device,
   * switches, rules, policy) instead of reading the device store again: a device's Ping right after its Sync
   * then costs no read. The decision is the one a Ping that had arrived that much earlier would have got. Every
   * `interrupt` (what administrators' wipes, blocks and switches call) forgets the remembered check-ins, and a
   * device's own Provision forgets its own. Default 0: every request checks in.
   */
  readonly checkInReuseMs?: number;
  /** The clock for sightings and statistics. Default `new Date()`. */
  readonly now?: () => Date;
}

export type GateOutcome =
  | { readonly pass: true; readonly device: Device }
  | { readonly pass: false; readonly refusal: GateRefusal; readonly device: Device };

export interface PolicyGate {
  /** Records the sighting and decides whether the request may reach its command. */
  check(identity: MailboxIdentity, head: EasRequestHead): Promise<GateOutcome>;
  /**
   * Gives a request that passed the gate a signal that `interrupt` can abort (it also follows `parent`, the
   * client's own signal). Call `release` when the request is answered.
   */
  track(
    user: UserId,
    deviceId: string,
    parent: AbortSignal | undefined,
  ): { readonly signal: AbortSignal; release(): void };
  /**
   * Ends the running requests of one device, of all devices of a user (no `deviceId`), or of everyone (empty
   * scope): a waiting Ping answers at once (Status 1), and the device's next request meets the gate. Wire it to
   * `createDeviceAdministration({ interrupt })`. In this process only. Returns how many requests it ended.
   */
  interrupt(scope?: { user?: UserId; deviceId?: string }): number;
  /** Adds an answered request to the device's statistics (if enabled); never throws. */
  record(
    head: EasRequestHead,
    identity: MailboxIdentity,
    activity: { bytesIn: number; bytesOut: number; itemsSent?: number; itemsReceived?: number },
  ): Promise<void>;
  /** Writes the statistics collected so far (with `activityBatchMs`); never throws. */
  flush(): Promise<void>;
}

/** The stamp of the policy a user's devices must hold now: their policy, else the built-in default. */
export function currentPolicyVersion(policy: { id: string; version: number } | null): PolicyVersion {
  return policy
    ? { policyId: policy.id, version: policy.version }
    : { policyId: null, version: defaultPolicy.version };
}

export function samePolicyVersion(a: PolicyVersion | undefined, b: PolicyVersion): boolean {
  return a !== undefined && a.policyId === b.policyId && a.version === b.version;
}

/**
 * The policy gate (MS-ASPROV 3.2.5, MS-ASCMD 2.2.2), run by `createEasHandler` before the body is decoded. In
 * order: the sighting is stored, with the switches, rules and policy read in the same call (`checkInDevice`),
 * and access rules applied; an outstanding wipe sends the device to Provision (even a disabled or blocked one,
 * so the wipe still reaches it); the EAS switches; a blocked or quarantined device; then, for every command but
 * Provision and the key-exempt ones, the policy key and the version of the policy it was issued for.
 */
export function createPolicyGate(options: PolicyGateOptions): PolicyGate {
  const { devices } = options;
  const now = options.now ?? (() => new Date());
  const keyExempt = new Set<EasCommandName>(options.keyExempt ?? ['Ping']);
  const withoutPolicy = options.withoutPolicy ?? 'provision';
  const recordActivity = options.recordActivity ?? true;
  const batchMs = options.activityBatchMs ?? 0;
  const reuseMs = options.checkInReuseMs ?? 0;
  /** user → deviceId → the device's last check-in, for `checkInReuseMs`. */
  const recent = new Map<UserId, Map<string, RecentCheckIn>>();
  /** Moves on with every `interrupt`: a check-in read before it is never reused after it. */
  let generation = 0;
  let sweepTimer: NodeJS.Timeout | undefined;
  const forget = (user: UserId, deviceId: string) => {
    const perUser = recent.get(user);
    if (perUser?.delete(deviceId) && perUser.size === 0) recent.delete(user);
  };
  const remember = (user: UserId, deviceId: string, entry: RecentCheckIn) => {
    let perUser = recent.get(user);
    if (!perUser) {
      perUser = new Map();
      recent.set(user, perUser);
    }
    perUser.set(deviceId, entry);
    // Entries are only good for reuseMs: sweep them so devices that went quiet leave nothing behind.
    if (!sweepTimer) {
      sweepTimer = setInterval(
        () => {
          const oldest = Date.now() - reuseMs;
          for (const [each, devicesOfUser] of recent) {
            for (const [id, kept] of devicesOfUser) if (kept.at < oldest) devicesOfUser.delete(id);
            if (devicesOfUser.size === 0) recent.delete(each);
          }
          if (recent.size === 0) {
            clearInterval(sweepTimer);
            sweepTimer = undefined;
          }
        },
        Math.max(reuseMs, 1000),
      );
      sweepTimer.unref?.();
    }
  };
  const maxBatch = options.maxActivityBatch ?? 5000;
  let batch: DeviceActivity[] = [];
  let batchTimer: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const writeBatch = (): Promise<void> => {
    if (batchTimer) clearTimeout(batchTimer);
    batchTimer = undefined;
    const records = batch;
    batch = [];
    if (records.length > 0) {
      // One write at a time, in order: a batch never overtakes the one before it.
      writing = writing.then(() =>
        recordActivities(devices, records).then(
          () => undefined,
          (error) => options.onActivityError?.(error),
        ),
      );
    }
    return writing;
  };
  /** user → deviceId → the controllers of that device's running requests */
  const running = new Map<UserId, Map<string, Set<AbortController>>>();

  return {
    async check(identity, head) {
      const user = identity.userId;
      const sighting = {
        user,
        deviceId: head.deviceId,
        deviceType: head.deviceType,
        protocolVersion: head.protocolVersion,
        ...(head.userAgent ? { userAgent: head.userAgent } : {}),
      };
      const command = head.command;
      let checkIn: DeviceCheckIn | undefined;
      if (reuseMs > 0) {
        if (command === 'Provision') forget(user, head.deviceId);
        else if (keyExempt.has(command)) {
          const kept = recent.get(user)?.get(head.deviceId);
          if (
            kept &&
            kept.generation === generation &&
            Date.now() - kept.at <= reuseMs &&
            kept.deviceType === sighting.deviceType &&
            kept.protocolVersion === sighting.protocolVersion &&
            kept.userAgent === sighting.userAgent
          ) {
            checkIn = kept.checkIn;
          }
        }
      }
      if (checkIn === undefined) {
        const started = generation;
        // One call (one statement on PostgreSQL): the sighting, the switches, the rules and the user's policy.
        // A device it creates gets the default access; the rules are applied to it just below, as to every one.
        checkIn = await checkInDevice(devices, sighting, now());
        if (reuseMs > 0 && command !== 'Provision' && started === generation) {
          remember(user, head.deviceId, {
            checkIn,
            at: Date.now(),
            generation,
            deviceType: sighting.deviceType,
            protocolVersion: sighting.protocolVersion,
            userAgent: sighting.userAgent,
          });
        }
      }
      const { organization, rules, policy } = checkIn;
      const userEnabled = checkIn.userEasEnabled;
      let { device } = checkIn;

      // Rules may have changed since the device was last seen. An individual decision, a refusal by the
      // Provision flow and a wipe stand; a device that no rule matches keeps the default it got when it was new.
      if (device.access.reason === 'rule' || device.access.reason === 'global-default') {
        const fallback =
          device.access.reason === 'global-default' ? device.access.state : organization.defaultAccess;
        const access = evaluateAccess(device, rules, fallback);
        if (!sameAccess(access, device.access)) {
          device = await devices.updateDevice(user, head.deviceId, { access });
          forget(user, head.deviceId);
        }
      }

      const refuse = (refusal: GateRefusal): GateOutcome => ({ pass: false, refusal, device });

      if (device.wipe.state !== 'none') {
        // An account-only wipe can only be carried out by a 16.1 device (MS-ASPROV 2.2.2.1); an older one is
        // kept away from the account's data instead.
        if (device.wipe.kind === 'account-only' && !atLeast(head.protocolVersion, '16.1')) {
          return refuse('blocked');
        }
        return command === 'Provision' ? { pass: true, device } : refuse('wipe');
      }
      if (!organization.easEnabled) return refuse('eas-disabled');
      if (userEnabled === false) return refuse('user-disabled');
      if (device.access.state === 'blocked') return refuse('blocked');
      if (device.access.state === 'quarantined') return refuse('quarantined');
      if (command === 'Provision' || keyExempt.has(command)) return { pass: true, device };

      if (!policy && withoutPolicy === 'skip') return { pass: true, device };
      const key = head.policyKey;
      if (key === undefined) {
        return policy?.allowNonProvisionableDevices ? { pass: true, device } : refuse('not-provisioned');
      }
      if (key !== device.policyKey) return refuse('invalid-policy-key');
      if (!samePolicyVersion(device.policyVersion, currentPolicyVersion(policy)))
        return refuse('policy-refresh');
      return { pass: true, device };
    },

    track(user, deviceId, parent) {
      const controller = new AbortController();
      const follow = () => controller.abort(parent?.reason);
      if (parent?.aborted) follow();
      else parent?.addEventListener('abort', follow, { once: true });
      let perUser = running.get(user);
      if (!perUser) {
        perUser = new Map();
        running.set(user, perUser);
      }
      let perDevice = perUser.get(deviceId);
      if (!perDevice) {
        perDevice = new Set();
        perUser.set(deviceId, perDevice);
      }
      perDevice.add(controller);
      return {
        signal: controller.signal,
        release() {
          parent?.removeEventListener('abort', follow);
          const users = running.get(user);
          const set = users?.get(deviceId);
          if (!set?.delete(controller)) return;
          if (set.size === 0) users!.delete(deviceId);
          if (users!.size === 0) running.delete(user);
        },
      };
    },

    interrupt(scope = {}) {
      generation++;
      recent.clear();
      const users =
        scope.user === undefined ? [...running.values()] : [running.get(scope.user)].filter((each) => each);
      let ended = 0;
      for (const perUser of users) {
        const sets = scope.deviceId === undefined ? [...perUser!.values()] : [perUser!.get(scope.deviceId)];
        for (const set of sets) {
          for (const controller of set ?? []) {
            if (!controller.signal.aborted) {
              controller.abort(new Error('interrupted by an administrator'));
              ended++;
            }
          }
        }
      }
      return ended;
    },

    async record(head, identity, activity) {
      // The device's policy key or wipe state may have changed in its Provision: its next request reads afresh.
      if (head.command === 'Provision') forget(identity.userId, head.deviceId);
      if (!recordActivity) return;
      const record: DeviceActivity = {
        user: identity.userId,
        deviceId: head.deviceId,
        activity: { command: head.command, at: now(), ...activity },
      };
      if (batchMs > 0) {
        batch.push(record);
        if (batch.length >= maxBatch) void writeBatch();
        else if (!batchTimer) {
          batchTimer = setTimeout(writeBatch, batchMs);
          batchTimer.unref?.();
        }
        return;
      }
      try {
        await devices.recordSync(record.user, record.deviceId, record.activity);
      } catch {
        // Statistics are best effort: the device may have been removed while its request ran.
      }
    },

    flush: () => writeBatch(),
  };
}

interface RecentCheckIn {
  readonly checkIn: DeviceCheckIn;
  /** `Date.now()` when it was read. */
  readonly at: number;
  readonly generation: number;
  readonly deviceType: string;
  readonly protocolVersion: string;
  readonly userAgent: string | undefined;
}

function sameAccess(a: DeviceAccess, b: DeviceAccess): boolean {
  return a.state === b.state && a.reason === b.reason && a.ruleId === b.ruleId;
}
