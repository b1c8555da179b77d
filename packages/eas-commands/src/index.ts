export * from './http/body.js';
export * from './http/commands.js';
export * from './http/errors.js';
export * from './http/identity.js';
export * from './http/node-adapter.js';
export * from './http/protocol-version.js';
export * from './http/query.js';
export * from './http/request.js';
