import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { htmlToText, textToHtml, truncateUtf8 } from './mime.js';

// Any code point but lone surrogates. (fc.string({ unit: 'binary' }) builds a table on first use that takes
// seconds, and tens of seconds on a loaded machine.)
const anyUnicodeText = fc
  .array(
    fc.integer({ min: 0, max: 0x10ffff }).filter((code) => code < 0xd800 || code > 0xdfff),
    { maxLength: 80 },
  )
  .map((codes) => String.fromCodePoint(...codes));

describe('truncateUtf8', () => {
  it('never splits a character and never exceeds the limit', () => {
    fc.assert(
      fc.property(anyUnicodeText, fc.nat(64), (text, max) => {
        const cut = truncateUtf8(text, max);
        const size = new TextEncoder().encode(text).byteLength;
        assert.equal(cut.size, size);
        assert.ok(new TextEncoder().encode(cut.data).byteLength <= max);
        assert.equal(cut.truncated, size > max);
        assert.ok(text.startsWith(cut.data), 'the cut is a prefix made of whole characters');
      }),
    );
  });
});

describe('htmlToText / textToHtml', () => {
  it('strips markup, keeps line structure and decodes entities', () => {
    const html =
      '<html><head><style>p{}</style></head><body><p>One &amp; two</p><div>3&lt;4&#33;<br>five&nbsp;six</div><script>x()</script></body></html>';
    assert.equal(htmlToText(html), 'One & two\n3<4!\nfive six');
  });

  it('escapes text for HTML and keeps line breaks', () => {
    assert.equal(textToHtml('a < b & c\nd'), '<html><body>a &lt; b &amp; c<br>\nd</body></html>');
  });
});
