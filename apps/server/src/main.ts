#!/usr/bin/env node
import { Command } from 'commander';
import { pino } from 'pino';
import { startApp } from './app.js';
import { ConfigError, ENVIRONMENT_VARIABLES, loadConfig } from './config.js';

const program = new Command()
  .name('easkit-server')
  .description('The easkit reference Exchange ActiveSync server.')
  .option('-c, --config <file>', 'a YAML or JSON configuration file (default: $EASKIT_CONFIG)')
  .option('--print-config', 'print the effective configuration (secrets hidden) and exit')
  .addHelpText(
    'after',
    `\nEnvironment variables override the file:\n${Object.entries(ENVIRONMENT_VARIABLES)
      .map(([variable, path]) => `  ${variable.padEnd(22)} ${path}`)
      .join('\n')}\n\nSee apps/server/README.md and apps/server/easkit.example.yaml.`,
  );

async function main(): Promise<void> {
  program.parse();
  const options = program.opts<{ config?: string; printConfig?: boolean }>();
  const config = loadConfig(options.config ? { file: options.config } : {});
  if (options.printConfig) {
    process.stdout.write(`${JSON.stringify(config, hideSecrets, 2)}\n`);
    return;
  }
  const logger = pino({ level: config.logLevel, base: undefined });
  const app = await startApp(config, logger);
  if (app.demo) {
    const password =
      app.demo.password ?? '(unchanged since it was first printed; EASKIT_DEMO_PASSWORD sets one)';
    const hint = app.demo.generated ? ' (set EASKIT_DEMO_PASSWORD to choose one)' : '';
    process.stdout.write(`demo account: ${app.demo.user.primarySmtpAddress} password: ${password}${hint}\n`);
  }
  process.stdout.write(
    `easkit listening on ${app.running.url}/Microsoft-Server-ActiveSync (${app.stores.description})\n`,
  );

  const stop = () => {
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.on('SIGHUP', () => app.running.reloadTls());
}

/** Passwords and tokens become `***`; credentials inside URLs too. */
function hideSecrets(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (/password|token/i.test(key)) return '***';
  return value.replace(/\/\/[^/@]*@/, '//***@');
}

main().catch((error: unknown) => {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
