import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryMailboxStore } from '@easkit/mailbox';
import { eas, type WbxmlElement } from '@easkit/wbxml';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestDevice } from '../test/device.js';
import { configFromEnv } from './config.js';
import { PasswordDirectory } from './passwords.js';
import { seedDemoMailbox } from './seed.js';
import { type RunningServer, startEasServer } from './server.js';

const dataDir = () => mkdtempSync(join(tmpdir(), 'easkit-server-data-'));

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('startEasServer', () => {
  let running: RunningServer;
  const lines: Record<string, unknown>[] = [];

  beforeAll(async () => {
    const mailbox = new MemoryMailboxStore();
    const passwords = new PasswordDirectory();
    const demo = await seedDemoMailbox(mailbox);
    await passwords.setPassword(demo.id, 'pw');
    const logger = pino({ base: undefined }, { write: (line: string) => lines.push(JSON.parse(line)) });
    running = await startEasServer({
      config: configFromEnv({ EASKIT_PORT: '0' }),
      mailbox,
      passwords,
      commands: { Ping: async () => ({ kind: 'empty' }) },
      logger,
    });
  });

  afterAll(() => running.close());

  it('authenticates every account spelling and logs one line per request', async () => {
    for (const name of ['demo@easkit.test', 'demo', 'EASKIT\\demo', 'DEMO@EASKIT.TEST']) {
      const response = await fetch(`${running.url}/Microsoft-Server-ActiveSync`, {
        method: 'OPTIONS',
        headers: { Authorization: basic(name, 'pw') },
      });
      expect(response.status, name).toBe(200);
      expect(response.headers.get('ms-asprotocolcommands')).toBe('Ping');
    }
    const refused = await fetch(`${running.url}/Microsoft-Server-ActiveSync`, {
      method: 'OPTIONS',
      headers: { Authorization: basic('demo', 'wrong') },
    });
    expect(refused.status).toBe(401);
    const unknown = await fetch(`${running.url}/Microsoft-Server-ActiveSync`, {
      method: 'OPTIONS',
      headers: { Authorization: basic('nobody@easkit.test', 'pw') },
    });
    expect(unknown.status).toBe(401);
    expect(lines).toHaveLength(6);
    expect(lines[5]).toMatchObject({ status: 401, msg: 'request refused' });
  });

  it('serves a command with the request logged by user, device and command', async () => {
    lines.length = 0;
    const response = await fetch(
      `${running.url}/Microsoft-Server-ActiveSync?Cmd=Ping&User=demo&DeviceId=abc&DeviceType=iPhone`,
      { method: 'POST', headers: { Authorization: basic('demo', 'pw'), 'MS-ASProtocolVersion': '16.1' } },
    );
    expect(response.status).toBe(200);
    expect(lines[0]).toMatchObject({
      user: 'demo@easkit.test',
      device: 'abc',
      cmd: 'Ping',
      status: 200,
      msg: 'request',
    });
    expect(typeof lines[0]!.ms).toBe('number');
  });
});

describe('easkit-server (the built entry point)', () => {
  it('starts on EASKIT_PORT, prints the demo password and a listening line, and stops on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../dist/main.js')], {
      env: {
        ...process.env,
        EASKIT_PORT: '0',
        EASKIT_LOG_LEVEL: 'silent',
        EASKIT_DEMO_PASSWORD: '',
        EASKIT_DATA_DIR: dataDir(),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in: ${output}`)), 15_000);
      child.stdout.on('data', () => {
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
    });
    const url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
    const password = /password: (\S+)/.exec(output)![1]!;
    const response = await fetch(url, {
      method: 'OPTIONS',
      headers: { Authorization: basic('demo', password) },
    });
    expect(response.status).toBe(200);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('answers a waiting Ping before it exits on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../dist/main.js')], {
      env: {
        ...process.env,
        EASKIT_PORT: '0',
        EASKIT_LOG_LEVEL: 'silent',
        EASKIT_DEMO_PASSWORD: 'pw',
        EASKIT_STORAGE: 'memory',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no listening line in: ${output}`)), 15_000);
      child.stdout.on('data', () => {
        if (output.includes('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const url = /listening on (http:\/\/\S+)/.exec(output)![1]!;
    const { AirSync: AS, FolderHierarchy: FH, Ping: P } = eas;
    const device = new TestDevice(url.replace(/\/Microsoft-Server-ActiveSync$/, ''), 'demo', 'pw', 'sigterm');
    await device.provision();
    const send = async (command: string, body: WbxmlElement) => (await device.send(command, body)).body;
    const hierarchy = await send('FolderSync', FH.FolderSync(FH.SyncKey('0')));
    const inbox = hierarchy!
      .require('Changes')
      .all('Add')
      .find((folder) => folder.intOf('Type') === 2)!
      .textOf('ServerId')!;
    const primed = await send(
      'Sync',
      AS.Sync(AS.Collections(AS.Collection(AS.SyncKey('0'), AS.CollectionId(inbox)))),
    );
    const key = primed!.require('Collections').require('Collection').textOf('SyncKey')!;
    await send('Sync', AS.Sync(AS.Collections(AS.Collection(AS.SyncKey(key), AS.CollectionId(inbox)))));
    const ping = send(
      'Ping',
      P.Ping(P.HeartbeatInterval(600), P.Folders(P.Folder(P.Id(inbox), P.Class('Email')))),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const answer = await ping;
    expect(answer!.intOf('Status')).toBe(1);
    expect(await exited).toBe(0);
  });

  it('starts from a configuration file (--config) and is discovered by email, healthy and measured', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'easkit-config-run-'));
    const configFile = join(folder, 'easkit.yaml');
    writeFileSync(
      configFile,
      [
        'server:',
        '  port: 0',
        '  publicUrl: https://mail.example.com',
        'storage:',
        `  dataDir: ${join(folder, 'data')}`,
        'demo:',
        '  password: from-the-file',
        'logLevel: silent',
      ].join('\n'),
    );
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../dist/main.js'), '--config', configFile],
      {
        env: { ...process.env, EASKIT_PORT: '', EASKIT_DEMO_PASSWORD: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line in: ${output}`)), 30_000);
        child.stdout.on('data', () => {
          if (output.includes('listening on')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code}: ${output}`)));
      });
      expect(output).toContain('PGlite');
      const url = /listening on (http:\/\/[^/\s]+)/.exec(output)![1]!;
      const discovered = await fetch(`${url}/Autodiscover/Autodiscover.xml`, {
        method: 'POST',
        headers: { Authorization: basic('demo@easkit.test', 'from-the-file'), 'Content-Type': 'text/xml' },
        body: '<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"><Request><EMailAddress>demo@easkit.test</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006</AcceptableResponseSchema></Request></Autodiscover>',
      });
      expect(await discovered.text()).toContain(
        '<Url>https://mail.example.com/Microsoft-Server-ActiveSync</Url>',
      );
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${url}/metrics`)).text()).toContain('easkit_requests_total');
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it('refuses a bad configuration with a message naming the variable', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../dist/main.js')], {
      env: { ...process.env, EASKIT_PORT: 'eighty' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let errors = '';
    child.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(errors).toMatch(/EASKIT_PORT/);
  });
});
