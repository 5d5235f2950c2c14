/**
 * Global KV over zone sync, against a real global (HTTP API, sync server on WebSocket over
 * TLS, real root, real zone tokens): a zone here is a raw WebSocket client speaking the
 * protocol by hand, so what global sends and answers is checked frame by frame.
 */
import { randomBytes } from 'node:crypto';
import type https from 'node:https';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import type { ClientOptions } from 'ws';
import {
  CLOSE_PROTOCOL,
  MAX_SYNC_FRAME_BYTES,
  createCsr,
  decodeGlobalFrame,
  generateKeyPair,
  globalResourceValidators,
  globalServerIdentityCheck,
  kvResourceName,
  privateKeyToPem,
  signLeafCertificate,
} from '../../../core/index.ts';
import type {
  DeltaMessage,
  GlobalToZone,
  GlobalWelcome,
  KvResource,
  KvWriteOp,
  KvWrittenMessage,
} from '../../../core/index.ts';
import { eventually } from '../../helpers/async.ts';
import { startGlobal } from '../../helpers/global.ts';
import type { TestGlobal } from '../../helpers/global.ts';
import { SYNC_TRUST_DOMAIN, controlCsr } from '../../helpers/sync-global.ts';

const PREFIXES = ['config/shared/', 'global/'];
const b64 = (text: string): string => Buffer.from(text).toString('base64');

/**
 * One zone connection: every frame global sends is decoded as a zone decodes it and
 * queued; deltas are acknowledged and pings answered, as a zone does.
 */
class RawZone {
  readonly #queue: GlobalToZone[] = [];
  /** Global KV as this zone holds it after every `kv` delta: resource name → body. */
  readonly replica = new Map<string, KvResource>();
  closed: { code: number; reason: string } | undefined;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      const frame = decodeGlobalFrame(data.toString('utf8'));
      if (frame.type === 'ping') this.send({ type: 'pong', at: Date.now() });
      if (frame.type === 'delta' && frame.resourceType === 'kv') {
        if (frame.full && frame.chunk === 0) this.replica.clear();
        for (const item of frame.upserts) this.replica.set(item.name, item.body as KvResource);
        for (const name of frame.removes) this.replica.delete(name);
      }
      if (frame.type === 'delta' && !frame.more) {
        this.send({
          type: 'ack',
          resourceType: frame.resourceType,
          nonce: frame.nonce,
          revision: frame.revision,
        });
      }
      this.#queue.push(frame);
    });
    ws.on('close', (code, reason) => (this.closed = { code, reason: reason.toString() }));
  }

  static async connect(
    global: TestGlobal,
    auth: { token: string } | { cert: string; key: string },
  ): Promise<RawZone> {
    const rootPem = global.global.ca.rootPem();
    const tls: https.RequestOptions = {
      ca: [rootPem],
      servername: `global.${SYNC_TRUST_DOMAIN}`,
      checkServerIdentity: globalServerIdentityCheck(SYNC_TRUST_DOMAIN, rootPem),
      ...('token' in auth ? { headers: { authorization: `Bearer ${auth.token}` } } : auth),
    };
    const ws = new WebSocket(`wss://127.0.0.1:${global.global.sync.address().port}`, {
      ...(tls as ClientOptions),
      maxPayload: MAX_SYNC_FRAME_BYTES,
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) =>
        reject(new Error(`sync upgrade refused: ${res.statusCode}`)),
      );
    });
    return new RawZone(ws);
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  async hello(zone: string, csr?: string): Promise<GlobalWelcome> {
    this.send({
      type: 'hello',
      protocol: 1,
      zone,
      version: 'test',
      ...(csr === undefined ? {} : { csr }),
      resume: {},
    });
    return this.next((f) => (f.type === 'welcome' ? f : undefined), 'the welcome');
  }

  /** The first queued frame `pick` accepts (taken off the queue), waiting for it. */
  next<T>(pick: (frame: GlobalToZone) => T | undefined, what: string): Promise<T> {
    return eventually(
      () => {
        for (const [i, frame] of this.#queue.entries()) {
          const picked = pick(frame);
          if (picked !== undefined) {
            this.#queue.splice(i, 1);
            return picked;
          }
        }
        return undefined;
      },
      what,
      20_000,
      10,
    );
  }

  /** The next `kv` delta. */
  kvDelta(what: string): Promise<DeltaMessage> {
    return this.next((f) => (f.type === 'delta' && f.resourceType === 'kv' ? f : undefined), what);
  }

  /** Send a `kv-write` and wait for its answer. */
  async write(op: KvWriteOp | Record<string, unknown> | undefined): Promise<KvWrittenMessage> {
    const id = randomBytes(6).toString('hex');
    this.send({ type: 'kv-write', id, ...(op === undefined ? {} : { op }) });
    return this.written(id);
  }

  written(id: string): Promise<KvWrittenMessage> {
    return this.next(
      (f) => (f.type === 'kv-written' && f.id === id ? f : undefined),
      `the answer to kv-write ${id}`,
    );
  }

  close(): void {
    this.ws.terminate();
  }
}

