import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv } from './config.js';

describe('configFromEnv', () => {
  it('has defaults for everything', () => {
    expect(configFromEnv({})).toEqual({
      port: 8080,
      host: '127.0.0.1',
      logLevel: 'info',
      maxBodyBytes: 32 * 1024 * 1024,
      smtpPort: 25,
    });
  });

  it('reads EASKIT_* variables', () => {
    expect(
      configFromEnv({
        EASKIT_PORT: '9000',
        EASKIT_HOST: '0.0.0.0',
        EASKIT_DEMO_PASSWORD: 's',
        EASKIT_LOG_LEVEL: 'debug',
      }),
    ).toMatchObject({ port: 9000, host: '0.0.0.0', demoPassword: 's', logLevel: 'debug' });
  });

  it('names every bad variable', () => {
    expect(() => configFromEnv({ EASKIT_PORT: '70000', EASKIT_LOG_LEVEL: 'loud' })).toThrow(ConfigError);
    expect(() => configFromEnv({ EASKIT_PORT: '70000', EASKIT_LOG_LEVEL: 'loud' })).toThrow(
      /EASKIT_PORT.*EASKIT_LOG_LEVEL/,
    );
  });
});
