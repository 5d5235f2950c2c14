/**
 * A proxy's own catalog registration: the instance a `hello` describes, owned by the
 * source `{kind: 'proxy', owner: <namespace>/<service>/<instanceId>}` so no other registrar
 * can overwrite it and it can overwrite no one else's. The owner names the service because
 * the stream's token is entitled to a service, not to an instance ID: a token for `web`
 * that reuses `db`'s instance ID is another owner, and the catalog refuses it (409). The
 * node is not part of the owner because catalog records are per node already (and the
 * owner must fit the catalog's 256 characters: 63 + 63 + 128 + 2).
 *
 * Liveness is a TTL check (`proxy:<id>:stream`) run by the zone's health check runner:
 * the session renews it while the stream is up, sets it critical when the stream drops
 * without `leave`, and the runner deregisters the instance once it has been critical for
 * `deregisterAfterMs` (Consul's DeregisterCriticalServiceAfter). Because the check lives
 * in the store, a registration whose proxy never comes back goes away even across zone
 * restarts: the restarted runner loads the check, its TTL runs out, and the reaper
 * follows. `health` frames become a second check, `proxy:<id>:app`, which the zone does
 * not run (only the proxy knows the answer).
 */
import {
  ConflictError,
  deregister,
  isConflict,
  isNotFound,
  readCatalog,
  register,
} from '../../../core/index.ts';
import type {
  CatalogNode,
  CatalogSnapshot,
  HealthCheck,
  Logger,
  ServiceInstance,
  Source,
  Store,
} from '../../../core/index.ts';
import type { HealthMessage, HelloMessage } from '../../../core/src/proxy-stream/messages.ts';
import type { TtlUpdater } from '../agent/agent-routes.ts';

export interface ProxyRegistrarOptions {
  /** The zone the instances are in. */
  zone: string;
  /** Critical this long (stream gone), the instance is deregistered. */
  deregisterAfterMs: number;
  /** The stream check's TTL; the session renews it every third of it. */
  checkTtlMs: number;
}

/** The catalog owner of the records a proxy writes: bound to the identity it is entitled to. */
function proxySource(hello: Pick<HelloMessage, 'namespace' | 'service' | 'instanceId'>): Source {
  return { kind: 'proxy', owner: `${hello.namespace}/${hello.service}/${hello.instanceId}` };
}

/**
 * Which stream is an instance's: one per (namespace, service, node, instance ID), so a
 * stream can only replace (kick) another of the same identity on the same node; two VMs
 * that both use instance ID `web` (Consul's default service ID) do not knock each other off.
 */
export function sessionKey(
  hello: Pick<HelloMessage, 'namespace' | 'service' | 'node' | 'instanceId'>,
): string {
  return `${hello.namespace}/${hello.service}/${hello.node}/${hello.instanceId}`;
}

function streamCheckId(instanceId: string): string {
  return `proxy:${instanceId}:stream`;
}

function appCheckId(instanceId: string): string {
  return `proxy:${instanceId}:app`;
}

export class ProxyRegistrar {
  constructor(
    private readonly store: Store,
    private readonly ttl: TtlUpdater,
    readonly options: ProxyRegistrarOptions,
    private readonly logger: Logger,
  ) {}

  /**
   * Register (or re-register, idempotently) the instance with a passing stream check.
   * @throws ConflictError when another registrar owns that instance ID on that node.
   */
  async register(hello: HelloMessage): Promise<void> {
    const source = proxySource(hello);
    try {
      await register(this.store, {
        node: this.node(hello),
        // A VM's node may hold other registrars' services; the proxy creates it when
        // missing and otherwise leaves it as it is.
        skipNodeUpdate: true,
        service: this.instance(hello),
        checks: [
          {
            node: hello.node,
            checkId: streamCheckId(hello.instanceId),
            name: 'Proxy config stream',
            status: 'passing',
            notes: 'passing while the proxy is connected to the zone control plane',
            output: 'config stream connected',
            serviceId: hello.instanceId,
            serviceName: hello.service,
            type: 'ttl',
            definition: {
              ttlMs: this.options.checkTtlMs,
              deregisterCriticalServiceAfterMs: this.options.deregisterAfterMs,
            },
            monitored: true,
            source,
          },
        ],
      });
    } catch (err) {
      if (!isConflict(err)) throw err;
      // Said from the proxy's side: its instance ID is taken.
      throw new ConflictError(
        `instance "${hello.instanceId}" on node "${hello.node}" is registered by another ` +
          `registrar or for another service than ${hello.namespace}/${hello.service}: ` +
          (err as Error).message,
        'instanceId',
      );
    }
    await this.renew(hello);
  }

