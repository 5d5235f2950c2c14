/**
 * A zone's CA state when the zone belongs to a global control plane: the global root is
 * trusted but its key stays at global, and the zone's intermediate — signed by global
 * from the zone's CSR — signs the zone's leaves. Built once, when the zone first syncs.
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
