#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { publishingMailbox } from '@easkit/push';
import { Command, Option } from 'commander';
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { ImportAbortedError, importFiles } from './import/import.js';
import { openStores } from './stores.js';

/**
 * `easkit`: the operator's command line. It talks to a running server's admin API (`/admin/v1`, bearer token),
 * so it works the same against the embedded PGlite server and a cluster of instances on PostgreSQL.
 */
interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

class CliError extends Error {}

const program = new Command()
  .name('easkit')
  .description('Administer an easkit server through its admin API.')
  .addOption(new Option('--url <url>', 'the server').env('EASKIT_URL').default('http://127.0.0.1:8080'))
  .addOption(
    new Option('--token <token>', 'the admin token (admin.token in the server config)').env(
      'EASKIT_ADMIN_TOKEN',
    ),
  )
  .option('--json', 'print the raw JSON answer')
  .showHelpAfterError();

async function call(method: string, path: string, body?: unknown): Promise<unknown> {
  const options = program.opts<GlobalOptions>();
  if (!options.token) throw new CliError('an admin token is required: --token or EASKIT_ADMIN_TOKEN');
  let response: Response;
  try {
    response = await fetch(new URL(`/admin/v1${path}`, options.url), {
      method,
      headers: {
        Authorization: `Bearer ${options.token}`,
        'X-Easkit-Actor': `${safeUser()} (cli)`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (error) {
    throw new CliError(`cannot reach ${options.url}: ${(error as Error).message}`);
  }
  const text = await response.text();
  const value = text ? (JSON.parse(text) as unknown) : undefined;
  if (!response.ok) {
    const message = (value as { error?: string } | undefined)?.error ?? response.statusText;
    throw new CliError(`${response.status}: ${message}`);
  }
  return value;
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

function print(value: unknown, human: (value: never) => string): void {
  if (program.opts<GlobalOptions>().json || value === undefined) {
    if (value !== undefined) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    else process.stdout.write('ok\n');
    return;
  }
  process.stdout.write(`${human(value as never)}\n`);
}

const enc = encodeURIComponent;

function table(rows: string[][]): string {
  if (rows.length === 0) return '(none)';
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

interface DeviceRow {
  user: string;
  deviceId: string;
  deviceType: string;
  model?: string;
  protocolVersion?: string;
  condition: string;
  stats: { lastSyncAt?: string };
  lastSeen: string;
}

const deviceTable = (devices: DeviceRow[]) =>
  table([
    ['USER', 'DEVICE', 'TYPE', 'MODEL', 'VERSION', 'CONDITION', 'LAST SYNC', 'LAST SEEN'],
    ...devices.map((device) => [
      device.user,
      device.deviceId,
      device.deviceType,
      device.model ?? '',
      device.protocolVersion ?? '',
      device.condition,
      device.stats.lastSyncAt ?? '',
      device.lastSeen,
    ]),
  ]);

// Users ---------------------------------------------------------------------------------------------------
const users = program.command('users').description('accounts, passwords and aliases');
users
  .command('list')
  .description('every user')
  .action(async () => {
    const answer = (await call('GET', '/users')) as {
      users: { id: string; aliases: string[]; displayName?: string }[];
    };
    print(answer, (value: typeof answer) =>
      table([
        ['USER', 'NAME', 'ALIASES'],
        ...value.users.map((user) => [user.id, user.displayName ?? '', user.aliases.join(', ')]),
      ]),
    );
  });
users
  .command('add <address>')
  .description('create a user with the default folders')
  .option('--password <password>', 'initial password (or EASKIT_NEW_PASSWORD)')
  .option('--name <displayName>', 'display name')
  .option('--alias <address...>', 'more addresses (any domain)')
  .action(async (address: string, options: { password?: string; name?: string; alias?: string[] }) => {
    const password = options.password ?? process.env.EASKIT_NEW_PASSWORD;
    const answer = await call('POST', '/users', {
      address,
      ...(password ? { password } : {}),
      ...(options.name ? { displayName: options.name } : {}),
      aliases: options.alias ?? [],
    });
    print(answer, () => `created ${address}`);
  });
users
  .command('aliases <user> [addresses...]')
  .description("replace a user's aliases (none: remove them all)")
  .action(async (user: string, addresses: string[]) => {
    const answer = (await call('PUT', `/users/${enc(user)}`, { aliases: addresses })) as {
      user: { aliases: string[] };
    };
    print(answer, (value: typeof answer) => `aliases: ${value.user.aliases.join(', ') || '(none)'}`);
  });
users
  .command('rename <user> <displayName>')
  .description("set a user's display name")
  .action(async (user: string, displayName: string) => {
    print(await call('PUT', `/users/${enc(user)}`, { displayName }), () => 'ok');
  });
users
  .command('passwd <user>')
  .description('set a password')
  .requiredOption('--password <password>', 'the new password')
  .action(async (user: string, options: { password: string }) => {
    print(await call('PUT', `/users/${enc(user)}/password`, { password: options.password }), () => 'ok');
  });
users
  .command('eas <user> <state>')
  .description('EAS for one user: on, off, or default (follow the global switch)')
  .action(async (user: string, state: string) => {
    const enabled = state === 'on' ? true : state === 'off' ? false : state === 'default' ? null : undefined;
    if (enabled === undefined) throw new CliError('state must be on, off or default');
    print(await call('PUT', `/users/${enc(user)}/eas`, { enabled }), () => 'ok');
  });
users
  .command('debug <user> <state>')
  .description("log this user's requests and responses in full (decoded WBXML) on the instance: on or off")
  .action(async (user: string, state: string) => {
    if (state !== 'on' && state !== 'off') throw new CliError('state must be on or off');
    print(await call('PUT', `/users/${enc(user)}/debug`, { enabled: state === 'on' }), () => 'ok');
  });
users
  .command('policy <user> <policyId>')
  .description('assign a policy to a user (`none` for the default)')
  .action(async (user: string, policyId: string) => {
    print(
      await call('PUT', `/users/${enc(user)}/policy`, { policyId: policyId === 'none' ? null : policyId }),
      () => 'ok',
    );
  });

// Devices -------------------------------------------------------------------------------------------------
const devices = program.command('devices').description('devices, wipes, approvals and troubleshooting');
devices
  .command('list')
  .description('devices with their condition and last sync')
  .option('--user <user>', 'only this user')
  .action(async (options: { user?: string }) => {
    const answer = (await call('GET', `/devices${options.user ? `?user=${enc(options.user)}` : ''}`)) as {
      devices: DeviceRow[];
    };
    print(answer, (value: typeof answer) => deviceTable(value.devices));
  });
devices.command('show <user> <device>').action(async (user: string, device: string) => {
  const answer = (await call('GET', `/devices/${enc(user)}/${enc(device)}`)) as { device: DeviceRow };
  print(answer, (value: typeof answer) => JSON.stringify(value.device, null, 2));
});
for (const [action, description] of [
  ['wipe', 'remote wipe: the device erases itself at its next contact'],
  ['account-only-wipe', 'remove only this account from the device (EAS 16.1)'],
  ['clear-wipe', 'let a wiped device provision again'],
  ['approve', 'release a quarantined device'],
  ['allow', 'allow this device whatever the rules say'],
  ['block', 'block this device'],
  ['quarantine', 'quarantine this device'],
  ['reset-access', 'let the access rules decide again'],
] as const) {
  devices
    .command(`${action} <user> <device>`)
    .description(description)
    .option('--note <text>', 'why (kept in the audit log)')
    .action(async (user: string, device: string, options: { note?: string }) => {
      const answer = (await call('POST', `/devices/${enc(user)}/${enc(device)}/${action}`, {
        ...(options.note ? { note: options.note } : {}),
      })) as { device: DeviceRow };
      print(answer, () => `${action}: ${user} ${device}`);
    });
}
devices
  .command('remove <user> <device>')
  .description('forget a device and its sync state')
  .action(async (user: string, device: string) => {
    print(await call('DELETE', `/devices/${enc(user)}/${enc(device)}`), () => 'ok');
  });
devices
  .command('resync <user> <device>')
  .description("drop the device's sync state (all folders, or one) so it syncs from scratch")
  .option('--folder <collectionId>', 'only this collection')
  .action(async (user: string, device: string, options: { folder?: string }) => {
    const answer = await call('POST', `/devices/${enc(user)}/${enc(device)}/resync`, {
      ...(options.folder ? { collectionId: options.folder } : {}),
    });
    print(answer, (value: { dropped: number }) => `dropped ${value.dropped} collection state(s)`);
  });
devices
  .command('clear-broken <user> <device>')
  .description('offer the device again the items Sync left out because the device kept failing on them')
  .action(async (user: string, device: string) => {
    const answer = await call('POST', `/devices/${enc(user)}/${enc(device)}/clear-broken`, {});
    print(answer, (value: { cleared: number }) => `cleared ${value.cleared} item record(s)`);
  });
devices
  .command('log <user> <device>')
  .description("the device's last requests (command, status, time)")
  .action(async (user: string, device: string) => {
    const answer = (await call('GET', `/devices/${enc(user)}/${enc(device)}/log`)) as {
      requests: {
        at: string;
        command?: string;
        protocolVersion?: string;
        httpStatus: number;
        durationMs: number;
        bytesIn?: number;
        bytesOut?: number;
        itemsSent?: number;
        itemsReceived?: number;
        reason?: string;
      }[];
    };
    print(answer, (value: typeof answer) =>
      table([
        ['AT', 'COMMAND', 'VERSION', 'HTTP', 'MS', 'BYTES IN/OUT', 'ITEMS IN/OUT', 'REASON'],
        ...value.requests.map((entry) => [
          entry.at,
          entry.command ?? '',
          entry.protocolVersion ?? '',
          String(entry.httpStatus),
          String(entry.durationMs),
          entry.bytesIn === undefined ? '' : `${entry.bytesIn}/${entry.bytesOut ?? 0}`,
          entry.itemsSent === undefined ? '' : `${entry.itemsReceived ?? 0}/${entry.itemsSent}`,
          entry.reason ?? '',
        ]),
      ]),
    );
  });

// Policies, rules, switches, audit ----------------------------------------------------------------------
const policies = program.command('policies').description('provisioning policies');
policies.command('list').action(async () => {
  const answer = (await call('GET', '/policies')) as {
    policies: { id: string; name: string; version: number }[];
  };
  print(answer, (value: typeof answer) =>
    table([
      ['ID', 'NAME', 'VERSION'],
      ...value.policies.map((policy) => [policy.id, policy.name, String(policy.version)]),
    ]),
  );
});
policies
  .command('set <id>')
  .description('create or replace a policy from a JSON file of settings (unset settings take their defaults)')
  .requiredOption('--name <name>', 'display name')
  .requiredOption('--file <settings.json>', 'the settings')
  .option('--allow-non-provisionable', 'let devices that cannot apply policies sync')
  .action(async (id: string, options: { name: string; file: string; allowNonProvisionable?: boolean }) => {
    let settings: unknown;
    try {
      settings = JSON.parse(readFileSync(options.file, 'utf8'));
    } catch (error) {
      throw new CliError(`cannot read ${options.file}: ${(error as Error).message}`);
    }
    const answer = await call('PUT', `/policies/${enc(id)}`, {
      name: options.name,
      settings,
      ...(options.allowNonProvisionable ? { allowNonProvisionableDevices: true } : {}),
    });
    print(
      answer,
      (value: { policy: { version: number } }) => `policy ${id} is at version ${value.policy.version}`,
    );
  });
policies
  .command('default <id>')
  .description('the policy of users without one (`none` for the built-in default)')
  .action(async (id: string) => {
    print(await call('PUT', '/default-policy', { policyId: id === 'none' ? null : id }), () => 'ok');
  });

const rules = program.command('rules').description('device access rules');
rules.command('list').action(async () => {
  const answer = (await call('GET', '/rules')) as {
    rules: { id: string; action: string; priority: number; match: Record<string, string> }[];
  };
  print(answer, (value: typeof answer) =>
    table([
      ['ID', 'ACTION', 'PRIORITY', 'MATCH'],
      ...value.rules.map((rule) => [rule.id, rule.action, String(rule.priority), JSON.stringify(rule.match)]),
    ]),
  );
});
rules
  .command('set <id>')
  .requiredOption('--action <action>', 'allow, block or quarantine')
  .option('--priority <n>', 'higher wins', '0')
  .option('--device-type <pattern>')
  .option('--model <pattern>')
  .option('--user-agent <pattern>')
  .option('--os <pattern>')
  .option('--user <pattern>')
  .action(
    async (
      id: string,
      options: {
        action: string;
        priority: string;
        deviceType?: string;
        model?: string;
        userAgent?: string;
        os?: string;
        user?: string;
      },
    ) => {
      const match = Object.fromEntries(
        Object.entries({
          deviceType: options.deviceType,
          model: options.model,
          userAgent: options.userAgent,
          os: options.os,
          user: options.user,
        }).filter(([, value]) => value !== undefined),
      );
      print(
        await call('PUT', `/rules/${enc(id)}`, {
          match,
          action: options.action,
          priority: Number(options.priority),
        }),
        () => 'ok',
      );
    },
  );
rules
  .command('delete <id>')
  .action(async (id: string) => print(await call('DELETE', `/rules/${enc(id)}`), () => 'ok'));

program
  .command('eas <state>')
  .description('EAS for everyone: on or off')
  .action(async (state: string) => {
    if (state !== 'on' && state !== 'off') throw new CliError('state must be on or off');
    print(await call('PUT', '/eas', { enabled: state === 'on' }), () => 'ok');
  });

program
  .command('audit')
  .description('who did what, newest first')
  .option('--user <user>')
  .option('--limit <n>', 'entries', '50')
  .action(async (options: { user?: string; limit: string }) => {
    const query = new URLSearchParams({
      limit: options.limit,
      ...(options.user ? { user: options.user } : {}),
    });
    const answer = (await call('GET', `/audit?${query}`)) as {
      entries: { at: string; actor: string; action: string; target: Record<string, string> }[];
    };
    print(answer, (value: typeof answer) =>
      table([
        ['AT', 'ACTOR', 'ACTION', 'TARGET'],
        ...value.entries.map((entry) => [
          String(entry.at),
          entry.actor,
          entry.action,
          JSON.stringify(entry.target),
        ]),
      ]),
    );
  });

program
  .command('import <paths...>')
  .description(
    'import .eml, mbox, Maildir, .ics and .vcf files into a mailbox. Opens the configured store directly (not the ' +
      'admin API): with PostgreSQL the running servers wake devices at once; with the embedded store, stop the ' +
      'server first (one process owns a PGlite folder)',
  )
  .requiredOption('--user <user>', 'user id, address or alias')
  .option('--folder <path>', 'target folder, e.g. "Archive/2024" (created when missing)')
  .option(
    '-c, --config <file>',
    "the server's configuration file (default: $EASKIT_CONFIG, then the environment)",
  )
  .action(async (paths: string[], options: { user: string; folder?: string; config?: string }) => {
    let config: ReturnType<typeof loadConfig>;
    try {
      config = loadConfig(options.config ? { file: options.config } : {});
    } catch (error) {
      throw new CliError(error instanceof ConfigError ? error.message : String(error));
    }
    const logger = pino({ level: 'warn', base: undefined });
    const stores = await openStores(config, logger);
    try {
      const report = await importFiles({
        mailbox: publishingMailbox(stores.mailbox, stores.bus),
        user: options.user,
        paths,
        ...(options.folder ? { folder: options.folder } : {}),
        onProgress: (event) => {
          if (event.type === 'skipped') process.stderr.write(`skipped ${event.source}: ${event.reason}\n`);
          else if (event.type === 'warning')
            process.stderr.write(`warning ${event.source}: ${event.reason}\n`);
        },
      });
      print(report, (value: typeof report) =>
        table([
          ['KIND', 'IMPORTED', 'SKIPPED'],
          ...Object.entries(value.counts).map(([kind, count]) => [
            kind,
            String(count.imported),
            String(count.skipped),
          ]),
        ]),
      );
    } catch (error) {
      if (error instanceof ImportAbortedError) throw new CliError(`import stopped: ${error.message}`);
      if (error instanceof Error && error.name === 'NotFoundError')
        throw new CliError(`no such user: ${options.user}`);
      throw error;
    } finally {
      await stores.close();
    }
  });

interface InstanceSample {
  url: string;
  up: boolean;
  waiting: number;
  requests: number;
  byCommand: Map<string, number>;
}

async function sampleInstance(url: string): Promise<InstanceSample> {
  const sample: InstanceSample = { url, up: false, waiting: 0, requests: 0, byCommand: new Map() };
  try {
    const text = await (await fetch(new URL('/metrics', url))).text();
    sample.up = true;
    sample.waiting = Number(/^easkit_waiting_requests (\d+)/m.exec(text)?.[1] ?? 0);
    for (const match of text.matchAll(/^easkit_requests_total\{command="([^"]*)",status="[^"]*"\} (\d+)/gm)) {
      const count = Number(match[2]);
      sample.requests += count;
      sample.byCommand.set(match[1] as string, (sample.byCommand.get(match[1] as string) ?? 0) + count);
    }
  } catch {
    // Shown as down.
  }
  return sample;
}

program
  .command('top')
  .description('a live view of active devices, waiting Pings and requests per second, across instances')
  .option('--instance <url...>', 'every instance to watch (default: --url)')
  .option('--interval <seconds>', 'refresh interval', '2')
  .option('--once', 'print one view (after one interval) and exit')
  .action(async (options: { instance?: string[]; interval: string; once?: boolean }) => {
    const urls = options.instance ?? [program.opts<GlobalOptions>().url];
    const intervalMs = Math.max(0.2, Number(options.interval)) * 1000;
    let previous = await Promise.all(urls.map(sampleInstance));
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
      const current = await Promise.all(urls.map(sampleInstance));
      const devicesAnswer = (await call('GET', '/devices?limit=1000').catch(() => undefined)) as
        | { devices: DeviceRow[] }
        | undefined;
      const recent = Date.now() - 5 * 60_000;
      const active = devicesAnswer?.devices.filter((device) => Date.parse(device.lastSeen) >= recent).length;
      const rows = current.map((sample, index) => {
        const before = previous[index] as InstanceSample;
        const rate = ((sample.requests - before.requests) / intervalMs) * 1000;
        return [sample.url, sample.up ? 'up' : 'DOWN', String(sample.waiting), rate.toFixed(1)];
      });
      const totalWaiting = current.reduce((sum, sample) => sum + sample.waiting, 0);
      const totalRate = current.reduce(
        (sum, sample, index) => sum + (sample.requests - (previous[index] as InstanceSample).requests),
        0,
      );
      const commands = new Map<string, number>();
      current.forEach((sample, index) => {
        for (const [command, count] of sample.byCommand) {
          const before = (previous[index] as InstanceSample).byCommand.get(command) ?? 0;
          commands.set(command, (commands.get(command) ?? 0) + count - before);
        }
      });
      const busiest = [...commands.entries()]
        .filter(([, count]) => count > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([command, count]) => `${command} ${((count / intervalMs) * 1000).toFixed(1)}/s`)
        .join(', ');
      const view = [
        `easkit top  ${new Date().toISOString()}`,
        `devices active (5 min): ${active ?? '? (no admin token)'}   waiting: ${totalWaiting}   requests/s: ${((totalRate / intervalMs) * 1000).toFixed(1)}`,
        `by command: ${busiest || '-'}`,
        '',
        table([['INSTANCE', 'STATE', 'WAITING', 'REQ/S'], ...rows]),
      ].join('\n');
      if (options.once) {
        process.stdout.write(`${view}\n`);
        return;
      }
      process.stdout.write(`\x1b[2J\x1b[H${view}\n`);
      previous = current;
    }
  });

// `easkit loadgen ...` is the load generator of @easkit/eas-client (which cannot be a dependency of this package:
// it tests against this server). It has its own options, so it takes over before commander parses anything.
if (process.argv[2] === 'loadgen') {
  process.argv.splice(2, 1);
  const loadgen = new URL('../../../packages/eas-client/dist/loadgen/cli.js', import.meta.url);
  await import(loadgen.href).catch((error: unknown) => {
    process.stderr.write(
      `easkit: the load generator is part of @easkit/eas-client in this repository; build it first ` +
        `(npx --yes pnpm@10.34.9 build). ${String(error)}\n`,
    );
    process.exit(1);
  });
} else
  program.parseAsync().catch((error: unknown) => {
    process.stderr.write(`easkit: ${error instanceof CliError ? error.message : String(error)}\n`);
    process.exit(1);
  });
