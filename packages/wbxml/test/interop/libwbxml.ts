// What the interop tests know about libwbxml (Debian libwbxml2-utils 0.11.8, `xml2wbxml` / `wbxml2xml`), and a
// small runner for its two tools. Test-only: nothing here is part of the package's API.
//
// The tables below were found empirically with test/interop/probe-libwbxml.mjs (it decodes every token of every
// page with wbxml2xml and encodes every one of our names with xml2wbxml). src/interop.test.ts re-checks the
// decode side against the installed tools on every run, so these tables cannot silently drift.

import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import {
  CODE_PAGES,
  fromXml,
  type Namespace,
  type TagInfo,
  tagByName,
  WbxmlElement,
} from '../../src/index.js';

/** The libwbxml release the tables below describe. */
export const LIBWBXML_VERSION = '0.11.8';

/** libwbxml has no table for page 25 (Find, EAS 16.1): documents using it cannot go through libwbxml. */
export const LIBWBXML_LAST_PAGE = 24;

/**
 * Tags of ours that libwbxml has no entry for. wbxml2xml prints their tokens as `<unknown/>`, and xml2wbxml,
 * when it does not find a name in the element's namespace, looks the name up in every other page and silently
 * encodes that token instead (e.g. `<Name xmlns="ComposeMail:">` comes out as Search:Name). So the corpus must
 * never contain these tags, and must spell renamed tags the libwbxml way (LIBWBXML_NAMES).
 */
export const LIBWBXML_ABSENT: Readonly<Partial<Record<Namespace, readonly string[]>>> = {
  // 16.1 additions (meeting time proposals, account-only wipe) that 0.11.8 predates.
  MeetingResponse: ['ProposedStartTime', 'ProposedEndTime'],
  Provision: ['AccountOnlyRemoteWipe'],
};

/**
 * Our name -> libwbxml's name, where they differ. libwbxml decodes the token to its name and only accepts that
 * name when encoding. Most of its spellings are older ones (the 2.5-era names of the Contacts address parts,
 * `Recurrence_*`, `Attendee_*`) or the names its authors chose where two pages share a name.
 */
export const LIBWBXML_NAMES: Readonly<Partial<Record<Namespace, Readonly<Record<string, string>>>>> = {
  Contacts: {
    AssistantPhoneNumber: 'AssistantTelephoneNumber',
    BusinessAddressCity: 'BusinessCity',
    BusinessAddressCountry: 'BusinessCountry',
    BusinessAddressPostalCode: 'BusinessPostalCode',
    BusinessAddressState: 'BusinessState',
    BusinessAddressStreet: 'BusinessStreet',
    HomeAddressCity: 'HomeCity',
    HomeAddressCountry: 'HomeCountry',
    HomeAddressPostalCode: 'HomePostalCode',
    HomeAddressState: 'HomeState',
    HomeAddressStreet: 'HomeStreet',
    OtherAddressCity: 'OtherCity',
    OtherAddressCountry: 'OtherCountry',
    OtherAddressPostalCode: 'OtherPostalCode',
    OtherAddressState: 'OtherState',
    OtherAddressStreet: 'OtherStreet',
  },
  Email: {
    ReplyTo: 'Reply-To',
    DtStamp: 'DTStamp',
    Type: 'Recurrence_Type',
    Until: 'Recurrence_Until',
    Occurrences: 'Recurrence_Occurrences',
    Interval: 'Recurrence_Interval',
    DayOfWeek: 'Recurrence_DayOfWeek',
    DayOfMonth: 'Recurrence_DayOfMonth',
    WeekOfMonth: 'Recurrence_WeekOfMonth',
    MonthOfYear: 'Recurrence_MonthOfYear',
    Status: 'FlagStatus',
  },
  Calendar: {
    Timezone: 'TimeZone',
    Email: 'Attendee_Email',
    Name: 'Attendee_Name',
    DtStamp: 'DTStamp',
    Deleted: 'Exception_Deleted',
    ExceptionStartTime: 'Exception_StartTime',
    OrganizerEmail: 'Organizer_Email',
    OrganizerName: 'Organizer_Name',
    Type: 'Recurrence_Type',
    Until: 'Recurrence_Until',
    Occurrences: 'Recurrence_Occurrences',
    Interval: 'Recurrence_Interval',
    DayOfWeek: 'Recurrence_DayOfWeek',
    DayOfMonth: 'Recurrence_DayOfMonth',
    WeekOfMonth: 'Recurrence_WeekOfMonth',
    MonthOfYear: 'Recurrence_MonthOfYear',
    AttendeeStatus: 'Attendee_Status',
    AttendeeType: 'Attendee_Type',
  },
  Tasks: {
    UtcDueDate: 'UTCDueDate',
    Type: 'Recurrence_Type',
    Start: 'Recurrence_Start',
    Until: 'Recurrence_Until',
    Occurrences: 'Recurrence_Occurrences',
    Interval: 'Recurrence_Interval',
    DayOfMonth: 'Recurrence_DayOfMonth',
    DayOfWeek: 'Recurrence_DayOfWeek',
    WeekOfMonth: 'Recurrence_WeekOfMonth',
    MonthOfYear: 'Recurrence_MonthOfYear',
    Regenerate: 'Recurrence_Regenerate',
    DeadOccur: 'Recurrence_DeadOccur',
    UtcStartDate: 'UTCStartDate',
  },
  // Token 0x10 is RequireStorageCardEncryption in MS-ASWBXML; 0.11.8 decodes it as DeviceEncryptionEnabled
  // (xml2wbxml accepts both names); our tables accept it as an alias.
  Provision: { RequireStorageCardEncryption: 'DeviceEncryptionEnabled' },
  Settings: { SMTPAddress: 'SmtpAddress', RightsManagementInformation: 'ihsManagementInformation' },
  ComposeMail: { Mime: 'MIME', Name: 'ForwardeeName', Email: 'ForwardeeEmail' },
  RightsManagement: {
    Owner: 'RMOwner',
    RemoveRightsManagementProtection: 'RemoveRightsManagementDistribution',
  },
};

