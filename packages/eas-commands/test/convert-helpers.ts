// Test support for the converter tests (not exported from the package index; it imports no test runner).
import { type ItemData, MemoryMailboxStore, type StoredItem } from '@easkit/mailbox';
import {
  decode,
  eas,
  encode,
  PROTOCOL_VERSIONS,
  type ProtocolVersion,
  type WbxmlElement,
} from '@easkit/wbxml';
import type { ContentOptions, ConvertContext } from '../src/convert/types.js';

/** Versions the round-trip tests run at. */
export const TEST_VERSIONS: readonly ProtocolVersion[] = ['2.5', '12.1', '14.1', '16.1'];

/** A fresh in-memory mailbox with one folder per class, and a way to turn data into a stored item. */
export async function testMailbox() {
  const store = new MemoryMailboxStore();
  const user = 'u1';
  await store.createUser({ id: user, primarySmtpAddress: 'me@example.com' });
  const folderTypes = { Email: 2, Calendar: 8, Contacts: 9, Tasks: 7, Notes: 10 } as const;
  const folders: Record<string, string> = {};
  for (const [cls, type] of Object.entries(folderTypes)) {
    const folder = await store.createFolder(user, { parentId: '0', displayName: cls, type });
    folders[cls] = folder.id;
  }
  return {
    store,
    async add<T extends ItemData>(item: T): Promise<StoredItem & { class: T['class'] }> {
      return (await store.createItem(user, folders[item.class]!, item)) as StoredItem & { class: T['class'] };
    },
    context(
      item: StoredItem,
      version: ProtocolVersion,
      options: Partial<ContentOptions> = {},
    ): ConvertContext {
      return {
        version,
        options: { bodyPreferences: [], mimeSupport: 0, ...options },
        readBody: (type, truncateBytes) =>
          store.readBody(user, item.id, { type, ...(truncateBytes === undefined ? {} : { truncateBytes }) }),
      };
    },
  };
}

/** Every tag in the tree, with the version range the code pages give it. */
export function tagsOf(elements: readonly WbxmlElement[]): WbxmlElement[] {
  const out: WbxmlElement[] = [];
  const visit = (element: WbxmlElement) => {
    out.push(element);
    for (const child of element.children) visit(child);
  };
  for (const element of elements) visit(element);
  return out;
}

/** Tags in the tree that the version does not have (by the code page tables), as `Namespace:Name` strings. */
export function tagsOutsideVersion(elements: readonly WbxmlElement[], version: ProtocolVersion): string[] {
  const index = PROTOCOL_VERSIONS.indexOf(version);
  const position = (v: string) => PROTOCOL_VERSIONS.indexOf((v === '2.0/2.5' ? '2.5' : v) as ProtocolVersion);
  return tagsOf(elements)
    .filter((element) => {
      const tag = element.tag;
      if (position(tag.since) > index) return true;
      if (tag.until !== undefined && position(tag.until) < index) return true;
      // The retired 2.5 body and attachment tokens (MS-ASWBXML lists them no more) belong to 2.5 only.
      return tag.legacy && version !== '2.5';
    })
    .map((element) => element.qualifiedName);
}

/**
 * Wraps ApplicationData children the way Sync does, encodes them with @easkit/wbxml (which validates tag names
 * and content) and decodes them again: what a device would receive.
 */
export function throughWire(children: readonly WbxmlElement[]): WbxmlElement {
  const AS = eas.AirSync;
  const bytes = encode(
    AS.Sync(
      AS.Collections(AS.Collection(AS.Commands(AS.Add(AS.ServerId('1'), AS.ApplicationData(children))))),
    ),
  );
  const decoded = decode(bytes);
  return decoded
    .require('Collections')
    .require('Collection')
    .require('Commands')
    .require('Add')
    .require('ApplicationData');
}
