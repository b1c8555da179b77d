// The built packages the benchmark runs. @easkit/storage-pg cannot depend on @easkit/eas-commands, so the EAS
// endpoint's packages are resolved from the eas-commands package's own directory, through each package's
// `default` export (dist/), as packages/push/bench does; this package is loaded from its own dist/.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const fromCommands = createRequire(new URL('../../eas-commands/package.json', import.meta.url));

async function load(file, what) {
  if (!existsSync(file)) throw new Error(`${what}: ${file} is missing; build the workspace packages first`);
  return import(pathToFileURL(file).href);
}

export const loadCommands = () => load(fromCommands.resolve('./dist/index.js'), '@easkit/eas-commands');
export const loadMailbox = () => load(fromCommands.resolve('@easkit/mailbox'), '@easkit/mailbox');
export const loadWbxml = () => load(fromCommands.resolve('@easkit/wbxml'), '@easkit/wbxml');
export const loadStoragePg = () =>
  load(new URL('../dist/index.js', import.meta.url).pathname, '@easkit/storage-pg');
