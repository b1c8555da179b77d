import { describe, expect, it } from 'vitest';
import { WbxmlError } from './errors.js';
import { eas } from './tree.js';
import { fromXml, toXml } from './xml.js';

const { AirSync, AirSyncBase, ComposeMail, Email } = eas;

describe('toXml', () => {
  it('renders namespaced, indented XML with the root namespace as default', () => {
    const tree = AirSync.Sync(
      AirSync.Collections(AirSync.Collection(AirSync.SyncKey('1'), AirSyncBase.Body(AirSyncBase.Type(2)))),
      AirSync.GetChanges(),
    );
    expect(toXml(tree)).toBe(
      [
        '<Sync xmlns="AirSync" xmlns:airsyncbase="AirSyncBase">',
        '  <Collections>',
        '    <Collection>',
        '      <SyncKey>1</SyncKey>',
        '      <airsyncbase:Body>',
        '        <airsyncbase:Type>2</airsyncbase:Type>',
        '      </airsyncbase:Body>',
        '    </Collection>',
        '  </Collections>',
        '  <GetChanges/>',
        '</Sync>',
      ].join('\n'),
    );
    expect(toXml(tree, { indent: 0, declaration: true })).toMatch(
      /^<\?xml version="1.0" encoding="utf-8"\?><Sync /,
    );
  });

  it('escapes markup and control characters and renders bytes as base64', () => {
    const tree = ComposeMail.SendMail(
      ComposeMail.ClientId('a<b>&c\r\n\u0001'),
      ComposeMail.Mime(Uint8Array.of(0, 1, 255)),
    );
    const xml = toXml(tree, { indent: 0 });
    expect(xml).toContain('<ClientId>a&lt;b&gt;&amp;c&#xD;\n&#x1;</ClientId>');
    expect(xml).toContain('<Mime opaque="base64">AAH/</Mime>');
    expect(fromXml(xml)).toEqual(tree);
  });
});

describe('fromXml', () => {
  it('reads what wbxml2xml writes: DOCTYPE, namespaces with a trailing colon, per-element xmlns, aliases', () => {
    const xml = `<?xml version="1.0"?>
<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">
<Sync xmlns="AirSync:">
 <Collections>
  <Collection>
   <ApplicationData>
    <To xmlns="Email:">&quot;J.J.&quot; &lt;jj@example.com&gt;</To>
    <Body xmlns="AirSyncBase:">
     <Type>1</Type>
    </Body>
   </ApplicationData>
  </Collection>
 </Collections>
</Sync>`;
    expect(fromXml(xml)).toEqual(
      AirSync.Sync(
        AirSync.Collections(
          AirSync.Collection(
            AirSync.ApplicationData(
              Email.To('"J.J." <jj@example.com>'),
              AirSyncBase.Body(AirSyncBase.Type('1')),
            ),
          ),
        ),
      ),
    );
    expect(fromXml('<SendMail xmlns="ComposeMail:"><MIME>x</MIME></SendMail>').require('Mime').text).toBe(
      'x',
    );
  });

  it('keeps leaf text exactly, CDATA included, and ignores layout between elements', () => {
    const tree = fromXml(
      '<Sync xmlns="AirSync"><!-- c -->\n  <SyncKey>  two words \n</SyncKey>\n  <Status><![CDATA[<1>]]></Status><Class></Class>\n</Sync>',
    );
    expect(tree.textOf('SyncKey')).toBe('  two words \n');
    expect(tree.textOf('Status')).toBe('<1>');
    expect(tree.require('Class').content).toBe('');
  });

  it('decodes numeric character references', () => {
    expect(fromXml('<SyncKey xmlns="AirSync">&#65;&#x1F642;</SyncKey>').text).toBe('A🙂');
  });

  it('refuses malformed XML with the offset of the problem', () => {
    const cases: [string, RegExp][] = [
      ['', /expected the root element/],
      ['<Sync xmlns="AirSync">', /ends inside an element/],
      ['<Sync xmlns="AirSync"></Sink>', /does not match/],
      ['<Sync xmlns="AirSync"/>trailing', /after the root element/],
      ['<Sync xmlns="AirSync">text<SyncKey/></Sync>', /mixes text with elements/],
      ['<Sync xmlns="AirSync"><SyncKey/>text</Sync>', /mixes text with elements/],
      ['<Sync/>', /has no namespace/],
      ['<x:Sync xmlns="AirSync"/>', /prefix x is not declared/],
      ['<Sync xmlns="AirSync" foo="1"/>', /attribute foo/],
      ['<Sync xmlns="AirSync" foo/>', /has no value/],
      ['<SyncKey xmlns="AirSync">&bogus;</SyncKey>', /unknown entity/],
      ['<SyncKey xmlns="AirSync">a & b</SyncKey>', /unterminated entity/],
      ['<SyncKey xmlns="AirSync" opaque="base64">!!</SyncKey>', /not valid base64/],
      ['<!-- never closed', /unterminated comment/],
    ];
    for (const [xml, message] of cases) {
      expect(() => fromXml(xml), xml).toThrow(WbxmlError);
      expect(() => fromXml(xml), xml).toThrow(message);
    }
    try {
      fromXml('<Sync xmlns="AirSync">\n<Bogus/></Sync>');
    } catch (error) {
      expect((error as WbxmlError).code).toBe('unknown-tag');
      expect((error as WbxmlError).offset).toBe(23);
    }
    expect(() => fromXml('<Sync xmlns="NoSuchNamespace"/>')).toThrow(/unknown namespace/);
  });

  it('applies the limits', () => {
    expect(() => fromXml('<Sync xmlns="AirSync"/>', { maxInputBytes: 10 })).toThrow(/exceeds the limit/);
    const deep = `${'<Collection xmlns="AirSync">'.repeat(5)}${'</Collection>'.repeat(5)}`;
    expect(() => fromXml(deep, { maxDepth: 5 })).not.toThrow();
    expect(() => fromXml(deep, { maxDepth: 4 })).toThrow(/nesting deeper/);
    expect(() =>
      fromXml('<Sync xmlns="AirSync"><A/></Sync>'.replace('<A/>', '<SyncKey/><Status/>'), { maxNodes: 2 }),
    ).toThrow(/more than 2 elements/);
    expect(() => fromXml('<SyncKey xmlns="AirSync">abcdef</SyncKey>', { maxStringBytes: 3 })).toThrow(
      /text longer/,
    );
  });
});

describe("fromXml: libwbxml's dialect", () => {
  it('reads the bare base64 of the elements libwbxml keeps opaque when the document has its DOCTYPE', () => {
    const doctype =
      '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">';
    const body = '<SendMail xmlns="ComposeMail:"><ClientId>1</ClientId><MIME>AAH/</MIME></SendMail>';
    const libwbxml = fromXml(`<?xml version="1.0"?>\n${doctype}\n${body}`);
    expect(libwbxml.child('Mime')?.bytes).toEqual(Uint8Array.of(0x00, 0x01, 0xff));
    expect(libwbxml.textOf('ClientId')).toBe('1');
    // Without libwbxml's DOCTYPE the same text is a string, as written.
    expect(fromXml(body).child('Mime')?.text).toBe('AAH/');
  });
});
