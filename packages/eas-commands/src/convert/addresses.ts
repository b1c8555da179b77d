import type { EmailAddress } from '@easkit/mailbox';

/*
 * Email To, Cc, From, ReplyTo (and Email2 Bcc, Sender) carry RFC 5322 address lists as text (MS-ASEMAIL
 * 2.2.2.80 To): `"Ada Lovelace" <ada@example.com>, bob@example.com`.
 */

/** One address: `"Name" <address>` (the name quoted, `"` and `\` escaped), or the bare address. */
export function formatAddress(address: EmailAddress): string {
  if (!address.name) return address.address;
  return `"${address.name.replace(/(["\\])/g, '\\$1')}" <${address.address}>`;
}

/** A list joined with `, `. */
export function formatAddressList(addresses: readonly EmailAddress[]): string {
  return addresses.map(formatAddress).join(', ');
}

/**
 * Reads an address list leniently: `,` or `;` separate entries (Outlook uses `;`), quoted names may hold either,
 * comments in parentheses are dropped, an entry without angle brackets is a bare address. Empty entries are
 * skipped; group syntax (`team: a@x, b@x;`) keeps its members.
 */
export function parseAddressList(text: string): EmailAddress[] {
  const entries: string[] = [];
  let current = '';
  let quoted = false;
  let angle = false;
  let comment = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      current += ch;
      if (ch === '\\' && i + 1 < text.length) current += text[++i];
      else if (ch === '"') quoted = false;
      continue;
    }
    if (comment > 0) {
      if (ch === '(') comment++;
      else if (ch === ')') comment--;
      continue;
    }
    if (ch === '"') quoted = true;
    else if (ch === '(') {
      comment = 1;
      continue;
    } else if (ch === '<') angle = true;
    else if (ch === '>') angle = false;
    else if ((ch === ',' || ch === ';') && !angle) {
      entries.push(current);
      current = '';
      continue;
    } else if (ch === ':' && !angle) {
      // "team:" opens a group: what came before is the group's name, not an address.
      current = '';
      continue;
    }
    current += ch;
  }
  entries.push(current);
  return entries.map(parseEntry).filter((entry): entry is EmailAddress => entry !== undefined);
}

function parseEntry(entry: string): EmailAddress | undefined {
  const trimmed = entry.trim();
  if (trimmed === '') return undefined;
  const open = trimmed.lastIndexOf('<');
  const close = trimmed.lastIndexOf('>');
  if (open >= 0 && close > open) {
    const address = trimmed.slice(open + 1, close).trim();
    let name = trimmed.slice(0, open).trim();
    if (name.startsWith('"') && name.endsWith('"') && name.length >= 2) {
      name = name.slice(1, -1).replace(/\\(.)/g, '$1');
    }
    if (!address) return undefined;
    return name ? { name, address } : { address };
  }
  return { address: trimmed.replace(/^"|"$/g, '') };
}
