/** Zone sync's renewal frames (`renew`, `renewed`, the welcome's `renews`). */
import { expect } from 'chai';
import { decodeGlobalFrame, decodeZoneFrame } from '../../../core/src/federation/sync-messages.ts';
import { InvalidArgumentError } from '../../../core/src/errors.ts';

const welcome = {
  type: 'welcome',
  protocol: 1,
  zone: 'east',
  trustDomain: 'causeway.mesh',
  roots: ['PEM'],
  heartbeatMs: 1000,
  resume: {},
};

describe('sync messages: intermediate renewal', () => {
  it('decodes a renew with its CSR and refuses one without, or with an oversized one', () => {
    expect(decodeZoneFrame(JSON.stringify({ type: 'renew', csr: 'CSR' }))).to.deep.equal({
      type: 'renew',
      csr: 'CSR',
    });
    expect(() => decodeZoneFrame(JSON.stringify({ type: 'renew' }))).to.throw(
      InvalidArgumentError,
      'csr must be a non-empty string',
    );
    expect(() =>
      decodeZoneFrame(JSON.stringify({ type: 'renew', csr: 'x'.repeat(16 * 1024 + 1) })),
    ).to.throw(InvalidArgumentError, 'csr is longer');
  });

  it('decodes renewed with its intermediate and refuses one without', () => {
    expect(
      decodeGlobalFrame(JSON.stringify({ type: 'renewed', intermediatePem: 'PEM' })),
    ).to.deep.equal({ type: 'renewed', intermediatePem: 'PEM' });
    expect(() =>
      decodeGlobalFrame(JSON.stringify({ type: 'renewed', intermediatePem: 7 })),
    ).to.throw(InvalidArgumentError, 'intermediatePem must be a non-empty string');
  });

  it('a zone only decodes renewed, global only renew', () => {
    expect(() =>
      decodeZoneFrame(JSON.stringify({ type: 'renewed', intermediatePem: 'P' })),
    ).to.throw(InvalidArgumentError, 'unknown frame type');
    expect(() => decodeGlobalFrame(JSON.stringify({ type: 'renew', csr: 'C' }))).to.throw(
      InvalidArgumentError,
      'unknown frame type',
    );
  });

  it('reads whether global renews from the welcome (absent from an older global)', () => {
    expect(decodeGlobalFrame(JSON.stringify({ ...welcome, renews: true }))).to.include({
      renews: true,
    });
    expect(decodeGlobalFrame(JSON.stringify(welcome))).to.not.have.property('renews');
    expect(() => decodeGlobalFrame(JSON.stringify({ ...welcome, renews: 'yes' }))).to.throw(
      InvalidArgumentError,
      'renews must be a boolean',
    );
  });
});
