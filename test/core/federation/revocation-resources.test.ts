/**
 * `revocation` (zone → global) and `remote-revocation` (global → zone): the checks each
 * receiver runs before it stores one, and that the sync decoders carry both types.
 */
import { expect } from 'chai';
import {
  decodeGlobalFrame,
  decodeZoneFrame,
  globalResourceValidators,
  remoteRevocationName,
  zoneResourceValidators,
  zoneResourceValidatorsFor,
} from '../../../core/index.ts';
import type { RemoteRevocationResource, RevocationResource } from '../../../core/index.ts';
import { refusal } from '../../helpers/refusal.ts';

const revoked: RevocationResource = {
  serial: '3f9a0c77d1e2b4a5968778695a4b3c2d',
  spiffeId: 'spiffe://causeway.mesh/zone/east/ns/default/svc/web',
  reason: 'key compromise',
  revokedAt: '2030-01-01T00:00:00.000Z',
  notAfter: '2030-01-02T00:00:00.000Z',
};

describe('revocation resources', () => {
  describe('revocation (what a zone sends)', () => {
    const validate = zoneResourceValidators.revocation;

    it('accepts a revocation record named by its serial', () => {
      validate(revoked.serial, revoked);
      // Node writes times without milliseconds in some places; both are ISO.
      validate('1', { ...revoked, serial: '1', revokedAt: '2030-01-01T00:00:00Z' });
    });

    it('refuses a name other than the serial', () => {
      const err = refusal(() => validate('abc', revoked));
      expect(err.field).to.equal('name');
    });

    it('refuses a serial that is not normalised lowercase hex of at most 40 digits', () => {
      for (const serial of ['3F9A', '03f9a', '3f:9a', '', 'g1', 'a'.repeat(41), 42]) {
        const err = refusal(() => validate(String(serial), { ...revoked, serial }));
        expect(err.field, String(serial)).to.equal('serial');
      }
      validate('a'.repeat(40), { ...revoked, serial: 'a'.repeat(40) });
    });

    it('refuses a SPIFFE ID that is not a zone identity, naming the field', () => {
      for (const spiffeId of [
        'spiffe://causeway.mesh/global',
        'https://example.com/',
        'spiffe://causeway.mesh/zone/east/ns/default',
        7,
      ]) {
        const err = refusal(() => validate(revoked.serial, { ...revoked, spiffeId }));
        expect(err.field, String(spiffeId)).to.match(/^spiffeId/);
      }
    });

    it('refuses a reason over 256 characters and times that are not ISO', () => {
      expect(
        refusal(() => validate(revoked.serial, { ...revoked, reason: 'x'.repeat(257) })).field,
      ).to.equal('reason');
      validate(revoked.serial, { ...revoked, reason: 'x'.repeat(256) });
      for (const notAfter of ['tomorrow', '2030-01-02', '2030-13-45T00:00:00Z', 1893456000000]) {
        const err = refusal(() => validate(revoked.serial, { ...revoked, notAfter }));
        expect(err.field, String(notAfter)).to.equal('notAfter');
      }
      expect(
        refusal(() => validate(revoked.serial, { ...revoked, revokedAt: undefined })).field,
      ).to.equal('revokedAt');
    });

    it('at global, refuses a revocation of another zone’s leaf from a zone', () => {
      zoneResourceValidatorsFor('east').revocation(revoked.serial, revoked);
      const err = refusal(() =>
        zoneResourceValidatorsFor('west').revocation(revoked.serial, revoked),
      );
      expect(err.field).to.equal('spiffeId');
      expect(err.message).to.contain('a zone revokes only leaves it issued');
      // The other types are checked as before.
      expect(zoneResourceValidatorsFor('west').export).to.equal(zoneResourceValidators.export);
    });
  });

  describe('remote-revocation (what global sends a zone)', () => {
    const validate = globalResourceValidators['remote-revocation'];
    const remote: RemoteRevocationResource = { ...revoked, zone: 'east' };

    it('accepts another zone’s revocation named <zone>/<serial>', () => {
      validate(remoteRevocationName('east', revoked.serial), remote);
    });

    it('refuses a name that does not match the zone and serial', () => {
      expect(refusal(() => validate(revoked.serial, remote)).field).to.equal('name');
      expect(refusal(() => validate(`west/${revoked.serial}`, remote)).field).to.equal('name');
    });

    it('refuses a revocation whose SPIFFE ID is of another zone than the one it is from', () => {
      const err = refusal(() => validate(`west/${revoked.serial}`, { ...remote, zone: 'west' }));
      expect(err.field).to.equal('spiffeId');
    });

    it('refuses a zone that is not a DNS label', () => {
      expect(
        refusal(() => validate(`East/${revoked.serial}`, { ...remote, zone: 'East' })).field,
      ).to.equal('zone');
    });
  });

  it('both types pass the sync decoders in their direction, and only there', () => {
    const delta = (resourceType: string, name: string, body: unknown) =>
      JSON.stringify({
        type: 'delta',
        resourceType,
        nonce: 'n1',
        revision: 'e.1',
        baseRevision: '',
        full: true,
        retain: [],
        more: false,
        chunk: 0,
        upserts: [{ name, version: 'v1', body }],
        removes: [],
      });
    const up = decodeZoneFrame(delta('revocation', revoked.serial, revoked));
    expect(up).to.include({ type: 'delta', resourceType: 'revocation' });
    const down = decodeGlobalFrame(
      delta('remote-revocation', `east/${revoked.serial}`, { ...revoked, zone: 'east' }),
    );
    expect(down).to.include({ type: 'delta', resourceType: 'remote-revocation' });
    expect(() => decodeGlobalFrame(delta('revocation', revoked.serial, revoked))).to.throw(
      /resourceType/,
    );
    expect(() =>
      decodeZoneFrame(delta('remote-revocation', `east/${revoked.serial}`, revoked)),
    ).to.throw(/resourceType/);
  });
});
