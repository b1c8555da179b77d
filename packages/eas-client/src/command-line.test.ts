import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EasApp } from '@easkit/server';
import { eas } from '@easkit/wbxml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SmtpSink, startReferenceServer, untilWaiting } from '../test/server.js';
import { EasClient } from './client.js';
import { runCommandLine } from './command-line.js';
import { FolderType } from './protocol.js';

let app: EasApp;
let sink: SmtpSink;
beforeAll(async () => {
  sink = new SmtpSink();
  await sink.start();
  app = await startReferenceServer(sink);
});
afterAll(async () => {
  await app?.close();
  await sink?.close();
});

async function run(args: string[], signal?: AbortSignal) {
  let stdout = '';
  let stderr = '';
  const code = await runCommandLine(args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    env: {},
    ...(signal ? { signal } : {}),
  });
  return { code, stdout: () => stdout, stderr };
}

/** The built bin as a child process; the server in this process keeps answering meanwhile. */
function runBin(args: string[], env: Record<string, string> = {}) {
  const bin = join(import.meta.dirname, '../bin/easkit-client.js');
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [bin, ...args], { env: { ...process.env, ...env } }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('easkit-client check, the built bin as a child process', () => {
  it('checks an account end to end: Autodiscover, OPTIONS, Provision, FolderSync, Sync of the Inbox', async () => {
    expect(
      existsSync(join(import.meta.dirname, '../dist/cli.js')),
      'dist/cli.js is missing: run `pnpm build` (turbo runs it before test)',
    ).toBe(true);
    const result = await runBin(['check', 'demo@easkit.test', '--url', app.running.url], {
      EASKIT_PASSWORD: 'pw',
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    for (const step of ['autodiscover', 'options', 'provision', 'foldersync', 'sync inbox']) {
      expect(result.stdout).toMatch(new RegExp(`ok +${step} +\\d+ ms`));
    }
    expect(result.stdout).toContain('Welcome to easkit');
    expect(result.stdout).toContain('everything works');
  });

  it('reports the failing step and exits 1', async () => {
    const result = await runBin([
      'check',
      'demo@easkit.test',
      '--url',
      `${app.running.url}/Microsoft-Server-ActiveSync`,
      '--password',
      'wrong',
      '--json',
    ]);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout);
    expect(report.ok).toBe(false);
    expect(report.steps.map((step: { step: string; ok: boolean }) => [step.step, step.ok])).toEqual([
      ['autodiscover', true],
      ['options', false],
    ]);
    expect(report.steps[1].detail).toMatch(/EasAuthError: HTTP 401/);
  });
});

describe('easkit-client sync, send and watch', () => {
  const connection = ['--url', '', '--password', 'pw'];
  beforeAll(() => {
    connection[1] = app.running.url;
  });

  it('syncs with a kept state: everything the first time, only what is new the next', async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'easkit-client-cli-')), 'phone.json');
    const first = await run([
      'sync',
      'demo@easkit.test',
      ...connection,
      '--state',
      state,
      '--protocol',
      '14.1',
    ]);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout()).toMatch(/Inbox \(\S+\): status 1, 1 added/);
    expect(first.stdout()).toContain('Welcome to easkit');
    const second = await run([
      'sync',
      'demo@easkit.test',
      ...connection,
      '--state',
      state,
      '--folder',
      'inbox',
      'Contacts',
    ]);
    expect(second.stdout()).toMatch(/Inbox \(\S+\): status 1, 0 added, 0 changed, 0 deleted/);
    expect(second.stdout()).toContain('Lovelace, Ada');
  });

  it('sends a message', async () => {
    const result = await run([
      'send',
      'demo@easkit.test',
      ...connection,
      '--base64',
      '--to',
      'friend@remote.test',
      '--subject',
      'Grüße from the CLI',
      '--body',
      'Sent with easkit-client.',
    ]);
    expect(result.stderr).toBe('');
    expect(result.stdout()).toBe('sent to friend@remote.test\n');
    const message = sink.received.find((entry) => entry.message.includes('Sent with easkit-client.'));
    expect(message?.recipients).toEqual(['friend@remote.test']);
    expect(message?.message).toContain(
      `Subject: =?UTF-8?B?${Buffer.from('Grüße from the CLI').toString('base64')}?=`,
    );
  });

  it('watches a folder and prints a change as it arrives', async () => {
    const controller = new AbortController();
    let printed = '';
    const watching = runCommandLine(
      [
        'watch',
        'demo@easkit.test',
        ...connection,
        '--folder',
        'Contacts',
        '--no-initial',
        '--heartbeat',
        '300',
      ],
      {
        stdout: (text) => {
          printed += text;
        },
        stderr: (text) => {
          printed += text;
        },
        signal: controller.signal,
      },
    );
    await untilWaiting(app.running.url);
    const other = await EasClient.open({
      url: `${app.running.url}/Microsoft-Server-ActiveSync`,
      credentials: { username: 'demo@easkit.test', password: 'pw' },
    });
    await other.folderSync();
    const contacts = other.folder(FolderType.Contacts)!.serverId;
    await other.syncCollection(contacts, {
      commands: [{ kind: 'add', clientId: 'cli-1', data: [eas.Contacts.FileAs('Hamilton, Margaret')] }],
    });
    while (!printed.includes('Hamilton, Margaret')) await new Promise((resolve) => setTimeout(resolve, 20));
    controller.abort();
    expect(await watching).toBe(0);
    expect(printed).toMatch(/Contacts: 1 added, 0 changed, 0 deleted\n {2}\+ \S+ Hamilton, Margaret/);
    expect(printed).toMatch(/stopped after \d+ s/);
  });

  it('exits 2 on bad usage', async () => {
    const noPassword = await run(['sync', 'demo@easkit.test', '--url', app.running.url]);
    expect(noPassword.code).toBe(2);
    expect(noPassword.stderr).toContain('a password is needed');
    const badVersion = await run(['check', 'demo@easkit.test', '--protocol', '9.9']);
    expect(badVersion.code).toBe(2);
    expect((await run(['--help'])).code).toBe(0);
  });
});
