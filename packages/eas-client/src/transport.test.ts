import { eas, element, encode, type Namespace, type WbxmlElement } from '@easkit/wbxml';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readEstimate, readMoveItems } from './commands/estimate-move.js';
import { readFolderSync } from './commands/folder-sync.js';
import { readItemOperations } from './commands/item-operations.js';
import { readResolveRecipients, readSearch } from './commands/lookups.js';
import { readMeetingResponse } from './commands/meeting-response.js';
import { readPing } from './commands/ping.js';
import { readProvision } from './commands/provision.js';
import { readSettings } from './commands/settings.js';
import { readSync } from './commands/sync.js';
import {
  EasAccessDeniedError,
  EasAuthError,
  type EasHttpError,
  EasNetworkError,
  EasProtocolError,
  type EasRedirectError,
  EasThrottledError,
} from './errors.js';
import { EasTransport, type FetchFunction, splitMultipart } from './transport.js';

const identity = { command: 'Sync' as const, version: '14.1', deviceId: 'D1', deviceType: 'T' };

function transportAnswering(answer: () => Response | Promise<Response>, seen: Request[] = []) {
  const fetcher: FetchFunction = async (input, init) => {
    seen.push(new Request(input, init));
    return answer();
  };
  return new EasTransport({
    url: 'https://eas.example/Microsoft-Server-ActiveSync/',
    credentials: { username: 'u', password: 'p' },
    fetch: fetcher,
  });
}

describe('transport', () => {
  it('sends the headers of the plain form and reads a WBXML answer', async () => {
    const seen: Request[] = [];
    const answer = eas.FolderHierarchy.FolderSync(eas.FolderHierarchy.Status(1));
    const transport = transportAnswering(
      () => new Response(encode(answer), { headers: { 'Content-Type': 'application/vnd.ms-sync.wbxml' } }),
      seen,
    );
    const response = await transport.send({ ...identity, policyKey: '77', body: answer });
    expect(response.body?.intOf('Status')).toBe(1);
    const request = seen[0]!;
    expect(request.url).toBe(
      'https://eas.example/Microsoft-Server-ActiveSync?Cmd=Sync&User=u&DeviceId=D1&DeviceType=T',
    );
    expect(request.headers.get('ms-asprotocolversion')).toBe('14.1');
    expect(request.headers.get('x-ms-policykey')).toBe('77');
    expect(request.headers.get('authorization')).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(request.headers.get('content-type')).toBe('application/vnd.ms-sync.wbxml');
  });

  it('sends a bearer token and replays the server cookies', async () => {
    const seen: Request[] = [];
    const transport = new EasTransport({
      url: 'https://eas.example/Microsoft-Server-ActiveSync',
      credentials: { bearer: async () => 'tok', username: 'u' },
      fetch: async (input, init) => {
        seen.push(new Request(input, init));
        return new Response(null, { headers: [['Set-Cookie', 'affinity=abc; Path=/; HttpOnly']] });
      },
    });
    await transport.send(identity);
    await transport.send(identity);
    expect(seen[0]!.headers.get('authorization')).toBe('Bearer tok');
    expect(seen[1]!.headers.get('cookie')).toBe('affinity=abc');
  });

  it('turns 401, 403, 451, 503 and other failures into typed errors', async () => {
    const cases: [Response, (error: unknown) => void][] = [
      [new Response('', { status: 401 }), (error) => expect(error).toBeInstanceOf(EasAuthError)],
      [new Response('', { status: 403 }), (error) => expect(error).toBeInstanceOf(EasAccessDeniedError)],
      [
        new Response('', { status: 451, headers: { 'X-MS-Location': 'https://other.example/eas' } }),
        (error) => expect((error as EasRedirectError).location).toBe('https://other.example/eas'),
      ],
      [
        new Response('', {
          status: 503,
          headers: { 'Retry-After': '30', 'X-MS-ASThrottle': 'CommandFrequency' },
        }),
        (error) => {
          expect(error).toBeInstanceOf(EasThrottledError);
          expect((error as EasThrottledError).retryAfterSec).toBe(30);
          expect((error as EasThrottledError).throttleReason).toBe('CommandFrequency');
        },
      ],
      [
        new Response('', { status: 503 }),
        (error) => expect((error as EasThrottledError).retryAfterSec).toBeUndefined(),
      ],
      [new Response('', { status: 500 }), (error) => expect((error as EasHttpError).status).toBe(500)],
      [
        new Response('not wbxml', { headers: { 'Content-Type': 'application/vnd.ms-sync.wbxml' } }),
        (error) => expect(error).toBeInstanceOf(EasProtocolError),
      ],
    ];
    for (const [response, check] of cases) {
      const error = await transportAnswering(() => response)
        .send(identity)
        .catch((caught: unknown) => caught);
      check(error);
    }
    const status449 = await transportAnswering(() => new Response('', { status: 449 })).send(identity);
    expect(status449.status).toBe(449);
    const lost = await new EasTransport({
      url: 'https://eas.example/x',
      credentials: { username: 'u', password: 'p' },
      fetch: async () => {
        throw new TypeError('fetch failed');
      },
    })
      .send(identity)
      .catch((caught: unknown) => caught);
    expect(lost).toBeInstanceOf(EasNetworkError);
  });

  it('reads OPTIONS: versions, commands, server version', async () => {
    const transport = transportAnswering(
      () =>
        new Response(null, {
          headers: {
            'MS-ASProtocolVersions': '2.5,12.0,12.1,14.0,14.1',
            'MS-ASProtocolCommands': 'Sync, FolderSync,Ping',
            'MS-Server-ActiveSync': '14.3',
          },
        }),
    );
    expect(await transport.options({ deviceId: 'D', deviceType: 'T' })).toEqual({
      versions: ['2.5', '12.0', '12.1', '14.0', '14.1'],
      commands: ['Sync', 'FolderSync', 'Ping'],
      serverVersion: '14.3',
    });
  });

  it('splits a multipart ItemOperations answer and resolves Part references', async () => {
    const wbxml = encode(
      eas.ItemOperations.ItemOperations(
        eas.ItemOperations.Status(1),
        eas.ItemOperations.Response(
          eas.ItemOperations.Fetch(
            eas.ItemOperations.Status(1),
            eas.AirSyncBase.FileReference('f:1'),
            eas.ItemOperations.Properties(
              eas.AirSyncBase.ContentType('text/plain'),
              eas.ItemOperations.Part(1),
            ),
          ),
        ),
      ),
    );
    const attachment = new TextEncoder().encode('attached bytes');
    const header = 4 + 2 * 8;
    const body = new Uint8Array(header + wbxml.length + attachment.length);
    const view = new DataView(body.buffer);
    view.setInt32(0, 2, true);
    view.setInt32(4, header, true);
    view.setInt32(8, wbxml.length, true);
    view.setInt32(12, header + wbxml.length, true);
    view.setInt32(16, attachment.length, true);
    body.set(wbxml, header);
    body.set(attachment, header + wbxml.length);
    const transport = transportAnswering(
      () => new Response(body, { headers: { 'Content-Type': 'application/vnd.ms-sync.multipart' } }),
    );
    const response = await transport.send({
      ...identity,
      command: 'ItemOperations',
      parameters: { acceptMultiPart: true },
    });
    const result = readItemOperations(response.body, response.parts);
    expect(result.fetches[0]?.contentType).toBe('text/plain');
    expect(new TextDecoder().decode(result.fetches[0]?.bytes)).toBe('attached bytes');
  });

  it('refuses any malformed multipart framing with EasProtocolError only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const parts = splitMultipart(bytes);
          for (const part of parts) expect(part.byteLength).toBeLessThanOrEqual(bytes.byteLength);
        } catch (error) {
          expect(error).toBeInstanceOf(EasProtocolError);
        }
      }),
    );
  });
});

