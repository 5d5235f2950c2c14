import { X509Certificate } from 'node:crypto';
import { expect } from 'chai';
import {
  KeySealer,
  createFederatedCaState,
  replaceFederatedIntermediate,
  signingCa,
} from '../../../core/src/ca/index.ts';
import type { CaState } from '../../../core/src/ca/index.ts';
import { InvalidArgumentError } from '../../../core/src/errors.ts';
import { TD, makeIntermediate, makeRoot, testKeys } from './fixtures.ts';

describe('federated CA state', () => {
  const sealer = KeySealer.generate();

  async function joined(): Promise<{
    state: CaState;
    root: ReturnType<typeof makeRoot>;
  }> {
    const keys = await testKeys();
    const root = makeRoot(keys.root);
    const first = makeIntermediate(root, 'east', keys.east);
    const state = createFederatedCaState({
      trustDomain: TD,
      zone: 'east',
      rootPem: root.certificatePem,
      intermediatePem: first.certificatePem,
      intermediateKey: keys.east.privateKey,
      sealer,
    });
    return { state, root };
  }

  it('replaces the active root’s intermediate with a renewed one, keeping roots and bundle version', async () => {
    const keys = await testKeys();
    const { state, root } = await joined();
    const renewed = makeIntermediate(root, 'east', keys.west);
    const next = replaceFederatedIntermediate(state, {
      intermediatePem: renewed.certificatePem,
      intermediateKey: keys.west.privateKey,
      sealer,
    });
    expect(next.roots).to.deep.equal(state.roots);
    expect(next.bundleVersion).to.equal(state.bundleVersion);
    expect(next.intermediates).to.have.length(1);
    const signer = signingCa(next, sealer);
    expect(new X509Certificate(signer.certificatePem).serialNumber).to.equal(
      new X509Certificate(renewed.certificatePem).serialNumber,
    );
    // The sealed key is the renewed one.
    expect(new X509Certificate(signer.certificatePem).checkPrivateKey(signer.privateKey)).to.equal(
      true,
    );
  });

  it('refuses a renewed intermediate of another root, another zone, or another key', async () => {
    const keys = await testKeys();
    const { state, root } = await joined();
    const other = makeRoot(keys.otherRoot);
    const cases: [string, () => CaState][] = [
      [
        'was not signed by the global root',
        () =>
          replaceFederatedIntermediate(state, {
            intermediatePem: makeIntermediate(other, 'east', keys.west).certificatePem,
            intermediateKey: keys.west.privateKey,
            sealer,
          }),
      ],
      [
        'not mesh.test/zone/east',
        () =>
          replaceFederatedIntermediate(state, {
            intermediatePem: makeIntermediate(root, 'west', keys.west).certificatePem,
            intermediateKey: keys.west.privateKey,
            sealer,
          }),
      ],
      [
        'does not match our key',
        () =>
          replaceFederatedIntermediate(state, {
            intermediatePem: makeIntermediate(root, 'east', keys.west).certificatePem,
            intermediateKey: keys.leafA.privateKey,
            sealer,
          }),
      ],
    ];
    for (const [message, replace] of cases) {
      expect(replace).to.throw(InvalidArgumentError, message);
    }
  });

  it('refuses to renew an intermediate under a root that is not global’s', async () => {
    const keys = await testKeys();
    const { state, root } = await joined();
    const standalone: CaState = {
      ...state,
      roots: state.roots.map((r) => ({ ...r, source: 'generated' as const })),
    };
    expect(() =>
      replaceFederatedIntermediate(standalone, {
        intermediatePem: makeIntermediate(root, 'east', keys.west).certificatePem,
        intermediateKey: keys.west.privateKey,
        sealer,
      }),
    ).to.throw(InvalidArgumentError, 'not the global root');
  });
});
