import { expect } from 'chai';
import { EndpointState } from '../../../proxy/src/outbound/endpoint.ts';
import {
  EJECTION_DECAY_INTERVAL_MS,
  MAX_EJECTION_MS,
  OutlierDetector,
} from '../../../proxy/src/outbound/outlier-detector.ts';
import { defaultOutlier } from '../../../core/index.ts';

function host(n: number) {
  const endpoints = Array.from({ length: n }, (_, i) => new EndpointState(`10.0.0.${i}`, 1));
  const events: (string | undefined)[] = [];
  return {
    endpoints,
    events,
    ejectionChanged: (_e: EndpointState, reason: string | undefined) => events.push(reason),
  };
}

describe('OutlierDetector', function () {
  it('ejects after the configured consecutive 5xx, and a success resets the count', function () {
    const h = host(10);
    const d = new OutlierDetector(h, { ...defaultOutlier(), maxEjectionPercent: 100 });
    const e = h.endpoints[0] as EndpointState;
    for (let i = 0; i < 4; i++) d.serverError(e);
    d.success(e);
    for (let i = 0; i < 4; i++) d.serverError(e);
    expect(e.isEjected()).to.equal(false);
    d.serverError(e);
    expect(e.isEjected()).to.equal(true);
    expect(h.events).to.deep.equal(['consecutive_5xx']);
    d.clear();
  });

  it('ejects for base × ejection count', function () {
    const h = host(2);
    const d = new OutlierDetector(h, {
      ...defaultOutlier(),
      consecutiveConnectFailures: 1,
      maxEjectionPercent: 50,
    });
    const e = h.endpoints[0] as EndpointState;
    let before = Date.now();
    d.connectFailure(e);
    expect(e.ejectedUntil - before).to.be.within(29_000, 30_100);
    d.clear();
    before = Date.now();
    d.connectFailure(e);
    expect(e.ejections).to.equal(2);
    expect(e.ejectedUntil - before).to.be.within(59_000, 60_100);
    d.clear();
  });

  it('caps the ejection time at 300 s (Envoy max_ejection_time), however often it failed', function () {
    const h = host(2);
    const d = new OutlierDetector(h, {
      ...defaultOutlier(),
      consecutiveConnectFailures: 1,
      maxEjectionPercent: 50,
    });
    const e = h.endpoints[0] as EndpointState;
    for (let i = 0; i < 30; i++) {
      const before = Date.now();
      d.connectFailure(e);
      expect(e.ejectedUntil - before).to.be.at.most(MAX_EJECTION_MS + 100);
      d.clear();
      // Straight back to failing: no time in service to decay the count.
      e.returnedAt = Date.now();
    }
    expect(e.ejections).to.equal(30);
    const before = Date.now();
    d.connectFailure(e);
    expect(e.ejectedUntil - before).to.be.within(MAX_EJECTION_MS - 1000, MAX_EJECTION_MS + 100);
    d.clear();
  });

  it('takes one off the ejection count per 10 s back in service', function () {
    const h = host(2);
    const d = new OutlierDetector(h, {
      ...defaultOutlier(),
      consecutiveConnectFailures: 1,
      maxEjectionPercent: 50,
    });
    const e = h.endpoints[0] as EndpointState;
    for (let i = 0; i < 3; i++) {
      d.connectFailure(e);
      d.clear();
    }
    expect(e.ejections).to.equal(3);
    // Back in service for two intervals and a bit: the fourth ejection counts as the second.
    e.returnedAt = Date.now() - 2.5 * EJECTION_DECAY_INTERVAL_MS;
    const before = Date.now();
    d.connectFailure(e);
    expect(e.ejections).to.equal(2);
    expect(e.ejectedUntil - before).to.be.within(59_000, 60_100);
    d.clear();
    // A long healthy stretch starts over at the base time.
    e.returnedAt = Date.now() - 3_600_000;
    d.connectFailure(e);
    expect(e.ejections).to.equal(1);
    d.clear();
  });

  it('caps ejections at maxEjectionPercent but always allows one', function () {
    const h = host(3);
    const d = new OutlierDetector(h, {
      ...defaultOutlier(),
      consecutive5xx: 1,
      maxEjectionPercent: 10,
    });
    for (const e of h.endpoints) d.serverError(e);
    expect(d.ejectedCount()).to.equal(1);
    d.clear();
    const big = host(20);
    const d2 = new OutlierDetector(big, {
      ...defaultOutlier(),
      consecutive5xx: 1,
      maxEjectionPercent: 10,
    });
    for (const e of big.endpoints) d2.serverError(e);
    expect(d2.ejectedCount()).to.equal(2);
    d2.clear();
  });

  it('does nothing when a threshold is 0', function () {
    const h = host(2);
    const d = new OutlierDetector(h, {
      ...defaultOutlier(),
      consecutive5xx: 0,
      consecutiveConnectFailures: 0,
    });
    const e = h.endpoints[0] as EndpointState;
    for (let i = 0; i < 100; i++) {
      d.serverError(e);
      d.connectFailure(e);
    }
    expect(e.isEjected()).to.equal(false);
  });
});
