/**
 * KV locks on a real zone: `?acquire` / `?release` through the `consul` npm client,
 * `LockIndex` and `Session` on the entry, what destroying or expiring a session does to
 * the keys it held (`Behavior` release / delete), and lock-delay — on embedded and Redis.
 */
import { expect } from 'chai';
import { encodeSession, sessionKey } from '../../zone-control/src/session/session-record.ts';
import type { SessionRecord } from '../../zone-control/src/session/session-record.ts';
import { forEachBackend } from '../helpers/zone.ts';

interface KvEntry {
  LockIndex: number;
  Key: string;
  Value: string | null;
  Session?: string;
}

forEachBackend('Consul KV locks and session invalidation', (env) => {
  async function session(body: Record<string, unknown> = {}): Promise<string> {
    const res = await fetch(`${env.zone.url}/v1/session/create`, {
      method: 'PUT',
      body: JSON.stringify(body),
    });
    return ((await res.json()) as { ID: string }).ID;
  }

  /** PUT with a query; answers the JSON boolean on the wire. */
  async function put(key: string, query: string, value = 'v'): Promise<boolean> {
    const res = await fetch(`${env.zone.url}/v1/kv/${key}?${query}`, {
      method: 'PUT',
      body: value,
    });
    expect(res.status).to.equal(200);
    return (await res.json()) as boolean;
  }

  async function entry(key: string): Promise<KvEntry | undefined> {
    return (await env.consul.kv.get(key)) as KvEntry | undefined;
  }

  it('takes a free lock, counts new holders in LockIndex, and releases it', async function () {
    const a = await session();
    const b = await session();
    expect(await env.consul.kv.set({ key: 'lock/a', value: 'mine', acquire: a })).to.equal(true);
    expect(await entry('lock/a')).to.deep.include({ LockIndex: 1, Session: a, Value: 'mine' });
    // Re-acquiring by the holder writes the value but is not a new holder.
    expect(await put('lock/a', `acquire=${a}`, 'again')).to.equal(true);
    expect(await entry('lock/a')).to.deep.include({ LockIndex: 1, Session: a, Value: 'again' });
    expect(await put('lock/a', `acquire=${b}`)).to.equal(false);
    expect(await put('lock/a', `release=${b}`)).to.equal(false);
    expect(await env.consul.kv.set({ key: 'lock/a', value: 'done', release: a })).to.equal(true);
    const released = await entry('lock/a');
    expect(released).to.deep.include({ LockIndex: 1, Value: 'done' });
    expect(released).to.not.have.property('Session');
    expect(await put('lock/a', `acquire=${b}`)).to.equal(true);
    expect(await entry('lock/a')).to.deep.include({ LockIndex: 2, Session: b });
  });

  it('gives a contended lock to exactly one of many racing sessions', async function () {
    const sessions = await Promise.all(Array.from({ length: 8 }, () => session()));
    const viaKv = sessions.slice(0, 4).map((id) => put('race/k', `acquire=${id}`, id));
    const viaTxn = sessions.slice(4).map(async (id) => {
      const res = await fetch(`${env.zone.url}/v1/txn`, {
        method: 'PUT',
        body: JSON.stringify([{ KV: { Verb: 'lock', Key: 'race/k', Session: id } }]),
      });
      return res.status === 200;
    });
    const won = (await Promise.all([...viaKv, ...viaTxn])).filter(Boolean);
    expect(won).to.have.length(1);
    const e = await entry('race/k');
    expect(e?.LockIndex).to.equal(1);
    expect(sessions).to.include(e?.Session);
  });

  it('keeps a lock held across plain writes to the key', async function () {
    const a = await session();
    await put('lock/plain', `acquire=${a}`);
    expect(await put('lock/plain', 'flags=3', 'overwritten')).to.equal(true);
    expect(await entry('lock/plain')).to.deep.include({
      Session: a,
      LockIndex: 1,
      Value: 'overwritten',
    });
  });

  it('releases held keys when a release-behaviour session is destroyed', async function () {
    const a = await session({ Behavior: 'release', LockDelay: '0s' });
    await put('rel/one', `acquire=${a}`, 'kept');
    await put('rel/two', `acquire=${a}`, 'kept too');
    await env.consul.session.destroy(a);
    for (const k of ['rel/one', 'rel/two']) {
      const e = await entry(k);
      expect(e).to.deep.include({ LockIndex: 1 });
      expect(e).to.not.have.property('Session');
    }
    // No lock-delay was asked for: another session may take the key at once.
    const b = await session();
    expect(await put('rel/one', `acquire=${b}`)).to.equal(true);
  });

  it('deletes held keys, and only those, when a delete-behaviour session is destroyed', async function () {
    const a = await session({ Behavior: 'delete', LockDelay: 0 });
    const other = await session();
    await put('del/held', `acquire=${a}`);
    await put('del/theirs', `acquire=${other}`);
    await put('del/free', '');
    await env.consul.session.destroy(a);
    expect(await entry('del/held')).to.equal(undefined);
    expect(await entry('del/theirs')).to.deep.include({ Session: other });
    expect(await entry('del/free')).to.not.equal(undefined);
  });

  it('refuses to lock a key again during the lock-delay after invalidation', async function () {
    const a = await session({ LockDelay: '15s' });
    await put('delay/k', `acquire=${a}`);
    await env.consul.session.destroy(a);
    const b = await session();
    expect(await put('delay/k', `acquire=${b}`)).to.equal(false);
    // A key the session never held is not delayed.
    expect(await put('delay/other', `acquire=${b}`)).to.equal(true);
  });

  it('expires an unrenewed TTL session and releases its locks', async function () {
    const id = await session({ TTL: '10s', LockDelay: '0s' });
    await put('ttl/k', `acquire=${id}`, 'held');
    // Consul would wait TTL × 2 = 20 s; move the stored deadline instead of sleeping.
    const stored = await env.zone.zone.store.get(sessionKey(id));
    const record = JSON.parse(stored?.value.toString() ?? '{}') as SessionRecord;
    await env.zone.zone.store.put(sessionKey(id), encodeSession({ ...record, ExpiresAt: 1 }));
    const deadline = Date.now() + 5000;
    while ((await entry('ttl/k'))?.Session !== undefined) {
      if (Date.now() > deadline) throw new Error('the expired session still holds the lock');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await env.consul.session.info(id)).to.equal(undefined);
    expect(await entry('ttl/k')).to.deep.include({ Value: 'held', LockIndex: 1 });
  });

  it('refuses a lock for a destroyed session', async function () {
    const a = await session();
    await env.consul.session.destroy(a);
    const res = await fetch(`${env.zone.url}/v1/kv/gone/k?acquire=${a}`, {
      method: 'PUT',
      body: 'v',
    });
    expect(res.status).to.equal(400);
    expect((await res.text()).trimEnd()).to.equal(`invalid session "${a}"`);
    expect(await entry('gone/k')).to.equal(undefined);
  });
});
