import { describe, expect, it } from 'vitest';
import { WbxmlError } from './errors.js';
import { eas, element } from './tree.js';

describe('element tree', () => {
  const { AirSync, AirSyncBase, Email } = eas;

  it('builds with typed builders, skipping null, undefined and false', () => {
    const subject: string | undefined = undefined;
    const tree = AirSync.ApplicationData(
      Email.Subject(subject ?? null),
      subject && Email.Subject(subject),
      [Email.Read(1), [Email.Importance(2)]],
      false,
    );
    expect(tree.children.map((child) => child.qualifiedName)).toEqual([
      'Email:Subject',
      'Email:Read',
      'Email:Importance',
    ]);
    expect(tree.children[0]!.content).toEqual([]);
    expect(tree.textOf('Read')).toBe('1');
  });

  it('turns numbers and bigints into text and Uint8Array into bytes', () => {
    expect(AirSync.WindowSize(100).content).toBe('100');
    expect(AirSync.WindowSize(10n).content).toBe('10');
    expect(AirSyncBase.Data(Uint8Array.of(1, 2)).bytes).toEqual(Uint8Array.of(1, 2));
  });

  it('refuses unknown tags and mixed content', () => {
    // @ts-expect-error: the name is checked against the code page at compile time too
    expect(() => element('AirSync', 'NoSuchTag')).toThrow(WbxmlError);
    expect(() => AirSync.Sync('text', AirSync.SyncKey('1'))).toThrow(/both text and child/);
    expect(() => AirSync.SyncKey('1', '2')).toThrow(/more than one/);
  });

  it('reads children by bare or qualified name', () => {
    const data = AirSync.ApplicationData(Email.Body('legacy'), AirSyncBase.Body(AirSyncBase.Type(2)));
    expect(data.child('Body')?.namespace).toBe('Email');
    expect(data.child('AirSyncBase:Body')?.intOf('Type')).toBe(2);
    expect(data.all('Body')).toHaveLength(2);
    expect(data.has('Email:Subject')).toBe(false);
    expect(() => data.require('Subject')).toThrow(/has no Subject/);
  });

  it('reads integers strictly, booleans the EAS way, and bytes from text or opaque', () => {
    const collection = AirSync.Collection(
      AirSync.WindowSize(' 25 '),
      AirSync.SyncKey('abc'),
      AirSync.DeletesAsMoves(),
      AirSync.GetChanges('0'),
      AirSync.Status('1'),
    );
    expect(collection.intOf('WindowSize')).toBe(25);
    expect(collection.intOf('Limit')).toBeUndefined();
    expect(() => collection.intOf('SyncKey')).toThrow(WbxmlError);
    expect(collection.boolOf('DeletesAsMoves')).toBe(true);
    expect(collection.boolOf('GetChanges')).toBe(false);
    expect(collection.boolOf('Status')).toBe(true);
    expect(collection.boolOf('Partial')).toBeUndefined();
    expect(collection.bytesOf('SyncKey')).toEqual(new TextEncoder().encode('abc'));
  });

  it('has text "" for an element with no content and none for one with children', () => {
    expect(AirSync.GetChanges().text).toBe('');
    expect(AirSync.Sync(AirSync.SyncKey('1')).text).toBeUndefined();
    expect(AirSync.SyncKey('1').children).toEqual([]);
  });
});
