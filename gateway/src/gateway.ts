/**
 * The east-west gateway's data plane: the public and local listeners, the tunnel pool to
 * peer zones and the tunnel server for theirs, fed by two inputs that can come from a
 * bootstrap file or from the zone (`--zone-control`, see `zone/zone-follower.ts`):
 *
 * - {@link Gateway.updateIdentity}: our leaf, key, trust bundle and revocation list;
 * - {@link Gateway.apply}: a decoded {@link GatewayConfig}.
 *
 * Both reconcile without dropping established connections: the routing state is swapped
 * for new connections and streams; tunnel sessions to gateways or zones no longer listed
 * drain; after an identity change, sessions made with the old one drain and new streams
 * get fresh sessions (a peer no longer trusted is cut at once).
 *
 * As a {@link Component}, `start()` binds both listeners (ready once bound) and, on abort,
 * stops accepting, sends GOAWAY on every tunnel, gives open connections `drainTimeoutMs`
 * to finish and cuts what is left.
 */
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { InvalidArgumentError, childLogger, formatAddr, untilAborted } from '../../core/index.ts';
import type { Component, GatewayConfig, HostPort, Logger } from '../../core/index.ts';
import { GatewayTls } from './identity/gateway-tls.ts';
import type { GatewayIdentityMaterial } from './identity/gateway-tls.ts';
import type { Readiness } from './admin/admin-server.ts';
import { handleLocal } from './listeners/local-listener.ts';
import type { ListenerContext } from './listeners/listener-context.ts';
import { handlePublic } from './listeners/public-listener.ts';
import { TcpListener } from './listeners/tcp-listener.ts';
import { GatewayMetrics } from './metrics.ts';
import { Relays } from './relays.ts';
import type { RoutingState } from './routing/routing-state.ts';
import { ServiceTable } from './routing/service-table.ts';
import type { PeekOptions } from './sni/peek-sni.ts';
import { TunnelPool } from './tunnel/tunnel-pool.ts';
import { TunnelServer } from './tunnel/tunnel-server.ts';
import type { InboundStatus } from './tunnel/tunnel-server.ts';
import type { PeerStatus } from './tunnel/peer-tunnels.ts';

export interface GatewayOptions {
  /** The SPIFFE trust domain; identities and configs from another are refused. */
  trustDomain: string;
  /** The gateway's name (`…/gateway/<name>`); when set, the identity must carry it. */
  name?: string;
  /** Where other zones reach us (peer tunnels, direct passthrough). */
  publicListen: HostPort;
  /** Where this zone's proxies reach other zones. */
  localListen: HostPort;
  logger: Logger;
  /** @default a fresh registry with process metrics */
  metrics?: GatewayMetrics;
  /** Bounds on reading a ClientHello. @default 10 s, 32 KiB */
  hello?: PeekOptions;
  /** How long open connections may take to finish on stop. @default 5000 */
  drainTimeoutMs?: number;
}

/** `/tunnels`: outgoing sessions per peer zone, incoming sessions per peer gateway. */
export interface TunnelsView {
  outbound: PeerStatus[];
  inbound: InboundStatus[];
}

