export { createAuthenticator, identityOf, resolveAccount } from './authenticator.js';
export { ConfigError, configFromEnv, configSchema, type ServerConfig } from './config.js';
export { generatePassword, PasswordDirectory } from './passwords.js';
export { createMailbox, DEFAULT_FOLDERS, seedDemoMailbox } from './seed.js';
export { type EasServerParts, type RunningServer, startEasServer } from './server.js';
