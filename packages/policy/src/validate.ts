import {
  POLICY_SETTING_LIST,
  POLICY_SETTINGS,
  type PolicySettingName,
  type PolicySettings,
} from './settings.js';

/** Why a setting was refused. Stable strings: match on these, not on messages. */
export type PolicyIssueCode =
  | 'not-an-object'
  | 'missing'
  | 'unknown-setting'
  | 'wrong-type'
  | 'out-of-range'
  | 'not-allowed-value'
  | 'bad-list-item';

export interface PolicyIssue {
  readonly code: PolicyIssueCode;
  /** The setting at fault; absent for `not-an-object`. For `unknown-setting`, the unknown key. */
  readonly setting?: PolicySettingName | string;
  readonly message: string;
}

/**
 * Checks a complete set of policy settings against the MS-ASPROV types and ranges in `POLICY_SETTINGS`. Returns
 * every problem found (an empty array means valid); never throws. Accepts `unknown`, so it also checks settings
 * read from JSON or an admin API.
 */
export function validatePolicy(settings: unknown): PolicyIssue[] {
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    return [{ code: 'not-an-object', message: 'policy settings must be an object' }];
  }
  const record = settings as Record<string, unknown>;
  const issues: PolicyIssue[] = [];
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(POLICY_SETTINGS, key)) {
      issues.push({ code: 'unknown-setting', setting: key, message: `${key} is not an EAS policy setting` });
    }
  }
  for (const spec of POLICY_SETTING_LIST) {
    const name = spec.name;
    const value = record[name];
    if (value === undefined) {
      issues.push({ code: 'missing', setting: name, message: `${name} is missing` });
      continue;
    }
    const type = spec.type;
    switch (type.kind) {
      case 'boolean':
        if (typeof value !== 'boolean') issues.push(wrongType(name, 'a boolean'));
        break;
      case 'integer':
        if (value === null) {
          if (!type.nullable) issues.push(wrongType(name, 'an integer (null is not allowed)'));
        } else if (typeof value !== 'number' || !Number.isInteger(value)) {
          issues.push(wrongType(name, type.nullable ? 'an integer or null' : 'an integer'));
        } else if (value < type.min || value > type.max) {
          issues.push({
            code: 'out-of-range',
            setting: name,
            message: `${name} must be between ${type.min} and ${type.max}, got ${value}`,
          });
        }
        break;
      case 'enum':
        if (typeof value !== 'number' || !Number.isInteger(value)) {
          issues.push(wrongType(name, 'an integer'));
        } else if (!Object.hasOwn(type.values, value)) {
          issues.push({
            code: 'not-allowed-value',
            setting: name,
            message: `${name} must be one of ${Object.keys(type.values).join(', ')}, got ${value}`,
          });
        }
        break;
      case 'list':
        if (!Array.isArray(value)) {
          issues.push(wrongType(name, 'an array of strings'));
        } else {
          value.forEach((item, index) => {
            if (typeof item !== 'string' || item.trim() === '') {
              issues.push({
                code: 'bad-list-item',
                setting: name,
                message: `${name}[${index}] must be a non-empty string`,
              });
            }
          });
        }
        break;
    }
  }
  return issues;
}

/** True when `validatePolicy` finds nothing, narrowing the value to `PolicySettings`. */
export function isValidPolicy(settings: unknown): settings is PolicySettings {
  return validatePolicy(settings).length === 0;
}

function wrongType(name: PolicySettingName, expected: string): PolicyIssue {
  return { code: 'wrong-type', setting: name, message: `${name} must be ${expected}` };
}
