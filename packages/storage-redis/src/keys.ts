/**
 * Key and channel names. Every name starts with the caller's key prefix, so one Redis can serve several
 * deployments (and every test file its own namespace) and a prefix can be cleaned with `SCAN MATCH prefix*`.
 *
 * User ids, device ids and collection ids go into names as JSON strings: that encoding is injective and
 * self-delimiting (`"a:b""c"` and `"a""b:c"` differ), keeps readable ids readable in `redis-cli`, and turns
 * lone UTF-16 surrogates into `\udxxx` escapes instead of the replacement character UTF-8 would give them.
 *
 * Redis Cluster: everything one script touches for a user carries the hash tag `{<user as JSON>}`, and the
 * organisation-wide data of the device store carries `{admin}`, so each script's keys live in one slot. A
 * user id containing `}` shortens its tag, but the same way in every key of that user, so they still meet.
 */

/** Throws unless `prefix` is usable: braces would start a hash tag of their own. */
export function checkKeyPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string') throw new TypeError('keyPrefix must be a string');
  if (/[{}]/.test(prefix))
    throw new TypeError('keyPrefix must not contain { or } (they make Redis Cluster hash tags)');
  return prefix;
}

/** A name part: the JSON form of the string. */
export function part(value: string): string {
  return JSON.stringify(value);
}

/** The hash tag that puts every key of one user in one Redis Cluster slot. */
export function userTag(user: string): string {
  return `{${part(user)}}`;
}

/** The slot-defining part of a key (what Redis Cluster hashes), for tests that check scripts stay in one slot. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

/**
 * Encodes a string so that byte-wise (lexicographic) order of the result is the UTF-16 code unit order of the
 * input, which is how JavaScript compares strings: four hex digits per code unit.
 */
export function sortable(value: string): string {
  let out = '';
  for (let index = 0; index < value.length; index++)
    out += value.charCodeAt(index).toString(16).padStart(4, '0');
  return out;
}

export function fromSortable(encoded: string): string {
  let out = '';
  for (let index = 0; index < encoded.length; index += 4) {
    out += String.fromCharCode(Number.parseInt(encoded.slice(index, index + 4), 16));
  }
  return out;
}
