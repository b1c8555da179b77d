import type { ContactData, PostalAddress } from '@easkit/mailbox';
import {
  type Component,
  type ContentLine,
  paramValues,
  properties,
  property,
  readComponents,
  splitEscaped,
  unescapeText,
  unfoldLines,
} from './content-lines.js';

/*
 * vCard files (RFC 6350 for 4.0, RFC 2426 for 3.0, and the 2.1 that older phones export) into Contacts items.
 * The mapping follows the Contacts code page: three e-mail addresses, named phone slots, three postal
 * addresses (work, home, other). What has no slot left is reported as a warning, never silently dropped.
 */

export const VCARD_LIMITS = {
  /** Components in one file. */
  maxComponents: 200_000,
  /**
   * Decoded photo bytes kept. EAS carries the picture base64-encoded and Exchange refuses more than 48 KB of
   * it (MS-ASCNTC 2.2.2.58), so a larger photo could never reach a device.
   */
  maxPhotoBytes: 36 * 1024,
} as const;

export type ContactEntry =
  | { readonly source: string; readonly data: ContactData; readonly warnings: readonly string[] }
  | { readonly source: string; readonly problem: string };

/** Reads every vCard of a text. Never throws for bad input. */
export function readVCards(text: string): ContactEntry[] {
  let components: Component[];
  try {
    components = readComponents(unfoldLines(text), VCARD_LIMITS).components;
  } catch (error) {
    return [{ source: '', problem: (error as Error).message }];
  }
  const cards = components.filter((component) => component.name === 'VCARD');
  if (cards.length === 0) return [{ source: '', problem: 'no vCard in the file' }];
  return cards.map((card, index) => readCard(card, `vCard ${index + 1}`));
}

function readCard(card: Component, position: string): ContactEntry {
  const fn = property(card, 'FN');
  const label = fn ? unescapeText(textValue(fn)).trim() : '';
  const source = label ? `${position} (${label})` : position;
  if (!card.complete) return { source, problem: 'cut off (no END:VCARD)' };
  const version = property(card, 'VERSION')?.value.trim();
  if (version !== undefined && !['2.1', '3.0', '4.0'].includes(version)) {
    return { source, problem: `unknown vCard version ${version}` };
  }
  const warnings: string[] = [];
  const data: ContactData = {};

  const name = property(card, 'N');
  if (name) {
    const [family, given, additional, prefix, suffix] = splitEscaped(textValue(name), ';').map((part) =>
      splitEscaped(part, ',')
        .map((piece) => unescapeText(piece).trim())
        .filter(Boolean)
        .join(' '),
    );
    if (family) data.lastName = family;
    if (given) data.firstName = given;
    if (additional) data.middleName = additional;
    if (prefix) data.title = prefix;
    if (suffix) data.suffix = suffix;
  }
  if (label) {
    data.fileAs = label;
    if (!data.firstName && !data.lastName) data.firstName = label;
  }
  const nickname = property(card, 'NICKNAME');
  if (nickname)
    data.nickName = unescapeText(splitEscaped(textValue(nickname), ',')[0] ?? '').trim() || undefined;

  const org = property(card, 'ORG');
  if (org) {
    const [company, ...units] = splitEscaped(textValue(org), ';').map((part) => unescapeText(part).trim());
    if (company) data.companyName = company;
    const department = units.filter(Boolean).join(', ');
    if (department) data.department = department;
  }
  const title = property(card, 'TITLE');
  if (title) data.jobTitle = unescapeText(textValue(title)).trim();
  const note = properties(card, 'NOTE')
    .map((line) => unescapeText(textValue(line)))
    .join('\n\n');
  if (note.trim()) data.body = { type: 'plain', data: note };
  const url = property(card, 'URL');
  if (url) data.webPage = unescapeText(url.value).trim();

  readEmails(card, data, warnings);
  readPhones(card, data, warnings);
  readAddresses(card, data, warnings);
  readDates(card, data, warnings);
  readPhoto(card, data, warnings);

  const categories = properties(card, 'CATEGORIES')
    .flatMap((line) => splitEscaped(textValue(line), ','))
    .map((value) => unescapeText(value).trim())
    .filter(Boolean);
  if (categories.length) data.categories = categories;

  for (const key of Object.keys(data) as (keyof ContactData)[]) if (data[key] === undefined) delete data[key];
  const identifiable =
    data.firstName ||
    data.lastName ||
    data.companyName ||
    data.email1Address ||
    ALL_PHONE_SLOTS.some((slot) => data[slot]);
  if (!identifiable) return { source, problem: 'no name, organisation, e-mail address or phone number' };
  return { source, data, warnings };
}

