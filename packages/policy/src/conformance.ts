/**
 * The behavioural tests every `DeviceStore` must pass, for adapter authors:
 *
 * ```ts
 * import { runDeviceStoreConformance } from '@easkit/policy/conformance';
 * runDeviceStoreConformance({ name: 'postgres', create: () => createPgStores({ pool }).devices });
 * ```
 *
 * This module imports vitest (an optional peer dependency); the package's main entry never loads it. Errors are
 * recognised by their `code`, so an adapter may throw subclasses of the package's error classes.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import type { AccessRule } from './access.js';
import type { Device } from './device.js';
import { checkInDevice, type DeviceSighting, type DeviceStore, recordActivities } from './device-store.js';
import type { PolicyErrorCode } from './errors.js';
import { type PolicySettings, policySettings } from './settings.js';

/** What a backend may not support. Every capability is assumed unless set to `false`. */
export interface DeviceStoreCapabilities {
  /** Runs the check that pages through 2,000 devices (turn off only for very slow backends). */
  largeListing?: boolean;
}

export type DeviceStoreCapability = keyof DeviceStoreCapabilities;

export interface DeviceStoreCheckContext {
  /** A fresh, empty store. */
  readonly store: DeviceStore;
}

export interface ConformanceCheck {
  readonly name: string;
  readonly capability?: DeviceStoreCapability;
  run(context: DeviceStoreCheckContext): Promise<void>;
}

export interface DeviceStoreConformanceOptions {
  /** Shown in the suite's title. */
  name: string;
  /** A fresh, empty store that no other check shares (its own schema, database or key prefix). */
  create: () => DeviceStore | Promise<DeviceStore>;
  capabilities?: DeviceStoreCapabilities;
  /** Runs after each check with the store it used. */
  cleanup?: (store: DeviceStore) => void | Promise<void>;
  /** Per check; default 60 s (a networked store paging through thousands of devices on a busy machine). */
  timeoutMs?: number;
}

/** Registers one vitest test per check of `deviceStoreChecks`. Call it at the top level of a test file. */
export function runDeviceStoreConformance(options: DeviceStoreConformanceOptions): void {
  describe(`DeviceStore conformance: ${options.name}`, () => {
    for (const check of deviceStoreChecks) {
      // A check of a capability the store does not claim does not apply: it is not registered.
      if (check.capability && options.capabilities?.[check.capability] === false) continue;
      it(
        check.name,
        async () => {
          const store = await options.create();
          try {
            await check.run({ store });
          } finally {
            await options.cleanup?.(store);
          }
        },
        options.timeoutMs ?? 60_000,
      );
    }
  });
}

const T0 = new Date('2026-03-01T08:00:00.000Z');
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);
const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';

function sighting(user: string, deviceId: string, extra: Partial<DeviceSighting> = {}): DeviceSighting {
  return { user, deviceId, deviceType: 'iPhone', ...extra };
}

async function rejectsWith(promise: Promise<unknown>, code: PolicyErrorCode, what: string): Promise<void> {
  await assert.rejects(
    promise,
    (error: unknown) => {
      assert.equal((error as { code?: unknown }).code, code, `${what}: expected an error with code ${code}`);
      return true;
    },
    `${what}: expected a rejection with code ${code}`,
  );
}

function time(date: Date | undefined): number | undefined {
  return date?.getTime();
}

function keys(devices: readonly Device[]): string[] {
  return devices.map((device) => `${device.user}/${device.deviceId}`);
}

async function listEverything(store: DeviceStore, limit: number): Promise<Device[]> {
  const all: Device[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    assert.ok(pages < 10_000, 'listAllDevices never returned a null cursor');
    const page = await store.listAllDevices({ limit, cursor });
    assert.ok(page.devices.length <= limit, 'a page is never longer than its limit');
    all.push(...page.devices);
    if (page.nextCursor === null) return all;
    assert.ok(page.devices.length > 0, 'a page with a next cursor has devices');
    cursor = page.nextCursor;
  }
}

const rule = (id: string, priority: number, extra: Partial<AccessRule> = {}): AccessRule => ({
  id,
  priority,
  action: 'block',
  match: { deviceType: 'Android' },
  ...extra,
});

