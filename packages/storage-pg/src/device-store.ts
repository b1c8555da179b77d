import type { UserId } from '@easkit/mailbox';
import {
  type AccessRule,
  type ActivityRecord,
  type AuditDetail,
  type AuditEntry,
  type AuditEntryInput,
  type AuditPage,
  type AuditQuery,
  type AuditTarget,
  checkActivity,
  DEVICE_DETAIL_NAMES,
  type Device,
  type DeviceAccess,
  type DeviceActivity,
  type DeviceCheckIn,
  DeviceConflictError,
  type DeviceDetailName,
  type DeviceExpectation,
  DeviceNotFoundError,
  type DevicePage,
  type DevicePatch,
  type DeviceSighting,
  type DeviceStore,
  type DeviceWipe,
  InvalidArgumentError,
  InvalidPolicyError,
  InvalidRuleError,
  type OrganizationSettings,
  type PolicyAssignment,
  PolicyConflictError,
  type PolicyDocument,
  type PolicyInput,
  PolicyInUseError,
  type PolicyIssue,
  PolicyNotFoundError,
  type PolicySettings,
  type PolicyState,
  type PolicyVersion,
  ruleProblems,
  validatePolicy,
} from '@easkit/policy';
import type { SqlExecutor } from './database.js';

export interface PgDeviceStoreOptions {
  /** A `Database` (or any executor on a schema that `migrate()` brought up to date). */
  database: SqlExecutor;
  /** The clock for timestamps the caller does not pass (policy `updatedAt`, sightings and audit entries). */
  now?: () => Date;
}

const MAX_PAGE = 1000;
const DEFAULT_PAGE = 100;
const UINT32_MAX = 0xffff_ffff;
const ACCESS_STATES: readonly string[] = ['allowed', 'blocked', 'quarantined'];
/** PostgreSQL's foreign_key_violation: a policy still assigned, or assigned before it exists. */
const FOREIGN_KEY_VIOLATION = '23503';

/** The column of each optional device detail. */
const DETAIL_COLUMNS: Record<DeviceDetailName, string> = {
  model: 'model',
  friendlyName: 'friendly_name',
  imei: 'imei',
  os: 'os',
  osLanguage: 'os_language',
  phoneNumber: 'phone_number',
  mobileOperator: 'mobile_operator',
  userAgent: 'user_agent',
  protocolVersion: 'protocol_version',
};

/** One row of `easkit_devices` as the drivers return it (bigint columns may come back as strings). */
interface DeviceRow {
  user_id: string;
  device_id: string;
  device_type: string;
  model: string | null;
  friendly_name: string | null;
  imei: string | null;
  os: string | null;
  os_language: string | null;
  phone_number: string | null;
  mobile_operator: string | null;
  user_agent: string | null;
  protocol_version: string | null;
  first_seen: Date;
  last_seen: Date;
  policy_key: unknown;
  policy_state: string;
  pending_policy_key: unknown;
  policy_version: number | null;
  policy_version_policy_id: string | null;
  pending_policy_version: number | null;
  pending_policy_version_policy_id: string | null;
  access_state: string;
  access_reason: string;
  access_rule_id: string | null;
  access_note: string | null;
  access_by: string | null;
  access_at: Date | null;
  wipe_state: string;
  wipe_kind: string | null;
  wipe_requested_at: Date | null;
  wipe_acknowledged_at: Date | null;
  wipe_delivered_at: Date | null;
  wipe_requested_by: string | null;
  sync_count: unknown;
  ping_count: unknown;
  items_sent: unknown;
  items_received: unknown;
  bytes_in: unknown;
  bytes_out: unknown;
  last_sync_at: Date | null;
  last_command: string | null;
  last_command_at: Date | null;
  created?: boolean;
}

interface PolicyRow {
  id: string;
  name: string;
  settings: unknown;
  version: number;
  updated_at: Date;
  allow_non_provisionable_devices: boolean;
}

interface RuleRow {
  id: string;
  priority: number;
  action: string;
  match: unknown;
  description: string | null;
}

interface AuditRow {
  id: unknown;
  at: Date;
  actor: string;
  action: string;
  target_user: string | null;
  target_device_id: string | null;
  target_policy_id: string | null;
  target_rule_id: string | null;
  details: unknown;
}

/**
 * A `DeviceStore` on PostgreSQL or PGlite (tables of migration `0003_devices`). Every method is one statement,
 * so each is atomic without an explicit transaction, and the compare-and-set methods put their precondition in
 * the statement's `WHERE`: of concurrent callers expecting the same state, PostgreSQL lets exactly one change
 * the row. Concurrent first sightings meet in `INSERT ... ON CONFLICT`, which creates the row once.
 *
 * A sighting that changes nothing but `lastSeen` rewrites the row only when `lastSeen` is more than 30 s old, so a
 * device's requests do not each cost a write; `lastSeen` is then up to 30 s behind.
 *
 * Strings are kept as PostgreSQL `text`, which cannot hold U+0000: ids and details containing it are refused
 * with `InvalidArgumentError`. Ids sort by code point (the "C" collation), which is UTF-16 code unit order for
 * every string without characters above U+FFFF.
 */
export class PgDeviceStore implements DeviceStore {
  readonly #db: SqlExecutor;
  readonly #now: () => Date;

  constructor(options: PgDeviceStoreOptions) {
    this.#db = options.database;
    this.#now = options.now ?? (() => new Date());
  }

  // --- devices -----------------------------------------------------------------------------------------------