/** A property's value with vCard 2.1 quoted-printable decoded (as UTF-8, or the CHARSET given). */
function textValue(line: ContentLine): string {
  if (
    !paramValues(line, 'ENCODING').includes('quoted-printable') &&
    !paramValues(line, 'TYPE').includes('quoted-printable')
  ) {
    return line.value;
  }
  const bytes = Buffer.from(
    line.value
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-Fa-f]{2})/g, (_whole, hex: string) => String.fromCharCode(Number.parseInt(hex, 16))),
    'latin1',
  );
  const charset = paramValues(line, 'CHARSET')[0] ?? 'utf-8';
  try {
    return new TextDecoder(charset).decode(bytes);
  } catch {
    return bytes.toString('utf8');
  }
}

/** Lines of a property sorted by preference: PREF=1 (4.0) or TYPE=pref (3.0) first, file order otherwise. */
function byPreference(lines: ContentLine[]): ContentLine[] {
  const rank = (line: ContentLine) => {
    const pref = Number(line.params.get('PREF')?.[0]);
    if (Number.isInteger(pref) && pref > 0) return pref;
    return paramValues(line, 'TYPE').includes('pref') ? 1 : 101;
  };
  return lines
    .map((line, index) => ({ line, index }))
    .sort((a, b) => rank(a.line) - rank(b.line) || a.index - b.index)
    .map((entry) => entry.line);
}

function readEmails(card: Component, data: ContactData, warnings: string[]): void {
  const slots = ['email1Address', 'email2Address', 'email3Address'] as const;
  const addresses = byPreference(properties(card, 'EMAIL'))
    .map((line) =>
      unescapeText(textValue(line))
        .replace(/^mailto:/i, '')
        .trim(),
    )
    .filter(Boolean);
  addresses.slice(0, 3).forEach((address, index) => {
    data[slots[index]!] = address;
  });
  if (addresses.length > 3)
    warnings.push(`${addresses.length - 3} e-mail address(es) beyond the three EAS keeps`);
}

type PhoneSlot =
  | 'mobilePhoneNumber'
  | 'businessPhoneNumber'
  | 'business2PhoneNumber'
  | 'businessFaxNumber'
  | 'homePhoneNumber'
  | 'home2PhoneNumber'
  | 'homeFaxNumber'
  | 'pagerNumber'
  | 'carPhoneNumber'
  | 'companyMainPhone'
  | 'assistantPhoneNumber'
  | 'radioPhoneNumber';

const ALL_PHONE_SLOTS: readonly PhoneSlot[] = [
  'mobilePhoneNumber',
  'businessPhoneNumber',
  'business2PhoneNumber',
  'businessFaxNumber',
  'homePhoneNumber',
  'home2PhoneNumber',
  'homeFaxNumber',
  'pagerNumber',
  'carPhoneNumber',
  'companyMainPhone',
  'assistantPhoneNumber',
  'radioPhoneNumber',
];

/** The slots a phone of these types may take, in order of preference. */
function phoneSlots(types: readonly string[]): PhoneSlot[] {
  const has = (type: string) => types.includes(type);
  const work = has('work');
  if (has('fax'))
    return work || !has('home')
      ? ['businessFaxNumber', 'homeFaxNumber']
      : ['homeFaxNumber', 'businessFaxNumber'];
  if (has('pager')) return ['pagerNumber'];
  if (has('car')) return ['carPhoneNumber', 'mobilePhoneNumber'];
  if (has('cell') || has('mobile') || has('iphone')) return ['mobilePhoneNumber', 'radioPhoneNumber'];
  if (has('x-assistant') || has('assistant')) return ['assistantPhoneNumber'];
  if (has('main') || has('x-main') || has('company')) return ['companyMainPhone', 'businessPhoneNumber'];
  if (work) return ['businessPhoneNumber', 'business2PhoneNumber'];
  if (has('home')) return ['homePhoneNumber', 'home2PhoneNumber'];
  // No type, or only voice/other/text: the first free of the general slots.
  return [
    'mobilePhoneNumber',
    'homePhoneNumber',
    'home2PhoneNumber',
    'businessPhoneNumber',
    'business2PhoneNumber',
  ];
}

