import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FolderType } from '@easkit/mailbox';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startApp } from './app.js';
import { configFromEnv } from './config.js';

const run = promisify(execFile);

describe('easkit import (the built CLI) on the embedded store', () => {
  it('imports an mbox and a vCard into the configured store, and a second run adds nothing', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'easkit-import-cli-'));
    const env = { EASKIT_DATA_DIR: dataDir, EASKIT_DEMO_PASSWORD: 'pw', EASKIT_PORT: '0' };
    // The first start creates the demo user; the import runs while no server holds the folder.
    await (await startApp(configFromEnv(env), pino({ level: 'silent' }))).close();
    const files = mkdtempSync(join(tmpdir(), 'easkit-import-files-'));
    const mbox = join(files, 'old.mbox');
    writeFileSync(
      mbox,
      [
        'From a@example.com Mon Jan  1 10:00:00 2024',
        'From: a@example.com',
        'Subject: first imported',
        'Message-ID: <i1@example.com>',
        '',
        'body one',
        '>From the quoting',
        '',
        'From b@example.com Tue Jan  2 10:00:00 2024',
        'From: b@example.com',
        'Subject: second imported',
        'Message-ID: <i2@example.com>',
        '',
        'body two',
        '',
      ].join('\n'),
    );
    const vcf = join(files, 'people.vcf');
    writeFileSync(
      vcf,
      'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Jo Doe\r\nN:Doe;Jo;;;\r\nEMAIL:jo@example.com\r\nEND:VCARD\r\n',
    );
    const cli = join(import.meta.dirname, '../dist/cli.js');
    const first = await run(process.execPath, [cli, 'import', '--user', 'demo@easkit.test', mbox, vcf], {
      env: { ...process.env, ...env },
    });
    expect(first.stdout).toMatch(/Email\s+2\s+0/);
    expect(first.stdout).toMatch(/Contacts\s+1\s+0/);
    const second = await run(process.execPath, [cli, 'import', '--user', 'demo@easkit.test', mbox], {
      env: { ...process.env, ...env },
    });
    expect(second.stdout).toMatch(/Email\s+0\s+2/);

    const app = await startApp(configFromEnv(env), pino({ level: 'silent' }));
    try {
      const folders = await app.stores.mailbox.listFolders('demo@easkit.test');
      const inbox = folders.find((folder) => folder.type === FolderType.Inbox)!;
      const page = await app.stores.mailbox.changes('demo@easkit.test', inbox.id, 0, 100);
      const subjects = page.changes.flatMap((change) =>
        change.kind === 'delete' || change.item.class !== 'Email' ? [] : [change.item.data.subject],
      );
      expect(subjects).toEqual(expect.arrayContaining(['first imported', 'second imported']));
    } finally {
      await app.close();
    }
  });

  it('fails with exit code 1 for an unknown user', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'easkit-import-cli-'));
    const cli = join(import.meta.dirname, '../dist/cli.js');
    const failed = await run(
      process.execPath,
      [cli, 'import', '--user', 'nobody@nowhere.test', '/dev/null'],
      {
        env: { ...process.env, EASKIT_DATA_DIR: dataDir },
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 1 });
    expect((failed as { stderr: string }).stderr).toMatch(/no such user/);
  });
});
