import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EasApp, loadConfig, startApp } from '@easkit/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EasClient } from './client.js';
import { type EasVersion, FolderType } from './protocol.js';
import { MemoryDeviceState, newSnapshot } from './state.js';

const USER = 'demo@easkit.test';
const folder = mkdtempSync(join(tmpdir(), 'easkit-client-folders-'));
let app: EasApp;
let anchorDer: Uint8Array;

beforeAll(async () => {
  // A self-signed CA the server trusts, for ValidateCert.
  const key = join(folder, 'ca.key');
  const pem = join(folder, 'ca.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=easkit test CA',
      '-keyout',
      key,
      '-out',
      pem,
    ],
    { stdio: 'ignore' },
  );
  anchorDer = new Uint8Array(execFileSync('openssl', ['x509', '-in', pem, '-outform', 'DER']));
  const config = join(folder, 'easkit.yaml');
  writeFileSync(
    config,
    `storage:\n  kind: memory\nvalidateCert:\n  trustAnchorFiles: [${pem}]\nlogLevel: silent\n`,
  );
  app = await startApp(
    loadConfig({ file: config, env: { EASKIT_PORT: '0', EASKIT_DEMO_PASSWORD: 'pw' } }),
    pino({ level: 'silent' }),
  );
  expect(readFileSync(pem, 'utf8')).toContain('BEGIN CERTIFICATE');
});
afterAll(() => app?.close());

const open = (deviceId: string, version: EasVersion) =>
  EasClient.open({
    url: `${app.running.url}/Microsoft-Server-ActiveSync`,
    credentials: { username: USER, password: 'pw' },
    protocolVersion: version,
    state: new MemoryDeviceState(newSnapshot(deviceId, 'TestPhone')),
  });

describe.each(['2.5', '12.1', '14.1', '16.1'] as EasVersion[])(
  'folder commands and ValidateCert at EAS %s',
  (version) => {
    const tag = version.replace('.', '');

    it('creates, renames and deletes a folder, keeping the hierarchy key and folder list', async () => {
      const client = await open(`folders${tag}`, version);
      const created = await client.folderCreate('0', `Projects ${tag}`, FolderType.UserMail);
      expect(created.status).toBe(1);
      const id = created.serverId!;
      expect(client.snapshot.folders.find((known) => known.serverId === id)?.displayName).toBe(
        `Projects ${tag}`,
      );
      expect((await client.folderCreate('0', `Projects ${tag}`, FolderType.UserMail)).status).toBe(2);
      expect((await client.folderUpdate(id, '0', `Archive ${tag}`)).status).toBe(1);
      // Another device sees the rename; this one's key is current, so its next FolderSync has nothing new.
      const other = await open(`folders-other${tag}`, version);
      const seen = await other.folderSync();
      expect(seen.folders.find((known) => known.serverId === id)?.displayName).toBe(`Archive ${tag}`);
      const again = await client.folderSync();
      expect(again.added).toEqual([]);
      expect(again.updated).toEqual([]);
      expect((await client.folderDelete(id)).status).toBe(1);
      expect(client.snapshot.folders.some((known) => known.serverId === id)).toBe(false);
      expect((await client.folderDelete(id)).status).toBe(4);
    });

    it('asks the server about certificates (ValidateCert)', async () => {
      const client = await open(`certs${tag}`, version);
      const result = await client.validateCert({ certificates: [anchorDer] });
      expect(result.status).toBe(1);
      expect(result.certificates).toEqual([1]);
    });
  },
);

describe('Find at EAS 16.1', () => {
  it('finds mail in the Inbox and people in the GAL', async () => {
    const client = await open('finder', '16.1');
    await client.folderSync();
    const inbox = client.folder(FolderType.Inbox)!.serverId;
    const mail = await client.find({
      searchId: 's1',
      kind: 'mail',
      query: 'easkit',
      collectionId: inbox,
      range: '0-9',
    });
    expect(mail.status).toBe(1);
    expect(mail.results.length).toBeGreaterThan(0);
    const people = await client.find({ searchId: 's2', kind: 'gal', query: 'demo', range: '0-9' });
    expect(people.status).toBe(1);
    expect(people.results.length).toBeGreaterThan(0);
  });
});
