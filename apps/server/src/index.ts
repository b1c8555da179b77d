export { type EasApp, startApp } from './app.js';
export {
  createAuthenticator,
  identityOf,
  type RequestScope,
  resolveAccount,
  scopeOf,
} from './authenticator.js';
export { autodiscoverJson, autodiscoverXml } from './autodiscover.js';
export {
  ConfigError,
  configFromEnv,
  configSchema,
  ENVIRONMENT_VARIABLES,
  type LoadConfigOptions,
  loadConfig,
  type ServerConfig,
} from './config.js';
export {
  ImportAbortedError,
  type ImportEvent,
  type ImportKind,
  type ImportOptions,
  type ImportReport,
  importFiles,
  type SkipCode,
} from './import/import.js';
export { firstAuthenticator, type JwtAuthenticatorOptions, jwtAuthenticator } from './jwt.js';
export {
  DEFAULT_LOCKOUT,
  type LockoutPolicy,
  type LoginThrottle,
  lockDuration,
  MemoryLoginThrottle,
  throttleKey,
} from './lockout.js';
export { ServerMetrics } from './metrics.js';
export { generatePassword, PasswordDirectory } from './passwords.js';
export { createMailbox, DEFAULT_FOLDERS, seedDemoMailbox } from './seed.js';
export { type EasServerParts, type RunningServer, startEasServer } from './server.js';
export { openStores, type ServerStores } from './stores.js';
