import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freshPostgres, postgresAvailable } from '../test/databases.js';
import { runCli } from './cli.js';
import { pgliteDatabase } from './database.js';
import { migrations } from './migrations/index.js';

async function run(argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const status = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { status, out: out.join('\n'), err: err.join('\n') };
}

const everyId = migrations.map((migration) => migration.id);
const withPostgres = await postgresAvailable();

describe('easkit-storage-pg migrate', () => {
  // Three PGlite start-ups from a folder: slow on a loaded machine, hence the longer timeout.
  it('migrates a PGlite data folder, and the second run finds it up to date', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'easkit-cli-'));
    try {
      const first = await run(['migrate', '--data-dir', dataDir]);
      expect(first).toMatchObject({ status: 0, err: '' });
      expect(first.out).toContain(`applied ${everyId.join(', ')}`);
      const second = await run(['migrate', `--data-dir=${dataDir}`]);
      expect(second).toMatchObject({ status: 0, err: '' });
      expect(second.out).toContain(`schema up to date (${everyId.length} migrations)`);
      const database = await pgliteDatabase({ dataDir });
      try {
        const recorded = await database.query<{ id: string }>('SELECT id FROM easkit_migrations ORDER BY id');
        expect(recorded.rows.map((row) => row.id)).toEqual(everyId);
      } finally {
        await database.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('answers usage errors with status 2 and the usage text', async () => {
    for (const argv of [
      [],
      ['upgrade'],
      ['migrate'],
      ['migrate', '--url'],
      ['migrate', '--url', 'postgres://x', '--data-dir', '/tmp/x'],
      ['migrate', '--data-dir', 'a', '--data-dir', 'b'],
      ['migrate', '--verbose'],
    ]) {
      const result = await run(argv);
      expect(result.status, argv.join(' ')).toBe(2);
      expect(result.err).toContain('Usage: easkit-storage-pg migrate');
    }
    expect(await run(['--help'])).toMatchObject({ status: 0, err: '' });
  });

  it.runIf(withPostgres)('migrates a PostgreSQL database given by --url', async () => {
    const target = await freshPostgres('cli', { migrate: false });
    try {
      const url = target.url as string;
      const first = await run(['migrate', '--url', url]);
      expect(first).toMatchObject({ status: 0, err: '' });
      expect(first.out).toContain(`applied ${everyId.join(', ')}`);
      expect((await run(['migrate', `--url=${url}`])).out).toContain('schema up to date');
    } finally {
      await target.close();
    }
  });

  it('reports a database it cannot reach with status 1, without the password', async () => {
    const result = await run(['migrate', '--url', 'postgres://someone:secret@127.0.0.1:1/nothing']);
    expect(result.status).toBe(1);
    expect(result.err).toContain('failed');
    expect(result.err).not.toContain('secret');
  });
});
