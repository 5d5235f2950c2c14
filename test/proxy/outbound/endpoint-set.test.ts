import { expect } from 'chai';
import { EndpointState } from '../../../proxy/src/outbound/endpoint.ts';
import { selectEndpoints } from '../../../proxy/src/outbound/endpoint-set.ts';

function ep(
  i: number,
  priority: number,
  health: 'passing' | 'warning' | 'critical',
  ejected = false,
) {
  const e = new EndpointState(`10.0.0.${i}`, 8443);
  e.priority = priority;
  e.health = health;
  if (ejected) e.ejectedUntil = Date.now() + 60_000;
  return e;
}

describe('selectEndpoints', function () {
  it('uses the healthy endpoints of the lowest priority level that has any', function () {
    const local = [ep(1, 0, 'passing'), ep(2, 0, 'warning'), ep(3, 0, 'critical')];
    const remote = [ep(4, 1, 'passing')];
    const set = selectEndpoints([...remote, ...local], 50);
    expect(set.priority).to.equal(0);
    expect(set.panic).to.equal(false);
    expect(set.endpoints.map((e) => e.key)).to.deep.equal([local[0]?.key, local[1]?.key]);
  });

  it('fails over to the next level when a level has no healthy endpoint', function () {
    const set = selectEndpoints(
      [ep(1, 0, 'critical'), ep(2, 0, 'passing', true), ep(3, 1, 'passing')],
      50,
    );
    expect(set.priority).to.equal(1);
    expect(set.endpoints).to.have.length(1);
  });

  it('panics below the threshold: all endpoints of the level get traffic', function () {
    const level = [
      ep(1, 0, 'passing'),
      ep(2, 0, 'critical'),
      ep(3, 0, 'critical', false),
      ep(4, 0, 'passing', true),
    ];
    const set = selectEndpoints(level, 50);
    expect(set.panic).to.equal(true);
    expect(set.endpoints).to.have.length(4);
    // At exactly the threshold there is no panic.
    const half = selectEndpoints([ep(1, 0, 'passing'), ep(2, 0, 'critical')], 50);
    expect(half.panic).to.equal(false);
    expect(half.endpoints).to.have.length(1);
    // A threshold of 0 disables panic.
    expect(selectEndpoints(level, 0).panic).to.equal(false);
  });

  it('panics on the lowest level when nothing is healthy anywhere', function () {
    const set = selectEndpoints([ep(1, 1, 'critical'), ep(2, 0, 'critical')], 50);
    expect(set.panic).to.equal(true);
    expect(set.priority).to.equal(0);
    expect(set.endpoints.map((e) => e.address)).to.deep.equal(['10.0.0.2']);
    expect(selectEndpoints([], 50).endpoints).to.deep.equal([]);
  });
});
