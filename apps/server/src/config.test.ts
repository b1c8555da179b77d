import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, loadConfig } from './config.js';

const folder = mkdtempSync(join(tmpdir(), 'easkit-config-'));
function file(name: string, text: string): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

describe('loadConfig', () => {
  it('has defaults for everything', () => {
    const config = configFromEnv({});
    expect(config.server).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      trustProxy: false,
      maxBodyBytes: 32 * 1024 * 1024,
    });
    expect(config.server.keepAliveTimeoutSec).toBeGreaterThan(3540);
    expect(config.ping).toEqual({ minHeartbeatSec: 60, maxHeartbeatSec: 3540, maxFolders: 300 });
    expect(config.demo).toEqual({ enabled: true });
    expect(config.logLevel).toBe('info');
    expect(config.smtpRelay).toBeUndefined();
  });

  it('reads EASKIT_* variables and the conventional DATABASE_URL / REDIS_URL', () => {
    const config = configFromEnv({
      EASKIT_PORT: '9000',
      EASKIT_HOST: '0.0.0.0',
      EASKIT_DEMO_PASSWORD: 's',
      EASKIT_LOG_LEVEL: 'debug',
      EASKIT_TRUST_PROXY: '10.0.0.1, 10.0.0.2',
      DATABASE_URL: 'postgres://db/easkit',
      REDIS_URL: 'redis://cache:6379',
      EASKIT_SYNC_STATE: 'redis',
    });
    expect(config.server).toMatchObject({
      port: 9000,
      host: '0.0.0.0',
      trustProxy: ['10.0.0.1', '10.0.0.2'],
    });
    expect(config.demo.password).toBe('s');
    expect(config.logLevel).toBe('debug');
    expect(config.storage).toMatchObject({ kind: 'postgres', databaseUrl: 'postgres://db/easkit' });
    expect(config.redis).toMatchObject({ url: 'redis://cache:6379', syncState: 'redis' });
  });

  it('reads a YAML file, with the environment winning', () => {
    const path = file(
      'easkit.yaml',
      'server:\n  port: 7000\n  publicUrl: https://mail.example.com\nping:\n  maxHeartbeatSec: 1800\nsmtpRelay:\n  host: relay.example.com\n  port: 587\n',
    );
    const config = loadConfig({ file: path, env: { EASKIT_PORT: '7001' } });
    expect(config.server.port).toBe(7001);
    expect(config.server.publicUrl).toBe('https://mail.example.com');
    expect(config.ping.maxHeartbeatSec).toBe(1800);
    expect(config.smtpRelay).toMatchObject({ host: 'relay.example.com', port: 587, secure: false });
  });

  it('reads JSON too, and the file named by EASKIT_CONFIG', () => {
    const path = file('easkit.json', JSON.stringify({ logLevel: 'warn', demo: { enabled: false } }));
    const config = loadConfig({ env: { EASKIT_CONFIG: path } });
    expect(config.logLevel).toBe('warn');
    expect(config.demo.enabled).toBe(false);
  });

  it('names every bad setting by variable or path', () => {
    expect(() => configFromEnv({ EASKIT_PORT: '70000', EASKIT_LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => configFromEnv({ EASKIT_PORT: '70000', EASKIT_LOG_LEVEL: 'loud' })).toThrow(
      /EASKIT_PORT \(server\.port\).*EASKIT_LOG_LEVEL/,
    );
    const path = file(
      'bad.yaml',
      'ping:\n  minHeartbeatSec: 600\n  maxHeartbeatSec: 120\nserver:\n  port: -1\n',
    );
    expect(() => loadConfig({ file: path, env: {} })).toThrow(/server\.port/);
    expect(() => loadConfig({ file: file('worse.yaml', 'ping: [1, 2'), env: {} })).toThrow(/not valid YAML/);
    expect(() => loadConfig({ file: join(folder, 'missing.yaml'), env: {} })).toThrow(/cannot read/);
    expect(() => configFromEnv({ EASKIT_STORAGE: 'postgres' })).toThrow(/DATABASE_URL/);
    expect(() => configFromEnv({ EASKIT_SYNC_STATE: 'redis' })).toThrow(/REDIS_URL/);
  });
});
