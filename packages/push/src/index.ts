export { isPushBusClosedError, PushBusClosedError, type PushBusErrorCode } from './errors.js';
export { InProcessPushBus, type InProcessPushBusOptions, type InProcessPushBusStats } from './in-process.js';
export {
  HIERARCHY_CHANGED,
  type PublishingMailboxOptions,
  publishingMailbox,
} from './publishing-mailbox.js';
export type { PushBus, PushErrorHandler, PushEvent, PushListener, Unsubscribe } from './push-bus.js';
export { eventModseq } from './push-bus.js';
export {
  type DeviceClaims,
  WaiterRegistry,
  type WaiterRegistryOptions,
  type WaiterRegistryStats,
  type WaiterTimers,
  type WaitOutcome,
  type WaitRequest,
} from './waiters.js';
