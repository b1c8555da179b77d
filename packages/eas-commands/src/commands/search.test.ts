import { eas, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll } from '../../test/harness.js';
import { type LookupReply, LookupServer } from '../../test/lookup-server.js';
import { PictureStatus, SearchStatus } from './search.js';

const { Search: SR, AirSync: AS, AirSyncBase: ASB, Email: E } = eas;

let server: LookupServer;
const day = (n: number) => new Date(Date.UTC(2026, 0, n, 9, 0, 0));
const ids: Record<string, string> = {};

beforeAll(async () => {
  server = await new LookupServer().start();
  // Alice: 12 reports in the Inbox (newest has the highest number), one in a subfolder, one in Sent Items.
  for (let n = 1; n <= 12; n++) {
    const item = await server.mail('alice', 'Inbox', `Quarterly report ${n}`, day(n), {
      body: n === 3 ? 'The numbers look great, see attached budget.' : 'Hello there',
      ...(n >= 10 ? { conversationId: new Uint8Array([0xab, 0xcd, 0xef, 0x01]) } : {}),
    });
    ids[`r${n}`] = item.id;
  }
  const projects = await server.mailbox.createFolder('alice@example.com', {
    parentId: server.folder('alice', 'Inbox').id,
    displayName: 'Projects',
    type: 12,
  });
  ids.projects = projects.id;
  ids.deep = (await server.mail('alice', projects, 'Quarterly report archive', day(20))).id;
  ids.sent = (await server.mail('alice', 'Sent Items', 'Re: Quarterly report', day(21))).id;
  ids.bob = (await server.mail('bob', 'Inbox', 'Quarterly report for Bob', day(5))).id;
  await server.mailbox.createItem('alice@example.com', server.folder('alice', 'Contacts').id, {
    class: 'Contacts',
    data: { firstName: 'Quentin', lastName: 'Quarterly', email1Address: 'quentin@example.net' },
  });
  // The directory: Alice and Bob log in; more people exist only in the GAL.
  for (const [id, name] of [
    ['alina@example.com', 'Alina Alvarez'],
    ['albert@example.com', 'Albert Ölberg'],
    ['alfred@example.com', 'Alfred Pennyworth'],
  ] as const) {
    await server.mailbox.createUser({ id, primarySmtpAddress: id, displayName: name });
  }
  server.profiles.set('alina@example.com', {
    mobilePhone: '+1 555 0142',
    title: 'Engineer',
    photo: new Uint8Array(50),
  });
  server.profiles.set('albert@example.com', { photo: new Uint8Array(5000) });
  server.profiles.set('alice@example.com', { photo: new Uint8Array(40), company: 'Wonderland' });
  server.directory.invalidate();
});

afterAll(async () => {
  await server.stop();
});

const mailboxSearch = (query: WbxmlElement, ...options: WbxmlElement[]) =>
  SR.Search(SR.Store(SR.Name('Mailbox'), SR.Query(query), options.length > 0 ? SR.Options(options) : null));

function store(reply: LookupReply, status: number = SearchStatus.Success): WbxmlElement {
  expect(reply.status).toBe(200);
  expect(reply.body?.qualifiedName).toBe('Search:Search');
  expect(reply.body?.intOf('Status')).toBe(SearchStatus.Success);
  const element = reply.body!.require('Response').require('Store');
  expect(element.intOf('Status')).toBe(status);
  return element;
}

const longIds = (element: WbxmlElement) =>
  element
    .all('Result')
    .map((result) => result.textOf('LongId'))
    .filter((id) => id !== undefined);

