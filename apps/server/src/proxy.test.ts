import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { configFromEnv } from './config.js';
import { clientAddress, easUrlFor } from './server.js';

function fakeRequest(socketAddress: string, headers: Record<string, string>): IncomingMessage {
  return { socket: { remoteAddress: socketAddress }, headers } as unknown as IncomingMessage;
}

describe('behind a reverse proxy', () => {
  it('believes X-Forwarded-For only from trusted proxies', () => {
    const request = fakeRequest('::ffff:10.0.0.10', { 'x-forwarded-for': '203.0.113.7, 10.0.0.10' });
    expect(clientAddress(request, false)).toBe('::ffff:10.0.0.10');
    expect(clientAddress(request, ['10.0.0.10'])).toBe('203.0.113.7');
    expect(clientAddress(request, ['10.0.0.11'])).toBe('::ffff:10.0.0.10');
    expect(clientAddress(request, true)).toBe('203.0.113.7');
  });

  it('builds the Autodiscover URL from the public URL, else from the forwarded scheme and a sane Host', () => {
    const request = fakeRequest('10.0.0.10', { host: 'mail.example.com', 'x-forwarded-proto': 'https' });
    expect(
      easUrlFor(request, configFromEnv({ EASKIT_PUBLIC_URL: 'https://eas.example.com/' }), 'http://x'),
    ).toBe('https://eas.example.com/Microsoft-Server-ActiveSync');
    expect(easUrlFor(request, configFromEnv({ EASKIT_TRUST_PROXY: 'true' }), 'http://x')).toBe(
      'https://mail.example.com/Microsoft-Server-ActiveSync',
    );
    expect(easUrlFor(request, configFromEnv({}), 'http://x')).toBe(
      'http://mail.example.com/Microsoft-Server-ActiveSync',
    );
    const hostile = fakeRequest('10.0.0.10', { host: 'evil.example.com/<script>' });
    expect(easUrlFor(hostile, configFromEnv({}), 'http://127.0.0.1:8080')).toBe(
      'http://127.0.0.1:8080/Microsoft-Server-ActiveSync',
    );
  });
});
