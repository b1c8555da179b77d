import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import {
  defaultPolicy,
  defaultPolicySettings,
  POLICY_SETTING_LIST,
  POLICY_SETTINGS,
  PROTOCOL_VERSIONS,
  policySettings,
} from './settings.js';
import { validatePolicy } from './validate.js';

// The EASProvisionDoc children as MS-ASPROV 2.2.2 names them, with the version that introduced each.
const SPEC: Record<string, '12.0' | '12.1'> = {
  DevicePasswordEnabled: '12.0',
  AlphanumericDevicePasswordRequired: '12.0',
  RequireStorageCardEncryption: '12.1',
  PasswordRecoveryEnabled: '12.0',
  AttachmentsEnabled: '12.0',
  MinDevicePasswordLength: '12.0',
  MaxInactivityTimeDeviceLock: '12.0',
  MaxDevicePasswordFailedAttempts: '12.0',
  MaxAttachmentSize: '12.0',
  AllowSimpleDevicePassword: '12.0',
  DevicePasswordExpiration: '12.0',
  DevicePasswordHistory: '12.0',
  AllowStorageCard: '12.1',
  AllowCamera: '12.1',
  RequireDeviceEncryption: '12.1',
  AllowUnsignedApplications: '12.1',
  AllowUnsignedInstallationPackages: '12.1',
  MinDevicePasswordComplexCharacters: '12.1',
  AllowWiFi: '12.1',
  AllowTextMessaging: '12.1',
  AllowPOPIMAPEmail: '12.1',
  AllowBluetooth: '12.1',
  AllowIrDA: '12.1',
  RequireManualSyncWhenRoaming: '12.1',
  AllowDesktopSync: '12.1',
  MaxCalendarAgeFilter: '12.1',
  AllowHTMLEmail: '12.1',
  MaxEmailAgeFilter: '12.1',
  MaxEmailBodyTruncationSize: '12.1',
  MaxEmailHTMLBodyTruncationSize: '12.1',
  RequireSignedSMIMEMessages: '12.1',
  RequireEncryptedSMIMEMessages: '12.1',
  RequireSignedSMIMEAlgorithm: '12.1',
  RequireEncryptionSMIMEAlgorithm: '12.1',
  AllowSMIMEEncryptionAlgorithmNegotiation: '12.1',
  AllowSMIMESoftCerts: '12.1',
  AllowBrowser: '12.1',
  AllowConsumerEmail: '12.1',
  AllowRemoteDesktop: '12.1',
  AllowInternetSharing: '12.1',
  UnapprovedInROMApplicationList: '12.1',
  ApprovedApplicationList: '12.1',
};