// Random trees over the tags the readers look at: whatever a server sends, a reader returns a result.
const TAGS: [Namespace, string][] = [
  ['AirSync', 'Sync'],
  ['AirSync', 'Collections'],
  ['AirSync', 'Collection'],
  ['AirSync', 'Status'],
  ['AirSync', 'SyncKey'],
  ['AirSync', 'CollectionId'],
  ['AirSync', 'Commands'],
  ['AirSync', 'Responses'],
  ['AirSync', 'Add'],
  ['AirSync', 'Change'],
  ['AirSync', 'Delete'],
  ['AirSync', 'ServerId'],
  ['AirSync', 'ClientId'],
  ['AirSync', 'ApplicationData'],
  ['AirSync', 'MoreAvailable'],
  ['AirSync', 'Limit'],
  ['AirSyncBase', 'Body'],
  ['AirSyncBase', 'Type'],
  ['AirSyncBase', 'Data'],
  ['AirSyncBase', 'Attachments'],
  ['AirSyncBase', 'Attachment'],
  ['Email', 'Subject'],
  ['Ping', 'Ping'],
  ['Ping', 'Status'],
  ['Ping', 'Folders'],
  ['Ping', 'Folder'],
  ['Provision', 'Provision'],
  ['Provision', 'Status'],
  ['Provision', 'Policies'],
  ['Provision', 'Policy'],
  ['Provision', 'PolicyKey'],
  ['Provision', 'Data'],
  ['Provision', 'EASProvisionDoc'],
  ['Provision', 'RemoteWipe'],
  ['FolderHierarchy', 'FolderSync'],
  ['FolderHierarchy', 'Changes'],
  ['FolderHierarchy', 'Add'],
  ['FolderHierarchy', 'Type'],
  ['ItemOperations', 'Response'],
  ['ItemOperations', 'Fetch'],
  ['ItemOperations', 'Properties'],
  ['ItemOperations', 'Part'],
  ['ItemOperations', 'Data'],
  ['Settings', 'Oof'],
  ['Settings', 'Get'],
  ['Settings', 'UserInformation'],
  ['Search', 'Response'],
  ['Search', 'Store'],
  ['Search', 'Result'],
  ['ResolveRecipients', 'Response'],
  ['ResolveRecipients', 'Recipient'],
  ['Move', 'Response'],
  ['GetItemEstimate', 'Response'],
  ['MeetingResponse', 'Result'],
];

const tree: fc.Arbitrary<WbxmlElement> = fc.letrec<{ node: WbxmlElement }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.constantFrom(...TAGS),
        fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('1', '3', '142', '-1', '1e9')),
      )
      .map(([[namespace, name], text]) => element(namespace, name as never, text)),
    fc
      .tuple(fc.constantFrom(...TAGS), fc.array(tie('node'), { maxLength: 4 }))
      .map(([[namespace, name], children]) => element(namespace, name as never, children)),
  ),
})).node;

describe('readers on hostile answers', () => {
  it('never throw, whatever the tree', () => {
    fc.assert(
      fc.property(tree, (root) => {
        readSync(root);
        readPing(root);
        readProvision(root);
        readFolderSync(root);
        readItemOperations(root, []);
        readSettings(root);
        readSearch(root);
        readResolveRecipients(root);
        readMoveItems(root);
        readEstimate(root);
        readMeetingResponse(root);
      }),
      { numRuns: 500 },
    );
  });
});
