/**
 * Assembles one proxy process from resolved options, in the order it starts:
 *
 * 1. the admin API (so `/ready` can say why the proxy is not ready yet);
 * 2. the data plane: the inbound mTLS listener (bound first: the hello carries its port)
 *    and the outbound listeners, serving whatever snapshot was last applied;
 * 3. stream mode: the zone client (hello → leaf, bundle, config), the leaf renewal, and
 *    the local app's health check reported over the stream. Bootstrap mode: the file's
 *    identity and snapshot, applied at start.
 *
 * The runner stops them in reverse: the health check, then the stream (which tells the
 * zone we leave), then the listeners, then admin.
 */
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  ConfigError,
  childLogger,
  decodeProxyConfig,
  formatSpiffeId,
  parseAddr,
  splitPem,
} from '../../core/index.ts';
import type { Component, Logger, ProxyConfig } from '../../core/index.ts';
import { AdminServer } from './admin/admin-server.ts';
import type { AdminSource, Readiness } from './admin/admin-server.ts';
import { adminSource, identityDump } from './admin/admin-source.ts';
import { AppHealth } from './app-health.ts';
import { loadBootstrap } from './bootstrap.ts';
import { DataPlane } from './data-plane.ts';
import type { OutboundPlane, ServingPlane, SnapshotOwner } from './data-plane.ts';
import { StreamIdentity } from './identity/stream-identity.ts';
import { TlsIdentity } from './identity/tls-identity.ts';
import type { IdentityMaterial } from './identity/tls-identity.ts';
import type { LocalApp } from './inbound/local-app.ts';
import { Inbound } from './inbound/inbound.ts';
import type { MeshTls } from './mesh-tls.ts';
import { ProxyMetrics } from './metrics.ts';
import { readinessOf } from './readiness.ts';
import { Outbound } from './outbound/outbound.ts';
import { DEFAULT_ADMIN_ADDR } from './options.ts';
import type {
  ResolvedBootstrapOptions,
  ResolvedProxyOptions,
  ResolvedStreamOptions,
} from './options.ts';
import { ZoneClient } from './stream/zone-client.ts';
import type { ZoneClientOptions } from './stream/zone-client.ts';

export interface OutboundFactoryOptions {
  tls: MeshTls;
  metrics: ProxyMetrics;
  logger: Logger;
}

/** What a serving plane is built from: the same in this process and in workers. */
export interface PlaneSpec {
  trustDomain: string;
  inboundAddress: string;
  /** Undefined: the initial snapshot's port. */
  inboundPort: number | undefined;
  app: LocalApp;
  accessLog: boolean;
  expect: SnapshotOwner | undefined;
  /** Static bootstrap: served from the start. */
  initial: ProxyConfig | undefined;
}

export interface ProxyDeps {
  createOutbound?: (options: OutboundFactoryOptions) => OutboundPlane;
  /** Build the serving plane; default: a {@link DataPlane} in this process. */
  createPlane?: (
    spec: PlaneSpec,
    tls: TlsIdentity,
    metrics: ProxyMetrics,
    logger: Logger,
  ) => ServingPlane;
  /** Called with every identity installed (workers get theirs this way). */
  onIdentity?: (material: IdentityMaterial) => void;
  /** Default: a fresh registry with process metrics. */
  metrics?: ProxyMetrics;
  /** What `/stats/prometheus` serves; default: this process's registry (workers aggregate). */
  prometheus?: AdminSource['prometheus'];
  /** Stream timings (tests shorten them). */
  stream?: Pick<ZoneClientOptions, 'backoffBaseMs' | 'backoffMaxMs' | 'pingIntervalMs'>;
}

export interface Proxy {
  mode: 'stream' | 'bootstrap';
  admin: AdminServer;
  dataPlane: ServingPlane;
  tls: TlsIdentity;
  metrics: ProxyMetrics;
  zoneClient: ZoneClient | undefined;
  readiness(): Readiness;
  components(): Component[];
}

