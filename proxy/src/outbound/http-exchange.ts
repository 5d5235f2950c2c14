/**
 * One proxied HTTP/1.1 request, from the app's request to the end of the response:
 * route → fault → cluster (circuit breaker) → endpoint (balancer) → attempt over the
 * endpoint's keep-alive mTLS pool → retry (budget, backoff, another endpoint, and another
 * priority level once this one is used up or failed to connect) or respond.
 *
 * Hot-path shape: one `Exchange` object per request holds all state, and every event
 * handler is a module-level function that finds it through a symbol on the emitter, so a
 * request allocates no closures. Headers travel as raw arrays.
 *
 * Bodies up to {@link MAX_BUFFERED_BODY} bytes with a `content-length` are read whole
 * before the first attempt so that a retry can send them again; larger or chunked bodies
 * stream, and are retried only on connect failure (the body is piped once a connection is
 * up, so nothing of it has been read when connecting fails).
 */
import { request } from 'node:http';
import type { Agent, ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../../core/index.ts';
import type { ProxyMetrics } from '../metrics.ts';
import { normalizeTarget, pathOf } from '../http-match.ts';
import { Attempts } from './attempts.ts';
import type { EndpointState } from './endpoint.ts';
import type { ListenerStats } from './listener-stats.ts';
import { requestHeaders, responseHeaders } from './raw-headers.ts';
import type { RequestHeaderFacts } from './raw-headers.ts';
import { backoffMs, isIdempotent } from './retry-budget.ts';
import type { CompiledRoute } from './route-table.ts';
import { findRoute, pickCluster, retriesStatus } from './route-table.ts';
import { nextTraceparent } from './traceparent.ts';
import type { UpstreamCluster } from './upstream-cluster.ts';
import { forgetSession, peerAccepted } from './mtls-connector.ts';
import { UpstreamError, classifyUpstreamError } from './upstream-error.ts';

/** Request bodies up to this size are buffered so that they can be retried. */
export const MAX_BUFFERED_BODY = 64 * 1024;

/** What an exchange needs from its listener. */
export interface ExchangeHost {
  readonly name: string;
  /** The downstream speaks HTTP/2 (h2c): no status messages, no connection headers. */
  readonly http2: boolean;
  routes: readonly CompiledRoute[];
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
  statsFor(cluster: UpstreamCluster | undefined): ListenerStats;
}

const kExchange = Symbol('exchange');
const EMPTY = Buffer.alloc(0);

type Tagged<T> = T & { [kExchange]?: Exchange };

class Exchange implements RequestHeaderFacts {
  route: CompiledRoute | undefined = undefined;
  /** The normalised request target, matched against routes and sent upstream. */
  target = '/';
  cluster: UpstreamCluster | undefined = undefined;
  /** Counted in the cluster's active requests (circuit breaker). */
  counted = false;
  headers: string[] = EMPTY_HEADERS;
  contentLength = -1;
  chunked = false;
  traceparent: string | undefined = undefined;
  hashValue: string | undefined = undefined;
  body: Buffer | undefined = undefined;
  chunks: Buffer[] | undefined = undefined;
  streaming = false;
  /** A streamed body started flowing to an upstream: it cannot be sent again. */
  piped = false;

  endpoint: EndpointState | undefined = undefined;
  /** What earlier attempts tell the next to avoid (endpoints, used-up priority levels). */
  attempts: Attempts | undefined = undefined;
  upstream: ClientRequest | undefined = undefined;
  attemptOpen = false;
  attemptStart = 0;
  pendingCounted = false;
  retryCounted = false;
  retries = 0;
  status = 0;
  finished = false;
  timer: NodeJS.Timeout | undefined = undefined;
  retryTimer: NodeJS.Timeout | undefined = undefined;

  constructor(
    readonly host: ExchangeHost,
    readonly req: Tagged<IncomingMessage>,
    readonly res: Tagged<ServerResponse>,
    readonly start: number,
  ) {}
}

const EMPTY_HEADERS: string[] = [];

/** The `http.Server` request handler of an outbound HTTP listener. */
export function handleRequest(host: ExchangeHost, req: IncomingMessage, res: ServerResponse): void {
  const ex = new Exchange(host, req, res, performance.now());
  (res as Tagged<ServerResponse>)[kExchange] = ex;
  res.on('close', onDownstreamClose);
  // One normalised path for route matching and the upstream (see normalizeTarget); the
  // usual, already-normal target costs a scan and no allocation.
  const target = normalizeTarget(req.url ?? '/');
  if (target === undefined) {
    localReply(ex, 400, 'invalid request target: an encoded / or \\, or not a path');
    return;
  }
  ex.target = target;
  const routes = host.routes;
  const first = routes[0];
  const route =
    first?.matchesAll === true
      ? first
      : findRoute(routes, {
          method: req.method ?? 'GET',
          path: pathOf(target),
          headers: req.headers,
        });
  if (route === undefined) {
    localReply(ex, 404, 'no route matched');
    return;
  }
  ex.route = route;
  const fault = route.fault;
  if (fault !== undefined) {
    if (fault.abort !== undefined && Math.random() * 100 < fault.abort.percent) {
      localReply(ex, fault.abort.httpStatus, 'fault filter abort');
      return;
    }
    if (fault.delay !== undefined && Math.random() * 100 < fault.delay.percent) {
      ex.retryTimer = setTimeout(begin, fault.delay.durationMs, ex);
      return;
    }
  }
  begin(ex);
}

/** After routing (and any injected delay): pick the cluster, start the timeout, read the body. */
function begin(ex: Exchange): void {
  ex.retryTimer = undefined;
  if (ex.finished) return;
  const route = ex.route as CompiledRoute;
  const cluster = pickCluster(route);
  if (cluster === undefined) {
    localReply(ex, 503, 'no cluster for the route');
    return;
  }
  ex.cluster = cluster;
  const overflow = cluster.breaker.requestOverflow();
  if (overflow !== undefined) {
    overflowReply(ex, overflow);
    return;
  }
  cluster.breaker.requests++;
  ex.counted = true;
  const lb = cluster.config.lb;
  const headers = requestHeaders(
    ex.req.rawHeaders,
    lb.policy === 'ring_hash' ? lb.hashHeader : undefined,
    ex,
  );
  headers.push('traceparent', nextTraceparent(ex.traceparent));
  ex.headers = headers;
  ex.timer = setTimeout(onRouteTimeout, route.timeoutMs, ex);
  // HTTP/2 has no chunked framing: a body of unknown length is announced only by the
  // HEADERS frame not ending the stream. It streams like a chunked HTTP/1.1 body.
  if (ex.host.http2 && ex.contentLength < 0 && !endsAfterHeaders(ex.req)) ex.chunked = true;
  if (!ex.chunked && ex.contentLength <= 0) {
    ex.body = EMPTY;
    dispatch(ex);
  } else if (!ex.chunked && ex.contentLength <= MAX_BUFFERED_BODY) {
    ex.chunks = [];
    ex.req[kExchange] = ex;
    ex.req.on('data', onBodyData);
    ex.req.on('end', onBodyEnd);
  } else {
    ex.streaming = true;
    dispatch(ex);
  }
}

function endsAfterHeaders(req: IncomingMessage): boolean {
  return (
    (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream?.endAfterHeaders === true
  );
}

function onBodyData(this: Tagged<IncomingMessage>, chunk: Buffer): void {
  this[kExchange]?.chunks?.push(chunk);
}

function onBodyEnd(this: Tagged<IncomingMessage>): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.finished) return;
  const chunks = ex.chunks as Buffer[];
  ex.body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  ex.chunks = undefined;
  dispatch(ex);
}

