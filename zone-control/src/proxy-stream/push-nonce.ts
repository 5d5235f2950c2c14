/**
 * Nonces for pushes: 8 random bytes as hex, as before, but drawn from a pooled buffer.
 * A change pushes a config to every affected proxy at once, and one `randomBytes(8)` per
 * push (a call into OpenSSL's generator each time) was 5 % of a zone's work in a
 * thousand-proxy fan-out; one call per 512 nonces costs next to nothing. Node's own
 * `randomUUID` pools its entropy the same way.
 */
import { randomBytes } from 'node:crypto';

const NONCE_BYTES = 8;
const POOL_NONCES = 512;

let pool = Buffer.alloc(0);
let offset = 0;

/** A fresh nonce: 16 hex characters from the CSPRNG; no two calls share pool bytes. */
export function pushNonce(): string {
  if (offset + NONCE_BYTES > pool.length) {
    pool = randomBytes(NONCE_BYTES * POOL_NONCES);
    offset = 0;
  }
  const nonce = pool.toString('hex', offset, offset + NONCE_BYTES);
  offset += NONCE_BYTES;
  return nonce;
}
