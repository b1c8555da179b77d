export type { RedisClient } from './client.js';
export {
  createRedisCounters,
  type LockoutOptions,
  type LoginState,
  type RateDecision,
  type RateOptions,
  RedisCounters,
  type RedisCountersOptions,
} from './counters.js';
export { createRedisDeviceStore, RedisDeviceStore, type RedisDeviceStoreOptions } from './device-store.js';
export {
  createRedisPushBus,
  type InterruptRelay,
  type InterruptScope,
  RedisPushBus,
  type RedisPushBusOptions,
  type RedisPushBusStats,
} from './push-bus.js';
export {
  createRedisSyncStateStore,
  RedisSyncStateStore,
  type RedisSyncStateStoreOptions,
} from './sync-state-store.js';
