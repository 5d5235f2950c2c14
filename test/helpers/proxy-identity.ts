/**
 * Real certificates from our CA for tests of the proxy's data path: a root, one
 * intermediate per zone, and leaves for any workload, all signed by `core/src/ca`, so the
 * proxy sees exactly what a zone would issue. Also builds `TlsIdentity`s from them.
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { RequestListener, Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import {
  createCsr,
  createRootCertificate,
  formatSpiffeId,
  generateKeyPair,
  privateKeyToPem,
  signIntermediateCertificate,
  signLeafCertificate,
} from '../../core/index.ts';
import type { IssuerCa } from '../../core/index.ts';
import { derToPem, signTbs } from '../../core/src/ca/signing.ts';
import {
  authorityKeyIdentifierExtension,
  fromDerBuffer,
  issuerParts,
  nameAsn1,
  signatureAlgorithm,
  spkiDerOf,
  subjectKeyIdentifierExtension,
  subjectPublicKey,
  tbsCertificate,
} from '../../core/src/ca/x509.ts';
import type { IdentityMaterial } from '../../proxy/src/identity/tls-identity.ts';
import { TlsIdentity } from '../../proxy/src/identity/tls-identity.ts';
import type { PeerIdentity } from '../../proxy/src/mesh-tls.ts';

export const PROXY_TEST_TRUST_DOMAIN = 'causeway.mesh';

export interface Workload {
  service: string;
  /** @default "default" */
  namespace?: string;
  /** @default "test" */
  zone?: string;
}

/** A test CA: one root and a zone intermediate created on first use per zone. */
export class ProxyTestCa {
  readonly #zones = new Map<string, Promise<IssuerCa>>();

  private constructor(
    readonly trustDomain: string,
    readonly root: IssuerCa,
  ) {}

  static async create(trustDomain = PROXY_TEST_TRUST_DOMAIN): Promise<ProxyTestCa> {
    const keyPair = await generateKeyPair();
    const certificatePem = createRootCertificate({ trustDomain, keyPair });
    return new ProxyTestCa(trustDomain, { certificatePem, privateKey: keyPair.privateKey });
  }

  get rootPem(): string {
    return this.root.certificatePem;
  }

  /** The zone's intermediate CA (created once). */
  zone(zone: string): Promise<IssuerCa> {
    let ca = this.#zones.get(zone);
    if (!ca) {
      ca = (async () => {
        const keyPair = await generateKeyPair();
        const spiffeId = formatSpiffeId({ kind: 'control', trustDomain: this.trustDomain, zone });
        const certificatePem = signIntermediateCertificate({
          issuer: this.root,
          trustDomain: this.trustDomain,
          zone,
          csrPem: createCsr({ keyPair, spiffeId }),
        });
        return { certificatePem, privateKey: keyPair.privateKey };
      })();
      this.#zones.set(zone, ca);
    }
    return ca;
  }

  /**
   * A leaf for `workload`, signed by its zone's intermediate (or by `issuer`, e.g. another
   * zone's intermediate through a test-only path), with our root as the only trust root.
   */
  async identity(workload: Workload, extraRoots: string[] = []): Promise<IdentityMaterial> {
    const zone = workload.zone ?? 'test';
    const spiffeId = formatSpiffeId({
      kind: 'workload',
      trustDomain: this.trustDomain,
      zone,
      namespace: workload.namespace ?? 'default',
      service: workload.service,
    });
    const issuer = await this.zone(zone);
    const keyPair = await generateKeyPair();
    const certificatePem = signLeafCertificate({
      issuer,
      csrPem: createCsr({ keyPair, spiffeId }),
      spiffeId,
    });
    return {
      certificatePem,
      chainPem: issuer.certificatePem,
      keyPem: privateKeyToPem(keyPair.privateKey),
      roots: [this.rootPem, ...extraRoots],
      revokedSerials: [],
    };
  }

