import { expect } from 'chai';
import {
  LeafRenewer,
  RevocationList,
  normalizeSerial,
  renewalDelayMs,
} from '../../../core/index.ts';
import type { IssuedLeaf } from '../../../core/index.ts';
import { InvalidArgumentError } from '../../../core/index.ts';

describe('leaf renewal', function () {
  const leaf = (startMs: number, lifetimeMs: number): IssuedLeaf => ({
    certificatePem: 'x',
    notBefore: new Date(startMs),
    notAfter: new Date(startMs + lifetimeMs),
  });

  it('renews between 75% and 80% of the lifetime', function () {
    const l = leaf(0, 1000);
    expect(renewalDelayMs(l, new Date(0), () => 0)).to.equal(800);
    expect(renewalDelayMs(l, new Date(0), () => 1)).to.equal(750);
    expect(renewalDelayMs(l, new Date(100), () => 0.5)).to.equal(675);
    expect(renewalDelayMs(l, new Date(900), () => 0)).to.equal(0);
  });

  it('counts the lifetime from issuance when notBefore is backdated', function () {
    // A 4 s leaf backdated a minute: counted from notBefore it would be overdue at once.
    const backdated = { ...leaf(-60_000, 64_000), issuedAt: new Date(0) };
    expect(renewalDelayMs(backdated, new Date(0), () => 0)).to.equal(3200);
  });

  it('keeps the current leaf when a renewal fails, and renews at once on request', async function () {
    let calls = 0;
    const installed: IssuedLeaf[] = [];
    const renewer = new LeafRenewer({
      issue: () => {
        calls++;
        if (calls === 2) return Promise.reject(new Error('CA down'));
        return Promise.resolve(leaf(Date.now(), 60_000));
      },
      install: (l) => installed.push(l),
      retryMs: 10,
    });
    const ac = new AbortController();
    let ready!: () => void;
    const first = new Promise<void>((resolve) => (ready = resolve));
    const running = renewer.run(ac.signal, ready);
    await first;
    expect(installed).to.have.length(1);
    renewer.renewNow(); // → fails (calls 2), retried after 10 ms (calls 3)
    const deadline = Date.now() + 2000;
    while (installed.length < 2 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    await running;
    expect(calls).to.equal(3);
    expect(renewer.failures).to.equal(1);
    expect(installed).to.have.length(2);
    expect(renewer.current).to.equal(installed[1]);
  });
});

describe('RevocationList', function () {
  it('matches serials however they are written', function () {
    const list = new RevocationList(['01:AB:cd']);
    expect(list.isRevoked({ serialNumber: '1ABCD' })).to.equal(true);
    expect(list.isRevoked({ serialNumber: '0001abcd' })).to.equal(true);
    expect(list.isRevoked({ serialNumber: '1ABCE' })).to.equal(false);
    expect(list.serials()).to.deep.equal(['1abcd']);
    expect(normalizeSerial('00')).to.equal('0');
    expect(() => normalizeSerial('xyz')).to.throw(InvalidArgumentError, /serial/);
  });
});
