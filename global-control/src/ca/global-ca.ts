/**
 * The global control plane's certificate authority: the mesh's root CA (created at the
 * first start, key sealed in the store), which signs each zone's intermediate from the
 * zone's CSR and the global's own `spiffe://<td>/global` leaf; and the key zone tokens
 * are signed with.
 *
 * Several replicas may share one store: the root and the token key are created with
 * check-and-set, so the first replica's win and the others load them. Each replica makes
 * its own server leaf (its key never leaves the process) and renews it at about 80% of its
 * life.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import {
  ConflictError,
  InvalidArgumentError,
  LeafRenewer,
  certificateId,
  certificatePin,
  childLogger,
  createRootCertificate,
  generateKeyPair,
  globalSpiffeId,
  newZoneTokenId,
  normalizeSerial,
  privateKeyToPem,
  signGlobalCertificate,
  signIntermediateCertificate,
  signZoneToken,
  validateSpiffeSegment,
  verifyZoneToken,
} from '../../../core/index.ts';
import type {
  Component,
  KeySealer,
  KeyType,
  Logger,
  SealedKey,
  Store,
  ZoneKind,
  ZoneTokenPayload,
} from '../../../core/index.ts';
import {
  GLOBAL_ROOT_KEY,
  ZONE_INTERMEDIATE_PREFIX,
  ZONE_TOKEN_SIGNING_KEY,
  decodeStored,
  zoneIntermediateKey,
} from './ca-records.ts';
import type { GlobalRootRecord, TokenKeyRecord, ZoneIntermediateRecord } from './ca-records.ts';

export interface GlobalCaOptions {
  trustDomain: string;
  sealer: KeySealer;
  /** Key type of a generated root. */
  keyType: KeyType;
  /** Lifetime of the global's own leaf. */
  serverCertTtlMs: number;
  /** Lifetime of zone intermediates. @default 1 year (never past the root) */
  intermediateTtlMs?: number;
}

/** The global's own certificate and key, for the sync server's TLS. */
export interface GlobalServerIdentity {
  spiffeId: string;
  /** The leaf alone: the root signed it directly. */
  certificatePem: string;
  privateKeyPem: string;
  /** The root, for the `ca` of TLS options (zones' client certificates chain to it). */
  rootPem: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  issuedAt: Date;
}

export interface SignedZoneIntermediate {
  certificatePem: string;
  rootPem: string;
  serial: string;
  notAfter: Date;
}

/** What the root looks like, for `/api/ca` and logs. */
export interface GlobalRootInfo {
  id: string;
  pin: string;
  certificatePem: string;
  keyType: KeyType;
  notBefore: string;
  notAfter: string;
  createdAt: string;
}

export interface ZoneTokenRequest {
  zone: string;
  kind: ZoneKind;
  ttlMs: number;
  /** Issued-at in seconds; defaults to now. A rotation issues at its cut-off second. */
  iat?: number;
}

interface Loaded {
  record: GlobalRootRecord;
  rootKey: KeyObject;
  tokenKey: { privateKey: KeyObject; publicKey: KeyObject };
}

export class GlobalCa implements Component {
  readonly name = 'global-ca';
  readonly #store: Store;
  readonly #options: GlobalCaOptions;
  readonly #logger: Logger;
  #loaded: Loaded | undefined;
  readonly #renewer: LeafRenewer<GlobalServerIdentity>;
  readonly #identityListeners = new Set<(identity: GlobalServerIdentity) => void>();
  #markReady!: () => void;
  readonly #ready = new Promise<void>((resolve) => (this.#markReady = resolve));

