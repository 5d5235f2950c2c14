/**
 * An outbound TCP listener: each accepted connection goes to one endpoint of the route's
 * cluster over mTLS, with bytes piped both ways (`stream.pipeline`, Nagle off). A connect
 * failure is retried on another endpoint, of the next priority level (a connect failure
 * takes its level out of the retry's choice while another level has health), when the
 * route retries `connect-failure`; nothing else can be, since the bytes are the app's.
 */
import { createServer } from 'node:net';
import type { Socket } from 'node:net';
import { pipeline } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { Attempts } from './attempts.ts';
import type { EndpointState } from './endpoint.ts';
import { OutboundListener } from './listener.ts';
import type { ListenerContext } from './listener.ts';
import { ListenerStats } from './listener-stats.ts';
import type { TcpStats } from './listener-stats.ts';
import { backoffMs } from './retry-budget.ts';
import type { CompiledRoute } from './route-table.ts';
import { pickCluster } from './route-table.ts';
import type { UpstreamCluster } from './upstream-cluster.ts';
import type { UpstreamError } from './upstream-error.ts';

export class TcpOutboundListener extends OutboundListener<TcpStats> {
  readonly protocol = 'tcp';

  constructor(name: string, requestedPort: number, context: ListenerContext) {
    super(name, requestedPort, context);
    // Half-open: the app's FIN travels upstream and the reply can still come back.
    const server = createServer(
      { noDelay: true, pauseOnConnect: true, allowHalfOpen: true },
      (socket) => this.#accept(socket),
    );
    this.serve(server);
  }

  protected newStats(cluster: string): TcpStats {
    return ListenerStats.tcp(this.metrics, this.name, cluster);
  }

  #accept(client: Socket): void {
    client.on('error', () => undefined);
    const route = this.routes[0];
    const cluster = route === undefined ? undefined : pickCluster(route);
    if (route === undefined || cluster === undefined) {
      client.destroy();
      return;
    }
    new TcpSession(this, client, route, cluster).connect();
  }
}

/** One proxied TCP connection. */
class TcpSession {
  readonly #start = performance.now();
  #endpoint: EndpointState | undefined;
  /** Endpoints (and priority levels) connecting failed on, avoided by the next try. */
  #attempts: Attempts | undefined;
  #retries = 0;
  #pipes = 2;
  #failed = false;
  #clientClosed = false;
  /** A retry holds a slot of the cluster's retry budget until its connect attempt ends. */
  #retryHeld = false;

  constructor(
    private readonly listener: TcpOutboundListener,
    private readonly client: Socket,
    private readonly route: CompiledRoute,
    private readonly cluster: UpstreamCluster,
  ) {
    client.once('close', () => (this.#clientClosed = true));
  }

  connect = (): void => {
    if (this.#clientClosed) {
      this.#releaseRetry();
      return;
    }
    const endpoint = this.cluster.pick(undefined, this.#attempts);
    if (endpoint === undefined) {
      this.#fail('no healthy upstream');
      return;
    }
    this.#endpoint = endpoint;
    endpoint.active++;
    this.cluster.openConnection(endpoint, this.#onConnected);
  };

  readonly #onConnected = (err: Error | null, upstream?: TLSSocket): void => {
    const endpoint = this.#endpoint as EndpointState;
    const cluster = this.cluster;
    this.#releaseRetry();
    endpoint.requests++;
    if (err !== null || upstream === undefined) {
      endpoint.active--;
      const failure = err as UpstreamError;
      if (failure.failure === 'overflow') {
        this.listener.metrics.overflows.inc({
          cluster: cluster.name,
          limit: failure.limit ?? 'max_connections',
        });
      } else {
        endpoint.failures++;
        cluster.outlier.connectFailure(endpoint);
      }
      const retry = this.route.retry;
      const policy = retry.policy;
      if (
        failure.failure !== 'overflow' &&
        retry.onConnectFailure &&
        this.#retries < policy.numRetries &&
        !this.#clientClosed
      ) {
        if (cluster.budget.tryAcquire(policy, cluster.breaker.requests)) {
          this.#retryHeld = true;
          this.#retries++;
          this.listener.metrics.retries.inc({ cluster: cluster.name, reason: 'connect-failure' });
          (this.#attempts ??= new Attempts()).add(endpoint, true);
          setTimeout(this.connect, backoffMs(policy, this.#retries - 1));
          return;
        }
        this.listener.metrics.retriesSkipped.inc({ cluster: cluster.name });
      }
      this.#fail(failure.message);
      return;
    }
    cluster.outlier.success(endpoint);
    if (this.#clientClosed) {
      upstream.destroy();
      this.#done();
      return;
    }
    cluster.breaker.requests++;
    pipeline(this.client, upstream, this.#pipeDone);
    pipeline(upstream, this.client, this.#pipeDone);
  };

  readonly #pipeDone = (err?: Error | null): void => {
    // One side closing while the other still sends shows up as a premature close; a
    // failure proper (reset, TLS alert) is reported with its own code.
    if (err && (err as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') {
      this.#failed = true;
    }
    if (--this.#pipes > 0) return;
    this.cluster.breaker.requests--;
    this.#done();
  };

  #releaseRetry(): void {
    if (!this.#retryHeld) return;
    this.#retryHeld = false;
    this.cluster.budget.release();
  }

  #done(): void {
    const endpoint = this.#endpoint;
    if (endpoint !== undefined) endpoint.active--;
    const stats = this.listener.statsFor(this.cluster);
    (this.#failed ? stats.error : stats.ok).inc();
    stats.duration.observe((performance.now() - this.#start) / 1000);
    this.#log(this.#failed ? 'error' : 'ok');
  }

  #fail(reason: string): void {
    this.client.destroy();
    const stats = this.listener.statsFor(this.cluster);
    stats.error.inc();
    stats.duration.observe((performance.now() - this.#start) / 1000);
    this.#log('error', reason);
  }

  #log(outcome: string, reason?: string): void {
    const logger = this.listener.logger;
    if (!logger.isLevelEnabled('info')) return;
    logger.info(
      {
        cluster: this.cluster.name,
        endpoint: this.#endpoint?.key,
        outcome,
        reason,
        durationMs: Math.round((performance.now() - this.#start) * 1000) / 1000,
        retries: this.#retries,
      },
      'outbound connection',
    );
  }
}
