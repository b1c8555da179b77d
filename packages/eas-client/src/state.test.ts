import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JsonFileDeviceState, MemoryDeviceState, newSnapshot } from './state.js';

describe('device state', () => {
  it('keeps a copy in memory, never the caller object', async () => {
    const state = new MemoryDeviceState();
    expect(await state.load()).toBeUndefined();
    const snapshot = newSnapshot('dev1', 'Phone');
    await state.save(snapshot);
    snapshot.policyKey = '42';
    expect((await state.load())?.policyKey).toBeUndefined();
  });

  it('keeps a JSON file that a later process reads back, written by rename', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'easkit-client-state-'));
    const file = join(dir, 'nested', 'device.json');
    const state = new JsonFileDeviceState(file);
    expect(await state.load()).toBeUndefined();
    const snapshot = {
      ...newSnapshot('dev1', 'Phone'),
      protocolVersion: '16.1',
      policyKey: '123',
      folderSyncKey: '3',
      folders: [{ serverId: 'f1', parentId: '0', displayName: 'Inbox', type: 2 }],
      collections: { f1: { syncKey: '7', class: 'Email' } },
    };
    await Promise.all([state.save({ ...snapshot, folderSyncKey: '2' }), state.save(snapshot)]);
    expect(await new JsonFileDeviceState(file).load()).toEqual(snapshot);
    expect(JSON.parse(readFileSync(file, 'utf8')).policyKey).toBe('123');
  });

  it('refuses a file that is not a device state', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'easkit-client-state-'));
    const file = join(dir, 'other.json');
    writeFileSync(file, '{"name":"something else"}');
    await expect(new JsonFileDeviceState(file).load()).rejects.toThrow(/not an easkit-client device state/);
  });
});
