import type { PeerCertificate } from 'node:tls';
import { expect } from 'chai';
import { zoneControlIdentityCheck } from '../../../proxy/src/stream/zone-identity-check.ts';

const cert = (san: string) => ({ subjectaltname: san }) as PeerCertificate;

describe('zone control plane identity check', function () {
  it('accepts any zone control plane of the trust domain when no zone is configured', function () {
    const check = zoneControlIdentityCheck('causeway.mesh', undefined);
    expect(check('127.0.0.1', cert('URI:spiffe://causeway.mesh/zone/east/control'))).to.equal(
      undefined,
    );
    expect(check('127.0.0.1', cert('URI:spiffe://causeway.mesh/zone/west/control'))).to.equal(
      undefined,
    );
  });

  it('accepts only the configured zone when one is set', function () {
    const check = zoneControlIdentityCheck('causeway.mesh', 'east');
    expect(check('h', cert('URI:spiffe://causeway.mesh/zone/east/control'))).to.equal(undefined);
    expect(check('h', cert('URI:spiffe://causeway.mesh/zone/west/control'))?.message).to.equal(
      'the zone control plane presented spiffe://causeway.mesh/zone/west/control; expected spiffe://causeway.mesh/zone/east/control',
    );
  });

  it('refuses workloads, gateways, other trust domains and certificates without one SPIFFE ID', function () {
    const check = zoneControlIdentityCheck('causeway.mesh', undefined);
    for (const san of [
      'URI:spiffe://causeway.mesh/zone/east/ns/default/svc/web',
      'URI:spiffe://causeway.mesh/zone/east/gateway/edge',
      'URI:spiffe://other.mesh/zone/east/control',
      'DNS:zone.example',
      'URI:spiffe://causeway.mesh/zone/east/control, DNS:zone.example',
      '',
    ]) {
      expect(check('h', cert(san)), san).to.be.instanceOf(Error);
    }
  });
});
