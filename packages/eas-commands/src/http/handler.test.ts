import { decode, eas, encode } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { createEasHandler, type EasCommandContext, type EasRequestLog } from './handler.js';
import type { EasHttpRequest } from './request.js';

const alice = { userId: 'alice@example.com', addresses: ['alice@example.com', 'al@example.org'] };
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function setup() {
  const logs: EasRequestLog[] = [];
  const seen: EasCommandContext[] = [];
  const handler = createEasHandler({
    authenticate: async (credentials) =>
      credentials.scheme === 'basic' && credentials.username === 'alice' && credentials.password === 'secret'
        ? alice
        : undefined,
    commands: {
      FolderSync: async (context) => {
        seen.push(context);
        return {
          kind: 'wbxml',
          body: eas.FolderHierarchy.FolderSync([
            eas.FolderHierarchy.Status('1'),
            eas.FolderHierarchy.SyncKey('1'),
          ]),
        };
      },
      Sync: async () => ({ kind: 'empty' }),
      Ping: async () => {
        throw new Error('store exploded');
      },
    },
    onRequest: (log) => logs.push(log),
  });
  return { handler, logs, seen };
}

function post(query: string, body: Uint8Array, headers: Record<string, string> = {}): EasHttpRequest {
  return {
    method: 'POST',
    url: `/Microsoft-Server-ActiveSync?${query}`,
    headers: {
      authorization: basic('alice', 'secret'),
      'ms-asprotocolversion': '14.1',
      'content-type': 'application/vnd.ms-sync.wbxml',
      ...headers,
    },
    body,
  };
}

const folderSyncBody = encode(eas.FolderHierarchy.FolderSync([eas.FolderHierarchy.SyncKey('0')]));
const query = (command: string, user = 'alice') =>
  `Cmd=${command}&User=${user}&DeviceId=dev1&DeviceType=SmartPhone`;

describe('createEasHandler', () => {
  it('runs a command with the decoded body and encodes its answer', async () => {
    const { handler, logs, seen } = setup();
    const response = await handler(post(query('FolderSync'), folderSyncBody));
    expect(response.status).toBe(200);
    expect(response.headers['Content-Type']).toBe('application/vnd.ms-sync.wbxml');
    expect(decode(response.body!).textOf('SyncKey')).toBe('1');
    expect(seen[0]!.body?.textOf('SyncKey')).toBe('0');
    expect(seen[0]!.identity.userId).toBe('alice@example.com');
    expect(logs[0]).toMatchObject({
      user: 'alice@example.com',
      deviceId: 'dev1',
      command: 'FolderSync',
      protocolVersion: '14.1',
      httpStatus: 200,
    });
  });

  it('answers an empty result with 200 and no body', async () => {
    const { handler } = setup();
    const response = await handler(post(query('Sync'), new Uint8Array(0)));
    expect(response.status).toBe(200);
    expect(response.body).toBeUndefined();
  });

  it('challenges missing or wrong credentials with 401', async () => {
    const { handler } = setup();
    const anonymous = post(query('FolderSync'), folderSyncBody, {});
    const noAuth = { ...anonymous, headers: { ...anonymous.headers, authorization: undefined } };
    for (const request of [
      noAuth,
      post(query('FolderSync'), folderSyncBody, { authorization: basic('alice', 'x') }),
    ]) {
      const response = await handler(request);
      expect(response.status).toBe(401);
      expect(response.headers['WWW-Authenticate']).toMatch(/^Basic realm=/);
    }
  });

  it("refuses another user's mailbox with 403 and runs nothing", async () => {
    const { handler, seen } = setup();
    const response = await handler(post(query('FolderSync', 'bob'), folderSyncBody));
    expect(response.status).toBe(403);
    expect(seen).toHaveLength(0);
    expect((await handler(post(query('FolderSync', 'EXAMPLE%5Cal'), folderSyncBody))).status).toBe(200);
  });

  it('answers OPTIONS with the offered versions and only the implemented commands', async () => {
    const { handler } = setup();
    const response = await handler({
      method: 'OPTIONS',
      url: '/Microsoft-Server-ActiveSync',
      headers: { authorization: basic('alice', 'secret') },
      body: new Uint8Array(0),
    });
    expect(response.status).toBe(200);
    expect(response.headers['MS-ASProtocolVersions']).toBe('2.5,12.0,12.1,14.0,14.1,16.0,16.1');
    expect(response.headers['MS-ASProtocolCommands']).toBe('FolderSync,Sync,Ping');
  });

  it('logs a body that is not WBXML as 400 with a hex excerpt', async () => {
    const { handler, logs, seen } = setup();
    const response = await handler(post(query('FolderSync'), Uint8Array.of(3, 1, 0x6a, 0, 0x45, 0x99)));
    expect(response.status).toBe(400);
    expect(seen).toHaveLength(0);
    expect(logs[0]!.bodyExcerpt).toMatch(/\[/);
  });

  it('refuses unknown commands, paths and methods', async () => {
    const { handler } = setup();
    expect((await handler(post(query('Search'), new Uint8Array(0)))).status).toBe(501);
    expect((await handler(post(query('Bogus'), new Uint8Array(0)))).status).toBe(501);
    const wrongPath = { ...post(query('Sync'), new Uint8Array(0)), url: '/owa/?Cmd=Sync' };
    expect((await handler(wrongPath)).status).toBe(404);
    const get = { ...post(query('Sync'), new Uint8Array(0)), method: 'GET' };
    expect((await handler(get)).status).toBe(405);
  });

  it('turns a failing command into a bare 500 and logs the error', async () => {
    const { handler, logs } = setup();
    const response = await handler(post(query('Ping'), new Uint8Array(0)));
    expect(response.status).toBe(500);
    expect(response.body).toBeUndefined();
    expect((logs[0]!.error as Error).message).toBe('store exploded');
  });
});

describe('createEasHandler: stored text WBXML cannot carry', () => {
  it('sends NUL characters of stored data as U+FFFD instead of failing the response', async () => {
    const handler = createEasHandler({
      authenticate: async () => alice,
      commands: {
        FolderSync: async () => ({
          kind: 'wbxml',
          body: eas.FolderHierarchy.FolderSync([
            eas.FolderHierarchy.Status('1'),
            eas.FolderHierarchy.SyncKey('a\u0000b'),
          ]),
        }),
      },
    });
    const response = await handler(post(query('FolderSync'), folderSyncBody));
    expect(response.status).toBe(200);
    expect(decode(response.body!).textOf('SyncKey')).toBe('a\ufffdb');
  });
});