export async function createProxy(
  options: ResolvedProxyOptions,
  logger: Logger,
  deps: ProxyDeps = {},
): Promise<Proxy> {
  return options.mode === 'bootstrap'
    ? createBootstrapProxy(options, logger, deps)
    : createStreamProxy(options, logger, deps);
}

async function createBootstrapProxy(
  options: ResolvedBootstrapOptions,
  logger: Logger,
  deps: ProxyDeps,
): Promise<Proxy> {
  const boot = await loadBootstrap(options.bootstrap);
  const tls = new TlsIdentity({ trustDomain: boot.config.trustDomain });
  tls.update(boot.identity);
  deps.onIdentity?.(boot.identity);
  const metrics = deps.metrics ?? new ProxyMetrics({ processMetrics: true });
  const dataPlane = (deps.createPlane ?? localPlane(deps))(
    {
      trustDomain: boot.config.trustDomain,
      inboundAddress: boot.inboundAddress,
      inboundPort: boot.config.inbound.port,
      app: boot.app,
      accessLog: options.accessLog,
      expect: undefined,
      initial: boot.config,
    },
    tls,
    metrics,
    logger,
  );
  const readiness = (): Readiness =>
    readinessOf({
      tls,
      configApplied: dataPlane.applied !== undefined,
      noConfig: 'the bootstrap config is not applied yet',
    });
  const admin = new AdminServer(
    options.adminAddr ?? boot.admin ?? parseAddr(DEFAULT_ADMIN_ADDR, 'adminAddr'),
    adminSource({
      readiness,
      dataPlane,
      metrics,
      prometheus: deps.prometheus,
      dump: () => ({
        mode: 'bootstrap',
        bootstrap: boot.file,
        identity: { spiffeId: boot.spiffeId, ...identityDump(tls) },
      }),
    }),
    childLogger(logger, 'admin'),
  );
  logger.info({ file: boot.file, spiffeId: boot.spiffeId }, 'static bootstrap loaded');
  return {
    mode: 'bootstrap',
    admin,
    dataPlane,
    tls,
    metrics,
    zoneClient: undefined,
    readiness,
    components: () => [admin, dataPlane],
  };
}

