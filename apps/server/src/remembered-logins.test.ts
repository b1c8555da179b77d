import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryMailboxStore } from '@easkit/mailbox';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { createAuthenticator } from './authenticator.js';
import { jwtAuthenticator } from './jwt.js';
import { MemoryLoginThrottle } from './lockout.js';
import { PasswordDirectory } from './passwords.js';

/** A mailbox that counts address lookups, so a test can tell a remembered login from a checked one. */
async function countingMailbox() {
  const mailbox = new MemoryMailboxStore();
  await mailbox.createUser({ id: 'u1', primarySmtpAddress: 'ann@example.com', aliases: ['a@example.com'] });
  const counts = { lookups: 0 };
  const resolveAddress = mailbox.resolveAddress.bind(mailbox);
  mailbox.resolveAddress = async (address: string) => {
    counts.lookups++;
    return resolveAddress(address);
  };
  return { mailbox, counts };
}

const basic = (username: string, password: string) => ({ scheme: 'basic' as const, username, password });
const onDevice = (deviceId: string) => ({ context: { deviceId } });

describe('remembered logins', () => {
  it('accepts a Basic login checked moments ago without looking it up again, per account, password and device', async () => {
    const { mailbox, counts } = await countingMailbox();
    let clock = 1_000_000;
    const passwords = new PasswordDirectory(undefined, { now: () => clock });
    await passwords.setPassword('u1', 'right');
    const authenticate = createAuthenticator({
      mailbox,
      passwords,
      defaultDomain: undefined,
      now: () => clock,
    });

    const first = await authenticate(basic('ann@example.com', 'right'), onDevice('D1'));
    expect(first?.userId).toBe('u1');
    expect(counts.lookups).toBe(1);
    for (let i = 0; i < 5; i++) {
      expect(await authenticate(basic('ann@example.com', 'right'), onDevice('D1'))).toEqual(first);
    }
    expect(counts.lookups).toBe(1);

    // Another device, another spelling of the account, or a wrong password: checked afresh.
    expect((await authenticate(basic('ann@example.com', 'right'), onDevice('D2')))?.userId).toBe('u1');
    expect((await authenticate(basic('a@example.com', 'right'), onDevice('D1')))?.userId).toBe('u1');
    expect(await authenticate(basic('ann@example.com', 'wrong'), onDevice('D1'))).toBeUndefined();
    expect(counts.lookups).toBe(4);
    // Failed logins are never remembered.
    expect(await authenticate(basic('ann@example.com', 'wrong'), onDevice('D1'))).toBeUndefined();
    expect(counts.lookups).toBe(5);

    // After 60 s the login is checked again.
    clock += 60_001;
    expect((await authenticate(basic('ann@example.com', 'right'), onDevice('D1')))?.userId).toBe('u1');
    expect(counts.lookups).toBe(6);
  });

  it('forgets remembered logins of an account whose password changed on this instance', async () => {
    const { mailbox } = await countingMailbox();
    const passwords = new PasswordDirectory();
    await passwords.setPassword('u1', 'old');
    const authenticate = createAuthenticator({ mailbox, passwords, defaultDomain: undefined });
    expect((await authenticate(basic('ann@example.com', 'old'), onDevice('D1')))?.userId).toBe('u1');
    await passwords.setPassword('u1', 'new');
    expect(await authenticate(basic('ann@example.com', 'old'), onDevice('D1'))).toBeUndefined();
    expect((await authenticate(basic('ann@example.com', 'new'), onDevice('D1')))?.userId).toBe('u1');
    await passwords.removePassword('u1');
    expect(await authenticate(basic('ann@example.com', 'new'), onDevice('D1'))).toBeUndefined();
  });

  it('a failure on the account and device ends the memory, so a lockout still refuses the right password', async () => {
    const { mailbox, counts } = await countingMailbox();
    let clock = 1_000_000;
    const passwords = new PasswordDirectory(undefined, { now: () => clock });
    await passwords.setPassword('u1', 'right');
    const throttle = new MemoryLoginThrottle({
      policy: { threshold: 2, baseLockMs: 60_000 },
      now: () => clock,
    });
    const authenticate = createAuthenticator({
      mailbox,
      passwords,
      throttle,
      defaultDomain: undefined,
      now: () => clock,
    });
    expect((await authenticate(basic('Ann@example.com', 'right'), onDevice('D1')))?.userId).toBe('u1');
    clock += 1;
    expect(await authenticate(basic('ann@example.com', 'guess1'), onDevice('D1'))).toBeUndefined();
    expect(await authenticate(basic('ann@example.com', 'guess2'), onDevice('D1'))).toBeUndefined();
    clock += 1;
    expect(await authenticate(basic('Ann@example.com', 'right'), onDevice('D1'))).toBeUndefined();
    // Another device of the same account is not locked and keeps its memory.
    expect((await authenticate(basic('ann@example.com', 'right'), onDevice('D2')))?.userId).toBe('u1');
    const lookups = counts.lookups;
    expect((await authenticate(basic('ann@example.com', 'right'), onDevice('D2')))?.userId).toBe('u1');
    expect(counts.lookups).toBe(lookups);
  });

  it('with rememberMs 0 checks every login', async () => {
    const { mailbox, counts } = await countingMailbox();
    const passwords = new PasswordDirectory();
    await passwords.setPassword('u1', 'right');
    const authenticate = createAuthenticator({ mailbox, passwords, defaultDomain: undefined, rememberMs: 0 });
    expect((await authenticate(basic('ann@example.com', 'right'), onDevice('D1')))?.userId).toBe('u1');
    expect((await authenticate(basic('ann@example.com', 'right'), onDevice('D1')))?.userId).toBe('u1');
    expect(counts.lookups).toBe(2);
  });

  it('accepts a bearer token checked moments ago without verifying it again, never past its exp', async () => {
    const { mailbox, counts } = await countingMailbox();
    const { publicKey, privateKey } = await generateKeyPair('EdDSA');
    const folder = mkdtempSync(join(tmpdir(), 'easkit-remembered-'));
    const jwksFile = join(folder, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), alg: 'EdDSA' }] }));
    let clock = Date.now();
    const authenticate = jwtAuthenticator({
      jwksFile,
      issuer: 'iss',
      audience: 'aud',
      mailbox,
      clockToleranceSec: 0,
      now: () => clock,
    });
    const expiresAt = Math.floor(clock / 1000) + 30;
    const token = await new SignJWT({ email: 'ann@example.com' })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('iss')
      .setAudience('aud')
      .setExpirationTime(expiresAt)
      .sign(privateKey);
    const bearer = { scheme: 'bearer' as const, token };
    expect((await authenticate(bearer))?.userId).toBe('u1');
    expect((await authenticate(bearer))?.userId).toBe('u1');
    expect(counts.lookups).toBe(1);
    // Past exp (30 s, before the 60 s memory runs out) the token is checked again, and refused.
    clock = expiresAt * 1000 + 1;
    expect(await authenticate(bearer)).toBeUndefined();
    expect(await authenticate({ scheme: 'bearer', token: `${token}x` })).toBeUndefined();

    // A long-lived token: its mailbox is looked up again after 60 s, and follows an alias change then.
    clock = Date.now();
    const longLived = await new SignJWT({ email: 'a@example.com' })
      .setProtectedHeader({ alg: 'EdDSA' })
      .setIssuer('iss')
      .setAudience('aud')
      .setExpirationTime(Math.floor(clock / 1000) + 3600)
      .sign(privateKey);
    const lookups = counts.lookups;
    expect((await authenticate({ scheme: 'bearer', token: longLived }))?.userId).toBe('u1');
    await mailbox.updateUser('u1', { aliases: [] });
    expect((await authenticate({ scheme: 'bearer', token: longLived }))?.userId).toBe('u1');
    expect(counts.lookups).toBe(lookups + 1);
    clock += 60_001;
    expect(await authenticate({ scheme: 'bearer', token: longLived })).toBeUndefined();
    expect(counts.lookups).toBe(lookups + 2);
  });
});