  /**
   * A leaf naming `workload` (in its zone) but signed by the intermediate of `signerZone`:
   * what a compromised or buggy zone CA could mint. The CA's own signer refuses to, so this
   * builds the certificate from the same primitives.
   */
  async misissuedIdentity(workload: Workload, signerZone: string): Promise<IdentityMaterial> {
    const spiffeId = formatSpiffeId({
      kind: 'workload',
      trustDomain: this.trustDomain,
      zone: workload.zone ?? 'test',
      namespace: workload.namespace ?? 'default',
      service: workload.service,
    });
    const issuer = await this.zone(signerZone);
    const issuerCert = new X509Certificate(issuer.certificatePem);
    const parts = issuerParts(issuerCert.raw);
    const keyPair = await generateKeyPair();
    const key = subjectPublicKey(spkiDerOf(keyPair.publicKey));
    const now = Date.now();
    const tbs = tbsCertificate({
      serialHex: '01' + randomBytes(16).toString('hex'),
      signatureAlgorithm: signatureAlgorithm('ec'),
      issuer: fromDerBuffer(parts.subjectDer),
      notBefore: new Date(now - 60_000),
      notAfter: new Date(now + 3_600_000),
      subject: nameAsn1([{ name: 'organizationName', value: this.trustDomain }]),
      subjectPublicKeyInfo: key.spki,
      extensions: [
        { name: 'basicConstraints', cA: false, critical: true },
        { name: 'keyUsage', digitalSignature: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
        { name: 'subjectAltName', altNames: [{ type: 6, value: spiffeId }] },
        subjectKeyIdentifierExtension(key.keyId),
        authorityKeyIdentifierExtension(parts.keyId),
      ],
    });
    return {
      certificatePem: derToPem(signTbs(tbs, issuer.privateKey), 'CERTIFICATE'),
      chainPem: issuer.certificatePem,
      keyPem: privateKeyToPem(keyPair.privateKey),
      roots: [this.rootPem],
      revokedSerials: [],
    };
  }

  /** A ready TlsIdentity for `workload`. */
  async tlsIdentity(workload: Workload, extraRoots: string[] = []): Promise<TlsIdentity> {
    const identity = new TlsIdentity({ trustDomain: this.trustDomain });
    identity.update(await this.identity(workload, extraRoots));
    return identity;
  }
}

/** The serial of a PEM leaf as `RevocationList` wants it. */
export function serialOf(certificatePem: string): string {
  return new X509Certificate(certificatePem).serialNumber.toLowerCase();
}

export interface TerminatorOptions {
  identity: TlsIdentity;
  /** HTTP: requests are served by `app` on the decrypted connection. */
  app?: RequestListener;
  /** TCP (no `app`): the decrypted bytes are echoed back. */
}

/**
 * A minimal mTLS terminating server, standing in for the destination's inbound proxy: it
 * verifies the client like a mesh peer (chain by TLS, SPIFFE ID by `checkPeer`), counts
 * handshakes (full and resumed) and connections, and serves an HTTP app or echoes bytes.
 */
export class MtlsTerminator {
  handshakes = 0;
  resumed = 0;
  /** Client identities accepted, one per connection. */
  readonly peers: PeerIdentity[] = [];
  /** The client leaf's serial (lowercase hex), one per accepted connection. */
  readonly serials: string[] = [];
  readonly refusals: string[] = [];
  readonly tlsErrors: string[] = [];
  readonly #server: tls.Server;
  readonly #http: HttpServer | undefined;
  readonly #sockets = new Set<tls.TLSSocket>();

  private constructor(private readonly options: TerminatorOptions) {
    this.#server = tls.createServer({
      // Mesh clients always send SNI; the context is read per connection so updates apply.
      SNICallback: (_name, cb) => cb(null, options.identity.secureContext()),
      requestCert: true,
      rejectUnauthorized: true,
    });
    if (options.app) this.#http = createHttpServer({ keepAliveTimeout: 30_000 }, options.app);
    this.#server.on('secureConnection', (socket) => this.#accept(socket));
    this.#server.on('tlsClientError', (err) => this.tlsErrors.push(err.message));
  }

  static async start(options: TerminatorOptions): Promise<MtlsTerminator> {
    const t = new MtlsTerminator(options);
    t.#server.listen(0, '127.0.0.1');
    await once(t.#server, 'listening');
    return t;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Open (accepted) connections right now. */
  get connections(): number {
    return this.#sockets.size;
  }

  #accept(socket: tls.TLSSocket): void {
    socket.on('error', () => undefined);
    this.handshakes++;
    if (socket.isSessionReused()) this.resumed++;
    const peer = this.options.identity.checkPeer(socket);
    if (peer instanceof Error) {
      this.refusals.push(peer.message);
      socket.destroy();
      return;
    }
    this.peers.push(peer);
    this.serials.push(socket.getPeerCertificate().serialNumber.toLowerCase());
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
    if (this.#http) this.#http.emit('connection', socket);
    else socket.pipe(socket);
  }

  /** Cut every open connection (simulates a crash of the upstream). */
  dropConnections(): void {
    for (const s of this.#sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    if (this.#server.listening) {
      await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    }
  }
}
