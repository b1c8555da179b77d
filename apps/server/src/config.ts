import { z } from 'zod';

const port = z.coerce.number().int().min(0).max(65535);

/** The server's settings, read from the environment (`EASKIT_*`). */
export const configSchema = z.object({
  port: port.default(8080),
  host: z.string().min(1).default('127.0.0.1'),
  /** The demo user's password; generated and printed at start-up when unset. */
  demoPassword: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The SMTP relay outgoing mail is handed to; without it SendMail, SmartReply and SmartForward are not offered. */
  smtpHost: z.string().min(1).optional(),
  smtpPort: port.default(25),
  /** Request bodies above this size get 413. */
  maxBodyBytes: z.coerce
    .number()
    .int()
    .min(1024)
    .default(32 * 1024 * 1024),
});

export type ServerConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads the configuration from environment variables; throws `ConfigError` naming every bad variable. */
export function configFromEnv(env: Record<string, string | undefined> = process.env): ServerConfig {
  const variables = {
    port: 'EASKIT_PORT',
    host: 'EASKIT_HOST',
    demoPassword: 'EASKIT_DEMO_PASSWORD',
    logLevel: 'EASKIT_LOG_LEVEL',
    maxBodyBytes: 'EASKIT_MAX_BODY_BYTES',
    smtpHost: 'EASKIT_SMTP_HOST',
    smtpPort: 'EASKIT_SMTP_PORT',
  } as const;
  const input: Record<string, string> = {};
  for (const [key, variable] of Object.entries(variables)) {
    const value = env[variable];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0]) as keyof typeof variables;
      return `${variables[key] ?? key}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  return parsed.data;
}
