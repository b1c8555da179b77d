import type { ContactData, PostalAddress } from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { parseClientBody, renderStoredBody } from './body.js';
import {
  type FieldSpec,
  keyOfTag,
  parseCategories,
  parseFields,
  readingClientData,
  renderCategories,
  renderFields,
} from './fields.js';
import { type ItemConverter, MalformedItemError, type ParsedApplicationData } from './types.js';

type ContactKey = keyof ContactData & string;

const c = (tag: string, key: ContactKey, kind: FieldSpec['kind'] = 'string'): FieldSpec<ContactKey> => ({
  namespace: 'Contacts',
  tag,
  key,
  kind,
});
const c2 = (tag: string, key: ContactKey): FieldSpec<ContactKey> => ({
  namespace: 'Contacts2',
  tag,
  key,
  kind: 'string',
});

/**
 * The scalar Contacts and Contacts2 properties (MS-ASCNTC 2.2.2). Birthday and Anniversary use the extended
 * dateTime form. Alias and WeightedRank exist from 14.0 and only in the Recipient Information Cache.
 */
const CONTACT_FIELDS: readonly FieldSpec<ContactKey>[] = [
  c('Anniversary', 'anniversary', 'isoDate'),
  c('AssistantName', 'assistantName'),
  c('AssistantPhoneNumber', 'assistantPhoneNumber'),
  c('Birthday', 'birthday', 'isoDate'),
  c('Business2PhoneNumber', 'business2PhoneNumber'),
  c('BusinessFaxNumber', 'businessFaxNumber'),
  c('BusinessPhoneNumber', 'businessPhoneNumber'),
  c('CarPhoneNumber', 'carPhoneNumber'),
  c('CompanyName', 'companyName'),
  c('Department', 'department'),
  c('Email1Address', 'email1Address'),
  c('Email2Address', 'email2Address'),
  c('Email3Address', 'email3Address'),
  c('FileAs', 'fileAs'),
  c('FirstName', 'firstName'),
  c('Home2PhoneNumber', 'home2PhoneNumber'),
  c('HomeFaxNumber', 'homeFaxNumber'),
  c('HomePhoneNumber', 'homePhoneNumber'),
  c('JobTitle', 'jobTitle'),
  c('LastName', 'lastName'),
  c('MiddleName', 'middleName'),
  c('MobilePhoneNumber', 'mobilePhoneNumber'),
  c('OfficeLocation', 'officeLocation'),
  c('PagerNumber', 'pagerNumber'),
  c('RadioPhoneNumber', 'radioPhoneNumber'),
  c('Spouse', 'spouse'),
  c('Suffix', 'suffix'),
  c('Title', 'title'),
  c('WebPage', 'webPage'),
  c('YomiCompanyName', 'yomiCompanyName'),
  c('YomiFirstName', 'yomiFirstName'),
  c('YomiLastName', 'yomiLastName'),
  { namespace: 'Contacts', tag: 'Alias', key: 'alias', kind: 'string', since: '14.0' },
  { namespace: 'Contacts', tag: 'WeightedRank', key: 'weightedRank', kind: 'integer', since: '14.0' },
  c2('CustomerId', 'customerId'),
  c2('GovernmentId', 'governmentId'),
  c2('IMAddress', 'imAddress'),
  c2('IMAddress2', 'imAddress2'),
  c2('IMAddress3', 'imAddress3'),
  c2('ManagerName', 'managerName'),
  c2('CompanyMainPhone', 'companyMainPhone'),
  c2('AccountName', 'accountName'),
  c2('NickName', 'nickName'),
  c2('MMS', 'mms'),
];

/** The three postal addresses: model key and tag prefix (`BusinessAddressCity`, ...). */
const ADDRESSES = [
  ['businessAddress', 'BusinessAddress'],
  ['homeAddress', 'HomeAddress'],
  ['otherAddress', 'OtherAddress'],
] as const;
const ADDRESS_PARTS = [
  ['city', 'City'],
  ['country', 'Country'],
  ['postalCode', 'PostalCode'],
  ['state', 'State'],
  ['street', 'Street'],
] as const;

