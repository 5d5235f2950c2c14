/**
 * Building one proxy's config snapshot from the catalog and the config entries: a pure
 * function, so the same inputs always give the same snapshot (the pusher compares
 * snapshots to decide whether a proxy needs a push) and golden files can pin it.
 *
 * Resolution follows Consul's discovery chain, one level deep:
 * service-router (HTTP upstreams) → service-splitter → service-resolver subsets →
 * clusters named `<service>[.<namespace>]~<subset>` (`<service>` for all instances).
 * An upstream pinned to a zone (`api@west`, Consul's upstream `Datacenter`) skips the
 * router and splitter — they pick subsets, which other zones do not report — and gets one
 * cluster `<service>.<namespace>.<zone>` (the SNI's first labels) holding only that zone's
 * endpoints, at priority 0, with no failover.
 * The snapshot is complete (every default filled in), so `decodeProxyConfig(built)`
 * gives back the same value.
 *
 * Authorization comes from the destination's service-intentions (and a `*` entry): rules
 * by Consul's precedence, exact source names before wildcards; no intention at all means
 * `defaultAction: allow`, any intention means unmatched callers are denied. An L7
 * intention is terminal for its source: what its permissions do not allow is denied.
 */
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_OVERPROVISIONING_FACTOR,
  DEFAULT_PANIC_THRESHOLD_PERCENT,
  DEFAULT_ROUTE_TIMEOUT_MS,
  defaultLimits,
  defaultOutlier,
  defaultRetryPolicy,
  matchesSubset,
  parseDuration,
  parseSubsetFilter,
} from '../../../core/index.ts';
import type {
  Authorization,
  AuthzRule,
  CatalogSnapshot,
  Cluster,
  ConfigEntrySet,
  Endpoint,
  HttpCondition,
  HttpMatch,
  IntentionSource,
  ListenerProtocol,
  LoadBalancer,
  OutboundListener,
  ProxyConfig,
  Route,
  RouteDestination,
  ServiceDefaultsEntry,
  ServiceResolverEntry,
  UpstreamDefaults,
  WeightedCluster,
} from '../../../core/index.ts';
import { upstreamListenerName } from '../../../core/src/proxy-stream/messages.ts';
import type { HelloMessage, Upstream } from '../../../core/src/proxy-stream/messages.ts';
import type { RemoteResources } from './remote-resources.ts';
import {
  applyZoneShares,
  localGateways,
  pinnedZonePlan,
  remoteEndpoints,
  zonePlan,
} from './zone-endpoints.ts';
import type { Address, ZonePlan } from './zone-endpoints.ts';

export interface SnapshotInputs {
  /** This zone's catalog, its gateways (meta `causeway-kind: mesh-gateway`) included. */
  catalog: CatalogSnapshot;
  entries: ConfigEntrySet;
  /** Other zones' exported services and gateways, from `sync/global/`. */
  remotes: RemoteResources;
  /** This zone's name: its endpoints get priority 0 unless the resolver says otherwise. */
  zone: string;
  trustDomain: string;
}

/**
 * A destination the chain resolved to: service, namespace and subset ("" for all), and
 * the zone a pinned upstream is limited to.
 */
interface Target {
  service: string;
  namespace: string;
  subset: string;
  zone?: string;
}

/**
 * A pinned target always names its namespace, so its three dot-separated labels never
 * meet an unpinned name (`api`, `api.payments`, `api~v2`); at most 3 × 63 + 2 characters.
 */
function clusterName(t: Target): string {
  if (t.zone !== undefined) return `${t.service}.${t.namespace}.${t.zone}`;
  const base = t.namespace === 'default' ? t.service : `${t.service}.${t.namespace}`;
  return t.subset === '' ? base : `${base}~${t.subset}`;
}

