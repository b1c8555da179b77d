import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { eas } from '@easkit/wbxml';
import { EasClient } from '../client.js';
import type { ClientChange } from '../commands/sync.js';
import {
  EasAccessDeniedError,
  EasClientError,
  EasHttpError,
  EasNetworkError,
  EasStatusError,
} from '../errors.js';
import {
  type DeviceProfile,
  PROFILES,
  type ProfileFolder,
  profileClientOptions,
  profileFolders,
  syncShape,
} from '../profiles.js';
import { compareVersions, type EasVersion } from '../protocol.js';
import type { ExchangeRecord, FetchFunction } from '../transport.js';
import { type AgentFetch, agentFetch } from './agent-fetch.js';
import { type LatencySummary, LoadRecorder, type SecondSample } from './recorder.js';
import { ServerMetricsReader, type ServerResources } from './server-metrics.js';
import { sendSmtp } from './smtp.js';

const { Contacts: C, Email: E } = eas;

export interface LoadUser {
  /** The login name (usually the address). */
  username: string;
  password: string;
  /** Where mail for this user is sent; default: the login name. */
  address?: string;
}

export interface LoadOptions {
  /** The server's base URL or its EAS endpoint (`…/Microsoft-Server-ActiveSync`). */
  url: string;
  /** More instances of the same service: devices go to `url` and these in turn, each instance's metrics are read. */
  moreUrls?: string[];
  /** Devices are spread over these users in turn. */
  users: LoadUser[];
  devices: number;
  /** The whole run, ramp-up included. */
  durationMs: number;
  /** Devices start evenly over this time. Default: a quarter of the run, at most 100 ms per device. */
  rampUpMs?: number;
  /** Profiles and their weights. Default: the three profiles, equally. */
  profiles?: { profile: DeviceProfile; weight: number }[];
  /** The highest version any device uses (each profile uses its highest at or below it). */
  protocolVersion?: EasVersion;
  /** New messages per minute over all users. Default: one per two devices per minute. */
  mailPerMinute?: number;
  /** Deliver arriving mail over SMTP here (a server's inbound port); default: SendMail by a sender device. */
  smtp?: { host: string; port: number };
  /** Share of devices that Ping (the others poll with Sync). Default 0.8. */
  pingShare?: number;
  /** Seconds between the Syncs of a polling device. Default 30. */
  pollIntervalSec?: number;
  /** Client changes (contacts added or deleted, mail marked read) per device per minute. Default 0.5. */
  changesPerDeviceMinute?: number;
  /** HeartbeatInterval of every Ping instead of the profiles' (the server may adjust it: Status 5). */
  heartbeatSec?: number;
  /** Default: `agentFetch()`, one keep-alive `node:http` agent for every device, without undici's 300 s limit. */
  fetch?: FetchFunction;
  /** Called every `progressIntervalMs` (default 1000). */
  onProgress?: (progress: LoadProgress) => void;
  progressIntervalMs?: number;
  /** Ends the run early (the report covers what ran). */
  signal?: AbortSignal;
}

export interface LoadProgress {
  elapsedSec: number;
  devicesStarted: number;
  devices: number;
  requests: number;
  requestsPerSec: number;
  errors: number;
  /** Answer latency p95 over the last seconds (waits left out). */
  recentP95Ms: number;
  waitingRequests?: number;
  rssBytes?: number;
  cpu?: number;
}

