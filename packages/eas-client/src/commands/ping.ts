import { eas, type WbxmlElement } from '@easkit/wbxml';
import { intOf } from './items.js';

const { Ping: P } = eas;

export interface PingFolder {
  id: string;
  /** Email, Calendar, Contacts, Tasks or Notes. */
  class: string;
}

export interface PingResult {
  /**
   * 1 nothing changed in the interval, 2 changes (in `folders`), 3 send the full request, 4 syntax error,
   * 5 heartbeat out of range (`heartbeatInterval` is the bound), 6 too many folders (`maxFolders`),
   * 7 FolderSync first, 8 server error (MS-ASCMD 2.2.3.177.11).
   */
  status: number;
  folders: string[];
  heartbeatInterval?: number;
  maxFolders?: number;
  raw?: WbxmlElement;
}

export function pingRequest(heartbeatInterval: number, folders: PingFolder[]): WbxmlElement {
  return P.Ping(
    P.HeartbeatInterval(heartbeatInterval),
    P.Folders(folders.map((folder) => P.Folder(P.Id(folder.id), P.Class(folder.class)))),
  );
}

export function readPing(body: WbxmlElement | undefined): PingResult {
  if (!body) return { status: 1, folders: [] };
  const heartbeatInterval = intOf(body, 'Ping:HeartbeatInterval');
  const maxFolders = intOf(body, 'Ping:MaxFolders');
  return {
    status: intOf(body, 'Ping:Status') ?? 0,
    folders: (body.child('Ping:Folders')?.all('Ping:Folder') ?? []).map((folder) => folder.text ?? ''),
    ...(heartbeatInterval !== undefined ? { heartbeatInterval } : {}),
    ...(maxFolders !== undefined ? { maxFolders } : {}),
    raw: body,
  };
}
