/**
 * The proxy's identity when a zone issues it: keys are generated here and never leave
 * the process; the zone gets CSRs (in the hello, then in `csr` frames for renewals) and
 * pushes back leaves and the trust bundle, which this checks and installs into the
 * {@link TlsIdentity} both listeners read.
 *
 * A leaf is installed only if it answers one of our CSRs (its key is one we generated),
 * names our SPIFFE ID and chains to the trust bundle; otherwise the push is refused (the
 * stream NACKs it) and the current leaf keeps serving. Renewal follows core's
 * {@link LeafRenewer} schedule (80% of the lifetime, jittered); while the zone is away the
 * next hello brings a fresh leaf instead.
 */
import { X509Certificate } from 'node:crypto';
import {
  InvalidArgumentError,
  LeafRenewer,
  PermissionDeniedError,
  createCsr,
  generateKeyPair,
  normalizeSerial,
  privateKeyToPem,
  splitPem,
  verifyLeafChain,
} from '../../../core/index.ts';
import type { IssuedLeaf, KeyPair, Logger } from '../../../core/index.ts';
import type { BundlePush, LeafPush } from '../../../core/src/proxy-stream/messages.ts';
import type { IdentityMaterial } from './tls-identity.ts';

/** Where installed identity material goes: the TLS identity, and workers if any. */
export interface IdentitySink {
  /** @throws when the material is unusable; the previous material stays in use. */
  update(material: IdentityMaterial): void;
}

/** CSRs outstanding at once: a hello per reconnect plus a renewal, with room to spare. */
const MAX_PENDING_KEYS = 4;
/** A renewal CSR unanswered this long is retried (LeafRenewer backs off). */
const RENEWAL_ANSWER_MS = 30_000;

export interface StreamIdentityOptions {
  tls: IdentitySink;
  /** The identity the zone must issue: `spiffe://<td>/zone/<zone>/ns/<ns>/svc/<svc>`. */
  spiffeId?: string;
  /** Trusted until the zone pushes its bundle (the `--ca-file`). */
  initialRoots: readonly string[];
  logger: Logger;
}

interface InstalledLeaf extends IssuedLeaf {
  chainPem: string;
  serial: string;
  version: number;
}

/** What `/config_dump` shows about the identity: no key material. */
export interface IdentitySummary {
  spiffeId: string | undefined;
  serial: string | undefined;
  notBefore: string | undefined;
  notAfter: string | undefined;
  leafVersion: number | undefined;
  bundleVersion: number | undefined;
  roots: number;
  revokedSerials: number;
}

export class StreamIdentity {
  readonly #pending: KeyPair[] = [];
  #leaf: (InstalledLeaf & { keyPem: string }) | undefined;
  #spiffeId: string | undefined;
  #roots: readonly string[];
  #revoked: readonly string[] = [];
  #bundleVersion: number | undefined;
  readonly #waiters = new Set<() => void>();
  #renewer: LeafRenewer<InstalledLeaf> | undefined;

  constructor(private readonly options: StreamIdentityOptions) {
    this.#roots = options.initialRoots;
    this.#spiffeId = options.spiffeId;
  }

  /** The roots the zone's own certificate is checked against when dialling. */
  roots(): readonly string[] {
    return this.#roots;
  }

  hasLeaf(): boolean {
    return this.#leaf !== undefined;
  }

  summary(): IdentitySummary {
    return {
      spiffeId: this.#spiffeId,
      serial: this.#leaf?.serial,
      notBefore: this.#leaf?.notBefore.toISOString(),
      notAfter: this.#leaf?.notAfter.toISOString(),
      leafVersion: this.#leaf?.version,
      bundleVersion: this.#bundleVersion,
      roots: this.#roots.length,
      revokedSerials: this.#revoked.length,
    };
  }

