/*
 * The line syntax iCalendar (RFC 5545 3.1) and vCard (RFC 6350 3.3, and the older 2.1 and 3.0) share:
 * folded lines, `[group.]NAME;PARAM=value:value`, backslash escapes in text values. The importers read files
 * with this and hand whole components to the mappers; nothing here knows what a property means.
 */

/** One unfolded content line. `name` and parameter names are upper case; `value` is still escaped. */
export interface ContentLine {
  readonly group?: string;
  readonly name: string;
  /** Parameter values by upper-case name; vCard 2.1 bare parameters (`;WORK;VOICE`) are listed under TYPE. */
  readonly params: ReadonlyMap<string, readonly string[]>;
  readonly value: string;
  /** The logical line as read. */
  readonly text: string;
}

/**
 * Splits text into logical lines: CRLF, LF or CR line ends; a line starting with a space or a tab continues the
 * previous one (the break and that one character are removed). vCard 2.1 quoted-printable values that end in a
 * soft break (`=`) are joined with the next physical line as well, so that the value arrives whole.
 */
export function unfoldLines(text: string): string[] {
  const physical = text.split(/\r\n|\n|\r/);
  const lines: string[] = [];
  let quotedPrintable = false;
  for (const line of physical) {
    const last = lines.length - 1;
    if (last >= 0 && (line.startsWith(' ') || line.startsWith('\t'))) {
      lines[last] += line.slice(1);
    } else if (last >= 0 && quotedPrintable && lines[last]!.endsWith('=')) {
      lines[last] = lines[last]!.slice(0, -1) + line;
    } else {
      lines.push(line);
    }
    const current = lines[lines.length - 1]!;
    quotedPrintable = /^[^:]*;(ENCODING=)?QUOTED-PRINTABLE[;:]/i.test(current) && current.endsWith('=');
  }
  return lines.filter((line) => line.trim() !== '');
}

const NAME = /^[A-Za-z0-9-]+$/;

/** Reads one logical line; `undefined` when it is not a content line (no name, no colon). */
export function parseContentLine(line: string): ContentLine | undefined {
  // The name and parameters end at the first colon outside a quoted parameter value.
  let index = 0;
  let inQuotes = false;
  const parts: string[] = [];
  let start = 0;
  for (; index < line.length; index++) {
    const char = line[index];
    if (char === '"') inQuotes = !inQuotes;
    else if (!inQuotes && char === ';') {
      parts.push(line.slice(start, index));
      start = index + 1;
    } else if (!inQuotes && char === ':') break;
  }
  if (index >= line.length) return undefined;
  parts.push(line.slice(start, index));
  const value = line.slice(index + 1);
  const [qualified, ...rawParams] = parts;
  const dot = qualified!.lastIndexOf('.');
  const group = dot > 0 ? qualified!.slice(0, dot) : undefined;
  const name = (dot > 0 ? qualified!.slice(dot + 1) : qualified!).trim();
  if (!NAME.test(name)) return undefined;
  const params = new Map<string, string[]>();
  for (const raw of rawParams) {
    const equals = raw.indexOf('=');
    const key = equals < 0 ? 'TYPE' : raw.slice(0, equals).trim().toUpperCase();
    const values = equals < 0 ? [raw] : splitParamValues(raw.slice(equals + 1));
    const list = params.get(key) ?? [];
    for (const entry of values) if (entry !== '') list.push(entry);
    params.set(key, list);
  }
  return { ...(group ? { group } : {}), name: name.toUpperCase(), params, value, text: line };
}

function splitParamValues(raw: string): string[] {
  const values: string[] = [];
  let current = '';
  let inQuotes = false;
  for (const char of raw) {
    if (char === '"') inQuotes = !inQuotes;
    else if (char === ',' && !inQuotes) {
      values.push(current.trim());
      current = '';
    } else current += char;
  }
  values.push(current.trim());
  return values;
}

/** The value of a parameter, lower case, split on commas (`TYPE=work,voice` and `TYPE=WORK;TYPE=VOICE` alike). */
export function paramValues(line: ContentLine, name: string): string[] {
  return (line.params.get(name) ?? []).flatMap((value) => value.toLowerCase().split(','));
}

/** Splits a value on unescaped `separator` characters; the pieces keep their escapes. */
export function splitEscaped(value: string, separator: ',' | ';'): string[] {
  const pieces: string[] = [];
  let current = '';
  for (let index = 0; index < value.length; index++) {
    const char = value[index]!;
    if (char === '\\' && index + 1 < value.length) {
      current += char + value[index + 1];
      index++;
    } else if (char === separator) {
      pieces.push(current);
      current = '';
    } else current += char;
  }
  pieces.push(current);
  return pieces;
}

/** Removes text escapes: `\n` and `\N` are line breaks; `\,`, `\;`, `\:` and `\\` stand for themselves. */
export function unescapeText(value: string): string {
  return value.replace(/\\([nN,;:\\])/g, (_whole, char: string) =>
    char === 'n' || char === 'N' ? '\n' : char,
  );
}

/** One component with its own lines and its subcomponents, as `BEGIN:`/`END:` pairs delimit them. */
export interface Component {
  readonly name: string;
  readonly lines: ContentLine[];
  readonly children: Component[];
  /** The logical lines of the component as read (BEGIN and END included), for handing it on whole. */
  readonly raw: string[];
  /** False when the text ended before the component's END line. */
  complete: boolean;
}

/** What {@link readComponents} found besides components. */
export interface ComponentProblems {
  /** Lines outside any component, lines that are not content lines, unbalanced END lines. */
  strayLines: number;
}

/**
 * The top-level components of a text, nested as `BEGIN:`/`END:` say. An END that does not close the innermost
 * open component closes up to the one it names; an END naming nothing open is counted as a stray line. A
 * component left open at the end is returned with `complete: false` (with whatever it held), so that a caller
 * can keep the complete parts of a truncated file.
 */
export function readComponents(
  lines: readonly string[],
  limits: { maxComponents: number },
): { components: Component[]; problems: ComponentProblems } {
  const components: Component[] = [];
  const problems: ComponentProblems = { strayLines: 0 };
  const stack: Component[] = [];
  let count = 0;
  for (const text of lines) {
    const line = parseContentLine(text);
    if (!line) {
      problems.strayLines++;
      continue;
    }
    for (const open of stack) open.raw.push(text);
    if (line.name === 'BEGIN') {
      if (++count > limits.maxComponents)
        throw new RangeError(`more than ${limits.maxComponents} components`);
      const name = line.value.trim().toUpperCase();
      const component: Component = { name, lines: [], children: [], raw: [text], complete: false };
      stack.at(-1)?.children.push(component);
      stack.push(component);
      continue;
    }
    if (line.name === 'END') {
      const name = line.value.trim().toUpperCase();
      const depth = stack.findLastIndex((open) => open.name === name);
      if (depth < 0) {
        for (const open of stack) open.raw.pop();
        problems.strayLines++;
        continue;
      }
      const closed = stack.splice(depth);
      closed[0]!.complete = true;
      if (depth === 0) components.push(closed[0]!);
      continue;
    }
    const current = stack.at(-1);
    if (current) current.lines.push(line);
    else problems.strayLines++;
  }
  if (stack.length > 0) components.push(stack[0]!);
  return { components, problems };
}

/** The first property of that name in a component. */
export function property(component: Component, name: string): ContentLine | undefined {
  return component.lines.find((line) => line.name === name);
}

/** Every property of that name in a component. */
export function properties(component: Component, name: string): ContentLine[] {
  return component.lines.filter((line) => line.name === name);
}
