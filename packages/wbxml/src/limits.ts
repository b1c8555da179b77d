/**
 * Bounds applied while decoding WBXML and parsing XML. Every one is checked before memory is committed, so
 * hostile input ends in a `WbxmlError` with a `limit-*` code in time and memory bounded by the input's size.
 */
export interface WbxmlLimits {
  /** Largest accepted input, in bytes (WBXML) or UTF-16 code units (XML text). */
  readonly maxInputBytes: number;
  /** Deepest element nesting; the root element is depth 1. */
  readonly maxDepth: number;
  /** Most elements in one document. */
  readonly maxNodes: number;
  /** Longest single string (inline or from the string table), in bytes of UTF-8. */
  readonly maxStringBytes: number;
  /** Longest single OPAQUE value, in bytes. */
  readonly maxOpaqueBytes: number;
}

/**
 * Defaults sized for EAS: the deepest real documents (calendar exceptions with attendees inside a Sync
 * response, Provision policy documents) stay under 16 levels; message bodies and MIME with attachments run to
 * tens of megabytes.
 */
export const DEFAULT_LIMITS: WbxmlLimits = Object.freeze({
  maxInputBytes: 64 * 1024 * 1024,
  maxDepth: 64,
  maxNodes: 1_000_000,
  maxStringBytes: 32 * 1024 * 1024,
  maxOpaqueBytes: 64 * 1024 * 1024,
});

export function resolveLimits(overrides: Partial<WbxmlLimits> | undefined): WbxmlLimits {
  if (!overrides) return DEFAULT_LIMITS;
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof WbxmlLimits)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`WBXML limit ${key} must be a positive integer, got ${String(value)}`);
    }
    limits[key] = value;
  }
  return limits;
}
