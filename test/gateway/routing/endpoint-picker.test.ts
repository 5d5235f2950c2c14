import { expect } from 'chai';
import type { GatewayEndpoint } from '../../../core/index.ts';
import { EndpointPicker } from '../../../gateway/src/routing/endpoint-picker.ts';

function ep(id: string, health: GatewayEndpoint['health'] = 'passing'): GatewayEndpoint {
  return { address: '10.0.0.1', port: 15006, health, instanceId: id };
}

describe('EndpointPicker', () => {
  it('takes endpoints in turn', () => {
    const picker = new EndpointPicker([ep('a'), ep('b'), ep('c')]);
    const picks = Array.from({ length: 6 }, () => picker.pick()?.instanceId);
    expect(picks).to.deep.equal(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('skips critical endpoints but uses warning ones', () => {
    const picker = new EndpointPicker([ep('a', 'critical'), ep('b', 'warning'), ep('c')]);
    const picks = Array.from({ length: 4 }, () => picker.pick()?.instanceId);
    expect(picks).to.deep.equal(['b', 'c', 'b', 'c']);
    expect(picker.healthyCount()).to.equal(2);
  });

  it('has nothing to give when every endpoint is critical or there are none', () => {
    expect(new EndpointPicker([ep('a', 'critical')]).pick()).to.equal(undefined);
    expect(new EndpointPicker([]).pick()).to.equal(undefined);
  });

  it('skips endpoints the caller already failed on', () => {
    const endpoints = [ep('a'), ep('b'), ep('c')];
    const picker = new EndpointPicker(endpoints);
    const tried = new Set([endpoints[0]!, endpoints[1]!]);
    expect(picker.pick(tried)?.instanceId).to.equal('c');
    tried.add(endpoints[2]!);
    expect(picker.pick(tried)).to.equal(undefined);
  });

  it('keeps its place across updates', () => {
    const picker = new EndpointPicker([ep('a'), ep('b'), ep('c')]);
    picker.pick();
    picker.update([ep('a'), ep('b'), ep('c'), ep('d')]);
    expect(picker.pick()?.instanceId).to.equal('b');
    picker.update([ep('x')]);
    expect(picker.pick()?.instanceId).to.equal('x');
  });
});
