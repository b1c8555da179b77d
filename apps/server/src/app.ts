import { readFileSync } from 'node:fs';
import {
  createEasCommands,
  createPolicyGate,
  type DeliverOptions,
  deliverMeetingMail,
  deliverMessage,
  InboxCache,
  localDeliverySubmitter,
  smtpSubmitter,
} from '@easkit/eas-commands';
import { ConflictError, type MailboxStore, type User } from '@easkit/mailbox';
import { createDeviceAdministration, type DeviceAdministration } from '@easkit/policy';
import { publishingMailbox, WaiterRegistry } from '@easkit/push';
import type { Logger } from 'pino';
import { adminApi } from './admin-api.js';
import type { ServerConfig } from './config.js';
import { DeviceRequestLog } from './device-log.js';
import { jwtAuthenticator } from './jwt.js';
import { type MailIn, startMailIn } from './mail-in.js';
import { ServerMetrics } from './metrics.js';
import { generatePassword, PasswordDirectory } from './passwords.js';
import { ExpiringMap } from './remembered.js';
import { seedDemoMailbox } from './seed.js';
import { type RunningServer, startEasServer } from './server.js';
import { openStores, type ServerStores } from './stores.js';

export interface EasApp {
  readonly running: RunningServer;
  readonly stores: ServerStores;
  readonly metrics: ServerMetrics;
  /** Account passwords (scrypt hashes). */
  readonly passwords: PasswordDirectory;
  /** Device and policy administration (also behind the admin API). */
  readonly administration: DeviceAdministration;
  /** The SMTP listener, when `mailIn.port` is set. */
  readonly mailIn?: MailIn;
  /** The demo account and its password, when one was created by this start. */
  readonly demo?: { user: User; password?: string; generated: boolean };
  /** Answers waiting requests, stops listening, closes the stores. */
  close(): Promise<void>;
}

