import type { Migration } from './index.js';

/**
 * What the `DeviceStore` keeps: devices with their access, wipe and statistics as typed columns (so an operator
 * can ask "which devices have a wipe pending?" in SQL), policy documents with their settings as `jsonb` (a
 * document of some sixty settings, read and written whole), access rules, policy assignments, the per-user EAS
 * switch, the organisation-wide settings (one row) and the append-only audit log.
 *
 * Identifiers use the "C" collation, so they compare as exact strings and sort by code point whatever the
 * database's locale. Foreign keys from the assignments and the default policy make deleting a policy that is
 * in use fail inside the database, so no check-then-delete race is possible.
 */
export const devicesMigration: Migration = {
  id: '0003_devices',
  sql: `
    CREATE TABLE easkit_devices (
      user_id text COLLATE "C" NOT NULL,
      device_id text COLLATE "C" NOT NULL,
      device_type text NOT NULL,
      model text,
      friendly_name text,
      imei text,
      os text,
      os_language text,
      phone_number text,
      mobile_operator text,
      user_agent text,
      protocol_version text,
      first_seen timestamptz NOT NULL,
      last_seen timestamptz NOT NULL,
      policy_key bigint NOT NULL DEFAULT 0,
      policy_state text NOT NULL DEFAULT 'none',
      pending_policy_key bigint,
      policy_version integer,
      policy_version_policy_id text,
      pending_policy_version integer,
      pending_policy_version_policy_id text,
      access_state text NOT NULL,
      access_reason text NOT NULL,
      access_rule_id text,
      access_note text,
      access_by text,
      access_at timestamptz,
      wipe_state text NOT NULL DEFAULT 'none',
      wipe_kind text,
      wipe_requested_at timestamptz,
      wipe_acknowledged_at timestamptz,
      wipe_delivered_at timestamptz,
      wipe_requested_by text,
      sync_count bigint NOT NULL DEFAULT 0,
      ping_count bigint NOT NULL DEFAULT 0,
      items_sent bigint NOT NULL DEFAULT 0,
      items_received bigint NOT NULL DEFAULT 0,
      bytes_in bigint NOT NULL DEFAULT 0,
      bytes_out bigint NOT NULL DEFAULT 0,
      last_sync_at timestamptz,
      last_command text,
      last_command_at timestamptz,
      PRIMARY KEY (user_id, device_id)
    );
    CREATE INDEX easkit_devices_wipe ON easkit_devices (wipe_state) WHERE wipe_state <> 'none';
    CREATE INDEX easkit_devices_access ON easkit_devices (access_state) WHERE access_state <> 'allowed';

    CREATE TABLE easkit_policies (
      id text COLLATE "C" PRIMARY KEY,
      name text NOT NULL,
      settings jsonb NOT NULL,
      version integer NOT NULL,
      updated_at timestamptz NOT NULL,
      allow_non_provisionable_devices boolean NOT NULL DEFAULT false
    );

    CREATE TABLE easkit_policy_assignments (
      user_id text COLLATE "C" PRIMARY KEY,
      policy_id text COLLATE "C" NOT NULL REFERENCES easkit_policies (id)
    );
    CREATE INDEX easkit_policy_assignments_policy ON easkit_policy_assignments (policy_id);

    CREATE TABLE easkit_device_settings (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      default_policy_id text COLLATE "C" REFERENCES easkit_policies (id),
      eas_enabled boolean NOT NULL DEFAULT true,
      default_access text NOT NULL DEFAULT 'allowed'
    );
    INSERT INTO easkit_device_settings DEFAULT VALUES;

    CREATE TABLE easkit_user_eas (
      user_id text COLLATE "C" PRIMARY KEY,
      eas_enabled boolean NOT NULL
    );

    CREATE TABLE easkit_access_rules (
      id text COLLATE "C" PRIMARY KEY,
      priority double precision NOT NULL,
      action text NOT NULL,
      match jsonb NOT NULL,
      description text
    );

    CREATE TABLE easkit_audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      at timestamptz NOT NULL,
      actor text NOT NULL,
      action text NOT NULL,
      target_user text COLLATE "C",
      target_device_id text COLLATE "C",
      target_policy_id text,
      target_rule_id text,
      details jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX easkit_audit_log_user ON easkit_audit_log (target_user, id);
    CREATE INDEX easkit_audit_log_device ON easkit_audit_log (target_user, target_device_id, id);
  `,
};
