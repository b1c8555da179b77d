import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * Maildir (one file per message in cur/ and new/) and its Maildir++ folder layout, as Dovecot and Courier
 * write it: the root holds the top folder, and each subfolder is a directory `.Name` (nested ones
 * `.Parent.Child`) beside cur/ and new/, named in IMAP's modified UTF-7. The state of a message is the flag
 * letters after `:2,` in its file name (`!2,` or `;2,` on file systems without colons).
 */

/** A folder of a Maildir: its path below the root (`[]` for the root) and its directory. */
export interface MaildirFolder {
  readonly path: readonly string[];
  readonly dir: string;
}

/** One message file and what its name says. */
export interface MaildirMessage {
  readonly file: string;
  /** In new/: delivered but never seen by a mail program. */
  readonly isNew: boolean;
  readonly flags: MaildirFlags;
  /** Delivery time from the file name's leading seconds, when it has them. */
  readonly deliveredAt?: Date;
}

export interface MaildirFlags {
  /** S */
  readonly seen: boolean;
  /** F */
  readonly flagged: boolean;
  /** R */
  readonly replied: boolean;
  /** P: passed on (forwarded). */
  readonly passed: boolean;
  /** T: marked for deletion. */
  readonly trashed: boolean;
  /** D */
  readonly draft: boolean;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether a directory is a Maildir: it has a cur/ or a new/ directory. */
export async function isMaildir(dir: string): Promise<boolean> {
  return (await isDirectory(join(dir, 'cur'))) || (await isDirectory(join(dir, 'new')));
}

/**
 * The root and its Maildir++ subfolders, parents before children. A subfolder directory that is not itself
 * a Maildir (no cur/ or new/) is left out; a dotted name whose parent has no directory of its own still
 * gives its full path (`.Archive.2024` is Archive → 2024 whether or not `.Archive` exists).
 */
export async function maildirFolders(root: string): Promise<MaildirFolder[]> {
  const folders: MaildirFolder[] = [{ path: [], dir: root }];
  const names = (await readdir(root)).filter((name) => name.startsWith('.') && name !== '.' && name !== '..');
  const found: MaildirFolder[] = [];
  for (const name of names) {
    const dir = join(root, name);
    if (!(await isDirectory(dir)) || !(await isMaildir(dir))) continue;
    const path = name
      .slice(1)
      .split('.')
      .map((part) => decodeMailboxName(part).trim());
    if (path.some((part) => part === '')) continue;
    found.push({ path, dir });
  }
  found.sort((a, b) => a.path.length - b.path.length || a.path.join('/').localeCompare(b.path.join('/')));
  return folders.concat(found);
}

/** The messages of one Maildir folder: cur/ then new/, each in file name order (delivery order, mostly). */
export async function* maildirMessages(dir: string): AsyncGenerator<MaildirMessage> {
  for (const sub of ['cur', 'new'] as const) {
    const path = join(dir, sub);
    let names: string[];
    try {
      names = await readdir(path);
    } catch {
      continue;
    }
    names.sort();
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = join(path, name);
      const stat = await lstat(file).catch(() => undefined);
      if (!stat?.isFile()) continue;
      const isNew = sub === 'new';
      const flags = isNew ? NO_FLAGS : maildirFlags(name);
      const seconds = /^(\d{9,11})\./.exec(name)?.[1];
      const deliveredAt = seconds ? new Date(Number(seconds) * 1000) : undefined;
      yield { file, isNew, flags, ...(deliveredAt ? { deliveredAt } : {}) };
    }
  }
}

const NO_FLAGS: MaildirFlags = {
  seen: false,
  flagged: false,
  replied: false,
  passed: false,
  trashed: false,
  draft: false,
};

/** The flags of a file name's `:2,` (or `!2,` / `;2,`) suffix; lower-case letters are keywords and ignored. */
export function maildirFlags(name: string): MaildirFlags {
  const match = /[:!;]2,([A-Za-z]*)$/.exec(name);
  const letters = match?.[1] ?? '';
  return {
    seen: letters.includes('S'),
    flagged: letters.includes('F'),
    replied: letters.includes('R'),
    passed: letters.includes('P'),
    trashed: letters.includes('T'),
    draft: letters.includes('D'),
  };
}

/**
 * Decodes IMAP's modified UTF-7 (RFC 3501 5.1.3): `&` starts base64 of UTF-16 with `,` for `/`, `-` ends it,
 * `&-` is a literal `&`. A malformed run is left as written.
 */
export function decodeMailboxName(name: string): string {
  return name.replace(/&([A-Za-z0-9+,]*)-/g, (whole, encoded: string) => {
    if (encoded === '') return '&';
    const bytes = Buffer.from(encoded.replace(/,/g, '/'), 'base64');
    if (bytes.length < 2) return whole;
    let text = '';
    for (let index = 0; index + 1 < bytes.length; index += 2) {
      text += String.fromCharCode((bytes[index]! << 8) | bytes[index + 1]!);
    }
    return text;
  });
}