/** Builds and starts the whole server from a configuration: stores, push, commands, HTTP. */
export async function startApp(config: ServerConfig, logger: Logger): Promise<EasApp> {
  const stores = await openStores(config, logger);
  // Every write through the mailbox publishes the changed folders, which wakes the device's waiting Ping.
  const mailbox = publishingMailbox(stores.mailbox, stores.bus);
  const metrics: ServerMetrics = new ServerMetrics({ waiters: () => waiters });
  const waiters: WaiterRegistry = new WaiterRegistry({
    bus: stores.bus,
    onOutcome: (outcome) => {
      if (outcome.kind === 'changed') metrics.wakeup();
    },
    ...(stores.claims ? { claims: stores.claims } : {}),
    onError: (error) => logger.warn({ err: error }, 'push bus unsubscribe failed'),
  });
  const relayConfig = config.smtpRelay;
  const relay = relayConfig
    ? smtpSubmitter({
        host: relayConfig.host,
        port: relayConfig.port,
        secure: relayConfig.secure,
        requireTls: relayConfig.requireTls,
        ...(relayConfig.user !== undefined
          ? { auth: { user: relayConfig.user, pass: relayConfig.password ?? '' } }
          : {}),
      })
    : undefined;
  // Every message filed on this server (SendMail to a local address, the SMTP listener) goes through one
  // delivery path; iCalendar invitations in it become meeting requests and calendar items.
  const delivery: DeliverOptions = {
    maxBytes: config.mailIn.maxMessageBytes,
    // Each user's Inbox is looked up once and then remembered: one read fewer for every message delivered.
    inboxes: new InboxCache(),
    file: async (email, context) =>
      (
        await deliverMeetingMail(context.mailbox, context.user.id, context.mime, {
          email,
          now: context.now,
          folderId: context.inbox.id,
        })
      ).message,
    onError: (error) => logger.warn({ err: error }, 'mail delivered, but a later step failed'),
  };
  const submitter = localDeliverySubmitter({ mailbox, ...(relay ? { relay } : {}), ...delivery });
  const passwords = new PasswordDirectory(stores.credentials);

  let demo: EasApp['demo'];
  if (config.demo.enabled) {
    const address = `demo@${config.defaultDomain}`;
    const user = await ensureDemoMailbox(mailbox, address);
    if (config.demo.password !== undefined) {
      await passwords.setPassword(user.id, config.demo.password);
      demo = { user, password: config.demo.password, generated: false };
    } else if (!(await passwords.hasPassword(user.id))) {
      const password = generatePassword();
      await passwords.setPassword(user.id, password);
      demo = { user, password, generated: true };
    } else {
      // A kept store keeps the password printed at its first start.
      demo = { user, generated: false };
    }
  }

  const commands = createEasCommands(
    {
      mailbox,
      syncState: stores.syncState,
      waiters,
      devices: stores.devices,
      submitter,
      ...(config.validateCert
        ? {
            trustStore: {
              anchors: config.validateCert.trustAnchorFiles.map(pemOrDerFile),
              crls: config.validateCert.crlFiles.map(pemOrDerFile),
            },
          }
        : {}),
    },
    {
      meetingResponse: { replyBefore16: config.meetings.replyBefore16 },
      settings: { store: stores.settings },
      ping: {
        minHeartbeatSec: config.ping.minHeartbeatSec,
        maxHeartbeatSec: config.ping.maxHeartbeatSec,
        maxFolders: config.ping.maxFolders,
      },
      sync: {
        onItemError: ({ user, itemId, folderId, error }) =>
          logger.warn({ user, itemId, folderId, err: error }, 'item could not be converted; left out'),
        onItemQuarantined: (info) =>
          logger.error(info, 'device kept failing on this item; it is left out of the device sync'),
      },
    },
  );
  const gate = createPolicyGate({
    devices: stores.devices,
    withoutPolicy: config.policy.withoutPolicy,
    activityBatchMs: config.devices.statisticsBatchMs,
    checkInReuseMs: config.devices.checkInReuseMs,
    onActivityError: (error) => logger.warn({ err: error }, 'device statistics not written'),
  });
  // With Redis, an administrator's wipe or block ends the device's waiting requests on every instance.
  const interrupt = stores.relayInterrupts
    ? await stores.relayInterrupts((scope) => gate.interrupt(scope))
    : (scope: { user?: string; deviceId?: string }) => void gate.interrupt(scope);
  const administration = createDeviceAdministration({ devices: stores.devices, interrupt });
  const deviceLog = new DeviceRequestLog();
  const debugUsers = new Set<string>();
  const running = await startEasServer({
    config,
    mailbox,
    passwords,
    commands,
    logger,
    metrics,
    throttle: stores.throttle,
    ready: () => stores.ready(),
    policy: gate,
    ...(config.jwt
      ? {
          extraAuthenticator: jwtAuthenticator({
            ...config.jwt,
            mailbox,
            defaultDomain: config.defaultDomain,
          }),
        }
      : {}),
    onRequest: (entry) => deviceLog.record(entry),
    debugUsers,
    routes: config.admin.token
      ? [
          adminApi({
            token: config.admin.token,
            mailbox,
            passwords,
            devices: stores.devices,
            administration,
            syncState: stores.syncState,
            deviceLog,
            debugUsers,
            logger,
          }),
        ]
      : [],
  });
  let mailIn: MailIn | undefined;
  if (config.mailIn.port !== undefined) {
    const recipients = new ExpiringMap<User>(10_000);
    mailIn = await startMailIn({
      host: config.mailIn.host,
      port: config.mailIn.port,
      maxMessageBytes: config.mailIn.maxMessageBytes,
      resolveRecipient: async (address) => {
        const user = await mailbox.resolveAddress(address);
        if (user) recipients.set(user.id, user, Date.now() + 60_000);
        return user?.id;
      },
      deliver: async (users, mime) => {
        // The users RCPT resolved moments ago: delivery need not read them again.
        for (const user of users) await deliverMessage(mailbox, recipients.get(user) ?? user, mime, delivery);
      },
      logger,
      onMessage: (outcome) => metrics.mailIn(outcome),
    });
  }
  let closing: Promise<void> | undefined;
  return {
    running,
    stores,
    metrics,
    passwords,
    administration,
    ...(mailIn ? { mailIn } : {}),
    ...(demo ? { demo } : {}),
    close() {
      closing ??= (async () => {
        // Waiting Pings are answered first, so devices reconnect without an error.
        await waiters.close();
        await mailIn?.close();
        await running.close();
        await gate.flush();
        await stores.close();
      })();
      return closing;
    },
  };
}

/** A certificate or CRL file: PEM text as a string (it may hold several), anything else as DER bytes. */
function pemOrDerFile(file: string): string | Uint8Array {
  const bytes = readFileSync(file);
  const head = bytes.subarray(0, 64).toString('latin1');
  return head.includes('-----BEGIN') ? bytes.toString('utf8') : new Uint8Array(bytes);
}

/**
 * The demo mailbox, created on the first start. Instances starting together on an empty database race for it:
 * the loser of `createUser` finds the winner's user instead (the winner seeds its folders and samples). A
 * concurrent start can still see the user before its folders exist; devices only arrive later.
 */
async function ensureDemoMailbox(mailbox: MailboxStore, address: string): Promise<User> {
  const existing = await mailbox.resolveAddress(address);
  if (existing) return existing;
  try {
    return await seedDemoMailbox(mailbox, address);
  } catch (error) {
    if (error instanceof ConflictError) {
      const winner = await mailbox.resolveAddress(address);
      if (winner) return winner;
    }
    throw error;
  }
}
