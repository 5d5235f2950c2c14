import { expect } from 'chai';
import {
  authorityHost,
  destinationName,
  gatewayName,
  parseMeshName,
} from '../../../gateway/src/sni/mesh-names.ts';

describe('mesh names', () => {
  const td = 'causeway.mesh';

  it('reads a destination <service>.<namespace>.<zone>.<trust domain>', () => {
    expect(parseMeshName('api.default.west.causeway.mesh', td)).to.deep.equal({
      kind: 'destination',
      service: 'api',
      namespace: 'default',
      zone: 'west',
    });
    expect(destinationName({ service: 'api', namespace: 'default', zone: 'west' }, td)).to.equal(
      'api.default.west.causeway.mesh',
    );
  });

  it('reads a gateway name, and a service called gateway as a destination', () => {
    expect(parseMeshName(gatewayName('west', td), td)).to.deep.equal({
      kind: 'gateway',
      zone: 'west',
    });
    expect(parseMeshName('gateway.default.west.causeway.mesh', td)).to.include({
      kind: 'destination',
      service: 'gateway',
    });
  });

  it('refuses names of another trust domain, the wrong shape or bad labels', () => {
    for (const name of [
      'api.default.west.other.mesh',
      'api.default.west.xcauseway.mesh',
      'api.west.causeway.mesh',
      'a.api.default.west.causeway.mesh',
      'api..west.causeway.mesh',
      'api_x.default.west.causeway.mesh',
      'causeway.mesh',
    ]) {
      expect(parseMeshName(name, td), name).to.equal(undefined);
    }
  });

  it('takes the host of a CONNECT authority', () => {
    expect(authorityHost('API.default.west.causeway.mesh:443')).to.equal(
      'api.default.west.causeway.mesh',
    );
    expect(authorityHost('api.default.west.causeway.mesh')).to.equal(undefined);
    expect(authorityHost('[::1]:443')).to.equal(undefined);
    expect(authorityHost(undefined)).to.equal(undefined);
  });
});
