/**
 * A root rotation on a real zone, through the API only: the phases advance when their
 * conditions hold (every live participant acknowledged the new bundle; the last leaf under
 * the old root expired), not before, and an operator can end a phase early.
 */
import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import { verifyLeafChain } from '../../core/index.ts';
import { eventually, sleep } from '../helpers/async.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';
import { requestLeaf, workloadId } from '../helpers/ca.ts';

const web = workloadId('web');

interface Overview {
  bundleVersion: number;
  activeRootId: string;
  roots: { id: string; crossSigned: boolean }[];
  rotation: {
    phase: number | 'complete';
    fromRootId: string;
    toRootId: string;
    forced?: unknown;
    phases: {
      phase: number;
      state: string;
      forced: boolean;
      progress?: { pending: string[]; acked: string[] }[];
      oldLeaves?: { count: number };
    }[];
  } | null;
}

describe('zone CA root rotation (integration)', function () {
  this.timeout(60_000);
  let zone: TestZone;

  before(async function () {
    // Long enough that the first leaf outlives phase 2 on a loaded machine; phase 4 waits
    // for it to expire.
    zone = await startZone({ leafTtl: '8s' });
  });
  after(async function () {
    await zone?.stop();
  });

  const overview = async (): Promise<Overview> =>
    (await (await fetch(`${zone.url}/api/ca`)).json()) as Overview;
  const ack = (participant: string, bundleVersion: number) =>
    fetch(`${zone.url}/api/ca/ack`, {
      method: 'PUT',
      body: JSON.stringify({ participant, bundleVersion }),
    });
  const leaf = async () =>
    (await (await requestLeaf(zone, web)).json()) as {
      chainPem: string;
      trustBundle: string[];
      rootId: string;
    };

  it('goes through the four phases as their conditions come true', async function () {
    const before = await overview();
    const oldRoot = before.activeRootId;
    expect((await ack(web, before.bundleVersion)).status).to.equal(200);
    const oldLeaf = await leaf();
    expect(oldLeaf.rootId).to.equal(oldRoot);

    const started = await fetch(`${zone.url}/api/ca/rotation`, { method: 'POST' });
    expect(started.status).to.equal(201);
    let view = (await started.json()) as Overview;
    expect(view.rotation?.phase).to.equal(2);
    expect(view.roots.map((r) => r.id)).to.include(oldRoot);
    expect(view.roots).to.have.length(2);
    const newRoot = view.rotation?.toRootId as string;
    expect(view.roots.find((r) => r.id === newRoot)?.crossSigned).to.equal(true);
    // Leaves are still signed under the old root, and a second rotation must wait.
    expect((await leaf()).rootId).to.equal(oldRoot);
    expect((await fetch(`${zone.url}/api/ca/rotation`, { method: 'POST' })).status).to.equal(409);

    // The zone acknowledges by itself; `web` has not: phase 2 holds.
    view = await eventually(async () => {
      const v = await overview();
      const progress = v.rotation?.phases[1]?.progress?.[0];
      return progress?.acked.some((p) => p.endsWith('/control')) ? v : undefined;
    }, 'the zone to acknowledge its own bundle');
    expect(view.rotation?.phases[1]?.progress?.[0]?.pending).to.deep.equal([web]);
    await sleep(1500);
    expect((await overview()).rotation?.phase).to.equal(2);

    // A bundle version from the future is refused.
    expect((await ack(web, view.bundleVersion + 1)).status).to.equal(409);
    expect((await ack(web, view.bundleVersion)).status).to.equal(200);
    view = await eventually(async () => {
      const v = await overview();
      return v.rotation?.phase === 4 ? v : undefined;
    }, 'signing to switch to the new root');
    expect(view.activeRootId).to.equal(newRoot);
    expect(view.rotation?.phases.map((p) => p.state)).to.deep.equal([
      'done',
      'done',
      'done',
      'in-progress',
    ]);
    expect(view.rotation?.phases[3]?.oldLeaves?.count).to.be.at.least(1);

    const newLeaf = await leaf();
    expect(newLeaf.rootId).to.equal(newRoot);
    const verified = verifyLeafChain(newLeaf.chainPem, newLeaf.trustBundle);
    expect(verified.root.fingerprint.toLowerCase()).to.equal(newRoot);
    // The old leaf is still trusted by the bundle during phase 4.
    expect(
      verifyLeafChain(oldLeaf.chainPem, newLeaf.trustBundle).root.fingerprint.toLowerCase(),
    ).to.equal(oldRoot);

    view = await eventually(
      async () => {
        const v = await overview();
        return v.rotation?.phase === 'complete' ? v : undefined;
      },
      'the old root to retire after its last leaf expired',
      25_000,
    );
    expect(view.roots.map((r) => r.id)).to.deep.equal([newRoot]);
    expect(view.bundleVersion).to.equal(before.bundleVersion + 2);
    expect(view.rotation?.phases.every((p) => p.state === 'done' && !p.forced)).to.equal(true);
    const bundle = (await (await fetch(`${zone.url}/api/ca/bundle`)).json()) as { roots: string[] };
    expect(bundle.roots.map((p) => new X509Certificate(p).fingerprint.toLowerCase())).to.deep.equal(
      [newRoot],
    );
  });

  it('lets an operator end phases 2 and 4 early, one phase at a time', async function () {
    const started = (await (
      await fetch(`${zone.url}/api/ca/rotation`, {
        method: 'POST',
        body: JSON.stringify({ keyType: 'rsa' }),
      })
    ).json()) as Overview;
    expect(started.rotation?.phase).to.equal(2);
    // `web` acknowledged an older bundle and is still fresh: it holds phase 2.
    const advance = (phase: unknown) =>
      fetch(`${zone.url}/api/ca/rotation/advance`, {
        method: 'POST',
        body: JSON.stringify({ phase }),
      });
    expect((await advance(4)).status).to.equal(409);
    expect((await advance(3)).status).to.equal(400);
    const forced = (await (await advance(2)).json()) as Overview;
    expect(forced.rotation?.phase).to.equal(4);
    expect(forced.rotation?.phases[1]?.forced).to.equal(true);
    expect((await leaf()).rootId).to.equal(forced.rotation?.toRootId);
    const done = (await (await advance(4)).json()) as Overview;
    expect(done.rotation?.phase).to.equal('complete');
    expect(done.roots).to.have.length(1);
    expect((await advance(4)).status).to.equal(409);
  });

  it('counts each instance of a service as its own participant', async function () {
    const ackAs = (instance: unknown, bundleVersion: number) =>
      fetch(`${zone.url}/api/ca/ack`, {
        method: 'PUT',
        body: JSON.stringify({ participant: web, bundleVersion, instance }),
      });
    const current = (await overview()).bundleVersion;
    expect((await ackAs('web-1', current)).status).to.equal(200);
    expect((await ackAs('web-2', current)).status).to.equal(200);
    expect((await ackAs('bad instance', current)).status).to.equal(400);
    // The instance-less `web` participant from the first test is up to date too.
    expect((await ack(web, current)).status).to.equal(200);
    const started = (await (
      await fetch(`${zone.url}/api/ca/rotation`, { method: 'POST' })
    ).json()) as Overview;
    const next = started.bundleVersion;
    expect((await ack(web, next)).status).to.equal(200);
    expect((await ackAs('web-1', next)).status).to.equal(200);
    // web-2 still trusts only the old root: web-1 cannot stand in for it.
    const held = await eventually(async () => {
      const v = await overview();
      const progress = v.rotation?.phases[1]?.progress?.[0];
      return progress?.acked.some((p) => p.endsWith('/control')) ? v : undefined;
    }, 'the zone to acknowledge its own bundle');
    expect(held.rotation?.phases[1]?.progress?.[0]?.pending).to.deep.equal([`${web} (web-2)`]);
    await sleep(1200);
    expect((await overview()).rotation?.phase).to.equal(2);
    expect((await ackAs('web-2', next)).status).to.equal(200);
    await eventually(
      async () => (await overview()).rotation?.phase === 4,
      'signing to switch once web-2 acknowledged',
    );
    const done = (await (
      await fetch(`${zone.url}/api/ca/rotation/advance`, {
        method: 'POST',
        body: JSON.stringify({ phase: 4 }),
      })
    ).json()) as Overview;
    expect(done.rotation?.phase).to.equal('complete');
  });

  it('refuses a provided root that is not a usable CA', async function () {
    const res = await fetch(`${zone.url}/api/ca/rotation`, {
      method: 'POST',
      body: JSON.stringify({ certificatePem: 'nope' }),
    });
    expect(res.status).to.equal(400);
    const body = (await res.json()) as { error: { field: string } };
    expect(body.error.field).to.equal('privateKeyPem');
    const leafAsRoot = (await leaf()).chainPem;
    const bad = await fetch(`${zone.url}/api/ca/rotation`, {
      method: 'POST',
      body: JSON.stringify({ certificatePem: leafAsRoot, privateKeyPem: 'x' }),
    });
    expect(bad.status).to.equal(400);
    expect((await overview()).rotation?.phase).to.equal('complete');
  });
});
