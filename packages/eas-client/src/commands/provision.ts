import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast, policyTypeFor } from '../protocol.js';
import { intOf } from './items.js';

const { Provision: PR, Settings: ST } = eas;

/** What a device tells about itself (Settings:DeviceInformation, sent with Provision from 14.1 on). */
export interface DeviceInformation {
  model?: string;
  imei?: string;
  friendlyName?: string;
  os?: string;
  osLanguage?: string;
  phoneNumber?: string;
  mobileOperator?: string;
  userAgent?: string;
}

export interface ProvisionResult {
  /** Provision Status (1 success, 2 protocol error, 3 server error, 139 partial compliance refused). */
  status: number;
  /** Policy Status (1 success, 2 no policy, 3 unknown type, 4 corrupt, 5 wrong key). */
  policyStatus?: number;
  policyType?: string;
  policyKey?: string;
  /** 12.0+: the EASProvisionDoc settings by name (`DevicePasswordEnabled` → `'0'`). */
  settings?: Record<string, string>;
  /** 2.5: the wap-provisioningdoc XML text. */
  wapDocument?: string;
  /** The server ordered a wipe instead of a policy. */
  remoteWipe?: 'device' | 'account';
  raw?: WbxmlElement;
}

export function deviceInformationElement(information: DeviceInformation): WbxmlElement {
  return ST.DeviceInformation(
    ST.Set(
      information.model !== undefined && ST.Model(information.model),
      information.imei !== undefined && ST.IMEI(information.imei),
      information.friendlyName !== undefined && ST.FriendlyName(information.friendlyName),
      information.os !== undefined && ST.OS(information.os),
      information.osLanguage !== undefined && ST.OSLanguage(information.osLanguage),
      information.phoneNumber !== undefined && ST.PhoneNumber(information.phoneNumber),
      information.mobileOperator !== undefined && ST.MobileOperator(information.mobileOperator),
      information.userAgent !== undefined && ST.UserAgent(information.userAgent),
    ),
  );
}

/** Phase 1 (MS-ASPROV 3.1.5.1.1): ask for the policy; 14.1+ sends DeviceInformation with it. */
export function policyRequest(version: string, information?: DeviceInformation): WbxmlElement {
  return PR.Provision(
    information && atLeast(version, '14.1') ? deviceInformationElement(information) : null,
    PR.Policies(PR.Policy(PR.PolicyType(policyTypeFor(version)))),
  );
}

/** Phase 2: acknowledge the temporary key with how the policy was applied (1 applied, 2 partly, ...). */
export function acknowledgementRequest(version: string, temporaryKey: string, status = 1): WbxmlElement {
  return PR.Provision(
    PR.Policies(
      PR.Policy(PR.PolicyType(policyTypeFor(version)), PR.PolicyKey(temporaryKey), PR.Status(status)),
    ),
  );
}

/** The wipe acknowledgement (MS-ASPROV 3.1.5.1.2): Status 1 wiped, 2 failed. */
export function wipeAcknowledgementRequest(kind: 'device' | 'account', succeeded: boolean): WbxmlElement {
  const status = PR.Status(succeeded ? 1 : 2);
  return PR.Provision(kind === 'account' ? PR.AccountOnlyRemoteWipe(status) : PR.RemoteWipe(status));
}

export function readProvision(body: WbxmlElement | undefined): ProvisionResult {
  if (body?.name !== 'Provision') return { status: 0 };
  const result: ProvisionResult = { status: intOf(body, 'Provision:Status') ?? 0, raw: body };
  if (body.has('Provision:AccountOnlyRemoteWipe')) result.remoteWipe = 'account';
  else if (body.has('Provision:RemoteWipe')) result.remoteWipe = 'device';
  const policy = body.child('Provision:Policies')?.child('Provision:Policy');
  if (policy) {
    const policyStatus = intOf(policy, 'Status');
    if (policyStatus !== undefined) result.policyStatus = policyStatus;
    const type = policy.textOf('PolicyType');
    if (type !== undefined) result.policyType = type;
    const key = policy.textOf('PolicyKey');
    if (key !== undefined) result.policyKey = key;
    const data = policy.child('Provision:Data');
    const document = data?.child('Provision:EASProvisionDoc');
    if (document) {
      result.settings = {};
      for (const setting of document.children) {
        if (setting.text !== undefined) result.settings[setting.name] = setting.text;
      }
    } else if (data?.text !== undefined) {
      result.wapDocument = data.text;
    }
  }
  return result;
}