  /**
   * A new key pair and a CSR for `spiffeId` (default: the current one); the key waits for
   * its leaf.
   */
  async csr(spiffeId = this.#spiffeId): Promise<string> {
    if (spiffeId === undefined)
      throw new InvalidArgumentError('the SPIFFE ID is not known yet', 'spiffeId');
    this.#spiffeId = spiffeId;
    const keyPair = await generateKeyPair();
    this.#pending.push(keyPair);
    if (this.#pending.length > MAX_PENDING_KEYS) this.#pending.shift();
    return createCsr({ keyPair, spiffeId });
  }

  /** Check and install a pushed leaf. @throws when it is not ours or not trusted. */
  applyLeaf(push: LeafPush): void {
    const leafPem = splitPem(push.certificatePem)[0];
    if (leafPem === undefined)
      throw new InvalidArgumentError('certificatePem holds no certificate', 'certificatePem');
    const cert = new X509Certificate(leafPem);
    const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
    const index = this.#pending.findIndex((k) =>
      k.publicKey.export({ type: 'spki', format: 'der' }).equals(spki),
    );
    if (index === -1) {
      throw new PermissionDeniedError(
        'the leaf is not for a key this proxy generated (no matching CSR)',
      );
    }
    const chain = [leafPem, ...splitPem(push.chainPem).filter((p) => p !== leafPem)];
    const verified = verifyLeafChain(chain, this.#roots);
    if (this.#spiffeId !== undefined && verified.spiffeId !== this.#spiffeId) {
      throw new PermissionDeniedError(`the leaf names ${verified.spiffeId}, not ${this.#spiffeId}`);
    }
    const keyPair = this.#pending[index] as KeyPair;
    const keyPem = privateKeyToPem(keyPair.privateKey);
    const chainPem = chain.join('\n');
    // Throws (keeping the current context) if the key and certificate do not match.
    this.options.tls.update({
      certificatePem: leafPem,
      chainPem,
      keyPem,
      roots: this.#roots,
      revokedSerials: this.#revoked,
    });
    this.#pending.splice(index, 1);
    this.#spiffeId = verified.spiffeId;
    this.#leaf = {
      certificatePem: leafPem,
      chainPem,
      keyPem,
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
      issuedAt: new Date(push.issuedAt),
      serial: normalizeSerial(cert.serialNumber),
      version: push.version,
    };
    this.options.logger.info(
      { spiffeId: verified.spiffeId, serial: this.#leaf.serial, notAfter: this.#leaf.notAfter },
      'leaf installed',
    );
    for (const wake of [...this.#waiters]) wake();
  }

  /** Install a trust bundle and revocation list. @throws when the material is unusable. */
  applyBundle(push: BundlePush): void {
    const rootsChanged = this.#bundleVersion !== undefined && push.version !== this.#bundleVersion;
    if (this.#leaf) {
      this.options.tls.update({
        certificatePem: this.#leaf.certificatePem,
        chainPem: this.#leaf.chainPem,
        keyPem: this.#leaf.keyPem,
        roots: push.roots,
        revokedSerials: push.revokedSerials,
      });
    }
    this.#roots = push.roots;
    this.#revoked = push.revokedSerials;
    this.#bundleVersion = push.version;
    // A new bundle usually means a root rotation: get a leaf under the new signing root
    // now rather than at 80% of the current one (the zone's own leaf does the same).
    if (rootsChanged) this.#renewer?.renewNow();
  }

  /**
   * Keep the leaf fresh until `signal` aborts. `sendCsr` sends a `csr` frame and says
   * whether it went out; when the stream is down the next hello gets the leaf instead.
   */
  async renew(signal: AbortSignal, sendCsr: (csr: string) => boolean): Promise<void> {
    const renewer = new LeafRenewer<InstalledLeaf>({
      issue: async () => {
        const installed = this.#nextLeaf(signal);
        if (this.#leaf !== undefined) {
          const csr = await this.csr();
          sendCsr(csr);
          return await withDeadline(
            installed,
            RENEWAL_ANSWER_MS,
            'no leaf came back for the renewal CSR',
          );
        }
        // The first leaf comes from the hello.
        return installed;
      },
      // applyLeaf installed it already, from whichever CSR it answers.
      install: () => undefined,
      logger: this.options.logger,
    });
    this.#renewer = renewer;
    try {
      await renewer.run(signal);
    } finally {
      this.#renewer = undefined;
    }
  }

  #nextLeaf(signal: AbortSignal): Promise<InstalledLeaf> {
    return new Promise((resolve, reject) => {
      const wake = () => {
        this.#waiters.delete(wake);
        signal.removeEventListener('abort', onAbort);
        resolve(this.#leaf as InstalledLeaf);
      };
      const onAbort = () => {
        this.#waiters.delete(wake);
        reject(signal.reason as Error);
      };
      this.#waiters.add(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}

async function withDeadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(message)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
