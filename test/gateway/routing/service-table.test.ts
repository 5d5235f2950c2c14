import { expect } from 'chai';
import { decodeGatewayConfig } from '../../../core/index.ts';
import { ServiceTable } from '../../../gateway/src/routing/service-table.ts';

function config(services: unknown[]) {
  return decodeGatewayConfig({ zone: 'west', trustDomain: 'causeway.mesh', services });
}

const endpoints = [
  { address: '10.0.0.1', port: 15006, instanceId: 'a' },
  { address: '10.0.0.2', port: 15006, instanceId: 'b' },
];

describe('ServiceTable', () => {
  const table = ServiceTable.build(
    config([
      { service: 'api', exportedTo: ['east'], endpoints },
      { service: 'db', namespace: 'data', exportedTo: ['*'], endpoints },
      { service: 'internal', endpoints },
    ]),
  );

  it('routes a zone a service is exported to, by name or by *', () => {
    expect(table.route('default', 'api', 'east')).to.have.property('config');
    expect(table.route('data', 'db', 'north')).to.have.property('config');
  });

  it('refuses a zone the service is not exported to, and an unknown service', () => {
    expect(table.route('default', 'api', 'north')).to.equal('not_exported');
    expect(table.route('default', 'internal', 'east')).to.equal('not_exported');
    expect(table.route('default', 'nope', 'east')).to.equal('unknown_service');
    expect(table.route('data', 'api', 'east')).to.equal('unknown_service');
  });

  it('for a caller it cannot see (passthrough), asks whether the service is exported at all', () => {
    expect(table.route('default', 'api', undefined)).to.have.property('config');
    expect(table.route('default', 'internal', undefined)).to.equal('not_exported');
  });

  it('keeps each service round robin across rebuilds', () => {
    const first = ServiceTable.build(config([{ service: 'api', exportedTo: ['*'], endpoints }]));
    expect(first.get('default', 'api')?.picker.pick()?.instanceId).to.equal('a');
    const second = ServiceTable.build(
      config([{ service: 'api', exportedTo: ['*'], endpoints }]),
      first,
    );
    expect(second.get('default', 'api')?.picker.pick()?.instanceId).to.equal('b');
  });
});
