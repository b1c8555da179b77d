import {
  type Device,
  DeviceConflictError,
  type DeviceSighting,
  type DeviceStore,
  defaultPolicy,
  generatePolicyKey,
  type PolicyDocument,
  type PolicySettings,
} from '@easkit/policy';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { EasHttpError } from '../http/errors.js';
import type { EasCommandContext, EasCommandHandler, EasCommandResult } from '../http/handler.js';
import { currentPolicyVersion } from '../http/policy-gate.js';
import { atLeast } from '../http/protocol-version.js';
import { policyTypeFor, renderPolicyData } from './provision-document.js';

const { Provision: PR, Settings: ST } = eas;

/** Status of the Provision element (MS-ASPROV 2.2.2.54.2, 3.1.5.2). */
export const ProvisionStatus = {
  Success: 1,
  ProtocolError: 2,
  ServerError: 3,
  /** 14.0+: the device applied the policy only partly (or not at all) and the server does not accept that. */
  PartialComplianceRefused: 139,
} as const;

/** Status of the Policy element in a response (MS-ASPROV 2.2.2.54.1). */
export const PolicyStatus = {
  Success: 1,
  NoPolicy: 2,
  UnknownPolicyType: 3,
  CorruptPolicy: 4,
  /** The device acknowledged a policy key the server did not send it (or no longer waits for). */
  WrongPolicyKey: 5,
} as const;

/** What a device reports in the acknowledgement (Policy Status in a request, MS-ASPROV 2.2.2.54.1). */
export const PolicyAcknowledgement = {
  Applied: 1,
  /** Partly applied; at least the password was enabled. */
  Partial: 2,
  NotApplied: 3,
  ThirdParty: 4,
} as const;

/** What a device reports about a wipe (MS-ASPROV 2.2.2.54.3). */
export const WipeAcknowledgement = { Succeeded: 1, Failed: 2 } as const;

export interface ProvisionCommandOptions {
  /**
   * Whether an acknowledgement status (1 applied, 2 partial, 3 not applied, 4 provisioned by a third party)
   * earns the final policy key. Default: 1 and 2, and any status when the user's policy has
   * `allowNonProvisionableDevices`. A refused device gets Provision Status 139 (14.0+) or HTTP 403 (older
   * versions, which have no such status) and keeps no key. `policy` is the user's policy (`null`: the built-in
   * default).
   */
  readonly acceptAcknowledgement?: (status: number, device: Device, policy: PolicyDocument | null) => boolean;
  /** The clock, for the wipe acknowledgement time. Default `new Date()`. */
  readonly now?: () => Date;
}

/** The stores Provision needs. */
export interface ProvisionServices {
  readonly devices: DeviceStore;
}

type Result = EasCommandResult;

/** A Provision response: DeviceInformation's answer (when asked), the Status, then the rest. */
function answer(status: number, information: WbxmlElement | null = null, ...content: WbxmlElement[]): Result {
  return { kind: 'wbxml', body: PR.Provision(information, PR.Status(status), ...content) };
}

/** The Settings:DeviceInformation/Set fields a device may send with Provision (14.1+), as device fields. */
const DEVICE_INFORMATION_FIELDS = [
  ['Model', 'model'],
  ['IMEI', 'imei'],
  ['FriendlyName', 'friendlyName'],
  ['OS', 'os'],
  ['OSLanguage', 'osLanguage'],
  ['PhoneNumber', 'phoneNumber'],
  ['MobileOperator', 'mobileOperator'],
  ['UserAgent', 'userAgent'],
] as const;

function readDeviceInformation(provision: WbxmlElement): Partial<DeviceSighting> | undefined {
  const set = provision.child('Settings:DeviceInformation')?.child('Settings:Set');
  if (!set) return undefined;
  const details: Record<string, string> = {};
  for (const [tag, field] of DEVICE_INFORMATION_FIELDS) {
    const value = set.textOf(`Settings:${tag}`);
    if (value !== undefined && value !== '') details[field] = value;
  }
  return details;
}

