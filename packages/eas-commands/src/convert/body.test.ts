import type { StoredItem } from '@easkit/mailbox';
import { eas, type ProtocolVersion, type WbxmlElement } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { tagsOutsideVersion, testMailbox, throughWire } from '../../test/convert-helpers.js';
import { parseClientBody, renderEmailBody, renderStoredBody } from './body.js';
import { type ContentOptions, MalformedItemError } from './types.js';

const CRLF = '\r\n';
const PLAIN = 'Héllo wörld ✓ and some more words to preview';
const HTML = '<p>Héllo <b>wörld</b> ✓</p>';
// What the mailbox's MIME parser gives back for each part: the text with its closing line break.
const PLAIN_BODY = `${PLAIN}\n`;
const HTML_BODY = `${HTML}\n`;

function alternativeMime(): Uint8Array {
  const text = [
    'From: "Ada" <ada@example.com>',
    'To: bob@example.com',
    'Subject: Hi',
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="alt"',
    '',
    '--alt',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    PLAIN,
    '--alt',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    HTML,
    '--alt--',
    '',
  ].join(CRLF);
  return new TextEncoder().encode(text);
}

/** A single-part message whose body is Latin-1, i.e. not valid UTF-8: MIME must survive as bytes. */
function latin1Mime(): Uint8Array {
  const head = new TextEncoder().encode(
    ['From: ada@example.com', 'Subject: x', 'Content-Type: text/plain; charset=iso-8859-1', '', 'caf'].join(
      CRLF,
    ),
  );
  const bytes = new Uint8Array(head.byteLength + 2);
  bytes.set(head);
  bytes.set([0xe9, 0x0a], head.byteLength);
  return bytes;
}

async function email(messageClass = 'IPM.Note', mime = alternativeMime()) {
  const box = await testMailbox();
  const item = await box.add({
    class: 'Email',
    data: { mime, dateReceived: new Date('2026-01-05T09:00:00Z'), read: false, messageClass },
  });
  return {
    mime,
    render: async (version: ProtocolVersion, options: Partial<ContentOptions>) => {
      const rendered = await renderEmailBody(messageClass, box.context(item as StoredItem, version, options));
      expect(tagsOutsideVersion(rendered.elements, version)).toEqual([]);
      return { ...rendered, wire: throughWire(rendered.elements) };
    },
  };
}

const bodyOf = (wire: WbxmlElement) => wire.require('AirSyncBase:Body');