/** `kv` upserts as key → body, each checked with the validator a zone applies. */
function upsertsByKey(delta: DeltaMessage): Record<string, KvResource> {
  const out: Record<string, KvResource> = {};
  for (const item of delta.upserts) {
    globalResourceValidators.kv(item.name, item.body);
    const body = item.body as KvResource;
    out[body.key] = body;
  }
  return out;
}

describe('global KV over zone sync (integration)', function () {
  this.timeout(60_000);
  let global: TestGlobal;
  const tokens = new Map<string, string>();
  const open: RawZone[] = [];

  async function connect(
    auth: { token: string } | { cert: string; key: string },
  ): Promise<RawZone> {
    const zone = await RawZone.connect(global, auth);
    open.push(zone);
    return zone;
  }

  /** PUT at global's API; the entry's modify index. */
  async function put(key: string, value: string, flags = 0): Promise<number> {
    const res = await global.api(`/api/kv/${key}?flags=${flags}`, { method: 'PUT', body: value });
    expect(res.status).to.equal(200);
    return ((await res.json()) as { index: number }).index;
  }

  async function apiEntry(
    key: string,
  ): Promise<{ value: string; flags: number; modifyIndex: number } | undefined> {
    const res = await global.api(`/api/kv/${key}`);
    if (res.status === 404) return undefined;
    expect(res.status).to.equal(200);
    return (await res.json()) as { value: string; flags: number; modifyIndex: number };
  }

  /** Until global's KV index (what a new connection's full set is read from) holds `n`. */
  async function indexed(n: number): Promise<void> {
    await eventually(() => global.global.sync.kvIndex.resources().size === n, `${n} indexed`);
  }

  before(async function () {
    global = await startGlobal({ kvGlobalPrefixes: PREFIXES });
    for (const name of ['east', 'west']) {
      const res = await global.api('/api/zones', {
        method: 'POST',
        body: { name, kind: 'universal' },
      });
      expect(res.status).to.equal(201);
      tokens.set(name, ((await res.json()) as { token: string }).token);
    }
  });

  afterEach(async function () {
    for (const zone of open.splice(0)) zone.close();
    await global.global.store.delete('kv/', { recurse: true });
  });

  after(async function () {
    await global?.stop();
  });

  const token = (zone: string): { token: string } => ({ token: tokens.get(zone) ?? '' });

  it('welcomes a zone with the prefixes, sends it every global entry, then each change', async function () {
    const a = await put('global/a', 'one', 5);
    const b = await put('config/shared/b', 'two');
    // Left from a prefix that is no longer global: no zone gets it.
    await global.global.store.put('kv/old/x', Buffer.from('three'));
    await indexed(2);
    const east = await connect(token('east'));
    const { csr } = await controlCsr('east');
    const welcome = await east.hello('east', csr);
    expect(welcome.kvGlobalPrefixes).to.deep.equal(PREFIXES);
    expect(welcome.intermediatePem).to.be.a('string');
    const west = await connect(token('west'));
    expect((await west.hello('west')).kvGlobalPrefixes).to.deep.equal(PREFIXES);

    for (const zone of [east, west]) {
      const full = await zone.kvDelta('the full kv set');
      expect(full.full).to.equal(true);
      expect(upsertsByKey(full)).to.deep.equal({
        'global/a': { key: 'global/a', value: b64('one'), flags: 5, modifyIndex: a },
        'config/shared/b': { key: 'config/shared/b', value: b64('two'), flags: 0, modifyIndex: b },
      });
      expect(full.upserts.map((u) => u.name).sort()).to.deep.equal(
        [kvResourceName('global/a'), kvResourceName('config/shared/b')].sort(),
      );
    }

    // A PUT at global reaches every connected zone as an upsert…
    const c = await put('global/c', 'four', 1);
    for (const zone of [east, west]) {
      const delta = await zone.kvDelta('the new entry');
      expect(delta.full).to.equal(false);
      expect(delta.removes).to.deep.equal([]);
      expect(delta.upserts).to.deep.equal([
        {
          name: kvResourceName('global/c'),
          version: delta.upserts[0]?.version,
          body: { key: 'global/c', value: b64('four'), flags: 1, modifyIndex: c },
        },
      ]);
    }
    // …a DELETE as a removal, and a recursive one removes the whole folder.
    expect((await global.api('/api/kv/global/a', { method: 'DELETE' })).status).to.equal(200);
    for (const zone of [east, west]) {
      const delta = await zone.kvDelta('the removal');
      expect(delta.upserts).to.deep.equal([]);
      expect(delta.removes).to.deep.equal([kvResourceName('global/a')]);
    }
    const tree = await global.api('/api/kv/config/shared/?recurse', { method: 'DELETE' });
    expect(tree.status).to.equal(200);
    expect((await east.kvDelta('the folder removal')).removes).to.deep.equal([
      kvResourceName('config/shared/b'),
    ]);
  });

  it('writes set, cas, delete-cas, delete and delete-tree for a zone, answering each id', async function () {
    const east = await connect(token('east'));
    await east.hello('east');
    expect((await east.kvDelta('the (empty) full set')).upserts).to.deep.equal([]);

    const set = await east.write({ verb: 'set', key: 'global/w/1', value: b64('one'), flags: 9 });
    expect(set.ok).to.equal(true);
    expect(set.error).to.equal(undefined);
    expect(await apiEntry('global/w/1')).to.deep.include({
      value: b64('one'),
      flags: 9,
      modifyIndex: set.index,
    });
    // The zone's replica gets the write with the index it was answered.
    const replicated = await eventually(
      () => east.replica.get(kvResourceName('global/w/1')),
      'the write replicated',
    );
    expect(replicated).to.deep.equal({
      key: 'global/w/1',
      value: b64('one'),
      flags: 9,
      modifyIndex: set.index,
    });

    const stale = { verb: 'cas', key: 'global/w/1', value: b64('two'), flags: 0 } as const;
    expect(await east.write({ ...stale, index: set.index + 1 })).to.deep.include({
      ok: false,
      index: 0,
    });
    expect(await east.write({ ...stale, index: 0 })).to.deep.include({ ok: false, index: 0 });
    expect((await apiEntry('global/w/1'))?.value).to.equal(b64('one'));
    const cas = await east.write({ ...stale, index: set.index });
    expect(cas.ok).to.equal(true);
    expect(cas.index).to.be.greaterThan(set.index);

    expect(
      await east.write({ verb: 'delete-cas', key: 'global/w/1', index: set.index }),
    ).to.deep.include({ ok: false, index: 0 });
    expect(await apiEntry('global/w/1')).to.not.equal(undefined);
    const deleted = await east.write({ verb: 'delete-cas', key: 'global/w/1', index: cas.index });
    expect(deleted.ok).to.equal(true);
    expect(deleted.index).to.be.greaterThan(cas.index);
    expect(await apiEntry('global/w/1')).to.equal(undefined);

    await east.write({ verb: 'set', key: 'global/w/2', value: b64('2') });
    await east.write({ verb: 'set', key: 'global/w/3', value: b64('3') });
    const plain = await east.write({ verb: 'delete', key: 'global/w/2' });
    expect(plain.ok).to.equal(true);
    expect(await apiEntry('global/w/2')).to.equal(undefined);
    const tree = await east.write({ verb: 'delete-tree', key: 'global/w/' });
    expect(tree.ok).to.equal(true);
    expect(tree.index).to.equal(await global.global.store.currentIndex());
    expect((await global.global.store.list('kv/')).entries).to.deep.equal([]);
    // The replica follows: nothing is left there either.
    await eventually(() => east.replica.size === 0, 'the zone replica emptied');
  });

  it('refuses writes outside the global prefixes and malformed ones, keeping the session', async function () {
    const east = await connect(token('east'));
    // Before hello: refused, not written.
    east.send({ type: 'kv-write', id: 'early', op: { verb: 'set', key: 'global/x', value: '' } });
    expect((await east.written('early')).error?.message).to.equal('kv-write before hello');
    await east.hello('east');

    const outside = await east.write({ verb: 'set', key: 'app/db', value: b64('x') });
    expect(outside).to.deep.include({ ok: false, index: 0 });
    expect(outside.error).to.deep.equal({
      code: 'CW_ERR_INVALID_ARGUMENT',
      message:
        'key "app/db" is not under a global KV prefix (config/shared/, global/): global KV holds only keys in those folders; every other key belongs to a zone',
      field: 'op.key',
    });
    expect((await east.write({ verb: 'delete-tree', key: '' })).error?.message).to.match(
      /^a recursive delete of "" reaches into the global KV prefixes config\/shared\/, global\//,
    );
    expect((await east.write({ verb: 'delete', key: 'global-x' })).error?.field).to.equal('op.key');
    // Malformed ops still get an answer under their id.
    const malformed: [Record<string, unknown> | undefined, string][] = [
      [{ verb: 'lock', key: 'global/x' }, 'op.verb'],
      [{ verb: 'set', key: 'global/x', value: 'not base64!' }, 'op.value'],
      [{ verb: 'set', key: 'global/x', value: '', flags: 'many' }, 'op.flags'],
      [{ verb: 'delete', key: 'global/x', index: 3 }, 'op.index'],
      [{ verb: 'set', key: '/global/x', value: '' }, 'op.key'],
      [undefined, 'op'],
    ];
    for (const [op, field] of malformed) {
      const answer = await east.write(op);
      expect(answer.ok, JSON.stringify(op)).to.equal(false);
      expect(answer.error?.field, JSON.stringify(op)).to.equal(field);
    }
    expect((await global.global.store.list('kv/')).entries).to.deep.equal([]);

    // The session is still up and writes.
    expect(east.closed).to.equal(undefined);
    expect((await east.write({ verb: 'set', key: 'global/ok', value: b64('y') })).ok).to.equal(
      true,
    );
    expect((await apiEntry('global/ok'))?.value).to.equal(b64('y'));
    expect(global.global.sync.status('east')?.online).to.equal(true);

    // A frame that cannot be answered (no id) is a protocol error: that connection closes,
    // global keeps serving, and the zone's next connection works.
    east.send({ type: 'kv-write', op: { verb: 'delete', key: 'global/ok' } });
    await eventually(() => east.closed, 'the connection closed');
    expect(east.closed?.code).to.equal(CLOSE_PROTOCOL);
    expect(await apiEntry('global/ok')).to.not.equal(undefined);
    const again = await connect(token('east'));
    await again.hello('east');
    expect((await again.write({ verb: 'delete', key: 'global/ok' })).ok).to.equal(true);
  });

  it('answers every write of a burst: written, or refused while too many are in flight', async function () {
    const east = await connect(token('east'));
    await east.hello('east');
    const ids = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
    // One send each, back to back: the frames arrive faster than the store answers.
    for (const [i, id] of ids.entries()) {
      east.send({ type: 'kv-write', id, op: { verb: 'set', key: `global/burst/${i}`, value: '' } });
    }
    const answers = await Promise.all(ids.map((id) => east.written(id)));
    const written = new Set<string>();
    for (const [i, answer] of answers.entries()) {
      if (answer.ok) written.add(`kv/global/burst/${i}`);
      else expect(answer.error?.code).to.equal('CW_ERR_RATE_LIMITED');
    }
    const stored = (await global.global.store.list('kv/global/burst/')).entries.map((e) => e.key);
    expect(new Set(stored)).to.deep.equal(written);
    expect(written.size).to.be.greaterThan(0);
    expect(east.closed).to.equal(undefined);
  });

  it('a zone reconnecting with its control identity (mTLS) gets the full set again', async function () {
    await put('global/m', 'kept');
    await indexed(1);
    const first = await connect(token('east'));
    const { csr, keyPair } = await controlCsr('east');
    const welcome = await first.hello('east', csr);
    expect(Object.keys(upsertsByKey(await first.kvDelta('the full set')))).to.deep.equal([
      'global/m',
    ]);
    // The zone's control identity, signed by the intermediate global just issued it.
    const spiffeId = `spiffe://${SYNC_TRUST_DOMAIN}/zone/east/control`;
    const leafKeys = await generateKeyPair();
    const leafPem = signLeafCertificate({
      issuer: { certificatePem: welcome.intermediatePem ?? '', privateKey: keyPair.privateKey },
      csrPem: createCsr({ keyPair: leafKeys, spiffeId }),
      spiffeId,
    });
    const second = await connect({
      cert: leafPem + (welcome.intermediatePem ?? ''),
      key: privateKeyToPem(leafKeys.privateKey),
    });
    const again = await second.hello('east');
    expect(again.intermediatePem).to.equal(undefined);
    expect(again.kvGlobalPrefixes).to.deep.equal(PREFIXES);
    expect(global.global.sync.status('east')?.auth).to.equal('mtls');
    const full = await second.kvDelta('the full set on the new connection');
    expect(full.full).to.equal(true);
    expect(Object.keys(upsertsByKey(full))).to.deep.equal(['global/m']);
    // It writes too.
    expect((await second.write({ verb: 'set', key: 'global/n', value: b64('z') })).ok).to.equal(
      true,
    );
  });
});