  constructor(store: Store, options: GlobalCaOptions, logger: Logger) {
    this.#store = store;
    this.#options = options;
    this.#logger = childLogger(logger, 'ca');
    this.#renewer = new LeafRenewer<GlobalServerIdentity>({
      issue: () => this.#issueServerIdentity(),
      install: (identity) => {
        this.#logger.info(
          { serial: identity.serial, notAfter: identity.notAfter.toISOString() },
          'installed the global server certificate',
        );
        for (const listener of this.#identityListeners) listener(identity);
      },
      logger: this.#logger,
    });
  }

  /** Resolves once the root and token key are loaded and the first server leaf is made. */
  ready(): Promise<void> {
    return this.#ready;
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.load();
    await this.#renewer.run(signal, () => this.#markReady());
  }

  /** Load the root and the token key, creating them at a first start (race-safe). */
  async load(): Promise<void> {
    const record = await this.#loadRoot();
    const rootKey = this.#unseal(record.key, GLOBAL_ROOT_KEY);
    const tokenKey = await this.#loadTokenKey();
    this.#loaded = { record, rootKey, tokenKey };
  }

  get trustDomain(): string {
    return this.#options.trustDomain;
  }

  get spiffeId(): string {
    return globalSpiffeId(this.#options.trustDomain);
  }

  /** The root certificate (PEM). @throws ConflictError before {@link load}. */
  rootPem(): string {
    return this.#state().record.certificatePem;
  }

  /** SHA-256 of the root's DER, lowercase hex: what zone tokens carry. */
  rootPin(): string {
    return this.#state().record.pin;
  }

  get root(): GlobalRootInfo {
    const { record } = this.#state();
    const cert = new X509Certificate(record.certificatePem);
    return {
      id: record.id,
      pin: record.pin,
      certificatePem: record.certificatePem,
      keyType: record.key.type,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      createdAt: record.createdAt,
    };
  }

  /**
   * The current server leaf for `spiffe://<td>/global`, signed by the root itself (waits
   * for the first one). Renewed at about 80% of its life: read it again, or follow
   * {@link onServerIdentityChange}.
   */
  async serverIdentity(): Promise<GlobalServerIdentity> {
    await this.#ready;
    const current = this.#renewer.current;
    if (!current) throw new ConflictError('the global CA has no server certificate yet');
    return current;
  }

  /** Call `listener` with each renewed server leaf; returns the unsubscribe. */
  onServerIdentityChange(listener: (identity: GlobalServerIdentity) => void): () => void {
    this.#identityListeners.add(listener);
    return () => this.#identityListeners.delete(listener);
  }

  /**
   * Sign `zone`'s intermediate CA from its CSR, which must request exactly
   * `spiffe://<td>/zone/<zone>/control`, and record it.
   *
   * @throws InvalidArgumentError for a bad CSR or zone name; PermissionDeniedError when the
   *   CSR asks for another identity (another zone's, say).
   */
  async signZoneIntermediate(zone: string, csrPem: string): Promise<SignedZoneIntermediate> {
    validateSpiffeSegment(zone, 'zone');
    if (typeof csrPem !== 'string')
      throw new InvalidArgumentError('csr must be a PEM string', 'csr');
    const { record, rootKey } = this.#state();
    const certificatePem = signIntermediateCertificate({
      issuer: { certificatePem: record.certificatePem, privateKey: rootKey },
      trustDomain: this.#options.trustDomain,
      zone,
      csrPem,
      validityMs: this.#options.intermediateTtlMs,
    });
    const cert = new X509Certificate(certificatePem);
    const serial = normalizeSerial(cert.serialNumber);
    const notAfter = new Date(cert.validTo);
    const stored: ZoneIntermediateRecord = {
      zone,
      serial,
      spiffeId: `spiffe://${this.#options.trustDomain}/zone/${zone}/control`,
      rootId: record.id,
      certificatePem,
      issuedAt: new Date().toISOString(),
      notAfter: notAfter.toISOString(),
    };
    const put = await this.#store.put(
      zoneIntermediateKey(zone, serial),
      Buffer.from(JSON.stringify(stored)),
      { cas: 0 },
    );
    if (!put.ok) throw new ConflictError(`serial ${serial} was already issued; try again`);
    this.#logger.info({ zone, serial, notAfter: stored.notAfter }, 'signed a zone intermediate');
    return { certificatePem, rootPem: record.certificatePem, serial, notAfter };
  }

  /** The zone intermediates issued (of one zone, or all), oldest first. */
  async intermediates(zone?: string): Promise<ZoneIntermediateRecord[]> {
    const prefix =
      zone === undefined
        ? ZONE_INTERMEDIATE_PREFIX
        : `${ZONE_INTERMEDIATE_PREFIX}${validateSpiffeSegment(zone, 'zone')}/`;
    const { entries } = await this.#store.list(prefix);
    return entries
      .map((e) =>
        decodeStored<ZoneIntermediateRecord>(e.key, e.value, ['zone', 'serial', 'notAfter']),
      )
      .sort((a, b) => a.issuedAt.localeCompare(b.issuedAt));
  }

  /** Sign a zone token for `request.zone`, carrying the trust domain and root pin. */
  issueZoneToken(request: ZoneTokenRequest): { token: string; payload: ZoneTokenPayload } {
    const iat = request.iat ?? Math.floor(Date.now() / 1000);
    const payload: ZoneTokenPayload = {
      v: 1,
      zone: request.zone,
      kind: request.kind,
      td: this.#options.trustDomain,
      rootPin: this.rootPin(),
      iat,
      exp: iat + Math.max(1, Math.round(request.ttlMs / 1000)),
      jti: newZoneTokenId(),
    };
    return { token: signZoneToken(payload, this.#state().tokenKey.privateKey), payload };
  }

  /**
   * Check a zone token's shape, signature and expiry (not whether its zone may connect:
   * that is the registry's `verifyToken`).
   *
   * @throws PermissionDeniedError saying why.
   */
  verifyZoneTokenSignature(token: unknown, now: Date = new Date()): ZoneTokenPayload {
    return verifyZoneToken(token, this.#state().tokenKey.publicKey, now);
  }

  #state(): Loaded {
    if (!this.#loaded) throw new ConflictError('the global CA is not loaded yet');
    return this.#loaded;
  }

  async #issueServerIdentity(): Promise<GlobalServerIdentity> {
    const { record, rootKey } = this.#state();
    const keyPair = await generateKeyPair({ type: 'ec' });
    const issuedAt = new Date();
    const certificatePem = signGlobalCertificate({
      root: { certificatePem: record.certificatePem, privateKey: rootKey },
      trustDomain: this.#options.trustDomain,
      publicKey: keyPair.publicKey,
      validityMs: this.#options.serverCertTtlMs,
      now: issuedAt,
    });
    const cert = new X509Certificate(certificatePem);
    return {
      spiffeId: this.spiffeId,
      certificatePem,
      privateKeyPem: privateKeyToPem(keyPair.privateKey),
      rootPem: record.certificatePem,
      serial: normalizeSerial(cert.serialNumber),
      notBefore: new Date(cert.validFrom),
      notAfter: new Date(cert.validTo),
      issuedAt,
    };
  }

  async #loadRoot(): Promise<GlobalRootRecord> {
    for (;;) {
      const entry = await this.#store.get(GLOBAL_ROOT_KEY);
      if (entry) {
        const record = decodeStored<GlobalRootRecord>(GLOBAL_ROOT_KEY, entry.value, [
          'trustDomain',
          'certificatePem',
          'key',
          'pin',
        ]);
        if (record.trustDomain !== this.#options.trustDomain) {
          throw new ConflictError(
            `the store holds the root CA of trust domain ${record.trustDomain}, not ${this.#options.trustDomain}; start with --trust-domain ${record.trustDomain} or another store`,
            'trustDomain',
          );
        }
        return record;
      }
      const keyPair = await generateKeyPair(
        this.#options.keyType === 'rsa' ? { type: 'rsa', bits: 2048 } : { type: 'ec' },
      );
      const certificatePem = createRootCertificate({
        trustDomain: this.#options.trustDomain,
        keyPair,
      });
      const record: GlobalRootRecord = {
        schema: 1,
        trustDomain: this.#options.trustDomain,
        id: certificateId(certificatePem),
        pin: certificatePin(certificatePem),
        certificatePem,
        key: this.#seal(keyPair.privateKey, GLOBAL_ROOT_KEY),
        createdAt: new Date().toISOString(),
      };
      const put = await this.#store.put(GLOBAL_ROOT_KEY, Buffer.from(JSON.stringify(record)), {
        cas: 0,
      });
      if (put.ok) {
        this.#logger.info(
          { rootId: record.id, pin: record.pin, trustDomain: record.trustDomain },
          'created the global root CA',
        );
        return record;
      }
      // Another replica created it first: loop and load theirs.
    }
  }

  async #loadTokenKey(): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
    for (;;) {
      const entry = await this.#store.get(ZONE_TOKEN_SIGNING_KEY);
      if (entry) {
        const record = decodeStored<TokenKeyRecord>(ZONE_TOKEN_SIGNING_KEY, entry.value, ['key']);
        const privateKey = this.#unseal(record.key, ZONE_TOKEN_SIGNING_KEY);
        return { privateKey, publicKey: createPublicKey(privateKey) };
      }
      const keyPair = await generateKeyPair({ type: 'ec' });
      const record: TokenKeyRecord = {
        schema: 1,
        publicKeyPem: keyPair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        key: this.#seal(keyPair.privateKey, ZONE_TOKEN_SIGNING_KEY),
        createdAt: new Date().toISOString(),
      };
      const put = await this.#store.put(
        ZONE_TOKEN_SIGNING_KEY,
        Buffer.from(JSON.stringify(record)),
        { cas: 0 },
      );
      if (put.ok) {
        this.#logger.info('created the zone token signing key');
        return keyPair;
      }
    }
  }

  #seal(key: KeyObject, recordName: string): SealedKey {
    const details = key.asymmetricKeyDetails ?? {};
    const type: KeyType = key.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec';
    return {
      type,
      bits: type === 'rsa' ? (details.modulusLength ?? 0) : 256,
      sealed: this.#options.sealer.seal(privateKeyToPem(key), recordName),
    };
  }

  #unseal(key: SealedKey, recordName: string): KeyObject {
    return createPrivateKey(this.#options.sealer.unseal(key.sealed, recordName));
  }
}
