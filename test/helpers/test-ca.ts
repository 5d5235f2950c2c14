/**
 * A CA for proxy tests, built with core's CA functions so that the proxy sees exactly
 * what a zone would issue: one root, one intermediate per zone (made on first use), and
 * EC P-256 leaves (what proxies generate) for any workload or zone control plane. It
 * also hands out leaves as `IdentityMaterial` or ready `TlsIdentity`s, and can mint the
 * certificate a misbehaving zone CA could (see {@link TestCa.misissuedIdentity}).
 */
import { X509Certificate, randomBytes } from 'node:crypto';
import {
  createCsr,
  createRootCertificate,
  formatSpiffeId,
  generateKeyPair,
  normalizeSerial,
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

export const TEST_CA_TRUST_DOMAIN = 'causeway.mesh';

export interface Workload {
  service: string;
  /** @default "default" */
  namespace?: string;
  /** @default "test" */
  zone?: string;
}

export interface TestLeaf {
  spiffeId: string;
  certificatePem: string;
  /** The leaf then its intermediate. */
  chainPem: string;
  keyPem: string;
  /** Normalised (lowercase hex, no leading zeros). */
  serial: string;
}

export class TestCa {
  readonly #intermediates = new Map<string, Promise<IssuerCa>>();

  private constructor(
    readonly trustDomain: string,
    readonly root: IssuerCa,
  ) {}

  static async create(trustDomain = TEST_CA_TRUST_DOMAIN): Promise<TestCa> {
    const keyPair = await generateKeyPair();
    const certificatePem = createRootCertificate({ trustDomain, keyPair });
    return new TestCa(trustDomain, { certificatePem, privateKey: keyPair.privateKey });
  }

  get rootPem(): string {
    return this.root.certificatePem;
  }

  /** The zone's intermediate CA (created once; concurrent first calls share it). */
  intermediate(zone: string): Promise<IssuerCa> {
    let ca = this.#intermediates.get(zone);
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
      this.#intermediates.set(zone, ca);
    }
    return ca;
  }

  /** A workload leaf: `spiffe://<td>/zone/<zone>/ns/<namespace>/svc/<service>`. */
  leaf(
    service: string,
    { zone = 'test', namespace = 'default', validityMs }: LeafOptions = {},
  ): Promise<TestLeaf> {
    const spiffeId = formatSpiffeId({
      kind: 'workload',
      trustDomain: this.trustDomain,
      zone,
      namespace,
      service,
    });
    return this.#issue(spiffeId, zone, validityMs);
  }

  /** A zone control plane's leaf: `spiffe://<td>/zone/<zone>/control`. */
  control(zone = 'test'): Promise<TestLeaf> {
    return this.#issue(
      formatSpiffeId({ kind: 'control', trustDomain: this.trustDomain, zone }),
      zone,
    );
  }

  /** Sign a CSR (a proxy's hello or renewal) for `spiffeId`, as a zone does. */
  async signCsr(
    csrPem: string,
    spiffeId: string,
    zone = 'test',
  ): Promise<{ certificatePem: string; chainPem: string }> {
    const issuer = await this.intermediate(zone);
    const certificatePem = signLeafCertificate({ issuer, spiffeId, csrPem });
    return { certificatePem, chainPem: chainOf(certificatePem, issuer) };
  }

  /** A leaf for `workload` as `TlsIdentity.update` takes it, trusting our root (and `extraRoots`). */
  async identity(workload: Workload, extraRoots: string[] = []): Promise<IdentityMaterial> {
    const leaf = await this.leaf(workload.service, workload);
    return materialOf(leaf, [this.rootPem, ...extraRoots]);
  }

  /** A ready TlsIdentity for `workload`. */
  async tlsIdentity(workload: Workload, extraRoots: string[] = []): Promise<TlsIdentity> {
    const identity = new TlsIdentity({ trustDomain: this.trustDomain });
    identity.update(await this.identity(workload, extraRoots));
    return identity;
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
    const issuer = await this.intermediate(signerZone);
    const parts = issuerParts(new X509Certificate(issuer.certificatePem).raw);
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
    const certificatePem = derToPem(signTbs(tbs, issuer.privateKey), 'CERTIFICATE');
    return materialOf(
      {
        certificatePem,
        chainPem: chainOf(certificatePem, issuer),
        keyPem: privateKeyToPem(keyPair.privateKey),
      },
      [this.rootPem],
    );
  }

  async #issue(spiffeId: string, zone: string, validityMs?: number): Promise<TestLeaf> {
    const issuer = await this.intermediate(zone);
    const keyPair = await generateKeyPair();
    const certificatePem = signLeafCertificate({
      issuer,
      spiffeId,
      csrPem: createCsr({ keyPair, spiffeId }),
      ...(validityMs !== undefined ? { validityMs } : {}),
    });
    return {
      spiffeId,
      certificatePem,
      chainPem: chainOf(certificatePem, issuer),
      keyPem: privateKeyToPem(keyPair.privateKey),
      serial: serialOf(certificatePem),
    };
  }
}

export interface LeafOptions {
  /** @default "test" */
  zone?: string;
  /** @default "default" */
  namespace?: string;
  /** @default the CA's leaf validity */
  validityMs?: number;
}

/** The serial of a PEM leaf as `RevocationList` wants it. */
export function serialOf(certificatePem: string): string {
  return normalizeSerial(new X509Certificate(certificatePem).serialNumber);
}

function chainOf(certificatePem: string, issuer: IssuerCa): string {
  return `${certificatePem.trim()}\n${issuer.certificatePem.trim()}\n`;
}

function materialOf(
  leaf: Pick<TestLeaf, 'certificatePem' | 'chainPem' | 'keyPem'>,
  roots: string[],
): IdentityMaterial {
  const { certificatePem, chainPem, keyPem } = leaf;
  return { certificatePem, chainPem, keyPem, roots, revokedSerials: [] };
}
