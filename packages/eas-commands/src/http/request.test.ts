import { describe, expect, it } from 'vitest';
import { EAS_COMMANDS } from './commands.js';
import { EasHttpError } from './errors.js';
import { PROTOCOL_VERSIONS } from './protocol-version.js';
import {
  type EasHttpRequest,
  type EasServerOffer,
  isEasPath,
  optionsResponse,
  readRequestHead,
} from './request.js';

const offer: EasServerOffer = {
  versions: PROTOCOL_VERSIONS,
  commands: EAS_COMMANDS.map((command) => command.name),
  serverVersion: '15.1',
};

function request(url: string, headers: Record<string, string> = {}): EasHttpRequest {
  return { method: 'POST', url, headers, body: new Uint8Array(0) };
}

function expectHttpError(run: () => unknown, status: number, message: RegExp): EasHttpError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(EasHttpError);
    expect((error as EasHttpError).httpStatus).toBe(status);
    expect((error as EasHttpError).message).toMatch(message);
    return error as EasHttpError;
  }
  throw new Error('expected an EasHttpError');
}

describe('OPTIONS', () => {
  it('advertises versions and commands in the headers clients read', () => {
    const response = optionsResponse({ ...offer, commands: ['Sync', 'FolderSync'] });
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({
      Allow: 'OPTIONS,POST',
      Public: 'OPTIONS,POST',
      'MS-Server-ActiveSync': '15.1',
      'MS-ASProtocolVersions': '2.5,12.0,12.1,14.0,14.1,16.0,16.1',
      'MS-ASProtocolCommands': 'Sync,FolderSync',
    });
    expect(response.body).toBeUndefined();
  });
});

describe('readRequestHead', () => {
  const plain = '/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=dev1&DeviceType=iPhone';

  it('matches the endpoint path in any case', () => {
    expect(isEasPath('/microsoft-server-activesync?Cmd=Sync')).toBe(true);
    expect(isEasPath('/Microsoft-Server-ActiveSync')).toBe(true);
    expect(isEasPath('/Microsoft-Server-ActiveSync/x')).toBe(false);
  });

  it('reads a plain request with its headers', () => {
    const head = readRequestHead(
      request(plain, {
        'ms-asprotocolversion': '14.1',
        'x-ms-policykey': '3942919513',
        'user-agent': 'Apple-iPhone9C1/1402.100',
        'accept-encoding': 'gzip, deflate',
        'ms-asacceptmultipart': 'T',
        'content-type': 'application/vnd.ms-sync.wbxml',
      }),
      offer,
    );
    expect(head).toMatchObject({
      command: 'Sync',
      protocolVersion: '14.1',
      form: 'plain',
      queryUser: 'alice',
      deviceId: 'dev1',
      deviceType: 'iPhone',
      policyKey: 3942919513,
      userAgent: 'Apple-iPhone9C1/1402.100',
      acceptGzip: true,
      acceptMultiPart: true,
      contentType: 'application/vnd.ms-sync.wbxml',
    });
  });

  it('reads the same request in base64 form to the same head', () => {
    const head = readRequestHead(
      request('/Microsoft-Server-ActiveSync?jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l'),
      offer,
    );
    expect(head).toMatchObject({
      command: 'Sync',
      protocolVersion: '14.0',
      deviceId: 'v140Device',
      form: 'base64',
    });
    expect(head.policyKey).toBeUndefined();
  });

  it('treats policy key 0 as no key', () => {
    expect(
      readRequestHead(request(plain, { 'ms-asprotocolversion': '12.1', 'x-ms-policykey': '0' }), offer)
        .policyKey,
    ).toBe(undefined);
  });

  it('refuses a missing, unknown or unoffered version with 400 and the offered versions', () => {
    const missing = expectHttpError(
      () => readRequestHead(request(plain), offer),
      400,
      /MS-ASProtocolVersion/,
    );
    expect(missing.headers['MS-ASProtocolVersions']).toBe('2.5,12.0,12.1,14.0,14.1,16.0,16.1');
    expectHttpError(
      () => readRequestHead(request(plain, { 'ms-asprotocolversion': '13.0' }), offer),
      400,
      /unknown/,
    );
    expectHttpError(
      () =>
        readRequestHead(request(plain, { 'ms-asprotocolversion': '16.1' }), { ...offer, versions: ['14.1'] }),
      400,
      /not offered/,
    );
  });

  it('refuses commands that are unknown, not offered, or absent from the version with 501', () => {
    const v = { 'ms-asprotocolversion': '14.1' };
    expectHttpError(
      () => readRequestHead(request(plain.replace('Cmd=Sync', 'Cmd=Frobnicate'), v), offer),
      501,
      /Frobnicate/,
    );
    expectHttpError(
      () => readRequestHead(request(plain, v), { ...offer, commands: ['FolderSync'] }),
      501,
      /not implemented/,
    );
    expectHttpError(
      () => readRequestHead(request(plain.replace('Cmd=Sync', 'Cmd=Find'), v), offer),
      501,
      /does not exist/,
    );
    expectHttpError(
      () =>
        readRequestHead(
          request(plain.replace('Cmd=Sync', 'Cmd=Settings'), { 'ms-asprotocolversion': '2.5' }),
          offer,
        ),
      501,
      /does not exist/,
    );
    expectHttpError(
      () =>
        readRequestHead(
          request(plain.replace('Cmd=Sync', 'Cmd=GetAttachment'), { 'ms-asprotocolversion': '16.0' }),
          offer,
        ),
      501,
      /does not exist/,
    );
  });

  it('refuses a malformed policy key with 400', () => {
    expectHttpError(
      () =>
        readRequestHead(request(plain, { 'ms-asprotocolversion': '14.1', 'x-ms-policykey': 'abc' }), offer),
      400,
      /PolicyKey/,
    );
  });
});
