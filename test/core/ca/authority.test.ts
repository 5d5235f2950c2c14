import { expect } from 'chai';
import {
  KeySealer,
  PermissionDeniedError,
  createCaState,
  createCsr,
  generateKeyPair,
  signIntermediateCertificate,
  signLeafCertificate,
  signingCa,
  startRotation,
  switchSigning,
  trustBundlePems,
  verifyLeafChain,
} from '../../../core/index.ts';

describe('ca/authority and chain limits', function () {
  it('refuses a sub-CA minted with a zone intermediate key, which OpenSSL also refuses', async function () {
    const sealer = KeySealer.generate();
    const state = await createCaState({ trustDomain: 'causeway.mesh', zone: 'a', sealer });
    const zoneA = signingCa(state, sealer);
    // A leaked zone-a key signs a "zone b" CA (zone intermediates have path length 0)...
    const fake = await generateKeyPair();
    const fakeInt = signIntermediateCertificate({
      issuer: zoneA,
      trustDomain: 'causeway.mesh',
      zone: 'b',
      csrPem: createCsr({ keyPair: fake, spiffeId: 'spiffe://causeway.mesh/zone/b/control' }),
    });
    const id = 'spiffe://causeway.mesh/zone/b/ns/default/svc/payments';
    const leafKey = await generateKeyPair();
    const leaf = signLeafCertificate({
      issuer: { certificatePem: fakeInt, privateKey: fake.privateKey },
      csrPem: createCsr({ keyPair: leafKey, spiffeId: id }),
      spiffeId: id,
    });
    // ...and its leaves for zone b must not verify.
    expect(() => verifyLeafChain([leaf, fakeInt, zoneA.certificatePem], trustBundlePems(state)))
      .to.throw(PermissionDeniedError)
      .with.property('message')
      .that.match(/path length 0 has 1 CAs below it/);
  });

  it('builds the rotation intermediate with the key type the rotation asked for', async function () {
    const sealer = KeySealer.generate();
    const state = await createCaState({ trustDomain: 'causeway.mesh', zone: 'a', sealer });
    const rotating = await startRotation(state, { sealer, keyType: 'rsa' });
    const switched = await switchSigning(rotating, { sealer, keyType: 'ec' });
    const active = switched.intermediates.find((i) => i.rootId === switched.activeRootId);
    expect(active?.key.type).to.equal('rsa');
  });
});
