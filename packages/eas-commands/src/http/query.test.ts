import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EasHttpError } from './errors.js';
import { parseEasQuery } from './query.js';

describe('parseEasQuery: plain form', () => {
  it('reads Cmd, User, DeviceId, DeviceType and the command parameters, names in any case and order', () => {
    const query = parseEasQuery(
      'deviceType=iPhone&Cmd=SmartReply&User=CONTOSO%5Calice&DeviceId=ApplF17X&ItemId=5%3A12&CollectionId=5&SaveInSent=T&LongId=RgAA&Occurrence=2026-01-01T10%3A00%3A00.000Z&AttachmentName=5%3A12%3A0&ParentId=0',
    );
    expect(query).toEqual({
      form: 'plain',
      command: 'SmartReply',
      user: 'CONTOSO\\alice',
      deviceId: 'ApplF17X',
      deviceType: 'iPhone',
      parameters: {
        attachmentName: '5:12:0',
        collectionId: '5',
        itemId: '5:12',
        longId: 'RgAA',
        occurrence: '2026-01-01T10:00:00.000Z',
        parentId: '0',
        saveInSent: true,
      },
    });
  });

  it('treats SaveInSent=F as false, and an empty User as absent', () => {
    const query = parseEasQuery('Cmd=SendMail&User=&DeviceId=abc&DeviceType=Android&SaveInSent=F');
    expect(query.user).toBeUndefined();
    expect(query.parameters.saveInSent).toBe(false);
  });

  it('refuses a query without Cmd, DeviceId or DeviceType, or with a bad DeviceId', () => {
    for (const query of [
      'User=a&DeviceId=b&DeviceType=c',
      'Cmd=Sync&User=a&DeviceType=c',
      'Cmd=Sync&User=a&DeviceId=b',
      'Cmd=Sync&DeviceId=a%2Cb&DeviceType=c',
      `Cmd=Sync&DeviceId=${'x'.repeat(200)}&DeviceType=c`,
    ]) {
      expect(() => parseEasQuery(query), query).toThrow(EasHttpError);
    }
  });
});

describe('parseEasQuery: base64 form (MS-ASHTTP 2.2.1.1.1.1)', () => {
  it('reads the example of the specification', () => {
    expect(parseEasQuery('jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l')).toEqual({
      form: 'base64',
      command: 'Sync',
      user: undefined,
      deviceId: 'v140Device',
      deviceType: 'SmartPhone',
      protocolVersion: '14.0',
      policyKey: undefined,
      locale: 0x0409,
      parameters: {},
    });
  });

  it('reads a policy key, a binary device id and the tagged parameters', () => {
    const deviceId = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
    const bytes = Buffer.concat([
      Buffer.from([161, 3, 0x07, 0x04, deviceId.length]),
      deviceId,
      Buffer.from([4, 0x78, 0x56, 0x34, 0x12]),
      Buffer.from([7]),
      Buffer.from('Android'),
      Buffer.from([1, 1]),
      Buffer.from('5'),
      Buffer.from([3, 4]),
      Buffer.from('5:42'),
      Buffer.from([7, 1, 0x03]),
      Buffer.from([8, 5]),
      Buffer.from('alice'),
      Buffer.from([2, 1, 0x41]),
    ]);
    const query = parseEasQuery(encodeURIComponent(bytes.toString('base64')));
    expect(query).toMatchObject({
      form: 'base64',
      command: 'SmartReply',
      protocolVersion: '16.1',
      deviceId: '00112233445566778899AABBCCDDEEFF',
      deviceType: 'Android',
      policyKey: 0x12345678,
      locale: 0x0407,
      user: 'alice',
      parameters: { collectionId: '5', itemId: '5:42', saveInSent: true, acceptMultiPart: true },
    });
  });

  it('names retired or unknown command codes so the caller can refuse them', () => {
    const bytes = Buffer.from([140, 5, 9, 4, 1, 0x41, 0, 1, 0x42]);
    expect(parseEasQuery(bytes.toString('base64')).command).toBe('#5');
  });

  it('refuses bad base64 queries with 400', () => {
    const cases = [
      Buffer.from([25, 0, 9, 4, 1, 0x41, 0, 1, 0x42]), // 2.5 never uses this form
      Buffer.from([140, 0, 9]),
      Buffer.from([140, 0, 9, 4, 0, 0, 1, 0x42]),
      Buffer.from([140, 0, 9, 4, 1, 0x41, 3, 1, 2, 3, 1, 0x42]),
      Buffer.from([140, 0, 9, 4, 1, 0x41, 0, 5, 0x42]),
      Buffer.from([140, 0, 9, 4, 1, 0x41, 0, 1, 0x42, 1, 9, 0x41]),
    ];
    for (const bytes of cases) {
      expect(() => parseEasQuery(bytes.toString('base64'))).toThrow(EasHttpError);
    }
    expect(() => parseEasQuery('not base64!')).toThrow(EasHttpError);
  });

  it('answers any query string with a query or an EasHttpError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.uint8Array().map((bytes) => Buffer.from(bytes).toString('base64')),
        ),
        (text) => {
          try {
            parseEasQuery(text);
          } catch (error) {
            expect(error).toBeInstanceOf(EasHttpError);
            expect((error as EasHttpError).httpStatus).toBe(400);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('parseEasQuery: base64 padding', () => {
  it('reads a base64 query that ends in = padding as the base64 form', () => {
    for (const deviceId of ['a', 'ab', 'abc', 'abcd']) {
      const bytes = Buffer.concat([
        Buffer.from([141, 0, 9, 4, deviceId.length]),
        Buffer.from(deviceId),
        Buffer.from([0, 1, 0x50]),
      ]);
      const query = parseEasQuery(bytes.toString('base64'));
      expect(query).toMatchObject({ form: 'base64', command: 'Sync', deviceId, deviceType: 'P' });
    }
  });
});
