import { defaultPolicySettings, POLICY_SETTING_LIST, policySettings } from '@easkit/policy';
import { decode, encode } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import {
  PolicyType,
  policyTypeFor,
  renderEasProvisionDoc,
  renderPolicyData,
  renderWapProvisioningXml,
  settingsInVersion,
} from './provision-document.js';

describe('settingsInVersion', () => {
  it('2.5 has no EASProvisionDoc; 12.0 has the 12.0 subset; 12.1 and later every setting', () => {
    expect(settingsInVersion('2.5')).toEqual([]);
    const v120 = settingsInVersion('12.0').map((spec) => spec.name);
    expect(v120).toEqual(
      POLICY_SETTING_LIST.filter((spec) => spec.since === '12.0').map((spec) => spec.name),
    );
    expect(v120).toContain('maxDevicePasswordFailedAttempts');
    expect(v120).not.toContain('allowCamera');
    for (const version of ['12.1', '14.0', '14.1', '16.0', '16.1'] as const) {
      expect(settingsInVersion(version)).toHaveLength(POLICY_SETTING_LIST.length);
    }
  });

  it('PolicyType follows the version', () => {
    expect(policyTypeFor('2.5')).toBe(PolicyType.WapXml);
    for (const version of ['12.0', '14.1', '16.1'] as const)
      expect(policyTypeFor(version)).toBe(PolicyType.EasWbxml);
  });
});

describe('renderEasProvisionDoc', () => {
  it('sends booleans as 0/1, unset limits empty, lists as child elements, and survives a WBXML round trip', () => {
    const settings = policySettings({
      devicePasswordEnabled: true,
      minDevicePasswordLength: 8,
      maxAttachmentSize: null,
      allowBluetooth: 1,
      maxEmailBodyTruncationSize: -1,
      unapprovedInRomApplicationList: ['Games', 'Solitaire'],
    });
    const document = decode(encode(renderEasProvisionDoc(settings, '16.1')));
    expect(document.name).toBe('EASProvisionDoc');
    expect(document.textOf('DevicePasswordEnabled')).toBe('1');
    expect(document.textOf('AllowSimpleDevicePassword')).toBe('1');
    expect(document.textOf('MinDevicePasswordLength')).toBe('8');
    expect(document.textOf('MaxAttachmentSize')).toBe('');
    expect(document.textOf('AllowBluetooth')).toBe('1');
    expect(document.textOf('MaxEmailBodyTruncationSize')).toBe('-1');
    expect(document.textOf('MaxDevicePasswordFailedAttempts')).toBe('');
    expect(
      document
        .child('UnapprovedInROMApplicationList')
        ?.all('ApplicationName')
        .map((name) => name.text),
    ).toEqual(['Games', 'Solitaire']);
    expect(document.child('ApprovedApplicationList')?.children).toEqual([]);
  });

  it('a 12.0 document leaves out the settings 12.1 introduced', () => {
    const document = renderEasProvisionDoc(defaultPolicySettings(), '12.0');
    expect(document.has('AllowCamera')).toBe(false);
    expect(document.has('DevicePasswordEnabled')).toBe(true);
  });
});

describe('renderWapProvisioningXml (2.5)', () => {
  it('without a password: only the SecurityPolicy saying none is required', () => {
    expect(renderWapProvisioningXml(defaultPolicySettings())).toBe(
      '<wap-provisioningdoc><characteristic type="SecurityPolicy"><parm name="4131" value="1"/></characteristic></wap-provisioningdoc>',
    );
  });

  it('maps the password rules onto the registry branches', () => {
    const xml = renderWapProvisioningXml(
      policySettings({
        devicePasswordEnabled: true,
        minDevicePasswordLength: null,
        maxInactivityTimeDeviceLock: 61,
        maxDevicePasswordFailedAttempts: null,
      }),
    );
    expect(xml).toContain('<parm name="4131" value="0"/>');
    expect(xml).toContain(
      '<parm name="AEFrequencyType" value="1"/><parm name="AEFrequencyValue" value="2"/>',
    );
    expect(xml).toContain('<parm name="MinimumPasswordLength" value="1"/>');
    expect(xml).toContain('<parm name="PasswordComplexity" value="2"/>');
    expect(xml).not.toContain('DeviceWipeThreshold');
    expect(xml).toContain('type="HKLM\\Comm\\Security\\Policy\\LASSD\\LAP\\lap_pw"');
  });

  it('an inactivity lock of 9999 seconds or more means none', () => {
    const xml = renderWapProvisioningXml(
      policySettings({ devicePasswordEnabled: true, maxInactivityTimeDeviceLock: 9999 }),
    );
    expect(xml).not.toContain('AEFrequency');
  });

  it('renderPolicyData wraps the XML as the text of Data in 2.5 and the document from 12.0', () => {
    expect(typeof renderPolicyData(defaultPolicySettings(), '2.5').text).toBe('string');
    expect(renderPolicyData(defaultPolicySettings(), '14.1').child('EASProvisionDoc')).toBeDefined();
  });
});
