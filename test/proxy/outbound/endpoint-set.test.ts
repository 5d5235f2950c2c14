import { expect } from 'chai';
import { EndpointState } from '../../../proxy/src/outbound/endpoint.ts';
import { buildEndpointSet, distributeLoad } from '../../../proxy/src/outbound/endpoint-set.ts';
import type { EndpointSet } from '../../../proxy/src/outbound/endpoint-set.ts';

type Health = 'passing' | 'warning' | 'critical';

let next = 1;

function ep(
  priority: number,
  health: Health = 'passing',
  options: { weight?: number; ejected?: boolean } = {},
) {
  const e = new EndpointState(`10.0.${Math.floor(next / 250)}.${next++ % 250}`, 8443);
  e.priority = priority;
  e.health = health;
  e.weight = options.weight ?? 1;
  if (options.ejected === true) e.ejectedUntil = Date.now() + 60_000;
  return e;
}

/** `total` endpoints at `priority`, the first `healthy` of them passing, the rest critical. */
function level(priority: number, total: number, healthy: number): EndpointState[] {
  return Array.from({ length: total }, (_, i) =>
    ep(priority, i < healthy ? 'passing' : 'critical'),
  );
}

function loads(set: EndpointSet): number[] {
  return set.levels.map((l) => l.load);
}