export interface LoadReport {
  tool: 'easkit-loadgen';
  reportVersion: 1;
  startedAt: string;
  url: string;
  /** Every instance's endpoint when the run used several. */
  urls?: string[];
  settings: {
    devices: number;
    users: number;
    durationSec: number;
    rampUpSec: number;
    profiles: Record<string, number>;
    protocolVersion?: string;
    mailPerMinute: number;
    mailVia: 'smtp' | 'sendmail';
    pingShare: number;
    pollIntervalSec: number;
    changesPerDeviceMinute: number;
    heartbeatSec?: number;
  };
  durationSec: number;
  devices: {
    requested: number;
    started: number;
    /** Devices whose first contact (provisioning, FolderSync, initial sync) failed at least once. */
    failedToStart: number;
    /** Devices that Ping; the others poll. */
    pinging: number;
    byProfile: Record<string, number>;
    byVersion: Record<string, number>;
  };
  requests: { total: number; ok: number; errors: number; perSecond: number };
  bytes: { in: number; out: number };
  /** Per command; Pings are listed as `Ping (wait)`: their time is the wait for a change, not a latency. */
  commands: Record<string, LatencySummary>;
  /** By HTTP status, network error code, or EAS status. */
  errors: Record<string, number>;
  push: { pings: number; wokenByChanges: number; heartbeatsExpired: number; interrupted: number };
  mail: { sent: number; failed: number };
  clientChanges: number;
  timeline: SecondSample[];
  /** The first instance's resources; `servers` has every instance's when there are several. */
  server: ServerResources;
  servers?: ServerResources[];
  loadGenerator: {
    loadavg: number[];
    cpus: number;
    node: string;
    rssBytes: number;
    /** Sockets of the shared keep-alive agent at most (sampled); absent with a fetch of the caller's. */
    peakConnections?: number;
  };
}

const EAS_PATH = /\/Microsoft-Server-ActiveSync\/?$/i;

/**
 * Runs `devices` simulated devices in this process against a server and reports what they saw. Each device
 * is an `EasClient` with a profile's shape: it provisions, syncs its folders, then Pings (or polls) until the
 * end, syncing what the server reports and making changes of its own; mail arrives at the chosen rate.
 */
