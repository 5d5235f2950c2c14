/**
 * The shared store contract, run against the embedded backend twice: in memory, and
 * persisting to a fresh data directory (fsync on) for every store the suite opens; then the
 * behaviour specific to this backend.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError } from '../../../core/src/errors.ts';
import { openEmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type { EmbeddedStore } from '../../../core/src/store/embedded/embedded-store.ts';
import type { Entry } from '../../../core/src/store/types.ts';
import { nextEvent } from '../../helpers/async.ts';
import { describeStoreContract } from './contract/index.ts';

describeStoreContract('embedded (in memory)', {
  open: (opts) => openEmbeddedStore({ historyLimit: opts?.historyLimit }),
});

let parent: string | undefined;
let n = 0;

describeStoreContract('embedded (data dir)', {
  async open(opts) {
    parent ??= await mkdtemp(path.join(os.tmpdir(), 'causeway-embedded-contract-'));
    const dataDir = path.join(parent, `store-${++n}`);
    return openEmbeddedStore({ dataDir, historyLimit: opts?.historyLimit });
  },
  async cleanup() {
    if (parent !== undefined) await rm(parent, { recursive: true, force: true });
    parent = undefined;
  },
});

describe('embedded store specifics', function () {
  const b = (s: string): Buffer => Buffer.from(s, 'utf8');
  let store: EmbeddedStore;

  beforeEach(async function () {
    store = await openEmbeddedStore();
  });

  afterEach(async function () {
    await store.close();
  });

  it('hands out copies, so callers cannot change stored values', async function () {
    await store.put('k', b('abc'));
    (await store.get('k'))!.value.fill(0);
    (await store.list('')).entries[0]!.value.fill(0);
    const txn = await store.txn([{ op: 'get', key: 'k' }]);
    if (txn.ok) (txn.results[0] as Entry).value.fill(0);
    const put = await store.put('k2', b('xyz'));
    if (put.ok) put.entry.value.fill(0);
    expect((await store.get('k'))!.value.toString()).to.equal('abc');
    expect((await store.get('k2'))!.value.toString()).to.equal('xyz');
  });

  it('gives each watcher its own copy of a change', async function () {
    const w1 = store.watch('', 0);
    const w2 = store.watch('', 0);
    await store.put('k', b('abc'));
    const e1 = await nextEvent(w1);
    if (e1.done !== true && e1.value.type === 'change') {
      const c = e1.value.changes[0]!;
      if (c.op === 'put') c.entry.value.fill(0);
    }
    const e2 = await nextEvent(w2);
    const c2 = e2.done !== true && e2.value.type === 'change' ? e2.value.changes[0] : undefined;
    expect(c2?.op === 'put' && c2.entry.value.toString()).to.equal('abc');
    expect((await store.get('k'))!.value.toString()).to.equal('abc');
    await w1.return?.();
    await w2.return?.();
  });

  it('orders keys by code point (UTF-8 bytes), also above U+FFFF', async function () {
    for (const k of ['x/😀', 'x/\uFFFD', 'x/z', 'x/é']) await store.put(k, b('v'));
    const keys = (await store.list('x/')).entries.map((e) => e.key);
    expect(keys).to.deep.equal(['x/z', 'x/é', 'x/\uFFFD', 'x/😀']);
    const sortedByBytes = [...keys].sort((p, q) => Buffer.compare(b(p), b(q)));
    expect(keys).to.deep.equal(sortedByBytes);
  });

  it('rejects impossible options with ConfigError', async function () {
    for (const bad of [{ historyLimit: 0 }, { compactAfterBytes: -1 }, { dataDir: '' }]) {
      const err = await openEmbeddedStore(bad).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(ConfigError);
    }
  });

  it('treats compact() as a no-op in memory and reports stats', async function () {
    await store.put('k', b('v'));
    await store.compact();
    expect(store.stats()).to.deep.equal({ index: 1, keys: 1, watchers: 0, historyBase: 0 });
  });
});
