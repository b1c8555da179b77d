/**
 * The settings of an EAS provisioning document (the `EASProvisionDoc` of MS-ASPROV 2.2.2.28), as data.
 *
 * Each setting has a plain TypeScript name (camelCase) and the tag name it is sent as. `null` stands for the
 * element sent empty, which MS-ASPROV reads as "not set by the policy" (no limit).
 */

/** The EAS protocol versions easkit speaks. */
export type ProtocolVersion = '2.5' | '12.0' | '12.1' | '14.0' | '14.1' | '16.0' | '16.1';

export const PROTOCOL_VERSIONS: readonly ProtocolVersion[] = [
  '2.5',
  '12.0',
  '12.1',
  '14.0',
  '14.1',
  '16.0',
  '16.1',
];

/** MaxCalendarAgeFilter: 0 all, 4 two weeks, 5 one month, 6 three months, 7 six months (MS-ASPROV 2.2.2.31). */
export type CalendarAgeFilter = 0 | 4 | 5 | 6 | 7;
/** MaxEmailAgeFilter: 0 all, 1 one day, 2 three days, 3 one week, 4 two weeks, 5 one month (MS-ASPROV 2.2.2.33). */
export type EmailAgeFilter = 0 | 1 | 2 | 3 | 4 | 5;
/** AllowBluetooth: 0 not allowed, 1 hands-free only, 2 allowed. */
export type BluetoothMode = 0 | 1 | 2;
/** RequireSignedSMIMEAlgorithm: 0 SHA-1, 1 MD5. */
export type SmimeSigningAlgorithm = 0 | 1;
/** RequireEncryptionSMIMEAlgorithm: 0 TripleDES, 1 DES, 2 RC2 128-bit, 3 RC2 64-bit, 4 RC2 40-bit. */
export type SmimeEncryptionAlgorithm = 0 | 1 | 2 | 3 | 4;
/** AllowSMIMEEncryptionAlgorithmNegotiation: 0 not allowed, 1 strong algorithms only, 2 any algorithm. */
export type SmimeNegotiation = 0 | 1 | 2;

/** Every setting of an EASProvisionDoc. Devices on 12.0 receive only the 12.0 subset (see `since` in the table). */
export interface PolicySettings {
  devicePasswordEnabled: boolean;
  alphanumericDevicePasswordRequired: boolean;
  passwordRecoveryEnabled: boolean;
  requireStorageCardEncryption: boolean;
  attachmentsEnabled: boolean;
  /** 1-16 characters; null (or 1) means no minimum. */
  minDevicePasswordLength: number | null;
  /** Seconds; 9999 or more means unlimited, null means not set. */
  maxInactivityTimeDeviceLock: number | null;
  /** 4-16; null means no limit. */
  maxDevicePasswordFailedAttempts: number | null;
  /** Bytes; null means no limit. */
  maxAttachmentSize: number | null;
  allowSimpleDevicePassword: boolean;
  /** Days; 0 or null means passwords do not expire. */
  devicePasswordExpiration: number | null;
  /** How many earlier passwords the device remembers; 0 means none. */
  devicePasswordHistory: number;
  allowStorageCard: boolean;
  allowCamera: boolean;
  requireDeviceEncryption: boolean;
  allowUnsignedApplications: boolean;
  allowUnsignedInstallationPackages: boolean;
  /** 1-4 character groups (lower case, upper case, digits, other) the password must contain. */
  minDevicePasswordComplexCharacters: number;
  allowWiFi: boolean;
  allowTextMessaging: boolean;
  allowPopImapEmail: boolean;
  allowBluetooth: BluetoothMode;
  allowIrDA: boolean;
  requireManualSyncWhenRoaming: boolean;
  allowDesktopSync: boolean;
  maxCalendarAgeFilter: CalendarAgeFilter;
  allowHtmlEmail: boolean;
  maxEmailAgeFilter: EmailAgeFilter;
  /** Kilobytes; -1 no truncation, 0 headers only. */
  maxEmailBodyTruncationSize: number;
  /** Kilobytes; -1 no truncation, 0 headers only. */
  maxEmailHtmlBodyTruncationSize: number;
  requireSignedSmimeMessages: boolean;
  requireEncryptedSmimeMessages: boolean;
  requireSignedSmimeAlgorithm: SmimeSigningAlgorithm;
  requireEncryptionSmimeAlgorithm: SmimeEncryptionAlgorithm;
  allowSmimeEncryptionAlgorithmNegotiation: SmimeNegotiation;
  allowSmimeSoftCerts: boolean;
  allowBrowser: boolean;
  allowConsumerEmail: boolean;
  allowRemoteDesktop: boolean;
  allowInternetSharing: boolean;
  /** In-ROM applications that may not run, by name (sent as `ApplicationName` children). */
  unapprovedInRomApplicationList: string[];
  /** Applications that may run, by SHA-1 hash of the file (sent as `Hash` children). */
  approvedApplicationList: string[];
}

