/** The timings and assertion helpers every topic of the store contract shares. */
import { expect } from 'chai';
import type { CausewayError } from '../../../../core/src/errors.ts';
import type {
  Entry,
  KeyChange,
  PutResult,
  TxnResult,
  WatchEvent,
} from '../../../../core/src/store/types.ts';

/** How long "nothing arrives" is given to prove itself. */
export const QUIET_MS = 150;
/** How long an event that should arrive may take. */
export const EVENT_MS = 3000;

export const b = (s: string): Buffer => Buffer.from(s, 'utf8');

/** An entry in a form that compares cleanly (an absent and an undefined session are equal). */
export function view(e: Entry | null | undefined): Record<string, unknown> | null {
  if (e === null || e === undefined) return null;
  return {
    key: e.key,
    value: e.value.toString('hex'),
    flags: e.flags,
    createIndex: e.createIndex,
    modifyIndex: e.modifyIndex,
    lockIndex: e.lockIndex,
    session: e.session ?? null,
  };
}

export function changeView(c: KeyChange): string {
  return c.op === 'put' ? `put ${c.key}=${c.entry.value.toString()}` : `delete ${c.key}`;
}

/** The rejection of a promise that must reject; fails the test if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  expect.fail('expected the call to be rejected');
}

export async function expectTyped(
  promise: Promise<unknown>,
  type: new (...args: never[]) => CausewayError,
): Promise<CausewayError> {
  const err = await rejection(promise);
  expect(err).to.be.instanceOf(type);
  return err as CausewayError;
}

export function okEntry(result: PutResult): Entry {
  if (!result.ok)
    expect.fail(`expected the put to succeed; current: ${JSON.stringify(view(result.current))}`);
  return result.entry;
}

export function okTxn(result: TxnResult): Extract<TxnResult, { ok: true }> {
  if (!result.ok)
    expect.fail(`expected the txn to commit; errors: ${JSON.stringify(result.errors)}`);
  return result;
}

export function failedTxn(result: TxnResult): Extract<TxnResult, { ok: false }> {
  if (result.ok) expect.fail('expected the txn to fail');
  return result;
}

export function asEntry(r: Entry | Entry[] | null | undefined): Entry {
  if (r === null || r === undefined || Array.isArray(r)) {
    expect.fail(`expected an entry, got ${JSON.stringify(r)}`);
  }
  return r;
}

export function asChange(e: IteratorResult<WatchEvent>): Extract<WatchEvent, { type: 'change' }> {
  if (e.done === true) expect.fail('the watch ended; expected a change event');
  if (e.value.type !== 'change')
    expect.fail(`expected a change event, got ${JSON.stringify(e.value)}`);
  return e.value;
}

export function changesOf(events: WatchEvent[]): { index: number; changes: string[] }[] {
  return events.map((e) => {
    if (e.type !== 'change') expect.fail(`expected only change events, got ${JSON.stringify(e)}`);
    return { index: e.index, changes: e.changes.map(changeView) };
  });
}
