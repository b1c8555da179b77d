import { decode, eas, encode, type WbxmlElement } from '@easkit/wbxml';
import { describe, expect, it } from 'vitest';
import { EasClient } from './client.js';
import { EasAccessDeniedError, EasProvisionError, EasThrottledError } from './errors.js';
import type { FetchFunction } from './transport.js';

const { Provision: PR, FolderHierarchy: FH } = eas;

interface Seen {
  command: string;
  policyKey: string | null;
  body?: WbxmlElement;
}

/**
 * A scripted server: `answer` gets each request (command, policy key header, decoded body) and returns the
 * response. Provision is answered by the standard two phases with keys 111 (temporary) and 222 (final).
 */
function scripted(answer: (seen: Seen, index: number) => Response | undefined) {
  const requests: Seen[] = [];
  const fetcher: FetchFunction = async (input, init) => {
    const url = new URL(input);
    if (init.method === 'OPTIONS') {
      return new Response(null, {
        headers: { 'MS-ASProtocolVersions': '2.5,12.1,14.1', 'MS-ASProtocolCommands': 'Sync' },
      });
    }
    const headers = new Headers(init.headers);
    const body = init.body ? decode(new Uint8Array(init.body as Uint8Array)) : undefined;
    const seen: Seen = {
      command: url.searchParams.get('Cmd') ?? '',
      policyKey: headers.get('x-ms-policykey'),
      ...(body ? { body } : {}),
    };
    requests.push(seen);
    const scriptedAnswer = answer(seen, requests.length - 1);
    if (scriptedAnswer) return scriptedAnswer;
    if (seen.command === 'Provision') {
      const policy = body?.require('Policies').require('Policy');
      const type = policy?.textOf('PolicyType') ?? '';
      const acknowledging = policy?.has('PolicyKey');
      return wbxml(
        PR.Provision(
          PR.Status(1),
          PR.Policies(
            PR.Policy(
              PR.PolicyType(type),
              PR.Status(1),
              PR.PolicyKey(acknowledging ? '222' : '111'),
              !acknowledging && PR.Data(PR.EASProvisionDoc(PR.DevicePasswordEnabled(0))),
            ),
          ),
        ),
      );
    }
    return wbxml(FH.FolderSync(FH.Status(1), FH.SyncKey('1'), FH.Changes(FH.Count(0))));
  };
  return { requests, fetcher };
}

const wbxml = (element: WbxmlElement, status = 200) =>
  new Response(encode(element), { status, headers: { 'Content-Type': 'application/vnd.ms-sync.wbxml' } });

const open = (fetcher: FetchFunction, protocolVersion: '12.1' | '14.1') =>
  EasClient.open({
    url: 'https://eas.example/Microsoft-Server-ActiveSync',
    credentials: { username: 'u', password: 'p' },
    fetch: fetcher,
    protocolVersion,
    deviceId: 'D1',
  });

describe('provisioning on demand', () => {
  it('14.1: Status 142 in the command body, then the two phases without and with the temporary key', async () => {
    const server = scripted((seen, index) =>
      seen.command === 'FolderSync' && index === 0 ? wbxml(FH.FolderSync(FH.Status(142))) : undefined,
    );
    const client = await open(server.fetcher, '14.1');
    const result = await client.folderSync();
    expect(result.status).toBe(1);
    expect(server.requests.map((seen) => [seen.command, seen.policyKey])).toEqual([
      ['FolderSync', null],
      ['Provision', null],
      ['Provision', '111'],
      ['FolderSync', '222'],
    ]);
    expect(client.policyKey).toBe('222');
  });

  it('12.1: a 403 before any key is taken as "provision first" once (what Exchange sends)', async () => {
    const server = scripted((seen, index) =>
      seen.command === 'FolderSync' && index === 0 ? new Response('', { status: 403 }) : undefined,
    );
    const client = await open(server.fetcher, '12.1');
    expect((await client.folderSync()).status).toBe(1);
    expect(server.requests.map((seen) => seen.command)).toEqual([
      'FolderSync',
      'Provision',
      'Provision',
      'FolderSync',
    ]);
  });

  it('a 403 with a key, or a second one, is final', async () => {
    const server = scripted((seen) =>
      seen.command === 'FolderSync' ? new Response('', { status: 403 }) : undefined,
    );
    const client = await open(server.fetcher, '12.1');
    await expect(client.folderSync()).rejects.toBeInstanceOf(EasAccessDeniedError);
    expect(server.requests.map((seen) => seen.command)).toEqual([
      'FolderSync',
      'Provision',
      'Provision',
      'FolderSync',
    ]);
  });

  it('a server that keeps asking for Provision ends in EasProvisionError, not a loop', async () => {
    const server = scripted((seen) =>
      seen.command === 'FolderSync' ? new Response('', { status: 449 }) : undefined,
    );
    const client = await open(server.fetcher, '12.1');
    await expect(client.folderSync()).rejects.toBeInstanceOf(EasProvisionError);
    expect(server.requests).toHaveLength(4);
  });

  it('14.1 access statuses (129 blocked) become EasAccessDeniedError with the status', async () => {
    const server = scripted(() => wbxml(FH.FolderSync(FH.Status(129))));
    const client = await open(server.fetcher, '14.1');
    const error = await client.folderSync().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EasAccessDeniedError);
    expect((error as EasAccessDeniedError).easStatus).toBe(129);
  });

  it('a throttled request surfaces Retry-After', async () => {
    const server = scripted(() => new Response('', { status: 503, headers: { 'Retry-After': '12' } }));
    const client = await open(server.fetcher, '14.1');
    const error = await client.folderSync().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EasThrottledError);
    expect((error as EasThrottledError).retryAfterSec).toBe(12);
  });
});
