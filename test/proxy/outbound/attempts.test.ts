import { expect } from 'chai';
import { Attempts } from '../../../proxy/src/outbound/attempts.ts';
import { EndpointState } from '../../../proxy/src/outbound/endpoint.ts';
import { buildEndpointSet } from '../../../proxy/src/outbound/endpoint-set.ts';

function ep(i: number, priority: number): EndpointState {
  const e = new EndpointState(`10.0.0.${i}`, 8443);
  e.priority = priority;
  return e;
}

describe('Attempts', function () {
  const [a, b, c] = [ep(1, 0), ep(2, 0), ep(3, 1)] as [EndpointState, EndpointState, EndpointState];
  const set = buildEndpointSet([a, b, c], 50, 1.4);
  const [p0, p1] = set.levels;

  it('avoids a level once every one of its targets was tried', function () {
    const attempts = new Attempts();
    attempts.add(a, false);
    expect(attempts.avoids(p0!)).to.equal(false);
    attempts.add(b, false);
    expect(attempts.avoids(p0!)).to.equal(true);
    expect(attempts.avoids(p1!)).to.equal(false);
    expect(attempts.endpoints).to.deep.equal([a, b]);
  });

  it('avoids a level at once after a connect failure on one of its endpoints', function () {
    const attempts = new Attempts();
    attempts.add(a, true);
    expect(attempts.avoids(p0!)).to.equal(true);
    expect(attempts.avoids(p1!)).to.equal(false);
  });

  it('records an endpoint tried twice once', function () {
    const attempts = new Attempts();
    attempts.add(c, false);
    attempts.add(c, false);
    expect(attempts.endpoints).to.deep.equal([c]);
    expect(attempts.avoids(p1!)).to.equal(true);
  });
});