/**
 * The Provision command (MS-ASPROV), every protocol version.
 *
 * - **Download** (a Policy with a PolicyType and no key): answers the user's policy (`resolvePolicy`, else the
 *   built-in default) as an EASProvisionDoc with every setting valid in the negotiated version (12.0+) or as
 *   the 2.5 WAP provisioning XML, with a fresh temporary PolicyKey stored as the device's `pendingPolicyKey`
 *   (policy state `pending`).
 * - **Acknowledgement** (a Policy with the temporary key and the device's Status): issues the final key,
 *   stored as the device's `policyKey` (state `provisioned`). A key the server is not waiting for gets Policy
 *   Status 5; a PolicyType that does not belong to the version gets Policy Status 3; a request without
 *   Policies (and without a wipe acknowledgement) gets Provision Status 2.
 * - **DeviceInformation** (14.1+): the details are stored on the device record, answered with Status 1.
 * - **Remote wipe**: while a wipe is requested or unacknowledged, every Provision answers RemoteWipe (or, for
 *   an account-only wipe and a 16.1 device, AccountOnlyRemoteWipe) instead of a policy; the device's
 *   acknowledgement with Status 1 records `acknowledged` with the time. After that the directive is repeated
 *   on every Provision until an administrator clears the wipe state.
 *
 * The device record is created (upserted) on every Provision with what the request tells about it.
 */
