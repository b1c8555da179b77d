import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EasApp, startApp } from './app.js';
import { configFromEnv } from './config.js';

const folder = mkdtempSync(join(tmpdir(), 'easkit-tls-'));

/** A self-signed certificate for 127.0.0.1 made with openssl, with `name` as its common name. */
function makeCertificate(name: string): { cert: string; key: string } {
  const cert = join(folder, `${name}.crt`);
  const key = join(folder, `${name}.key`);
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
      `/CN=${name}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

function peerCommonName(url: string, ca: string[]): Promise<{ cn: string; status: number }> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/healthz`, { ca, agent: false }, (response) => {
      const peer =
        response.socket && 'getPeerCertificate' in response.socket
          ? (response.socket as import('node:tls').TLSSocket).getPeerCertificate()
          : undefined;
      response.resume();
      resolve({ cn: String(peer?.subject?.CN), status: response.statusCode ?? 0 });
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTPS with certificate reload', () => {
  let app: EasApp;
  const first = makeCertificate('first');
  const second = makeCertificate('second');
  const live = { cert: join(folder, 'live.crt'), key: join(folder, 'live.key') };

  beforeAll(async () => {
    copyFileSync(first.cert, live.cert);
    copyFileSync(first.key, live.key);
    app = await startApp(
      configFromEnv({
        EASKIT_PORT: '0',
        EASKIT_STORAGE: 'memory',
        EASKIT_DEMO_PASSWORD: 'pw',
        EASKIT_TLS_CERT: live.cert,
        EASKIT_TLS_KEY: live.key,
      }),
      pino({ level: 'silent' }),
    );
  });
  afterAll(() => app.close());

  it('serves HTTPS and picks up a renewed certificate on reload (SIGHUP) without a restart', async () => {
    expect(app.running.url).toMatch(/^https:/);
    const ca = [readFileSync(first.cert, 'utf8'), readFileSync(second.cert, 'utf8')];
    expect(await peerCommonName(app.running.url, ca)).toEqual({ cn: 'first', status: 200 });
    copyFileSync(second.cert, live.cert);
    copyFileSync(second.key, live.key);
    app.running.reloadTls();
    expect(await peerCommonName(app.running.url, ca)).toEqual({ cn: 'second', status: 200 });
  });
});
