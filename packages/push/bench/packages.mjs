// The built workspace packages the Direct Push benchmark runs. @easkit/push cannot depend on
// @easkit/eas-commands (that package depends on this one), so the endpoint's packages are resolved the way
// @easkit/eas-commands itself resolves them: from its own directory, through each package's `default` export
// (dist/). Build first (`pnpm -r build`, or turbo's build task).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const commandsPackage = new URL('../../eas-commands/package.json', import.meta.url);
const require = createRequire(commandsPackage);

async function load(specifier) {
  const file =
    specifier === '@easkit/eas-commands' ? require.resolve('./dist/index.js') : require.resolve(specifier);
  if (!existsSync(file))
    throw new Error(`${specifier}: ${file} is missing; build the workspace packages first`);
  return import(pathToFileURL(file).href);
}

export const loadCommands = () => load('@easkit/eas-commands');
export const loadMailbox = () => load('@easkit/mailbox');
export const loadPush = () => load('@easkit/push');
export const loadSyncState = () => load('@easkit/sync-state');
export const loadWbxml = () => load('@easkit/wbxml');