/**
 * The part of a proxy's hello its snapshot depends on, and all of it: the identity
 * (service, namespace: authorization and service-defaults), the inbound port and app
 * protocol, and the upstreams with their local ports, in order. Instance ID, node,
 * address, meta, tags and the CSR do not change a snapshot, so proxies that agree on
 * these fields get the same one (`snapshot-cache.ts` builds it once for all of them). The
 * builder takes only this type, so it cannot read a field the cache's key leaves out.
 */
export type ProxyShape = Pick<
  HelloMessage,
  'service' | 'namespace' | 'port' | 'appProtocol' | 'upstreams'
>;

/**
 * A copy of `hello`'s {@link ProxyShape} fields and nothing else, in a fixed order, so its
 * JSON is a canonical key. Typed so that a field added to `ProxyShape` or `Upstream` must
 * be copied here too, optional or not (an unset `zone` is undefined, which JSON leaves out
 * just as the builder ignores it).
 */
export function proxyShape(hello: ProxyShape): ProxyShape {
  const shape: Complete<ProxyShape> = {
    service: hello.service,
    namespace: hello.namespace,
    port: hello.port,
    appProtocol: hello.appProtocol,
    upstreams: hello.upstreams.map((u) => {
      const upstream: Complete<Upstream> = {
        service: u.service,
        namespace: u.namespace,
        localPort: u.localPort,
        zone: u.zone,
      };
      return upstream;
    }),
  };
  return shape;
}

/** Every key of `T`, optional ones included (their values may still be undefined). */
type Complete<T> = { [K in keyof Required<T>]: T[K] };

/** Build the snapshot for a proxy of this shape (a hello will do: it has every field). */
export function buildSnapshot(inputs: SnapshotInputs, proxy: ProxyShape): ProxyConfig {
  const { entries } = inputs;
  const own = entries.get('service-defaults', proxy.namespace, proxy.service);
  const targets = new Map<string, Target>();
  const outbound = proxy.upstreams.map((u) => buildListener(inputs, u, targets));
  const upstreamDefaults = own?.UpstreamConfig?.Defaults;
  const gateways = localGateways(inputs.catalog, inputs.zone);
  const clusters = [...targets.values()]
    .map((t) => buildCluster(inputs, t, upstreamDefaults, gateways))
    .sort((a, b) => compare(a.name, b.name));
  const inboundProtocol = inboundProtocolOf(own, proxy.appProtocol);
  return {
    service: proxy.service,
    namespace: proxy.namespace,
    zone: inputs.zone,
    trustDomain: inputs.trustDomain,
    inbound: {
      port: proxy.port,
      protocol: inboundProtocol,
      authorization: buildAuthorization(entries, proxy, inboundProtocol),
    },
    outbound,
    clusters,
  };
}

/** service-defaults Protocol wins over what the proxy says; only HTTP/1.1 is L7 inbound. */
function inboundProtocolOf(
  defaults: ServiceDefaultsEntry | undefined,
  appProtocol: 'tcp' | 'http',
): 'tcp' | 'http' {
  const protocol = defaults?.Protocol;
  if (protocol === undefined) return appProtocol;
  return protocol === 'http' ? 'http' : 'tcp';
}

function listenerProtocolOf(defaults: ServiceDefaultsEntry | undefined): ListenerProtocol {
  switch (defaults?.Protocol) {
    case 'http':
      return 'http';
    case 'http2':
    case 'grpc':
      return 'http2';
    default:
      return 'tcp';
  }
}