describe('Search, Store Mailbox', () => {
  it('finds free text in one folder, newest first, pages with Range and reports Total', async () => {
    const inbox = server.folder('alice', 'Inbox').id;
    const query = SR.And(AS.Class('Email'), AS.CollectionId(inbox), SR.FreeText('quarterly'));
    const first = store(
      await server.send('Search', mailboxSearch(query, SR.Range('0-4'), SR.RebuildResults())),
    );
    expect(longIds(first)).toEqual(['r12', 'r11', 'r10', 'r9', 'r8'].map((key) => ids[key]));
    expect(first.textOf('Range')).toBe('0-4');
    expect(first.intOf('Total')).toBe(12);
    const result = first.all('Result')[0]!;
    expect(result.textOf('AirSync:Class')).toBe('Email');
    expect(result.textOf('AirSync:CollectionId')).toBe(inbox);
    expect(result.require('Properties').textOf('Email:Subject')).toBe('Quarterly report 12');

    const last = store(await server.send('Search', mailboxSearch(query, SR.Range('10-14'))));
    expect(longIds(last)).toEqual([ids.r2, ids.r1]);
    expect(last.textOf('Range')).toBe('10-11');
    const past = store(await server.send('Search', mailboxSearch(query, SR.Range('20-29'))));
    expect(past.all('Result').map((result) => result.children.length)).toEqual([0]); // one empty Result
    expect(past.intOf('Total')).toBe(12);
  });

  it('DeepTraversal takes in subfolders; no CollectionId searches every folder; body words match', async () => {
    const inbox = server.folder('alice', 'Inbox').id;
    const query = SR.And(AS.CollectionId(inbox), SR.FreeText('archive'));
    expect(store(await server.send('Search', mailboxSearch(query))).all('Result')[0]!.children).toHaveLength(
      0,
    );
    const deep = store(await server.send('Search', mailboxSearch(query, SR.DeepTraversal())));
    expect(longIds(deep)).toEqual([ids.deep]);
    const everywhere = store(await server.send('Search', mailboxSearch(SR.And(SR.FreeText('archive')))));
    expect(longIds(everywhere)).toEqual([ids.deep]);
    const body = store(await server.send('Search', mailboxSearch(SR.And(SR.FreeText('budget')))));
    expect(longIds(body)).toEqual([ids.r3]);
  });

  it('GreaterThan, LessThan and EqualTo on DateReceived, Class and ConversationId narrow the results', async () => {
    const between = SR.And(
      AS.Class('Email'),
      SR.FreeText('report'),
      SR.GreaterThan(E.DateReceived(), SR.Value('2026-01-04T09:00:00.000Z')),
      SR.LessThan(E.DateReceived(), SR.Value('2026-01-07T09:00:00.000Z')),
    );
    expect(longIds(store(await server.send('Search', mailboxSearch(between))))).toEqual([ids.r6, ids.r5]);
    const at = SR.And(SR.EqualTo(E.DateReceived(), SR.Value('2026-01-08T09:00:00.000Z')));
    expect(longIds(store(await server.send('Search', mailboxSearch(at))))).toEqual([ids.r8]);
    const contacts = SR.And(AS.Class('Contacts'), SR.FreeText('quarterly'));
    const found = store(await server.send('Search', mailboxSearch(contacts)));
    expect(found.all('Result').map((result) => result.textOf('AirSync:Class'))).toEqual(['Contacts']);
    const conversation = SR.And(SR.ConversationId(new Uint8Array([0xab, 0xcd, 0xef, 0x01])));
    expect(longIds(store(await server.send('Search', mailboxSearch(conversation))))).toEqual([
      ids.r12,
      ids.r11,
      ids.r10,
    ]);
    const either = SR.And(SR.Or(SR.FreeText('archive'), SR.FreeText('budget')));
    expect(longIds(store(await server.send('Search', mailboxSearch(either))))).toEqual([ids.deep, ids.r3]);
  });

  it('renders bodies by BodyPreference, truncated as asked', async () => {
    const query = SR.And(SR.FreeText('budget'));
    const preference = ASB.BodyPreference(ASB.Type(1), ASB.TruncationSize(10));
    const found = store(await server.send('Search', mailboxSearch(query, preference)));
    const body = found.require('Result').require('Properties').require('AirSyncBase:Body');
    expect(body.textOf('Type')).toBe('1');
    expect(body.textOf('Data')).toBe('The number');
    expect(body.boolOf('Truncated')).toBe(true);
  });

  it('answers every malformed or hostile query with its status and never another user’s mail', async () => {
    const send = (query: WbxmlElement, ...options: WbxmlElement[]) =>
      server.send('Search', mailboxSearch(query, ...options));
    // Bob's Inbox is not Alice's folder: her folder list is stale.
    const bobsInbox = server.folder('bob', 'Inbox').id;
    store(
      await send(SR.And(AS.CollectionId(bobsInbox), SR.FreeText('quarterly'))),
      SearchStatus.FolderSyncRequired,
    );
    const mine = store(await send(SR.And(SR.FreeText('bob'))));
    expect(longIds(mine)).toEqual([]);
    // FreeText or CollectionId outside And, Class in an Or, deep nesting, too many words: too complex.
    store(await send(SR.FreeText('quarterly')), SearchStatus.TooComplex);
    store(await send(SR.And(SR.Or(AS.Class('Email'), SR.FreeText('x')))), SearchStatus.TooComplex);
    let nested: WbxmlElement = SR.FreeText('quarterly');
    for (let i = 0; i < 40; i++) nested = SR.And(nested);
    store(await send(nested), SearchStatus.TooComplex);
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    store(await send(SR.And(SR.FreeText(words))), SearchStatus.TooComplex);
    // Pattern characters and huge strings are only text.
    const huge = `${'.*(+)?$|^'.repeat(20_000)}[`;
    expect(store(await send(SR.And(SR.FreeText(huge)))).intOf('Total')).toBe(0);
    expect(store(await send(SR.And(SR.FreeText('q'.repeat(500_000))))).intOf('Total')).toBe(0);
    expect(store(await send(SR.And(SR.FreeText('quar*')))).intOf('Total')).toBe(15); // 14 mails and a contact
    // Malformed pieces: protocol error.
    store(await send(SR.And(SR.FreeText('x')), SR.Range('9-1')), SearchStatus.ProtocolError);
    store(
      await send(SR.And(SR.GreaterThan(E.DateReceived(), SR.Value('yesterday')))),
      SearchStatus.ProtocolError,
    );
    store(
      await send(SR.And(SR.GreaterThan(SR.Value('2026-01-01T00:00:00.000Z')))),
      SearchStatus.ProtocolError,
    );
    store(await send(SR.And()), SearchStatus.ProtocolError);
    store(await server.send('Search', SR.Search()), SearchStatus.ProtocolError);
    store(
      await server.send(
        'Search',
        SR.Search(SR.Store(SR.Name('Mailbox'), SR.Query(SR.And(SR.FreeText('x')))), SR.Store()),
      ),
      SearchStatus.ProtocolError,
    );
  });

  it('caps a range wider than 100 entries at 100 with Status 12', async () => {
    const inbox = server.folder('alice', 'Notes');
    for (let n = 0; n < 105; n++) {
      await server.mailbox.createItem('alice@example.com', inbox.id, {
        class: 'Notes',
        data: { subject: `memo ${n}`, lastModifiedDate: day(1 + (n % 28)) },
      });
    }
    const wide = store(
      await server.send('Search', mailboxSearch(SR.And(SR.FreeText('memo')), SR.Range('0-199'))),
      SearchStatus.EndOfRetrievableRange,
    );
    expect(wide.all('Result')).toHaveLength(100);
    expect(wide.textOf('Range')).toBe('0-99');
    expect(wide.intOf('Total')).toBe(105);
  });

  it('per version: no mailbox store before 12.0, no ConversationId before 14.0; DocumentLibrary is a bad link', async () => {
    const query = SR.And(SR.FreeText('quarterly'));
    store(await server.send('Search', mailboxSearch(query), { version: '2.5' }), SearchStatus.ProtocolError);
    expect(store(await server.send('Search', mailboxSearch(query), { version: '12.0' })).intOf('Total')).toBe(
      15,
    );
    const conversation = SR.And(SR.ConversationId(new Uint8Array([1])));
    store(
      await server.send('Search', mailboxSearch(conversation), { version: '12.1' }),
      SearchStatus.ProtocolError,
    );
    const library = SR.Search(SR.Store(SR.Name('DocumentLibrary'), SR.Query(SR.EqualTo(SR.Value('x')))));
    store(await server.send('Search', library), SearchStatus.BadLink);
  });
});