export class Gateway implements Component {
  readonly name = 'gateway';
  readonly tls: GatewayTls;
  readonly metrics: GatewayMetrics;
  readonly #logger: Logger;
  readonly #relays = new Relays();
  readonly #pool: TunnelPool;
  readonly #tunnelServer: TunnelServer;
  readonly #public: TcpListener;
  readonly #local: TcpListener;
  #state: RoutingState | undefined;
  #appliedAt: Date | undefined;
  #bound!: () => void;
  #bindFailed!: (err: Error) => void;
  readonly #ready = new Promise<void>((resolve, reject) => {
    this.#bound = resolve;
    this.#bindFailed = reject;
  });

  constructor(private readonly options: GatewayOptions) {
    // A bind failure also rejects listen(); nobody need be waiting on ready() to see it.
    this.#ready.catch(() => undefined);
    this.#logger = options.logger;
    this.metrics = options.metrics ?? new GatewayMetrics({ processMetrics: true });
    this.tls = new GatewayTls({ trustDomain: options.trustDomain });
    this.#pool = new TunnelPool(this.tls, this.metrics, childLogger(this.#logger, 'tunnels'));
    this.#tunnelServer = new TunnelServer({
      tls: this.tls,
      routing: () => this.#state,
      metrics: this.metrics,
      logger: childLogger(this.#logger, 'tunnel-server'),
      relays: this.#relays,
    });
    const ctx: ListenerContext = {
      routing: () => this.#state,
      tls: this.tls,
      pool: this.#pool,
      tunnelServer: this.#tunnelServer,
      metrics: this.metrics,
      logger: this.#logger,
      relays: this.#relays,
      hello: options.hello ?? {},
    };
    const handle = (fn: typeof handleLocal) => (socket: Socket) => {
      fn(ctx, socket).catch((err: unknown) => {
        this.#logger.error({ err: String(err) }, 'connection handling failed');
        socket.destroy();
      });
    };
    this.#public = new TcpListener('public', options.publicListen, handle(handlePublic));
    this.#local = new TcpListener('local', options.localListen, handle(handleLocal));
  }

  /**
   * Install our identity: a gateway leaf of the trust domain (of `--name` and of the
   * config's zone, when those are known) whose chain verifies against the roots. Throws,
   * leaving the previous identity in use.
   */
  updateIdentity(material: GatewayIdentityMaterial): void {
    const zone = this.#state?.config.zone;
    this.tls.update(material, {
      ...(zone !== undefined ? { zone } : {}),
      ...(this.options.name !== undefined ? { name: this.options.name } : {}),
    });
    this.#logger.info(
      { spiffeId: this.tls.self()?.spiffeId, serial: serialOf(material.certificatePem) },
      'gateway identity installed',
    );
  }

  /**
   * Serve `config` (decoded with `decodeGatewayConfig`) from now on. Throws, leaving the
   * previous config serving, when it is for another trust domain or another zone than
   * our identity's.
   */
  apply(config: GatewayConfig): void {
    if (config.trustDomain !== this.options.trustDomain) {
      throw new InvalidArgumentError(
        `the config is for trust domain ${config.trustDomain}, the gateway's is ${this.options.trustDomain}`,
        'trustDomain',
      );
    }
    const own = this.tls.self();
    if (own !== undefined && own.zone !== config.zone) {
      throw new InvalidArgumentError(
        `the config is for zone ${config.zone}, the gateway's identity ${own.spiffeId} is of zone ${own.zone}`,
        'zone',
      );
    }
    this.#state = { config, table: ServiceTable.build(config, this.#state?.table) };
    this.#pool.apply(config);
    this.#tunnelServer.updateSettings(config.tunnels);
    this.#appliedAt = new Date();
    this.metrics.configApplied.inc();
    this.#logger.info(
      {
        version: config.version,
        services: config.services.length,
        exported: config.services.filter((s) => s.exportedTo.length > 0).length,
        peers: config.peers.map((p) => p.zone),
      },
      'gateway config applied',
    );
  }

  /** The applied config, if any. */
  get config(): GatewayConfig | undefined {
    return this.#state?.config;
  }

  ready(): Promise<void> {
    return this.#ready;
  }

  /** Bind both listeners (idempotent); `start()` does this too. */
  async listen(): Promise<void> {
    if (this.#public.listening && this.#local.listening) return;
    try {
      const [pub, local] = await Promise.all([this.#public.listen(), this.#local.listen()]);
      this.#logger.info({ public: formatAddr(pub), local: formatAddr(local) }, 'gateway listening');
      this.#bound();
    } catch (err) {
      this.#bindFailed(err as Error);
      throw err;
    }
  }

  publicAddress(): HostPort {
    return this.#public.address();
  }

  localAddress(): HostPort {
    return this.#local.address();
  }

  async start(signal: AbortSignal): Promise<void> {
    await this.listen();
    await untilAborted(signal);
    await this.stop();
  }

  /** Stop accepting, GOAWAY every tunnel, let connections finish, then cut the rest. */
  async stop(): Promise<void> {
    const closed = Promise.all([this.#public.close(), this.#local.close()]);
    this.#pool.close();
    this.#tunnelServer.close();
    const drained = await this.#relays.settled(this.options.drainTimeoutMs ?? 5_000);
    if (!drained) {
      this.#logger.warn(
        { open: this.#relays.size },
        'connections still open after the drain timeout: closing them',
      );
    }
    this.#relays.destroyAll();
    this.#pool.destroy();
    this.#tunnelServer.destroy();
    await closed;
  }

  readiness(): Readiness {
    const reasons: string[] = [];
    if (!this.tls.ready()) reasons.push('no gateway certificate yet');
    else {
      const notAfter = new Date(
        new X509Certificate(this.tls.material()?.certificatePem ?? '').validTo,
      );
      if (notAfter.getTime() < Date.now())
        reasons.push(`the gateway certificate expired at ${notAfter.toISOString()}`);
    }
    if (this.#state === undefined) reasons.push('no config yet');
    if (!this.#public.listening || !this.#local.listening) reasons.push('listeners not bound');
    return { ready: reasons.length === 0, reasons };
  }

  tunnels(): TunnelsView {
    return { outbound: this.#pool.status(), inbound: this.#tunnelServer.status() };
  }

  /** `/config_dump`: the config, listeners and identity facts — never key material. */
  configDump(): Record<string, unknown> {
    const material = this.tls.material();
    const cert = material ? new X509Certificate(material.certificatePem) : undefined;
    return {
      name: this.tls.self()?.name ?? this.options.name,
      version: this.#state?.config.version,
      appliedAt: this.#appliedAt?.toISOString(),
      listeners: {
        public: formatAddr(this.#public.address()),
        local: formatAddr(this.#local.address()),
      },
      identity: cert
        ? {
            spiffeId: this.tls.self()?.spiffeId,
            serial: cert.serialNumber.toLowerCase(),
            notBefore: new Date(cert.validFrom).toISOString(),
            notAfter: new Date(cert.validTo).toISOString(),
            roots: material?.roots.length,
            revokedSerials: material?.revokedSerials.length,
          }
        : undefined,
      config: this.#state?.config,
    };
  }
}

function serialOf(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).serialNumber.toLowerCase();
  } catch {
    return undefined;
  }
}
