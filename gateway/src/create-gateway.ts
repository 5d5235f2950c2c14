/**
 * Assembles one gateway process from resolved options, in the order it starts:
 *
 * 1. the admin API (so `/ready` can say why the gateway is not ready yet);
 * 2. the gateway: identity and config from the bootstrap file installed, then the public
 *    and local listeners bound.
 *
 * The runner stops them in reverse: the gateway drains its connections, then admin stops.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, childLogger, parseAddr } from '../../core/index.ts';
import type { Component, Logger } from '../../core/index.ts';
import { GatewayAdminServer } from './admin/admin-server.ts';
import { loadGatewayBootstrap } from './bootstrap.ts';
import { Gateway } from './gateway.ts';
import { GatewayMetrics } from './metrics.ts';
import { ZoneApi } from './zone/zone-api.ts';
import { ZoneFollower } from './zone/zone-follower.ts';
import { DEFAULT_ADMIN_ADDR, DEFAULT_LOCAL_LISTEN, DEFAULT_PUBLIC_LISTEN } from './options.ts';
import type { ResolvedGatewayCliOptions } from './options.ts';

export interface GatewayProcess {
  gateway: Gateway;
  admin: GatewayAdminServer;
  components(): Component[];
}

export async function createGatewayProcess(
  options: ResolvedGatewayCliOptions,
  logger: Logger,
  deps: { metrics?: GatewayMetrics } = {},
): Promise<GatewayProcess> {
  if (options.mode === 'zone') return createZoneGateway(options, logger, deps);
  const boot = await loadGatewayBootstrap(options.bootstrap);
  const name = options.name ?? boot.name;
  if (name !== undefined && name !== boot.identityName) {
    throw new ConfigError(
      `--name ${name} does not match the identity in ${boot.file} (${boot.spiffeId})`,
      'name',
    );
  }
  const gateway = new Gateway({
    trustDomain: boot.config.trustDomain,
    name: name ?? boot.identityName,
    publicListen:
      options.publicListen ?? boot.publicListen ?? parseAddr(DEFAULT_PUBLIC_LISTEN, 'publicListen'),
    localListen:
      options.localListen ?? boot.localListen ?? parseAddr(DEFAULT_LOCAL_LISTEN, 'localListen'),
    logger: childLogger(logger, 'gateway'),
    metrics: deps.metrics ?? new GatewayMetrics({ processMetrics: true }),
    hello: { timeoutMs: options.helloTimeoutMs },
  });
  // loadGatewayBootstrap checked that the identity and the config agree.
  gateway.updateIdentity(boot.identity);
  gateway.apply(boot.config);
  const admin = new GatewayAdminServer(
    options.adminAddr ?? boot.admin ?? parseAddr(DEFAULT_ADMIN_ADDR, 'adminAddr'),
    {
      readiness: () => gateway.readiness(),
      configDump: () => ({ mode: 'bootstrap', bootstrap: boot.file, ...gateway.configDump() }),
      tunnels: () => gateway.tunnels(),
      prometheus: async () => ({
        contentType: gateway.metrics.registry.contentType,
        body: await gateway.metrics.registry.metrics(),
      }),
      statsJson: () => gateway.metrics.registry.getMetricsAsJSON(),
    },
    childLogger(logger, 'admin'),
  );
  logger.info({ file: boot.file, spiffeId: boot.spiffeId }, 'static bootstrap loaded');
  return { gateway, admin, components: () => [admin, gateway] };
}

/**
 * A gateway programmed by its zone (`--zone-control`): its config first (it names the
 * zone and trust domain), then its leaf and the bundle, then the listeners; the follower
 * registers it in the zone's catalog once it serves, and keeps everything current.
 */
async function createZoneGateway(
  options: ResolvedGatewayCliOptions,
  logger: Logger,
  deps: { metrics?: GatewayMetrics },
): Promise<GatewayProcess> {
  const name = options.name as string;
  const token =
    options.tokenFile === undefined
      ? options.token
      : (
          await readFile(options.tokenFile, 'utf8').catch((err: Error) => {
            throw new ConfigError(`cannot read --token-file: ${err.message}`, 'tokenFile');
          })
        ).trim();
  const api = new ZoneApi(options.zoneControl as string, token);
  const first = await firstConfig(api, name, logger);
  const publicListen = options.publicListen ?? parseAddr(DEFAULT_PUBLIC_LISTEN, 'publicListen');
  const gateway = new Gateway({
    trustDomain: first.config.trustDomain,
    name,
    publicListen,
    localListen: options.localListen ?? parseAddr(DEFAULT_LOCAL_LISTEN, 'localListen'),
    logger: childLogger(logger, 'gateway'),
    metrics: deps.metrics ?? new GatewayMetrics({ processMetrics: true }),
    hello: { timeoutMs: options.helloTimeoutMs },
  });
  const advertised = options.publicAddr ?? publicListen;
  if (advertised.host === '0.0.0.0' || advertised.host === '::') {
    throw new ConfigError(
      'the gateway listens on every address: give --public-addr, the host:port other zones dial',
      'publicAddr',
    );
  }
  const follower = new ZoneFollower({
    api,
    gateway,
    name,
    zone: first.config.zone,
    trustDomain: first.config.trustDomain,
    // Port 0 binds anywhere: the follower advertises what was bound unless told otherwise.
    publicAddress: '',
    logger: childLogger(logger, 'zone'),
  });
  await follower.bootstrap(first.index);
  gateway.apply(first.config);
  const admin = new GatewayAdminServer(
    options.adminAddr ?? parseAddr(DEFAULT_ADMIN_ADDR, 'adminAddr'),
    {
      readiness: () => gateway.readiness(),
      configDump: () => ({
        mode: 'zone',
        zoneControl: options.zoneControl,
        ...gateway.configDump(),
      }),
      tunnels: () => gateway.tunnels(),
      prometheus: async () => ({
        contentType: gateway.metrics.registry.contentType,
        body: await gateway.metrics.registry.metrics(),
      }),
      statsJson: () => gateway.metrics.registry.getMetricsAsJSON(),
    },
    childLogger(logger, 'admin'),
  );
  follower.advertise(() => {
    if (options.publicAddr) return `${options.publicAddr.host}:${options.publicAddr.port}`;
    const bound = gateway.publicAddress();
    return `${publicListen.host}:${bound.port}`;
  });
  logger.info(
    { zone: first.config.zone, zoneControl: options.zoneControl },
    'programmed by the zone',
  );
  return { gateway, admin, components: () => [admin, gateway, follower] };
}

/** The first config, retried for a while: the zone may still be starting. */
async function firstConfig(api: ZoneApi, name: string, logger: Logger) {
  const deadline = Date.now() + 60_000;
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    try {
      return await api.config(name);
    } catch (err) {
      if (Date.now() > deadline) throw err;
      logger.warn({ err: String(err), retryInMs: delay }, 'the zone API is not answering yet');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
