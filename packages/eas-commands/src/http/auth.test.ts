import { describe, expect, it } from 'vitest';
import { parseAuthorization } from './auth.js';

const basic = (text: string) => `Basic ${Buffer.from(text, 'utf8').toString('base64')}`;

describe('parseAuthorization', () => {
  it('reads Basic credentials, keeping colons and UTF-8 in the password', () => {
    expect(parseAuthorization(basic('DOMAIN\\alice:pa:ss wörd'))).toEqual({
      scheme: 'basic',
      username: 'DOMAIN\\alice',
      password: 'pa:ss wörd',
    });
    expect(parseAuthorization(`basic   ${Buffer.from('a:b').toString('base64')}  `)).toMatchObject({
      username: 'a',
    });
  });

  it('reads bearer tokens', () => {
    expect(parseAuthorization('Bearer abc.def')).toEqual({ scheme: 'bearer', token: 'abc.def' });
  });

  it('ignores what it cannot read', () => {
    for (const header of [undefined, '', 'Basic', 'Basic !!!', basic('no-colon'), 'Digest x', 'Basic a b']) {
      expect(parseAuthorization(header)).toBeUndefined();
    }
  });
});
