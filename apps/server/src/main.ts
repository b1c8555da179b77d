#!/usr/bin/env node
import { createEasCommands, smtpSubmitter } from '@easkit/eas-commands';
import { MemoryMailboxStore } from '@easkit/mailbox';
import { MemoryDeviceStore } from '@easkit/policy';
import { InProcessPushBus, publishingMailbox, WaiterRegistry } from '@easkit/push';
import { MemorySyncStateStore } from '@easkit/sync-state';
import { pino } from 'pino';
import { ConfigError, configFromEnv } from './config.js';
import { generatePassword, PasswordDirectory } from './passwords.js';
import { seedDemoMailbox } from './seed.js';
import { startEasServer } from './server.js';

async function main(): Promise<void> {
  const config = configFromEnv();
  const logger = pino({ level: config.logLevel, base: undefined });
  // Every write through the mailbox publishes the changed folders, which wakes the device's waiting Ping.
  const bus = new InProcessPushBus();
  const mailbox = publishingMailbox(new MemoryMailboxStore(), bus);
  const waiters = new WaiterRegistry({ bus });
  const syncState = new MemorySyncStateStore();
  const devices = new MemoryDeviceStore();
  const submitter = config.smtpHost
    ? smtpSubmitter({ host: config.smtpHost, port: config.smtpPort })
    : undefined;
  const passwords = new PasswordDirectory();
  const demo = await seedDemoMailbox(mailbox);
  const password = config.demoPassword ?? generatePassword();
  await passwords.setPassword(demo.id, password);

  const running = await startEasServer({
    config,
    mailbox,
    passwords,
    commands: createEasCommands(
      { mailbox, syncState, waiters, devices, ...(submitter ? { submitter } : {}) },
      {
        sync: {
          onItemError: ({ user, itemId, folderId, error }) =>
            logger.warn({ user, itemId, folderId, err: error }, 'item could not be converted; left out'),
          onItemQuarantined: (info) =>
            logger.error(info, 'device kept failing on this item; it is left out of the device sync'),
        },
      },
    ),
    logger,
    defaultDomain: 'easkit.test',
  });
  if (config.demoPassword === undefined) {
    process.stdout.write(
      `demo account: ${demo.primarySmtpAddress} password: ${password} (set EASKIT_DEMO_PASSWORD to choose one)\n`,
    );
  }
  process.stdout.write(`easkit listening on ${running.url}/Microsoft-Server-ActiveSync (in-memory store)\n`);

  const stop = () => {
    // Waiting Pings are answered first, so devices reconnect without an error.
    waiters
      .close()
      .then(() => running.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