/** Exchange refuses pictures over 48 KB of base64 (MS-ASCNTC 2.2.2.58): the device gets Status 6 for them. */
const MAX_PICTURE_BASE64 = 48 * 1024;

/** Contacts (MS-ASCNTC): the Contacts and Contacts2 code pages, every version. */
export const contactsConverter: ItemConverter<'Contacts'> = {
  class: 'Contacts',

  async toApplicationData(item, context) {
    const data = item.data;
    const out: (WbxmlElement | null)[] = [
      ...(await renderStoredBody('Contacts', data.body, context)),
      ...renderFields(CONTACT_FIELDS, data, context.version),
    ];
    for (const [key, prefix] of ADDRESSES) {
      const address = data[key];
      if (!address) continue;
      for (const [part, suffix] of ADDRESS_PARTS) {
        const value = address[part];
        if (value !== undefined) out.push(eas.Contacts[`${prefix}${suffix}`](value));
      }
    }
    out.push(renderCategories('Contacts', data.categories));
    if (data.children)
      out.push(eas.Contacts.Children(data.children.map((child) => eas.Contacts.Child(child))));
    // A string of base64 (MS-ASCNTC 2.2.2.58), not OPAQUE bytes.
    if (data.picture) out.push(eas.Contacts.Picture(Buffer.from(data.picture).toString('base64')));
    return out.filter((element): element is WbxmlElement => element !== null);
  },

  fromApplicationData(applicationData, _version): ParsedApplicationData<'Contacts'> {
    return readingClientData(() => {
      const data: Partial<ContactData> = {};
      const present = new Set<ContactKey>();
      parseFields(CONTACT_FIELDS, applicationData, data, present);
      for (const [key, prefix] of ADDRESSES) {
        let address: PostalAddress | undefined;
        let seen = false;
        for (const [part, suffix] of ADDRESS_PARTS) {
          const found = applicationData.child(`Contacts:${prefix}${suffix}`);
          if (!found) continue;
          seen = true;
          const text = found.text ?? '';
          if (text !== '') {
            address ??= {};
            address[part] = text;
          }
        }
        if (seen) {
          data[key] = address;
          present.add(key);
        }
      }
      const categories = parseCategories(applicationData, 'Contacts');
      if (categories) {
        data.categories = categories;
        present.add('categories');
      }
      const children = applicationData.child('Contacts:Children');
      if (children) {
        const names = children.all('Contacts:Child').map((child) => child.text ?? '');
        data.children = names.length ? names : undefined;
        present.add('children');
      }
      const picture = applicationData.child('Contacts:Picture');
      if (picture) {
        data.picture = readPicture(picture);
        present.add('picture');
      }
      const body = parseClientBody(applicationData, 'Contacts');
      if (body) {
        data.body = body;
        present.add('body');
      }
      return { class: 'Contacts', data, present };
    });
  },

  fieldOfTag(namespace, name) {
    if ((namespace === 'AirSyncBase' || namespace === 'Contacts') && name === 'Body') return 'body';
    if (namespace === 'Contacts') {
      if (name === 'Categories' || name === 'Category') return 'categories';
      if (name === 'Children' || name === 'Child') return 'children';
      if (name === 'Picture') return 'picture';
      for (const [key, prefix] of ADDRESSES) if (name.startsWith(prefix)) return key;
    }
    return keyOfTag(CONTACT_FIELDS, namespace, name);
  },
};

function readPicture(element: WbxmlElement): Uint8Array | undefined {
  if (element.bytes) return element.bytes.slice();
  const text = (element.text ?? '').replace(/\s+/g, '');
  if (text === '') return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new MalformedItemError('contact picture is not base64');
  if (text.length > MAX_PICTURE_BASE64) throw new MalformedItemError('contact picture is over 48 KB');
  return new Uint8Array(Buffer.from(text, 'base64'));
}
