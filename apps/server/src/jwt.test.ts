import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EasApp, startApp } from './app.js';
import { loadConfig } from './config.js';

describe('OAuth2 bearer tokens checked against a JWKS file', () => {
  let app: EasApp;
  let sign: (
    claims: Record<string, unknown>,
    options?: { audience?: string; expiresIn?: string; key?: CryptoKey },
  ) => Promise<string>;
  let strangerKey: CryptoKey;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    strangerKey = (await generateKeyPair('RS256')).privateKey;
    const folder = mkdtempSync(join(tmpdir(), 'easkit-jwt-'));
    const jwksFile = join(folder, 'jwks.json');
    writeFileSync(
      jwksFile,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' }] }),
    );
    const configFile = join(folder, 'easkit.yaml');
    writeFileSync(
      configFile,
      `jwt:\n  jwksFile: ${jwksFile}\n  issuer: https://login.example.com\n  audience: easkit\nstorage:\n  kind: memory\n`,
    );
    app = await startApp(
      loadConfig({ file: configFile, env: { EASKIT_PORT: '0', EASKIT_DEMO_PASSWORD: 'pw' } }),
      pino({ level: 'silent' }),
    );
    sign = (claims, options = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer('https://login.example.com')
        .setAudience(options.audience ?? 'easkit')
        .setIssuedAt()
        .setExpirationTime(options.expiresIn ?? '10m')
        .sign(options.key ?? privateKey);
  });
  afterAll(() => app.close());

  const options = (authorization: string) =>
    fetch(`${app.running.url}/Microsoft-Server-ActiveSync`, {
      method: 'OPTIONS',
      headers: { Authorization: authorization },
    });

  it('accepts a valid token naming a mailbox, and Basic still works', async () => {
    expect((await options(`Bearer ${await sign({ email: 'demo@easkit.test' })}`)).status).toBe(200);
    expect((await options(`Bearer ${await sign({ preferred_username: 'DEMO@easkit.test' })}`)).status).toBe(
      200,
    );
    expect((await options(`Basic ${Buffer.from('demo:pw').toString('base64')}`)).status).toBe(200);
  });

  it('refuses other audiences, expired tokens, foreign keys, unknown users and garbage', async () => {
    expect(
      (await options(`Bearer ${await sign({ email: 'demo@easkit.test' }, { audience: 'other' })}`)).status,
    ).toBe(401);
    expect(
      (await options(`Bearer ${await sign({ email: 'demo@easkit.test' }, { expiresIn: '-5m' })}`)).status,
    ).toBe(401);
    expect(
      (await options(`Bearer ${await sign({ email: 'demo@easkit.test' }, { key: strangerKey })}`)).status,
    ).toBe(401);
    expect((await options(`Bearer ${await sign({ email: 'nobody@easkit.test' })}`)).status).toBe(401);
    expect((await options('Bearer not.a.jwt')).status).toBe(401);
  });
});
