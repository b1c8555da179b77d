import type { EasApp } from '@easkit/server';
import { configFromEnv, startApp } from '@easkit/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { profileVersions } from '../src/profiles.js';
import { deviceLifeScenario, type ScenarioTarget } from '../src/scenarios/device-life.js';
import { SmtpSink, untilWaiting } from './server.js';

/**
 * The life of a device, for each profile and each version it covers. By default against the reference server
 * started here (memory storage, the demo account, the admin API for the wipe); set EASKIT_SCENARIO_URL,
 * EASKIT_SCENARIO_USER and EASKIT_SCENARIO_PASSWORD (and EASKIT_SCENARIO_ADMIN_TOKEN for an easkit server's
 * wipe) to run the same steps against any EAS server.
 */
const external = process.env.EASKIT_SCENARIO_URL;
const ADMIN_TOKEN = 'scenario-admin-token-0123456789';
let app: EasApp | undefined;
let sink: SmtpSink | undefined;
const target: ScenarioTarget = external
  ? {
      url: external,
      username: process.env.EASKIT_SCENARIO_USER ?? '',
      password: process.env.EASKIT_SCENARIO_PASSWORD ?? '',
      ...(process.env.EASKIT_SCENARIO_ADDRESS ? { address: process.env.EASKIT_SCENARIO_ADDRESS } : {}),
      ...(process.env.EASKIT_SCENARIO_ADMIN_TOKEN
        ? { adminToken: process.env.EASKIT_SCENARIO_ADMIN_TOKEN }
        : {}),
    }
  : { url: '', username: 'demo@easkit.test', password: 'pw', adminToken: ADMIN_TOKEN };

beforeAll(async () => {
  if (external) return;
  // The relay takes what goes outside the server: the accepted meetings' replies to the organizer.
  sink = new SmtpSink();
  await sink.start();
  app = await startApp(
    configFromEnv({
      EASKIT_PORT: '0',
      EASKIT_STORAGE: 'memory',
      EASKIT_DEMO_PASSWORD: 'pw',
      EASKIT_ADMIN_TOKEN: ADMIN_TOKEN,
      EASKIT_LOG_LEVEL: 'silent',
      EASKIT_SMTP_HOST: '127.0.0.1',
      EASKIT_SMTP_PORT: String(sink.port),
    }),
    pino({ level: 'silent' }),
  );
  target.url = app.running.url;
  target.whileWaiting = () => untilWaiting((app as EasApp).running.url);
});
afterAll(async () => {
  await app?.close();
  await sink?.close();
});

describe.each(
  profileVersions().map(({ profile, version }) => [`${profile.name}-like`, version, profile] as const),
)('a %s device at EAS %s', (_name, version, profile) => {
  // Built lazily: the target's URL is known once the server has started.
  let steps: ReturnType<typeof deviceLifeScenario> | undefined;
  const step = (index: number) => {
    steps ??= deviceLifeScenario(target, profile, version);
    return steps[index] as ReturnType<typeof deviceLifeScenario>[number];
  };
  const names = deviceLifeScenario(
    { url: 'http://placeholder', username: '', password: '' },
    profile,
    version,
  );
  names.forEach(({ name }, index) => {
    const wipe = index === names.length - 1;
    it.skipIf(wipe && !target.adminToken)(name, () => step(index).run(), 30_000);
  });
});