export type PolicySettingName = keyof PolicySettings;

/** How a setting's value is typed and bounded. */
export type PolicySettingType =
  | { kind: 'boolean' }
  /** An integer in [min, max]; `nullable` when the element may be sent empty. */
  | { kind: 'integer'; min: number; max: number; nullable: boolean; unit?: string }
  /** One of a fixed set of integers, each with its meaning. */
  | { kind: 'enum'; values: Readonly<Record<number, string>> }
  /** A list of strings, each sent as one child element named `item`. */
  | { kind: 'list'; item: 'ApplicationName' | 'Hash' };

export interface PolicySettingSpec<Name extends PolicySettingName = PolicySettingName> {
  readonly name: Name;
  /** The element name in the Provision code page (14). */
  readonly tag: string;
  readonly type: PolicySettingType;
  /** The value `defaultPolicy` uses: what a server offers when the administrator set nothing. */
  readonly default: PolicySettings[Name];
  /** The first protocol version whose EASProvisionDoc carries the setting. */
  readonly since: ProtocolVersion;
  /** The MS-ASPROV section that defines it. */
  readonly section: string;
}

const UINT32_MAX = 0xffff_ffff;
const bool = { kind: 'boolean' } as const;
const int = (min: number, max: number, nullable: boolean, unit?: string): PolicySettingType => ({
  kind: 'integer',
  min,
  max,
  nullable,
  ...(unit ? { unit } : {}),
});
const truncation = int(-1, 2_147_483_647, false, 'kilobytes');

