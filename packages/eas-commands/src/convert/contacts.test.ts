import { readFileSync } from 'node:fs';
import type { ContactData, StoredItem } from '@easkit/mailbox';
import { decode, eas, type ProtocolVersion } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { TEST_VERSIONS, tagsOutsideVersion, testMailbox, throughWire } from '../../test/convert-helpers.js';
import { contactsConverter } from './contacts.js';
import { MalformedItemError } from './types.js';

const contact: ContactData = {
  firstName: 'Ada',
  middleName: 'King',
  lastName: 'Lovelace',
  suffix: 'PhD',
  title: 'Countess',
  fileAs: 'Lovelace, Ada',
  nickName: 'Ada',
  yomiFirstName: 'エイダ',
  yomiLastName: 'ラブレス',
  yomiCompanyName: 'アナリティカル',
  companyName: 'Analytical Engines Ltd',
  department: 'Research',
  jobTitle: 'Programmer',
  officeLocation: 'London',
  assistantName: 'Mary',
  managerName: 'Charles Babbage',
  customerId: 'C-1',
  governmentId: 'G-1',
  accountName: 'ada',
  spouse: 'William',
  children: ['Byron', 'Anne', 'Ralph'],
  birthday: new Date('1815-12-10T00:00:00.000Z'),
  anniversary: new Date('1835-07-08T00:00:00.000Z'),
  email1Address: '"Ada" <ada@example.com>',
  email2Address: 'ada@work.example',
  email3Address: 'ada@home.example',
  webPage: 'https://example.com/ada',
  imAddress: 'ada@im.example',
  imAddress2: 'ada2@im.example',
  imAddress3: 'ada3@im.example',
  assistantPhoneNumber: '+44 1',
  businessPhoneNumber: '+44 2',
  business2PhoneNumber: '+44 3',
  businessFaxNumber: '+44 4',
  companyMainPhone: '+44 5',
  carPhoneNumber: '+44 6',
  homePhoneNumber: '+44 7',
  home2PhoneNumber: '+44 8',
  homeFaxNumber: '+44 9',
  mobilePhoneNumber: '+44 10',
  pagerNumber: '+44 11',
  radioPhoneNumber: '+44 12',
  mms: '+44 13',
  businessAddress: { street: '1 Engine St', city: 'London', state: 'LDN', postalCode: 'W1', country: 'UK' },
  homeAddress: { street: '12 St James Sq', city: 'London' },
  otherAddress: { country: 'UK' },
  categories: ['Friends', 'Math'],
  picture: new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10]),
  body: { type: 'plain', data: 'Notes about Ada' },
  alias: 'ada',
  weightedRank: 7,
};

async function render(data: ContactData, version: ProtocolVersion) {
  const box = await testMailbox();
  const item = await box.add({ class: 'Contacts', data });
  const children = await contactsConverter.toApplicationData(item, box.context(item as StoredItem, version));
  expect(tagsOutsideVersion(children, version)).toEqual([]);
  return throughWire(children);
}

describe('Contacts converter', () => {
  for (const version of TEST_VERSIONS) {
    it(`round-trips every field at ${version}`, async () => {
      const wire = await render(contact, version);
      const parsed = contactsConverter.fromApplicationData(wire, version);
      const { alias, weightedRank, ...before14 } = contact;
      const expected = version === '2.5' || version === '12.1' ? before14 : contact;
      expect(parsed.data).toEqual(expected);
      expect([...parsed.present].sort()).toEqual(Object.keys(expected).sort());
    });
  }

  it('writes dates in the extended form and the picture as base64 text', async () => {
    const wire = await render(contact, '14.1');
    expect(wire.textOf('Contacts:Birthday')).toBe('1815-12-10T00:00:00.000Z');
    expect(wire.require('Contacts:Picture').text).toBe('/9j/4AAQ');
    expect(wire.textOf('Contacts2:NickName')).toBe('Ada');
    expect(wire.textOf('Contacts:BusinessAddressStreet')).toBe('1 Engine St');
  });

  it('decodes the MS-ASWBXML example Sync response (Add of a contact)', () => {
    const hex = readFileSync(
      new URL('../../../wbxml/test/fixtures/vectors/01_spec_sync_response_add_contact.hex', import.meta.url),
      'utf8',
    );
    const bytes = new Uint8Array(
      hex
        .trim()
        .split(/\s+/)
        .map((byte) => Number.parseInt(byte, 16)),
    );
    const applicationData = decode(bytes)
      .require('Collections')
      .require('Collection')
      .require('Commands')
      .require('Add')
      .require('ApplicationData');
    const parsed = contactsConverter.fromApplicationData(applicationData, '12.1');
    // The body was announced without data (Truncated, size 0): nothing is known about it, so it is not set.
    expect(parsed.data).toEqual({ fileAs: 'Funk, Don', firstName: 'Don', lastName: 'Funk' });
    expect([...parsed.present].sort()).toEqual(['fileAs', 'firstName', 'lastName']);
  });

  it('reads a 2.5 client Add with Contacts:Body', () => {
    const C = eas.Contacts;
    const parsed = contactsConverter.fromApplicationData(
      eas.AirSync.ApplicationData(C.FirstName('Don'), C.Body('met at the fair'), C.HomeAddressCity('')),
      '2.5',
    );
    expect(parsed.data).toEqual({ firstName: 'Don', body: { type: 'plain', data: 'met at the fair' } });
    expect(parsed.present.has('homeAddress')).toBe(true);
  });

  it('maps Supported tags to fields, address parts to their address', () => {
    expect(contactsConverter.fieldOfTag('Contacts', 'MobilePhoneNumber')).toBe('mobilePhoneNumber');
    expect(contactsConverter.fieldOfTag('Contacts2', 'MMS')).toBe('mms');
    expect(contactsConverter.fieldOfTag('Contacts', 'HomeAddressCity')).toBe('homeAddress');
    expect(contactsConverter.fieldOfTag('Contacts', 'Children')).toBe('children');
    expect(contactsConverter.fieldOfTag('Contacts', 'Picture')).toBe('picture');
    expect(contactsConverter.fieldOfTag('AirSyncBase', 'Body')).toBe('body');
    expect(contactsConverter.fieldOfTag('Calendar', 'Subject')).toBeUndefined();
  });

  it('refuses malformed client data', () => {
    const C = eas.Contacts;
    const bad = [
      C.Birthday('someday'),
      C.Picture('***'),
      C.Picture('A'.repeat(48 * 1024 + 4)),
      C.WeightedRank('high'),
    ];
    for (const element of bad) {
      expect(() =>
        contactsConverter.fromApplicationData(eas.AirSync.ApplicationData(element), '14.1'),
      ).toThrow(MalformedItemError);
    }
  });
});
