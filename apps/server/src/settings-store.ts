import type { OofSettings, SettingsStore } from '@easkit/eas-commands';
import type { Database } from '@easkit/storage-pg';

/** The server's table for what the Settings command keeps (migration `server_0002_settings`). */
export const SETTINGS_MIGRATION = {
  id: 'server_0002_settings',
  sql: `CREATE TABLE easkit_server_oof (
          user_id text PRIMARY KEY,
          settings jsonb NOT NULL,
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE easkit_server_recovery_passwords (
          user_id text NOT NULL,
          device_id text NOT NULL,
          password text NOT NULL,
          PRIMARY KEY (user_id, device_id)
        );`,
} as const;

interface StoredOof {
  state: OofSettings['state'];
  start?: string;
  end?: string;
  messages: OofSettings['messages'];
}

/** Out-of-office settings and device recovery passwords in PostgreSQL or PGlite, so they survive restarts. */
export class SqlSettingsStore implements SettingsStore {
  constructor(private readonly database: Database) {}

  async getOof(user: string): Promise<OofSettings | undefined> {
    const { rows } = await this.database.query<{ settings: StoredOof }>(
      'SELECT settings FROM easkit_server_oof WHERE user_id = $1',
      [user],
    );
    const stored = rows[0]?.settings;
    if (!stored) return undefined;
    return {
      state: stored.state,
      ...(stored.start ? { start: new Date(stored.start) } : {}),
      ...(stored.end ? { end: new Date(stored.end) } : {}),
      messages: stored.messages,
    };
  }

  async setOof(user: string, settings: OofSettings): Promise<void> {
    const stored: StoredOof = {
      state: settings.state,
      ...(settings.start ? { start: settings.start.toISOString() } : {}),
      ...(settings.end ? { end: settings.end.toISOString() } : {}),
      messages: settings.messages,
    };
    await this.database.query(
      `INSERT INTO easkit_server_oof (user_id, settings) VALUES ($1, $2::jsonb)
       ON CONFLICT (user_id) DO UPDATE SET settings = EXCLUDED.settings, updated_at = now()`,
      [user, JSON.stringify(stored)],
    );
  }

  async getRecoveryPassword(user: string, deviceId: string): Promise<string | undefined> {
    const { rows } = await this.database.query<{ password: string }>(
      'SELECT password FROM easkit_server_recovery_passwords WHERE user_id = $1 AND device_id = $2',
      [user, deviceId],
    );
    return rows[0]?.password;
  }

  async setRecoveryPassword(user: string, deviceId: string, password: string | null): Promise<void> {
    if (password === null) {
      await this.database.query(
        'DELETE FROM easkit_server_recovery_passwords WHERE user_id = $1 AND device_id = $2',
        [user, deviceId],
      );
      return;
    }
    await this.database.query(
      `INSERT INTO easkit_server_recovery_passwords (user_id, device_id, password) VALUES ($1, $2, $3)
       ON CONFLICT (user_id, device_id) DO UPDATE SET password = EXCLUDED.password`,
      [user, deviceId, password],
    );
  }
}
