/**
 * Where the change log stands, read in one atomic step, and whether a change-feed position
 * still lies on it: the check behind every reset and lost-write detection in
 * `change-feed.ts`.
 */
import { randomUUID } from 'node:crypto';
import { toIndex, toNonce } from './codec.ts';
import type { Nonce, RedisKeys } from './codec.ts';
import type { RedisClient } from './redis-client.ts';
import type { ScriptCommands } from './scripts.ts';

export interface Probe {
  index: number;
  epoch: string;
  /** Index of the oldest batch still in the log, or undefined if the log is empty. */
  first: number | undefined;
  /** Index of the newest batch in the log, or undefined if the log is empty. */
  last: number | undefined;
  /** Nonce of the newest batch (null if the log is empty). */
  lastNonce: Nonce;
  /** Nonce of the batch at the index the probe was asked to check (null if none). */
  checked: Nonce;
}

/** Read the index, epoch and the ends of the log in one atomic step; check entry `at`. */
export async function probe(client: RedisClient, keys: RedisKeys, at = 0): Promise<Probe> {
  const reply = (await (client as unknown as ScriptCommands).cwProbe(
    keys.index,
    keys.epoch,
    keys.log,
    randomUUID(),
    String(at),
  )) as [string, string, string, string, string | null, string | null];
  const [index, epoch, firstId, lastId, lastNonce, checked] = reply;
  const id = (raw: string): number | undefined =>
    raw === '' ? undefined : toIndex(raw.replace(/-0$/, ''));
  return {
    index: toIndex(index),
    epoch,
    first: id(firstId),
    last: id(lastId),
    lastNonce: toNonce(lastNonce),
    checked: toNonce(checked),
  };
}

/** Where the feed stands: the last batch read from the log, and the history it belongs to. */
export interface Position {
  epoch: string;
  delivered: number;
  nonce: Nonce;
}

/**
 * Why the feed's position no longer lies on the log's history, or undefined if it does.
 * `was` must be the position when the probe was sent: the reader may have moved on since.
 */
export function divergence(p: Probe, was: Position): string | undefined {
  if (p.epoch !== was.epoch) return 'the store was reset (its data was lost or replaced)';
  if ((p.last ?? p.index) < was.delivered) {
    return `the store went back from index ${was.delivered} to ${p.last ?? p.index} (Redis lost writes)`;
  }
  const trimmed = p.checked === null && p.first !== undefined && p.first > was.delivered;
  // Trimmed away is not rewritten: a reader that far behind meets the gap when it reads on.
  if (!trimmed && was.nonce !== undefined && p.checked !== undefined && p.checked !== was.nonce) {
    return `the change at index ${was.delivered} was lost or replaced (Redis lost writes)`;
  }
  return undefined;
}