describe('Search, Store GAL', () => {
  const gal = (text: string, ...options: WbxmlElement[]) =>
    SR.Search(SR.Store(SR.Name('GAL'), SR.Query(text), options.length > 0 ? SR.Options(options) : null));
  const people = (element: WbxmlElement) =>
    element.all('Result').map((result) => result.require('Properties').textOf('Gal:EmailAddress'));

  it('matches name, address and phone prefixes in name order, with Range and Total', async () => {
    const found = store(await server.send('Search', gal('al')));
    expect(people(found)).toEqual([
      'albert@example.com',
      'alfred@example.com',
      'alice@example.com',
      'alina@example.com',
    ]);
    expect(found.intOf('Total')).toBe(4);
    expect(found.textOf('Range')).toBe('0-3');
    const page = store(await server.send('Search', gal('al', SR.Range('1-2'))));
    expect(people(page)).toEqual(['alfred@example.com', 'alice@example.com']);
    expect(page.textOf('Range')).toBe('1-2');
    expect(people(store(await server.send('Search', gal('+1 555 01'))))).toEqual(['alina@example.com']);
    expect(people(store(await server.send('Search', gal('olb'))))).toEqual(['albert@example.com']);
    const alina = store(await server.send('Search', gal('alina@')))
      .require('Result')
      .require('Properties');
    expect(alina.textOf('Gal:DisplayName')).toBe('Alina Alvarez');
    expect(alina.textOf('Gal:Title')).toBe('Engineer');
    expect(alina.textOf('Gal:MobilePhone')).toBe('+1 555 0142');
    const none = store(await server.send('Search', gal('zzz')));
    expect(none.all('Result')).toHaveLength(0);
    expect(none.intOf('Total')).toBe(0);
    store(await server.send('Search', gal('  ')), SearchStatus.ProtocolError);
    expect(store(await server.send('Search', gal('.*[('))).intOf('Total')).toBe(0);
  });

  it('adds pictures from 14.1 under MaxSize and MaxPictures', async () => {
    const options = SR.Picture(SR.MaxSize(1000), SR.MaxPictures(1));
    const found = store(await server.send('Search', gal('al', options)));
    const pictures = found.all('Result').map((result) => {
      const picture = result.require('Properties').require('Gal:Picture');
      return [picture.intOf('Gal:Status'), picture.textOf('Gal:Data')?.length ?? 0];
    });
    expect(pictures).toEqual([
      [PictureStatus.TooLarge, 0], // Albert: 5,000 bytes
      [PictureStatus.NoPicture, 0], // Alfred
      [PictureStatus.Success, Buffer.from(new Uint8Array(40)).toString('base64').length], // Alice
      [PictureStatus.LimitReached, 0], // Alina: MaxPictures 1 already sent
    ]);
    const older = store(await server.send('Search', gal('al'), { version: '14.0' }));
    expect(older.all('Result').some((result) => result.require('Properties').has('Gal:Picture'))).toBe(false);
    const v25 = store(await server.send('Search', gal('bob'), { version: '2.5' }));
    expect(people(v25)).toEqual(['bob@example.com']);
  });
});

describe('Search responses', () => {
  it('are read by libwbxml', async () => {
    await expectLibwbxmlReadsAll(server.responses, 20);
  });
});
