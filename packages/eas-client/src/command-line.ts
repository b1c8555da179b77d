import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, Option } from 'commander';
import { AutodiscoverError, type AutodiscoverResult, autodiscover } from './autodiscover.js';
import { EasClient, type WatchEvent } from './client.js';
import type { SyncItem } from './commands/sync.js';
import { EasStatusError } from './errors.js';
import { CLIENT_VERSIONS, classOfFolderType, type EasVersion, FolderType } from './protocol.js';
import { type DeviceState, JsonFileDeviceState, type KnownFolder } from './state.js';
import type { FetchFunction } from './transport.js';

/** Where the command line writes; the bin passes the process's streams, tests collect the text. */
export interface CommandLineIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Environment for options with a variable (EASKIT_PASSWORD, ...). Default: none. */
  env?: Record<string, string | undefined>;
  /** For tests and embedding. Default: the global fetch. */
  fetch?: FetchFunction;
  /** Ends `watch`. */
  signal?: AbortSignal;
}

interface ConnectionOptions {
  url?: string;
  user?: string;
  password?: string;
  token?: string;
  protocol?: string;
  deviceId?: string;
  deviceType: string;
  state?: string;
  base64?: boolean;
  json?: boolean;
}

class UsageError extends Error {}

/** One step of `check`, with how long it took. */
interface CheckStep {
  step: string;
  ok: boolean;
  /** A failure that does not fail the check (Autodiscover when a URL was given). */
  warning?: boolean;
  ms: number;
  detail: string;
}

const EAS_PATH = /\/Microsoft-Server-ActiveSync\/?$/i;

/**
 * `easkit-client`: check an account end to end, sync folders, send a message, watch for changes. Returns the
 * exit code: 0 success, 1 a failed check or command, 2 bad usage.
 */