async function createStreamProxy(
  options: ResolvedStreamOptions,
  logger: Logger,
  deps: ProxyDeps,
): Promise<Proxy> {
  const caRoots = await readRoots(options.caFile);
  const trustDomain = options.trustDomain ?? trustDomainOf(caRoots, options.caFile);
  const tls = new TlsIdentity({ trustDomain });
  const sink = {
    update: (material: IdentityMaterial) => {
      tls.update(material);
      deps.onIdentity?.(material);
    },
  };
  const identity = new StreamIdentity({
    tls: sink,
    initialRoots: caRoots,
    logger: childLogger(logger, 'identity'),
  });
  const metrics = deps.metrics ?? new ProxyMetrics({ processMetrics: true });
  const app = { address: options.app.host, port: options.app.port };
  const dataPlane = (deps.createPlane ?? localPlane(deps))(
    {
      trustDomain,
      inboundAddress: options.inbound.host,
      inboundPort: options.inbound.port,
      app,
      accessLog: options.accessLog,
      expect: { service: options.service, namespace: options.namespace, trustDomain },
      initial: undefined,
    },
    tls,
    metrics,
    logger,
  );
  let admin: AdminServer | undefined = undefined;
  const client: ZoneClient = new ZoneClient({
    url: options.zoneControl,
    token: async () =>
      options.token ?? (options.tokenFile ? await readToken(options.tokenFile) : undefined),
    roots: () => identity.roots(),
    trustDomain,
    zone: options.zone,
    hello: () => ({
      service: options.service,
      namespace: options.namespace,
      instanceId: options.instanceId,
      address: options.address,
      port: dataPlane.inboundPort() ?? options.inbound.port,
      upstreams: options.upstreams,
      appProtocol: options.appProtocol,
      node: options.node,
      meta: options.meta,
      tags: options.tags,
      ...(admin ? { adminPort: admin.address().port } : {}),
    }),
    handler: {
      helloCsr: (zone) =>
        identity.csr(
          formatSpiffeId({
            kind: 'workload',
            trustDomain,
            zone,
            namespace: options.namespace,
            service: options.service,
          }),
        ),
      leaf: (push) => identity.applyLeaf(push),
      bundle: (push) => identity.applyBundle(push),
      config: async (push) => {
        try {
          await dataPlane.apply(decodeProxyConfig(push.snapshot), push.version);
        } catch (err) {
          metrics.configRejected.inc();
          throw err;
        }
      },
    },
    logger: childLogger(logger, 'zone-client'),
    ...deps.stream,
  });
  const health = new AppHealth({
    spec: options.healthCheck,
    app,
    intervalMs: options.healthIntervalMs,
    onChange: (r) => client.reportHealth(r.status, r.output),
    logger: childLogger(logger, 'app-health'),
  });
  const renewal: Component = {
    name: 'leaf-renewal',
    start: (signal) => identity.renew(signal, (csr) => client.send({ type: 'csr', csr })),
  };
  const readiness = (): Readiness =>
    readinessOf({
      tls,
      configApplied: dataPlane.applied !== undefined,
      noConfig: 'no config yet',
      zoneStream: client,
    });
  admin = new AdminServer(
    options.adminAddr,
    adminSource({
      readiness,
      dataPlane,
      metrics,
      prometheus: deps.prometheus,
      dump: () => ({
        mode: 'stream',
        instanceId: options.instanceId,
        identity: { ...identity.summary(), ...identityDump(tls) },
        stream: client.status(),
        appHealth: health.current(),
      }),
    }),
    childLogger(logger, 'admin'),
  );
  return {
    mode: 'stream',
    admin,
    dataPlane,
    tls,
    metrics,
    zoneClient: client,
    readiness,
    components: () => [admin, dataPlane, client, renewal, health],
  };
}

/** The default plane: inbound and outbound listeners in this process. */
export function localPlane(deps: Pick<ProxyDeps, 'createOutbound'>) {
  return (spec: PlaneSpec, tls: TlsIdentity, metrics: ProxyMetrics, logger: Logger): DataPlane => {
    const inbound = new Inbound({
      tls,
      metrics,
      logger: childLogger(logger, 'inbound'),
      bindAddress: spec.inboundAddress,
      app: spec.app,
      accessLog: spec.accessLog,
    });
    const outbound = (deps.createOutbound ?? defaultOutbound)({ tls, metrics, logger });
    return new DataPlane({
      inbound,
      outbound,
      metrics,
      ...(spec.inboundPort !== undefined ? { inboundPort: spec.inboundPort } : {}),
      ...(spec.expect ? { expect: spec.expect } : {}),
      ...(spec.initial ? { initial: spec.initial } : {}),
    });
  };
}

function defaultOutbound(options: OutboundFactoryOptions): OutboundPlane {
  return new Outbound(options);
}

async function readRoots(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read --ca-file ${file}: ${(err as Error).message}`, 'caFile');
  }
  const roots = splitPem(text);
  if (roots.length === 0)
    throw new ConfigError(`--ca-file ${file} holds no PEM certificate`, 'caFile');
  return roots;
}

/** Our roots carry the trust domain as their organization (core/src/ca/certificates.ts). */
function trustDomainOf(roots: readonly string[], file: string): string {
  const subject = new X509Certificate(roots[0] as string).subject;
  const o = /^O=(.+)$/m.exec(subject)?.[1];
  if (!o) {
    throw new ConfigError(
      `cannot tell the trust domain from ${file} (its root has no O=); pass --trust-domain`,
      'trustDomain',
    );
  }
  return o;
}

async function readToken(file: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new ConfigError(
      `cannot read --token-file ${file}: ${(err as Error).message}`,
      'tokenFile',
    );
  }
}
