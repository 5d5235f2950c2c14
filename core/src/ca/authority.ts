/**
 * What a CA does to its state: create it (a generated or provided root, and the zone's
 * intermediate under it), and move a root rotation through its phases:
 *
 * 1. add-root — a new root joins the trust bundle, cross-signed by the old root;
 * 2. await-acks — every participant (zone, proxies) acknowledges that bundle;
 * 3. switch-signing — a new zone intermediate under the new root signs every new leaf;
 * 4. retire-old — once the last leaf under the old root has expired, the old root leaves
 *    the bundle.
 *
 * Each function takes a state and returns the next one; the caller writes it with
 * check-and-set, so a failure or a race leaves the stored state untouched. Conditions
 * (all acks in, old leaves expired) are the caller's: it knows the participants.
 */
import { X509Certificate, createPrivateKey, randomUUID } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ConflictError, InvalidArgumentError } from '../errors.ts';
import { createRootCertificate, signIntermediateCertificate } from './certificates.ts';
import { crossSignCertificate } from './cross-sign.ts';
import type { IssuerCa } from './certificates.ts';
import { createCsr } from './csr.ts';
import { generateKeyPair, privateKeyToPem } from './keys.ts';
import type { KeyPair } from './keys.ts';
import type { KeySealer } from './key-sealing.ts';
import { formatSpiffeId, validateSpiffeSegment, validateTrustDomain } from './spiffe.ts';
import { certificateId } from './ca-state.ts';
import { splitPem } from './verify.ts';
import { pathLengthConstraint } from './x509.ts';
import type {
  CaState,
  IntermediateRecord,
  KeyType,
  RootRecord,
  RotationPhase,
  SealedKey,
} from './ca-state.ts';

/** An existing CA certificate and its key, PEM (the "provided CA"). */
export interface ProvidedCa {
  certificatePem: string;
  privateKeyPem: string;
}

export interface NewRootOptions {
  sealer: KeySealer;
  /** For a generated root and the zone intermediates. @default 'ec' (P-256) */
  keyType?: KeyType;
  /** Use this root instead of generating one. */
  provided?: ProvidedCa;
  now?: Date;
}

export interface CreateCaOptions extends NewRootOptions {
  trustDomain: string;
  zone: string;
}

const rootKeyName = (rootId: string): string => `ca/root/${rootId}`;
/** The sealing name (associated data) of a zone intermediate's key. */
export const intermediateKeyName = (rootId: string): string => `ca/intermediate/${rootId}`;

/** A standalone CA: a root (generated, or provided) and this zone's intermediate under it. */
export async function createCaState(options: CreateCaOptions): Promise<CaState> {
  const trustDomain = validateTrustDomain(options.trustDomain);
  const zone = validateSpiffeSegment(options.zone, 'zone');
  const now = options.now ?? new Date();
  const root = await newRoot(trustDomain, options);
  const intermediate = await zoneIntermediate(root, trustDomain, zone, options);
  return {
    schema: 1,
    trustDomain,
    zone,
    bundleVersion: 1,
    roots: [root.record],
    activeRootId: root.record.id,
    intermediates: [intermediate],
    createdAt: now.toISOString(),
  };
}

/** Phase 1 (add-root) done in one step: the returned state is in phase 2 (await-acks). */
export async function startRotation(state: CaState, options: NewRootOptions): Promise<CaState> {
  if (state.rotation && state.rotation.phase !== 'complete') {
    throw new ConflictError(
      `a root rotation is already in phase ${state.rotation.phase}; finish it first`,
      'rotation',
    );
  }
  const now = options.now ?? new Date();
  const old = state.roots.find((r) => r.id === state.activeRootId);
  const next = await newRoot(state.trustDomain, options);
  if (state.roots.some((r) => r.id === next.record.id)) {
    throw new ConflictError(`root ${next.record.id} is already trusted`, 'certificatePem');
  }
  // Cross-signing lets a peer that only trusts the old root verify the new chain; it
  // needs the old root's key, which a zone that only trusts a global root does not have.
  // (With a provided intermediate, the key we hold is not the root's: no cross-sign.)
  if (old?.key && !old.signerChainPem) {
    const oldKey = unsealKey(options.sealer, old.key, rootKeyName(old.id));
    next.record.crossSignedPem = crossSignCertificate({
      certificatePem: next.record.certificatePem,
      issuer: { certificatePem: old.certificatePem, privateKey: oldKey },
      now,
    });
  }
  const bundleVersion = state.bundleVersion + 1;
  const at = now.toISOString();
  return {
    ...state,
    bundleVersion,
    roots: [...state.roots, next.record],
    rotation: {
      id: randomUUID(),
      fromRootId: state.activeRootId,
      toRootId: next.record.id,
      phase: 2,
      bundleVersion,
      keyType: options.keyType,
      startedAt: at,
      phaseStartedAt: [at, at],
      forced: [],
    },
  };
}

