/**
 * A root rotation under live mTLS traffic, on a real zone: three mesh participants (web,
 * api, db) keep their leaves fresh and follow the trust bundle, hold a pool of long-lived
 * connections to each other that ping every 25 ms, and open new connections round-robin
 * all the while. Through every phase of the rotation no handshake and no ping may fail,
 * and the connections opened under the old root must outlive it. A revoked leaf is then
 * refused by the others while they keep talking to each other.
 */
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { expect } from 'chai';
import { pino } from 'pino';
import { sleep as abortableSleep } from '../../core/index.ts';
import { eventually, sleep } from '../helpers/async.ts';
import { MeshParticipant, echoRoundTrip } from '../helpers/mesh-participant.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

/** The rotation phase as `GET /api/ca` shows it (phases 1 and 3 are single writes). */
type Phase = 'before' | 'phase 2' | 'phase 4' | 'complete';
const PHASES: readonly Phase[] = ['before', 'phase 2', 'phase 4', 'complete'];

interface Overview {
  bundleVersion: number;
  activeRootId: string;
  rotation: {
    phase: 2 | 4 | 'complete';
    fromRootId: string;
    toRootId: string;
    bundleVersion: number;
    phases: { phase: number; oldLeaves?: { count: number } }[];
  } | null;
  participants: { acked: string[]; pending: string[]; stale: string[] };
}

interface Handshake {
  from: string;
  to: string;
  /** The root of the client's leaf when it connected. */
  clientRootId: string;
  phase: Phase;
  error?: string;
}

interface PoolConnection {
  from: string;
  to: string;
  socket: tls.TLSSocket;
  openedIn: Phase;
  clientRootId: string;
  pings: Record<Phase, number>;
  failures: { phase: Phase; error: string }[];
}

const log = pino({ name: 'mesh-traffic', level: process.env.TEST_LOG_LEVEL ?? 'silent' });

const perPhase = (): Record<Phase, number> => ({
  before: 0,
  'phase 2': 0,
  'phase 4': 0,
  complete: 0,
});

const fingerprint = (pem: string): string => new X509Certificate(pem).fingerprint.toLowerCase();

function expectNoFailures(traffic: MeshTraffic, when: string): void {
  const failures = traffic.failures();
  expect(
    failures.slice(0, 10),
    `${failures.length} failed handshakes or pings ${when}`,
  ).to.deep.equal([]);
}

/** Follows `GET /api/ca` every 100 ms so traffic can be filed under the current phase. */
class PhaseWatch {
  current: Phase = 'before';
  last: Overview | undefined;
  readonly errors: string[] = [];
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(private readonly zoneUrl: string) {}

  async overview(): Promise<Overview> {
    const res = await fetch(`${this.zoneUrl}/api/ca`);
    expect(res.status, 'GET /api/ca').to.equal(200);
    return (await res.json()) as Overview;
  }

  start(): void {
    this.#loop = (async () => {
      while (!this.#stop.signal.aborted) {
        try {
          this.last = await this.overview();
          const phase = this.last.rotation?.phase;
          this.current =
            phase === undefined ? 'before' : phase === 'complete' ? phase : `phase ${phase}`;
        } catch (err) {
          this.errors.push(String(err));
        }
        await abortableSleep(100, this.#stop.signal);
      }
    })();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
  }
}

/** The pool of long-lived connections and the loop of new handshakes. */
class MeshTraffic {
  readonly handshakes: Handshake[] = [];
  readonly pool: PoolConnection[] = [];
  readonly #stop = new AbortController();
  readonly #loops: Promise<void>[] = [];

  constructor(
    private readonly participants: readonly MeshParticipant[],
    private readonly phase: () => Phase,
  ) {}

  /** Every ordered pair of distinct participants. */
  get pairs(): [MeshParticipant, MeshParticipant][] {
    return this.participants.flatMap((from) =>
      this.participants
        .filter((to) => to !== from)
        .map((to): [MeshParticipant, MeshParticipant] => [from, to]),
    );
  }

  async openPool(): Promise<void> {
    for (const [from, to] of this.pairs) {
      const clientRootId = from.leaf.rootId;
      const socket = await from.connect(to.address);
      await echoRoundTrip(socket, 'hello\n');
      const conn: PoolConnection = {
        from: from.service,
        to: to.service,
        socket,
        openedIn: this.phase(),
        clientRootId,
        pings: perPhase(),
        failures: [],
      };
      socket.on('close', () => {
        if (!this.#stop.signal.aborted) {
          conn.failures.push({ phase: this.phase(), error: 'the connection closed' });
        }
      });
      this.pool.push(conn);
    }
  }

