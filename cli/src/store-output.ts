/**
 * What `causeway store` prints. JSON shapes carry values base64-encoded (as Consul's KV
 * API does), since stored values are raw bytes.
 */
import type { Entry, KeyChange, ListResult, WatchEvent } from '../../core/src/store/types.ts';

/** An {@link Entry} as JSON. */
export interface EntryJson {
  key: string;
  /** base64 */
  value: string;
  flags: number;
  createIndex: number;
  modifyIndex: number;
  lockIndex: number;
  session?: string;
}

export function entryToJson(entry: Entry): EntryJson {
  const json: EntryJson = {
    key: entry.key,
    value: entry.value.toString('base64'),
    flags: entry.flags,
    createIndex: entry.createIndex,
    modifyIndex: entry.modifyIndex,
    lockIndex: entry.lockIndex,
  };
  if (entry.session !== undefined) json.session = entry.session;
  return json;
}

/** A put carries the whole entry; a delete only its key. */
export type ChangeJson = ({ op: 'put' } & EntryJson) | { op: 'delete'; key: string };

function changeToJson(change: KeyChange): ChangeJson {
  return change.op === 'put'
    ? { op: 'put', ...entryToJson(change.entry) }
    : { op: 'delete', key: change.key };
}

/** One line of `store watch`. */
export function watchEventToJson(event: WatchEvent): object {
  return event.type === 'change'
    ? { type: 'change', index: event.index, changes: event.changes.map(changeToJson) }
    : event;
}

export function listToJson(result: ListResult): object {
  return {
    index: result.index,
    entries: result.entries.map(entryToJson),
    prefixes: result.prefixes,
  };
}

/** Keys and folder prefixes together in key order, one per line, like `consul kv get -keys`. */
export function listToLines(result: ListResult): string[] {
  return [...result.entries.map((e) => e.key), ...result.prefixes].sort();
}

/**
 * A value exactly as stored, so `causeway store get ca/cert > ca.pem` round-trips bytes.
 * On a terminal a final newline is added, so the prompt does not land after the value.
 */
export function rawValue(value: Buffer, isTTY: boolean | undefined): Buffer {
  const needsNewline = isTTY === true && value.length > 0 && value.at(-1) !== 0x0a;
  return needsNewline ? Buffer.concat([value, Buffer.from('\n')]) : value;
}