/**
 * The elements libwbxml writes as OPAQUE and reads back as OPAQUE. In its XML their text is base64 (it decodes
 * base64 on encode and encodes base64 on decode, with no attribute); every other element is text, so the corpus
 * holds bytes in these and only these. Found by probing, and wider than "ComposeMail:Mime and
 * Email2:ConversationId/Index": 0.11.8 also treats ConversationId on the Search and ItemOperations pages, picture
 * Data on the ResolveRecipients and GAL pages, and AirSyncBase:Content (attachment bytes) as binary.
 * One context rule on top: a Data element directly inside a Sync Add's ApplicationData is OPAQUE with its text
 * taken raw (no base64) both ways; the corpus keeps Data elements out of that spot.
 */
export const LIBWBXML_OPAQUE: ReadonlySet<string> = new Set([
  'ResolveRecipients:Data',
  'Search:ConversationId',
  'Gal:Data',
  'AirSyncBase:Content',
  'ItemOperations:ConversationId',
  'ComposeMail:Mime',
  'Email2:ConversationId',
  'Email2:ConversationIndex',
]);

/**
 * libwbxml spellings that our `fromXml` does not resolve to the same tag, as `Namespace:Name`. The test rewrites
 * them before parsing wbxml2xml's output and asserts that no other spelling needs this. Remove an entry once
 * the code page tables accept the spelling as an alias.
 */
export const PARSER_GAPS: readonly string[] = [];

/** True when libwbxml writes and reads this tag's content as OPAQUE (base64 in its XML). */
export function libwbxmlOpaque(tag: TagInfo): boolean {
  return LIBWBXML_OPAQUE.has(`${tag.namespace}:${tag.name}`);
}

/** libwbxml's name for one of our tags. */
export function libwbxmlName(tag: TagInfo): string {
  return LIBWBXML_NAMES[tag.namespace]?.[tag.name] ?? tag.name;
}

/** True when libwbxml has an entry for this tag. */
export function libwbxmlKnows(tag: TagInfo): boolean {
  return tag.page <= LIBWBXML_LAST_PAGE && !(LIBWBXML_ABSENT[tag.namespace] ?? []).includes(tag.name);
}

/** Every tag libwbxml knows, in page and token order: the set the corpus must cover. */
export function libwbxmlTags(): TagInfo[] {
  return CODE_PAGES.flatMap((page) => page.tags.filter(libwbxmlKnows));
}

/** libwbxml spellings our parser does not resolve to the same tag (see PARSER_GAPS). */
export function unresolvedSpellings(): string[] {
  return libwbxmlTags()
    .filter((tag) => tagByName(tag.namespace, libwbxmlName(tag)) !== tag)
    .map((tag) => `${tag.namespace}:${libwbxmlName(tag)}`);
}

const DOCTYPE = '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">';

/**
 * Renders a tree in the XML dialect libwbxml reads and writes: the ActiveSync DOCTYPE (xml2wbxml picks the
 * language from it), a default `xmlns="Namespace:"` wherever the namespace changes, libwbxml's tag names, and
 * base64 text for its opaque elements. Laid out the way `wbxml2xml -m 1 -i 1` lays out its output.
 */
