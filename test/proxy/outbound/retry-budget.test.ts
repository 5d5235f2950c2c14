import { expect } from 'chai';
import { defaultRetryPolicy } from '../../../core/index.ts';
import { RetryBudget, backoffMs, isIdempotent } from '../../../proxy/src/outbound/retry-budget.ts';

describe('retry budget and backoff', function () {
  it('allows retries up to budgetPercent of active requests, with a floor', function () {
    const policy = defaultRetryPolicy(); // 20%, at least 3
    const budget = new RetryBudget();
    budget.active = 2;
    expect(budget.allows(policy, 1)).to.equal(true);
    budget.active = 3;
    expect(budget.allows(policy, 10)).to.equal(false);
    expect(budget.allows(policy, 100)).to.equal(true);
    budget.active = 20;
    expect(budget.allows(policy, 100)).to.equal(false);
  });

  it('hands out retry slots up to the budget and takes them back', function () {
    const policy = { ...defaultRetryPolicy(), budgetPercent: 20, minRetryConcurrency: 2 };
    const budget = new RetryBudget();
    expect(budget.tryAcquire(policy, 5)).to.equal(true);
    expect(budget.tryAcquire(policy, 5)).to.equal(true);
    // 20% of 5 active requests is 1; the floor of 2 is reached.
    expect(budget.tryAcquire(policy, 5)).to.equal(false);
    expect(budget.active).to.equal(2);
    budget.release();
    expect(budget.tryAcquire(policy, 5)).to.equal(true);
  });

  it('backs off with full jitter under an exponential, capped ceiling', function () {
    const policy = { ...defaultRetryPolicy(), baseIntervalMs: 25, maxIntervalMs: 250 };
    for (let i = 0; i < 200; i++) {
      expect(backoffMs(policy, 0)).to.be.within(0, 25);
      expect(backoffMs(policy, 2)).to.be.within(0, 100);
      expect(backoffMs(policy, 10)).to.be.within(0, 250);
    }
    const samples = Array.from({ length: 500 }, () => backoffMs(policy, 3));
    expect(Math.max(...samples)).to.be.greaterThan(150);
    expect(Math.min(...samples)).to.be.lessThan(50);
  });

  it('knows the idempotent methods', function () {
    for (const m of ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE'])
      expect(isIdempotent(m)).to.equal(true);
    for (const m of ['POST', 'PATCH', 'CONNECT', undefined])
      expect(isIdempotent(m)).to.equal(false);
  });
});
