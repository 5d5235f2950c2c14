/**
 * The CA's persisted state: one JSON record at {@link CA_STATE_KEY}, written with
 * check-and-set so every change (a new root, a phase of a rotation) is all or nothing,
 * even with several replicas of a control plane on one store. Issued leaves, revocations
 * and bundle acknowledgements are separate records because there are many of them and
 * they change independently.
 *
 * Private keys appear only sealed (see `key-sealing.ts`).
 */
import { X509Certificate } from 'node:crypto';
import { CorruptDataError } from '../errors.ts';

export const CA_STATE_KEY = 'ca/state';
/** `ca/leaf/<serial>` → {@link LeafRecord}; created with cas=0, so a serial is never reused. */
export const CA_LEAF_PREFIX = 'ca/leaf/';
/** `ca/revoked/<serial>` → {@link RevocationRecord}. */
export const CA_REVOKED_PREFIX = 'ca/revoked/';
/** `ca/ack/<participant>` → {@link AckRecord}. */
export const CA_ACK_PREFIX = 'ca/ack/';

export type KeyType = 'ec' | 'rsa';

export interface SealedKey {
  type: KeyType;
  bits: number;
  sealed: string;
}

export interface RootRecord {
  /** SHA-1 fingerprint of the DER, lowercase colon hex: Consul's root ID. */
  id: string;
  certificatePem: string;
  /** Absent when this control plane trusts the root but cannot sign with it. */
  key?: SealedKey;
  /**
   * A provided intermediate (and any between it and this root) whose key `key` is: the
   * zone intermediate is signed by it, and leaves are served with it.
   */
  signerChainPem?: string;
  /** This root's certificate re-issued by the previous root (rotation phase 1). */
  crossSignedPem?: string;
  /** `global`: the global control plane's root, whose key only global holds. */
  source: 'generated' | 'provided' | 'global';
  addedAt: string;
}

/** The zone's signing CA under one root. */
export interface IntermediateRecord {
  rootId: string;
  certificatePem: string;
  key: SealedKey;
}

/** 1 add-root, 2 await-acks, 3 switch-signing, 4 retire-old. */
export type RotationPhase = 1 | 2 | 3 | 4;

export const PHASE_NAMES: Record<RotationPhase, string> = {
  1: 'add-root',
  2: 'await-acks',
  3: 'switch-signing',
  4: 'retire-old',
};

export interface RotationRecord {
  id: string;
  fromRootId: string;
  toRootId: string;
  /** The phase in progress; `complete` once the old root is retired. */
  phase: RotationPhase | 'complete';
  /** The bundle (old + new root) every participant must acknowledge in phase 2. */
  bundleVersion: number;
  /** Key type of the new root and of the zone intermediate made under it in phase 3. */
  keyType?: KeyType;
  startedAt: string;
  /** When each phase started, by phase number - 1. */
  phaseStartedAt: string[];
  completedAt?: string;
  /** Phases an operator ended before their condition held. */
  forced: RotationPhase[];
}

export interface CaState {
  schema: 1;
  trustDomain: string;
  zone: string;
  /** Bumps whenever the set of trusted roots changes. */
  bundleVersion: number;
  /** The trust bundle, oldest first. */
  roots: RootRecord[];
  /** The root whose intermediate signs new leaves. */
  activeRootId: string;
  intermediates: IntermediateRecord[];
  /** The rotation in progress, or the last one. */
  rotation?: RotationRecord;
  createdAt: string;
}

export interface LeafRecord {
  serial: string;
  spiffeId: string;
  rootId: string;
  notAfter: string;
  issuedAt: string;
}

export interface RevocationRecord {
  serial: string;
  spiffeId: string;
  reason: string;
  revokedAt: string;
  /** The leaf's own expiry: the record can go after it. */
  notAfter: string;
}

export interface AckRecord {
  participant: string;
  /** Which instance of the participant (a proxy's instance ID); empty for a zone. */
  instance?: string;
  bundleVersion: number;
  /** Last time the participant reported in; stale participants do not hold a rotation. */
  seenAt: string;
}

/** Consul's root ID: SHA-1 of the certificate's DER, lowercase colon hex. */
export function certificateId(pem: string): string {
  return new X509Certificate(pem).fingerprint.toLowerCase();
}

export function activeRoot(state: CaState): RootRecord {
  const root = state.roots.find((r) => r.id === state.activeRootId);
  if (!root)
    throw new CorruptDataError(
      `${CA_STATE_KEY}: active root ${state.activeRootId} is not in roots`,
    );
  return root;
}

export function activeIntermediate(state: CaState): IntermediateRecord {
  const int = state.intermediates.find((i) => i.rootId === state.activeRootId);
  if (!int) {
    throw new CorruptDataError(
      `${CA_STATE_KEY}: no intermediate for the active root ${state.activeRootId}`,
    );
  }
  return int;
}

/** The trusted roots' PEMs, oldest first. */
export function trustBundlePems(state: CaState): string[] {
  return state.roots.map((r) => r.certificatePem);
}

export function encodeCaState(state: CaState): string {
  return JSON.stringify(state);
}

/** Parse the stored record; anything unexpected is CorruptDataError, never a guess. */
export function decodeCaState(raw: string | Buffer): CaState {
  let value: unknown;
  try {
    value = JSON.parse(raw.toString());
  } catch (err) {
    throw new CorruptDataError(`${CA_STATE_KEY} is not JSON`, err);
  }
  const s = value as Partial<CaState> | null;
  const bad = (why: string): never => {
    throw new CorruptDataError(`${CA_STATE_KEY}: ${why}`);
  };
  if (typeof s !== 'object' || s === null) return bad('not an object');
  if (s.schema !== 1) return bad(`unknown schema ${JSON.stringify(s.schema)}`);
  if (typeof s.trustDomain !== 'string' || typeof s.zone !== 'string') {
    return bad('trustDomain and zone must be strings');
  }
  if (!Number.isSafeInteger(s.bundleVersion)) return bad('bundleVersion must be an integer');
  if (!Array.isArray(s.roots) || s.roots.length === 0) return bad('roots must be a non-empty list');
  if (!Array.isArray(s.intermediates)) return bad('intermediates must be a list');
  for (const r of s.roots) {
    if (typeof r?.id !== 'string' || typeof r.certificatePem !== 'string') {
      return bad('every root needs an id and a certificatePem');
    }
  }
  for (const i of s.intermediates) {
    if (typeof i?.rootId !== 'string' || typeof i.certificatePem !== 'string' || !i.key) {
      return bad('every intermediate needs a rootId, a certificatePem and a key');
    }
  }
  const state = s as CaState;
  activeRoot(state);
  return state;
}

export function decodeRecord<T>(key: string, raw: string | Buffer): T {
  try {
    return JSON.parse(raw.toString()) as T;
  } catch (err) {
    throw new CorruptDataError(`${key} is not JSON`, err);
  }
}