  start(): void {
    for (const conn of this.pool) this.#loops.push(this.#ping(conn));
    this.#loops.push(this.#handshakeLoop());
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await Promise.all(this.#loops);
    for (const conn of this.pool) conn.socket.destroy();
  }

  count(phase: Phase, rootId?: string): number {
    return this.handshakes.filter(
      (h) => h.phase === phase && !h.error && (rootId === undefined || h.clientRootId === rootId),
    ).length;
  }

  /** Every failed handshake and ping so far, one line each. */
  failures(): string[] {
    return [
      ...this.handshakes
        .filter((h) => h.error)
        .map(
          (h) =>
            `handshake ${h.from} -> ${h.to} in ${h.phase} (client leaf under ${h.clientRootId}): ${h.error}`,
        ),
      ...this.pool.flatMap((c) =>
        c.failures.map((f) => `pool ${c.from} -> ${c.to} in ${f.phase}: ${f.error}`),
      ),
    ];
  }

  pings(phase: Phase): number {
    return this.pool.reduce((sum, c) => sum + c.pings[phase], 0);
  }

  async #ping(conn: PoolConnection): Promise<void> {
    const signal = this.#stop.signal;
    for (let n = 0; !signal.aborted && conn.failures.length === 0; n++) {
      try {
        await echoRoundTrip(conn.socket, `ping ${n}\n`, 2000);
        conn.pings[this.phase()]++;
      } catch (err) {
        if (signal.aborted) return;
        conn.failures.push({ phase: this.phase(), error: String(err) });
        return;
      }
      await abortableSleep(25, signal);
    }
  }

  async #handshakeLoop(): Promise<void> {
    const signal = this.#stop.signal;
    const pairs = this.pairs;
    for (let n = 0; !signal.aborted; n++) {
      const [from, to] = pairs[n % pairs.length] as [MeshParticipant, MeshParticipant];
      const record: Handshake = {
        from: from.service,
        to: to.service,
        clientRootId: from.leaf.rootId,
        phase: 'before',
      };
      let socket: tls.TLSSocket | undefined;
      try {
        socket = await from.connect(to.address);
        await echoRoundTrip(socket, `hello ${n}\n`, 3000);
      } catch (err) {
        record.error = String(err);
      } finally {
        socket?.destroy();
      }
      record.phase = this.phase();
      this.handshakes.push(record);
      await abortableSleep(5, signal);
    }
  }
}

