import { join, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { parseProfileMix } from '../profiles.js';
import { CLIENT_VERSIONS, type EasVersion } from '../protocol.js';
import type { FetchFunction } from '../transport.js';
import { summaryText, writeReport } from './report.js';
import { type LoadOptions, type LoadProgress, type LoadUser, runLoad } from './run.js';

export interface LoadgenIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** EASKIT_PASSWORD. Default: none. */
  env?: Record<string, string | undefined>;
  fetch?: FetchFunction;
  /** Ends the run early (Ctrl-C); the report is still written. */
  signal?: AbortSignal;
}

class UsageError extends Error {}

/** `20s`, `2m`, `500ms`, `1h` or a number of seconds, in milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!match) throw new UsageError(`not a duration: ${text} (use 20s, 2m, 500ms)`);
  const value = Number(match[1]);
  const unit = match[2] ?? 's';
  return value * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
}

/** `--user-pattern 'load{n}@example.com' --user-count 3` gives load1@, load2@, load3@. */
export function expandUserPattern(pattern: string, count: number): string[] {
  if (!pattern.includes('{n}')) throw new UsageError('--user-pattern needs {n} where the number goes');
  return Array.from({ length: count }, (_, index) => pattern.replaceAll('{n}', String(index + 1)));
}

interface Parsed {
  url: string[];
  user?: string;
  users?: string;
  userPattern?: string;
  userCount: string;
  password?: string;
  devices: string;
  duration: string;
  rampUp?: string;
  profiles: string;
  protocol?: string;
  mailRate?: string;
  smtp?: string;
  pingShare: string;
  pollInterval: string;
  changes: string;
  heartbeat?: string;
  out?: string;
  json?: boolean;
  quiet?: boolean;
  failOnErrors?: boolean;
}

/**
 * `easkit-loadgen`: simulates devices against a server and writes `report.json`, `summary.txt` and
 * `latency.svg`. Returns the exit code: 0 done, 1 no device could start (or an error with --fail-on-errors),
 * 2 bad usage.
 */
