import { strict as assert } from 'node:assert';
import { describe, it } from 'vitest';
import { type AccessRule, evaluateAccess, globMatches, ruleMatches, ruleProblems } from './access.js';
import type { DeviceAccess } from './device.js';

const byDefault: DeviceAccess = { state: 'allowed', reason: 'global-default' };
const iphone = {
  user: 'alice@example.com',
  deviceType: 'iPhone',
  model: 'iPhone15,2',
  userAgent: 'Apple-iPhone15C2/2101.1',
  access: byDefault,
};
const rule = (
  id: string,
  priority: number,
  action: AccessRule['action'],
  match: AccessRule['match'],
): AccessRule => ({
  id,
  priority,
  action,
  match,
});

describe('globMatches', () => {
  it('matches whole strings, case-insensitively, with * and ?', () => {
    assert.ok(globMatches('iphone', 'iPhone'));
    assert.ok(!globMatches('iPhone', 'iPhone2'));
    assert.ok(globMatches('Apple-*', 'Apple-iPhone15C2/2101.1'));
    assert.ok(globMatches('*', ''));
    assert.ok(globMatches('a*b*c', 'aXXbYYbZc'));
    assert.ok(!globMatches('a*b*c', 'aXXbYYbZ'));
    assert.ok(globMatches('iPhone1?,2', 'iPhone15,2'));
    assert.ok(!globMatches('?', ''));
    assert.ok(globMatches('*@example.com', 'bob@EXAMPLE.com'));
  });

  it('treats regular-expression characters literally', () => {
    assert.ok(globMatches('a.b', 'a.b'));
    assert.ok(!globMatches('a.b', 'axb'));
    assert.ok(globMatches('(x)+[y]', '(X)+[Y]'));
  });

  it('stays fast on patterns that make naive matchers backtrack', () => {
    const value = 'a'.repeat(5000);
    assert.ok(!globMatches(`${'*a'.repeat(20)}b`, value));
  });
});

describe('ruleMatches', () => {
  it('needs every given field to match, and a reported value for each', () => {
    assert.ok(ruleMatches({ match: {} }, iphone));
    assert.ok(ruleMatches({ match: { deviceType: 'iphone', user: '*@example.com' } }, iphone));
    assert.ok(!ruleMatches({ match: { deviceType: 'iphone', user: 'bob@example.com' } }, iphone));
    assert.ok(!ruleMatches({ match: { model: '*' } }, { user: 'a', deviceType: 'Android' }));
  });
});

describe('evaluateAccess', () => {
  const rules = [
    rule('allow-apple', 10, 'allow', { userAgent: 'Apple-*' }),
    rule('quarantine-iphone', 5, 'quarantine', { deviceType: 'iPhone' }),
    rule('block-android', 20, 'block', { deviceType: 'Android' }),
  ];

  it('lets the matching rule with the highest priority decide', () => {
    assert.deepEqual(evaluateAccess(iphone, rules, 'blocked'), {
      state: 'allowed',
      reason: 'rule',
      ruleId: 'allow-apple',
    });
    assert.deepEqual(
      evaluateAccess({ ...iphone, deviceType: 'Android', userAgent: 'Android/14' }, rules, 'allowed'),
      {
        state: 'blocked',
        reason: 'rule',
        ruleId: 'block-android',
      },
    );
  });

  it('falls back to the default when no rule matches', () => {
    assert.deepEqual(
      evaluateAccess({ ...iphone, deviceType: 'WindowsMail', userAgent: 'x' }, rules, 'quarantined'),
      {
        state: 'quarantined',
        reason: 'global-default',
      },
    );
    assert.deepEqual(evaluateAccess(iphone, [], 'allowed'), byDefault);
  });

  it('keeps an individual decision over any rule', () => {
    const individual: DeviceAccess = { state: 'blocked', reason: 'individual' };
    assert.deepEqual(evaluateAccess({ ...iphone, access: individual }, rules, 'allowed'), individual);
  });

  it('re-evaluates a device whose state came from an earlier rule', () => {
    const earlier: DeviceAccess = { state: 'blocked', reason: 'rule', ruleId: 'gone' };
    assert.deepEqual(evaluateAccess({ ...iphone, access: earlier }, rules, 'blocked').ruleId, 'allow-apple');
  });

  it('breaks priority ties by strictness, then by id, whatever the order of the rules', () => {
    const tied = [
      rule('b-allow', 1, 'allow', {}),
      rule('z-block', 1, 'block', {}),
      rule('a-quarantine', 1, 'quarantine', {}),
      rule('y-block', 1, 'block', {}),
    ];
    for (const order of [tied, [...tied].reverse()]) {
      assert.deepEqual(evaluateAccess(iphone, order, 'allowed'), {
        state: 'blocked',
        reason: 'rule',
        ruleId: 'y-block',
      });
    }
  });
});

describe('rules on the OS the device reports', () => {
  it('match the reported OS and never a device that reports none', () => {
    const rule = { id: 'old-ios', match: { os: 'iOS 15*' }, action: 'block' as const, priority: 1 };
    assert.deepEqual(ruleProblems(rule), []);
    assert.equal(ruleMatches(rule, { user: 'u', deviceType: 'iPhone', os: 'iOS 15.7' }), true);
    assert.equal(ruleMatches(rule, { user: 'u', deviceType: 'iPhone', os: 'iOS 17.4' }), false);
    assert.equal(ruleMatches(rule, { user: 'u', deviceType: 'iPhone' }), false);
    assert.deepEqual(ruleProblems({ ...rule, match: { platform: 'x' } as never }), [
      'match.platform is not a field',
    ]);
  });
});
