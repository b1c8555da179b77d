import { eas, encode } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { decodeRequestBody, hexExcerpt, InvalidWbxmlBodyError } from './body.js';

describe('decodeRequestBody', () => {
  it('decodes WBXML and treats an empty body as absent', () => {
    const tree = eas.FolderHierarchy.FolderSync([eas.FolderHierarchy.SyncKey('0')]);
    expect(decodeRequestBody(encode(tree))?.name).toBe('FolderSync');
    expect(decodeRequestBody(new Uint8Array(0))).toBeUndefined();
  });

  it('answers malformed WBXML with a 400 that carries a hex excerpt', () => {
    const body = Uint8Array.of(0x03, 0x01, 0x6a, 0x00, 0x45, 0x99, 0x01);
    try {
      decodeRequestBody(body);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidWbxmlBodyError);
      const invalid = error as InvalidWbxmlBodyError;
      expect(invalid.httpStatus).toBe(400);
      expect(invalid.excerpt).toContain('[');
      expect(invalid.offset).toBeGreaterThan(0);
    }
  });

  it('applies the limits it is given', () => {
    const tree = eas.FolderHierarchy.FolderSync([eas.FolderHierarchy.SyncKey('0')]);
    expect(() => decodeRequestBody(encode(tree), { maxNodes: 1 })).toThrow(InvalidWbxmlBodyError);
  });
});

describe('hexExcerpt', () => {
  it('marks the offending byte and elides the rest', () => {
    const bytes = Uint8Array.from({ length: 100 }, (_, index) => index);
    expect(hexExcerpt(bytes, 50, 2)).toBe('… 30 31 [32] 33 …');
    expect(hexExcerpt(Uint8Array.of(1, 2), 0)).toBe('[01] 02');
  });
});
