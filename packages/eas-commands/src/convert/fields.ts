import type { Recurrence, RecurrenceType } from '@easkit/mailbox';
import {
  element,
  isWbxmlError,
  type Namespace,
  type ProtocolVersion,
  type WbxmlElement,
} from '@easkit/wbxml';
import { formatCompactDate, formatIsoDate, parseEasDate } from './dates.js';
import { MalformedItemError } from './types.js';
import { atLeast } from './version.js';

/*
 * Most properties of the EAS classes are one element holding one scalar. They are listed per class as data
 * (tag, model key, value form, versions) so that rendering, parsing and the Supported mapping read one table.
 */

/** How a scalar travels: text, decimal, `0`/`1`, or one of the two date spellings (see dates.ts). */
export type FieldKind = 'string' | 'integer' | 'boolean' | 'isoDate' | 'compactDate';

export interface FieldSpec<K extends string = string> {
  readonly namespace: Namespace;
  readonly tag: string;
  readonly key: K;
  readonly kind: FieldKind;
  /** First version that has the element (default 2.5). */
  readonly since?: ProtocolVersion;
  /** Last version that has the element. */
  readonly until?: ProtocolVersion;
}

export function inVersion(
  spec: { since?: ProtocolVersion; until?: ProtocolVersion },
  version: ProtocolVersion,
) {
  if (spec.since && !atLeast(version, spec.since)) return false;
  if (spec.until && atLeast(version, spec.until) && version !== spec.until) return false;
  return true;
}

/** One scalar as its element, or null when the value is absent. */
export function renderScalar(
  namespace: Namespace,
  tag: string,
  kind: FieldKind,
  value: unknown,
): WbxmlElement | null {
  if (value === undefined || value === null) return null;
  let text: string;
  switch (kind) {
    case 'string':
      text = String(value);
      break;
    case 'integer':
      text = String(Math.trunc(Number(value)));
      break;
    case 'boolean':
      text = value ? '1' : '0';
      break;
    case 'isoDate':
      text = formatIsoDate(value as Date);
      break;
    case 'compactDate':
      text = formatCompactDate(value as Date);
      break;
  }
  return element(namespace, tag as never, text);
}

/** Renders the table's fields of `data` that the version has, in table order. */
export function renderFields<T extends object>(
  specs: readonly FieldSpec<keyof T & string>[],
  data: T,
  version: ProtocolVersion,
): WbxmlElement[] {
  const out: WbxmlElement[] = [];
  for (const spec of specs) {
    if (!inVersion(spec, version)) continue;
    const rendered = renderScalar(spec.namespace, spec.tag, spec.kind, data[spec.key]);
    if (rendered) out.push(rendered);
  }
  return out;
}

/** The element's text as the kind says; an empty string (a cleared property) reads as undefined. */
export function parseScalar(found: WbxmlElement, kind: FieldKind): unknown {
  const raw = found.bytes ? new TextDecoder().decode(found.bytes) : found.text;
  if (raw === undefined) throw new MalformedItemError(`${found.qualifiedName} must hold text`);
  if (kind === 'string') return raw === '' ? undefined : raw;
  const text = raw.trim();
  if (text === '') return undefined;
  switch (kind) {
    case 'integer':
      if (!/^-?\d{1,15}$/.test(text))
        throw new MalformedItemError(`${found.qualifiedName} is not an integer`);
      return Number(text);
    case 'boolean':
      if (text === '1' || text.toLowerCase() === 'true') return true;
      if (text === '0' || text.toLowerCase() === 'false') return false;
      throw new MalformedItemError(`${found.qualifiedName} is not a boolean`);
    default:
      return parseEasDate(text);
  }
}

/** Reads every table field present in `parent` into `data`, recording the model keys in `present`. */
export function parseFields<T extends object>(
  specs: readonly FieldSpec<keyof T & string>[],
  parent: WbxmlElement,
  data: Partial<T>,
  present: Set<keyof T & string>,
): void {
  for (const spec of specs) {
    const found = parent.child(`${spec.namespace}:${spec.tag}`);
    if (!found) continue;
    (data as Record<string, unknown>)[spec.key] = parseScalar(found, spec.kind);
    present.add(spec.key);
  }
}

/** The model key of the first table entry for this tag. */
export function keyOfTag<K extends string>(
  specs: readonly FieldSpec<K>[],
  namespace: string,
  name: string,
): K | undefined {
  return specs.find((spec) => spec.namespace === namespace && spec.tag === name)?.key;
}

/** `Categories` with one `Category` per entry, in the namespace's own tags. */
export function renderCategories(namespace: Namespace, categories: readonly string[] | undefined) {
  if (!categories) return null;
  return element(
    namespace,
    'Categories' as never,
    categories.map((category) => element(namespace, 'Category' as never, category)),
  );
}

