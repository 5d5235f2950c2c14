/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): each hop keeps the trace id
 * and flags of an incoming `traceparent` and puts in a span id of its own; a request
 * without one (or with a malformed one) starts a trace. Ids come from a buffer of random
 * bytes refilled in bulk, so the hot path makes no crypto call per request.
 */
import { randomFillSync } from 'node:crypto';

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const POOL = Buffer.allocUnsafe(8192);
let poolAt = POOL.length;

function randomHex(bytes: number): string {
  if (poolAt + bytes > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  let s = '';
  let zero = true;
  for (let i = 0; i < bytes; i++) {
    const b = POOL[poolAt++] as number;
    if (b !== 0) zero = false;
    s += HEX[b] as string;
  }
  // All-zero ids are invalid; 2^-64 odds, but cheap to rule out.
  return zero ? randomHex(bytes) : s;
}

function isLowerHex(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** The `traceparent` to send upstream for an incoming one (or none). */
export function nextTraceparent(incoming: string | undefined): string {
  if (
    incoming !== undefined &&
    incoming.length === 55 &&
    incoming.charCodeAt(2) === 45 &&
    incoming.charCodeAt(35) === 45 &&
    incoming.charCodeAt(52) === 45 &&
    isLowerHex(incoming, 0, 2) &&
    isLowerHex(incoming, 3, 35) &&
    isLowerHex(incoming, 53, 55) &&
    !incoming.startsWith('ff') &&
    incoming.slice(3, 35) !== '00000000000000000000000000000000'
  ) {
    return `${incoming.slice(0, 36)}${randomHex(8)}${incoming.slice(52)}`;
  }
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}