describe('airsyncbase:Body (12.0+)', () => {
  it('takes the first preference the message can provide and reports the stored form', async () => {
    const { render } = await email();
    const { wire, nativeType } = await render('12.1', {
      bodyPreferences: [{ type: 3 }, { type: 2 }, { type: 1 }],
    });
    const body = bodyOf(wire);
    expect(body.intOf('Type')).toBe(2);
    expect(body.textOf('Data')).toBe(HTML_BODY);
    expect(body.textOf('Truncated')).toBe('0');
    expect(body.intOf('EstimatedDataSize')).toBe(new TextEncoder().encode(HTML_BODY).byteLength);
    expect(nativeType).toBe('html');
  });

  it('sends plain text when the device gave no preference', async () => {
    const { render } = await email();
    const { wire } = await render('12.1', {});
    expect(bodyOf(wire).intOf('Type')).toBe(1);
    expect(bodyOf(wire).textOf('Data')).toBe(PLAIN_BODY);
  });

  it('truncates to TruncationSize bytes without splitting a UTF-8 character', async () => {
    const { render } = await email();
    // "Hé": H is one byte, é two; a 2-byte cut must stop before é.
    const { wire } = await render('12.1', { bodyPreferences: [{ type: 1, truncationSize: 2 }] });
    const body = bodyOf(wire);
    expect(body.textOf('Data')).toBe('H');
    expect(body.textOf('Truncated')).toBe('1');
    expect(body.intOf('EstimatedDataSize')).toBe(new TextEncoder().encode(PLAIN_BODY).byteLength);
  });

  it('passes over a type whose body does not fit when AllOrNone is set', async () => {
    const { render } = await email();
    const { wire } = await render('12.1', {
      bodyPreferences: [
        { type: 2, truncationSize: 10, allOrNone: true },
        { type: 1, truncationSize: 4096 },
      ],
    });
    expect(bodyOf(wire).intOf('Type')).toBe(1);
    expect(bodyOf(wire).textOf('Data')).toBe(PLAIN_BODY);
  });

  it('announces the body without data when no preference fits under AllOrNone', async () => {
    const { render } = await email();
    const { wire } = await render('12.1', {
      bodyPreferences: [{ type: 2, truncationSize: 10, allOrNone: true }],
    });
    const body = bodyOf(wire);
    expect(body.intOf('Type')).toBe(2);
    expect(body.textOf('Truncated')).toBe('1');
    expect(body.has('Data')).toBe(false);
    expect(body.intOf('EstimatedDataSize')).toBeGreaterThan(10);
  });

  it('sends the whole body under AllOrNone when it fits', async () => {
    const { render } = await email();
    const { wire } = await render('12.1', {
      bodyPreferences: [{ type: 2, truncationSize: 4096, allOrNone: true }],
    });
    expect(bodyOf(wire).textOf('Data')).toBe(HTML_BODY);
  });

  it('adds a Preview from 14.0 on only, at most the characters asked for', async () => {
    const { render } = await email();
    const asked = { bodyPreferences: [{ type: 2 as const, preview: 10 }] };
    const at14 = bodyOf((await render('14.1', asked)).wire);
    expect(at14.textOf('Preview')).toBe('Héllo wörl');
    const at12 = bodyOf((await render('12.1', asked)).wire);
    expect(at12.has('Preview')).toBe(false);
  });

  it('sends MIME as OPAQUE bytes that survive a non-UTF-8 message', async () => {
    const { render, mime } = await email('IPM.Note', latin1Mime());
    const { wire } = await render('14.1', { mimeSupport: 2, bodyPreferences: [{ type: 4 }] });
    const body = bodyOf(wire);
    expect(body.intOf('Type')).toBe(4);
    const data = body.require('AirSyncBase:Data');
    expect(data.bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from(data.bytes!)).toEqual(Array.from(mime));
  });

  it('truncates MIME to TruncationSize bytes', async () => {
    const { render } = await email();
    const { wire } = await render('14.1', {
      mimeSupport: 2,
      bodyPreferences: [{ type: 4, truncationSize: 20 }],
    });
    const data = bodyOf(wire).require('AirSyncBase:Data').bytes!;
    expect(data.byteLength).toBeLessThanOrEqual(20);
    expect(bodyOf(wire).textOf('Truncated')).toBe('1');
  });

  it('does not send MIME unless MIMESupport allows it', async () => {
    const { render } = await email();
    const { wire } = await render('14.1', { mimeSupport: 0, bodyPreferences: [{ type: 4 }, { type: 1 }] });
    expect(bodyOf(wire).intOf('Type')).toBe(1);
  });

  it('MIMESupport 1 means MIME for S/MIME messages only', async () => {
    const options = {
      mimeSupport: 1 as const,
      bodyPreferences: [{ type: 4 as const }, { type: 2 as const }],
    };
    const signed = await email('IPM.Note.SMIME.MultipartSigned');
    expect(bodyOf((await signed.render('14.1', options)).wire).intOf('Type')).toBe(4);
    const plain = await email('IPM.Note');
    expect(bodyOf((await plain.render('14.1', options)).wire).intOf('Type')).toBe(2);
  });
});

describe('2.5 email bodies', () => {
  it('sends Body and BodyTruncated, cut to Truncation', async () => {
    const { render } = await email();
    const { wire } = await render('2.5', { truncation: 5 });
    expect(wire.textOf('Email:Body')).toBe('Héll');
    expect(wire.textOf('Email:BodyTruncated')).toBe('1');
    expect(wire.intOf('Email:BodySize')).toBe(new TextEncoder().encode(PLAIN_BODY).byteLength);
    const whole = await render('2.5', {});
    expect(whole.wire.textOf('Email:Body')).toBe(PLAIN_BODY);
    expect(whole.wire.textOf('Email:BodyTruncated')).toBe('0');
  });

  it('sends MIMEData as bytes with MIMETruncated and MIMESize when MIMESupport asks', async () => {
    const { render, mime } = await email('IPM.Note', latin1Mime());
    const { wire } = await render('2.5', { mimeSupport: 2 });
    expect(Array.from(wire.require('Email:MIMEData').bytes!)).toEqual(Array.from(mime));
    expect(wire.textOf('Email:MIMETruncated')).toBe('0');
    expect(wire.intOf('Email:MIMESize')).toBe(mime.byteLength);
    expect(wire.has('Email:Body')).toBe(false);
    const cut = await render('2.5', { mimeSupport: 2, mimeTruncation: 10 });
    expect(cut.wire.require('Email:MIMEData').bytes!.byteLength).toBe(10);
    expect(cut.wire.textOf('Email:MIMETruncated')).toBe('1');
  });
});

