import { eas, type WbxmlElement } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectLibwbxmlReadsAll } from '../../test/harness.js';
import { type LookupReply, LookupServer } from '../../test/lookup-server.js';
import { mergedFreeBusy, ResolveRecipientsStatus as Status } from './resolve-recipients.js';

const { ResolveRecipients: RR } = eas;

let server: LookupServer;
const CERT = new Uint8Array([0x30, 0x82, 0x01, 0x0a, 0x02]);
const at = (time: string) => new Date(`2026-03-02T${time}:00Z`); // a Monday

beforeAll(async () => {
  server = await new LookupServer().start();
  for (const [id, name] of [
    ['alina@example.com', 'Alina Alvarez'],
    ['albert@example.com', 'Albert Ölberg'],
    ['alfred@example.com', 'Alfred Pennyworth'],
  ] as const) {
    await server.mailbox.createUser({ id, primarySmtpAddress: id, displayName: name });
  }
  server.profiles.set('alina@example.com', { certificates: [CERT], photo: new Uint8Array(30) });
  server.profiles.set('alice@example.com', { certificates: [CERT, CERT] });
  server.directory.invalidate();
  await server.mailbox.createItem('alice@example.com', server.folder('alice', 'Contacts').id, {
    class: 'Contacts',
    data: { firstName: 'Quentin', lastName: 'Quarterly', email1Address: '"Q" <quentin@example.net>' },
  });
  // Bob's calendar: busy 10:00-11:00, tentative 11:00-12:00, and a weekly Monday stand-up at 12:30.
  const calendar = server.folder('bob', 'Calendar').id;
  const event = (start: string, end: string, busyStatus: 0 | 1 | 2 | 3, extra = {}) =>
    server.mailbox.createItem('bob@example.com', calendar, {
      class: 'Calendar',
      data: { startTime: at(start), endTime: at(end), busyStatus, subject: 'x', ...extra },
    });
  await event('10:00', '11:00', 2);
  await event('11:00', '12:00', 1);
  await server.mailbox.createItem('bob@example.com', calendar, {
    class: 'Calendar',
    data: {
      startTime: new Date('2026-02-02T12:30:00Z'),
      endTime: new Date('2026-02-02T13:00:00Z'),
      busyStatus: 3,
      subject: 'stand-up',
      recurrence: { type: 1, interval: 1, dayOfWeek: 2 },
    },
  });
});

afterAll(async () => {
  await server.stop();
});

const resolve = (names: string[], ...options: WbxmlElement[]) =>
  RR.ResolveRecipients(
    names.map((name) => RR.To(name)),
    options.length > 0 ? RR.Options(options) : null,
  );

function responses(reply: LookupReply): WbxmlElement[] {
  expect(reply.status).toBe(200);
  expect(reply.body?.intOf('Status')).toBe(Status.Success);
  return reply.body!.all('Response');
}

const recipients = (response: WbxmlElement) =>
  response.all('Recipient').map((recipient) => [recipient.intOf('Type'), recipient.textOf('EmailAddress')]);