function buildListener(
  inputs: SnapshotInputs,
  upstream: Upstream,
  targets: Map<string, Target>,
): OutboundListener {
  const { entries } = inputs;
  const defaults = entries.get('service-defaults', upstream.namespace, upstream.service);
  const protocol = listenerProtocolOf(defaults);
  const use = (t: Target): string => {
    const name = clusterName(t);
    targets.set(name, t);
    return name;
  };
  if (upstream.zone !== undefined) {
    const cluster = use({
      service: upstream.service,
      namespace: upstream.namespace,
      subset: '',
      zone: upstream.zone,
    });
    return {
      name: upstreamListenerName(upstream),
      port: upstream.localPort,
      protocol,
      routes: [route({}, [{ cluster, weight: 1 }], {})],
    };
  }
  const routes: Route[] = [];
  if (protocol !== 'tcp') {
    const router = entries.get('service-router', upstream.namespace, upstream.service);
    for (const r of router?.Routes ?? []) {
      const dest = r.Destination ?? {};
      const service = dest.Service ?? upstream.service;
      const namespace = dest.Namespace ?? upstream.namespace;
      routes.push(
        route(
          toHttpMatch(r.Match?.HTTP),
          destinations(inputs, service, namespace, dest.ServiceSubset, use),
          dest,
        ),
      );
    }
  }
  // The catch-all: the upstream's splitter, or its resolver's default subset.
  routes.push(
    route({}, destinations(inputs, upstream.service, upstream.namespace, undefined, use), {}),
  );
  return { name: upstream.service, port: upstream.localPort, protocol, routes };
}

/**
 * Where traffic for `service` goes: a named subset directly; otherwise the service's
 * splitter (weights × 100, so Consul's two decimals stay exact), or its default subset.
 */
function destinations(
  inputs: SnapshotInputs,
  service: string,
  namespace: string,
  subset: string | undefined,
  use: (t: Target) => string,
): WeightedCluster[] {
  const resolved = (svc: string, ns: string, sub: string | undefined): Target => ({
    service: svc,
    namespace: ns,
    subset: sub ?? inputs.entries.get('service-resolver', ns, svc)?.DefaultSubset ?? '',
  });
  if (subset !== undefined)
    return [{ cluster: use(resolved(service, namespace, subset)), weight: 1 }];
  const splitter = inputs.entries.get('service-splitter', namespace, service);
  if (splitter) {
    const weights = new Map<string, number>();
    for (const s of splitter.Splits) {
      const name = use(resolved(s.Service ?? service, s.Namespace ?? namespace, s.ServiceSubset));
      weights.set(name, (weights.get(name) ?? 0) + Math.round(s.Weight * 100));
    }
    const out = [...weights].map(([cluster, weight]) => ({ cluster, weight }));
    if (out.some((d) => d.weight > 0)) return out;
  }
  return [{ cluster: use(resolved(service, namespace, undefined)), weight: 1 }];
}

function route(match: HttpMatch, dests: WeightedCluster[], dest: RouteDestination): Route {
  const retry = defaultRetryPolicy();
  if (dest.NumRetries !== undefined) retry.numRetries = dest.NumRetries;
  if (dest.RetryOnConnectFailure === true && !retry.retryOn.includes('connect-failure')) {
    retry.retryOn.push('connect-failure');
  }
  if (dest.RetryOnStatusCodes) retry.retryOnStatusCodes = [...dest.RetryOnStatusCodes];
  const timeout =
    dest.RequestTimeout === undefined ? 0 : parseDuration(dest.RequestTimeout, 'RequestTimeout');
  const out: Route = {
    match,
    destinations: dests,
    timeoutMs: timeout > 0 ? timeout : DEFAULT_ROUTE_TIMEOUT_MS,
    retry,
  };
  const fault = dest.Fault;
  if (fault) {
    out.fault = {};
    if (fault.Delay) {
      out.fault.delay = {
        percent: fault.Delay.Percent,
        durationMs: parseDuration(fault.Delay.Duration, 'Delay.Duration'),
      };
    }
    if (fault.Abort) {
      out.fault.abort = { percent: fault.Abort.Percent, httpStatus: fault.Abort.HttpStatus };
    }
  }
  return out;
}

