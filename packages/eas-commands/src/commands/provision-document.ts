import {
  POLICY_SETTING_LIST,
  type PolicySettingSpec,
  type PolicySettings,
  type ProtocolVersion,
} from '@easkit/policy';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { atLeast } from '../http/protocol-version.js';

const { Provision: PR } = eas;

/** The PolicyType a device asks for: the WAP XML form in 2.5, the WBXML document from 12.0 (MS-ASPROV 2.2.2.43). */
export const PolicyType = {
  WapXml: 'MS-WAP-Provisioning-XML',
  EasWbxml: 'MS-EAS-Provisioning-WBXML',
} as const;
export type PolicyType = (typeof PolicyType)[keyof typeof PolicyType];

/** The PolicyType that belongs to a protocol version. */
export function policyTypeFor(version: ProtocolVersion): PolicyType {
  return version === '2.5' ? PolicyType.WapXml : PolicyType.EasWbxml;
}

/**
 * The settings an EASProvisionDoc carries in `version`: every one the policy table says exists by then, in
 * code-page order. Empty for 2.5, which has no EASProvisionDoc.
 *
 * The table's `since` is the authority here (MS-ASPROV 2.2.2.x "Protocol Versions"): MS-ASPROV 2.2.2.32, for
 * one, lists MaxDevicePasswordFailedAttempts as supported in 16.0 and 16.1, although the wbxml code page data
 * marks that tag (and MaxCalendarAgeFilter) `until: '16.0'`.
 */
export function settingsInVersion(version: ProtocolVersion): PolicySettingSpec[] {
  if (version === '2.5') return [];
  return POLICY_SETTING_LIST.filter((spec) => atLeast(version, spec.since));
}

function settingElement(spec: PolicySettingSpec, value: PolicySettings[keyof PolicySettings]): WbxmlElement {
  const build = (PR as Record<string, (...content: unknown[]) => WbxmlElement>)[spec.tag];
  if (!build) throw new Error(`no Provision tag ${spec.tag}`);
  switch (spec.type.kind) {
    case 'boolean':
      return build(value ? '1' : '0');
    case 'integer':
    case 'enum':
      // null: sent empty, which MS-ASPROV reads as "no limit" for the nullable settings.
      return value === null ? build() : build(String(value));
    case 'list': {
      const item = (PR as Record<string, (...content: unknown[]) => WbxmlElement>)[spec.type.item]!;
      return build(((value as string[]) ?? []).map((entry) => item(entry)));
    }
  }
}

/**
 * The `EASProvisionDoc` (MS-ASPROV 2.2.2.28) for a 12.0+ device: every setting valid in `version`, in
 * code-page order, each with the policy's value.
 */
export function renderEasProvisionDoc(settings: PolicySettings, version: ProtocolVersion): WbxmlElement {
  return PR.EASProvisionDoc(
    settingsInVersion(version).map((spec) => settingElement(spec, settings[spec.name])),
  );
}

// The Windows Mobile registry branches and SecurityPolicy ids the 2.5 document addresses (MS-ASPROV 2.2.2.24.2).
const LASSD = 'HKLM\\Comm\\Security\\Policy\\LASSD';
const INACTIVITY = `${LASSD}\\AE\\{50C13377-C66D-400C-889E-C316FC4AB374}`;
const PASSWORD = `${LASSD}\\LAP\\lap_pw`;
/** SecurityPolicy 4131: 0 requires a device password, 1 does not. */
const PASSWORD_REQUIRED_POLICY = '4131';

function escapeAttribute(value: string): string {
  return value
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

function parm(name: string, value: string | number): string {
  return `<parm name="${escapeAttribute(name)}" value="${escapeAttribute(String(value))}"/>`;
}

function characteristic(type: string, body: string): string {
  return `<characteristic type="${escapeAttribute(type)}">${body}</characteristic>`;
}

/**
 * The 2.5 policy document: a `wap-provisioningdoc` (the Windows Mobile provisioning XML) sent as the text of
 * the Data element. 2.5 devices know only the password rules, so only those are mapped: password required,
 * the inactivity lock (whole minutes), the failed-attempt wipe threshold, the minimum length and whether
 * a simple PIN is enough. Settings the policy leaves unset are left out.
 */
export function renderWapProvisioningXml(settings: PolicySettings): string {
  const required = settings.devicePasswordEnabled;
  const registry: string[] = [];
  const lock = settings.maxInactivityTimeDeviceLock;
  // 9999 seconds or more, or nothing, means no inactivity lock (MS-ASPROV 2.2.2.36).
  if (required && lock !== null && lock < 9999) {
    registry.push(
      characteristic(
        INACTIVITY,
        parm('AEFrequencyType', 1) + parm('AEFrequencyValue', Math.max(1, Math.ceil(lock / 60))),
      ),
    );
  }
  if (required && settings.maxDevicePasswordFailedAttempts !== null) {
    registry.push(
      characteristic(LASSD, parm('DeviceWipeThreshold', settings.maxDevicePasswordFailedAttempts)),
    );
  }
  if (required) {
    registry.push(
      characteristic(PASSWORD, parm('MinimumPasswordLength', settings.minDevicePasswordLength ?? 1)),
      // 0: an alphanumeric password is required; 2: a simple numeric PIN is enough.
      characteristic(
        PASSWORD,
        parm('PasswordComplexity', settings.alphanumericDevicePasswordRequired ? 0 : 2),
      ),
    );
  }
  return (
    '<wap-provisioningdoc>' +
    characteristic('SecurityPolicy', parm(PASSWORD_REQUIRED_POLICY, required ? 0 : 1)) +
    (registry.length > 0 ? characteristic('Registry', registry.join('')) : '') +
    '</wap-provisioningdoc>'
  );
}

/** The Data element of a first-phase response: the WAP XML as text in 2.5, the EASProvisionDoc from 12.0. */
export function renderPolicyData(settings: PolicySettings, version: ProtocolVersion): WbxmlElement {
  return version === '2.5'
    ? PR.Data(renderWapProvisioningXml(settings))
    : PR.Data(renderEasProvisionDoc(settings, version));
}