export function parseCategories(parent: WbxmlElement, namespace: Namespace): string[] | undefined {
  const container = parent.child(`${namespace}:Categories`);
  if (!container) return undefined;
  return container.all(`${namespace}:Category`).map((category) => category.text ?? '');
}

/** Where a class keeps its recurrence elements and how it spells its dates. */
export interface RecurrenceDialect {
  readonly namespace: 'Calendar' | 'Tasks' | 'Email';
  /** Namespace of CalendarType / IsLeapMonth / FirstDayOfWeek (Email2 for meeting requests). */
  readonly extensions: 'Calendar' | 'Tasks' | 'Email2';
  readonly dates: 'isoDate' | 'compactDate';
}

const RECURRENCE_TYPES = new Set([0, 1, 2, 3, 5, 6]);

/**
 * The children of a `Recurrence` element: Type, Occurrences, Interval, WeekOfMonth, DayOfWeek, MonthOfYear,
 * Until, DayOfMonth, then CalendarType and IsLeapMonth (14.0+) and FirstDayOfWeek (14.1+) (MS-ASCAL 2.2.2.38).
 */
export function renderRecurrenceChildren(
  recurrence: Recurrence,
  dialect: RecurrenceDialect,
  version: ProtocolVersion,
  alwaysInterval = false,
): WbxmlElement[] {
  const ns = dialect.namespace;
  const ext = dialect.extensions;
  const out = [
    renderScalar(ns, 'Type', 'integer', recurrence.type),
    renderScalar(ns, 'Occurrences', 'integer', recurrence.occurrences),
    renderScalar(ns, 'Interval', 'integer', recurrence.interval ?? (alwaysInterval ? 1 : undefined)),
    renderScalar(ns, 'WeekOfMonth', 'integer', recurrence.weekOfMonth),
    renderScalar(ns, 'DayOfWeek', 'integer', recurrence.dayOfWeek),
    renderScalar(ns, 'MonthOfYear', 'integer', recurrence.monthOfYear),
    renderScalar(ns, 'Until', dialect.dates, recurrence.until),
    renderScalar(ns, 'DayOfMonth', 'integer', recurrence.dayOfMonth),
  ];
  if (atLeast(version, '14.0')) {
    out.push(renderScalar(ext, 'CalendarType', 'integer', recurrence.calendarType));
    out.push(renderScalar(ext, 'IsLeapMonth', 'boolean', recurrence.isLeapMonth));
  }
  if (atLeast(version, '14.1'))
    out.push(renderScalar(ext, 'FirstDayOfWeek', 'integer', recurrence.firstDayOfWeek));
  return out.filter((item): item is WbxmlElement => item !== null);
}

/** Reads a `Recurrence` element; throws `MalformedItemError` without a valid Type. */
export function parseRecurrence(container: WbxmlElement, dialect: RecurrenceDialect): Recurrence {
  const ns = dialect.namespace;
  const ext = dialect.extensions;
  const read = (namespace: Namespace, tag: string, kind: FieldKind) => {
    const found = container.child(`${namespace}:${tag}`);
    return found ? parseScalar(found, kind) : undefined;
  };
  const type = read(ns, 'Type', 'integer');
  if (typeof type !== 'number' || !RECURRENCE_TYPES.has(type)) {
    throw new MalformedItemError(`recurrence type ${String(type)} is not one EAS defines`);
  }
  const recurrence: Recurrence = { type: type as RecurrenceType };
  const assign = (key: keyof Recurrence, value: unknown) => {
    if (value !== undefined) (recurrence as unknown as Record<string, unknown>)[key] = value;
  };
  assign('occurrences', read(ns, 'Occurrences', 'integer'));
  assign('interval', read(ns, 'Interval', 'integer'));
  assign('weekOfMonth', read(ns, 'WeekOfMonth', 'integer'));
  assign('dayOfWeek', read(ns, 'DayOfWeek', 'integer'));
  assign('monthOfYear', read(ns, 'MonthOfYear', 'integer'));
  assign('until', read(ns, 'Until', dialect.dates));
  assign('dayOfMonth', read(ns, 'DayOfMonth', 'integer'));
  assign('calendarType', read(ext, 'CalendarType', 'integer'));
  assign('isLeapMonth', read(ext, 'IsLeapMonth', 'boolean'));
  assign('firstDayOfWeek', read(ext, 'FirstDayOfWeek', 'integer'));
  return recurrence;
}

/**
 * Runs a parser, turning the tree reader's own errors (a non-integer where one is expected, a missing child)
 * and bad values into `MalformedItemError`, so the Sync command answers the item with its per-item status.
 */
export function readingClientData<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof MalformedItemError) throw error;
    if (isWbxmlError(error) || error instanceof RangeError || error instanceof TypeError) {
      throw new MalformedItemError((error as Error).message, { cause: error });
    }
    throw error;
  }
}