describe('zone CA root rotation under live mTLS traffic (integration)', function () {
  let zone: TestZone;
  let watch: PhaseWatch;
  let traffic: MeshTraffic | undefined;
  let web: MeshParticipant;
  let api: MeshParticipant;
  let db: MeshParticipant;
  let participants: MeshParticipant[] = [];

  before(async function () {
    this.timeout(20_000);
    zone = await startZone({ leafTtl: '4s' });
    watch = new PhaseWatch(zone.url);
    [web, api, db] = participants = ['web', 'api', 'db'].map(
      (service) => new MeshParticipant(zone.url, service),
    ) as [MeshParticipant, MeshParticipant, MeshParticipant];
    await Promise.all(participants.map((p) => p.start()));
    watch.start();
  });

  after(async function () {
    this.timeout(20_000);
    await traffic?.stop();
    await Promise.all(participants.map((p) => p.close()));
    await watch?.stop();
    await zone?.stop();
  });

  it('keeps pooled connections and new handshakes working through all four phases', async function () {
    this.timeout(40_000);
    const before = await watch.overview();
    expect(before.rotation).to.equal(null);
    const oldRoot = before.activeRootId;
    const active = new MeshTraffic(participants, () => watch.current);
    traffic = active;
    await active.openPool();
    active.start();
    await sleep(1000);
    expectNoFailures(active, 'before the rotation');

    const started = await fetch(`${zone.url}/api/ca/rotation`, { method: 'POST' });
    expect(started.status, 'POST /api/ca/rotation').to.equal(201);
    const rotation = ((await started.json()) as Overview).rotation;
    expect(rotation?.phase).to.equal(2);
    const newRoot = rotation?.toRootId as string;
    expect(newRoot).to.be.a('string').and.not.equal(oldRoot);

    // Phase 2 ends only when every participant acknowledged the new bundle, phase 4 only
    // when the last leaf under the old root expired (4 s after signing switched).
    const deadline = Date.now() + 20_000;
    while (watch.current !== 'complete') {
      if (Date.now() > deadline) {
        const last = watch.last;
        throw new Error(
          `the rotation did not complete within 20 s: it is in ${watch.current}; ` +
            `participants pending: ${JSON.stringify(last?.participants.pending)}; ` +
            `old leaves left: ${JSON.stringify(last?.rotation?.phases[3]?.oldLeaves)}; ` +
            `GET /api/ca errors: ${JSON.stringify(watch.errors.slice(-3))}`,
        );
      }
      await sleep(50);
    }
    // Traffic after the old root left every bundle.
    await sleep(1500);
    const openAtEnd = active.pool.filter((c) => !c.socket.destroyed).length;
    await active.stop();
    traffic = undefined;

    const figures = {
      handshakes: Object.fromEntries(PHASES.map((p) => [p, active.count(p)])),
      handshakesUnderNewRoot: Object.fromEntries(PHASES.map((p) => [p, active.count(p, newRoot)])),
      pings: Object.fromEntries(PHASES.map((p) => [p, active.pings(p)])),
      leaves: Object.fromEntries(participants.map((p) => [p.service, p.leaves.length])),
    };
    log.info(figures, 'mesh traffic through a root rotation');

    expectNoFailures(active, 'through the rotation');
    expect(openAtEnd, 'pool connections still open at the end').to.equal(active.pool.length);
    for (const conn of active.pool) {
      const name = `pool ${conn.from} -> ${conn.to}`;
      // Opened under the old root before the rotation, and still answering after it left.
      expect(conn.openedIn, name).to.equal('before');
      expect(conn.clientRootId, name).to.equal(oldRoot);
      for (const phase of PHASES) expect(conn.pings[phase], `${name} in ${phase}`).to.be.above(0);
    }

    // Old leaves were accepted while the old root signed, new ones as soon as it switched.
    expect(active.count('before'), 'handshakes before the rotation').to.be.at.least(5);
    expect(active.count('phase 2', oldRoot), 'old-root handshakes in phase 2').to.be.at.least(5);
    expect(active.count('phase 4', newRoot), 'new-root handshakes in phase 4').to.be.at.least(5);
    expect(active.count('complete', newRoot), 'new-root handshakes after').to.be.at.least(5);
    expect(active.count('complete', oldRoot), 'old-root handshakes after').to.equal(0);

    const bundle = (await (await fetch(`${zone.url}/api/ca/bundle`)).json()) as {
      bundleVersion: number;
      roots: string[];
    };
    expect(bundle.roots.map(fingerprint)).to.deep.equal([newRoot]);
    for (const p of participants) {
      expect(p.leaf.rootId, `${p.service}'s leaf`).to.equal(newRoot);
      expect(p.roots.map(fingerprint), `${p.service}'s roots`).to.deep.equal([newRoot]);
      expect(p.acked, `${p.service}'s acks`).to.include.members([
        rotation?.bundleVersion as number,
        bundle.bundleVersion,
      ]);
      expect(p.renewer.failures, `${p.service}'s failed renewals`).to.equal(0);
      // A 4 s leaf renews about every 3 s, plus once when signing switched: a handful.
      expect(p.leaves.length, `${p.service}'s leaves`).to.be.within(2, 20);
      expect(p.serverTlsErrors, `${p.service}'s refused handshakes`).to.deep.equal([]);
      expect(p.bundleErrors, `${p.service}'s bundle follower`).to.deep.equal([]);
      expect(p.refusals, `${p.service}'s refusals`).to.deep.equal([]);
    }
  });

  it('refuses a revoked leaf while the other participants keep talking', async function () {
    this.timeout(20_000);
    // A fresh leaf (4 s) that stays installed, so it is refused for its revocation and
    // not for its age.
    const issued = api.leaves.length;
    api.renewer.renewNow();
    await eventually(() => api.leaves.length > issued, 'a fresh leaf for api', 5000);
    await api.stopRenewing();
    const revoked = api.leaf;

    const res = await fetch(`${zone.url}/api/ca/revocations`, {
      method: 'POST',
      body: JSON.stringify({ serial: revoked.serial, reason: 'keyCompromise' }),
    });
    expect(res.status, 'POST /api/ca/revocations').to.equal(201);
    await eventually(
      () => web.isRevoked(revoked.serial) && db.isRevoked(revoked.serial),
      'web and db to see the revocation',
      5000,
    );

    const attempt = async (from: MeshParticipant, to: MeshParticipant): Promise<string> => {
      let socket: tls.TLSSocket | undefined;
      try {
        socket = await from.connect(to.address);
        await echoRoundTrip(socket, 'hello\n');
        return 'ok';
      } catch (err) {
        return String(err);
      } finally {
        socket?.destroy();
      }
    };
    // api as a client: the handshake completes (TLS 1.3), then the server drops it.
    expect(await attempt(api, web)).to.not.equal('ok');
    expect(await attempt(api, db)).to.not.equal('ok');
    // api as a server: the clients refuse its leaf themselves.
    expect(await attempt(web, api)).to.include('revoked');
    expect(await attempt(db, api)).to.include('revoked');
    expect(await attempt(web, db)).to.equal('ok');
    expect(await attempt(db, web)).to.equal('ok');
    expect(Date.now(), 'the revoked leaf is still within its validity').to.be.below(
      revoked.notAfter.getTime(),
    );
    const serial = (s: string) => s.replace(/^0+/, '').toLowerCase();
    for (const p of [web, db]) {
      const refused = p.refusals.map((r) => ({ ...r, serial: serial(r.serial) }));
      expect(refused, `${p.service}'s refusals`).to.deep.include.members([
        { as: 'server', spiffeId: api.spiffeId, serial: serial(revoked.serial), reason: 'revoked' },
        { as: 'client', spiffeId: api.spiffeId, serial: serial(revoked.serial), reason: 'revoked' },
      ]);
    }

    // The refusal is for that leaf, not for the identity: a new leaf is accepted again.
    await api.startRenewing();
    expect(api.leaf.serial).to.not.equal(revoked.serial);
    expect(await attempt(api, web)).to.equal('ok');
    expect(await attempt(web, api)).to.equal('ok');
  });
});