export async function runCommandLine(argv: readonly string[], io: CommandLineIo): Promise<number> {
  const env = io.env ?? {};
  let exitCode = 0;
  const program = new Command()
    .name('easkit-client')
    .description('An Exchange ActiveSync client for operators: check an account, sync, send, watch.')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError();

  const withConnection = (command: Command) =>
    command
      .argument('<address>', 'the account e-mail address')
      .option(
        '--url <url>',
        'the EAS endpoint (…/Microsoft-Server-ActiveSync), a server base URL or an Autodiscover URL',
      )
      .option('--user <login>', 'the login name (default: the address)')
      .addOption(new Option('--password <password>', 'the password').env('EASKIT_PASSWORD'))
      .addOption(
        new Option('--token <token>', 'an OAuth bearer token instead of a password').env('EASKIT_TOKEN'),
      )
      .addOption(
        new Option('--protocol <version>', 'the highest protocol version to use').choices(CLIENT_VERSIONS),
      )
      .option('--device-id <id>', 'the device id (default: from --state, else random)')
      .option('--device-type <type>', 'the device type', 'easkitclient')
      .option('--state <file>', 'keep the device state (policy key, sync keys) in this JSON file')
      .option('--base64', 'use the base64 query form (12.1 and later)')
      .option('--json', 'print JSON');

  const envOf = (command: Command) => {
    // Commander reads option variables from process.env; the io's environment is applied here instead.
    const options = command.opts<ConnectionOptions>();
    if (options.password === undefined && env.EASKIT_PASSWORD !== undefined)
      options.password = env.EASKIT_PASSWORD;
    if (options.token === undefined && env.EASKIT_TOKEN !== undefined) options.token = env.EASKIT_TOKEN;
    return options;
  };

  withConnection(program.command('check'))
    .description('discover, log in, provision, list folders and sync the Inbox once; report each step')
    .action(async (address: string, _options: unknown, command: Command) => {
      exitCode = await check(address, envOf(command), io);
    });

  withConnection(program.command('sync'))
    .description('sync folders and print what changed (everything on the first run without --state)')
    .option('--folder <name...>', 'folders by display name or id (default: the Inbox)')
    .option('--all', 'every Email, Calendar, Contacts, Tasks and Notes folder')
    .option('--window-size <n>', 'items per round', '100')
    .action(async (address: string, _options: unknown, command: Command) => {
      const options = envOf(command) as ConnectionOptions & {
        folder?: string[];
        all?: boolean;
        windowSize: string;
      };
      const { client } = await open(address, options, io);
      await ensureReady(client);
      const folders = pickFolders(client.folders, options.folder, options.all);
      const report: unknown[] = [];
      for (const folder of folders) {
        const outcome = await client.syncCollection(folder.serverId, {
          windowSize: Number(options.windowSize),
        });
        if (outcome.status !== 1) exitCode = 1;
        report.push({ folder: folder.displayName, ...summary(outcome) });
        if (!options.json) {
          io.stdout(
            `${folder.displayName} (${folder.serverId}): status ${outcome.status}, ${describeCounts(outcome)}\n`,
          );
          for (const item of outcome.added) io.stdout(`  + ${item.serverId} ${itemTitle(item)}\n`);
          for (const item of outcome.changed) io.stdout(`  ~ ${item.serverId} ${itemTitle(item)}\n`);
          for (const id of [...outcome.deleted, ...outcome.softDeleted]) io.stdout(`  - ${id}\n`);
        }
      }
      if (options.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
    });

  withConnection(program.command('send'))
    .description('send a message')
    .requiredOption('--to <address...>', 'recipients')
    .option('--cc <address...>', 'copy recipients')
    .option('--subject <text>', 'the subject', '')
    .option('--body <text>', 'the plain-text body', '')
    .option('--mime <file>', 'send this RFC 5322 file as it is instead')
    .option('--no-save', 'do not keep a copy in Sent Items')
    .action(async (address: string, _options: unknown, command: Command) => {
      const options = envOf(command) as ConnectionOptions & {
        to: string[];
        cc?: string[];
        subject: string;
        body: string;
        mime?: string;
        save: boolean;
      };
      const { client } = await open(address, options, io);
      const mime = options.mime
        ? await readFile(options.mime)
        : composeMessage(address, options.to, options.cc ?? [], options.subject, options.body);
      const result = await client.sendMail({ mime, saveInSentItems: options.save });
      if (result.status !== 1) {
        exitCode = 1;
        io.stderr(`SendMail failed with Status ${result.status}\n`);
        return;
      }
      io.stdout(
        options.json
          ? `${JSON.stringify({ sent: true, to: options.to })}\n`
          : `sent to ${options.to.join(', ')}\n`,
      );
    });

  withConnection(program.command('watch'))
    .description('Ping the folders and print every change as it arrives (Ctrl-C ends)')
    .option('--folder <name...>', 'folders by display name or id (default: every synced class)')
    .option('--heartbeat <seconds>', 'the Ping heartbeat', '480')
    .option('--no-initial', 'do not print what the first sync brings')
    .action(async (address: string, _options: unknown, command: Command) => {
      const options = envOf(command) as ConnectionOptions & {
        folder?: string[];
        heartbeat: string;
        initial: boolean;
      };
      const { client } = await open(address, options, io);
      await ensureReady(client);
      const folders = options.folder ? pickFolders(client.folders, options.folder, false) : undefined;
      const started = Date.now();
      const stamp = () => new Date().toISOString().slice(11, 19);
      io.stdout(
        `${stamp()} watching ${folders ? folders.map((folder) => folder.displayName).join(', ') : 'every folder'}\n`,
      );
      const events = client.watch({
        ...(folders ? { collections: folders.map((folder) => folder.serverId) } : {}),
        heartbeatInterval: Number(options.heartbeat),
        initialSync: options.initial ? 'report' : 'silent',
        ...(io.signal ? { signal: io.signal } : {}),
      });
      for await (const event of events) {
        if (options.json) io.stdout(`${JSON.stringify(watchJson(event))}\n`);
        else io.stdout(describeWatch(event, stamp()));
      }
      if (!options.json)
        io.stdout(`${stamp()} stopped after ${Math.round((Date.now() - started) / 1000)} s\n`);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? 0 : 2;
    }
    if (error instanceof UsageError) {
      io.stderr(`easkit-client: ${error.message}\n`);
      return 2;
    }
    io.stderr(`easkit-client: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}

async function open(
  address: string,
  options: ConnectionOptions,
  io: CommandLineIo,
): Promise<{ client: EasClient; discovery?: AutodiscoverResult; endpoint: string }> {
  const { endpoint, discovery } = await locate(address, options, io);
  const client = await EasClient.open(clientOptions(address, options, endpoint, io));
  return { client, ...(discovery ? { discovery } : {}), endpoint };
}

function credentialsOf(address: string, options: ConnectionOptions) {
  const username = options.user ?? address;
  if (options.token !== undefined) return { bearer: options.token, username };
  if (options.password === undefined)
    throw new UsageError('a password is needed: --password or EASKIT_PASSWORD');
  return { username, password: options.password };
}

function clientOptions(address: string, options: ConnectionOptions, endpoint: string, io: CommandLineIo) {
  const state: DeviceState | undefined = options.state ? new JsonFileDeviceState(options.state) : undefined;
  return {
    url: endpoint,
    credentials: credentialsOf(address, options),
    deviceType: options.deviceType,
    // One device per address and login, so repeated checks do not fill the server's device list.
    deviceId:
      options.deviceId ??
      `easkitcli${createHash('sha256')
        .update(`${address}\n${options.user ?? ''}`)
        .digest('hex')
        .slice(0, 20)}`,
    ...(state ? { state } : {}),
    ...(options.protocol ? { protocolVersion: options.protocol as EasVersion } : {}),
    ...(options.base64 ? { queryForm: 'base64' as const } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
    userAgent: 'easkit-client',
  };
}

/** The EAS endpoint: given outright, or found by Autodiscover (falling back to `<url>/Microsoft-Server-ActiveSync`). */
async function locate(
  address: string,
  options: ConnectionOptions,
  io: CommandLineIo,
): Promise<{ endpoint: string; discovery?: AutodiscoverResult; discoveryError?: AutodiscoverError }> {
  if (options.url && EAS_PATH.test(options.url)) return { endpoint: options.url };
  try {
    const discovery = await autodiscover(address, {
      credentials: credentialsOf(address, options),
      ...(options.url ? { url: options.url } : {}),
      ...(io.fetch ? { fetch: io.fetch } : {}),
    });
    return { endpoint: discovery.url, discovery };
  } catch (error) {
    if (!(error instanceof AutodiscoverError) || !options.url) throw error;
    const base = new URL(options.url);
    return {
      endpoint: `${base.origin}/Microsoft-Server-ActiveSync`,
      discoveryError: error,
    };
  }
}

/** Provisions (if the state has no key yet) and runs FolderSync, so folders can be named. */
async function ensureReady(client: EasClient): Promise<void> {
  if (client.protocolVersion === undefined) await client.connect();
  if (client.policyKey === undefined) await client.provision();
  await client.folderSync();
}

function pickFolders(folders: readonly KnownFolder[], names: string[] | undefined, all: boolean | undefined) {
  if (all)
    return folders.filter((folder) => classOfFolderType(folder.type) && folder.type !== FolderType.Outbox);
  if (!names || names.length === 0) {
    const inbox = folders.find((folder) => folder.type === FolderType.Inbox);
    if (!inbox) throw new UsageError('the account has no Inbox');
    return [inbox];
  }
  return names.map((name) => {
    const found = folders.find(
      (folder) => folder.serverId === name || folder.displayName.toLowerCase() === name.toLowerCase(),
    );
    if (!found) {
      throw new UsageError(
        `no folder ${name}; the account has ${folders.map((folder) => folder.displayName).join(', ')}`,
      );
    }
    return found;
  });
}

async function timed<T>(
  steps: CheckStep[],
  step: string,
  run: () => Promise<T>,
  describe: (value: T) => string,
) {
  const started = performance.now();
  try {
    const value = await run();
    steps.push({ step, ok: true, ms: Math.round(performance.now() - started), detail: describe(value) });
    return value;
  } catch (error) {
    steps.push({ step, ok: false, ms: Math.round(performance.now() - started), detail: errorText(error) });
    return undefined;
  }
}

async function check(address: string, options: ConnectionOptions, io: CommandLineIo): Promise<number> {
  const steps: CheckStep[] = [];
  let endpoint: string | undefined;
  if (options.url && EAS_PATH.test(options.url)) {
    endpoint = options.url;
    steps.push({
      step: 'autodiscover',
      ok: true,
      ms: 0,
      detail: `skipped: --url names the endpoint ${endpoint}`,
    });
  } else {
    const started = performance.now();
    try {
      const located = await locate(address, options, io);
      endpoint = located.endpoint;
      const ms = Math.round(performance.now() - started);
      if (located.discovery) {
        steps.push({ step: 'autodiscover', ok: true, ms, detail: `${located.discovery.form}: ${endpoint}` });
      } else {
        const tried =
          located.discoveryError?.attempts.map(
            (attempt) => `${attempt.url}: ${attempt.detail ?? attempt.outcome}`,
          ) ?? [];
        steps.push({
          step: 'autodiscover',
          ok: false,
          warning: true,
          ms,
          detail: `failed (${tried.join('; ')}); using ${endpoint}`,
        });
      }
    } catch (error) {
      const tried =
        error instanceof AutodiscoverError
          ? error.attempts.map((attempt) => `${attempt.url}: ${attempt.detail ?? attempt.outcome}`).join('; ')
          : errorText(error);
      steps.push({
        step: 'autodiscover',
        ok: false,
        ms: Math.round(performance.now() - started),
        detail: tried,
      });
    }
  }
  if (endpoint) {
    const client = await EasClient.open(clientOptions(address, options, endpoint, io));
    const offered = await timed(
      steps,
      'options',
      () => client.connect(),
      (value) =>
        `versions ${value.versions.join(',')}; using ${client.protocolVersion}${value.serverVersion ? `; server ${value.serverVersion}` : ''}`,
    );
    const provisioned =
      offered &&
      (await timed(
        steps,
        'provision',
        () => client.provision(),
        (value) =>
          value.wiped
            ? `the server ordered a ${value.wiped === 'account' ? 'account-only ' : ''}wipe (acknowledged)`
            : value.policyKey
              ? `policy key ${value.policyKey}${value.settings ? `, ${Object.keys(value.settings).length} settings` : ''}`
              : 'no policy required',
      ));
    const hierarchy =
      provisioned &&
      !provisioned.wiped &&
      (await timed(
        steps,
        'foldersync',
        () => client.folderSync(),
        (value) =>
          `${value.folders.length} folders: ${value.folders.map((folder) => folder.displayName).join(', ')}`,
      ));
    if (hierarchy) {
      const inbox = hierarchy.folders.find((folder) => folder.type === FolderType.Inbox);
      if (!inbox) steps.push({ step: 'sync inbox', ok: false, ms: 0, detail: 'no Inbox in the hierarchy' });
      else {
        await timed(
          steps,
          'sync inbox',
          async () => {
            const outcome = await client.syncCollection(inbox.serverId, { windowSize: 25, maxRounds: 2 });
            if (outcome.status !== 1) throw new EasStatusError('Sync', outcome.status);
            return outcome;
          },
          (outcome) =>
            `${outcome.added.length} items in ${outcome.rounds} rounds${outcome.added.length > 0 ? `; newest: ${itemTitle(outcome.added[0]!)}` : ''}`,
        );
      }
    }
  }
  const passed =
    steps.every((step) => step.ok || step.warning) && steps.some((step) => step.step === 'sync inbox');
  if (options.json) {
    io.stdout(`${JSON.stringify({ address, endpoint, ok: passed, steps }, null, 2)}\n`);
  } else {
    io.stdout(`easkit-client check ${address}${endpoint ? ` at ${endpoint}` : ''}\n`);
    for (const step of steps) {
      const mark = step.ok ? 'ok  ' : step.warning ? 'warn' : 'FAIL';
      io.stdout(`  ${mark} ${step.step.padEnd(12)} ${String(step.ms).padStart(6)} ms  ${step.detail}\n`);
    }
    io.stdout(passed ? 'everything works\n' : 'the account does not work end to end\n');
  }
  return passed ? 0 : 1;
}

function composeMessage(from: string, to: string[], cc: string[], subject: string, body: string): Uint8Array {
  const encodedSubject = /^[\x20-\x7e]*$/.test(subject)
    ? subject
    : `=?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`;
  const domain = from.slice(from.lastIndexOf('@') + 1) || 'localhost';
  const lines = [
    `From: ${from}`,
    `To: ${to.join(', ')}`,
    ...(cc.length > 0 ? [`Cc: ${cc.join(', ')}`] : []),
    `Subject: ${encodedSubject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    ...body.split(/\r?\n/),
  ];
  return new TextEncoder().encode(`${lines.join('\r\n')}\r\n`);
}

function itemTitle(item: SyncItem): string {
  const fields = item.data.fields;
  return (
    fields.Subject ??
    fields.FileAs ??
    ([fields.FirstName, fields.LastName].filter(Boolean).join(' ') || undefined) ??
    fields.DisplayName ??
    '(no title)'
  );
}

function summary(outcome: Awaited<ReturnType<EasClient['syncCollection']>>) {
  return {
    status: outcome.status,
    rounds: outcome.rounds,
    added: outcome.added.map((item) => ({ serverId: item.serverId, fields: item.data.fields })),
    changed: outcome.changed.map((item) => ({ serverId: item.serverId, fields: item.data.fields })),
    deleted: [...outcome.deleted, ...outcome.softDeleted],
  };
}

function describeCounts(outcome: Awaited<ReturnType<EasClient['syncCollection']>>): string {
  return `${outcome.added.length} added, ${outcome.changed.length} changed, ${outcome.deleted.length + outcome.softDeleted.length} deleted`;
}

function describeWatch(event: WatchEvent, stamp: string): string {
  switch (event.kind) {
    case 'idle':
      return `${stamp} no changes in the heartbeat\n`;
    case 'heartbeat-adjusted':
      return `${stamp} the server asks for a heartbeat of ${event.heartbeatInterval} s\n`;
    case 'hierarchy':
      return `${stamp} folders: ${event.result.added.length} added, ${event.result.updated.length} updated, ${event.result.deleted.length} deleted\n`;
    case 'changes': {
      const name = event.folder?.displayName ?? event.outcome.collectionId;
      const lines = [`${stamp} ${name}: ${describeCounts(event.outcome)}`];
      for (const item of event.outcome.added) lines.push(`  + ${item.serverId} ${itemTitle(item)}`);
      for (const item of event.outcome.changed) lines.push(`  ~ ${item.serverId} ${itemTitle(item)}`);
      for (const id of [...event.outcome.deleted, ...event.outcome.softDeleted]) lines.push(`  - ${id}`);
      return `${lines.join('\n')}\n`;
    }
  }
}

function watchJson(event: WatchEvent): unknown {
  if (event.kind === 'changes') {
    return {
      kind: 'changes',
      folder: event.folder?.displayName,
      collectionId: event.outcome.collectionId,
      ...summary(event.outcome),
    };
  }
  if (event.kind === 'hierarchy') {
    return {
      kind: 'hierarchy',
      added: event.result.added,
      updated: event.result.updated,
      deleted: event.result.deleted,
    };
  }
  return event;
}

function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
