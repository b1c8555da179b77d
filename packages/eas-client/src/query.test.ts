import { describe, expect, it } from 'vitest';
import { CLIENT_VERSIONS, compareVersions, negotiateVersion } from './protocol.js';
import { base64Query, plainQuery } from './query.js';

// shared/eas/vectors/07_ashttp_base64_query.hex: 14.0, Sync, en-US, DeviceId v140Device, no key, SmartPhone.
const vector = '8C 00 09 04 0A 76 31 34 30 44 65 76 69 63 65 00 0A 53 6D 61 72 74 50 68 6F 6E 65';

describe('request URIs', () => {
  it('writes the plain form with Cmd, User, DeviceId, DeviceType first and escapes values', () => {
    expect(
      plainQuery(
        { command: 'SmartReply', user: 'DOMAIN\\jane doe', deviceId: 'ABC123', deviceType: 'iPhone' },
        { collectionId: 'f1', itemId: 'i&2', saveInSent: true },
      ),
    ).toBe(
      'Cmd=SmartReply&User=DOMAIN%5Cjane%20doe&DeviceId=ABC123&DeviceType=iPhone&CollectionId=f1&ItemId=i%262&SaveInSent=T',
    );
  });

  it('writes the base64 form byte for byte as the golden vector (14.0 Sync, en-US, no key)', () => {
    const expected = Buffer.from(vector.replace(/\s+/g, ''), 'hex');
    const query = base64Query({
      command: 'Sync',
      user: '',
      deviceId: 'v140Device',
      deviceType: 'SmartPhone',
      version: '14.0',
    });
    expect(Buffer.from(query, 'base64')).toEqual(expected);
  });

  it('puts the policy key little-endian, the options bits and the user in the base64 form', () => {
    const bytes = Buffer.from(
      base64Query(
        {
          command: 'SendMail',
          user: 'jane',
          deviceId: 'D',
          deviceType: 'T',
          version: '16.1',
          policyKey: '3942919513',
        },
        { saveInSent: true },
      ),
      'base64',
    );
    const key = Buffer.alloc(4);
    key.writeUInt32LE(3942919513);
    expect([...bytes]).toEqual([
      161,
      1,
      0x09,
      0x04,
      1,
      0x44,
      4,
      ...key,
      1,
      0x54,
      7,
      1,
      1,
      8,
      4,
      ...Buffer.from('jane'),
    ]);
  });

  it('refuses fields longer than one length byte allows', () => {
    expect(() =>
      base64Query({ command: 'Sync', user: '', deviceId: 'x'.repeat(256), deviceType: 'T', version: '14.1' }),
    ).toThrow(RangeError);
  });
});

describe('version negotiation', () => {
  it('picks the highest common version, capped by the preferred one', () => {
    expect(negotiateVersion(['2.5', '12.0', '12.1', '14.0', '14.1', '16.0', '16.1'])).toBe('16.1');
    expect(negotiateVersion(['2.5', '12.0', '12.1', '14.0', '14.1'], '16.1')).toBe('14.1');
    expect(negotiateVersion(['2.5', '12.1', '14.1', '16.1'], '14.0')).toBe('12.1');
    expect(negotiateVersion(['1.0', '2.0'])).toBeUndefined();
    expect(negotiateVersion(['16.1'], '14.1')).toBeUndefined();
  });

  it('orders versions numerically', () => {
    expect([...CLIENT_VERSIONS].sort(compareVersions)).toEqual([...CLIENT_VERSIONS]);
    expect(compareVersions('12.1', '2.5')).toBeGreaterThan(0);
  });
});