/** Phase 3: sign with a new zone intermediate under the new root; returns phase 4. */
export async function switchSigning(
  state: CaState,
  options: { sealer: KeySealer; keyType?: KeyType; now?: Date; forced?: boolean },
): Promise<CaState> {
  const rotation = requirePhase(state, 2);
  const now = options.now ?? new Date();
  const root = state.roots.find((r) => r.id === rotation.toRootId);
  if (!root?.key) {
    throw new ConflictError(
      `this control plane holds no key for root ${rotation.toRootId}`,
      'rotation',
    );
  }
  const rootKey = unsealKey(options.sealer, root.key, rootKeyName(root.id));
  const intermediate = await zoneIntermediate(
    { record: root, privateKey: rootKey },
    state.trustDomain,
    state.zone,
    { ...options, keyType: rotation.keyType ?? options.keyType },
  );
  const at = now.toISOString();
  return {
    ...state,
    activeRootId: root.id,
    intermediates: [...state.intermediates.filter((i) => i.rootId !== root.id), intermediate],
    rotation: {
      ...rotation,
      phase: 4,
      // Phase 3 is one step: it starts and ends with this write.
      phaseStartedAt: [...rotation.phaseStartedAt.slice(0, 2), at, at],
      forced: options.forced ? [...rotation.forced, 2] : rotation.forced,
    },
  };
}

/** Phase 4 done: the old root and its intermediate leave; the rotation is complete. */
export function retireOldRoot(
  state: CaState,
  options: { now?: Date; forced?: boolean } = {},
): CaState {
  const rotation = requirePhase(state, 4);
  const at = (options.now ?? new Date()).toISOString();
  return {
    ...state,
    bundleVersion: state.bundleVersion + 1,
    roots: state.roots.filter((r) => r.id !== rotation.fromRootId),
    intermediates: state.intermediates.filter((i) => i.rootId !== rotation.fromRootId),
    rotation: {
      ...rotation,
      phase: 'complete',
      completedAt: at,
      forced: options.forced ? [...rotation.forced, 4] : rotation.forced,
    },
  };
}

/** The certificate whose key a root record holds: the provided intermediate, or the root. */
function signerPem(root: RootRecord): string {
  return splitPem(root.signerChainPem ?? '')[0] ?? root.certificatePem;
}

export interface SigningCa extends IssuerCa {
  rootId: string;
  /** What a leaf is served with after itself: the zone intermediate and any above it. */
  chainPem: string;
}

/** The active intermediate with its key, ready to sign leaves. */
export function signingCa(state: CaState, sealer: KeySealer): SigningCa {
  const int = state.intermediates.find((i) => i.rootId === state.activeRootId);
  if (!int) throw new ConflictError(`no intermediate for the active root ${state.activeRootId}`);
  const root = state.roots.find((r) => r.id === int.rootId);
  return {
    rootId: int.rootId,
    certificatePem: int.certificatePem,
    chainPem: int.certificatePem + (root?.signerChainPem ?? ''),
    privateKey: unsealKey(sealer, int.key, intermediateKeyName(int.rootId)),
  };
}

function requirePhase(state: CaState, phase: RotationPhase) {
  const rotation = state.rotation;
  if (!rotation || rotation.phase !== phase) {
    throw new ConflictError(
      `no root rotation is in phase ${phase} (current: ${rotation ? rotation.phase : 'none'})`,
      'phase',
    );
  }
  return rotation;
}

interface RootWithKey {
  record: RootRecord;
  privateKey: KeyObject;
}

async function newRoot(trustDomain: string, options: NewRootOptions): Promise<RootWithKey> {
  const at = (options.now ?? new Date()).toISOString();
  if (options.provided) {
    const { rootPem, signerChainPem, privateKey } = validateProvidedCa(options.provided);
    const id = certificateId(rootPem);
    return {
      record: {
        id,
        certificatePem: rootPem,
        key: sealKey(options.sealer, privateKey, rootKeyName(id)),
        ...(signerChainPem ? { signerChainPem } : {}),
        source: 'provided',
        addedAt: at,
      },
      privateKey,
    };
  }
  const keyPair = await generate(options.keyType);
  const certificatePem = createRootCertificate({ trustDomain, keyPair, now: options.now });
  const id = certificateId(certificatePem);
  return {
    record: {
      id,
      certificatePem,
      key: sealKey(options.sealer, keyPair.privateKey, rootKeyName(id)),
      source: 'generated',
      addedAt: at,
    },
    privateKey: keyPair.privateKey,
  };
}

async function zoneIntermediate(
  root: RootWithKey,
  trustDomain: string,
  zone: string,
  options: { sealer: KeySealer; keyType?: KeyType; now?: Date },
): Promise<IntermediateRecord> {
  const keyPair = await generate(options.keyType);
  const csrPem = createCsr({
    keyPair,
    spiffeId: formatSpiffeId({ kind: 'control', trustDomain, zone }),
  });
  const certificatePem = signIntermediateCertificate({
    issuer: { certificatePem: signerPem(root.record), privateKey: root.privateKey },
    trustDomain,
    zone,
    csrPem,
    now: options.now,
  });
  return {
    rootId: root.record.id,
    certificatePem,
    key: sealKey(options.sealer, keyPair.privateKey, intermediateKeyName(root.record.id)),
  };
}

