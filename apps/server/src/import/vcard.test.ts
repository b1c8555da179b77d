import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ContactEntry, readVCards, VCARD_LIMITS, vcardDate } from './vcard.js';

const fixture = readFileSync(new URL('../../test/fixtures/import/contacts.vcf', import.meta.url), 'utf8');

function card(text: string): string {
  return ['BEGIN:VCARD', 'VERSION:3.0', text, 'END:VCARD', ''].join('\r\n');
}

function only(entries: ContactEntry[]): ContactEntry & { data: object } {
  const [entry] = entries;
  if (!entry || !('data' in entry)) throw new Error(`no contact: ${JSON.stringify(entries)}`);
  return entry;
}

describe('readVCards', () => {
  const entries = readVCards(fixture);

  it('reads a vCard 3.0 into every Contacts field it has a slot for', () => {
    expect(entries[0]).toEqual({
      source: 'vCard 1 (Grace Hopper)',
      warnings: [],
      data: {
        lastName: 'Hopper',
        firstName: 'Grace',
        middleName: 'Brewster Murray',
        title: 'Rear Admiral',
        fileAs: 'Grace Hopper',
        nickName: 'Amazing Grace',
        companyName: 'US Navy',
        department: 'Bureau of Ordnance',
        jobTitle: 'Computer scientist',
        body: { type: 'plain', data: 'Invented the first compiler.\nLoved nanoseconds, and wire.' },
        webPage: 'https://example.com/grace',
        // PREF first.
        email1Address: 'grace@home.example',
        email2Address: 'grace@navy.example',
        mobilePhoneNumber: '+1 555 0100',
        businessPhoneNumber: '+1 555 0101',
        businessFaxNumber: '+1 555 0102',
        homePhoneNumber: '+1 555 0103',
        businessAddress: {
          street: 'Room 4\n1 Navy Way',
          city: 'Arlington',
          state: 'VA',
          postalCode: '22201',
          country: 'USA',
        },
        homeAddress: {
          street: '12 Elm Street',
          city: 'New York',
          state: 'NY',
          postalCode: '10001',
          country: 'USA',
        },
        birthday: new Date('1906-12-09T00:00:00Z'),
        picture: new Uint8Array(Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAA==', 'base64')),
        categories: ['Pioneers', 'Navy'],
      },
    });
  });

  it('reads a vCard 4.0 (tel: and data: URIs, PREF, ANNIVERSARY) and warns about what has no slot', () => {
    expect(entries[1]).toMatchObject({
      source: 'vCard 2 (Ada Lovelace)',
      data: {
        firstName: 'Ada',
        lastName: 'Lovelace',
        suffix: 'Countess',
        email1Address: 'ada@example.com',
        email2Address: 'ada@analytical.example',
        email3Address: 'ada@old.example',
        mobilePhoneNumber: '+44-20-7946-0018',
        anniversary: new Date('1835-07-08T00:00:00Z'),
        picture: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      },
      warnings: [
        '1 e-mail address(es) beyond the three EAS keeps',
        'BDAY --1210 has no EAS form (a full date is needed)',
      ],
    });
    expect('data' in entries[1]! && entries[1].data.birthday).toBeUndefined();
  });

  it('reads a vCard 2.1 with quoted-printable UTF-8 and bare type parameters', () => {
    expect(entries[2]).toEqual({
      source: 'vCard 3 (Jürgen Müller)',
      warnings: [],
      data: {
        firstName: 'Jürgen',
        lastName: 'Müller',
        fileAs: 'Jürgen Müller',
        mobilePhoneNumber: '+49 30 1234567',
      },
    });
  });

  it('refuses a card with nothing to identify anyone, and one cut off at the end of the file', () => {
    expect(entries[3]).toEqual({
      source: 'vCard 4',
      problem: 'no name, organisation, e-mail address or phone number',
    });
    expect(entries[4]).toEqual({ source: 'vCard 5 (Cut Off)', problem: 'cut off (no END:VCARD)' });
  });

  it('drops a photo too large for EAS, and one given by URL, with a warning', () => {
    const big = Buffer.alloc(VCARD_LIMITS.maxPhotoBytes + 1, 7).toString('base64');
    expect(only(readVCards(card(`FN:Big\r\nPHOTO;ENCODING=b;TYPE=JPEG:${big}`)))).toMatchObject({
      data: { firstName: 'Big' },
      warnings: [
        `PHOTO of ${VCARD_LIMITS.maxPhotoBytes + 1} bytes is over the ${VCARD_LIMITS.maxPhotoBytes} bytes EAS carries`,
      ],
    });
    expect(only(readVCards(card('FN:Linked\r\nPHOTO;VALUE=uri:https://example.com/me.jpg')))).toMatchObject({
      warnings: ['PHOTO given by reference (not fetched)'],
    });
  });

  it('puts phones and addresses in the free slots and reports the rest', () => {
    const phones = [
      'TEL;TYPE=HOME:1',
      'TEL;TYPE=HOME:2',
      'TEL;TYPE=HOME:3',
      'TEL;TYPE=PAGER:4',
      'TEL:5',
    ].join('\r\n');
    const entry = only(readVCards(card(`FN:Many\r\n${phones}`)));
    expect(entry).toMatchObject({
      data: { homePhoneNumber: '1', home2PhoneNumber: '2', pagerNumber: '4', mobilePhoneNumber: '5' },
      warnings: ['1 phone number(s) without a free EAS slot'],
    });
  });

  it('reads dates in both forms and refuses impossible ones', () => {
    expect(vcardDate('19850412')).toEqual(new Date('1985-04-12T00:00:00Z'));
    expect(vcardDate('1985-04-12T10:00:00Z')).toEqual(new Date('1985-04-12T00:00:00Z'));
    expect(vcardDate('1985-02-30')).toBeUndefined();
    expect(vcardDate('--0412')).toBeUndefined();
  });

  it('answers a file that holds no vCard with one problem', () => {
    expect(readVCards('\u0000PK\u0003\u0004 zip bytes')).toEqual([
      { source: '', problem: 'no vCard in the file' },
    ]);
  });

  it('never throws, whatever the text (fast-check: arbitrary text and damaged copies of the fixture)', () => {
    const lines = fixture.split('\r\n');
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 400 }),
          fc
            .array(fc.constantFrom(...lines, 'BEGIN:VCARD', 'PHOTO;ENCODING=b:%%%', 'N:;;;;;;;;'), {
              maxLength: 60,
            })
            .map((picked) => picked.join('\r\n')),
          fc.nat({ max: fixture.length }).map((cut) => fixture.slice(0, cut)),
        ),
        (text) => {
          for (const entry of readVCards(text)) expect(typeof entry.source).toBe('string');
        },
      ),
      { numRuns: 300 },
    );
  });
});