/** One attempt: pick an endpoint and send the request over its pool. */
function dispatch(ex: Exchange): void {
  ex.retryTimer = undefined;
  if (ex.finished) return;
  const cluster = ex.cluster as UpstreamCluster;
  const endpoint = cluster.pick(ex.hashValue, ex.attempts);
  if (endpoint === undefined) {
    releaseRetry(ex);
    localReply(ex, 503, 'no healthy upstream');
    return;
  }
  const pendingOverflow = cluster.breaker.pendingOverflow();
  if (pendingOverflow !== undefined) {
    releaseRetry(ex);
    overflowReply(ex, pendingOverflow);
    return;
  }
  ex.endpoint = endpoint;
  endpoint.active++;
  ex.attemptOpen = true;
  cluster.breaker.pending++;
  ex.pendingCounted = true;
  ex.attemptStart = performance.now();
  let up: Tagged<ClientRequest>;
  try {
    up = request({
      agent: cluster.poolFor(endpoint) as unknown as Agent,
      host: endpoint.address,
      port: endpoint.port,
      method: ex.req.method,
      path: ex.target,
      headers: ex.headers,
      setHost: false,
    });
  } catch (err) {
    // What the downstream parser let through but Node's client will not send (a path or
    // header value with characters HTTP/1.1 forbids, from an h2c app): the app's fault.
    endAttempt(ex);
    localReply(ex, 400, `invalid request: ${(err as Error).message}`);
    return;
  }
  up[kExchange] = ex;
  ex.upstream = up;
  up.on('socket', onUpstreamSocket);
  up.on('response', onUpstreamResponse);
  up.on('error', onUpstreamError);
  if (ex.streaming) return; // piped once a connection is up
  const body = ex.body as Buffer;
  if (body.length === 0) up.end();
  else up.end(body);
}