  async upsertDevice(sighting: DeviceSighting, seenAt?: Date): Promise<{ device: Device; created: boolean }> {
    const access = sighting.initialAccess ?? { state: 'allowed', reason: 'global-default' };
    requireAccess(access);
    const { params, values } = this.#sightingParams(sighting, seenAt);
    const accessStart = params.length + 1;
    params.push(
      access.state,
      access.reason,
      access.ruleId ?? null,
      access.note ?? null,
      access.by ?? null,
      access.at ?? null,
    );
    const access$ = [0, 1, 2, 3, 4, 5].map((offset) => `$${accessStart + offset}`);
    const row = await this.#sighting<DeviceRow>(
      `WITH ${sightingCtes(values, access$)} SELECT * FROM seen`,
      params,
    );
    return { device: deviceFromRow(row), created: row.created === true };
  }

  /**
   * One statement: the sighting (a new device gets the organisation's default access) and, read with it, the
   * switches, rules and policy the gate needs.
   */
  async checkIn(sighting: Omit<DeviceSighting, 'initialAccess'>, seenAt?: Date): Promise<DeviceCheckIn> {
    const { params, values } = this.#sightingParams(sighting, seenAt);
    const defaultAccess = "COALESCE((SELECT default_access FROM easkit_device_settings), 'allowed')";
    const row = await this.#sighting<
      DeviceRow & {
        org_eas_enabled: boolean | null;
        org_default_access: string | null;
        user_eas_enabled: boolean | null;
        rules: unknown;
        gate_policy_id: string | null;
        gate_policy_name: string;
        gate_policy_settings: unknown;
        gate_policy_version: number;
        gate_policy_updated_at: Date;
        gate_policy_allow: boolean;
      }
    >(
      `WITH ${sightingCtes(values, [defaultAccess, "'global-default'", 'NULL', 'NULL', 'NULL', 'NULL'])}
       SELECT seen.*,
              s.eas_enabled AS org_eas_enabled, s.default_access AS org_default_access,
              (SELECT eas_enabled FROM easkit_user_eas WHERE user_id = $1) AS user_eas_enabled,
              (SELECT COALESCE(json_agg(r ORDER BY r.priority DESC, r.id), '[]'::json)
                 FROM easkit_access_rules r) AS rules,
              p.id AS gate_policy_id, p.name AS gate_policy_name, p.settings AS gate_policy_settings,
              p.version AS gate_policy_version, p.updated_at AS gate_policy_updated_at,
              p.allow_non_provisionable_devices AS gate_policy_allow
         FROM seen
         LEFT JOIN easkit_device_settings s ON true
         LEFT JOIN easkit_policies p ON p.id = COALESCE(
           (SELECT policy_id FROM easkit_policy_assignments WHERE user_id = $1), s.default_policy_id)`,
      params,
    );
    return {
      device: deviceFromRow(row),
      created: row.created === true,
      organization: {
        easEnabled: row.org_eas_enabled ?? true,
        defaultAccess: (row.org_default_access ?? 'allowed') as OrganizationSettings['defaultAccess'],
      },
      userEasEnabled: row.user_eas_enabled,
      rules: (parseJson(row.rules) as RuleRow[]).map(ruleFromRow),
      policy:
        row.gate_policy_id === null
          ? null
          : policyFromRow({
              id: row.gate_policy_id,
              name: row.gate_policy_name,
              settings: row.gate_policy_settings,
              version: row.gate_policy_version,
              updated_at: row.gate_policy_updated_at,
              allow_non_provisionable_devices: row.gate_policy_allow,
            }),
    };
  }

  /** Runs a sighting statement: every path of it (new, changed or unchanged device) yields the row. */
  async #sighting<Row extends DeviceRow>(text: string, params: unknown[]): Promise<Row> {
    const row = (await this.#db.query<Row>(text, params)).rows[0];
    if (!row) throw new Error('a device sighting returned no row');
    return row;
  }

  /** The checked parameters of a sighting ($1 user, $2 deviceId, $3 deviceType, $4 seen, then the details). */
  #sightingParams(
    sighting: Omit<DeviceSighting, 'initialAccess'>,
    seenAt: Date | undefined,
  ): { params: unknown[]; values: string[] } {
    requireId(sighting.user, 'user');
    requireId(sighting.deviceId, 'deviceId');
    requireId(sighting.deviceType, 'deviceType');
    const at = requireDate(seenAt ?? this.#now(), 'seenAt');
    const details = DEVICE_DETAIL_NAMES.map((name) => optionalText(sighting[name], name));
    return {
      params: [sighting.user, sighting.deviceId, sighting.deviceType, at, ...details],
      values: details.map((_, index) => `$${index + 5}`),
    };
  }

  async getDevice(user: UserId, deviceId: string): Promise<Device | null> {
    const result = await this.#db.query<DeviceRow>(
      'SELECT * FROM easkit_devices WHERE user_id = $1 AND device_id = $2',
      [user, deviceId],
    );
    const row = result.rows[0];
    return row ? deviceFromRow(row) : null;
  }

  async listDevices(user: UserId): Promise<Device[]> {
    const result = await this.#db.query<DeviceRow>(
      'SELECT * FROM easkit_devices WHERE user_id = $1 ORDER BY device_id',
      [user],
    );
    return result.rows.map(deviceFromRow);
  }

  async listAllDevices(options: { limit?: number; cursor?: string | null } = {}): Promise<DevicePage> {
    const limit = requireLimit(options.limit);
    const after = options.cursor ? decodeCursor(options.cursor) : null;
    // Keyset pagination: the page starts after the last (user, deviceId) seen, so adding or deleting devices
    // between pages never shifts a device that exists for the whole walk out of it or into it twice.
    const result = after
      ? await this.#db.query<DeviceRow>(
          `SELECT * FROM easkit_devices
            WHERE (user_id, device_id) > ($1 COLLATE "C", $2 COLLATE "C")
            ORDER BY user_id, device_id LIMIT $3`,
          [after[0], after[1], limit + 1],
        )
      : await this.#db.query<DeviceRow>('SELECT * FROM easkit_devices ORDER BY user_id, device_id LIMIT $1', [
          limit + 1,
        ]);
    const rows = result.rows.slice(0, limit);
    const last = rows.at(-1);
    const more = result.rows.length > limit;
    return {
      devices: rows.map(deviceFromRow),
      nextCursor: more && last ? encodeCursor(last.user_id, last.device_id) : null,
    };
  }

  async updateDevice(
    user: UserId,
    deviceId: string,
    patch: DevicePatch,
    expected?: DeviceExpectation,
  ): Promise<Device> {
    // Validate everything before writing anything, so a bad patch leaves the device untouched.
    if (patch.policyKey !== undefined) requirePolicyKey(patch.policyKey, 'policyKey');
    if (patch.pendingPolicyKey !== undefined && patch.pendingPolicyKey !== null) {
      requirePolicyKey(patch.pendingPolicyKey, 'pendingPolicyKey');
    }
    if (patch.deviceType !== undefined) requireId(patch.deviceType, 'deviceType');
    if (patch.policyVersion) requirePolicyVersion(patch.policyVersion, 'policyVersion');
    if (patch.pendingPolicyVersion) requirePolicyVersion(patch.pendingPolicyVersion, 'pendingPolicyVersion');
    if (patch.access !== undefined) requireAccess(patch.access);
    if (patch.wipe !== undefined) requireWipe(patch.wipe);

    const params: unknown[] = [user, deviceId];
    const sets: string[] = [];
    const set = (column: string, value: unknown) => {
      params.push(value);
      sets.push(`${column} = $${params.length}`);
    };
    if (patch.deviceType !== undefined) set('device_type', patch.deviceType);
    for (const name of DEVICE_DETAIL_NAMES) {
      if (!Object.hasOwn(patch, name)) continue;
      const value = patch[name];
      if (value === null) set(DETAIL_COLUMNS[name], null);
      else if (value !== undefined) set(DETAIL_COLUMNS[name], optionalText(value, name));
    }
    if (patch.policyKey !== undefined) set('policy_key', patch.policyKey);
    if (patch.policyState !== undefined) set('policy_state', requireText(patch.policyState, 'policyState'));
    if (patch.pendingPolicyKey !== undefined) set('pending_policy_key', patch.pendingPolicyKey);
    if (patch.policyVersion !== undefined) {
      set('policy_version', patch.policyVersion?.version ?? null);
      set('policy_version_policy_id', patch.policyVersion?.policyId ?? null);
    }
    if (patch.pendingPolicyVersion !== undefined) {
      set('pending_policy_version', patch.pendingPolicyVersion?.version ?? null);
      set('pending_policy_version_policy_id', patch.pendingPolicyVersion?.policyId ?? null);
    }
    if (patch.access !== undefined) {
      set('access_state', patch.access.state);
      set('access_reason', patch.access.reason);
      set('access_rule_id', patch.access.ruleId ?? null);
      set('access_note', patch.access.note ?? null);
      set('access_by', patch.access.by ?? null);
      set('access_at', patch.access.at ?? null);
    }
    if (patch.wipe !== undefined) {
      set('wipe_state', patch.wipe.state);
      set('wipe_kind', patch.wipe.kind ?? null);
      set('wipe_requested_at', patch.wipe.requestedAt ?? null);
      set('wipe_acknowledged_at', patch.wipe.acknowledgedAt ?? null);
      set('wipe_delivered_at', patch.wipe.deliveredAt ?? null);
      set('wipe_requested_by', patch.wipe.requestedBy ?? null);
    }
    // An empty patch still checks `expected` and returns the device.
    if (sets.length === 0) sets.push('device_type = device_type');

    const conditions = ['user_id = $1', 'device_id = $2'];
    const condition = (sql: (placeholder: string) => string, value: unknown) => {
      params.push(value);
      conditions.push(sql(`$${params.length}`));
    };
    if (expected?.policyKey !== undefined) condition((p) => `policy_key = ${p}::bigint`, expected.policyKey);
    if (expected?.pendingPolicyKey !== undefined) {
      condition((p) => `pending_policy_key IS NOT DISTINCT FROM ${p}::bigint`, expected.pendingPolicyKey);
    }
    if (expected?.policyState !== undefined) {
      condition((p) => `policy_state = ${p}`, expected.policyState);
    }
    const result = await this.#db.query<DeviceRow>(
      `UPDATE easkit_devices SET ${sets.join(', ')} WHERE ${conditions.join(' AND ')} RETURNING *`,
      params,
    );
    const row = result.rows[0];
    if (row) return deviceFromRow(row);
    const current = await this.getDevice(user, deviceId);
    if (!current) throw new DeviceNotFoundError(user, deviceId);
    throw new DeviceConflictError(user, deviceId, conflictDetail(current, expected ?? {}));
  }

  async deleteDevice(user: UserId, deviceId: string): Promise<boolean> {
    const result = await this.#db.query('DELETE FROM easkit_devices WHERE user_id = $1 AND device_id = $2', [
      user,
      deviceId,
    ]);
    return result.rowCount > 0;
  }

  async recordSync(user: UserId, deviceId: string, activity: ActivityRecord): Promise<Device> {
    const counts = checkActivity(activity);
    const at = counts.at;
    const isSync = activity.command === 'Sync';
    const isPing = activity.command === 'Ping';
    // One UPDATE: the increments and the "latest by time" rules are applied to the row as it is when the
    // statement gets its lock, so concurrent calls never lose an increment.
    const result = await this.#db.query<DeviceRow>(
      `UPDATE easkit_devices SET
         items_sent = items_sent + $3, items_received = items_received + $4,
         bytes_in = bytes_in + $5, bytes_out = bytes_out + $6,
         sync_count = sync_count + $7, ping_count = ping_count + $8,
         last_sync_at = CASE WHEN $7 = 1 AND (last_sync_at IS NULL OR $9::timestamptz > last_sync_at)
                             THEN $9::timestamptz ELSE last_sync_at END,
         last_command = CASE WHEN last_command_at IS NULL OR $9::timestamptz >= last_command_at
                             THEN $10 ELSE last_command END,
         last_command_at = CASE WHEN last_command_at IS NULL OR $9::timestamptz >= last_command_at
                                THEN $9::timestamptz ELSE last_command_at END
       WHERE user_id = $1 AND device_id = $2
       RETURNING *`,
      [
        user,
        deviceId,
        counts.itemsSent,
        counts.itemsReceived,
        counts.bytesIn,
        counts.bytesOut,
        isSync ? 1 : 0,
        isPing ? 1 : 0,
        at,
        activity.command,
      ],
    );
    const row = result.rows[0];
    if (!row) throw new DeviceNotFoundError(user, deviceId);
    return deviceFromRow(row);
  }

  /**
   * One statement for any number of records: they are summed per device here (the latest command by time, ties
   * to the later record, as `recordSync` one after the other would leave it), then the rows are locked in key
   * order, so that two batches over the same devices wait for each other instead of deadlocking.
   */
  async recordSyncs(records: readonly DeviceActivity[]): Promise<number> {
    const checked = records.map((record) => ({ record, counts: checkActivity(record.activity) }));
    const totals = new Map<
      string,
      {
        user: string;
        deviceId: string;
        records: number;
        itemsSent: number;
        itemsReceived: number;
        bytesIn: number;
        bytesOut: number;
        syncs: number;
        pings: number;
        lastSyncAt: Date | null;
        lastCommand: string;
        lastCommandAt: Date;
      }
    >();
    for (const { record, counts } of checked) {
      if (!isStorableId(record.user) || !isStorableId(record.deviceId)) continue;
      const key = `${record.user}\u0000${record.deviceId}`;
      const command = record.activity.command;
      let total = totals.get(key);
      if (!total) {
        total = {
          user: record.user,
          deviceId: record.deviceId,
          records: 0,
          itemsSent: 0,
          itemsReceived: 0,
          bytesIn: 0,
          bytesOut: 0,
          syncs: 0,
          pings: 0,
          lastSyncAt: null,
          lastCommand: command,
          lastCommandAt: counts.at,
        };
        totals.set(key, total);
      }
      total.records++;
      total.itemsSent += counts.itemsSent;
      total.itemsReceived += counts.itemsReceived;
      total.bytesIn += counts.bytesIn;
      total.bytesOut += counts.bytesOut;
      if (command === 'Sync') {
        total.syncs++;
        if (!total.lastSyncAt || counts.at > total.lastSyncAt) total.lastSyncAt = counts.at;
      }
      if (command === 'Ping') total.pings++;
      if (counts.at >= total.lastCommandAt) {
        total.lastCommand = command;
        total.lastCommandAt = counts.at;
      }
    }
    if (totals.size === 0) return 0;
    const rows = [...totals.values()];
    const column = <K extends keyof (typeof rows)[number]>(name: K) => rows.map((row) => row[name]);
    const result = await this.#db.query<{ user_id: string; device_id: string }>(
      `WITH x AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[],
                              $7::bigint[], $8::bigint[], $9::timestamptz[], $10::text[], $11::timestamptz[])
           AS x(user_id, device_id, items_sent, items_received, bytes_in, bytes_out, syncs, pings,
                last_sync_at, last_command, last_command_at)
       ), locked AS (
         SELECT d.user_id, d.device_id FROM easkit_devices d JOIN x USING (user_id, device_id)
          ORDER BY d.user_id, d.device_id FOR UPDATE OF d
       )
       UPDATE easkit_devices d SET
         items_sent = d.items_sent + x.items_sent, items_received = d.items_received + x.items_received,
         bytes_in = d.bytes_in + x.bytes_in, bytes_out = d.bytes_out + x.bytes_out,
         sync_count = d.sync_count + x.syncs, ping_count = d.ping_count + x.pings,
         last_sync_at = CASE WHEN x.last_sync_at IS NOT NULL
                              AND (d.last_sync_at IS NULL OR x.last_sync_at > d.last_sync_at)
                             THEN x.last_sync_at ELSE d.last_sync_at END,
         last_command = CASE WHEN d.last_command_at IS NULL OR x.last_command_at >= d.last_command_at
                             THEN x.last_command ELSE d.last_command END,
         last_command_at = CASE WHEN d.last_command_at IS NULL OR x.last_command_at >= d.last_command_at
                                THEN x.last_command_at ELSE d.last_command_at END
         FROM x, locked
        WHERE d.user_id = x.user_id AND d.device_id = x.device_id
          AND locked.user_id = d.user_id AND locked.device_id = d.device_id
        RETURNING d.user_id, d.device_id`,
      [
        column('user'),
        column('deviceId'),
        column('itemsSent'),
        column('itemsReceived'),
        column('bytesIn'),
        column('bytesOut'),
        column('syncs'),
        column('pings'),
        column('lastSyncAt'),
        column('lastCommand'),
        column('lastCommandAt'),
      ],
    );
    const updated = new Set(result.rows.map((row) => `${row.user_id}\u0000${row.device_id}`));
    return rows.reduce(
      (sum, row) => sum + (updated.has(`${row.user}\u0000${row.deviceId}`) ? row.records : 0),
      0,
    );
  }

  // --- policies ----------------------------------------------------------------------------------------------

  async getPolicy(policyId: string): Promise<PolicyDocument | null> {
    const result = await this.#db.query<PolicyRow>('SELECT * FROM easkit_policies WHERE id = $1', [policyId]);
    const row = result.rows[0];
    return row ? policyFromRow(row) : null;
  }

  async putPolicy(input: PolicyInput): Promise<PolicyDocument> {
    const issues: PolicyIssue[] = [];
    if (typeof input.id !== 'string' || input.id === '' || input.id.includes('\u0000')) {
      issues.push({
        code: 'wrong-type',
        setting: 'id',
        message: 'id must be a non-empty string without NUL',
      });
    }
    if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.includes('\u0000')) {
      issues.push({
        code: 'wrong-type',
        setting: 'name',
        message: 'name must be a non-empty string without NUL',
      });
    }
    if (
      input.allowNonProvisionableDevices !== undefined &&
      typeof input.allowNonProvisionableDevices !== 'boolean'
    ) {
      issues.push({
        code: 'wrong-type',
        setting: 'allowNonProvisionableDevices',
        message: 'allowNonProvisionableDevices must be a boolean',
      });
    }
    issues.push(...validatePolicy(input.settings));
    if (issues.length > 0) throw new InvalidPolicyError(issues);
    const params = [
      input.id,
      input.name,
      JSON.stringify(input.settings),
      this.#now(),
      input.allowNonProvisionableDevices ?? false,
    ];
    const expected = input.expectedVersion;
    let result: { rows: PolicyRow[] };
    if (expected === undefined) {
      result = await this.#db.query<PolicyRow>(
        `INSERT INTO easkit_policies AS p (id, name, settings, version, updated_at, allow_non_provisionable_devices)
         VALUES ($1, $2, $3::jsonb, 1, $4, $5)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, settings = EXCLUDED.settings,
           version = p.version + 1, updated_at = EXCLUDED.updated_at,
           allow_non_provisionable_devices = EXCLUDED.allow_non_provisionable_devices
         RETURNING *`,
        params,
      );
    } else if (expected === 0) {
      result = await this.#db.query<PolicyRow>(
        `INSERT INTO easkit_policies (id, name, settings, version, updated_at, allow_non_provisionable_devices)
         VALUES ($1, $2, $3::jsonb, 1, $4, $5)
         ON CONFLICT (id) DO NOTHING
         RETURNING *`,
        params,
      );
    } else {
      result = await this.#db.query<PolicyRow>(
        `UPDATE easkit_policies SET name = $2, settings = $3::jsonb, version = version + 1, updated_at = $4,
           allow_non_provisionable_devices = $5
         WHERE id = $1 AND version = $6
         RETURNING *`,
        [...params, expected],
      );
    }
    const row = result.rows[0];
    if (row) return policyFromRow(row);
    const current = await this.getPolicy(input.id);
    throw new PolicyConflictError(input.id, expected ?? 0, current?.version ?? 0);
  }

  async listPolicies(): Promise<PolicyDocument[]> {
    const result = await this.#db.query<PolicyRow>('SELECT * FROM easkit_policies ORDER BY id');
    return result.rows.map(policyFromRow);
  }

  async deletePolicy(policyId: string): Promise<void> {
    let deleted: number;
    try {
      deleted = (await this.#db.query('DELETE FROM easkit_policies WHERE id = $1', [policyId])).rowCount;
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new PolicyInUseError(policyId);
      throw error;
    }
    if (deleted === 0) throw new PolicyNotFoundError(policyId);
  }

  async assignPolicy(user: UserId, policyId: string | null): Promise<void> {
    requireId(user, 'user');
    if (policyId === null) {
      await this.#db.query('DELETE FROM easkit_policy_assignments WHERE user_id = $1', [user]);
      return;
    }
    try {
      await this.#db.query(
        `INSERT INTO easkit_policy_assignments (user_id, policy_id) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET policy_id = EXCLUDED.policy_id`,
        [user, policyId],
      );
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new PolicyNotFoundError(policyId);
      throw error;
    }
  }

  async setDefaultPolicy(policyId: string | null): Promise<void> {
    try {
      await this.#db.query('UPDATE easkit_device_settings SET default_policy_id = $1', [policyId]);
    } catch (error) {
      if (isForeignKeyViolation(error) && policyId !== null) throw new PolicyNotFoundError(policyId);
      throw error;
    }
  }

  async getPolicyAssignment(user: UserId): Promise<PolicyAssignment> {
    const result = await this.#db.query<{ assigned: string | null; default: string | null }>(
      `SELECT (SELECT policy_id FROM easkit_policy_assignments WHERE user_id = $1) AS assigned,
              (SELECT default_policy_id FROM easkit_device_settings) AS "default"`,
      [user],
    );
    const row = result.rows[0];
    return { assigned: row?.assigned ?? null, default: row?.default ?? null };
  }

  async resolvePolicy(user: UserId): Promise<PolicyDocument | null> {
    const result = await this.#db.query<PolicyRow>(
      `SELECT p.* FROM easkit_policies p
        WHERE p.id = COALESCE(
          (SELECT policy_id FROM easkit_policy_assignments WHERE user_id = $1),
          (SELECT default_policy_id FROM easkit_device_settings))`,
      [user],
    );
    const row = result.rows[0];
    return row ? policyFromRow(row) : null;
  }

  // --- access rules ------------------------------------------------------------------------------------------

  async putRule(rule: AccessRule): Promise<AccessRule> {
    const problems = pgRuleProblems(rule);
    if (problems.length > 0) throw new InvalidRuleError(problems.join('; '));
    const result = await this.#db.query<RuleRow>(
      `INSERT INTO easkit_access_rules (id, priority, action, match, description)
       VALUES ($1, $2, $3, $4::jsonb, $5)
       ON CONFLICT (id) DO UPDATE SET priority = EXCLUDED.priority, action = EXCLUDED.action,
         match = EXCLUDED.match, description = EXCLUDED.description
       RETURNING *`,
      [rule.id, rule.priority, rule.action, JSON.stringify(rule.match), rule.description ?? null],
    );
    return ruleFromRow(result.rows[0] as RuleRow);
  }

  async listRules(): Promise<AccessRule[]> {
    const result = await this.#db.query<RuleRow>(
      'SELECT * FROM easkit_access_rules ORDER BY priority DESC, id',
    );
    return result.rows.map(ruleFromRow);
  }

  async deleteRule(ruleId: string): Promise<boolean> {
    return (await this.#db.query('DELETE FROM easkit_access_rules WHERE id = $1', [ruleId])).rowCount > 0;
  }

  // --- organisation and user switches ------------------------------------------------------------------------

  async getOrganizationSettings(): Promise<OrganizationSettings> {
    const result = await this.#db.query<{ eas_enabled: boolean; default_access: string }>(
      'SELECT eas_enabled, default_access FROM easkit_device_settings',
    );
    const row = result.rows[0];
    return {
      easEnabled: row?.eas_enabled ?? true,
      defaultAccess: (row?.default_access ?? 'allowed') as OrganizationSettings['defaultAccess'],
    };
  }

  async updateOrganizationSettings(patch: Partial<OrganizationSettings>): Promise<OrganizationSettings> {
    if (patch.easEnabled !== undefined && typeof patch.easEnabled !== 'boolean') {
      throw new InvalidArgumentError('easEnabled must be a boolean');
    }
    if (patch.defaultAccess !== undefined && !ACCESS_STATES.includes(patch.defaultAccess)) {
      throw new InvalidArgumentError('defaultAccess must be allowed, blocked or quarantined');
    }
    const result = await this.#db.query<{ eas_enabled: boolean; default_access: string }>(
      `UPDATE easkit_device_settings
          SET eas_enabled = COALESCE($1::boolean, eas_enabled),
              default_access = COALESCE($2::text, default_access)
        RETURNING eas_enabled, default_access`,
      [patch.easEnabled ?? null, patch.defaultAccess ?? null],
    );
    const row = result.rows[0] as { eas_enabled: boolean; default_access: string };
    return {
      easEnabled: row.eas_enabled,
      defaultAccess: row.default_access as OrganizationSettings['defaultAccess'],
    };
  }

  async getUserEasEnabled(user: UserId): Promise<boolean | null> {
    const result = await this.#db.query<{ eas_enabled: boolean }>(
      'SELECT eas_enabled FROM easkit_user_eas WHERE user_id = $1',
      [user],
    );
    return result.rows[0]?.eas_enabled ?? null;
  }

  async setUserEasEnabled(user: UserId, enabled: boolean | null): Promise<void> {
    requireId(user, 'user');
    if (enabled === null) {
      await this.#db.query('DELETE FROM easkit_user_eas WHERE user_id = $1', [user]);
      return;
    }
    if (typeof enabled !== 'boolean') throw new InvalidArgumentError('enabled must be a boolean or null');
    await this.#db.query(
      `INSERT INTO easkit_user_eas (user_id, eas_enabled) VALUES ($1, $2)
       ON CONFLICT (user_id) DO UPDATE SET eas_enabled = EXCLUDED.eas_enabled`,
      [user, enabled],
    );
  }

  // --- audit log ---------------------------------------------------------------------------------------------

  async appendAudit(input: AuditEntryInput): Promise<AuditEntry> {
    requireId(input.actor, 'actor');
    requireId(input.action, 'action');
    if (typeof input.target !== 'object' || input.target === null) {
      throw new InvalidArgumentError('target must be an object');
    }
    const details = input.details ?? {};
    for (const [name, value] of Object.entries(details)) {
      const type = typeof value;
      if (
        value !== null &&
        type !== 'string' &&
        type !== 'boolean' &&
        !(type === 'number' && Number.isFinite(value))
      ) {
        throw new InvalidArgumentError(`details.${name} must be a string, finite number, boolean or null`);
      }
      requireText(name, 'a details key');
      if (typeof value === 'string') requireText(value, `details.${name}`);
    }
    const target = input.target;
    const at = requireDate(input.at ?? this.#now(), 'at');
    // The identity column takes the next value of a sequence, so an entry appended after another one finished
    // always gets a larger id, and concurrent appends never share one.
    const result = await this.#db.query<AuditRow>(
      `INSERT INTO easkit_audit_log
         (at, actor, action, target_user, target_device_id, target_policy_id, target_rule_id, details)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
       RETURNING *`,
      [
        at,
        input.actor,
        input.action,
        optionalText(target.user, 'target.user'),
        optionalText(target.deviceId, 'target.deviceId'),
        optionalText(target.policyId, 'target.policyId'),
        optionalText(target.ruleId, 'target.ruleId'),
        JSON.stringify(details),
      ],
    );
    return auditFromRow(result.rows[0] as AuditRow);
  }

  async listAudit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = requireLimit(query.limit);
    const params: unknown[] = [];
    const conditions: string[] = [];
    if (query.cursor) {
      const match = /^a(\d{1,15})$/.exec(query.cursor);
      if (!match) throw new InvalidArgumentError('cursor was not made by this store');
      params.push(Number(match[1]));
      conditions.push(`id < $${params.length}`);
    }
    if (query.user !== undefined) {
      params.push(query.user);
      conditions.push(`target_user = $${params.length}`);
    }
    if (query.deviceId !== undefined) {
      params.push(query.deviceId);
      conditions.push(`target_device_id = $${params.length}`);
    }
    params.push(limit + 1);
    const result = await this.#db.query<AuditRow>(
      `SELECT * FROM easkit_audit_log
        ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''}
        ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    const entries = result.rows.slice(0, limit).map(auditFromRow);
    const last = entries.at(-1);
    return { entries, nextCursor: result.rows.length > limit && last ? `a${last.id}` : null };
  }
}

// --- rows to values ------------------------------------------------------------------------------------------

function deviceFromRow(row: DeviceRow): Device {
  const access: DeviceAccess = {
    state: row.access_state as DeviceAccess['state'],
    reason: row.access_reason as DeviceAccess['reason'],
  };
  if (row.access_rule_id !== null) access.ruleId = row.access_rule_id;
  if (row.access_note !== null) access.note = row.access_note;
  if (row.access_by !== null) access.by = row.access_by;
  if (row.access_at !== null) access.at = new Date(row.access_at);
  const wipe: DeviceWipe = { state: row.wipe_state as DeviceWipe['state'] };
  if (row.wipe_kind !== null) wipe.kind = row.wipe_kind as NonNullable<DeviceWipe['kind']>;
  if (row.wipe_requested_at !== null) wipe.requestedAt = new Date(row.wipe_requested_at);
  if (row.wipe_acknowledged_at !== null) wipe.acknowledgedAt = new Date(row.wipe_acknowledged_at);
  if (row.wipe_delivered_at !== null) wipe.deliveredAt = new Date(row.wipe_delivered_at);
  if (row.wipe_requested_by !== null) wipe.requestedBy = row.wipe_requested_by;
  const device: Device = {
    user: row.user_id,
    deviceId: row.device_id,
    deviceType: row.device_type,
    firstSeen: new Date(row.first_seen),
    lastSeen: new Date(row.last_seen),
    policyKey: toNumber(row.policy_key),
    policyState: row.policy_state as PolicyState,
    access,
    wipe,
    stats: {
      syncCount: toNumber(row.sync_count),
      pingCount: toNumber(row.ping_count),
      itemsSent: toNumber(row.items_sent),
      itemsReceived: toNumber(row.items_received),
      bytesIn: toNumber(row.bytes_in),
      bytesOut: toNumber(row.bytes_out),
    },
  };
  for (const name of DEVICE_DETAIL_NAMES) {
    const value = row[DETAIL_COLUMNS[name] as keyof DeviceRow];
    if (typeof value === 'string') (device as unknown as Record<DeviceDetailName, string>)[name] = value;
  }
  if (row.pending_policy_key !== null) device.pendingPolicyKey = toNumber(row.pending_policy_key);
  if (row.policy_version !== null) {
    device.policyVersion = { policyId: row.policy_version_policy_id, version: row.policy_version };
  }
  if (row.pending_policy_version !== null) {
    device.pendingPolicyVersion = {
      policyId: row.pending_policy_version_policy_id,
      version: row.pending_policy_version,
    };
  }
  if (row.last_sync_at !== null) device.stats.lastSyncAt = new Date(row.last_sync_at);
  if (row.last_command !== null) device.stats.lastCommand = row.last_command;
  if (row.last_command_at !== null) device.stats.lastCommandAt = new Date(row.last_command_at);
  return device;
}

/** A sighting of a known device with nothing new in it rewrites the row only when lastSeen is this much older. */
const LAST_SEEN_RESOLUTION = '30 seconds';

/**
 * The CTEs `cur`, `up` and `seen` of a sighting whose parameters `#sightingParams` made, with the access of a new
 * device given as six SQL expressions (state, reason, rule, note, by, at). `seen` is the device row as the
 * statement leaves it, with `created`. A known device's row is only written when the sighting changes its type
 * or a detail, or moves lastSeen on by more than {@link LAST_SEEN_RESOLUTION}: otherwise the INSERT gets no row
 * at all, so the statement takes no row lock and no transaction id, and writes nothing. `xmax = 0` holds for a
 * row the statement inserted, not for one it updated: that is `created`.
 */