export function provisionCommand(
  services: ProvisionServices,
  options: ProvisionCommandOptions = {},
): EasCommandHandler {
  const accept =
    options.acceptAcknowledgement ??
    ((status: number, _device: Device, policy: PolicyDocument | null) =>
      status === PolicyAcknowledgement.Applied ||
      status === PolicyAcknowledgement.Partial ||
      policy?.allowNonProvisionableDevices === true);
  const now = options.now ?? (() => new Date());

  return async (context: EasCommandContext): Promise<Result> => {
    const { head, identity, body } = context;
    const version = head.protocolVersion;
    if (body?.name !== 'Provision' || body.namespace !== 'Provision') {
      return answer(ProvisionStatus.ProtocolError);
    }

    const information = readDeviceInformation(body);
    const { device } = await services.devices.upsertDevice({
      user: identity.userId,
      deviceId: head.deviceId,
      deviceType: head.deviceType,
      protocolVersion: version,
      ...(head.userAgent ? { userAgent: head.userAgent } : {}),
      ...information,
    });
    const informationStatus = information ? ST.DeviceInformation(ST.Status(1)) : null;

    // A wipe acknowledgement (MS-ASPROV 3.1.5.1.2.2 and .3).
    const wipeAck = body.child('Provision:RemoteWipe') ?? body.child('Provision:AccountOnlyRemoteWipe');
    if (wipeAck) return acknowledgeWipe(device, wipeAck);

    // A wipe the device has not yet confirmed is answered before anything else (MS-ASPROV 3.2.5.1.2.1).
    const directive = wipeDirective(device);
    if (directive) {
      if (device.wipe.state === 'requested') {
        await services.devices.updateDevice(identity.userId, head.deviceId, {
          wipe: { ...device.wipe, state: 'pending', deliveredAt: now() },
        });
      }
      return answer(ProvisionStatus.Success, informationStatus, directive);
    }

    const policy = body.child('Provision:Policies')?.child('Provision:Policy');
    if (!policy) return answer(ProvisionStatus.ProtocolError, informationStatus);
    const policyType = policy.textOf('PolicyType');
    if (policyType === undefined) return answer(ProvisionStatus.ProtocolError, informationStatus);
    if (policyType !== policyTypeFor(version)) {
      return policyAnswer(
        informationStatus,
        PR.PolicyType(policyType),
        PR.Status(PolicyStatus.UnknownPolicyType),
      );
    }

    const key = policy.textOf('PolicyKey');
    if (key === undefined || key === '') return download(device, policyType, informationStatus);
    return acknowledge(device, policy, policyType, key, informationStatus);
  };

  function policyAnswer(informationStatus: WbxmlElement | null, ...content: WbxmlElement[]): Result {
    return answer(ProvisionStatus.Success, informationStatus, PR.Policies(PR.Policy(...content)));
  }

  function wipeDirective(device: Device): WbxmlElement | undefined {
    if (device.wipe.state === 'none') return undefined;
    if (device.wipe.kind === 'account-only') {
      // AccountOnlyRemoteWipe exists only in 16.1; an older device keeps being provisioned normally (a full
      // wipe would destroy more than the administrator asked for).
      return atLeast(versionOf(device), '16.1') ? PR.AccountOnlyRemoteWipe() : undefined;
    }
    return PR.RemoteWipe();
  }

  function versionOf(device: Device) {
    return device.protocolVersion ?? '2.5';
  }

  async function acknowledgeWipe(device: Device, ack: WbxmlElement): Promise<Result> {
    const accountOnly = ack.name === 'AccountOnlyRemoteWipe';
    const expected = device.wipe.kind === 'account-only';
    if (device.wipe.state === 'none' || accountOnly !== expected)
      return answer(ProvisionStatus.ProtocolError);
    let status: number | undefined;
    try {
      status = ack.intOf('Status');
    } catch {
      status = undefined;
    }
    if (status === WipeAcknowledgement.Succeeded) {
      if (device.wipe.state !== 'acknowledged') {
        await services.devices.updateDevice(device.user, device.deviceId, {
          wipe: { ...device.wipe, state: 'acknowledged', acknowledgedAt: now() },
        });
      }
      return answer(ProvisionStatus.Success);
    }
    if (status === WipeAcknowledgement.Failed) {
      // The device could not wipe: say so and repeat the directive (MS-ASPROV 3.2.5.1.2.2).
      return answer(
        ProvisionStatus.ProtocolError,
        null,
        accountOnly ? PR.AccountOnlyRemoteWipe() : PR.RemoteWipe(),
      );
    }
    return answer(ProvisionStatus.ProtocolError);
  }

  async function download(device: Device, policyType: string, informationStatus: WbxmlElement | null) {
    const document = await services.devices.resolvePolicy(device.user);
    const settings: PolicySettings = (document ?? defaultPolicy).settings as PolicySettings;
    const temporary = generatePolicyKey(device.policyKey);
    // The version sent is the one the final key will stand for, even if the policy changes before the
    // acknowledgement (the device then provisions once more).
    await services.devices.updateDevice(device.user, device.deviceId, {
      pendingPolicyKey: temporary,
      pendingPolicyVersion: currentPolicyVersion(document),
      policyState: 'pending',
    });
    return policyAnswer(
      informationStatus,
      PR.PolicyType(policyType),
      PR.Status(PolicyStatus.Success),
      PR.PolicyKey(String(temporary)),
      renderPolicyData(settings, versionOf(device)),
    );
  }

  async function acknowledge(
    device: Device,
    policy: WbxmlElement,
    policyType: string,
    key: string,
    informationStatus: WbxmlElement | null,
  ): Promise<Result> {
    const wrongKey = () =>
      policyAnswer(informationStatus, PR.PolicyType(policyType), PR.Status(PolicyStatus.WrongPolicyKey));
    const temporary = /^\d{1,10}$/.test(key) ? Number(key) : undefined;
    if (
      temporary === undefined ||
      device.pendingPolicyKey === undefined ||
      temporary !== device.pendingPolicyKey
    ) {
      return wrongKey();
    }
    let status: number | undefined;
    try {
      status = policy.intOf('Status');
    } catch {
      status = undefined;
    }
    if (status === undefined) return answer(ProvisionStatus.ProtocolError, informationStatus);
    const document = await services.devices.resolvePolicy(device.user);
    if (!accept(status, device, document)) {
      await services.devices.updateDevice(device.user, device.deviceId, {
        pendingPolicyKey: null,
        pendingPolicyVersion: null,
      });
      if (!atLeast(versionOf(device), '14.0')) {
        throw new EasHttpError(403, `device did not apply the policy (status ${status})`);
      }
      return answer(ProvisionStatus.PartialComplianceRefused, informationStatus);
    }
    const final = generatePolicyKey(temporary);
    try {
      await services.devices.updateDevice(
        device.user,
        device.deviceId,
        {
          policyKey: final,
          policyState: 'provisioned',
          pendingPolicyKey: null,
          policyVersion: device.pendingPolicyVersion ?? currentPolicyVersion(document),
          pendingPolicyVersion: null,
        },
        { pendingPolicyKey: temporary },
      );
    } catch (error) {
      // Another request finished (or restarted) the flow with this key in between.
      if (error instanceof DeviceConflictError) return wrongKey();
      throw error;
    }
    return policyAnswer(
      informationStatus,
      PR.PolicyType(policyType),
      PR.Status(PolicyStatus.Success),
      PR.PolicyKey(String(final)),
    );
  }
}