function generate(keyType: KeyType = 'ec'): Promise<KeyPair> {
  return generateKeyPair(keyType === 'rsa' ? { type: 'rsa', bits: 2048 } : { type: 'ec' });
}

/** A provided CA, checked: the trust anchor, and what signs under it. */
export interface ValidatedProvidedCa {
  /** The self-signed root at the top of the chain: what peers trust. */
  rootPem: string;
  /** The provided intermediate and any between it and the root, PEM, empty for a root. */
  signerChainPem: string;
  /** The certificate the key belongs to (the root, or the provided intermediate). */
  signerPem: string;
  privateKey: KeyObject;
}

/**
 * A provided CA is a root, or an intermediate followed by its issuers up to a root (PEM,
 * in that order). Every certificate must be a currently valid CA signed by the next; the
 * last must be self-signed; the key must match the first and be EC P-256 or RSA ≥ 2048.
 */
export function validateProvidedCa(provided: ProvidedCa): ValidatedProvidedCa {
  const pems = splitPem(provided.certificatePem);
  if (pems.length === 0) {
    throw new InvalidArgumentError(
      'the provided CA certificate is not a PEM certificate',
      'certificatePem',
    );
  }
  const chain = pems.map((pem, i) => {
    try {
      return new X509Certificate(pem);
    } catch (err) {
      throw new InvalidArgumentError(
        `provided certificate ${i + 1} cannot be parsed: ${(err as Error).message}`,
        'certificatePem',
      );
    }
  });
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(provided.privateKeyPem);
  } catch (err) {
    throw new InvalidArgumentError(
      `the provided CA key is not a PEM private key: ${(err as Error).message}`,
      'privateKeyPem',
    );
  }
  const now = Date.now();
  chain.forEach((cert, i) => {
    const which = i === 0 ? 'the provided certificate' : `certificate ${i + 1} of the chain`;
    if (!cert.ca) throw new InvalidArgumentError(`${which} is not a CA`, 'certificatePem');
    if (now < Date.parse(cert.validFrom) || now > Date.parse(cert.validTo)) {
      throw new InvalidArgumentError(
        `${which} is not valid now (${cert.validFrom} to ${cert.validTo})`,
        'certificatePem',
      );
    }
    // Below the signer come our zone intermediate and then the leaves: the signer must
    // allow one CA below it, the next CA up two, and so on.
    const limit = pathLengthConstraint(cert.raw);
    if (limit !== undefined && limit < i + 1) {
      throw new InvalidArgumentError(
        `${which} has path length ${limit}, but ${i + 1} CA(s) must fit below it (the zone intermediate${i > 0 ? ' and the provided intermediates' : ''})`,
        'certificatePem',
      );
    }
    const parent = chain[i + 1] ?? cert;
    if (!cert.checkIssued(parent) || !cert.verify(parent.publicKey)) {
      throw new InvalidArgumentError(
        i + 1 < chain.length
          ? `${which} was not issued by certificate ${i + 2}`
          : `${which} is not self-signed: provide a root, or an intermediate followed by its issuers up to the root`,
        'certificatePem',
      );
    }
  });
  const [signer] = chain as [X509Certificate, ...X509Certificate[]];
  if (!signer.checkPrivateKey(privateKey)) {
    throw new InvalidArgumentError(
      'the provided key does not match the certificate',
      'privateKeyPem',
    );
  }
  keyTypeOf(privateKey, 'privateKeyPem');
  const root = chain[chain.length - 1] as X509Certificate;
  return {
    rootPem: root.toString(),
    signerChainPem: chain
      .slice(0, -1)
      .map((c) => c.toString())
      .join(''),
    signerPem: signer.toString(),
    privateKey,
  };
}

function keyTypeOf(key: KeyObject, field: string): { type: KeyType; bits: number } {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && details.namedCurve === 'prime256v1') {
    return { type: 'ec', bits: 256 };
  }
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) {
    return { type: 'rsa', bits: details.modulusLength ?? 0 };
  }
  throw new InvalidArgumentError(
    `CA keys must be EC P-256 or RSA of at least 2048 bits (got ${key.asymmetricKeyType}${details.namedCurve ? ` ${details.namedCurve}` : ''}${details.modulusLength ? `-${details.modulusLength}` : ''})`,
    field,
  );
}

/** Seal a CA key for the store, bound to the record it belongs in. */
export function sealKey(sealer: KeySealer, key: KeyObject, recordName: string): SealedKey {
  const { type, bits } = keyTypeOf(key, 'privateKey');
  return { type, bits, sealed: sealer.seal(privateKeyToPem(key), recordName) };
}

function unsealKey(sealer: KeySealer, key: SealedKey, recordName: string): KeyObject {
  return createPrivateKey(sealer.unseal(key.sealed, recordName));
}