function readPhones(card: Component, data: ContactData, warnings: string[]): void {
  let dropped = 0;
  for (const line of byPreference(properties(card, 'TEL'))) {
    const number = unescapeText(textValue(line)).replace(/^tel:/i, '').trim();
    if (!number) continue;
    const slot = phoneSlots(paramValues(line, 'TYPE')).find((candidate) => data[candidate] === undefined);
    if (slot) data[slot] = number;
    else dropped++;
  }
  if (dropped) warnings.push(`${dropped} phone number(s) without a free EAS slot`);
}

function readAddresses(card: Component, data: ContactData, warnings: string[]): void {
  let dropped = 0;
  for (const line of byPreference(properties(card, 'ADR'))) {
    const [poBox, extended, street, city, region, postalCode, country] = splitEscaped(
      textValue(line),
      ';',
    ).map((part) =>
      splitEscaped(part, ',')
        .map((piece) => unescapeText(piece).trim())
        .filter(Boolean)
        .join(', '),
    );
    const address: PostalAddress = {};
    const streetLines = [poBox, extended, street].filter(Boolean).join('\n');
    if (streetLines) address.street = streetLines;
    if (city) address.city = city;
    if (region) address.state = region;
    if (postalCode) address.postalCode = postalCode;
    if (country) address.country = country;
    if (Object.keys(address).length === 0) continue;
    const types = paramValues(line, 'TYPE');
    const order = types.includes('work')
      ? (['businessAddress', 'otherAddress'] as const)
      : types.includes('home')
        ? (['homeAddress', 'otherAddress'] as const)
        : (['otherAddress', 'homeAddress', 'businessAddress'] as const);
    const slot = order.find((candidate) => data[candidate] === undefined);
    if (slot) data[slot] = address;
    else dropped++;
  }
  if (dropped) warnings.push(`${dropped} postal address(es) without a free EAS slot`);
}

/**
 * A vCard date as the midnight UTC instant of that day: `1906-12-09`, `19061209`, or a date-time whose date
 * part is taken. Dates without a year (`--1209`) have no EAS form and give undefined.
 */
export function vcardDate(value: string): Date | undefined {
  const match = /^(\d{4})-?(\d{2})-?(\d{2})(?:T.*)?$/.exec(value.trim());
  if (!match) return undefined;
  const [year, month, day] = [+match[1]!, +match[2]!, +match[3]!];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day)
    return undefined;
  return year >= 1601 ? date : undefined;
}

function readDates(card: Component, data: ContactData, warnings: string[]): void {
  for (const [name, field] of [
    ['BDAY', 'birthday'],
    ['ANNIVERSARY', 'anniversary'],
    ['X-ANNIVERSARY', 'anniversary'],
  ] as const) {
    const line = property(card, name);
    if (!line || data[field]) continue;
    const date = vcardDate(line.value);
    if (date) data[field] = date;
    else warnings.push(`${name} ${line.value.trim()} has no EAS form (a full date is needed)`);
  }
}

function readPhoto(card: Component, data: ContactData, warnings: string[]): void {
  const line = property(card, 'PHOTO');
  if (!line) return;
  let base64: string | undefined;
  const dataUri = /^data:[^,;]*(?:;[^,]*)?;base64,(.*)$/is.exec(line.value.trim());
  if (dataUri) base64 = dataUri[1];
  else if (paramValues(line, 'ENCODING').some((encoding) => encoding === 'b' || encoding === 'base64')) {
    base64 = line.value;
  } else if (paramValues(line, 'TYPE').includes('base64')) base64 = line.value;
  if (base64 === undefined) {
    warnings.push('PHOTO given by reference (not fetched)');
    return;
  }
  const cleaned = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(cleaned)) {
    warnings.push('PHOTO is not valid base64');
    return;
  }
  const bytes = Buffer.from(cleaned, 'base64');
  if (bytes.length === 0) return;
  if (bytes.length > VCARD_LIMITS.maxPhotoBytes) {
    warnings.push(
      `PHOTO of ${bytes.length} bytes is over the ${VCARD_LIMITS.maxPhotoBytes} bytes EAS carries`,
    );
    return;
  }
  data.picture = new Uint8Array(bytes);
}