function onUpstreamSocket(this: Tagged<ClientRequest>): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.upstream !== this) return;
  releasePending(ex);
  if (ex.streaming && !ex.finished) {
    ex.piped = true;
    ex.req.pipe(this);
  }
}

function onUpstreamResponse(this: Tagged<ClientRequest>, ures: Tagged<IncomingMessage>): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.upstream !== this || ex.finished) {
    ures.resume();
    return;
  }
  const status = ures.statusCode ?? 0;
  const endpoint = ex.endpoint as EndpointState;
  const cluster = ex.cluster as UpstreamCluster;
  const now = performance.now();
  endAttempt(ex);
  if (status < 100) {
    // Node's parser accepts 000-099; no client can be given one (writeHead throws).
    badResponse(ex, this, ures, `invalid status ${status}`);
    return;
  }
  endpoint.observeLatency(now - ex.attemptStart, now);
  if (status >= 500) {
    endpoint.failures++;
    cluster.outlier.serverError(endpoint);
  } else {
    cluster.outlier.success(endpoint);
  }
  const route = ex.route as CompiledRoute;
  if (retriesStatus(route.retry, status) && mayResend(ex) && scheduleRetry(ex, `${status}`)) {
    ures.resume();
    return;
  }
  ex.status = status;
  const res = ex.res;
  if (res.destroyed) {
    ures.resume();
    return;
  }
  try {
    if (ex.host.http2) res.writeHead(status, responseHeaders(ures.rawHeaders, true));
    else res.writeHead(status, ures.statusMessage, responseHeaders(ures.rawHeaders));
  } catch (err) {
    // What the upstream's parser let through but ours refuses to send (a control character
    // in the reason phrase or a header value, a header HTTP/2 forbids): a bad gateway.
    ex.status = 0;
    // writeHead kept the reason phrase it refused; the 502 must not reuse it.
    if (!ex.host.http2) res.statusMessage = '';
    badResponse(ex, this, ures, (err as Error).message);
    return;
  }
  ures[kExchange] = ex;
  ures.on('error', onUpstreamBodyError);
  ures.pipe(res);
}

/** The upstream's response cannot be relayed: count a gateway failure, answer 502. */
function badResponse(ex: Exchange, up: ClientRequest, ures: IncomingMessage, reason: string): void {
  const endpoint = ex.endpoint as EndpointState;
  endpoint.failures++;
  (ex.cluster as UpstreamCluster).outlier.serverError(endpoint);
  ex.upstream = undefined;
  ures.destroy();
  up.destroy();
  localReply(ex, 502, `upstream sent an invalid response: ${reason}`);
}

function onUpstreamBodyError(this: Tagged<IncomingMessage>): void {
  this[kExchange]?.res.destroy();
}

function onUpstreamError(this: Tagged<ClientRequest>, err: Error): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.upstream !== this || ex.finished) return;
  if (ex.status !== 0) {
    // The response had started: nothing to retry, cut the downstream short.
    ex.res.destroy();
    return;
  }
  let failure = classifyUpstreamError(err);
  const socket = this.socket as TLSSocket | null;
  if (
    failure.failure === 'reset' &&
    !this.reusedSocket &&
    socket !== null &&
    !peerAccepted(socket)
  ) {
    // A fresh connection that failed before the server accepted our certificate: the
    // request never reached the application (see peerAccepted).
    failure = new UpstreamError('connect-failure', failure.message, undefined, { cause: err });
  }
  const endpoint = ex.endpoint as EndpointState;
  const cluster = ex.cluster as UpstreamCluster;
  endAttempt(ex);
  if (failure.failure === 'overflow') {
    overflowReply(ex, failure.limit ?? 'max_connections');
    return;
  }
  endpoint.failures++;
  cluster.outlier.connectFailure(endpoint);
  // A server that refuses us after the handshake (a TLS alert) may be refusing a resumed
  // session it can no longer vouch for: the next connection does a full handshake.
  if (failure.failure === 'connect-failure') forgetSession(endpoint);
  const retry = (ex.route as CompiledRoute).retry;
  // A streamed body that began to flow is partly consumed: it cannot be sent again.
  const retryable =
    failure.failure === 'connect-failure'
      ? retry.onConnectFailure && !ex.piped
      : retry.onReset && mayResend(ex);
  if (retryable && scheduleRetry(ex, failure.failure)) return;
  gatewayFailure(ex, failure);
}