describe('stored bodies (Calendar, Contacts, Tasks, Notes)', () => {
  const context = (version: ProtocolVersion, options: Partial<ContentOptions> = {}) => ({
    version,
    options: { bodyPreferences: [], mimeSupport: 0 as const, ...options },
    readBody: () => Promise.reject(new Error('not used')),
  });

  it('uses the class namespace in 2.5, with BodySize where the class has it', async () => {
    const body = { type: 'html' as const, data: '<p>Hi <b>there</b></p>' };
    const contacts = throughWire(await renderStoredBody('Contacts', body, context('2.5', { truncation: 3 })));
    expect(contacts.textOf('Contacts:Body')).toBe('Hi ');
    expect(contacts.textOf('Contacts:BodyTruncated')).toBe('1');
    expect(contacts.intOf('Contacts:BodySize')).toBeGreaterThan(3);
    const calendar = await renderStoredBody('Calendar', body, context('2.5'));
    expect(calendar.map((element) => element.qualifiedName)).toEqual([
      'Calendar:Body',
      'Calendar:BodyTruncated',
    ]);
  });

  it('converts between plain and HTML as the device prefers', async () => {
    const rendered = await renderStoredBody(
      'Tasks',
      { type: 'plain', data: 'a < b' },
      context('12.1', { bodyPreferences: [{ type: 2 }] }),
    );
    const body = throughWire(rendered).require('AirSyncBase:Body');
    expect(body.intOf('Type')).toBe(2);
    expect(body.textOf('Data')).toContain('a &lt; b');
  });

  it('falls back to the stored RTF when the device asked only for a form RTF cannot become', async () => {
    const rendered = await renderStoredBody(
      'Contacts',
      { type: 'rtf', data: 'e1xydGYxfQ==' },
      context('12.1', { bodyPreferences: [{ type: 1 }] }),
    );
    const body = throughWire(rendered).require('AirSyncBase:Body');
    expect(body.intOf('Type')).toBe(3);
    expect(body.textOf('Data')).toBe('e1xydGYxfQ==');
  });

  it('renders nothing for an item without a body', async () => {
    expect(await renderStoredBody('Notes', undefined, context('14.1'))).toEqual([]);
  });
});

describe('bodies from clients', () => {
  const ASB = eas.AirSyncBase;
  const appData = (...children: WbxmlElement[]) => eas.AirSync.ApplicationData(children);

  it('reads airsyncbase:Body by Type', () => {
    expect(parseClientBody(appData(ASB.Body(ASB.Type(2), ASB.Data('<p>x</p>'))))).toEqual({
      type: 'html',
      data: '<p>x</p>',
    });
    expect(parseClientBody(appData(ASB.Body(ASB.Type(1))))).toEqual({ type: 'plain', data: '' });
    expect(parseClientBody(appData(ASB.Body(ASB.Type(3), ASB.Data('e30='))))).toEqual({
      type: 'rtf',
      data: 'e30=',
    });
  });

  it('reads the 2.5 class Body as plain text', () => {
    expect(parseClientBody(appData(eas.Contacts.Body('hello')), 'Contacts')).toEqual({
      type: 'plain',
      data: 'hello',
    });
    expect(parseClientBody(appData(eas.Contacts.FirstName('x')), 'Contacts')).toBeUndefined();
  });

  it('refuses MIME and unknown types', () => {
    expect(() => parseClientBody(appData(ASB.Body(ASB.Type(4), ASB.Data('x'))))).toThrow(MalformedItemError);
    expect(() => parseClientBody(appData(ASB.Body(ASB.Type(9), ASB.Data('x'))))).toThrow(MalformedItemError);
  });
});
