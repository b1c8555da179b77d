import type { UserId } from '@easkit/mailbox';
import type { AccessState, Device, DeviceAccess } from './device.js';

export type AccessAction = 'allow' | 'block' | 'quarantine';

/**
 * What a rule matches. Every field given must match (AND); a rule with no field matches every device. Each value
 * is a pattern compared case-insensitively with the whole device value: `*` matches any run of characters, `?`
 * one character, anything else itself (so `Outlook-iOS/*` is a prefix match). A field the device does not report
 * (no model, no user agent) never matches.
 */
export interface AccessRuleMatch {
  deviceType?: string;
  model?: string;
  userAgent?: string;
  /** The OS the device reports (Settings DeviceInformation, e.g. `iOS 17.4`). */
  os?: string;
  user?: string;
}

export interface AccessRule {
  id: string;
  match: AccessRuleMatch;
  action: AccessAction;
  /** Higher wins. An integer. */
  priority: number;
  description?: string;
}

const STATE_OF: Record<AccessAction, AccessState> = {
  allow: 'allowed',
  block: 'blocked',
  quarantine: 'quarantined',
};
/** On equal priority the stricter action wins, then the smaller id, so the outcome never depends on order. */
const STRICTNESS: Record<AccessAction, number> = { block: 2, quarantine: 1, allow: 0 };

/**
 * Decides a device's access: an administrator's decision for this device (`access.reason === 'individual'`)
 * stands; otherwise the matching rule with the highest priority decides; otherwise `defaultAccess`. Pure: the
 * caller stores the result.
 */
export function evaluateAccess(
  device: Pick<Device, 'user' | 'deviceType' | 'model' | 'userAgent' | 'os' | 'access'>,
  rules: readonly AccessRule[],
  defaultAccess: AccessState,
): DeviceAccess {
  if (device.access.reason === 'individual') return { ...device.access };
  let winner: AccessRule | undefined;
  for (const rule of rules) {
    if (!ruleMatches(rule, device)) continue;
    if (!winner || outranks(rule, winner)) winner = rule;
  }
  if (winner) return { state: STATE_OF[winner.action], reason: 'rule', ruleId: winner.id };
  return { state: defaultAccess, reason: 'global-default' };
}

/** True when every field of the rule's match matches the device. */
export function ruleMatches(
  rule: Pick<AccessRule, 'match'>,
  device: { user: UserId; deviceType: string; model?: string; userAgent?: string; os?: string },
): boolean {
  const { match } = rule;
  return (
    fieldMatches(match.deviceType, device.deviceType) &&
    fieldMatches(match.model, device.model) &&
    fieldMatches(match.userAgent, device.userAgent) &&
    fieldMatches(match.os, device.os) &&
    fieldMatches(match.user, device.user)
  );
}

/** Case-insensitive whole-string glob match (`*` any run, `?` one character). */
export function globMatches(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  // Iterative matching with one backtrack point: linear for the patterns rules use, no regular expressions built
  // from admin input.
  let pi = 0;
  let vi = 0;
  let star = -1;
  let resume = 0;
  while (vi < v.length) {
    if (pi < p.length && (p[pi] === '?' || (p[pi] !== '*' && p[pi] === v[vi]))) {
      pi++;
      vi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      resume = vi;
    } else if (star >= 0) {
      pi = star + 1;
      vi = ++resume;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

function fieldMatches(pattern: string | undefined, value: string | undefined): boolean {
  if (pattern === undefined) return true;
  if (value === undefined) return false;
  return globMatches(pattern, value);
}

function outranks(rule: AccessRule, current: AccessRule): boolean {
  if (rule.priority !== current.priority) return rule.priority > current.priority;
  if (STRICTNESS[rule.action] !== STRICTNESS[current.action])
    return STRICTNESS[rule.action] > STRICTNESS[current.action];
  return rule.id < current.id;
}

/**
 * Problems with a rule, as messages; empty when it is valid. Every `DeviceStore` checks rules with it before
 * saving (adapters add what their backend cannot hold, such as NUL in PostgreSQL text).
 */
export function ruleProblems(rule: AccessRule): string[] {
  const problems: string[] = [];
  if (typeof rule.id !== 'string' || rule.id === '') problems.push('id must be a non-empty string');
  if (!Object.hasOwn(STATE_OF, rule.action)) problems.push(`action must be allow, block or quarantine`);
  if (!Number.isInteger(rule.priority)) problems.push('priority must be an integer');
  if (typeof rule.match !== 'object' || rule.match === null) {
    problems.push('match must be an object');
  } else {
    for (const [key, value] of Object.entries(rule.match)) {
      if (!['deviceType', 'model', 'userAgent', 'os', 'user'].includes(key))
        problems.push(`match.${key} is not a field`);
      else if (value !== undefined && (typeof value !== 'string' || value === '')) {
        problems.push(`match.${key} must be a non-empty pattern`);
      }
    }
  }
  return problems;
}
