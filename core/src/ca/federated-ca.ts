/**
 * A zone's CA state when the zone belongs to a global control plane: the global root is
 * trusted but its key stays at global, and the zone's intermediate — signed by global
 * from the zone's CSR — signs the zone's leaves. Built once, when the zone first syncs;
 * the intermediate is replaced when global renews it (see `replaceFederatedIntermediate`).
 */
import { X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { InvalidArgumentError } from '../errors.ts';
import { intermediateKeyName, sealKey } from './authority.ts';
import { certificateId } from './ca-state.ts';
import type { CaState } from './ca-state.ts';
import type { KeySealer } from './key-sealing.ts';
import { validateSpiffeSegment, validateTrustDomain } from './spiffe.ts';
import { parseCertificate } from './verify.ts';
import { subjectFields } from './x509.ts';

export interface FederatedCaOptions {
  trustDomain: string;
  zone: string;
  /** The global root (PEM). */
  rootPem: string;
  /** The zone intermediate global signed. */
  intermediatePem: string;
  /** The key the zone generated for its CSR. */
  intermediateKey: KeyObject;
  sealer: KeySealer;
  now?: Date;
}

/**
 * @throws InvalidArgumentError when the intermediate is not this zone's, was not signed
 *   by the root, or does not match the key.
 */
export function createFederatedCaState(options: FederatedCaOptions): CaState {
  const trustDomain = validateTrustDomain(options.trustDomain);
  const zone = validateSpiffeSegment(options.zone, 'zone');
  const intermediate = checkZoneIntermediate({ ...options, trustDomain, zone });
  const rootId = certificateId(options.rootPem);
  const at = (options.now ?? new Date()).toISOString();
  return {
    schema: 1,
    trustDomain,
    zone,
    bundleVersion: 1,
    roots: [
      {
        id: rootId,
        certificatePem: new X509Certificate(options.rootPem).toString(),
        source: 'global',
        addedAt: at,
      },
    ],
    activeRootId: rootId,
    intermediates: [
      {
        rootId,
        certificatePem: intermediate.toString(),
        key: sealKey(options.sealer, options.intermediateKey, intermediateKeyName(rootId)),
      },
    ],
    createdAt: at,
  };
}

export interface RenewedIntermediateOptions {
  /** The zone intermediate global signed from the zone's `renew` CSR. */
  intermediatePem: string;
  /** The key the zone generated for that CSR. */
  intermediateKey: KeyObject;
  sealer: KeySealer;
}

/**
 * `state` with the active root's intermediate replaced by a renewed one global signed.
 * The roots (and so the bundle version) stay as they are: leaves signed under the old
 * intermediate still chain to the same root, and new ones chain to the new intermediate.
 *
 * @throws InvalidArgumentError when the intermediate fails the checks of
 *   {@link createFederatedCaState} against the active root.
 */
export function replaceFederatedIntermediate(
  state: CaState,
  options: RenewedIntermediateOptions,
): CaState {
  const root = state.roots.find((r) => r.id === state.activeRootId);
  if (!root || root.source !== 'global') {
    throw new InvalidArgumentError(
      `the active root ${state.activeRootId} is not the global root: only a federated zone's intermediate is renewed by global`,
      'intermediatePem',
    );
  }
  const intermediate = checkZoneIntermediate({
    trustDomain: state.trustDomain,
    zone: state.zone,
    rootPem: root.certificatePem,
    intermediatePem: options.intermediatePem,
    intermediateKey: options.intermediateKey,
  });
  const renewed = {
    rootId: root.id,
    certificatePem: intermediate.toString(),
    key: sealKey(options.sealer, options.intermediateKey, intermediateKeyName(root.id)),
  };
  return {
    ...state,
    intermediates: [...state.intermediates.filter((i) => i.rootId !== root.id), renewed],
  };
}

/**
 * The checks a zone intermediate from global passes before the zone signs with it: signed
 * by the global root, a CA, scoped (O/OU) to this trust domain and zone, and matching the
 * key the zone generated for its CSR.
 */
function checkZoneIntermediate(options: {
  trustDomain: string;
  zone: string;
  rootPem: string;
  intermediatePem: string;
  intermediateKey: KeyObject;
}): X509Certificate {
  const { trustDomain, zone } = options;
  const root = parseCertificate(options.rootPem, 'rootPem');
  const intermediate = parseCertificate(options.intermediatePem, 'intermediatePem');
  const bad = (why: string): never => {
    throw new InvalidArgumentError(`the zone intermediate from global ${why}`, 'intermediatePem');
  };
  if (!root.ca || root.issuer !== root.subject) bad('is anchored to something that is not a root');
  if (!intermediate.ca) bad('is not a CA certificate');
  if (!intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) {
    bad('was not signed by the global root');
  }
  const scope = subjectFields(intermediate.subject);
  if (scope.get('O') !== trustDomain || scope.get('OU') !== `zone/${zone}`) {
    bad(`is for ${scope.get('O')}/${scope.get('OU')}, not ${trustDomain}/zone/${zone}`);
  }
  if (!intermediate.checkPrivateKey(options.intermediateKey)) bad('does not match our key');
  return intermediate;
}