export async function runLoad(options: LoadOptions): Promise<LoadReport> {
  if (options.users.length === 0) throw new Error('at least one user is needed');
  if (!(options.devices > 0)) throw new Error('at least one device is needed');
  const endpoints = [options.url, ...(options.moreUrls ?? [])].map((url) =>
    EAS_PATH.test(url) ? url.replace(/\/+$/, '') : `${url.replace(/\/+$/, '')}/Microsoft-Server-ActiveSync`,
  );
  const endpoint = endpoints[0] as string;
  // One keep-alive agent for every device (unless the caller brings its own fetch).
  const pool = options.fetch ? undefined : agentFetch();
  const fetchFunction: FetchFunction = options.fetch ?? (pool as AgentFetch).fetch;
  let peakConnections = 0;
  const connectionTimer = pool
    ? setInterval(() => {
        peakConnections = Math.max(peakConnections, pool.sockets());
      }, 250)
    : undefined;
  const mix = options.profiles ?? Object.values(PROFILES).map((profile) => ({ profile, weight: 1 }));
  const rampUpMs = options.rampUpMs ?? Math.min(options.durationMs / 4, options.devices * 100);
  const mailPerMinute = options.mailPerMinute ?? options.devices / 2;
  const pingShare = options.pingShare ?? 0.8;
  const pollIntervalSec = options.pollIntervalSec ?? 30;
  const changesPerDeviceMinute = options.changesPerDeviceMinute ?? 0.5;
  const runId = randomBytes(3).toString('hex').toUpperCase();
  const startedAt = new Date();
  const started = performance.now();
  const recorder = new LoadRecorder(started);
  const readers = endpoints.map(
    (url) => new ServerMetricsReader(url.replace(EAS_PATH, ''), fetchFunction, started),
  );
  for (const reader of readers) reader.start(1000);
  const metrics = readers[0] as ServerMetricsReader;

  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const endTimer = setTimeout(() => stop.abort(), options.durationMs);

  const counters = {
    pings: 0,
    woken: 0,
    expired: 0,
    interrupted: 0,
    mailSent: 0,
    mailFailed: 0,
    changes: 0,
    failedToStart: 0,
    pinging: 0,
  };
  const byProfile: Record<string, number> = {};
  const byVersion: Record<string, number> = {};
  const profiles = assignProfiles(mix, options.devices);

  let lastProgress = { at: started, requests: 0 };
  const progressTimer = options.onProgress
    ? setInterval(() => {
        const now = performance.now();
        const requests = recorder.totalRequests;
        const latest = metrics.latest;
        options.onProgress?.({
          elapsedSec: Math.round((now - started) / 100) / 10,
          devicesStarted: recorder.devicesStarted,
          devices: options.devices,
          requests,
          requestsPerSec:
            Math.round(((requests - lastProgress.requests) / ((now - lastProgress.at) / 1000)) * 10) / 10,
          errors: recorder.totalErrors,
          recentP95Ms: recorder.recentP95(),
          ...(latest?.waitingRequests !== undefined ? { waitingRequests: latest.waitingRequests } : {}),
          ...(latest?.rssBytes !== undefined ? { rssBytes: latest.rssBytes } : {}),
          ...(latest?.cpu !== undefined ? { cpu: latest.cpu } : {}),
        });
        lastProgress = { at: now, requests };
      }, options.progressIntervalMs ?? 1000)
    : undefined;

  const record = (exchange: ExchangeRecord, interrupted: () => boolean) => {
    if (exchange.command === 'Ping' && exchange.error !== undefined && interrupted()) {
      // A Ping the device ended itself (to send a change, or at the end of the run) is no failure.
      return;
    }
    recorder.record(exchange, exchange.command === 'Ping' ? 'wait' : 'answer');
  };

  const deviceLife = async (index: number): Promise<void> => {
    const profile = profiles[index] as DeviceProfile;
    const user = options.users[index % options.users.length] as LoadUser;
    const version = versionFor(profile, options.protocolVersion);
    let ending = false;
    let pingAbort: AbortController | undefined;
    const client = await EasClient.open({
      url: endpoints[index % endpoints.length] as string,
      credentials: { username: user.username, password: user.password },
      ...profileClientOptions(profile, version),
      deviceId: `LG${runId}${String(index).padStart(5, '0')}`,
      fetch: fetchFunction,
      onExchange: (exchange) => record(exchange, () => ending || stop.signal.aborted),
    });
    byProfile[profile.name] = (byProfile[profile.name] ?? 0) + 1;
    recorder.deviceStarted();
    // Pollers spread evenly over the devices: device i polls when the running count of pollers steps up at i.
    const pollShare = 1 - pingShare;
    const pings = Math.floor((index + 1) * pollShare + 1e-9) === Math.floor(index * pollShare + 1e-9);
    if (pings) counters.pinging++;
    const knownMail: string[] = [];
    const addedContacts: string[] = [];
    let folders: ProfileFolder[] = [];
    let heartbeat = options.heartbeatSec ?? profile.heartbeatSec;
    let nextChangeAt = performance.now() + exponential(changesPerDeviceMinute / 60_000);
    let ready = false;
    let failedOnce = false;

    const syncFolder = async (folder: ProfileFolder) => {
      const outcome = await client.syncCollection(
        folder.serverId,
        syncShape(profile, folder.itemClass, client.protocolVersion ?? version),
      );
      if (outcome.status !== 1) recorder.recordFailure(`EAS Sync Status ${outcome.status}`);
      if (folder.itemClass === 'Email' && folder.pushed) {
        for (const item of outcome.added) knownMail.push(item.serverId);
        for (const id of outcome.deleted) removeFrom(knownMail, id);
        if (knownMail.length > 200) knownMail.splice(0, knownMail.length - 200);
      }
    };

    const firstContact = async () => {
      await client.folderSync();
      const negotiated = client.protocolVersion ?? version;
      byVersion[negotiated] = (byVersion[negotiated] ?? 0) + 1;
      folders = profileFolders(profile, negotiated, client.folders);
      for (const folder of folders) {
        if (stop.signal.aborted) return;
        await syncFolder(folder);
      }
      ready = true;
    };

    const clientChange = async () => {
      counters.changes++;
      const contacts = folders.find((folder) => folder.itemClass === 'Contacts');
      const inbox = folders.find((folder) => folder.itemClass === 'Email' && folder.pushed);
      const roll = Math.random();
      if (inbox && knownMail.length > 0 && roll < 0.5) {
        const serverId = knownMail[Math.floor(Math.random() * knownMail.length)] as string;
        await changeIn(inbox, [{ kind: 'change', serverId, data: [E.Read(1)] }]);
      } else if (contacts && addedContacts.length >= 3 && roll < 0.75) {
        const serverId = addedContacts.shift() as string;
        await changeIn(contacts, [{ kind: 'delete', serverId }]);
      } else if (contacts) {
        const clientId = randomBytes(6).toString('hex');
        const outcome = await changeIn(contacts, [
          {
            kind: 'add',
            clientId,
            data: [C.FileAs(`Load, Device ${index}`), C.FirstName('Device'), C.LastName(`Load ${index}`)],
          },
        ]);
        const serverId = outcome?.idMap[clientId];
        if (serverId) addedContacts.push(serverId);
      }
    };

    const changeIn = async (folder: ProfileFolder, commands: ClientChange[]) => {
      const outcome = await client.syncCollection(folder.serverId, {
        ...syncShape(profile, folder.itemClass, client.protocolVersion ?? version),
        commands,
      });
      if (outcome.status !== 1) recorder.recordFailure(`EAS Sync Status ${outcome.status}`);
      return outcome;
    };

    const pingOnce = async () => {
      const pushed = folders.filter((folder) => folder.pushed);
      if (pushed.length === 0) return waitUntil(nextChangeAt, stop.signal);
      pingAbort = new AbortController();
      const signal = AbortSignal.any([pingAbort.signal, stop.signal]);
      const untilChange = nextChangeAt - performance.now();
      const changeTimer = setTimeout(
        () => {
          ending = true;
          pingAbort?.abort();
        },
        Math.max(0, untilChange),
      );
      counters.pings++;
      try {
        const result = await client.ping(
          pushed.map((folder) => ({ id: folder.serverId, class: folder.itemClass })),
          heartbeat,
          signal,
        );
        switch (result.status) {
          case 1:
            counters.expired++;
            heartbeat = Math.min(profile.heartbeatMaxSec, heartbeat + profile.heartbeatStepSec);
            break;
          case 2:
            counters.woken++;
            for (const id of result.folders) {
              const folder = folders.find((entry) => entry.serverId === id);
              if (folder && !stop.signal.aborted) await syncFolder(folder);
            }
            break;
          case 5:
            if (result.heartbeatInterval !== undefined) heartbeat = result.heartbeatInterval;
            break;
          case 7:
            await firstContact();
            break;
          default:
            recorder.recordFailure(`EAS Ping Status ${result.status}`);
            await pause(1000, stop.signal);
        }
      } catch (error) {
        if (signal.aborted) {
          counters.interrupted++;
          return;
        }
        throw error;
      } finally {
        clearTimeout(changeTimer);
        ending = false;
      }
    };

    const pollOnce = async () => {
      await waitUntil(Math.min(nextChangeAt, performance.now() + pollIntervalSec * 1000), stop.signal);
      if (stop.signal.aborted || performance.now() >= nextChangeAt) return;
      const result = await client.sync(
        folders.map((folder) => ({
          collectionId: folder.serverId,
          ...syncShape(profile, folder.itemClass, client.protocolVersion ?? version),
        })),
      );
      for (const collection of result.collections) {
        const folder = folders.find((entry) => entry.serverId === collection.collectionId);
        if (collection.status !== 1) recorder.recordFailure(`EAS Sync Status ${collection.status}`);
        if (folder?.itemClass === 'Email' && folder.pushed) {
          for (const item of collection.added) knownMail.push(item.serverId);
        }
        if (folder && collection.moreAvailable && !stop.signal.aborted) await syncFolder(folder);
      }
    };

    while (!stop.signal.aborted) {
      try {
        if (!ready) {
          await firstContact();
          continue;
        }
        if (performance.now() >= nextChangeAt) {
          nextChangeAt = performance.now() + exponential(changesPerDeviceMinute / 60_000);
          await clientChange();
          continue;
        }
        if (pings) await pingOnce();
        else await pollOnce();
      } catch (error) {
        if (stop.signal.aborted) break;
        if (!ready && !failedOnce) {
          failedOnce = true;
          counters.failedToStart++;
        }
        noteError(recorder, error);
        // A device that meets an error waits a little and goes on, as a phone would.
        await pause(1000 + Math.random() * 1000, stop.signal);
      }
    }
  };

  const mailLoop = async (): Promise<void> => {
    if (!(mailPerMinute > 0)) return;
    const senders = new Map<string, EasClient>();
    const perMs = mailPerMinute / 60_000;
    // The first message comes after the ramp-up has started a few devices.
    await pause(Math.min(rampUpMs, options.durationMs / 4), stop.signal);
    let sequence = 0;
    while (!stop.signal.aborted) {
      await pause(exponential(perMs), stop.signal);
      if (stop.signal.aborted) break;
      const user = options.users[Math.floor(Math.random() * options.users.length)] as LoadUser;
      const to = user.address ?? user.username;
      sequence++;
      const mime = [
        'From: Load Generator <loadgen@easkit-loadgen.test>',
        `To: ${to}`,
        `Subject: loadgen ${runId} message ${sequence}`,
        `Message-ID: <${runId}.${sequence}.${randomBytes(4).toString('hex')}@easkit-loadgen.test>`,
        `Date: ${new Date().toUTCString()}`,
        'MIME-Version: 1.0',
        'Content-Type: text/plain; charset=utf-8',
        '',
        `Message ${sequence} of load run ${runId}.`,
        'A few lines of text so that the body is not empty; the previews of the profiles cut it.',
        '',
      ].join('\r\n');
      try {
        if (options.smtp) {
          await sendSmtp(options.smtp, { from: 'loadgen@easkit-loadgen.test', to: [to] }, mime);
        } else {
          let sender = senders.get(user.username);
          if (!sender) {
            sender = await EasClient.open({
              url: endpoint,
              credentials: { username: user.username, password: user.password },
              deviceId: `LG${runId}MAIL${senders.size}`,
              deviceType: 'easkitLoadgen',
              fetch: fetchFunction,
              onExchange: (exchange) => recorder.record(exchange),
            });
            senders.set(user.username, sender);
          }
          const sent = await sender.sendMail({ mime });
          if (sent.status !== 1) throw new EasStatusError('SendMail', sent.status);
        }
        counters.mailSent++;
      } catch (error) {
        if (stop.signal.aborted) break;
        counters.mailFailed++;
        noteError(recorder, error, options.smtp ? 'SMTP' : undefined);
      }
    }
  };

  const lives: Promise<void>[] = [];
  const mail = mailLoop();
  for (let index = 0; index < options.devices && !stop.signal.aborted; index++) {
    lives.push(
      deviceLife(index).catch((error) => {
        noteError(recorder, error);
      }),
    );
    if (index < options.devices - 1) await pause(rampUpMs / options.devices, stop.signal);
  }
  await new Promise<void>((resolve) => {
    if (stop.signal.aborted) resolve();
    else stop.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  // Requests already sent are awaited and counted; devices send nothing new once the run has ended.
  clearTimeout(endTimer);
  clearInterval(progressTimer);
  options.signal?.removeEventListener('abort', onOuterAbort);
  await Promise.all([...lives, mail]);
  const servers = await Promise.all(readers.map((reader) => reader.stop()));
  clearInterval(connectionTimer);
  pool?.close();
  const server = servers[0] as ServerResources;
  const durationSec = Math.round((performance.now() - started) / 100) / 10;
  const commands = recorder.commands();
  const total = recorder.totalRequests;
  const failed = Object.values(commands).reduce((sum, command) => sum + command.errors, 0);
  return {
    tool: 'easkit-loadgen',
    reportVersion: 1,
    startedAt: startedAt.toISOString(),
    url: endpoint,
    ...(endpoints.length > 1 ? { urls: endpoints } : {}),
    settings: {
      devices: options.devices,
      users: options.users.length,
      durationSec: options.durationMs / 1000,
      rampUpSec: rampUpMs / 1000,
      profiles: Object.fromEntries(mix.map(({ profile, weight }) => [profile.name, weight])),
      ...(options.protocolVersion ? { protocolVersion: options.protocolVersion } : {}),
      mailPerMinute,
      mailVia: options.smtp ? 'smtp' : 'sendmail',
      pingShare,
      pollIntervalSec,
      changesPerDeviceMinute,
      ...(options.heartbeatSec !== undefined ? { heartbeatSec: options.heartbeatSec } : {}),
    },
    durationSec,
    devices: {
      requested: options.devices,
      started: recorder.devicesStarted,
      failedToStart: counters.failedToStart,
      pinging: counters.pinging,
      byProfile,
      byVersion,
    },
    requests: {
      total,
      ok: total - failed,
      errors: failed,
      perSecond: Math.round((total / durationSec) * 10) / 10,
    },
    bytes: { in: recorder.bytesIn, out: recorder.bytesOut },
    commands,
    errors: recorder.errors(),
    push: {
      pings: counters.pings,
      wokenByChanges: counters.woken,
      heartbeatsExpired: counters.expired,
      interrupted: counters.interrupted,
    },
    mail: { sent: counters.mailSent, failed: counters.mailFailed },
    clientChanges: counters.changes,
    timeline: recorder.timeline(),
    server,
    ...(servers.length > 1 ? { servers } : {}),
    loadGenerator: {
      loadavg: loadavg().map((value) => Math.round(value * 100) / 100),
      cpus: cpus().length,
      node: process.version,
      rssBytes: process.memoryUsage().rss,
      ...(pool ? { peakConnections } : {}),
    },
  };
}

/** Spreads the profiles over the devices by weight, interleaved (device 0, 1, 2 get different profiles). */
function assignProfiles(mix: { profile: DeviceProfile; weight: number }[], devices: number): DeviceProfile[] {
  const total = mix.reduce((sum, entry) => sum + entry.weight, 0);
  const assigned: DeviceProfile[] = [];
  const given = mix.map(() => 0);
  for (let index = 0; index < devices; index++) {
    // The profile furthest behind its share gets the next device.
    let best = 0;
    let bestLag = Number.NEGATIVE_INFINITY;
    mix.forEach((entry, position) => {
      const lag = ((index + 1) * entry.weight) / total - (given[position] as number);
      if (entry.weight > 0 && lag > bestLag) {
        bestLag = lag;
        best = position;
      }
    });
    given[best] = (given[best] as number) + 1;
    assigned.push((mix[best] as { profile: DeviceProfile }).profile);
  }
  return assigned;
}

/** The profile's highest version at or below the cap (its lowest when none is). */
function versionFor(profile: DeviceProfile, cap: EasVersion | undefined): EasVersion {
  if (!cap) return profile.versions[0] as EasVersion;
  return (
    profile.versions.find((version) => compareVersions(version, cap) <= 0) ??
    (profile.versions.at(-1) as EasVersion)
  );
}

function noteError(recorder: LoadRecorder, error: unknown, prefix?: string): void {
  // HTTP and network failures are already counted by their exchange (access statuses in a 200 answer are not).
  if (error instanceof EasAccessDeniedError && error.status === 200) {
    recorder.recordFailure(`EAS access Status ${error.easStatus ?? '?'}`);
    return;
  }
  if (error instanceof EasHttpError || error instanceof EasNetworkError) return;
  if (error instanceof EasStatusError) recorder.recordFailure(`EAS ${error.message}`);
  else if (error instanceof EasClientError) recorder.recordFailure(`${error.name}`);
  else
    recorder.recordFailure(
      `${prefix ? `${prefix} ` : ''}${error instanceof Error ? error.message : String(error)}`,
    );
}

function exponential(ratePerMs: number): number {
  if (!(ratePerMs > 0)) return Number.POSITIVE_INFINITY;
  return -Math.log(1 - Math.random()) / ratePerMs;
}

function removeFrom(list: string[], value: string): void {
  const index = list.indexOf(value);
  if (index >= 0) list.splice(index, 1);
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function waitUntil(at: number, signal: AbortSignal): Promise<void> {
  return pause(at - performance.now(), signal);
}
