import { eas, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LookupReply, LookupServer } from '../../test/lookup-server.js';
import { FindStatus, kqlFreeText } from './find.js';

const { Find: F, AirSync: AS } = eas;

let server: LookupServer;
const ids: Record<string, string> = {};

beforeAll(async () => {
  server = await new LookupServer().start();
  for (let n = 1; n <= 5; n++) {
    ids[`m${n}`] = (
      await server.mail('alice', 'Inbox', `Budget review ${n}`, new Date(Date.UTC(2026, 1, n)))
    ).id;
  }
  const sub = await server.mailbox.createFolder('alice@example.com', {
    parentId: server.folder('alice', 'Inbox').id,
    displayName: 'Finance',
    type: 12,
  });
  ids.sub = (await server.mail('alice', sub, 'Budget final', new Date(Date.UTC(2026, 1, 10)))).id;
  await server.mail('bob', 'Inbox', 'Budget for Bob', new Date(Date.UTC(2026, 1, 3)));
  await server.mailbox.createUser({
    id: 'alina@example.com',
    primarySmtpAddress: 'alina@example.com',
    displayName: 'Alina Alvarez',
  });
  server.profiles.set('alina@example.com', { photo: new Uint8Array(10), mobilePhone: '+1 555 0142' });
  server.directory.invalidate();
});

afterAll(async () => {
  await server.stop();
});

const mailFind = (query: WbxmlElement[], options: WbxmlElement[] = []) =>
  F.Find(
    F.SearchId('6c0b1b7c-9a4f-4b1e-8f57-1a2b3c4d5e6f'),
    F.ExecuteSearch(F.MailBoxSearchCriterion(F.Query(query), options.length > 0 ? F.Options(options) : null)),
  );

function response(reply: LookupReply, status: number = FindStatus.Success): WbxmlElement {
  expect(reply.status).toBe(200);
  expect(reply.body?.intOf('Status')).toBe(FindStatus.Success);
  const element = reply.body!.require('Response');
  expect(element.textOf('ItemOperations:Store')).toBe('Mailbox');
  expect(element.intOf('Status')).toBe(status);
  return element;
}

const serverIds = (element: WbxmlElement) =>
  element.all('Result').map((result) => result.textOf('AirSync:ServerId'));

describe('Find (16.1)', () => {
  it('searches mail with KQL free text, paging by Range, newest first, with summaries', async () => {
    const inbox = server.folder('alice', 'Inbox').id;
    const first = response(
      await server.send(
        'Find',
        mailFind([AS.Class('Email'), AS.CollectionId(inbox), F.FreeText('subject:budget')], [F.Range('0-2')]),
        { version: '16.1' },
      ),
    );
    expect(serverIds(first)).toEqual([ids.m5, ids.m4, ids.m3]);
    expect(first.textOf('Range')).toBe('0-2');
    expect(first.intOf('Total')).toBe(5);
    const result = first.all('Result')[0]!;
    expect(result.textOf('AirSync:Class')).toBe('Email');
    expect(result.textOf('AirSync:CollectionId')).toBe(inbox);
    const properties = result.require('Properties');
    expect(properties.textOf('Email:Subject')).toBe('Budget review 5');
    expect(properties.textOf('Email:DateReceived')).toBe('2026-02-05T00:00:00.000Z');
    expect(properties.textOf('Email:Read')).toBe('0');
    expect(properties.textOf('HasAttachments')).toBe('0');
    const next = response(
      await server.send('Find', mailFind([F.FreeText('budget review')], [F.Range('3-9')]), {
        version: '16.1',
      }),
    );
    expect(serverIds(next)).toEqual([ids.m2, ids.m1]);
    const deep = response(
      await server.send(
        'Find',
        mailFind([AS.CollectionId(inbox), F.FreeText('budget')], [F.DeepTraversal()]),
        {
          version: '16.1',
        },
      ),
    );
    expect(serverIds(deep)[0]).toBe(ids.sub);
    expect(deep.intOf('Total')).toBe(6);
  });

  it('searches the GAL with pictures', async () => {
    const reply = await server.send(
      'Find',
      F.Find(
        F.SearchId('a'),
        F.ExecuteSearch(
          F.GalSearchCriterion(
            F.Query(F.FreeText('ali')),
            F.Options(F.Range('0-9'), F.Picture(F.MaxPictures(1))),
          ),
        ),
      ),
      { version: '16.1' },
    );
    const found = response(reply);
    const people = found
      .all('Result')
      .map((result) => result.require('Properties').textOf('Gal:EmailAddress'));
    expect(people).toEqual(['alice@example.com', 'alina@example.com']);
    const alina = found.all('Result')[1]!.require('Properties');
    expect(alina.require('Gal:Picture').intOf('Gal:Status')).toBe(1);
    expect(alina.textOf('Gal:MobilePhone')).toBe('+1 555 0142');
    expect(found.intOf('Total')).toBe(2);
  });

  it('answers bad ranges, unknown folders and malformed requests with their statuses', async () => {
    const send = (body: WbxmlElement) => server.send('Find', body, { version: '16.1' });
    response(await send(mailFind([F.FreeText('budget')], [F.Range('0-1000')])), FindStatus.InvalidRange);
    response(await send(mailFind([F.FreeText('budget')], [F.Range('5-1')])), FindStatus.InvalidRange);
    response(await send(mailFind([F.FreeText('budget')], [F.Range('x')])), FindStatus.InvalidRequest);
    const bobsInbox = server.folder('bob', 'Inbox').id;
    response(
      await send(mailFind([AS.CollectionId(bobsInbox), F.FreeText('budget')])),
      FindStatus.FolderSyncRequired,
    );
    expect(response(await send(mailFind([F.FreeText('bob')]))).intOf('Total')).toBe(0);
    const words = Array.from({ length: 200 }, (_, i) => `w${i}`).join(' ');
    response(await send(mailFind([F.FreeText(words)])), FindStatus.InvalidRequest);
    expect(response(await send(mailFind([F.FreeText('.*(+)?$[')]))).intOf('Total')).toBe(0);
    expect((await send(F.Find(F.SearchId('x')))).body?.intOf('Status')).toBe(FindStatus.InvalidRequest);
    expect((await send(F.Find())).body?.intOf('Status')).toBe(FindStatus.InvalidRequest);
  });

  it('does not exist before 16.1', async () => {
    const reply = await server.send('Find', mailFind([F.FreeText('budget')]), { version: '16.0' });
    expect(reply.status).toBe(501);
  });

  it('reads KQL terms as words', () => {
    expect(kqlFreeText('subject:budget AND from:ada  review')).toBe('budget ada review');
  });
});
