import type { EasApp } from '@easkit/server';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReferenceServer } from '../test/server.js';
import { AutodiscoverError, autodiscover, parsePoxAnswer } from './autodiscover.js';
import type { FetchFunction } from './transport.js';

let app: EasApp;
beforeAll(async () => {
  app = await startReferenceServer();
});
afterAll(() => app?.close());

const SETTINGS = (url: string) => `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006">
  <Response xmlns="http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006">
    <Culture>en:us</Culture>
    <User><DisplayName>Jane &amp; Co</DisplayName><EMailAddress>jane@example.com</EMailAddress></User>
    <Action><Settings>
      <Server><Type>CertEnroll</Type><Url>https://example.com/CertEnroll</Url></Server>
      <Server><Type>MobileSync</Type><Url>${url}</Url><Name>${url}</Name></Server>
    </Settings></Action>
  </Response>
</Autodiscover>`;

describe('Autodiscover against the reference server', () => {
  it('finds the EAS URL with the POX request at a given base URL', async () => {
    const found = await autodiscover('demo@easkit.test', { password: 'pw', url: app.running.url });
    expect(found).toMatchObject({
      url: `${app.running.url}/Microsoft-Server-ActiveSync`,
      form: 'pox',
      emailAddress: 'demo@easkit.test',
      displayName: 'Demo User',
    });
    expect(found.attempts).toHaveLength(1);
  });

  it('falls back to the JSON v2 form when POX refuses the credentials', async () => {
    const found = await autodiscover('demo@easkit.test', { password: 'wrong', url: app.running.url });
    expect(found.form).toBe('json');
    expect(found.url).toBe(`${app.running.url}/Microsoft-Server-ActiveSync`);
    expect(found.attempts[0]).toMatchObject({ form: 'pox', outcome: 'error', detail: 'HTTP 401' });
  });

  it('reads a given autodiscover.json URL', async () => {
    const found = await autodiscover('demo@easkit.test', {
      url: `${app.running.url}/autodiscover/autodiscover.json`,
    });
    expect(found).toMatchObject({ form: 'json', url: `${app.running.url}/Microsoft-Server-ActiveSync` });
  });
});

describe('Autodiscover order, redirects and failures', () => {
  it('tries the domain, then autodiscover.<domain>, and follows a Redirect to another address', async () => {
    const asked: string[] = [];
    const fetcher: FetchFunction = async (input, init) => {
      asked.push(`${init.method} ${input}`);
      if (input.startsWith('https://example.com/')) throw new TypeError('getaddrinfo ENOTFOUND example.com');
      if (input.startsWith('https://autodiscover.example.com/autodiscover/autodiscover.xml')) {
        const body = String(init.body);
        if (body.includes('<EMailAddress>jane@example.com</EMailAddress>')) {
          return new Response(
            '<Autodiscover><Response><Action><Redirect>jane@corp.example</Redirect></Action></Response></Autodiscover>',
          );
        }
      }
      if (input === 'https://corp.example/autodiscover/autodiscover.xml') {
        expect(new Headers(init.headers).get('authorization')).toBe(
          `Basic ${Buffer.from('jane@corp.example:pw').toString('base64')}`,
        );
        return new Response(SETTINGS('https://mail.corp.example/Microsoft-Server-ActiveSync'));
      }
      return new Response('', { status: 404 });
    };
    const found = await autodiscover('jane@example.com', { password: 'pw', fetch: fetcher });
    expect(found.url).toBe('https://mail.corp.example/Microsoft-Server-ActiveSync');
    expect(found.emailAddress).toBe('jane@example.com');
    expect(asked.slice(0, 3)).toEqual([
      'POST https://example.com/autodiscover/autodiscover.xml',
      'POST https://autodiscover.example.com/autodiscover/autodiscover.xml',
      'POST https://corp.example/autodiscover/autodiscover.xml',
    ]);
    expect(found.attempts.map((attempt) => attempt.outcome)).toEqual(['error', 'redirect', 'found']);
  });

  it('falls back to the hosts of the _autodiscover._tcp SRV records, best first', async () => {
    const asked: string[] = [];
    const port = new URL(app.running.url).port;
    const fetcher: FetchFunction = async (input, init) => {
      asked.push(input);
      if (input.startsWith(`http://127.0.0.1:${port}/`)) return fetch(input, init);
      throw new TypeError('getaddrinfo ENOTFOUND');
    };
    const lookups: string[] = [];
    const found = await autodiscover('demo@easkit.test', {
      password: 'pw',
      fetch: fetcher,
      allowHttp: true,
      json: false,
      resolveSrv: async (name) => {
        lookups.push(name);
        return [
          { name: 'backup.invalid.', port: 443, priority: 20, weight: 0 },
          { name: '127.0.0.1', port: Number(port), priority: 10, weight: 5 },
        ];
      },
    });
    expect(lookups).toEqual(['_autodiscover._tcp.easkit.test']);
    expect(found.url).toBe(`${app.running.url}/Microsoft-Server-ActiveSync`);
    expect(asked.filter((url) => url.includes('127.0.0.1')).length).toBeGreaterThan(0);
    expect(asked.some((url) => url.includes('backup.invalid'))).toBe(false);
  });

  it('never sends credentials on to a plain-HTTP redirect', async () => {
    const asked: string[] = [];
    const fetcher: FetchFunction = async (input) => {
      asked.push(input);
      if (input === 'https://example.com/autodiscover/autodiscover.xml') {
        return new Response('', {
          status: 302,
          headers: { Location: 'http://evil.example/autodiscover/autodiscover.xml' },
        });
      }
      return new Response('', { status: 404 });
    };
    const error = await autodiscover('jane@example.com', {
      password: 'pw',
      fetch: fetcher,
      json: false,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(AutodiscoverError);
    expect(asked).not.toContain('http://evil.example/autodiscover/autodiscover.xml');
    expect((error as AutodiscoverError).attempts[0]?.detail).toMatch(/non-HTTPS/);
  });

  it('reads settings, redirects and errors from POX answers', () => {
    expect(parsePoxAnswer(SETTINGS('https://m.example/Microsoft-Server-ActiveSync'))).toEqual({
      kind: 'settings',
      url: 'https://m.example/Microsoft-Server-ActiveSync',
      emailAddress: 'jane@example.com',
      displayName: 'Jane & Co',
    });
    expect(
      parsePoxAnswer(
        '<Autodiscover><Response><Error Time="1" Id="2"><ErrorCode>600</ErrorCode><Message>Invalid Request</Message></Error></Response></Autodiscover>',
      ),
    ).toEqual({ kind: 'error', code: '600', message: 'Invalid Request' });
    expect(parsePoxAnswer('not xml at all').kind).toBe('error');
  });

  it('reads any text without throwing', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc
            .array(
              fc.constantFrom(
                '<Server>',
                '</Server>',
                '<Type>MobileSync</Type>',
                '<Url>',
                '</Url>',
                '&#99999999;',
                'x',
              ),
              { maxLength: 20 },
            )
            .map((parts) => parts.join('')),
        ),
        (text) => {
          expect(['settings', 'redirect', 'error']).toContain(parsePoxAnswer(text).kind);
        },
      ),
    );
  });
});
