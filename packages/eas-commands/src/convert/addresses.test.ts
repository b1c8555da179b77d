import { describe, expect, it } from 'vitest';
import { formatAddress, formatAddressList, parseAddressList } from './addresses.js';

describe('RFC 5322 address lists', () => {
  it('formats names quoted and escaped, bare addresses without a name', () => {
    expect(formatAddress({ name: 'Ada Lovelace', address: 'ada@example.com' })).toBe(
      '"Ada Lovelace" <ada@example.com>',
    );
    expect(formatAddress({ name: 'Say "hi" \\ bye', address: 'a@x' })).toBe('"Say \\"hi\\" \\\\ bye" <a@x>');
    expect(formatAddressList([{ address: 'a@x' }, { name: 'B', address: 'b@x' }])).toBe('a@x, "B" <b@x>');
  });

  it('reads what it writes', () => {
    const list = [
      { name: 'Lovelace, Ada', address: 'ada@example.com' },
      { address: 'bob@example.com' },
      { name: 'Say "hi"; ok', address: 'c@x' },
    ];
    expect(parseAddressList(formatAddressList(list))).toEqual(list);
  });

  it('reads the forms clients send', () => {
    expect(parseAddressList('Ada <ada@x>; bob@x;')).toEqual([
      { name: 'Ada', address: 'ada@x' },
      { address: 'bob@x' },
    ]);
    expect(parseAddressList('ada@x (Ada, home)')).toEqual([{ address: 'ada@x' }]);
    expect(parseAddressList('team: a@x, b@x;')).toEqual([{ address: 'a@x' }, { address: 'b@x' }]);
    expect(parseAddressList('"J.J. Zhuang" <jjzhuang@testbed.local>')).toEqual([
      { name: 'J.J. Zhuang', address: 'jjzhuang@testbed.local' },
    ]);
    expect(parseAddressList('')).toEqual([]);
  });
});