function sightingCtes(detailParams: readonly string[], access: readonly string[]): string {
  const detailColumns = DEVICE_DETAIL_NAMES.map((name) => DETAIL_COLUMNS[name]);
  return `cur AS (
       SELECT * FROM easkit_devices WHERE user_id = $1 AND device_id = $2
     ), up AS (
       INSERT INTO easkit_devices AS d (user_id, device_id, device_type, first_seen, last_seen,
         ${detailColumns.join(', ')},
         access_state, access_reason, access_rule_id, access_note, access_by, access_at)
       SELECT $1, $2, $3, $4, $4, ${detailParams.join(', ')}, ${access.join(', ')}
        WHERE NOT EXISTS (
          SELECT 1 FROM cur
           WHERE cur.device_type = $3
             AND ${detailColumns.map((column, index) => `(${detailParams[index]}::text IS NULL OR ${detailParams[index]}::text = cur.${column})`).join('\n             AND ')}
             AND $4::timestamptz <= cur.last_seen + interval '${LAST_SEEN_RESOLUTION}')
       ON CONFLICT (user_id, device_id) DO UPDATE SET
         device_type = EXCLUDED.device_type,
         ${detailColumns.map((column) => `${column} = COALESCE(EXCLUDED.${column}, d.${column})`).join(',\n')},
         last_seen = GREATEST(d.last_seen, EXCLUDED.last_seen)
       RETURNING d.*, (d.xmax = 0) AS created
     ), seen AS (
       SELECT * FROM up
       UNION ALL
       SELECT cur.*, false AS created FROM cur WHERE NOT EXISTS (SELECT 1 FROM up)
     )`;
}