/** Every EASProvisionDoc setting, in tag order (MS-ASWBXML code page 14). Checked against MS-ASPROV 2.2.2. */
export const POLICY_SETTINGS: { readonly [Name in PolicySettingName]: PolicySettingSpec<Name> } = {
  devicePasswordEnabled: {
    name: 'devicePasswordEnabled',
    tag: 'DevicePasswordEnabled',
    type: bool,
    default: false,
    since: '12.0',
    section: '2.2.2.25',
  },
  alphanumericDevicePasswordRequired: {
    name: 'alphanumericDevicePasswordRequired',
    tag: 'AlphanumericDevicePasswordRequired',
    type: bool,
    default: false,
    since: '12.0',
    section: '2.2.2.20',
  },
  requireStorageCardEncryption: {
    name: 'requireStorageCardEncryption',
    tag: 'RequireStorageCardEncryption',
    type: bool,
    default: false,
    since: '12.1',
    section: '2.2.2.52',
  },
  passwordRecoveryEnabled: {
    name: 'passwordRecoveryEnabled',
    tag: 'PasswordRecoveryEnabled',
    type: bool,
    default: false,
    since: '12.0',
    section: '2.2.2.39',
  },
  attachmentsEnabled: {
    name: 'attachmentsEnabled',
    tag: 'AttachmentsEnabled',
    type: bool,
    default: true,
    since: '12.0',
    section: '2.2.2.23',
  },
  minDevicePasswordLength: {
    name: 'minDevicePasswordLength',
    tag: 'MinDevicePasswordLength',
    type: int(1, 16, true, 'characters'),
    default: null,
    since: '12.0',
    section: '2.2.2.38',
  },
  maxInactivityTimeDeviceLock: {
    name: 'maxInactivityTimeDeviceLock',
    tag: 'MaxInactivityTimeDeviceLock',
    type: int(0, UINT32_MAX, true, 'seconds'),
    default: null,
    since: '12.0',
    section: '2.2.2.36',
  },
  maxDevicePasswordFailedAttempts: {
    name: 'maxDevicePasswordFailedAttempts',
    tag: 'MaxDevicePasswordFailedAttempts',
    type: int(4, 16, true, 'attempts'),
    default: null,
    since: '12.0',
    section: '2.2.2.32',
  },
  maxAttachmentSize: {
    name: 'maxAttachmentSize',
    tag: 'MaxAttachmentSize',
    type: int(0, UINT32_MAX, true, 'bytes'),
    default: null,
    since: '12.0',
    section: '2.2.2.30',
  },
  allowSimpleDevicePassword: {
    name: 'allowSimpleDevicePassword',
    tag: 'AllowSimpleDevicePassword',
    type: bool,
    default: true,
    since: '12.0',
    section: '2.2.2.12',
  },
  devicePasswordExpiration: {
    name: 'devicePasswordExpiration',
    tag: 'DevicePasswordExpiration',
    type: int(0, UINT32_MAX, true, 'days'),
    default: null,
    since: '12.0',
    section: '2.2.2.26',
  },
  devicePasswordHistory: {
    name: 'devicePasswordHistory',
    tag: 'DevicePasswordHistory',
    type: int(0, UINT32_MAX, false, 'passwords'),
    default: 0,
    since: '12.0',
    section: '2.2.2.27',
  },
  allowStorageCard: {
    name: 'allowStorageCard',
    tag: 'AllowStorageCard',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.15',
  },
  allowCamera: {
    name: 'allowCamera',
    tag: 'AllowCamera',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.4',
  },
  requireDeviceEncryption: {
    name: 'requireDeviceEncryption',
    tag: 'RequireDeviceEncryption',
    type: bool,
    default: false,
    since: '12.1',
    section: '2.2.2.46',
  },
  allowUnsignedApplications: {
    name: 'allowUnsignedApplications',
    tag: 'AllowUnsignedApplications',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.17',
  },
  allowUnsignedInstallationPackages: {
    name: 'allowUnsignedInstallationPackages',
    tag: 'AllowUnsignedInstallationPackages',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.18',
  },
  minDevicePasswordComplexCharacters: {
    name: 'minDevicePasswordComplexCharacters',
    tag: 'MinDevicePasswordComplexCharacters',
    type: int(1, 4, false, 'character groups'),
    default: 1,
    since: '12.1',
    section: '2.2.2.37',
  },
  // MS-ASPROV 2.2.2.19 spells the element AllowWifi; the tag here follows the MS-ASWBXML code page as
  // @easkit/wbxml names it (token 0x21). Only XML renderings see the spelling, WBXML sends the token.
  allowWiFi: {
    name: 'allowWiFi',
    tag: 'AllowWiFi',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.19',
  },
  allowTextMessaging: {
    name: 'allowTextMessaging',
    tag: 'AllowTextMessaging',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.16',
  },
  allowPopImapEmail: {
    name: 'allowPopImapEmail',
    tag: 'AllowPOPIMAPEmail',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.10',
  },
  allowBluetooth: {
    name: 'allowBluetooth',
    tag: 'AllowBluetooth',
    type: { kind: 'enum', values: { 0: 'not allowed', 1: 'hands-free only', 2: 'allowed' } },
    default: 2,
    since: '12.1',
    section: '2.2.2.2',
  },
  allowIrDA: {
    name: 'allowIrDA',
    tag: 'AllowIrDA',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.9',
  },
  requireManualSyncWhenRoaming: {
    name: 'requireManualSyncWhenRoaming',
    tag: 'RequireManualSyncWhenRoaming',
    type: bool,
    default: false,
    since: '12.1',
    section: '2.2.2.49',
  },
  allowDesktopSync: {
    name: 'allowDesktopSync',
    tag: 'AllowDesktopSync',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.6',
  },
  maxCalendarAgeFilter: {
    name: 'maxCalendarAgeFilter',
    tag: 'MaxCalendarAgeFilter',
    type: {
      kind: 'enum',
      values: { 0: 'all', 4: 'two weeks', 5: 'one month', 6: 'three months', 7: 'six months' },
    },
    default: 0,
    since: '12.1',
    section: '2.2.2.31',
  },
  allowHtmlEmail: {
    name: 'allowHtmlEmail',
    tag: 'AllowHTMLEmail',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.7',
  },
  maxEmailAgeFilter: {
    name: 'maxEmailAgeFilter',
    tag: 'MaxEmailAgeFilter',
    type: {
      kind: 'enum',
      values: { 0: 'all', 1: 'one day', 2: 'three days', 3: 'one week', 4: 'two weeks', 5: 'one month' },
    },
    default: 0,
    since: '12.1',
    section: '2.2.2.33',
  },
  maxEmailBodyTruncationSize: {
    name: 'maxEmailBodyTruncationSize',
    tag: 'MaxEmailBodyTruncationSize',
    type: truncation,
    default: -1,
    since: '12.1',
    section: '2.2.2.34',
  },
  maxEmailHtmlBodyTruncationSize: {
    name: 'maxEmailHtmlBodyTruncationSize',
    tag: 'MaxEmailHTMLBodyTruncationSize',
    type: truncation,
    default: -1,
    since: '12.1',
    section: '2.2.2.35',
  },
  requireSignedSmimeMessages: {
    name: 'requireSignedSmimeMessages',
    tag: 'RequireSignedSMIMEMessages',
    type: bool,
    default: false,
    since: '12.1',
    section: '2.2.2.51',
  },
  requireEncryptedSmimeMessages: {
    name: 'requireEncryptedSmimeMessages',
    tag: 'RequireEncryptedSMIMEMessages',
    type: bool,
    default: false,
    since: '12.1',
    section: '2.2.2.47',
  },
  requireSignedSmimeAlgorithm: {
    name: 'requireSignedSmimeAlgorithm',
    tag: 'RequireSignedSMIMEAlgorithm',
    type: { kind: 'enum', values: { 0: 'SHA-1', 1: 'MD5' } },
    default: 0,
    since: '12.1',
    section: '2.2.2.50',
  },
  requireEncryptionSmimeAlgorithm: {
    name: 'requireEncryptionSmimeAlgorithm',
    tag: 'RequireEncryptionSMIMEAlgorithm',
    type: {
      kind: 'enum',
      values: { 0: 'TripleDES', 1: 'DES', 2: 'RC2 128-bit', 3: 'RC2 64-bit', 4: 'RC2 40-bit' },
    },
    default: 0,
    since: '12.1',
    section: '2.2.2.48',
  },
  allowSmimeEncryptionAlgorithmNegotiation: {
    name: 'allowSmimeEncryptionAlgorithmNegotiation',
    tag: 'AllowSMIMEEncryptionAlgorithmNegotiation',
    type: { kind: 'enum', values: { 0: 'not allowed', 1: 'strong algorithms only', 2: 'any algorithm' } },
    default: 2,
    since: '12.1',
    section: '2.2.2.13',
  },
  allowSmimeSoftCerts: {
    name: 'allowSmimeSoftCerts',
    tag: 'AllowSMIMESoftCerts',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.14',
  },
  allowBrowser: {
    name: 'allowBrowser',
    tag: 'AllowBrowser',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.3',
  },
  allowConsumerEmail: {
    name: 'allowConsumerEmail',
    tag: 'AllowConsumerEmail',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.5',
  },
  allowRemoteDesktop: {
    name: 'allowRemoteDesktop',
    tag: 'AllowRemoteDesktop',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.11',
  },
  allowInternetSharing: {
    name: 'allowInternetSharing',
    tag: 'AllowInternetSharing',
    type: bool,
    default: true,
    since: '12.1',
    section: '2.2.2.8',
  },
  unapprovedInRomApplicationList: {
    name: 'unapprovedInRomApplicationList',
    tag: 'UnapprovedInROMApplicationList',
    type: { kind: 'list', item: 'ApplicationName' },
    default: [],
    since: '12.1',
    section: '2.2.2.54',
  },
  approvedApplicationList: {
    name: 'approvedApplicationList',
    tag: 'ApprovedApplicationList',
    type: { kind: 'list', item: 'Hash' },
    default: [],
    since: '12.1',
    section: '2.2.2.22',
  },
};

