/**
 * Finds the server name (SNI) in a TLS ClientHello without terminating TLS, so the gateway
 * can route a connection by its destination and then pass the bytes on untouched (the
 * inner mTLS stays end to end between the two proxies).
 *
 * The hello may arrive in pieces: across TCP segments (the caller feeds what it has so
 * far) and across TLS records (RFC 8446 §5.1 lets a handshake message span several). So
 * the handshake bytes of consecutive records are joined before the hello is read.
 * Layout: RFC 8446 §4.1.2 (ClientHello) and RFC 6066 §3 (server_name).
 */

export type HelloResult =
  /** More bytes are needed. */
  | { state: 'incomplete' }
  /** The whole hello is here; `sni` is undefined when it names no server. */
  | { state: 'done'; sni: string | undefined }
  /** Not a TLS ClientHello (or a malformed one). */
  | { state: 'invalid'; reason: string };

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
/** A record's payload is at most 2^14 bytes (RFC 8446 §5.1). */
const MAX_RECORD = 16_384;

/** Read the ClientHello at the start of `data` (everything received so far). */
export function parseClientHello(data: Buffer): HelloResult {
  // Join the handshake payloads of the records received so far.
  const parts: Buffer[] = [];
  let handshakeBytes = 0;
  let offset = 0;
  let needed: number | undefined;
  while (offset + 5 <= data.length) {
    const type = data[offset];
    const major = data[offset + 1];
    const length = data.readUInt16BE(offset + 3);
    if (type !== RECORD_HANDSHAKE) return invalid(`not a TLS handshake record (type ${type})`);
    if (major !== 3) return invalid(`not a TLS record (version byte ${major})`);
    if (length === 0 || length > MAX_RECORD) return invalid(`bad TLS record length ${length}`);
    const body = data.subarray(offset + 5, offset + 5 + length);
    parts.push(body);
    handshakeBytes += body.length;
    offset += 5 + length;
    if (needed === undefined && handshakeBytes >= 4) {
      const head = Buffer.concat(parts).subarray(0, 4);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO)
        return invalid('the first handshake is not a ClientHello');
      needed = 4 + head.readUIntBE(1, 3);
    }
    if (needed !== undefined && handshakeBytes >= needed) break;
    if (body.length < length) break; // the record itself is still arriving
  }
  if (data.length > 0 && data[0] !== RECORD_HANDSHAKE) {
    return invalid(`not a TLS handshake record (type ${data[0]})`);
  }
  if (needed === undefined || handshakeBytes < needed) return { state: 'incomplete' };
  const hello = Buffer.concat(parts).subarray(4, needed);
  try {
    return { state: 'done', sni: serverName(hello) };
  } catch (err) {
    return invalid((err as Error).message);
  }
}

/** The host_name in the server_name extension of a ClientHello body, if any. */
function serverName(hello: Buffer): string | undefined {
  const r = new Cursor(hello);
  r.skip(2 + 32); // legacy_version, random
  r.skip(r.u8()); // legacy_session_id
  r.skip(r.u16()); // cipher_suites
  r.skip(r.u8()); // legacy_compression_methods
  if (r.done()) return undefined; // no extensions (an SSLv3-era hello)
  const extensions = r.sub(r.u16());
  while (!extensions.done()) {
    const type = extensions.u16();
    const ext = extensions.sub(extensions.u16());
    if (type !== EXT_SERVER_NAME) continue;
    const list = ext.sub(ext.u16());
    while (!list.done()) {
      const nameType = list.u8();
      const name = list.bytes(list.u16());
      if (nameType !== NAME_TYPE_HOST) continue;
      const host = name.toString('latin1');
      // RFC 6066: an ASCII host name, no trailing dot. Anything else cannot route anywhere.
      if (!/^[A-Za-z0-9.-]{1,253}$/.test(host))
        throw new Error('the server name is not a host name');
      return host.toLowerCase();
    }
    return undefined;
  }
  return undefined;
}

function invalid(reason: string): HelloResult {
  return { state: 'invalid', reason };
}

/** Bounds-checked reads; running past the end throws (a truncated or lying length field). */
class Cursor {
  #at = 0;
  constructor(private readonly buf: Buffer) {}

  done(): boolean {
    return this.#at >= this.buf.length;
  }

  #take(n: number): number {
    if (this.#at + n > this.buf.length) throw new Error('the ClientHello is truncated');
    const at = this.#at;
    this.#at += n;
    return at;
  }

  skip(n: number): void {
    this.#take(n);
  }

  u8(): number {
    return this.buf[this.#take(1)] as number;
  }

  u16(): number {
    return this.buf.readUInt16BE(this.#take(2));
  }

  bytes(n: number): Buffer {
    const at = this.#take(n);
    return this.buf.subarray(at, at + n);
  }

  sub(n: number): Cursor {
    return new Cursor(this.bytes(n));
  }
}