/** An id that a row can have: anything else names no device. */
function isStorableId(value: unknown): value is string {
  return typeof value === 'string' && !value.includes('\u0000');
}

function policyFromRow(row: PolicyRow): PolicyDocument {
  return {
    id: row.id,
    name: row.name,
    settings: parseJson(row.settings) as PolicySettings,
    version: row.version,
    updatedAt: new Date(row.updated_at),
    allowNonProvisionableDevices: row.allow_non_provisionable_devices,
  };
}

function ruleFromRow(row: RuleRow): AccessRule {
  const rule: AccessRule = {
    id: row.id,
    match: parseJson(row.match) as AccessRule['match'],
    action: row.action as AccessRule['action'],
    priority: Number(row.priority),
  };
  if (row.description !== null) rule.description = row.description;
  return rule;
}

function auditFromRow(row: AuditRow): AuditEntry {
  const target: AuditTarget = {};
  if (row.target_user !== null) target.user = row.target_user;
  if (row.target_device_id !== null) target.deviceId = row.target_device_id;
  if (row.target_policy_id !== null) target.policyId = row.target_policy_id;
  if (row.target_rule_id !== null) target.ruleId = row.target_rule_id;
  return {
    id: toNumber(row.id),
    at: new Date(row.at),
    actor: row.actor,
    action: row.action,
    target,
    details: parseJson(row.details) as Record<string, AuditDetail>,
  };
}