/** Every check of the DeviceStore contract, in the order the suite registers them. */
export const deviceStoreChecks: readonly ConformanceCheck[] = [
  // --- devices ---------------------------------------------------------------------------------------------
  {
    name: 'upsertDevice creates a device in its documented initial state',
    async run({ store }) {
      const { device, created } = await store.upsertDevice(
        sighting(ALICE, 'D1', {
          model: 'iPhone15,2',
          userAgent: 'Apple-iPhone15C2/2101.1',
          protocolVersion: '16.1',
        }),
        at(0),
      );
      assert.equal(created, true);
      const stored = await store.getDevice(ALICE, 'D1');
      for (const each of [device, stored]) {
        assert.ok(each);
        assert.equal(each.user, ALICE);
        assert.equal(each.deviceId, 'D1');
        assert.equal(each.deviceType, 'iPhone');
        assert.equal(each.model, 'iPhone15,2');
        assert.equal(each.userAgent, 'Apple-iPhone15C2/2101.1');
        assert.equal(each.protocolVersion, '16.1');
        assert.equal(each.friendlyName, undefined);
        assert.equal(time(each.firstSeen), T0.getTime());
        assert.equal(time(each.lastSeen), T0.getTime());
        assert.equal(each.policyKey, 0);
        assert.equal(each.policyState, 'none');
        assert.equal(each.pendingPolicyKey, undefined);
        assert.deepEqual(each.access, { state: 'allowed', reason: 'global-default' });
        assert.equal(each.wipe.state, 'none');
        assert.deepEqual(
          { ...each.stats },
          { syncCount: 0, pingCount: 0, itemsSent: 0, itemsReceived: 0, bytesIn: 0, bytesOut: 0 },
        );
      }
      const quarantined = await store.upsertDevice(
        sighting(ALICE, 'D2', { initialAccess: { state: 'quarantined', reason: 'rule', ruleId: 'r1' } }),
        at(0),
      );
      assert.deepEqual(quarantined.device.access, { state: 'quarantined', reason: 'rule', ruleId: 'r1' });
    },
  },
  {
    name: 'upsertDevice on a known device updates the details it carries and nothing else',
    async run({ store }) {
      await store.upsertDevice(
        sighting(ALICE, 'D1', { model: 'old model', os: 'iOS 17', imei: '35' }),
        at(0),
      );
      await store.updateDevice(ALICE, 'D1', {
        policyKey: 1234,
        policyState: 'provisioned',
        access: { state: 'blocked', reason: 'individual' },
        wipe: { state: 'requested', kind: 'full', requestedAt: at(1), requestedBy: 'admin' },
      });
      await store.recordSync(ALICE, 'D1', { command: 'Sync', at: at(1), itemsSent: 3 });
      const { device, created } = await store.upsertDevice(
        sighting(ALICE, 'D1', {
          deviceType: 'iPad',
          model: 'new model',
          initialAccess: { state: 'allowed', reason: 'global-default' },
        }),
        at(2),
      );
      assert.equal(created, false);
      const stored = await store.getDevice(ALICE, 'D1');
      for (const each of [device, stored]) {
        assert.ok(each);
        assert.equal(each.deviceType, 'iPad');
        assert.equal(each.model, 'new model');
        assert.equal(each.os, 'iOS 17', 'details the sighting omits stay');
        assert.equal(each.imei, '35');
        assert.equal(each.policyKey, 1234);
        assert.equal(each.policyState, 'provisioned');
        assert.deepEqual(
          each.access,
          { state: 'blocked', reason: 'individual' },
          'initialAccess only applies on creation',
        );
        assert.equal(each.wipe.state, 'requested');
        assert.equal(time(each.wipe.requestedAt), at(1).getTime());
        assert.equal(each.stats.syncCount, 1);
        assert.equal(each.stats.itemsSent, 3);
      }
    },
  },
  {
    name: 'concurrent first sightings of one device create it exactly once',
    async run({ store }) {
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, index) =>
          store.upsertDevice(sighting(ALICE, 'NEW', { model: `m${index}` }), at(index)),
        ),
      );
      assert.equal(results.filter((result) => result.created).length, 1, 'exactly one call reports created');
      assert.deepEqual(keys(await store.listDevices(ALICE)), [`${ALICE}/NEW`]);
      const stored = await store.getDevice(ALICE, 'NEW');
      assert.equal(time(stored?.lastSeen), at(5).getTime());
      assert.equal(time(stored?.firstSeen), time(results.find((result) => result.created)?.device.firstSeen));
    },
  },
  {
    name: 'firstSeen never changes and lastSeen only moves forward',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(10));
      await store.upsertDevice(sighting(ALICE, 'D1'), at(20));
      const late = await store.upsertDevice(sighting(ALICE, 'D1'), at(15));
      assert.equal(time(late.device.firstSeen), at(10).getTime());
      assert.equal(time(late.device.lastSeen), at(20).getTime());
      await store.upsertDevice(sighting(ALICE, 'D1'), at(5));
      const stored = await store.getDevice(ALICE, 'D1');
      assert.equal(time(stored?.firstSeen), at(10).getTime());
      assert.equal(time(stored?.lastSeen), at(20).getTime());
    },
  },
  {
    name: 'devices are identified by (user, deviceId): the same deviceId under two users is two devices',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'SAME', { model: 'alice phone' }), at(0));
      await store.upsertDevice(sighting(BOB, 'SAME', { model: 'bob phone' }), at(1));
      await store.upsertDevice(sighting(`${ALICE}x`, 'SAME', { model: 'prefix user' }), at(1));
      await store.updateDevice(BOB, 'SAME', { policyKey: 7 });
      await store.recordSync(BOB, 'SAME', { command: 'Sync', at: at(2) });
      const alice = await store.getDevice(ALICE, 'SAME');
      assert.equal(alice?.model, 'alice phone');
      assert.equal(alice?.policyKey, 0);
      assert.equal(alice?.stats.syncCount, 0);
      assert.equal(time(alice?.lastSeen), at(0).getTime());
      assert.equal((await store.getDevice(BOB, 'SAME'))?.model, 'bob phone');
      assert.equal(await store.deleteDevice(BOB, 'SAME'), true);
      assert.ok(await store.getDevice(ALICE, 'SAME'));
      assert.deepEqual(keys(await store.listDevices(ALICE)), [`${ALICE}/SAME`]);
    },
  },
  {
    name: 'getDevice returns null for an unknown device',
    async run({ store }) {
      assert.equal(await store.getDevice(ALICE, 'nope'), null);
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      assert.equal(await store.getDevice(ALICE, 'd1'), null);
      assert.equal(await store.getDevice(BOB, 'D1'), null);
    },
  },
  {
    name: 'returned values are copies: changing them never changes the store',
    async run({ store }) {
      const { device } = await store.upsertDevice(sighting(ALICE, 'D1', { model: 'm' }), at(0));
      device.model = 'changed';
      device.access.state = 'blocked';
      device.stats.syncCount = 99;
      device.lastSeen.setTime(0);
      const fetched = await store.getDevice(ALICE, 'D1');
      assert.ok(fetched);
      assert.equal(fetched.model, 'm');
      assert.equal(fetched.access.state, 'allowed');
      assert.equal(fetched.stats.syncCount, 0);
      assert.equal(time(fetched.lastSeen), at(0).getTime());
      fetched.wipe.state = 'pending';
      (await store.listDevices(ALICE))[0]!.policyKey = 5;
      const again = await store.getDevice(ALICE, 'D1');
      assert.equal(again?.wipe.state, 'none');
      assert.equal(again?.policyKey, 0);
      await store.updateDevice(ALICE, 'D1', { model: 'later' });
      assert.equal(fetched.model, 'm', 'a later write does not change an object returned earlier');
    },
  },
  {
    name: 'listDevices returns exactly one user’s devices, sorted by deviceId',
    async run({ store }) {
      for (const id of ['c', 'A', 'b', 'B', 'a']) await store.upsertDevice(sighting(ALICE, id), at(0));
      await store.upsertDevice(sighting(BOB, 'a'), at(0));
      assert.deepEqual(
        (await store.listDevices(ALICE)).map((device) => device.deviceId),
        ['A', 'B', 'a', 'b', 'c'],
      );
      assert.deepEqual(await store.listDevices('nobody@example.com'), []);
    },
  },
  {
    name: 'listAllDevices pages through every device exactly once, in (user, deviceId) order',
    async run({ store }) {
      assert.deepEqual(await store.listAllDevices(), { devices: [], nextCursor: null });
      const expected: string[] = [];
      for (const user of [BOB, ALICE, 'carol@example.com']) {
        for (let index = 0; index < 8; index++) {
          await store.upsertDevice(sighting(user, `dev-${index}`), at(index));
          expected.push(`${user}/dev-${index}`);
        }
      }
      expected.sort((a, b) => (a < b ? -1 : 1));
      for (const limit of [1, 7, 8, 24, 100]) {
        assert.deepEqual(keys(await listEverything(store, limit)), expected, `pages of ${limit}`);
      }
      const exact = await store.listAllDevices({ limit: 24 });
      assert.equal(exact.devices.length, 24);
      const rest =
        exact.nextCursor === null
          ? []
          : (await store.listAllDevices({ limit: 24, cursor: exact.nextCursor })).devices;
      assert.deepEqual(rest, [], 'nothing after the last device');
    },
  },
  {
    name: 'listAllDevices returns each device that exists for the whole walk exactly once, despite writes between pages',
    async run({ store }) {
      const stable: string[] = [];
      for (let index = 0; index < 30; index++) {
        const user = `user${String(index % 3)}@example.com`;
        await store.upsertDevice(sighting(user, `keep-${String(index).padStart(2, '0')}`), at(0));
        await store.upsertDevice(sighting(user, `drop-${String(index).padStart(2, '0')}`), at(0));
        stable.push(`${user}/keep-${String(index).padStart(2, '0')}`);
      }
      const seen: string[] = [];
      let cursor: string | null = null;
      let round = 0;
      do {
        const page: Awaited<ReturnType<DeviceStore['listAllDevices']>> = await store.listAllDevices({
          limit: 5,
          cursor,
        });
        seen.push(...keys(page.devices));
        cursor = page.nextCursor;
        // Between pages: delete devices on both sides of the cursor and add new ones before, at and after it.
        round++;
        for (const user of ['user0@example.com', 'user1@example.com', 'user2@example.com']) {
          const victims = (await store.listDevices(user)).filter((device) =>
            device.deviceId.startsWith('drop-'),
          );
          if (victims[0]) await store.deleteDevice(user, victims[0].deviceId);
          if (victims.at(-1)) await store.deleteDevice(user, victims.at(-1)!.deviceId);
          // Adding stops after a few pages, so that even a store that pages by offset finishes its walk.
          if (round <= 6) await store.upsertDevice(sighting(user, `added-${round}`), at(round));
        }
        if (round <= 6) {
          await store.upsertDevice(sighting(`a${round}@example.com`, 'x'), at(round));
          await store.upsertDevice(sighting(`z${round}@example.com`, 'x'), at(round));
        }
        assert.ok(round < 200, 'the walk ends');
      } while (cursor !== null);
      const counts = new Map<string, number>();
      for (const key of seen) counts.set(key, (counts.get(key) ?? 0) + 1);
      for (const key of stable) assert.equal(counts.get(key), 1, `${key} is listed exactly once`);
      for (const [key, count] of counts) assert.equal(count, 1, `${key} is listed once at most`);
    },
  },
  {
    name: 'listAllDevices rejects a bad limit or a foreign cursor with InvalidArgumentError',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      for (const limit of [0, -1, 1.5, 1001, Number.NaN]) {
        await rejectsWith(store.listAllDevices({ limit }), 'invalid-argument', `limit ${limit}`);
      }
      await rejectsWith(
        store.listAllDevices({ cursor: '%%% not a cursor %%%' }),
        'invalid-argument',
        'a foreign cursor',
      );
    },
  },
  {
    name: 'updateDevice applies a partial patch, clears fields with null and returns the stored device',
    async run({ store }) {
      await store.upsertDevice(
        sighting(ALICE, 'D1', {
          model: 'm',
          friendlyName: 'Alice’s phone',
          phoneNumber: '+1 555',
          os: 'iOS',
        }),
        at(0),
      );
      const updated = await store.updateDevice(ALICE, 'D1', {
        friendlyName: null,
        phoneNumber: '+1 556',
        policyKey: 0xffff_ffff,
        policyState: 'pending',
        pendingPolicyKey: 42,
        access: { state: 'quarantined', reason: 'rule', ruleId: 'r9' },
        wipe: {
          state: 'acknowledged',
          kind: 'account-only',
          requestedAt: at(1),
          acknowledgedAt: at(2),
          requestedBy: 'admin',
        },
      });
      const stored = await store.getDevice(ALICE, 'D1');
      for (const each of [updated, stored]) {
        assert.ok(each);
        assert.equal(each.model, 'm');
        assert.equal(each.os, 'iOS');
        assert.equal(each.friendlyName, undefined);
        assert.equal(each.phoneNumber, '+1 556');
        assert.equal(each.policyKey, 0xffff_ffff);
        assert.equal(each.policyState, 'pending');
        assert.equal(each.pendingPolicyKey, 42);
        assert.deepEqual(each.access, { state: 'quarantined', reason: 'rule', ruleId: 'r9' });
        assert.equal(each.wipe.state, 'acknowledged');
        assert.equal(each.wipe.kind, 'account-only');
        assert.equal(time(each.wipe.acknowledgedAt), at(2).getTime());
        assert.equal(each.wipe.requestedBy, 'admin');
        assert.equal(time(each.firstSeen), at(0).getTime());
      }
      const cleared = await store.updateDevice(ALICE, 'D1', {
        pendingPolicyKey: null,
        access: { state: 'allowed', reason: 'individual' },
      });
      assert.equal(cleared.pendingPolicyKey, undefined);
      assert.deepEqual(
        cleared.access,
        { state: 'allowed', reason: 'individual' },
        'access is replaced as a whole',
      );
      assert.equal((await store.getDevice(ALICE, 'D1'))?.pendingPolicyKey, undefined);
    },
  },
  {
    name: 'updateDevice on an unknown device throws DeviceNotFoundError',
    async run({ store }) {
      await rejectsWith(
        store.updateDevice(ALICE, 'nope', { policyKey: 1 }),
        'device-not-found',
        'updateDevice',
      );
      await store.upsertDevice(sighting(BOB, 'nope'), at(0));
      await rejectsWith(
        store.updateDevice(ALICE, 'nope', { policyKey: 1 }),
        'device-not-found',
        'another user’s id',
      );
    },
  },
  {
    name: 'updateDevice with expected is a compare-and-set: a mismatch throws DeviceConflictError and writes nothing',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      await store.updateDevice(ALICE, 'D1', { policyKey: 10, policyState: 'pending', pendingPolicyKey: 11 });
      await rejectsWith(
        store.updateDevice(ALICE, 'D1', { policyKey: 11, model: 'x' }, { policyKey: 9 }),
        'device-conflict',
        'wrong policyKey',
      );
      await rejectsWith(
        store.updateDevice(ALICE, 'D1', { policyKey: 11 }, { pendingPolicyKey: null }),
        'device-conflict',
        'expected no pending key',
      );
      await rejectsWith(
        store.updateDevice(ALICE, 'D1', { policyKey: 11 }, { policyKey: 10, policyState: 'provisioned' }),
        'device-conflict',
        'wrong policyState',
      );
      const unchanged = await store.getDevice(ALICE, 'D1');
      assert.equal(unchanged?.policyKey, 10);
      assert.equal(unchanged?.model, undefined);
      const done = await store.updateDevice(
        ALICE,
        'D1',
        { policyKey: 11, policyState: 'provisioned', pendingPolicyKey: null },
        { policyKey: 10, pendingPolicyKey: 11, policyState: 'pending' },
      );
      assert.equal(done.policyKey, 11);
      assert.equal(done.policyState, 'provisioned');
    },
  },
  {
    name: 'of concurrent updates expecting the same policy key, exactly one wins',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      const attempts = Array.from({ length: 8 }, (_, index) =>
        store.updateDevice(ALICE, 'D1', { policyKey: 100 + index }, { policyKey: 0 }),
      );
      const results = await Promise.allSettled(attempts);
      const won = results.flatMap((result) =>
        result.status === 'fulfilled' ? [result.value.policyKey] : [],
      );
      assert.equal(won.length, 1, 'exactly one update succeeds');
      for (const result of results) {
        if (result.status === 'rejected')
          assert.equal((result.reason as { code?: unknown }).code, 'device-conflict');
      }
      assert.equal((await store.getDevice(ALICE, 'D1'))?.policyKey, won[0]);
    },
  },
  {
    name: 'updateDevice rejects a policy key that is not an unsigned 32-bit integer, writing nothing',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      for (const policyKey of [-1, 2 ** 32, 1.5]) {
        await rejectsWith(
          store.updateDevice(ALICE, 'D1', { policyKey, model: 'x' }),
          'invalid-argument',
          `key ${policyKey}`,
        );
        await rejectsWith(
          store.updateDevice(ALICE, 'D1', { pendingPolicyKey: policyKey }),
          'invalid-argument',
          'pending',
        );
      }
      const device = await store.getDevice(ALICE, 'D1');
      assert.equal(device?.policyKey, 0);
      assert.equal(device?.model, undefined);
    },
  },
  {
    name: 'deleteDevice removes only that device, says whether it existed, and a re-created device starts fresh',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      await store.upsertDevice(sighting(ALICE, 'D2'), at(0));
      await store.updateDevice(ALICE, 'D1', {
        policyKey: 5,
        access: { state: 'blocked', reason: 'individual' },
      });
      await store.recordSync(ALICE, 'D1', { command: 'Sync', at: at(1), bytesIn: 10 });
      assert.equal(await store.deleteDevice(ALICE, 'D1'), true);
      assert.equal(await store.deleteDevice(ALICE, 'D1'), false);
      assert.equal(await store.deleteDevice(ALICE, 'never'), false);
      assert.equal(await store.getDevice(ALICE, 'D1'), null);
      assert.deepEqual(keys(await store.listDevices(ALICE)), [`${ALICE}/D2`]);
      assert.deepEqual(keys((await store.listAllDevices()).devices), [`${ALICE}/D2`]);
      const { device, created } = await store.upsertDevice(sighting(ALICE, 'D1'), at(5));
      assert.equal(created, true);
      assert.equal(device.policyKey, 0);
      assert.equal(device.access.state, 'allowed');
      assert.equal(device.stats.syncCount, 0);
      assert.equal(device.stats.bytesIn, 0);
      assert.equal(time(device.firstSeen), at(5).getTime());
    },
  },
  {
    name: 'recordSync adds to the counters and tracks the last Sync and the last command',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      await store.recordSync(ALICE, 'D1', {
        command: 'Sync',
        at: at(1),
        itemsSent: 5,
        itemsReceived: 1,
        bytesIn: 100,
        bytesOut: 2000,
      });
      await store.recordSync(ALICE, 'D1', { command: 'Ping', at: at(3), bytesIn: 50, bytesOut: 20 });
      await store.recordSync(ALICE, 'D1', { command: 'Sync', at: at(2), itemsSent: 2 });
      const returned = await store.recordSync(ALICE, 'D1', { command: 'FolderSync', at: at(2) });
      const stored = await store.getDevice(ALICE, 'D1');
      for (const each of [returned, stored]) {
        assert.ok(each);
        assert.equal(each.stats.syncCount, 2);
        assert.equal(each.stats.pingCount, 1);
        assert.equal(each.stats.itemsSent, 7);
        assert.equal(each.stats.itemsReceived, 1);
        assert.equal(each.stats.bytesIn, 150);
        assert.equal(each.stats.bytesOut, 2020);
        assert.equal(time(each.stats.lastSyncAt), at(2).getTime(), 'the latest Sync by time');
        assert.equal(each.stats.lastCommand, 'Ping', 'the latest command by time, not by arrival');
        assert.equal(time(each.stats.lastCommandAt), at(3).getTime());
      }
    },
  },
  {
    name: 'concurrent recordSync calls lose no increment',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      await Promise.all(
        Array.from({ length: 50 }, (_, index) =>
          store.recordSync(ALICE, 'D1', {
            command: index % 5 === 0 ? 'Ping' : 'Sync',
            at: at(index),
            itemsSent: 1,
            bytesOut: 10,
          }),
        ),
      );
      const stats = (await store.getDevice(ALICE, 'D1'))?.stats;
      assert.equal(stats?.syncCount, 40);
      assert.equal(stats?.pingCount, 10);
      assert.equal(stats?.itemsSent, 50);
      assert.equal(stats?.bytesOut, 500);
    },
  },
  {
    name: 'recordSync refuses unknown devices and bad counts, changing nothing',
    async run({ store }) {
      await rejectsWith(
        store.recordSync(ALICE, 'nope', { command: 'Sync', at: at(0) }),
        'device-not-found',
        'unknown',
      );
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      await rejectsWith(
        store.recordSync(ALICE, 'D1', { command: 'Sync', at: at(1), itemsSent: -1 }),
        'invalid-argument',
        'negative',
      );
      await rejectsWith(
        store.recordSync(ALICE, 'D1', { command: 'Sync', at: at(1), bytesIn: 0.5 }),
        'invalid-argument',
        'fractional',
      );
      const stats = (await store.getDevice(ALICE, 'D1'))?.stats;
      assert.equal(stats?.syncCount, 0);
      assert.equal(stats?.lastSyncAt, undefined);
      assert.equal(stats?.bytesIn, 0);
    },
  },
  {
    name: 'upsertDevice refuses an empty user, deviceId or deviceType',
    async run({ store }) {
      await rejectsWith(store.upsertDevice(sighting('', 'D1'), at(0)), 'invalid-argument', 'empty user');
      await rejectsWith(store.upsertDevice(sighting(ALICE, ''), at(0)), 'invalid-argument', 'empty deviceId');
      await rejectsWith(
        store.upsertDevice(sighting(ALICE, 'D1', { deviceType: '' }), at(0)),
        'invalid-argument',
        'type',
      );
      assert.deepEqual((await store.listAllDevices()).devices, []);
    },
  },
  // --- policies --------------------------------------------------------------------------------------------
  {
    name: 'putPolicy creates version 1 and every replace adds one; getPolicy returns the latest or null',
    async run({ store }) {
      assert.equal(await store.getPolicy('strict'), null);
      const first = await store.putPolicy({
        id: 'strict',
        name: 'Strict',
        settings: policySettings({ devicePasswordEnabled: true }),
      });
      assert.equal(first.version, 1);
      assert.ok(first.updatedAt instanceof Date);
      const second = await store.putPolicy({
        id: 'strict',
        name: 'Strict (v2)',
        settings: policySettings({
          devicePasswordEnabled: true,
          minDevicePasswordLength: 8,
          approvedApplicationList: ['0a1b'],
        }),
      });
      assert.equal(second.version, 2);
      const stored = await store.getPolicy('strict');
      assert.equal(stored?.version, 2);
      assert.equal(stored?.name, 'Strict (v2)');
      assert.deepEqual(stored?.settings, second.settings);
      assert.equal(stored?.settings.minDevicePasswordLength, 8);
      assert.deepEqual(stored?.settings.approvedApplicationList, ['0a1b']);
      assert.equal(
        stored?.settings.maxInactivityTimeDeviceLock,
        null,
        'null settings survive the round trip',
      );
      const other = await store.putPolicy({ id: 'other', name: 'Other', settings: policySettings() });
      assert.equal(other.version, 1, 'versions count per policy');
    },
  },
  {
    name: 'putPolicy with expectedVersion is a compare-and-set (0 means the policy must not exist)',
    async run({ store }) {
      await rejectsWith(
        store.putPolicy({ id: 'p', name: 'P', settings: policySettings(), expectedVersion: 1 }),
        'policy-conflict',
        'expecting version 1 of a missing policy',
      );
      assert.equal(await store.getPolicy('p'), null);
      await store.putPolicy({ id: 'p', name: 'P', settings: policySettings(), expectedVersion: 0 });
      await rejectsWith(
        store.putPolicy({ id: 'p', name: 'P again', settings: policySettings(), expectedVersion: 0 }),
        'policy-conflict',
        'creating an existing policy',
      );
      const next = await store.putPolicy({
        id: 'p',
        name: 'P2',
        settings: policySettings(),
        expectedVersion: 1,
      });
      assert.equal(next.version, 2);
      assert.equal((await store.getPolicy('p'))?.name, 'P2');
    },
  },
  {
    name: 'of concurrent putPolicy calls expecting the same version, exactly one wins',
    async run({ store }) {
      await store.putPolicy({ id: 'p', name: 'P', settings: policySettings() });
      const results = await Promise.allSettled(
        Array.from({ length: 6 }, (_, index) =>
          store.putPolicy({
            id: 'p',
            name: `writer ${index}`,
            settings: policySettings(),
            expectedVersion: 1,
          }),
        ),
      );
      const won = results.filter((result) => result.status === 'fulfilled');
      assert.equal(won.length, 1, 'exactly one write succeeds');
      const stored = await store.getPolicy('p');
      assert.equal(stored?.version, 2);
      assert.equal(stored?.name, won[0]?.status === 'fulfilled' ? won[0].value.name : undefined);
    },
  },
  {
    name: 'putPolicy refuses invalid settings with InvalidPolicyError listing the issues, writing nothing',
    async run({ store }) {
      const bad = {
        ...policySettings(),
        minDevicePasswordLength: 40,
        maxEmailAgeFilter: 9,
      } as unknown as PolicySettings;
      await assert.rejects(store.putPolicy({ id: 'p', name: 'P', settings: bad }), (error: unknown) => {
        assert.equal((error as { code?: unknown }).code, 'invalid-policy');
        const issues = (error as { issues?: Array<{ setting?: string }> }).issues ?? [];
        assert.deepEqual(issues.map((issue) => issue.setting).sort(), [
          'maxEmailAgeFilter',
          'minDevicePasswordLength',
        ]);
        return true;
      });
      await rejectsWith(
        store.putPolicy({ id: '', name: 'P', settings: policySettings() }),
        'invalid-policy',
        'empty id',
      );
      assert.equal(await store.getPolicy('p'), null);
      assert.deepEqual(await store.listPolicies(), []);
    },
  },
  {
    name: 'listPolicies returns every policy sorted by id, as copies',
    async run({ store }) {
      for (const id of ['b', 'C', 'a']) await store.putPolicy({ id, name: id, settings: policySettings() });
      const listed = await store.listPolicies();
      assert.deepEqual(
        listed.map((policy) => policy.id),
        ['C', 'a', 'b'],
      );
      listed[0]!.settings.allowCamera = false;
      listed[0]!.settings.approvedApplicationList.push('x');
      const again = await store.getPolicy('C');
      assert.equal(again?.settings.allowCamera, true);
      assert.deepEqual(again?.settings.approvedApplicationList, []);
    },
  },
  {
    name: 'a user’s own policy beats the default; resolvePolicy follows new versions; unknown ids are refused',
    async run({ store }) {
      assert.equal(await store.resolvePolicy(ALICE), null, 'no policy at all');
      assert.deepEqual(await store.getPolicyAssignment(ALICE), { assigned: null, default: null });
      await store.putPolicy({ id: 'base', name: 'Base', settings: policySettings() });
      await store.putPolicy({
        id: 'strict',
        name: 'Strict',
        settings: policySettings({ devicePasswordEnabled: true }),
      });
      await store.setDefaultPolicy('base');
      await store.assignPolicy(ALICE, 'strict');
      assert.equal((await store.resolvePolicy(ALICE))?.id, 'strict');
      assert.equal((await store.resolvePolicy(BOB))?.id, 'base');
      assert.deepEqual(await store.getPolicyAssignment(ALICE), { assigned: 'strict', default: 'base' });
      await store.putPolicy({
        id: 'strict',
        name: 'Strict',
        settings: policySettings({ allowCamera: false }),
      });
      const resolved = await store.resolvePolicy(ALICE);
      assert.equal(resolved?.version, 2);
      assert.equal(resolved?.settings.allowCamera, false);
      await rejectsWith(store.assignPolicy(BOB, 'missing'), 'policy-not-found', 'assignPolicy');
      await rejectsWith(store.setDefaultPolicy('missing'), 'policy-not-found', 'setDefaultPolicy');
      assert.equal((await store.resolvePolicy(BOB))?.id, 'base', 'a refused assignment changes nothing');
      await store.assignPolicy(ALICE, null);
      assert.equal((await store.resolvePolicy(ALICE))?.id, 'base');
      await store.setDefaultPolicy(null);
      assert.equal(await store.resolvePolicy(ALICE), null);
    },
  },
  {
    name: 'deletePolicy refuses an assigned or default policy and reports an unknown one',
    async run({ store }) {
      await rejectsWith(store.deletePolicy('missing'), 'policy-not-found', 'unknown policy');
      await store.putPolicy({ id: 'a', name: 'A', settings: policySettings() });
      await store.putPolicy({ id: 'b', name: 'B', settings: policySettings() });
      await store.assignPolicy(ALICE, 'a');
      await store.setDefaultPolicy('b');
      await rejectsWith(store.deletePolicy('a'), 'policy-in-use', 'assigned to a user');
      await rejectsWith(store.deletePolicy('b'), 'policy-in-use', 'the default');
      assert.equal((await store.listPolicies()).length, 2);
      await store.assignPolicy(ALICE, null);
      await store.setDefaultPolicy(null);
      await store.deletePolicy('a');
      await store.deletePolicy('b');
      assert.deepEqual(await store.listPolicies(), []);
      assert.equal(await store.getPolicy('a'), null);
    },
  },
  // --- access rules ----------------------------------------------------------------------------------------
  {
    name: 'putRule stores and replaces rules by id; listRules sorts by priority then id; deleteRule says whether it existed',
    async run({ store }) {
      assert.deepEqual(await store.listRules(), []);
      await store.putRule(rule('b', 10));
      await store.putRule(rule('a', 10));
      await store.putRule(rule('low', -5));
      await store.putRule(rule('high', 100, { action: 'allow', match: { userAgent: 'Outlook-iOS/*' } }));
      assert.deepEqual(
        (await store.listRules()).map((each) => each.id),
        ['high', 'a', 'b', 'low'],
      );
      const replaced = await store.putRule(rule('low', 1000, { action: 'quarantine' }));
      assert.equal(replaced.priority, 1000);
      const listed = await store.listRules();
      assert.deepEqual(
        listed.map((each) => each.id),
        ['low', 'high', 'a', 'b'],
      );
      assert.equal(listed[0]?.action, 'quarantine');
      assert.equal(await store.deleteRule('a'), true);
      assert.equal(await store.deleteRule('a'), false);
      assert.deepEqual(
        (await store.listRules()).map((each) => each.id),
        ['low', 'high', 'b'],
      );
    },
  },
  {
    name: 'rules keep every match field and the description, and are returned as copies',
    async run({ store }) {
      const full: AccessRule = {
        id: 'full',
        priority: 3,
        action: 'quarantine',
        match: { deviceType: 'Android', model: 'Pixel*', userAgent: 'Android-Mail/*', user: '*@example.com' },
        description: 'new Android phones wait for an administrator',
      };
      assert.deepEqual(await store.putRule(full), full);
      const [listed] = await store.listRules();
      assert.deepEqual(listed, full);
      listed!.match.model = 'changed';
      assert.deepEqual((await store.listRules())[0], full);
      full.priority = 99;
      assert.equal((await store.listRules())[0]?.priority, 3, 'the caller’s object is not kept by reference');
    },
  },
  {
    name: 'putRule refuses malformed rules with InvalidRuleError',
    async run({ store }) {
      const bad: AccessRule[] = [
        rule('', 1),
        rule('x', 1.5),
        { ...rule('x', 1), action: 'explode' as AccessRule['action'] },
        rule('x', 1, { match: { deviceType: '' } }),
      ];
      for (const each of bad) await rejectsWith(store.putRule(each), 'invalid-rule', JSON.stringify(each));
      assert.deepEqual(await store.listRules(), []);
    },
  },
  // --- provisioning records, organisation switches, audit (added with the policy gate) ---------------------
  {
    name: 'policyVersion and pendingPolicyVersion are stored, cleared with null and kept by later sightings',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      assert.equal((await store.getDevice(ALICE, 'D1'))?.policyVersion, undefined, 'absent on a new device');
      const pending = await store.updateDevice(ALICE, 'D1', {
        pendingPolicyKey: 5,
        pendingPolicyVersion: { policyId: 'staff', version: 3 },
      });
      assert.deepEqual(pending.pendingPolicyVersion, { policyId: 'staff', version: 3 });
      await store.updateDevice(
        ALICE,
        'D1',
        {
          policyKey: 6,
          policyState: 'provisioned',
          pendingPolicyKey: null,
          policyVersion: { policyId: 'staff', version: 3 },
          pendingPolicyVersion: null,
        },
        { pendingPolicyKey: 5 },
      );
      await store.upsertDevice(sighting(ALICE, 'D1', { protocolVersion: '12.1' }), at(1));
      const stored = await store.getDevice(ALICE, 'D1');
      assert.deepEqual(stored?.policyVersion, { policyId: 'staff', version: 3 });
      assert.equal(stored?.pendingPolicyVersion, undefined);
      await store.updateDevice(ALICE, 'D1', { policyVersion: { policyId: null, version: 1 } });
      assert.deepEqual(
        (await store.getDevice(ALICE, 'D1'))?.policyVersion,
        {
          policyId: null,
          version: 1,
        },
        'policyId null (the built-in default) is kept as null',
      );
      await store.updateDevice(ALICE, 'D1', { policyVersion: null });
      assert.equal((await store.getDevice(ALICE, 'D1'))?.policyVersion, undefined);
      await rejectsWith(
        store.updateDevice(ALICE, 'D1', { policyKey: 9, policyVersion: { policyId: 'x', version: -1 } }),
        'invalid-argument',
        'a negative policy version',
      );
      assert.equal((await store.getDevice(ALICE, 'D1'))?.policyKey, 6, 'a refused patch writes nothing');
    },
  },
  {
    name: 'access notes and wipe delivery times round-trip',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      await store.updateDevice(ALICE, 'D1', {
        access: {
          state: 'quarantined',
          reason: 'individual',
          note: 'waiting for IT',
          by: 'admin',
          at: at(1),
        },
        wipe: {
          state: 'pending',
          kind: 'full',
          requestedAt: at(2),
          deliveredAt: at(3),
          requestedBy: 'admin',
        },
      });
      const stored = await store.getDevice(ALICE, 'D1');
      assert.ok(stored);
      assert.equal(stored.access.note, 'waiting for IT');
      assert.equal(stored.access.by, 'admin');
      assert.equal(time(stored.access.at), at(1).getTime());
      assert.equal(time(stored.wipe.deliveredAt), at(3).getTime());
      assert.equal(time(stored.wipe.requestedAt), at(2).getTime());
    },
  },
  {
    name: 'allowNonProvisionableDevices defaults to false and is stored with each version',
    async run({ store }) {
      const first = await store.putPolicy({ id: 'p', name: 'P', settings: policySettings() });
      assert.equal(first.allowNonProvisionableDevices, false);
      const second = await store.putPolicy({
        id: 'p',
        name: 'P',
        settings: policySettings(),
        allowNonProvisionableDevices: true,
      });
      assert.equal(second.allowNonProvisionableDevices, true);
      assert.equal((await store.getPolicy('p'))?.allowNonProvisionableDevices, true);
      await store.setDefaultPolicy('p');
      assert.equal((await store.resolvePolicy(BOB))?.allowNonProvisionableDevices, true);
      await store.putPolicy({ id: 'p', name: 'P', settings: policySettings() });
      assert.equal((await store.getPolicy('p'))?.allowNonProvisionableDevices, false, 'absent means false');
    },
  },
  {
    name: 'organisation settings start enabled and allowed, and change field by field',
    async run({ store }) {
      assert.deepEqual(await store.getOrganizationSettings(), { easEnabled: true, defaultAccess: 'allowed' });
      assert.deepEqual(await store.updateOrganizationSettings({ defaultAccess: 'quarantined' }), {
        easEnabled: true,
        defaultAccess: 'quarantined',
      });
      await store.updateOrganizationSettings({ easEnabled: false });
      assert.deepEqual(await store.getOrganizationSettings(), {
        easEnabled: false,
        defaultAccess: 'quarantined',
      });
      await rejectsWith(
        store.updateOrganizationSettings({ defaultAccess: 'maybe' as never }),
        'invalid-argument',
        'an unknown access state',
      );
      const settings = await store.getOrganizationSettings();
      settings.easEnabled = true;
      assert.equal((await store.getOrganizationSettings()).easEnabled, false, 'a copy');
    },
  },
  {
    name: 'each user has their own EAS switch: null until set, and null again when cleared',
    async run({ store }) {
      assert.equal(await store.getUserEasEnabled(ALICE), null);
      await store.setUserEasEnabled(ALICE, false);
      await store.setUserEasEnabled(BOB, true);
      assert.equal(await store.getUserEasEnabled(ALICE), false);
      assert.equal(await store.getUserEasEnabled(BOB), true);
      assert.equal(await store.getUserEasEnabled(`${ALICE}x`), null);
      await store.setUserEasEnabled(ALICE, null);
      assert.equal(await store.getUserEasEnabled(ALICE), null);
      assert.equal(await store.getUserEasEnabled(BOB), true);
      await rejectsWith(store.setUserEasEnabled('', false), 'invalid-argument', 'an empty user');
    },
  },
  {
    name: 'appendAudit keeps who, what, when and target, with increasing ids; listAudit pages newest first',
    async run({ store }) {
      const first = await store.appendAudit({
        actor: 'admin',
        action: 'wipe',
        target: { user: ALICE, deviceId: 'D1' },
        at: at(1),
        details: { kind: 'full', count: 1, forced: true, note: null },
      });
      assert.ok(Number.isSafeInteger(first.id) && first.id > 0);
      assert.equal(first.actor, 'admin');
      assert.equal(first.action, 'wipe');
      assert.deepEqual(first.target, { user: ALICE, deviceId: 'D1' });
      assert.equal(time(first.at), at(1).getTime());
      assert.deepEqual(first.details, { kind: 'full', count: 1, forced: true, note: null });
      const ids = [first.id];
      for (let index = 2; index <= 7; index++) {
        const user = index % 2 === 0 ? BOB : ALICE;
        const entry = await store.appendAudit({
          actor: 'admin',
          action: `a${index}`,
          target: { user, deviceId: `D${index % 3}` },
          at: at(index),
        });
        assert.ok(entry.id > ids.at(-1)!, 'ids grow');
        assert.deepEqual(entry.details, {}, 'details default to empty');
        ids.push(entry.id);
      }
      await store.appendAudit({ actor: 'root', action: 'set-default-policy', target: { policyId: 'p' } });
      const all: number[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<DeviceStore['listAudit']>> = await store.listAudit({
          limit: 3,
          cursor,
        });
        assert.ok(page.entries.length <= 3);
        all.push(...page.entries.map((entry) => entry.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      assert.equal(all.length, 8);
      assert.deepEqual(
        all,
        [...all].sort((a, b) => b - a),
        'newest first',
      );
      const alice = (await store.listAudit({ user: ALICE })).entries;
      assert.deepEqual(
        alice.map((entry) => entry.action),
        ['a7', 'a5', 'a3', 'wipe'],
      );
      const device = (await store.listAudit({ user: ALICE, deviceId: 'D1' })).entries;
      assert.deepEqual(
        device.map((entry) => entry.action),
        ['a7', 'wipe'],
      );
      alice[0]!.target.user = 'changed';
      assert.equal(
        (await store.listAudit({ limit: 2, user: ALICE })).entries[0]?.target.user,
        ALICE,
        'copies',
      );
      await store.deleteDevice(ALICE, 'D1');
      assert.equal((await store.listAudit({ user: ALICE })).entries.length, 4, 'entries outlive devices');
    },
  },
  {
    name: 'concurrent appendAudit calls keep every entry with distinct ids; bad input is refused',
    async run({ store }) {
      const entries = await Promise.all(
        Array.from({ length: 20 }, (_, index) =>
          store.appendAudit({ actor: 'admin', action: `x${index}`, target: { user: ALICE } }),
        ),
      );
      assert.equal(new Set(entries.map((entry) => entry.id)).size, 20);
      assert.equal((await store.listAudit({ limit: 1000 })).entries.length, 20);
      await rejectsWith(
        store.appendAudit({ actor: '', action: 'x', target: {} }),
        'invalid-argument',
        'no actor',
      );
      await rejectsWith(
        store.appendAudit({ actor: 'a', action: '', target: {} }),
        'invalid-argument',
        'no action',
      );
      await rejectsWith(
        store.appendAudit({ actor: 'a', action: 'x', target: {}, details: { nested: {} as never } }),
        'invalid-argument',
        'nested details',
      );
      for (const limit of [0, 1001, 2.5]) {
        await rejectsWith(store.listAudit({ limit }), 'invalid-argument', `limit ${limit}`);
      }
      await rejectsWith(store.listAudit({ cursor: '%%%' }), 'invalid-argument', 'a foreign cursor');
      assert.equal(
        (await store.listAudit({ limit: 1000 })).entries.length,
        20,
        'refused appends wrote nothing',
      );
    },
  },
  // --- check-in (the policy gate's one call per request) -----------------------------------------------------
  {
    name: 'checkInDevice records the sighting like upsertDevice and returns the switches, rules and policy of that moment',
    async run({ store }) {
      const fresh = await checkInDevice(store, sighting(ALICE, 'D1'), at(0));
      assert.equal(fresh.created, true);
      assert.deepEqual(fresh.device.access, { state: 'allowed', reason: 'global-default' });
      assert.deepEqual(fresh.organization, await store.getOrganizationSettings());
      assert.equal(fresh.userEasEnabled, null);
      assert.deepEqual(fresh.rules, []);
      assert.equal(fresh.policy, null);
      assert.deepEqual(fresh.device, await store.getDevice(ALICE, 'D1'));

      await store.updateOrganizationSettings({ easEnabled: false, defaultAccess: 'quarantined' });
      await store.setUserEasEnabled(ALICE, false);
      await store.putRule(rule('r-low', 1));
      await store.putRule(rule('r-high', 9, { action: 'allow', match: { model: 'Pixel*' } }));
      await store.putPolicy({ id: 'everyone', name: 'Everyone', settings: policySettings() });
      await store.putPolicy({
        id: 'alice',
        name: 'Alice',
        settings: policySettings({ devicePasswordEnabled: true }),
        allowNonProvisionableDevices: true,
      });
      await store.setDefaultPolicy('everyone');
      await store.assignPolicy(ALICE, 'alice');

      // A new device gets the organisation's default access, whatever initialAccess says.
      const second = await checkInDevice(
        store,
        {
          ...sighting(ALICE, 'D2'),
          initialAccess: { state: 'blocked', reason: 'individual' },
        } as DeviceSighting,
        at(1),
      );
      assert.equal(second.created, true);
      assert.deepEqual(second.device.access, { state: 'quarantined', reason: 'global-default' });
      assert.deepEqual(second.organization, { easEnabled: false, defaultAccess: 'quarantined' });
      assert.equal(second.userEasEnabled, false);
      assert.deepEqual(second.rules, await store.listRules());
      assert.deepEqual(
        second.rules.map((each) => each.id),
        ['r-high', 'r-low'],
      );
      assert.deepEqual(second.policy, await store.resolvePolicy(ALICE));
      assert.equal(second.policy?.id, 'alice');
      assert.equal(second.policy?.allowNonProvisionableDevices, true);
      assert.ok(second.policy?.updatedAt instanceof Date);

      // A known device: details and lastSeen move on, access and statistics stay.
      await store.recordSync(ALICE, 'D1', { command: 'Sync', at: at(2), itemsSent: 4 });
      const again = await checkInDevice(store, sighting(ALICE, 'D1', { model: 'Pixel 9' }), at(3));
      assert.equal(again.created, false);
      assert.equal(again.device.model, 'Pixel 9');
      assert.equal(time(again.device.lastSeen), time(at(3)));
      assert.equal(time(again.device.firstSeen), time(at(0)));
      assert.deepEqual(again.device.access, { state: 'allowed', reason: 'global-default' });
      assert.equal(again.device.stats.itemsSent, 4);
      assert.deepEqual(again.device, await store.getDevice(ALICE, 'D1'));

      const bob = await checkInDevice(store, sighting(BOB, 'D1'), at(4));
      assert.equal(bob.userEasEnabled, null);
      assert.equal(bob.policy?.id, 'everyone');
      assert.deepEqual(bob.policy, await store.resolvePolicy(BOB));
    },
  },
  {
    name: 'concurrent check-ins of a new device create it once',
    async run({ store }) {
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, index) =>
          checkInDevice(store, sighting(ALICE, 'NEW', { model: `m${index}` }), at(index)),
        ),
      );
      assert.equal(results.filter((result) => result.created).length, 1);
      assert.equal((await store.listDevices(ALICE)).length, 1);
    },
  },
  // --- batched statistics ----------------------------------------------------------------------------------
  {
    name: 'recordActivities equals recordSync one after the other, skipping unknown devices',
    async run({ store }) {
      for (const user of [ALICE, BOB]) {
        await store.upsertDevice(sighting(user, 'D1'), at(0));
        await store.upsertDevice(sighting(user, 'D2'), at(0));
      }
      const activities = [
        ['D1', { command: 'Sync', at: at(5), itemsSent: 2, bytesIn: 10, bytesOut: 300 }],
        ['D1', { command: 'Ping', at: at(6), bytesIn: 20 }],
        ['D2', { command: 'Sync', at: at(7), itemsReceived: 3 }],
        ['GHOST', { command: 'Sync', at: at(8) }],
        ['D1', { command: 'FolderSync', at: at(4) }],
        ['D1', { command: 'Sync', at: at(3), itemsReceived: 1 }],
        ['D2', { command: 'Ping', at: at(7) }],
      ] as const;
      assert.equal(await recordActivities(store, []), 0);
      const applied = await recordActivities(
        store,
        activities.map(([deviceId, activity]) => ({ user: ALICE, deviceId, activity: { ...activity } })),
      );
      assert.equal(applied, 6, 'the unknown device is skipped');
      for (const [deviceId, activity] of activities) {
        if (deviceId !== 'GHOST') await store.recordSync(BOB, deviceId, { ...activity });
      }
      for (const deviceId of ['D1', 'D2']) {
        const batched = await store.getDevice(ALICE, deviceId);
        const oneByOne = await store.getDevice(BOB, deviceId);
        assert.deepEqual(batched?.stats, oneByOne?.stats, `${deviceId}: the same statistics either way`);
      }
      const d1 = (await store.getDevice(ALICE, 'D1'))!.stats;
      assert.equal(d1.syncCount, 2);
      assert.equal(d1.pingCount, 1);
      assert.equal(d1.lastCommand, 'Ping');
      assert.equal(time(d1.lastSyncAt), time(at(5)));
      assert.equal(d1.bytesIn, 30);
      assert.equal(
        (await store.getDevice(ALICE, 'D2'))!.stats.lastCommand,
        'Ping',
        'equal times: the later record',
      );
      assert.equal(await store.getDevice(ALICE, 'GHOST'), null, 'no device is created');
    },
  },
  {
    name: 'recordActivities with a malformed record throws InvalidArgumentError and writes nothing',
    async run({ store }) {
      await store.upsertDevice(sighting(ALICE, 'D1'), at(0));
      const good = { user: ALICE, deviceId: 'D1', activity: { command: 'Sync', at: at(1), itemsSent: 1 } };
      for (const bad of [
        { command: 'Sync', at: at(2), itemsSent: -1 },
        { command: 'Sync', at: at(2), bytesIn: 1.5 },
        { command: '', at: at(2) },
        { command: 'Sync', at: new Date(Number.NaN) },
      ]) {
        await rejectsWith(
          recordActivities(store, [good, { user: ALICE, deviceId: 'D1', activity: bad }]),
          'invalid-argument',
          JSON.stringify(bad),
        );
      }
      const stats = (await store.getDevice(ALICE, 'D1'))!.stats;
      assert.equal(stats.syncCount, 0);
      assert.equal(stats.itemsSent, 0);
    },
  },
  {
    name: 'concurrent recordActivities batches over the same devices lose no increment',
    async run({ store }) {
      const ids = ['A', 'B', 'C', 'D'];
      for (const id of ids) await store.upsertDevice(sighting(ALICE, id), at(0));
      await Promise.all(
        Array.from({ length: 12 }, (_, batch) => {
          // Alternating orders: a store that locks rows as it meets them must still not deadlock or lose counts.
          const order = batch % 2 === 0 ? ids : [...ids].reverse();
          return recordActivities(
            store,
            order.map((deviceId) => ({
              user: ALICE,
              deviceId,
              activity: { command: 'Sync', at: at(batch + 1), itemsSent: 1 },
            })),
          );
        }),
      );
      for (const id of ids) {
        const stats = (await store.getDevice(ALICE, id))!.stats;
        assert.equal(stats.syncCount, 12, `${id}: every batch counted`);
        assert.equal(stats.itemsSent, 12);
        assert.equal(time(stats.lastSyncAt), time(at(12)));
      }
    },
  },
  // --- scale -----------------------------------------------------------------------------------------------
  {
    name: 'pages through 2,000 devices of 50 users',
    capability: 'largeListing',
    async run({ store }) {
      const expected: string[] = [];
      for (let user = 0; user < 50; user++) {
        for (let device = 0; device < 40; device++) {
          const userId = `user${String(user).padStart(2, '0')}@example.com`;
          const deviceId = `device-${String(device).padStart(2, '0')}`;
          await store.upsertDevice(sighting(userId, deviceId), at(device));
          expected.push(`${userId}/${deviceId}`);
        }
      }
      assert.deepEqual(keys(await listEverything(store, 1000)), expected);
      assert.deepEqual(keys(await listEverything(store, 333)), expected);
    },
  },
];
