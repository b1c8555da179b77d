import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CODE_PAGES, codePage, NAMESPACES, namespaceFromXml, tagByName, tagByToken } from './codepages.js';

interface ReferenceTag {
  name: string;
  token: number;
  introduced: string;
  last_version?: string;
  legacy?: boolean;
  aliases?: Record<string, string>;
}
interface ReferencePage {
  page: number;
  namespace: string;
  in_use: boolean;
  tags: ReferenceTag[];
}

const vendored = join(import.meta.dirname, '../test/fixtures/codepages.json');
const reference = JSON.parse(readFileSync(vendored, 'utf8')) as { pages: ReferencePage[] };

describe('code pages', () => {
  it('has pages 0-25 with the namespaces of the checked reference table', () => {
    expect(CODE_PAGES.map((page) => page.page)).toEqual(reference.pages.map((page) => page.page));
    expect(CODE_PAGES.map((page) => page.page)).toEqual([...Array(26).keys()]);
    expect(NAMESPACES).toEqual(reference.pages.map((page) => page.namespace));
    expect(NAMESPACES.slice(0, 3)).toEqual(['AirSync', 'Contacts', 'Email']);
    expect(NAMESPACES[25]).toBe('Find');
  });

  it('equals the reference table tag for tag: name, token, versions, legacy flag', () => {
    let count = 0;
    for (const page of reference.pages) {
      const ours = codePage(page.page)!;
      expect(ours.inUse, `page ${page.page}`).toBe(page.in_use !== false);
      expect(ours.tags.map((tag) => [tag.name, tag.token, tag.since, tag.until, tag.legacy])).toEqual(
        page.tags.map((tag) => [tag.name, tag.token, tag.introduced, tag.last_version, tag.legacy === true]),
      );
      count += page.tags.length;
    }
    expect(count).toBe(644);
  });

  it('keeps libwbxml and Microsoft test-suite spellings as aliases', () => {
    for (const page of reference.pages) {
      for (const tag of page.tags) {
        for (const source of ['libwbxml', 'mstest']) {
          const alias = tag.aliases?.[source];
          if (alias && alias !== tag.name) expect(tagByName(page.namespace, alias)?.token).toBe(tag.token);
        }
      }
    }
    expect(tagByName('ComposeMail', 'MIME')?.name).toBe('Mime');
  });

  it('looks tags up by token and by name', () => {
    expect(tagByToken(0, 0x05)?.name).toBe('Sync');
    expect(tagByToken(17, 0x0a)?.name).toBe('Body');
    expect(tagByToken(0, 0x04)).toBeUndefined();
    expect(tagByToken(25, 0x3f)).toBeUndefined();
    expect(tagByName('AirSyncBase', 'Body')?.page).toBe(17);
    expect(tagByName('AirSync', 'Nope')).toBeUndefined();
    expect(tagByName('Nope', 'Sync')).toBeUndefined();
  });

  it('reads namespaces as XML writes them', () => {
    expect(namespaceFromXml('AirSync')).toBe('AirSync');
    expect(namespaceFromXml('AirSync:')).toBe('AirSync');
    expect(namespaceFromXml('airsyncbase')).toBe('AirSyncBase');
    expect(namespaceFromXml('Unknown')).toBeUndefined();
  });
});
