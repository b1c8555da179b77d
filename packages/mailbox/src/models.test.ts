import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { importsOf, walkEntry } from '../../../tooling/entry-imports.ts';
import { findException, formatInstanceId, parseInstanceId } from './models/calendar.js';
import { FolderType, folderClass, isSpecialFolderType } from './models/folder.js';
import { sampleCalendar } from './samples.js';

describe('folder types', () => {
  it('has the 19 EAS folder types with the classes clients sync them as', () => {
    assert.deepEqual(
      Object.values(FolderType),
      Array.from({ length: 19 }, (_, i) => i + 1),
    );
    const byClass = (c: string) =>
      Object.values(FolderType)
        .filter((t) => folderClass(t) === c)
        .sort((a, b) => a - b);
    assert.deepEqual(byClass('Email'), [1, 2, 3, 4, 5, 6, 12]);
    assert.deepEqual(byClass('Calendar'), [8, 13]);
    assert.deepEqual(byClass('Contacts'), [9, 14, 19]);
    assert.deepEqual(byClass('Tasks'), [7, 15]);
    assert.deepEqual(byClass('Notes'), [10, 17]);
    assert.equal(folderClass(FolderType.Journal), undefined);
    assert.ok(isSpecialFolderType(FolderType.Inbox) && !isSpecialFolderType(FolderType.UserMail));
  });
});

describe('calendar instance ids', () => {
  it('formats, parses both dateTime forms, and finds the exception', () => {
    const start = new Date('2025-02-17T09:00:00Z');
    assert.equal(formatInstanceId(start), '2025-02-17T09:00:00.000Z');
    assert.deepEqual(parseInstanceId('2025-02-17T09:00:00.000Z'), start);
    assert.deepEqual(parseInstanceId('20250217T090000Z'), start);
    assert.equal(parseInstanceId('not a date'), undefined);
    assert.equal(findException(sampleCalendar(), start)?.subject, 'Planning (moved)');
    assert.equal(findException(sampleCalendar(), new Date('2025-02-24T09:00:00Z')), undefined);
  });
});

describe('package entry point', () => {
  it('never loads vitest: nothing reachable from index.ts imports it', () => {
    const { modules: seen } = walkEntry(import.meta.dirname);
    for (const file of seen) {
      assert.ok(!importsOf(join(import.meta.dirname, file)).includes('vitest'), `${file} imports vitest`);
    }
    assert.ok(seen.size > 5);
    assert.ok(![...seen].some((f) => f.endsWith('conformance.ts')));
  });
});