export function toLibwbxmlXml(root: WbxmlElement): string {
  const lines = ['<?xml version="1.0"?>', DOCTYPE];
  const write = (element: WbxmlElement, level: number, parent: Namespace | undefined): void => {
    const name = libwbxmlName(element.tag);
    const open = element.namespace === parent ? name : `${name} xmlns="${element.namespace}:"`;
    const pad = ' '.repeat(level);
    const content = element.content;
    if (content instanceof Uint8Array) {
      if (!libwbxmlOpaque(element.tag)) {
        throw new Error(`libwbxml cannot carry bytes in ${element.qualifiedName}`);
      }
      lines.push(`${pad}<${open}>${Buffer.from(content).toString('base64')}</${name}>`);
    } else if (typeof content === 'string') {
      if (content !== content.trim() || content === '') {
        // xml2wbxml trims text and turns <X></X> into an empty tag: such strings cannot make the round trip.
        throw new Error(`${element.qualifiedName}: libwbxml does not keep empty or space-edged text`);
      }
      lines.push(`${pad}<${open}>${escapeText(content)}</${name}>`);
    } else if (content.length === 0) {
      lines.push(`${pad}<${open}/>`);
    } else {
      lines.push(`${pad}<${open}>`);
      for (const child of content) write(child, level + 1, element.namespace);
      lines.push(`${pad}</${name}>`);
    }
  };
  write(root, 0, undefined);
  return `${lines.join('\n')}\n`;
}

function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&${ENTITY[ch]};`);
}

const ENTITY: Readonly<Record<string, string>> = {
  '&': 'amp',
  '<': 'lt',
  '>': 'gt',
  '"': 'quot',
  "'": 'apos',
};

/**
 * Reads XML written by wbxml2xml (or by toLibwbxmlXml) into our tree: spellings in PARSER_GAPS are rewritten
 * to ours first, then our `fromXml` parses it, then the base64 text of libwbxml's opaque elements becomes bytes.
 */
export function fromLibwbxmlXml(xml: string): WbxmlElement {
  let text = xml;
  for (const gap of PARSER_GAPS) {
    const [namespace, theirs] = gap.split(':') as [Namespace, string];
    const ours = Object.entries(LIBWBXML_NAMES[namespace] ?? {}).find(([, name]) => name === theirs)?.[0];
    if (ours === undefined) throw new Error(`no name of ours for ${gap}`);
    // The spelling exists on one page only, so a plain rename of the start and end tags is exact.
    text = text.replace(new RegExp(`<(/?)${theirs}(?=[\\s/>])`, 'g'), `<$1${ours}`);
  }
  return opaqueFromBase64(fromXml(text));
}

function opaqueFromBase64(element: WbxmlElement): WbxmlElement {
  const content = element.content;
  if (typeof content === 'string' && libwbxmlOpaque(element.tag)) {
    return new WbxmlElement(element.tag, new Uint8Array(Buffer.from(content, 'base64')));
  }
  if (Array.isArray(content)) return new WbxmlElement(element.tag, content.map(opaqueFromBase64));
  return element;
}

/** The libwbxml tools the tests need, and which of them are not on PATH. */
export const LIBWBXML_TOOLS = ['xml2wbxml', 'wbxml2xml'] as const;

export function missingTools(path = process.env.PATH ?? ''): string[] {
  const dirs = path.split(delimiter).filter(Boolean);
  return LIBWBXML_TOOLS.filter(
    (tool) =>
      !dirs.some((dir) => {
        try {
          accessSync(join(dir, tool), constants.X_OK);
          return true;
        } catch {
          return false;
        }
      }),
  );
}

const TOOL_TIMEOUT_MS = 15_000;

/**
 * Runs libwbxml's tools on files in a private temporary directory. Both tools report failure on stdout and
 * not always through the exit code, so success is read from their "succeeded" line and the output file.
 */
export class LibwbxmlTools {
  private counter = 0;

  private constructor(private readonly dir: string) {}

  static async create(): Promise<LibwbxmlTools> {
    return new LibwbxmlTools(await mkdtemp(join(tmpdir(), 'easkit-wbxml-interop-')));
  }

  /** `xml2wbxml -a -n -v 1.3`: anonymous header (public id 0x01), no string table, WBXML 1.3. */
  async xml2wbxml(xml: string): Promise<Uint8Array> {
    const [input, output] = this.files('xml', 'wbxml');
    await writeFile(input, xml, 'utf8');
    await this.run('xml2wbxml', ['-a', '-n', '-v', '1.3', '-o', output, input]);
    return new Uint8Array(await readFile(output));
  }

  /** `wbxml2xml -l ACTIVESYNC -m 1 -i 1`: indented XML, one space per level. */
  async wbxml2xml(bytes: Uint8Array): Promise<string> {
    const [input, output] = this.files('wbxml', 'xml');
    await writeFile(input, bytes);
    await this.run('wbxml2xml', ['-l', 'ACTIVESYNC', '-m', '1', '-i', '1', '-o', output, input]);
    return readFile(output, 'utf8');
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }

  private files(inExt: string, outExt: string): [string, string] {
    const n = this.counter++;
    return [join(this.dir, `${n}-in.${inExt}`), join(this.dir, `${n}-out.${outExt}`)];
  }

  private run(tool: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      execFile(tool, args, { timeout: TOOL_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
        const said = `${stdout}${stderr}`.trim();
        if (error || !/succeeded/.test(said) || /failed/.test(said)) {
          reject(new Error(`${tool} ${args.join(' ')}: ${error?.message ?? ''} ${said}`.trim()));
        } else {
          resolve();
        }
      });
    });
  }
}
