import type { UserId } from '@easkit/mailbox';
import type { PolicyIssue } from './validate.js';

/** Every error code the policy package throws. Stable strings: match on these, not on messages. */
export type PolicyErrorCode =
  | 'device-not-found'
  | 'device-conflict'
  | 'policy-not-found'
  | 'policy-conflict'
  | 'policy-in-use'
  | 'invalid-policy'
  | 'invalid-rule'
  | 'invalid-argument';

/** The base of every error a `DeviceStore` throws on purpose. */
export abstract class PolicyError extends Error {
  abstract readonly code: PolicyErrorCode;
}

/** The device (user, deviceId) does not exist. */
export class DeviceNotFoundError extends PolicyError {
  override readonly name = 'DeviceNotFoundError';
  readonly code = 'device-not-found' as const;
  constructor(
    readonly user: UserId,
    readonly deviceId: string,
  ) {
    super(`no device ${deviceId} for user ${user}`);
  }
}

/** An update's precondition (`expected`) did not hold: someone else changed the device first. Nothing was written. */
export class DeviceConflictError extends PolicyError {
  override readonly name = 'DeviceConflictError';
  readonly code = 'device-conflict' as const;
  constructor(
    readonly user: UserId,
    readonly deviceId: string,
    detail: string,
  ) {
    super(`device ${deviceId} of ${user} changed concurrently: ${detail}`);
  }
}

/** No policy document has this id. */
export class PolicyNotFoundError extends PolicyError {
  override readonly name = 'PolicyNotFoundError';
  readonly code = 'policy-not-found' as const;
  constructor(readonly policyId: string) {
    super(`no policy ${policyId}`);
  }
}

/** `putPolicy` was given an `expectedVersion` that is not the stored one. Nothing was written. */
export class PolicyConflictError extends PolicyError {
  override readonly name = 'PolicyConflictError';
  readonly code = 'policy-conflict' as const;
  constructor(
    readonly policyId: string,
    readonly expectedVersion: number,
    readonly actualVersion: number,
  ) {
    super(`policy ${policyId} is at version ${actualVersion}, not ${expectedVersion}`);
  }
}

/** A policy that is assigned (to a user or as the default) cannot be deleted. */
export class PolicyInUseError extends PolicyError {
  override readonly name = 'PolicyInUseError';
  readonly code = 'policy-in-use' as const;
  constructor(readonly policyId: string) {
    super(`policy ${policyId} is assigned and cannot be deleted`);
  }
}

/** A policy document whose settings (or id, name) are not valid. */
export class InvalidPolicyError extends PolicyError {
  override readonly name = 'InvalidPolicyError';
  readonly code = 'invalid-policy' as const;
  constructor(readonly issues: readonly PolicyIssue[]) {
    super(`invalid policy: ${issues.map((issue) => issue.message).join('; ')}`);
  }
}

/** An access rule that is not valid (empty id, unknown action, non-integer priority, bad pattern). */
export class InvalidRuleError extends PolicyError {
  override readonly name = 'InvalidRuleError';
  readonly code = 'invalid-rule' as const;
  constructor(reason: string) {
    super(`invalid access rule: ${reason}`);
  }
}

/** A malformed argument (empty id, bad page size, negative counter increment, bad cursor). */
export class InvalidArgumentError extends PolicyError {
  override readonly name = 'InvalidArgumentError';
  readonly code = 'invalid-argument' as const;
}

export function isPolicyError(error: unknown): error is PolicyError {
  return error instanceof PolicyError;
}