/** The settings in tag order, for iteration. */
export const POLICY_SETTING_LIST: readonly PolicySettingSpec[] = Object.values(POLICY_SETTINGS);

/** A fresh copy of the default settings: no password, nothing restricted, nothing truncated. */
export function defaultPolicySettings(): PolicySettings {
  const settings: Record<string, unknown> = {};
  for (const spec of POLICY_SETTING_LIST) {
    settings[spec.name] = Array.isArray(spec.default) ? [...spec.default] : spec.default;
  }
  return settings as unknown as PolicySettings;
}

/** The default settings with some of them replaced; the usual way to write a policy. */
export function policySettings(overrides: Partial<PolicySettings> = {}): PolicySettings {
  return { ...defaultPolicySettings(), ...overrides };
}

/**
 * The policy a server offers when the administrator has written none: the default settings, id `default`,
 * version 1. A frozen constant; build your own documents with `policySettings(...)` and `putPolicy`.
 */
export const defaultPolicy: Readonly<{
  id: string;
  name: string;
  settings: Readonly<PolicySettings>;
  version: number;
}> = Object.freeze({
  id: 'default',
  name: 'Default policy',
  settings: Object.freeze(freezeLists(defaultPolicySettings())),
  version: 1,
});

function freezeLists(settings: PolicySettings): PolicySettings {
  Object.freeze(settings.unapprovedInRomApplicationList);
  Object.freeze(settings.approvedApplicationList);
  return settings;
}
