import type { WbxmlElement } from '@easkit/wbxml';

/** A body as the server sent it: AirSyncBase:Body (12.0+) or the inline 2.5 fields. */
export interface ItemBody {
  /** 1 plain text, 2 HTML, 3 RTF, 4 MIME (MS-ASAIRS 2.2.2.22.1). */
  type?: number;
  data?: string;
  truncated: boolean;
  estimatedDataSize?: number;
  preview?: string;
}

export interface ItemAttachment {
  displayName?: string;
  /** What ItemOperations Fetch (14.0+) or GetAttachment (2.5-12.1) takes to read it. */
  fileReference?: string;
  method?: number;
  estimatedDataSize?: number;
  contentId?: string;
  isInline: boolean;
}

/** An item's ApplicationData, with the simple fields read out; the element stays available. */
export interface ItemData {
  /** The text of every leaf child by its name (`Subject`, `DateReceived`, `FileAs`, ...): first one wins. */
  fields: Record<string, string>;
  body?: ItemBody;
  attachments: ItemAttachment[];
  raw: WbxmlElement;
}

/** Reads an ApplicationData (or ItemOperations Properties) element. */
export function readItemData(element: WbxmlElement): ItemData {
  const fields: Record<string, string> = {};
  for (const child of element.children) {
    const text = child.text;
    if (text !== undefined && !(child.name in fields)) fields[child.name] = text;
  }
  const data: ItemData = { fields, attachments: [], raw: element };
  const body = element.child('AirSyncBase:Body');
  if (body) {
    data.body = {
      ...optionalInt('type', body, 'Type'),
      ...optionalText('data', body, 'Data'),
      truncated: body.boolOf('Truncated') ?? false,
      ...optionalInt('estimatedDataSize', body, 'EstimatedDataSize'),
      ...optionalText('preview', body, 'Preview'),
    };
  } else if (fields.Body !== undefined) {
    // 2.5 kept the body inline in the class's own page.
    data.body = { type: 1, data: fields.Body, truncated: fields.BodyTruncated === '1' };
  }
  const attachments = element.child('AirSyncBase:Attachments') ?? element.child('Email:Attachments');
  for (const attachment of attachments?.children ?? []) {
    data.attachments.push({
      ...optionalText('displayName', attachment, 'DisplayName'),
      ...optionalText('fileReference', attachment, 'FileReference'),
      ...(attachment.has('AttName') ? optionalText('fileReference', attachment, 'AttName') : {}),
      ...optionalInt('method', attachment, 'Method'),
      ...optionalInt('estimatedDataSize', attachment, 'EstimatedDataSize'),
      ...optionalText('contentId', attachment, 'ContentId'),
      isInline: attachment.boolOf('IsInline') ?? false,
    });
  }
  return data;
}

function optionalText<K extends string>(key: K, element: WbxmlElement, name: string): { [P in K]?: string } {
  const value = element.textOf(name);
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

function optionalInt<K extends string>(key: K, element: WbxmlElement, name: string): { [P in K]?: number } {
  const text = element.textOf(name);
  const value = text === undefined ? Number.NaN : Number(text);
  return (Number.isFinite(value) ? { [key]: value } : {}) as { [P in K]?: number };
}

/** The integer text of a child, or undefined (never throws on a malformed value). */
export function intOf(element: WbxmlElement | undefined, name: string): number | undefined {
  const text = element?.textOf(name);
  if (text === undefined) return undefined;
  const value = Number(text.trim());
  return Number.isInteger(value) ? value : undefined;
}
