export {
  type AccessAction,
  type AccessRule,
  type AccessRuleMatch,
  evaluateAccess,
  globMatches,
  ruleMatches,
} from './access.js';
export {
  type AccessReason,
  type AccessState,
  DEVICE_DETAIL_NAMES,
  type Device,
  type DeviceAccess,
  type DeviceDetailName,
  type DeviceInformation,
  type DeviceStats,
  type DeviceWipe,
  emptyDeviceStats,
  type PolicyDocument,
  type PolicyState,
  type WipeKind,
  type WipeState,
} from './device.js';
export type {
  ActivityRecord,
  DeviceExpectation,
  DevicePage,
  DevicePatch,
  DeviceSighting,
  DeviceStore,
  PolicyAssignment,
  PolicyInput,
} from './device-store.js';
export {
  DeviceConflictError,
  DeviceNotFoundError,
  InvalidArgumentError,
  InvalidPolicyError,
  InvalidRuleError,
  isPolicyError,
  PolicyConflictError,
  PolicyError,
  type PolicyErrorCode,
  PolicyInUseError,
  PolicyNotFoundError,
} from './errors.js';
export { MemoryDeviceStore } from './memory.js';
export { generatePolicyKey, isPolicyKey } from './policy-key.js';
export {
  type BluetoothMode,
  type CalendarAgeFilter,
  defaultPolicy,
  defaultPolicySettings,
  type EmailAgeFilter,
  POLICY_SETTING_LIST,
  POLICY_SETTINGS,
  type PolicySettingName,
  type PolicySettingSpec,
  type PolicySettings,
  type PolicySettingType,
  PROTOCOL_VERSIONS,
  type ProtocolVersion,
  policySettings,
  type SmimeEncryptionAlgorithm,
  type SmimeNegotiation,
  type SmimeSigningAlgorithm,
} from './settings.js';
export { isValidPolicy, type PolicyIssue, type PolicyIssueCode, validatePolicy } from './validate.js';
