import type { Database } from './database.js';
import { migrate } from './migrate.js';

/** Where the command writes; the bin passes the process streams, tests pass collectors. */
export interface CliOutput {
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = `Usage: easkit-storage-pg migrate (--url <postgres://...> | --data-dir <folder>)

Brings an easkit database schema up to date and prints what it applied.

  --url <url>         a PostgreSQL connection string (TLS through its sslmode and ssl* parameters)
  --data-dir <folder> an embedded PGlite database kept in this folder (created if missing)
  -h, --help          this text`;

interface MigrateCommand {
  url?: string;
  dataDir?: string;
}

/** Thrown for a command line this program does not understand; exit status 2. */
class UsageError extends Error {}

/** Reads `migrate --url <url>` or `migrate --data-dir <folder>` (also `--flag=value`). */
function parseArguments(argv: readonly string[]): MigrateCommand | 'help' {
  if (argv.includes('-h') || argv.includes('--help')) return 'help';
  const [command, ...rest] = argv;
  if (command !== 'migrate') {
    throw new UsageError(command === undefined ? 'no command given' : `unknown command ${command}`);
  }
  const options: MigrateCommand = {};
  for (let index = 0; index < rest.length; index++) {
    const argument = rest[index] as string;
    const [flag, inline] =
      argument.startsWith('--') && argument.includes('=')
        ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)]
        : [argument, undefined];
    if (flag !== '--url' && flag !== '--data-dir') throw new UsageError(`unknown argument ${argument}`);
    const value = inline ?? rest[++index];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    const key = flag === '--url' ? 'url' : 'dataDir';
    if (options[key] !== undefined) throw new UsageError(`${flag} given twice`);
    options[key] = value;
  }
  if ((options.url === undefined) === (options.dataDir === undefined)) {
    throw new UsageError('give exactly one of --url and --data-dir');
  }
  return options;
}

/**
 * The `easkit-storage-pg` command line: `migrate --url <url>` or `migrate --data-dir <folder>`. Returns the exit
 * status: 0 done, 1 the database failed, 2 a command line it does not understand.
 */
export async function runCli(argv: readonly string[], output: CliOutput): Promise<number> {
  let command: MigrateCommand | 'help';
  try {
    command = parseArguments(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    output.err(`easkit-storage-pg: ${error.message}`);
    output.err(USAGE);
    return 2;
  }
  if (command === 'help') {
    output.out(USAGE);
    return 0;
  }
  const where = command.url !== undefined ? redact(command.url) : `PGlite in ${command.dataDir}`;
  let opened: { database: Database; close: () => Promise<void> } | undefined;
  try {
    opened = await open(command);
    const result = await migrate(opened.database);
    if (result.applied.length === 0) {
      output.out(`${where}: schema up to date (${result.skipped.length} migrations)`);
    } else {
      output.out(`${where}: applied ${result.applied.join(', ')}`);
    }
    return 0;
  } catch (error) {
    output.err(`easkit-storage-pg: migrating ${where} failed: ${(error as Error).message ?? String(error)}`);
    return 1;
  } finally {
    await opened?.close().catch(() => {});
  }
}

async function open(command: MigrateCommand): Promise<{ database: Database; close: () => Promise<void> }> {
  if (command.url !== undefined) {
    const [{ default: pg }, { postgresDatabase }] = await Promise.all([
      import('pg'),
      import('./database.js'),
    ]);
    const pool = new pg.Pool({ connectionString: command.url, max: 1 });
    const database = postgresDatabase({ pool });
    return {
      database,
      close: async () => {
        await database.close();
        await pool.end();
      },
    };
  }
  const { pgliteDatabase } = await import('./database.js');
  const database = await pgliteDatabase({ dataDir: command.dataDir });
  return { database, close: () => database.close() };
}

/** The connection string without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the given --url';
  }
}
