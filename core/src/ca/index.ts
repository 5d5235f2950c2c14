// The CA primitives: SPIFFE IDs, keys, CSRs, certificates and chain verification.
export * from './spiffe.ts';
export * from './keys.ts';
export * from './csr.ts';
export * from './certificates.ts';
export * from './verify.ts';
export { derToPem } from './signing.ts';