function gatewayFailure(ex: Exchange, failure: UpstreamError): void {
  const what =
    failure.failure === 'connect-failure'
      ? 'upstream connect error'
      : 'upstream disconnect/reset before headers';
  localReply(ex, 503, `${what}: ${failure.message}`);
}

/** May this request be sent again after the previous attempt reached the upstream? */
function mayResend(ex: Exchange): boolean {
  if (ex.streaming) return false;
  const policy = (ex.route as CompiledRoute).retry.policy;
  return !policy.idempotentOnly || isIdempotent(ex.req.method);
}

function scheduleRetry(ex: Exchange, reason: string): boolean {
  const route = ex.route as CompiledRoute;
  const policy = route.retry.policy;
  const cluster = ex.cluster as UpstreamCluster;
  if (ex.retries >= policy.numRetries) return false;
  if (!cluster.budget.tryAcquire(policy, cluster.breaker.requests)) {
    ex.host.metrics.retriesSkipped.inc({ cluster: cluster.name });
    return false;
  }
  ex.retries++;
  ex.retryCounted = true;
  ex.host.metrics.retries.inc({ cluster: cluster.name, reason });
  const attempts = (ex.attempts ??= new Attempts());
  attempts.add(ex.endpoint as EndpointState, reason === 'connect-failure');
  ex.upstream = undefined;
  ex.retryTimer = setTimeout(dispatch, backoffMs(policy, ex.retries - 1), ex);
  return true;
}

function releasePending(ex: Exchange): void {
  if (!ex.pendingCounted) return;
  ex.pendingCounted = false;
  (ex.cluster as UpstreamCluster).breaker.pending--;
}

function releaseRetry(ex: Exchange): void {
  if (!ex.retryCounted) return;
  ex.retryCounted = false;
  (ex.cluster as UpstreamCluster).budget.release();
}

/** The current attempt is over (response headers, failure, timeout or abort). */
function endAttempt(ex: Exchange): void {
  releasePending(ex);
  releaseRetry(ex);
  if (!ex.attemptOpen) return;
  ex.attemptOpen = false;
  const endpoint = ex.endpoint as EndpointState;
  endpoint.active--;
  endpoint.requests++;
}

function onRouteTimeout(ex: Exchange): void {
  ex.timer = undefined;
  if (ex.finished) return;
  const up = ex.upstream;
  ex.upstream = undefined;
  endAttempt(ex);
  up?.destroy();
  if (ex.retryTimer !== undefined) clearTimeout(ex.retryTimer);
  ex.retryTimer = undefined;
  localReply(ex, 504, 'upstream request timeout');
}

function localReply(ex: Exchange, status: number, text: string, extra?: string[]): void {
  const res = ex.res;
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  ex.status = status;
  const body = Buffer.from(text);
  const headers = ['content-type', 'text/plain', 'content-length', String(body.length)];
  if (extra !== undefined) headers.push(...extra);
  res.writeHead(status, headers);
  res.end(body);
}

function overflowReply(ex: Exchange, limit: string): void {
  const cluster = ex.cluster as UpstreamCluster;
  ex.host.metrics.overflows.inc({ cluster: cluster.name, limit });
  localReply(ex, 503, `upstream overflow: ${limit}`, ['x-causeway-overflow', limit]);
}

/** The downstream response is over: finished, or the app went away. */
function onDownstreamClose(this: Tagged<ServerResponse>): void {
  const ex = this[kExchange];
  if (ex === undefined || ex.finished) return;
  ex.finished = true;
  if (ex.timer !== undefined) clearTimeout(ex.timer);
  if (ex.retryTimer !== undefined) clearTimeout(ex.retryTimer);
  const aborted = !this.writableFinished;
  if (aborted) {
    const up = ex.upstream;
    endAttempt(ex);
    up?.destroy();
  } else {
    endAttempt(ex);
  }
  releaseRetry(ex);
  const cluster = ex.cluster;
  if (ex.counted && cluster !== undefined) cluster.breaker.requests--;
  const seconds = (performance.now() - ex.start) / 1000;
  const status = aborted && ex.status === 0 ? 0 : ex.status;
  const host = ex.host;
  host.statsFor(cluster).record(status, seconds);
  const logger = host.logger;
  if (logger.isLevelEnabled('info')) {
    logger.info(
      {
        cluster: cluster?.name,
        endpoint: ex.endpoint?.key,
        method: ex.req.method,
        path: ex.req.url,
        status,
        aborted,
        durationMs: Math.round(seconds * 1e6) / 1e3,
        retries: ex.retries,
      },
      'outbound request',
    );
  }
}
