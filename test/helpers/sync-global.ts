/**
 * A global control plane reduced to what zone sync needs — a real root CA, real signed
 * zone tokens, a zone registry in memory — around the real `SyncServer`, so sync can be
 * tested on its own in-process. The full global (`test/helpers/global.ts`) wires the
 * same server to its persistent registry.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type { Logger } from 'pino';
import {
  certificatePin,
  createCsr,
  createRootCertificate,
  generateKeyPair,
  openStore,
  privateKeyToPem,
  signGlobalCertificate,
  signIntermediateCertificate,
  signZoneToken,
  verifyZoneToken,
} from '../../core/index.ts';
import type { IssuerCa, KeyPair, Store } from '../../core/index.ts';
import { SyncServer } from '../../global-control/src/sync/sync-server.ts';
import type { SyncRegistry } from '../../global-control/src/sync/sync-server.ts';
import { runInTest } from './run-in-test.ts';

export const SYNC_TRUST_DOMAIN = 'causeway.mesh';

export class MemoryRegistry implements SyncRegistry {
  readonly zones = new Map<string, { enabled: boolean; validAfter: number; createdAt: string }>();
  readonly #listeners = new Set<() => void>();

  constructor(private readonly tokenKey: KeyPair) {}

  verifyToken(token: string): Promise<{ zone: string }> {
    const payload = verifyZoneToken(token, this.tokenKey.publicKey);
    const zone = this.zones.get(payload.zone);
    if (zone && payload.iat < zone.validAfter) {
      return Promise.reject(new Error('zone token was revoked'));
    }
    return Promise.resolve({ zone: payload.zone });
  }

  get(zone: string): Promise<{ enabled: boolean; createdAt: string } | undefined> {
    return Promise.resolve(this.zones.get(zone));
  }

  names(): Promise<string[]> {
    return Promise.resolve([...this.zones.keys()]);
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  set(
    zone: string,
    record: { enabled: boolean; validAfter?: number; createdAt?: string } | undefined,
  ): void {
    const createdAt = this.zones.get(zone)?.createdAt ?? new Date(0).toISOString();
    if (record) this.zones.set(zone, { validAfter: 0, createdAt, ...record });
    else this.zones.delete(zone);
    for (const listener of this.#listeners) listener();
  }
}

export interface TestSyncGlobal {
  server: SyncServer;
  registry: MemoryRegistry;
  store: Store;
  rootPem: string;
  /** `wss://127.0.0.1:<port>` */
  url: string;
  /** A zone token signed by this global. */
  token(zone: string, options?: { ttlSeconds?: number; iatOffset?: number }): string;
  stop(): Promise<void>;
}

export interface SyncGlobalOptions {
  /** Reuse a root and token key (a "restarted" global). */
  keys?: { root: IssuerCa & { pem: string }; tokenKey: KeyPair };
  port?: number;
  store?: Store;
  logger?: Logger;
  heartbeatMs?: number;
}

export async function makeGlobalKeys(): Promise<{
  root: IssuerCa & { pem: string };
  tokenKey: KeyPair;
}> {
  const rootKeys = await generateKeyPair();
  const pem = createRootCertificate({ trustDomain: SYNC_TRUST_DOMAIN, keyPair: rootKeys });
  return {
    root: { pem, certificatePem: pem, privateKey: rootKeys.privateKey },
    tokenKey: await generateKeyPair(),
  };
}

export async function startSyncGlobal(options: SyncGlobalOptions = {}): Promise<TestSyncGlobal> {
  const logger = options.logger ?? pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const keys = options.keys ?? (await makeGlobalKeys());
  const store = options.store ?? (await openStore('memory', { logger }));
  const registry = new MemoryRegistry(keys.tokenKey);
  const server = new SyncServer({
    addr: { host: '127.0.0.1', port: options.port ?? 0 },
    store,
    logger,
    registry,
    heartbeatMs: options.heartbeatMs ?? 1000,
    ca: {
      trustDomain: SYNC_TRUST_DOMAIN,
      rootPem: () => keys.root.pem,
      signZoneIntermediate: (zone, csrPem) =>
        Promise.resolve({
          certificatePem: signIntermediateCertificate({
            issuer: keys.root,
            trustDomain: SYNC_TRUST_DOMAIN,
            zone,
            csrPem,
          }),
        }),
      async serverIdentity() {
        const pair = await generateKeyPair();
        return {
          certificatePem: signGlobalCertificate({
            root: keys.root,
            trustDomain: SYNC_TRUST_DOMAIN,
            publicKey: pair.publicKey,
          }),
          privateKeyPem: privateKeyToPem(pair.privateKey),
        };
      },
    },
  });
  const run = await runInTest([server], logger, () => server.ready(), 'the sync server');
  const rootPin = certificatePin(keys.root.pem);
  return {
    server,
    registry,
    store,
    rootPem: keys.root.pem,
    url: `wss://127.0.0.1:${server.address().port}`,
    token(zone, { ttlSeconds = 3600, iatOffset = 0 } = {}) {
      const iat = Math.floor(Date.now() / 1000) + iatOffset;
      return signZoneToken(
        {
          v: 1,
          zone,
          kind: 'universal',
          td: SYNC_TRUST_DOMAIN,
          rootPin,
          iat,
          exp: iat + ttlSeconds,
          jti: randomBytes(12).toString('base64url'),
        },
        keys.tokenKey.privateKey,
      );
    },
    async stop() {
      await run.stop();
      if (!options.store) await store.close();
    },
  };
}

/** A CSR for a zone's control identity (for tests that speak the protocol by hand). */
export async function controlCsr(zone: string): Promise<{ csr: string; keyPair: KeyPair }> {
  const keyPair = await generateKeyPair();
  return {
    keyPair,
    csr: createCsr({ keyPair, spiffeId: `spiffe://${SYNC_TRUST_DOMAIN}/zone/${zone}/control` }),
  };
}