function toHttpMatch(c: HttpCondition | undefined): HttpMatch {
  const m: HttpMatch = {};
  if (!c) return m;
  if (c.PathExact !== undefined) m.pathExact = c.PathExact;
  if (c.PathPrefix !== undefined) m.pathPrefix = c.PathPrefix;
  if (c.Methods) m.methods = [...c.Methods];
  if (c.Header) {
    m.headers = c.Header.map((h) => ({
      name: h.Name.toLowerCase(),
      ...(h.Exact !== undefined ? { exact: h.Exact } : {}),
      ...(h.Prefix !== undefined ? { prefix: h.Prefix } : {}),
      ...(h.Present === true ? { present: true } : {}),
      ...(h.Invert === true ? { invert: true } : {}),
    }));
  }
  return m;
}

function buildCluster(
  inputs: SnapshotInputs,
  target: Target,
  upstreamDefaults: UpstreamDefaults | undefined,
  gateways: readonly Address[],
): Cluster {
  const resolver = inputs.entries.get('service-resolver', target.namespace, target.service);
  const limits = defaultLimits();
  const l = upstreamDefaults?.Limits;
  if (l?.MaxConnections) limits.maxConnections = l.MaxConnections;
  if (l?.MaxPendingRequests) limits.maxPendingRequests = l.MaxPendingRequests;
  if (l?.MaxConcurrentRequests) limits.maxRequests = l.MaxConcurrentRequests;
  const outlier = defaultOutlier();
  const p = upstreamDefaults?.PassiveHealthCheck;
  if (p?.MaxFailures !== undefined) {
    outlier.consecutive5xx = p.MaxFailures;
    outlier.consecutiveConnectFailures = p.MaxFailures;
  }
  if (p?.BaseEjectionTime !== undefined) {
    outlier.baseEjectionMs = parseDuration(p.BaseEjectionTime, 'BaseEjectionTime');
  }
  if (p?.MaxEjectionPercent !== undefined) outlier.maxEjectionPercent = p.MaxEjectionPercent;
  // The destination's resolver knows its connect time best; then the caller's defaults.
  const resolverTimeout = resolver?.ConnectTimeout
    ? parseDuration(resolver.ConnectTimeout, 'ConnectTimeout')
    : 0;
  const connectTimeoutMs =
    resolverTimeout > 0
      ? resolverTimeout
      : (upstreamDefaults?.ConnectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  // A pinned target's zone is its whole plan: the resolver's Failover and ZoneWeights
  // choose among zones, and the caller already chose one.
  const plan =
    target.zone === undefined ? zonePlan(inputs.zone, resolver) : pinnedZonePlan(target.zone);
  return {
    name: clusterName(target),
    service: target.service,
    namespace: target.namespace,
    lb: loadBalancer(resolver),
    connectTimeoutMs,
    limits,
    outlier,
    panicThresholdPercent: DEFAULT_PANIC_THRESHOLD_PERCENT,
    overprovisioningFactor: DEFAULT_OVERPROVISIONING_FACTOR,
    endpoints: endpoints(inputs, target, resolver, gateways, plan),
  };
}

function loadBalancer(resolver: ServiceResolverEntry | undefined): LoadBalancer {
  const lb = resolver?.LoadBalancer;
  const policy = lb?.Policy ?? 'round_robin';
  if (policy === 'ring_hash') {
    return { policy, hashHeader: (lb?.HashPolicies?.[0]?.FieldValue ?? '').toLowerCase() };
  }
  if (policy === 'least_request') {
    return { policy, choiceCount: lb?.LeastRequestConfig?.ChoiceCount ?? 2 };
  }
  return { policy };
}

/**
 * The catalog instances behind a target: those fronted by a proxy (`proxy.inbound` set) in
 * the target's namespace, passing the subset's filter. Critical instances stay in with
 * their health, so the proxy knows them and leaves them out itself (and the panic
 * threshold can count them); a subset with OnlyPassing drops everything not passing.
 *
 * Then, for the whole service (not a subset: other zones report healthy counts per
 * service, and a remote gateway picks any healthy instance), one endpoint per way into
 * each other zone that exports it here (see `zone-endpoints.ts`). Each zone's priority
 * comes from the resolver's `Failover` and `ZoneWeights`, or, for a pinned target, is 0
 * for its zone alone.
 */
function endpoints(
  inputs: SnapshotInputs,
  target: Target,
  resolver: ServiceResolverEntry | undefined,
  gateways: readonly Address[],
  plan: ZonePlan,
): Endpoint[] {
  const local = catalogEndpoints(inputs, target, resolver);
  if (local === undefined) return [];
  const out = local.flatMap((e) => {
    const tier = plan(e.zone);
    return tier === undefined ? [] : [{ ...e, priority: tier.priority }];
  });
  if (target.subset === '') {
    out.push(...remoteEndpoints(inputs.remotes, gateways, target, inputs.zone, plan));
  }
  return applyZoneShares(out, plan);
}

/** The catalog's instances for `target`; undefined when its subset is not defined. */
function catalogEndpoints(
  inputs: SnapshotInputs,
  target: Target,
  resolver: ServiceResolverEntry | undefined,
): Endpoint[] | undefined {
  const subset = target.subset === '' ? undefined : resolver?.Subsets?.[target.subset];
  // A subset the resolver does not define selects nothing: better no traffic than the
  // wrong version.
  if (target.subset !== '' && subset === undefined) return undefined;
  const clauses = parseSubsetFilter(subset?.Filter ?? '', 'Filter');
  const out: Endpoint[] = [];
  for (const { node, instance, health } of inputs.catalog.health(target.service)) {
    if (instance.namespace !== target.namespace || instance.proxy.inbound === undefined) continue;
    if (!matchesSubset(clauses, instance)) continue;
    if (subset?.OnlyPassing === true && health !== 'passing') continue;
    const weight = health === 'warning' ? instance.weights.warning : instance.weights.passing;
    out.push({
      address: instance.address === '' ? node.address : instance.address,
      port: instance.proxy.inbound,
      zone: instance.zone,
      // Set by the zone plan.
      priority: 0,
      health,
      weight: Math.max(1, weight),
      instanceId: instance.id,
    });
  }
  return out;
}

function buildAuthorization(
  entries: ConfigEntrySet,
  proxy: Pick<ProxyShape, 'service' | 'namespace'>,
  protocol: 'tcp' | 'http',
): Authorization {
  const sources: IntentionSource[] = [];
  for (const name of [proxy.service, '*']) {
    const entry = entries.get('service-intentions', proxy.namespace, name);
    for (const s of entry?.Sources ?? []) {
      sources.push({ ...s, Precedence: s.Precedence ?? 0 });
    }
  }
  if (sources.length === 0) return { defaultAction: 'allow', rules: [] };
  sources.sort(
    (a, b) =>
      (b.Precedence ?? 0) - (a.Precedence ?? 0) ||
      Number(b.Zone !== undefined) - Number(a.Zone !== undefined) ||
      compare(a.Name, b.Name) ||
      compare(a.Namespace, b.Namespace) ||
      compare(a.Zone ?? '', b.Zone ?? ''),
  );
  const rules: AuthzRule[] = [];
  for (const s of sources) {
    const source: AuthzRule['source'] = {};
    if (s.Name !== '*') source.service = s.Name;
    if (s.Namespace !== '*') source.namespace = s.Namespace;
    if (s.Zone !== undefined) source.zone = s.Zone;
    if (s.Action !== undefined) {
      rules.push({ action: s.Action, source });
      continue;
    }
    // One intention controls a source → destination pair (Consul): a source with L7
    // permissions is decided by them alone. Its requests that no permission matches are
    // denied here rather than falling through to a lower-precedence intention (a `*`
    // allow would otherwise let `admin`'s POST through when only its GET was allowed).
    // On a TCP inbound the permissions cannot match at all, so the source is denied.
    if (protocol === 'http') {
      for (const p of s.Permissions ?? []) {
        rules.push({ action: p.Action, source, http: [toHttpMatch(p.HTTP)] });
      }
    }
    rules.push({ action: 'deny', source: { ...source } });
  }
  return { defaultAction: 'deny', rules };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