describe('ResolveRecipients', () => {
  it('resolves exact addresses, ambiguous and unknown names, and contacts', async () => {
    const [exact, ambiguous, unknown, contact, byName] = responses(
      await server.send(
        'ResolveRecipients',
        resolve(['Alice@Example.com', 'al', 'nobody@nowhere.example', 'quentin@example.net', 'Quentin']),
      ),
    );
    expect(exact!.textOf('To')).toBe('Alice@Example.com');
    expect(exact!.intOf('Status')).toBe(Status.Success);
    expect(exact!.intOf('RecipientCount')).toBe(1);
    expect(exact!.require('Recipient').textOf('DisplayName')).toBe('Alice Liddell');
    expect(recipients(exact!)).toEqual([[1, 'alice@example.com']]);
    expect(ambiguous!.intOf('Status')).toBe(Status.Ambiguous);
    expect(ambiguous!.intOf('RecipientCount')).toBe(4);
    expect(recipients(ambiguous!).map(([, address]) => address)).toEqual([
      'albert@example.com',
      'alfred@example.com',
      'alice@example.com',
      'alina@example.com',
    ]);
    expect(unknown!.intOf('Status')).toBe(Status.Unresolved);
    expect(unknown!.intOf('RecipientCount')).toBe(0);
    expect(recipients(contact!)).toEqual([[2, 'quentin@example.net']]);
    expect(byName!.intOf('Status')).toBe(Status.Success);
    expect(recipients(byName!)).toEqual([[2, 'quentin@example.net']]);

    const [partial] = responses(
      await server.send('ResolveRecipients', resolve(['al'], RR.MaxAmbiguousRecipients(2))),
    );
    expect(partial!.intOf('Status')).toBe(Status.AmbiguousPartial);
    expect(partial!.intOf('RecipientCount')).toBe(2);
  });

  it('returns certificates, mini certificates, no-certificate and limit statuses', async () => {
    const certificates = (response: WbxmlElement) => response.require('Recipient').require('Certificates');
    const [alina, alfred] = responses(
      await server.send(
        'ResolveRecipients',
        resolve(['alina@example.com', 'alfred@example.com'], RR.CertificateRetrieval(2)),
      ),
    );
    expect(certificates(alina!).intOf('Status')).toBe(Status.Success);
    expect(certificates(alina!).intOf('CertificateCount')).toBe(1);
    expect(certificates(alina!).textOf('Certificate')).toBe(Buffer.from(CERT).toString('base64'));
    expect(certificates(alfred!).intOf('Status')).toBe(Status.NoValidCertificate);
    const [mini] = responses(
      await server.send('ResolveRecipients', resolve(['alina@example.com'], RR.CertificateRetrieval(3))),
    );
    expect(certificates(mini!).has('MiniCertificate')).toBe(true);
    const [first, second] = responses(
      await server.send(
        'ResolveRecipients',
        resolve(
          ['alina@example.com', 'alice@example.com'],
          RR.CertificateRetrieval(2),
          RR.MaxCertificates(2),
        ),
      ),
    );
    expect(certificates(first!).intOf('Status')).toBe(Status.Success);
    expect(certificates(second!).intOf('Status')).toBe(Status.CertificateLimitReached);
    expect(certificates(second!).all('Certificate')).toHaveLength(0);
  });

  it('merges free/busy from the recipient’s calendar, including a weekly series (14.0+)', async () => {
    const availability = RR.Availability(
      RR.StartTime('2026-03-02T09:00:00.000Z'),
      RR.EndTime('2026-03-02T13:30:00.000Z'),
    );
    const [bob, contact] = responses(
      await server.send(
        'ResolveRecipients',
        resolve(['bob@example.com', 'quentin@example.net'], availability),
        {
          version: '14.0',
        },
      ),
    );
    const merged = bob!.require('Recipient').require('Availability');
    expect(merged.intOf('Status')).toBe(Status.Success);
    // 09:00 .. 13:30 in half hours: free, free, busy, busy, tentative, tentative, free, OOF, free.
    expect(merged.textOf('MergedFreeBusy')).toBe('002211030');
    expect(contact!.require('Recipient').require('Availability').intOf('Status')).toBe(
      Status.AvailabilityFailed,
    );
    const old = await server.send('ResolveRecipients', resolve(['bob@example.com'], availability), {
      version: '12.1',
    });
    expect(old.body?.intOf('Status')).toBe(Status.ProtocolError);
    const reversed = RR.Availability(
      RR.StartTime('2026-03-02T10:00:00.000Z'),
      RR.EndTime('2026-03-02T09:00:00.000Z'),
    );
    expect(
      (await server.send('ResolveRecipients', resolve(['bob@example.com'], reversed))).body?.intOf('Status'),
    ).toBe(Status.ProtocolError);
  });

  it('returns pictures from 14.1', async () => {
    const [alina, albert] = responses(
      await server.send(
        'ResolveRecipients',
        resolve(['alina@example.com', 'albert@example.com'], RR.Picture(RR.MaxSize(100), RR.MaxPictures(5))),
      ),
    );
    const picture = alina!.require('Recipient').require('Picture');
    expect(picture.intOf('Status')).toBe(1);
    expect(picture.textOf('Data')).toBe(Buffer.from(new Uint8Array(30)).toString('base64'));
    expect(albert!.require('Recipient').require('Picture').intOf('Status')).toBe(173);
  });

  it('answers malformed and hostile requests with Status 5 or an unresolved name, never crashing', async () => {
    const status = async (body: WbxmlElement) =>
      (await server.send('ResolveRecipients', body)).body?.intOf('Status');
    expect(await status(RR.ResolveRecipients())).toBe(Status.ProtocolError);
    expect(await status(resolve(Array.from({ length: 101 }, (_, i) => `p${i}`)))).toBe(Status.ProtocolError);
    expect(await status(resolve(['x'.repeat(5000)]))).toBe(Status.ProtocolError);
    expect(await status(resolve(['al'], RR.CertificateRetrieval(9)))).toBe(Status.ProtocolError);
    expect(await status(resolve(['al'], RR.MaxAmbiguousRecipients('lots' as unknown as number)))).toBe(
      Status.ProtocolError,
    );
    const [regex, words] = responses(
      await server.send(
        'ResolveRecipients',
        resolve(['.*(+)?$|[', Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ')]),
      ),
    );
    expect(regex!.intOf('Status')).toBe(Status.Unresolved);
    expect(words!.intOf('Status')).toBe(Status.Unresolved);
  });

  it('responses are read by libwbxml', async () => {
    await expectLibwbxmlReadsAll(server.responses, 10);
  });
});

describe('mergedFreeBusy', () => {
  it('leaves deleted occurrences out and honours a daily series count', () => {
    const series = {
      startTime: new Date('2026-03-01T09:00:00Z'),
      endTime: new Date('2026-03-01T10:00:00Z'),
      busyStatus: 2 as const,
      recurrence: { type: 0 as const, interval: 1, occurrences: 3 },
      exceptions: [{ exceptionStartTime: new Date('2026-03-02T09:00:00Z'), deleted: true }],
    };
    const day = (d: number) =>
      mergedFreeBusy([series], new Date(`2026-03-0${d}T09:00:00Z`), new Date(`2026-03-0${d}T10:00:00Z`));
    expect([day(1), day(2), day(3), day(4)]).toEqual(['22', '00', '22', '00']);
  });
});
