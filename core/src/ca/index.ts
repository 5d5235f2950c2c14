// The CA primitives: SPIFFE IDs, keys, CSRs, certificates and chain verification.
export * from './spiffe.ts';
export * from './keys.ts';
export * from './csr.ts';
export * from './certificates.ts';
export * from './verify.ts';
export { derToPem } from './signing.ts';
// The CA as a service: persisted state, sealed keys, rotation, revocation, renewal.
export * from './ca-state.ts';
export * from './authority.ts';
export * from './key-sealing.ts';
export * from './revocation.ts';
export * from './renewal.ts';
export * from './cross-sign.ts';
// The global control plane's identity (signed by the root itself) and the sealing key source.
export * from './global-identity.ts';
export * from './sealer-source.ts';
export * from './federated-ca.ts';