  /** The stream is still up: restart the check's TTL. */
  async renew(hello: HelloMessage): Promise<void> {
    await this.ttl.updateTtl(
      hello.node,
      streamCheckId(hello.instanceId),
      { status: 'passing', output: 'config stream connected' },
      proxySource(hello),
    );
  }

  /** The stream dropped without `leave`: critical now, deregistered after the grace. */
  async disconnected(hello: HelloMessage): Promise<void> {
    try {
      await this.ttl.updateTtl(
        hello.node,
        streamCheckId(hello.instanceId),
        { status: 'critical', output: 'config stream disconnected' },
        proxySource(hello),
      );
    } catch (err) {
      // Already gone (left, reaped, removed by an operator): nothing to mark.
      if (!isNotFound(err)) throw err;
    }
  }

  /** The proxy's report on its local app. */
  async health(hello: HelloMessage, message: HealthMessage): Promise<void> {
    const check: HealthCheck = {
      node: hello.node,
      checkId: appCheckId(hello.instanceId),
      name: 'Application health (reported by the proxy)',
      status: message.status,
      notes: '',
      output: message.output,
      serviceId: hello.instanceId,
      serviceName: hello.service,
      type: '',
      definition: {},
      monitored: false,
      source: proxySource(hello),
    };
    await register(this.store, {
      node: this.node(hello),
      skipNodeUpdate: true,
      service: this.instance(hello),
      checks: [check],
    });
  }

  /**
   * `leave`: deregister the instance at once, and its node too when this proxy created it
   * and nothing else is left on it.
   */
  async leave(hello: HelloMessage): Promise<void> {
    const source = proxySource(hello);
    await deregister(this.store, { node: hello.node, serviceId: hello.instanceId }, source);
    const catalog = await readCatalog(this.store);
    const node = catalog.node(hello.node);
    const owned = node?.source.kind === source.kind && node.source.owner === source.owner;
    if (!owned || catalog.instancesOn(hello.node).length > 0) return;
    try {
      await deregister(this.store, { node: hello.node }, source);
    } catch (err) {
      // Another registrar added a check meanwhile: the node stays, which is harmless.
      if (!isConflict(err)) throw err;
      this.logger.debug({ node: hello.node }, 'node kept: other registrars use it');
    }
  }

  /**
   * Remove nodes a proxy created that no longer hold any instance: the health check
   * runner's reaper removes a gone proxy's instance but not its node. A proxy writes its
   * node and instance in one transaction, so an empty proxy-owned node is never one that
   * is about to be filled.
   */
  async sweepEmptyNodes(catalog: CatalogSnapshot): Promise<void> {
    for (const node of catalog.nodes()) {
      if (node.source.kind !== 'proxy' || catalog.instancesOn(node.name).length > 0) continue;
      try {
        await deregister(this.store, { node: node.name }, node.source);
        this.logger.info({ node: node.name }, 'removed the empty node of a departed proxy');
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  private node(hello: HelloMessage): CatalogNode {
    return {
      name: hello.node,
      address: hello.address,
      id: '',
      zone: this.options.zone,
      taggedAddresses: {},
      meta: {},
      source: proxySource(hello),
    };
  }

  private instance(hello: HelloMessage): ServiceInstance {
    return {
      id: hello.instanceId,
      service: hello.service,
      namespace: hello.namespace,
      node: hello.node,
      zone: this.options.zone,
      address: hello.address,
      port: hello.port,
      protocol: hello.appProtocol,
      proxy: {
        inbound: hello.port,
        ...(hello.adminPort !== undefined ? { admin: hello.adminPort } : {}),
      },
      tags: hello.tags,
      meta: hello.meta,
      weights: { passing: 1, warning: 1 },
      source: proxySource(hello),
    };
  }
}
