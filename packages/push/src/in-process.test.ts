import { strict as assert } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { runPushBusConformance } from './conformance.js';
import { PushBusClosedError } from './errors.js';
import { InProcessPushBus } from './in-process.js';
import type { PushBus, PushEvent, Unsubscribe } from './push-bus.js';

runPushBusConformance({
  name: 'InProcessPushBus',
  create: ({ onError }) => new InProcessPushBus({ onError }),
  // Within one process a second instance is a second handle on the same bus: it publishes and subscribes
  // through it, and closing it ends only its own subscriptions.
  createPeer: (bus): PushBus => {
    const own: Unsubscribe[] = [];
    return {
      publish: (user, folderIds) => bus.publish(user, folderIds),
      subscribe: async (user, listener) => {
        const unsubscribe = await bus.subscribe(user, listener);
        own.push(unsubscribe);
        return unsubscribe;
      },
      close: async () => {
        for (const unsubscribe of own.splice(0)) await unsubscribe();
      },
    };
  },
});

describe('InProcessPushBus', () => {
  it('drops a user once the last subscription ends, and everything on close', async () => {
    const bus = new InProcessPushBus();
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0 });
    const first = await bus.subscribe('alice', () => {});
    const second = await bus.subscribe('alice', () => {});
    await bus.subscribe('bob', () => {});
    assert.deepEqual(bus.stats(), { users: 2, subscriptions: 3 });
    await first();
    assert.deepEqual(bus.stats(), { users: 2, subscriptions: 2 });
    await second();
    await second();
    assert.deepEqual(bus.stats(), { users: 1, subscriptions: 1 });
    await bus.close();
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0 });
  });

  it('does not grow when many users come and go', async () => {
    const bus = new InProcessPushBus();
    for (let index = 0; index < 1000; index++) {
      const unsubscribe = await bus.subscribe(`user${index}`, () => {});
      await bus.publish(`user${index}`, ['1']);
      await unsubscribe();
    }
    assert.deepEqual(bus.stats(), { users: 0, subscriptions: 0 });
  });

  it('keeps an old unsubscribe from touching a newer subscription set of the same user', async () => {
    const bus = new InProcessPushBus();
    const received: PushEvent[] = [];
    const old = await bus.subscribe('alice', () => {});
    await old();
    await bus.subscribe('alice', (event) => {
      received.push(event);
    });
    await old();
    await bus.publish('alice', ['1']);
    assert.equal(received.length, 1);
    assert.deepEqual(bus.stats(), { users: 1, subscriptions: 1 });
  });

  it('delivers to a subscriber added during a delivery from the next event on', async () => {
    const bus = new InProcessPushBus();
    const late: string[] = [];
    await bus.subscribe('alice', async (event) => {
      if (event.folderIds[0] === '1') {
        await bus.subscribe('alice', (next) => {
          late.push(next.folderIds[0]!);
        });
      }
    });
    await bus.publish('alice', ['1']);
    await bus.publish('alice', ['2']);
    assert.deepEqual(late, ['2']);
  });

  it('hands every listener the same frozen event', async () => {
    const bus = new InProcessPushBus();
    const seen: PushEvent[] = [];
    await bus.subscribe('alice', (event) => {
      seen.push(event);
    });
    await bus.subscribe('alice', (event) => {
      seen.push(event);
    });
    await bus.publish('alice', ['1']);
    assert.equal(seen[0], seen[1]);
    assert.ok(Object.isFrozen(seen[0]) && Object.isFrozen(seen[0]?.folderIds));
  });

  it('survives an error hook that throws', async () => {
    const bus = new InProcessPushBus({
      onError: () => {
        throw new Error('hook failed (deliberately)');
      },
    });
    const received: string[] = [];
    await bus.subscribe('alice', () => {
      throw new Error('listener failed (deliberately)');
    });
    await bus.subscribe('alice', (event) => {
      received.push(event.folderIds[0]!);
    });
    await bus.publish('alice', ['1']);
    assert.deepEqual(received, ['1']);
  });

  it('rejects bad arguments and calls after close with typed errors', async () => {
    const bus = new InProcessPushBus();
    await expect(bus.publish('', ['1'])).rejects.toThrow(TypeError);
    await expect(bus.subscribe('alice', 'nope' as never)).rejects.toThrow(TypeError);
    await bus.close();
    const error: unknown = await bus.publish('alice', ['1']).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof PushBusClosedError);
    assert.equal(error.code, 'bus-closed');
  });
});