describe('POLICY_SETTINGS', () => {
  it('has every EASProvisionDoc setting, in tag order, with its first protocol version', () => {
    assert.deepEqual(
      POLICY_SETTING_LIST.map((spec) => [spec.tag, spec.since]),
      Object.entries(SPEC),
    );
  });

  it('names each setting consistently and gives each its own MS-ASPROV section', () => {
    for (const [name, spec] of Object.entries(POLICY_SETTINGS)) assert.equal(spec.name, name);
    const sections = POLICY_SETTING_LIST.map((spec) => spec.section);
    assert.equal(new Set(sections).size, sections.length);
    for (const spec of POLICY_SETTING_LIST) assert.ok(PROTOCOL_VERSIONS.includes(spec.since));
  });

  it('uses the MS-ASPROV ranges', () => {
    const range = (name: keyof typeof POLICY_SETTINGS) => {
      const type = POLICY_SETTINGS[name].type;
      assert.equal(type.kind, 'integer');
      return type.kind === 'integer' ? [type.min, type.max, type.nullable] : [];
    };
    assert.deepEqual(range('minDevicePasswordLength'), [1, 16, true]);
    assert.deepEqual(range('maxDevicePasswordFailedAttempts'), [4, 16, true]);
    assert.deepEqual(range('minDevicePasswordComplexCharacters'), [1, 4, false]);
    assert.deepEqual(range('maxEmailBodyTruncationSize').slice(0, 1), [-1]);
    const values = (name: keyof typeof POLICY_SETTINGS) => {
      const type = POLICY_SETTINGS[name].type;
      return type.kind === 'enum' ? Object.keys(type.values).map(Number) : [];
    };
    assert.deepEqual(values('maxCalendarAgeFilter'), [0, 4, 5, 6, 7]);
    assert.deepEqual(values('maxEmailAgeFilter'), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(values('allowBluetooth'), [0, 1, 2]);
    assert.deepEqual(values('requireSignedSmimeAlgorithm'), [0, 1]);
    assert.deepEqual(values('requireEncryptionSmimeAlgorithm'), [0, 1, 2, 3, 4]);
    assert.deepEqual(values('allowSmimeEncryptionAlgorithmNegotiation'), [0, 1, 2]);
  });

  it('has defaults that pass validation, handed out as fresh copies', () => {
    assert.deepEqual(validatePolicy(defaultPolicySettings()), []);
    assert.deepEqual(validatePolicy(defaultPolicy.settings), []);
    const first = defaultPolicySettings();
    first.approvedApplicationList.push('x');
    assert.deepEqual(defaultPolicySettings().approvedApplicationList, []);
    assert.ok(Object.isFrozen(defaultPolicy) && Object.isFrozen(defaultPolicy.settings));
    assert.ok(Object.isFrozen(defaultPolicy.settings.approvedApplicationList));
  });

  it('builds settings from the defaults with policySettings', () => {
    const settings = policySettings({ devicePasswordEnabled: true, minDevicePasswordLength: 6 });
    assert.equal(settings.devicePasswordEnabled, true);
    assert.equal(settings.minDevicePasswordLength, 6);
    assert.equal(settings.allowCamera, true);
    assert.deepEqual(validatePolicy(settings), []);
  });
});

describe('validatePolicy', () => {
  it('reports each kind of problem with the setting at fault', () => {
    const settings = {
      ...defaultPolicySettings(),
      minDevicePasswordLength: 17,
      maxDevicePasswordFailedAttempts: 3,
      devicePasswordEnabled: 'yes',
      devicePasswordHistory: null,
      maxCalendarAgeFilter: 3,
      maxAttachmentSize: 1.5,
      approvedApplicationList: ['', 7],
      allowTeleport: true,
    } as Record<string, unknown>;
    delete settings.allowCamera;
    const issues = validatePolicy(settings).map((issue) => [issue.code, issue.setting]);
    assert.deepEqual(
      issues.sort(),
      [
        ['bad-list-item', 'approvedApplicationList'],
        ['bad-list-item', 'approvedApplicationList'],
        ['missing', 'allowCamera'],
        ['not-allowed-value', 'maxCalendarAgeFilter'],
        ['out-of-range', 'maxDevicePasswordFailedAttempts'],
        ['out-of-range', 'minDevicePasswordLength'],
        ['unknown-setting', 'allowTeleport'],
        ['wrong-type', 'devicePasswordEnabled'],
        ['wrong-type', 'devicePasswordHistory'],
        ['wrong-type', 'maxAttachmentSize'],
      ].sort(),
    );
  });

  it('accepts null where the element may be empty and the range edges', () => {
    const settings = policySettings({
      minDevicePasswordLength: 16,
      maxDevicePasswordFailedAttempts: 4,
      maxInactivityTimeDeviceLock: 9999,
      maxEmailBodyTruncationSize: 0,
      maxEmailHtmlBodyTruncationSize: -1,
      minDevicePasswordComplexCharacters: 4,
      devicePasswordExpiration: null,
    });
    assert.deepEqual(validatePolicy(settings), []);
  });

  it('refuses what is not an object', () => {
    for (const value of [null, 5, 'x', []]) assert.equal(validatePolicy(value)[0]?.code, 'not-an-object');
  });
});