export async function runLoadgenCommandLine(argv: readonly string[], io: LoadgenIo): Promise<number> {
  const env = io.env ?? {};
  let exitCode = 0;
  const program = new Command()
    .name('easkit-loadgen')
    .description(
      'Simulate Exchange ActiveSync devices (iOS-, Android- and Outlook-like) against a server and measure it.',
    )
    .requiredOption(
      '--url <url...>',
      'the server base URL or its …/Microsoft-Server-ActiveSync endpoint; several instances: devices go to each in turn',
    )
    .option('--user <login>', 'one account (the address)')
    .option('--users <list>', 'several accounts, comma-separated (same password)')
    .option('--user-pattern <pattern>', "accounts by pattern, e.g. 'load{n}@example.com'")
    .option('--user-count <n>', 'how many accounts the pattern gives', '10')
    .option('--password <pw>', 'the accounts’ password (or EASKIT_PASSWORD)')
    .option('--devices <n>', 'simulated devices', '20')
    .option('--duration <time>', 'length of the run, ramp-up included (20s, 2m)', '20s')
    .option('--ramp-up <time>', 'start the devices over this time (default: a quarter of the run)')
    .option('--profiles <mix>', 'profile weights', 'ios=1,android=1,outlook=1')
    .addOption(
      new Option('--protocol <version>', 'the highest EAS version devices use').choices(CLIENT_VERSIONS),
    )
    .option('--mail-rate <n>', 'messages arriving per minute over all users (default: devices / 2)')
    .option('--smtp <host:port>', 'deliver arriving mail over SMTP here instead of SendMail')
    .option('--ping-share <0..1>', 'share of devices that Ping; the rest poll with Sync', '0.8')
    .option('--poll-interval <time>', 'between the Syncs of a polling device', '30s')
    .option('--changes <n>', 'client changes per device per minute', '0.5')
    .option('--heartbeat <seconds>', "every Ping's HeartbeatInterval instead of the profiles'")
    .option('--out <dir>', 'where report.json, summary.txt and latency.svg go (default ./loadgen-<time>)')
    .option('--json', 'print the JSON report instead of the summary')
    .option('--quiet', 'no progress lines')
    .option('--fail-on-errors', 'exit 1 when any request failed')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .action(async (parsed: Parsed) => {
      const options = toLoadOptions(parsed, env, io);
      const out = resolve(parsed.out ?? `loadgen-${new Date().toISOString().replace(/[:.]/g, '-')}`);
      if (!parsed.quiet) {
        io.stderr(
          `easkit-loadgen: ${options.devices} devices, ${options.users.length} user(s), ${options.durationMs / 1000} s against ${[options.url, ...(options.moreUrls ?? [])].join(', ')}\n`,
        );
      }
      const report = await runLoad(options);
      await writeReport(out, report);
      io.stdout(parsed.json ? `${JSON.stringify(report, null, 2)}\n` : summaryText(report));
      if (!parsed.quiet) io.stderr(`written: ${join(out, 'report.json')}, summary.txt, latency.svg\n`);
      if (report.devices.started === 0 || report.requests.ok === 0) exitCode = 1;
      if (parsed.failOnErrors && (report.requests.errors > 0 || Object.keys(report.errors).length > 0))
        exitCode = 1;
    });
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      io.stderr(`easkit-loadgen: ${error.message}\n`);
      return 2;
    }
    io.stderr(`easkit-loadgen: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  return exitCode;
}

function toLoadOptions(parsed: Parsed, env: Record<string, string | undefined>, io: LoadgenIo): LoadOptions {
  const password = parsed.password ?? env.EASKIT_PASSWORD;
  if (password === undefined) throw new UsageError('--password (or EASKIT_PASSWORD) is needed');
  const logins = [
    ...(parsed.user ? [parsed.user] : []),
    ...(parsed.users
      ? parsed.users
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean)
      : []),
    ...(parsed.userPattern
      ? expandUserPattern(parsed.userPattern, positive(parsed.userCount, '--user-count'))
      : []),
  ];
  if (logins.length === 0) throw new UsageError('name the accounts: --user, --users or --user-pattern');
  const users: LoadUser[] = logins.map((username) => ({ username, password }));
  const number = (text: string, name: string) => {
    const value = Number(text);
    if (!Number.isFinite(value) || value < 0) throw new UsageError(`${name} must be a number`);
    return value;
  };
  const pingShare = number(parsed.pingShare, '--ping-share');
  if (pingShare > 1) throw new UsageError('--ping-share is a share between 0 and 1');
  let smtp: LoadOptions['smtp'];
  if (parsed.smtp) {
    const match = /^(.+):(\d+)$/.exec(parsed.smtp);
    if (!match) throw new UsageError('--smtp is host:port');
    smtp = { host: match[1] as string, port: Number(match[2]) };
  }
  let profiles: LoadOptions['profiles'];
  try {
    profiles = parseProfileMix(parsed.profiles);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const quiet = parsed.quiet === true;
  const [url, ...moreUrls] = parsed.url;
  if (!url) throw new UsageError('--url is needed');
  return {
    url,
    ...(moreUrls.length > 0 ? { moreUrls } : {}),
    users,
    devices: positive(parsed.devices, '--devices'),
    durationMs: parseDuration(parsed.duration),
    ...(parsed.rampUp ? { rampUpMs: parseDuration(parsed.rampUp) } : {}),
    profiles,
    ...(parsed.protocol ? { protocolVersion: parsed.protocol as EasVersion } : {}),
    ...(parsed.mailRate !== undefined ? { mailPerMinute: number(parsed.mailRate, '--mail-rate') } : {}),
    ...(smtp ? { smtp } : {}),
    pingShare,
    pollIntervalSec: parseDuration(parsed.pollInterval) / 1000,
    changesPerDeviceMinute: number(parsed.changes, '--changes'),
    ...(parsed.heartbeat !== undefined ? { heartbeatSec: positive(parsed.heartbeat, '--heartbeat') } : {}),
    ...(io.fetch ? { fetch: io.fetch } : {}),
    ...(io.signal ? { signal: io.signal } : {}),
    ...(quiet ? {} : { onProgress: (progress: LoadProgress) => io.stderr(progressLine(progress)) }),
  };
}

function positive(text: string, name: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) throw new UsageError(`${name} must be a whole number above 0`);
  return value;
}

/** One line per second while the run lasts. */
export function progressLine(progress: LoadProgress): string {
  const parts = [
    `${progress.elapsedSec.toFixed(0).padStart(4)}s`,
    `devices ${progress.devicesStarted}/${progress.devices}`,
    `requests ${progress.requests} (${progress.requestsPerSec}/s)`,
    `p95 ${progress.recentP95Ms.toFixed(0)} ms`,
    `errors ${progress.errors}`,
  ];
  if (progress.waitingRequests !== undefined) parts.push(`waiting ${progress.waitingRequests}`);
  if (progress.rssBytes !== undefined)
    parts.push(`server RSS ${(progress.rssBytes / 1024 / 1024).toFixed(0)} MB`);
  if (progress.cpu !== undefined) parts.push(`CPU ${Math.round(progress.cpu * 100)} %`);
  return `${parts.join('  ')}\n`;
}
