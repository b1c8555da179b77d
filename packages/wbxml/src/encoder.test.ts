import { describe, expect, it } from 'vitest';
import { decode } from './decoder.js';
import { encode } from './encoder.js';
import { WbxmlError } from './errors.js';
import { eas, element } from './tree.js';

const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');

describe('encode', () => {
  const { AirSync, AirSyncBase, ComposeMail, FolderHierarchy } = eas;

  it('writes the EAS header and switches page only when it changes', () => {
    expect(hex(encode(FolderHierarchy.FolderSync(FolderHierarchy.SyncKey('0'))))).toBe(
      '03 01 6a 00 00 07 56 52 03 30 00 01 01',
    );
    const tree = AirSync.Sync(
      AirSyncBase.Body(AirSyncBase.Type(1)),
      AirSyncBase.NativeBodyType(1),
      AirSync.Limit(5),
    );
    expect(hex(encode(tree))).toBe(
      '03 01 6a 00 45 00 11 4a 46 03 31 00 01 01 56 03 31 00 01 00 00 65 03 35 00 01 01',
    );
  });

  it('writes elements without content with the content bit clear', () => {
    expect(hex(encode(AirSync.Sync(AirSync.DeletesAsMoves(), AirSync.GetChanges())))).toBe(
      '03 01 6a 00 45 1e 13 01',
    );
  });

  it('keeps an empty string apart from no content', () => {
    const bytes = encode(AirSync.Sync(AirSync.SyncKey('')));
    expect(hex(bytes)).toBe('03 01 6a 00 45 4b 03 00 01 01');
    expect(decode(bytes).require('SyncKey').content).toBe('');
  });

  it('writes strings as UTF-8 STR_I and bytes as OPAQUE with a multi-byte length', () => {
    const text = 'Grüße 🙂 '.repeat(10);
    const mime = new Uint8Array(300).map((_, i) => i & 0xff);
    const tree = ComposeMail.SendMail(ComposeMail.ClientId(text), ComposeMail.Mime(mime));
    const bytes = encode(tree);
    expect(hex(bytes.subarray(0, 8))).toBe('03 01 6a 00 00 15 45 51');
    const decoded = decode(bytes);
    expect(decoded.textOf('ClientId')).toBe(text);
    expect(decoded.bytesOf('Mime')).toEqual(mime);
    // Mime (0x10 with content) then OPAQUE with length 300 = 0x82 0x2C.
    expect(hex(bytes)).toContain('01 50 c3 82 2c 00 01 02');
  });

  it('grows its buffer for large documents', () => {
    const body = 'x'.repeat(100_000);
    const tree = AirSync.Sync(Array.from({ length: 50 }, () => AirSyncBase.Body(AirSyncBase.Data(body))));
    const bytes = encode(tree, { initialCapacity: 16 });
    expect(decode(bytes)).toEqual(tree);
  });

  it('refuses NUL inside a string and trees deeper than the limit', () => {
    expect(() => encode(AirSync.Sync(AirSync.SyncKey('a\0b')))).toThrow(WbxmlError);
    expect(() =>
      encode(AirSync.Sync(AirSync.SyncKey('a long string with a NUL\0 past the short path'))),
    ).toThrow(/NUL/);
    let deep = AirSync.Collection();
    for (let i = 0; i < 10; i++) deep = AirSync.Collection(deep);
    expect(() => encode(deep, { maxDepth: 10 })).toThrow(WbxmlError);
    expect(() => encode(deep, { maxDepth: 11 })).not.toThrow();
  });

  it('writes the element() form like the builders', () => {
    expect(encode(element('AirSync', 'Sync', element('AirSync', 'SyncKey', '1')))).toEqual(
      encode(AirSync.Sync(AirSync.SyncKey('1'))),
    );
  });
});
