/**
 * The session reaper against an in-memory store with a fake clock: TTL × 2 expiry,
 * renewals, the grace a restarted reaper gives, what happens to held keys, lock-delay, and
 * finishing an invalidation a crash interrupted.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { openEmbeddedStore } from '../../core/index.ts';
import type { Store } from '../../core/index.ts';
import { invalidateSession } from '../../zone-control/src/session/invalidate.ts';
import { lockDelaysFor } from '../../zone-control/src/session/lock-delay.ts';
import type { SessionSpec } from '../../zone-control/src/session/session-body.ts';
import { encodeSession, sessionKey } from '../../zone-control/src/session/session-record.ts';
import { SessionReaper } from '../../zone-control/src/session/session-reaper.ts';
import { createSession, renewSession } from '../../zone-control/src/session/session-store.ts';

const T0 = 1_700_000_000_000;

function spec(overrides: Partial<SessionSpec> = {}): SessionSpec {
  return {
    Name: '',
    Node: 'n1',
    LockDelay: 15e9,
    Behavior: 'release',
    TTL: '10s',
    NodeChecks: ['serfHealth'],
    ServiceChecks: null,
    ...overrides,
  };
}

describe('session reaper', function () {
  let store: Store;
  let clock: number;
  let ac: AbortController;
  let running: Promise<void> | undefined;
  let reaper: SessionReaper;

  beforeEach(async function () {
    store = await openEmbeddedStore();
    clock = T0;
    ac = new AbortController();
    reaper = new SessionReaper(store, pino({ level: 'silent' }), { now: () => clock });
  });
  afterEach(async function () {
    ac.abort();
    await running;
    running = undefined;
    await store.close();
  });

  async function startReaper(): Promise<void> {
    running = reaper.start(ac.signal);
    await reaper.ready();
  }

  /**
   * Run a reaping pass at the current fake time and answer the sessions still stored.
   * (The reaper's own loop may run a pass too; passes are serialised, so after ours every
   * due session is gone whoever took it.)
   */
  async function reapAndList(): Promise<string[]> {
    await reaper.reapExpired();
    const { entries } = await store.list('session/');
    return entries.map((e) => e.key.slice('session/'.length)).sort();
  }

  it('invalidates a TTL session once twice its TTL passed without a renewal', async function () {
    const s = await createSession(store, spec({ TTL: '10s' }), clock);
    await startReaper();
    clock = T0 + 19_999;
    expect(await reapAndList()).to.deep.equal([s.record.ID]);
    clock = T0 + 20_000;
    expect(await reapAndList()).to.deep.equal([]);
  });

  it('leaves sessions without a TTL alone', async function () {
    const s = await createSession(store, spec({ TTL: '' }), clock);
    await startReaper();
    clock = T0 + 365 * 24 * 3600_000;
    expect(await reapAndList()).to.deep.equal([s.record.ID]);
  });

  it('counts the TTL from the last renewal', async function () {
    const s = await createSession(store, spec({ TTL: '10s' }), clock);
    await startReaper();
    clock = T0 + 15_000;
    await renewSession(store, s.record.ID, clock);
    clock = T0 + 20_000;
    expect(await reapAndList()).to.deep.equal([s.record.ID]);
    clock = T0 + 34_999;
    expect(await reapAndList()).to.deep.equal([s.record.ID]);
    clock = T0 + 35_000;
    expect(await reapAndList()).to.deep.equal([]);
  });

  it('gives sessions it finds at start a full TTL × 2 from then', async function () {
    const s = await createSession(store, spec({ TTL: '10s' }), clock);
    // The zone was down long past the session's deadline.
    clock = T0 + 100_000;
    await startReaper();
    clock = T0 + 119_999;
    expect(await reapAndList()).to.deep.equal([s.record.ID]);
    clock = T0 + 120_000;
    expect(await reapAndList()).to.deep.equal([]);
  });

  it('releases or deletes held keys per Behavior and applies lock-delay', async function () {
    const keeper = await createSession(store, spec({ Behavior: 'release' }), clock);
    const deleter = await createSession(
      store,
      spec({ Behavior: 'delete', LockDelay: 120e9 }),
      clock,
    );
    await store.put('kv/held/release', Buffer.from('kept'), {
      session: keeper.record.ID,
      lockIndex: 3,
      flags: 7,
    });
    await store.put('kv/held/delete', Buffer.from('gone'), {
      session: deleter.record.ID,
      lockIndex: 1,
    });
    await store.put('kv/held/free', Buffer.from('free'));
    await startReaper();
    clock = T0 + 20_000;
    expect(await reapAndList()).to.deep.equal([]);
    const released = await store.get('kv/held/release');
    expect(released?.value.toString()).to.equal('kept');
    expect(released?.session).to.equal(undefined);
    expect(released?.lockIndex).to.equal(3);
    expect(released?.flags).to.equal(7);
    expect(await store.get('kv/held/delete')).to.equal(null);
    expect(await store.get('kv/held/free')).to.not.equal(null);
    const delays = lockDelaysFor(store);
    expect(delays.blockedUntil('held/release', clock)).to.equal(clock + 15_000);
    // Consul caps lock-delay at 60 s.
    expect(delays.blockedUntil('held/delete', clock)).to.equal(clock + 60_000);
    expect(delays.blockedUntil('held/release', clock + 15_000)).to.equal(undefined);
  });

  it('finishes an invalidation that a crash interrupted', async function () {
    const s = await createSession(store, spec({ TTL: '', Behavior: 'delete' }), clock);
    await store.put(sessionKey(s.record.ID), encodeSession({ ...s.record, Invalidating: true }));
    await store.put('kv/crash/a', Buffer.from('x'), { session: s.record.ID, lockIndex: 1 });
    await startReaper();
    const deadline = Date.now() + 5000;
    while ((await store.get(sessionKey(s.record.ID))) !== null) {
      if (Date.now() > deadline) throw new Error('the interrupted invalidation was not finished');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await store.get('kv/crash/a')).to.equal(null);
  });

  it('frees every key of a session holding more than one transaction can carry', async function () {
    const s = await createSession(store, spec({ TTL: '' }), clock);
    for (let i = 0; i < 150; i++) {
      await store.put(`kv/many/${String(i).padStart(3, '0')}`, Buffer.from('v'), {
        session: s.record.ID,
        lockIndex: 1,
      });
    }
    const freed = await invalidateSession(store, s.record.ID, lockDelaysFor(store), () => clock);
    expect(freed).to.have.length(150);
    const { entries } = await store.list('kv/many/');
    expect(entries).to.have.length(150);
    expect(entries.every((e) => e.session === undefined)).to.equal(true);
    expect(await store.get(sessionKey(s.record.ID))).to.equal(null);
  });
});