/** How often each priority is chosen over r = 0..99 (each r stands for 1% of requests). */
function chosen(set: EndpointSet): Map<number, number> {
  const counts = new Map<number, number>();
  for (let r = 0; r < 100; r++) {
    const p = set.choose(r + 0.5)?.priority as number;
    counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return counts;
}

describe('buildEndpointSet (priority load with overprovisioning)', function () {
  it('keeps all traffic local while 8 of 10 are healthy: 80% × 1.4 is capped at 100', function () {
    const set = buildEndpointSet([...level(0, 10, 8), ...level(1, 3, 3)], 50, 1.4);
    expect(set.levels.map((l) => l.health)).to.deep.equal([100, 100]);
    expect(loads(set)).to.deep.equal([100, 0]);
    expect(set.levels[0]?.targets).to.have.length(8);
    expect(chosen(set).get(0)).to.equal(100);
  });

  it('sends 70% local and 30% to P1 when 5 of 10 are healthy', function () {
    const set = buildEndpointSet([...level(0, 10, 5), ...level(1, 3, 3)], 50, 1.4);
    expect(set.levels[0]?.health).to.equal(70);
    expect(loads(set)).to.deep.equal([70, 30]);
    expect(set.levels[0]?.panic).to.equal(false);
    expect(set.levels[0]?.targets.every((e) => e.health === 'passing')).to.equal(true);
    const counts = chosen(set);
    expect([counts.get(0), counts.get(1)]).to.deep.equal([70, 30]);
  });

  it('sends everything to P1 when no P0 endpoint is healthy', function () {
    const set = buildEndpointSet([...level(0, 10, 0), ...level(1, 3, 3)], 50, 1.4);
    expect(loads(set)).to.deep.equal([0, 100]);
    expect(chosen(set).get(1)).to.equal(100);
    expect(set.primary()?.priority).to.equal(1);
  });

  it('weighs health by endpoint weight, not by count', function () {
    // One heavy endpoint down out of four: 3 of 10 weight healthy → 42%.
    const p0 = [ep(0, 'critical', { weight: 7 }), ep(0), ep(0), ep(0)];
    const set = buildEndpointSet([...p0, ep(1)], 50, 1.4);
    expect(set.levels[0]?.healthyWeight).to.equal(3);
    expect(set.levels[0]?.totalWeight).to.equal(10);
    expect(set.levels[0]?.health).to.equal(42);
    expect(loads(set)).to.deep.equal([42, 58]);
    // The same level by count would be 75% healthy and keep all of the traffic.
    const light = buildEndpointSet([ep(0, 'critical'), ep(0), ep(0), ep(0), ep(1)], 50, 1.4);
    expect(loads(light)).to.deep.equal([100, 0]);
  });

  it('counts ejected endpoints as unhealthy', function () {
    const p0 = [ep(0), ep(0, 'passing', { ejected: true })];
    const set = buildEndpointSet([...p0, ep(1)], 50, 1.4);
    expect(loads(set)).to.deep.equal([70, 30]);
    expect(set.levels[0]?.targets).to.deep.equal([p0[0]]);
  });

  it('treats warning as healthy', function () {
    const set = buildEndpointSet([ep(0, 'warning'), ep(0, 'warning'), ep(1)], 50, 1.4);
    expect(loads(set)).to.deep.equal([100, 0]);
  });

  it('uses the configured overprovisioning factor', function () {
    const eps = [...level(0, 10, 8), ...level(1, 2, 2)];
    expect(loads(buildEndpointSet(eps, 50, 1))).to.deep.equal([80, 20]);
    expect(loads(buildEndpointSet(eps, 50, 1.1))).to.deep.equal([88, 12]);
    expect(loads(buildEndpointSet(level(0, 10, 1).concat(level(1, 1, 1)), 50, 10))).to.deep.equal([
      100, 0,
    ]);
  });

  it('spills through several levels, each up to its health', function () {
    // Healths 42, 28, 100: P0 42, P1 28, P2 the remaining 30.
    const set = buildEndpointSet(
      [...level(0, 10, 3), ...level(1, 10, 2), ...level(2, 2, 2)],
      50,
      1.4,
    );
    expect(set.levels.map((l) => l.health)).to.deep.equal([42, 28, 100]);
    expect(loads(set)).to.deep.equal([42, 28, 30]);
    // The healths add up to 100 or more: no level panics, low as its own share may be.
    expect(set.levels.map((l) => l.panic)).to.deep.equal([false, false, false]);
  });

  it('normalises the loads by the total health when it is below 100', function () {
    // Healths 28 and 42 (70 in all): 28/70 → 40%, 42/70 → 60%.
    const set = buildEndpointSet([...level(0, 10, 2), ...level(1, 10, 3)], 0, 1.4);
    expect(set.levels.map((l) => l.health)).to.deep.equal([28, 42]);
    expect(loads(set)).to.deep.equal([40, 60]);
    expect(loads(set).reduce((a, b) => a + b, 0)).to.equal(100);
  });

  it('gives rounding leftovers to the first level with health', function () {
    expect(distributeLoad([0, 14, 14, 14])).to.deep.equal([0, 34, 33, 33]);
    expect(distributeLoad([100, 100])).to.deep.equal([100, 0]);
  });

  it('panics a level below the threshold when the total health is short: all its endpoints share its load', function () {
    // P0: 1 of 3 healthy (33% < 50%, health 46); P1: 6 of 10 (health 84): 130 ≥ 100, no panic.
    const ok = buildEndpointSet([...level(0, 3, 1), ...level(1, 10, 6)], 50, 1.4);
    expect(ok.levels.map((l) => l.panic)).to.deep.equal([false, false]);
    // P1 smaller: 1 of 3 (46) + 1 of 10 (14) = 60 < 100, both below 50%: total panic, by weight.
    const both = buildEndpointSet([...level(0, 3, 1), ...level(1, 10, 1)], 50, 1.4);
    expect(both.totalPanic).to.equal(true);
    expect(both.levels.map((l) => l.panic)).to.deep.equal([true, true]);
    expect(loads(both)).to.deep.equal([24, 76]); // 3 and 10 of 13 weight, leftover to P0
    expect(both.levels[0]?.targets).to.have.length(3);
    // Healths 14 and 70 (84 < 100): P0 at 10% healthy panics, P1 at 50% does not.
    const one = buildEndpointSet([...level(0, 10, 1), ...level(1, 10, 5)], 50, 1.4);
    expect(one.levels.map((l) => l.health)).to.deep.equal([14, 70]);
    expect(one.levels.map((l) => l.panic)).to.deep.equal([true, false]);
    expect(one.totalPanic).to.equal(false);
    expect(loads(one)).to.deep.equal([17, 83]); // 14/84 and 70/84, leftover to P0
    expect(one.levels[0]?.targets).to.have.length(10);
    expect(one.levels[1]?.targets).to.have.length(5);
  });

  it('at exactly the threshold a level does not panic, and threshold 0 disables panic', function () {
    const half = buildEndpointSet(level(0, 2, 1), 50, 1);
    expect(half.levels[0]?.panic).to.equal(false);
    expect(half.levels[0]?.targets).to.have.length(1);
    const low = buildEndpointSet(level(0, 4, 1), 0, 1.4);
    expect(low.levels[0]?.panic).to.equal(false);
    expect(low.levels[0]?.targets).to.have.length(1);
    expect(loads(low)).to.deep.equal([100]);
  });

  it('with nothing healthy anywhere: total panic by weight, or no target with panic off', function () {
    const eps = [ep(1, 'critical'), ep(0, 'critical'), ep(0, 'critical', { weight: 2 })];
    const panic = buildEndpointSet(eps, 50, 1.4);
    expect(panic.totalPanic).to.equal(true);
    expect(panic.levels.map((l) => l.priority)).to.deep.equal([0, 1]);
    expect(loads(panic)).to.deep.equal([75, 25]);
    expect(panic.levels[0]?.targets).to.have.length(2);
    const off = buildEndpointSet(eps, 0, 1.4);
    expect(loads(off)).to.deep.equal([100, 0]);
    expect(off.choose(50)?.targets).to.deep.equal([]);
    expect(buildEndpointSet([], 50, 1.4).levels).to.deep.equal([]);
    expect(buildEndpointSet([], 50, 1.4).choose(10)).to.equal(undefined);
  });

  it('orders levels by priority whatever the endpoint order, and skips missing numbers', function () {
    const set = buildEndpointSet([ep(5), ep(0, 'critical'), ep(2)], 50, 1.4);
    expect(set.levels.map((l) => [l.priority, l.index])).to.deep.equal([
      [0, 0],
      [2, 1],
      [5, 2],
    ]);
    expect(loads(set)).to.deep.equal([0, 100, 0]);
  });

  it('a retry avoiding a level spreads its load over the others by their health', function () {
    // Envoy's example: healths 100, 50, 50 give loads 100, 0, 0; avoiding P0 gives 0, 50, 50.
    const set = buildEndpointSet(
      [...level(0, 2, 2), ...level(1, 10, 4), ...level(2, 10, 4)],
      50,
      1.25,
    );
    expect(set.levels.map((l) => l.health)).to.deep.equal([100, 50, 50]);
    expect(loads(set)).to.deep.equal([100, 0, 0]);
    const counts = new Map<number, number>();
    for (let r = 0; r < 100; r++) {
      const p = set.chooseAvoiding(r + 0.5, (l) => l.priority === 0)?.priority as number;
      counts.set(p, (counts.get(p) ?? 0) + 1);
    }
    expect([counts.get(0), counts.get(1), counts.get(2)]).to.deep.equal([undefined, 50, 50]);
  });

  it('a retry avoiding every level with health falls back to the normal loads', function () {
    const set = buildEndpointSet([...level(0, 2, 2), ...level(1, 2, 0)], 0, 1.4);
    for (let r = 0; r < 100; r += 7) {
      expect(set.chooseAvoiding(r, (l) => l.priority === 0)?.priority).to.equal(0);
    }
  });
});
