/**
 * Consul's central configuration entries, the subset Causeway's proxies act on, in Consul's
 * own JSON field names (`Kind`, `Name`, `Protocol`, `Splits[].Weight`, …) so that an entry
 * written with `consul config write` round-trips unchanged. Decoded entries are
 * normalised: canonical field spelling, optional fields absent rather than empty, and
 * durations kept as the Go duration strings the operator wrote (`"5s"`).
 *
 * Extensions Causeway adds (documented in docs/config-entries.md): the `peak_ewma` load
 * balancer policy, `Destination.Fault` on service-router routes, `Zone` on a
 * service-intentions source, on a service-resolver failover target and on an
 * exported-services consumer, and `ZoneWeights` on a service-resolver.
 */

export const CONFIG_ENTRY_KINDS = [
  'service-defaults',
  'service-resolver',
  'service-splitter',
  'service-router',
  'service-intentions',
  'exported-services',
] as const;
export type ConfigEntryKind = (typeof CONFIG_ENTRY_KINDS)[number];

/** Protocols a service-defaults entry may name (Consul's `Protocol`). */
export const ENTRY_PROTOCOLS = ['tcp', 'http', 'http2', 'grpc'] as const;
export type EntryProtocol = (typeof ENTRY_PROTOCOLS)[number];

export const RESOLVER_LB_POLICIES = [
  'round_robin',
  'least_request',
  'ring_hash',
  'peak_ewma',
] as const;
export type ResolverLbPolicy = (typeof RESOLVER_LB_POLICIES)[number];

interface EntryBase {
  Name: string;
  /** Always set once decoded ("default" when the body named none). */
  Namespace: string;
  Meta?: Record<string, string>;
}

export interface UpstreamLimits {
  MaxConnections?: number;
  MaxPendingRequests?: number;
  MaxConcurrentRequests?: number;
}

export interface PassiveHealthCheck {
  MaxFailures?: number;
  /** A Go duration ("30s"). */
  BaseEjectionTime?: string;
  MaxEjectionPercent?: number;
}

export interface UpstreamDefaults {
  ConnectTimeoutMs?: number;
  Limits?: UpstreamLimits;
  PassiveHealthCheck?: PassiveHealthCheck;
}

export interface ServiceDefaultsEntry extends EntryBase {
  Kind: 'service-defaults';
  Protocol?: EntryProtocol;
  UpstreamConfig?: { Defaults?: UpstreamDefaults };
}

export interface ResolverSubset {
  /** `Service.Meta.<key> == <value>` / `Service.Tags contains <tag>`, joined by `and`. */
  Filter?: string;
  OnlyPassing?: boolean;
}

export interface HashPolicy {
  Field: 'header';
  FieldValue: string;
}

export interface ResolverLoadBalancer {
  Policy?: ResolverLbPolicy;
  LeastRequestConfig?: { ChoiceCount?: number };
  HashPolicies?: HashPolicy[];
}

/** A zone traffic fails over to (Consul's target names a `Peer`; Causeway names a zone). */
export interface FailoverTarget {
  Zone: string;
}

/** Consul's `Failover["*"]`: where traffic goes when the local zone has too little. */
export interface ResolverFailover {
  /** Tried in order: the first gets priority 1, the next 2, … */
  Targets: FailoverTarget[];
}

export interface ServiceResolverEntry extends EntryBase {
  Kind: 'service-resolver';
  DefaultSubset?: string;
  Subsets?: Record<string, ResolverSubset>;
  /** A Go duration ("5s"). */
  ConnectTimeout?: string;
  LoadBalancer?: ResolverLoadBalancer;
  /** Keyed by `*` only (failover applies to the whole service, not per subset). */
  Failover?: Record<string, ResolverFailover>;
  /**
   * Causeway extension: spread traffic across zones by weight (0-100 each). The zones
   * with a positive weight share the first priority; a zone weighted 0 is never used.
   */
  ZoneWeights?: Record<string, number>;
}

export interface SplitterSplit {
  Weight: number;
  ServiceSubset?: string;
  Service?: string;
  Namespace?: string;
}

export interface ServiceSplitterEntry extends EntryBase {
  Kind: 'service-splitter';
  Splits: SplitterSplit[];
}

export interface HeaderCondition {
  Name: string;
  Present?: boolean;
  Exact?: string;
  Prefix?: string;
  Invert?: boolean;
}

export interface HttpCondition {
  PathExact?: string;
  PathPrefix?: string;
  Header?: HeaderCondition[];
  Methods?: string[];
}

export interface RouteFault {
  /** Percent 0-100; Duration a Go duration. */
  Delay?: { Percent: number; Duration: string };
  Abort?: { Percent: number; HttpStatus: number };
}

export interface RouteDestination {
  Service?: string;
  ServiceSubset?: string;
  Namespace?: string;
  /** A Go duration. */
  RequestTimeout?: string;
  NumRetries?: number;
  RetryOnConnectFailure?: boolean;
  RetryOnStatusCodes?: number[];
  /** Causeway extension: faults injected on this route, for drills. */
  Fault?: RouteFault;
}

export interface RouterRoute {
  Match?: { HTTP?: HttpCondition };
  Destination?: RouteDestination;
}

export interface ServiceRouterEntry extends EntryBase {
  Kind: 'service-router';
  Routes: RouterRoute[];
}

export interface IntentionPermission {
  Action: 'allow' | 'deny';
  HTTP?: HttpCondition;
}

export interface IntentionSource {
  /** A service name or `*`. */
  Name: string;
  /** Always set once decoded ("default" when left out). */
  Namespace: string;
  /** Causeway extension: only callers from this zone match (any zone when absent). */
  Zone?: string;
  Action?: 'allow' | 'deny';
  Permissions?: IntentionPermission[];
  Description?: string;
  /** Output only: Consul's precedence of this source (higher is evaluated first). */
  Precedence?: number;
}

export interface ServiceIntentionsEntry extends EntryBase {
  Kind: 'service-intentions';
  Sources: IntentionSource[];
}

/** Who may reach an exported service: one zone, or `*` for every zone. */
export interface ExportConsumer {
  Zone: string;
}

export interface ExportedService {
  Name: string;
  /** Always set once decoded ("default" when left out). */
  Namespace: string;
  Consumers: ExportConsumer[];
}

/**
 * The zone's exported services: one entry per zone, named `default` (Consul has one per
 * admin partition). A service is reachable from another zone only when listed here.
 */
export interface ExportedServicesEntry extends EntryBase {
  Kind: 'exported-services';
  Services: ExportedService[];
}

/** The only name an exported-services entry may have. */
export const EXPORTED_SERVICES_NAME = 'default';

export type ConfigEntry =
  | ServiceDefaultsEntry
  | ServiceResolverEntry
  | ServiceSplitterEntry
  | ServiceRouterEntry
  | ServiceIntentionsEntry
  | ExportedServicesEntry;

export type EntryOfKind<K extends ConfigEntryKind> = Extract<ConfigEntry, { Kind: K }>;

/** An entry as stored, with the store's indexes (Consul's `CreateIndex` / `ModifyIndex`). */
export type StoredConfigEntry = ConfigEntry & { CreateIndex: number; ModifyIndex: number };
