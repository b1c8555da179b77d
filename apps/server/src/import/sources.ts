import { lstat, open, readdir, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { isMaildir } from './maildir.js';

/*
 * What each path given to an import is: a file is recognised by its extension, or when that says nothing, by
 * its first bytes; a directory is a Maildir when it has cur/ or new/, and otherwise is walked for files.
 */

export type SourceKind = 'eml' | 'mbox' | 'maildir' | 'ics' | 'vcf';

export type Source =
  | { readonly path: string; readonly kind: SourceKind }
  | { readonly path: string; readonly problem: string };

const EXTENSIONS: Record<string, SourceKind> = {
  '.eml': 'eml',
  '.mbox': 'mbox',
  '.mbx': 'mbox',
  '.ics': 'ics',
  '.ical': 'ics',
  '.ifb': 'ics',
  '.vcf': 'vcf',
  '.vcard': 'vcf',
};

/** Directory levels walked below a path given to the import. */
const MAX_DEPTH = 16;
const SNIFF_BYTES = 4096;

/**
 * The sources below the given paths, in the order given (directories in name order). Paths that cannot be
 * read or recognised come back with a `problem` instead of a kind; nothing here throws for a bad path.
 */
export async function* findSources(paths: readonly string[]): AsyncGenerator<Source> {
  for (const path of paths) {
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (error) {
      yield { path, problem: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
      continue;
    }
    if (info.isDirectory()) yield* walk(path, 0);
    else if (info.isFile()) yield await detectFile(path);
    else yield { path, problem: 'not a file or directory' };
  }
}

async function* walk(dir: string, depth: number): AsyncGenerator<Source> {
  if (await isMaildir(dir)) {
    yield { path: dir, kind: 'maildir' };
    return;
  }
  if (depth >= MAX_DEPTH) {
    yield { path: dir, problem: 'too deep below the import path' };
    return;
  }
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    yield { path: dir, problem: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
    return;
  }
  for (const name of names) {
    // Hidden files (.DS_Store, editor backups) are not mail; Maildir++ subfolders are read with their Maildir.
    if (name.startsWith('.')) continue;
    const path = join(dir, name);
    const info = await lstat(path).catch(() => undefined);
    if (!info) continue;
    if (info.isSymbolicLink()) yield { path, problem: 'symbolic link (not followed inside a directory)' };
    else if (info.isDirectory()) yield* walk(path, depth + 1);
    else if (info.isFile()) yield await detectFile(path);
  }
}

/** A file's kind from its extension, or from its first bytes when the extension is unknown or missing. */
export async function detectFile(path: string): Promise<Source> {
  const byName = EXTENSIONS[extname(path).toLowerCase()];
  if (byName) return { path, kind: byName };
  let head: Buffer;
  try {
    const handle = await open(path, 'r');
    try {
      const buffer = Buffer.alloc(SNIFF_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, SNIFF_BYTES, 0);
      head = buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  } catch (error) {
    return { path, problem: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  const kind = sniff(head);
  return kind ? { path, kind } : { path, problem: `not a recognised format (${basename(path)})` };
}

/** The kind of data that starts with these bytes, if it is one the import reads. */
export function sniff(head: Uint8Array): SourceKind | undefined {
  if (head.includes(0)) return undefined; // binary
  const text = Buffer.from(head)
    .toString('latin1')
    .replace(/^\uFEFF|^\xEF\xBB\xBF/, '')
    .replace(/^\s+/, '');
  if (text.startsWith('From ')) return 'mbox';
  if (/^BEGIN:VCALENDAR/i.test(text)) return 'ics';
  if (/^BEGIN:VCARD/i.test(text)) return 'vcf';
  // A header field at the start: a message file without an extension (as MH or a mail spool keeps them).
  if (/^[!-9;-~]+:[^\r\n]*\r?\n/.test(text)) return 'eml';
  return undefined;
}