/** `jsonb` comes back parsed from both drivers; a string here is a driver configured to leave it as text. */
function parseJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

/** bigint columns come back as strings from `pg` and as numbers or bigints from PGlite. */
function toNumber(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}

// --- validation ----------------------------------------------------------------------------------------------

function requireText(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${what} must be a string`);
  if (value.includes('\u0000')) throw new InvalidArgumentError(`${what} must not contain U+0000`);
  return value;
}

function optionalText(value: unknown, what: string): string | null {
  return value === undefined || value === null ? null : requireText(value, what);
}

function requireId(value: unknown, what: string): void {
  if (typeof value !== 'string' || value === '') {
    throw new InvalidArgumentError(`${what} must be a non-empty string`);
  }
  requireText(value, what);
}

function requireDate(value: unknown, what: string): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidArgumentError(`${what} must be a valid Date`);
  }
  return value;
}

function requireLimit(value: number | undefined): number {
  const limit = value ?? DEFAULT_PAGE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
    throw new InvalidArgumentError(`limit must be an integer from 1 to ${MAX_PAGE}`);
  }
  return limit;
}

function requirePolicyKey(value: unknown, what: string): void {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > UINT32_MAX) {
    throw new InvalidArgumentError(`${what} must be an unsigned 32-bit integer`);
  }
}

function requirePolicyVersion(value: PolicyVersion, what: string): void {
  const idOk = value.policyId === null || (typeof value.policyId === 'string' && value.policyId !== '');
  if (!idOk || !Number.isSafeInteger(value.version) || value.version < 0 || value.version > 0x7fff_ffff) {
    throw new InvalidArgumentError(
      `${what} needs a policyId (string or null) and a non-negative integer version`,
    );
  }
  if (value.policyId !== null) requireText(value.policyId, `${what}.policyId`);
}

function requireAccess(access: DeviceAccess): void {
  requireText(access.state, 'access.state');
  requireText(access.reason, 'access.reason');
  for (const name of ['ruleId', 'note', 'by'] as const) optionalText(access[name], `access.${name}`);
  if (access.at !== undefined) requireDate(access.at, 'access.at');
}

function requireWipe(wipe: DeviceWipe): void {
  requireText(wipe.state, 'wipe.state');
  optionalText(wipe.kind, 'wipe.kind');
  optionalText(wipe.requestedBy, 'wipe.requestedBy');
  for (const name of ['requestedAt', 'acknowledgedAt', 'deliveredAt'] as const) {
    if (wipe[name] !== undefined) requireDate(wipe[name], `wipe.${name}`);
  }
}

/** The rule checks every DeviceStore makes (`ruleProblems` of @easkit/policy), plus what PostgreSQL text cannot hold. */
function pgRuleProblems(rule: AccessRule): string[] {
  const problems = ruleProblems(rule);
  if (rule.description !== undefined && typeof rule.description !== 'string') {
    problems.push('description must be a string');
  }
  const text = JSON.stringify([rule.id, rule.match, rule.description ?? '']);
  if (text?.includes('\\u0000')) problems.push('text must not contain U+0000');
  return problems;
}

function conflictDetail(device: Device, expected: DeviceExpectation): string {
  if (expected.policyKey !== undefined && expected.policyKey !== device.policyKey) {
    return `policy key is ${device.policyKey}, not ${expected.policyKey}`;
  }
  if (expected.policyState !== undefined && expected.policyState !== device.policyState) {
    return `policy state is ${device.policyState}`;
  }
  return 'pending policy key differs';
}

function isForeignKeyViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === FOREIGN_KEY_VIOLATION;
}

function encodeCursor(user: UserId, deviceId: string): string {
  return Buffer.from(JSON.stringify([user, deviceId]), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): [UserId, string] {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) {
      return parsed as [UserId, string];
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidArgumentError('cursor was not made by this store');
}
