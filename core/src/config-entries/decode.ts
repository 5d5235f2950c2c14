/**
 * Checking a config entry body (`PUT /v1/config`) and normalising it into the typed model.
 * Every refusal is an {@link InvalidArgumentError} whose message starts with Consul's
 * "Request decoding failed:" and names the field, and whose `field` is that path, so the
 * zone's /v1 routes answer a plain-text 400 that says what to fix.
 */
import { InvalidArgumentError } from '../errors.ts';
import { EntryFields, badField, checkEntryName, durationMs, label, typeName } from './fields.ts';
import { decodeExportedServices } from './decode-exported-services.ts';
import { decodeFailover, decodeZoneWeights } from './decode-zones.ts';
import { parseSubsetFilter } from './subset-filter.ts';
import { CONFIG_ENTRY_KINDS, ENTRY_PROTOCOLS, RESOLVER_LB_POLICIES } from './types.ts';
import type {
  ConfigEntry,
  ConfigEntryKind,
  HeaderCondition,
  HttpCondition,
  IntentionPermission,
  IntentionSource,
  ResolverLoadBalancer,
  ResolverSubset,
  RouteDestination,
  RouteFault,
  RouterRoute,
  ServiceDefaultsEntry,
  ServiceIntentionsEntry,
  ServiceResolverEntry,
  ServiceRouterEntry,
  ServiceSplitterEntry,
  SplitterSplit,
  UpstreamDefaults,
} from './types.ts';

export { checkEntryName } from './fields.ts';

const METHOD = /^[A-Z]{1,20}$/;
const HEADER = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const MAX_ROUTES = 128;
const MAX_SOURCES = 1024;
const BASE = ['Kind', 'Name', 'Namespace', 'Partition', 'Meta'];
const HTTP_FIELDS = ['PathExact', 'PathPrefix', 'Header', 'Methods'];
/**
 * The proxy snapshot's own bounds (`core/src/proxy-config/decode.ts`): an entry outside
 * them would build a snapshot every proxy using it refuses (NACKs) forever, so the entry is
 * refused instead, naming its field.
 */
const HOUR_MS = 3_600_000;
const MAX_LIMIT = 1_000_000;
const MAX_FAILURES = 1000;

/** Is `kind` one Causeway stores? */
export function isConfigEntryKind(kind: string): kind is ConfigEntryKind {
  return (CONFIG_ENTRY_KINDS as readonly string[]).includes(kind);
}

/** Refuse a kind Causeway does not know, in Consul's words. */
export function checkKind(kind: string, field = 'Kind'): ConfigEntryKind {
  if (!isConfigEntryKind(kind)) {
    throw new InvalidArgumentError(
      `invalid config entry kind: ${kind} (Causeway supports ${CONFIG_ENTRY_KINDS.join(', ')})`,
      field,
    );
  }
  return kind;
}

/** Decode and check a config entry body. */
export function decodeConfigEntry(body: unknown): ConfigEntry {
  if (body === undefined) {
    throw new InvalidArgumentError(
      'Request decoding failed: the body is empty; send a config entry',
      'body',
    );
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badField('body', `must be a JSON object, got ${typeName(body)}`);
  }
  const kindField: unknown = Object.entries(body as Record<string, unknown>).find(
    ([k]) => k.toLowerCase() === 'kind',
  )?.[1];
  if (typeof kindField !== 'string' || kindField === '') {
    throw new InvalidArgumentError(
      'Request decoding failed: Kind is required (e.g. "service-defaults")',
      'Kind',
    );
  }
  const kind = checkKind(kindField);
  switch (kind) {
    case 'service-defaults':
      return decodeServiceDefaults(
        new EntryFields(body, '', [...BASE, 'Protocol', 'UpstreamConfig']),
      );
    case 'service-resolver':
      return decodeResolver(
        new EntryFields(body, '', [
          ...BASE,
          'DefaultSubset',
          'Subsets',
          'ConnectTimeout',
          'LoadBalancer',
          'Failover',
          'ZoneWeights',
        ]),
      );
    case 'service-splitter':
      return decodeSplitter(new EntryFields(body, '', [...BASE, 'Splits']));
    case 'service-router':
      return decodeRouter(new EntryFields(body, '', [...BASE, 'Routes']));
    case 'service-intentions':
      return decodeIntentions(new EntryFields(body, '', [...BASE, 'Sources']));
    case 'exported-services': {
      const f = new EntryFields(body, '', [...BASE, 'Services']);
      return decodeExportedServices(f, base(f));
    }
  }
}

function base(
  f: EntryFields,
  wildcard = false,
): { Name: string; Namespace: string; Meta?: Record<string, string> } {
  const name = f.optionalText('Name', 63);
  if (name === undefined) throw badField('Name', 'is required');
  const partition = f.optionalText('Partition');
  if (partition !== undefined && partition !== 'default') {
    throw badField('Partition', 'must be "default": Causeway has no admin partitions');
  }
  const meta = f.optionalStringMap('Meta');
  return {
    Name: checkEntryName(name, 'Name', wildcard),
    Namespace: label(f, 'Namespace') ?? 'default',
    ...(meta ? { Meta: meta } : {}),
  };
}

function decodeServiceDefaults(f: EntryFields): ServiceDefaultsEntry {
  const entry: ServiceDefaultsEntry = { Kind: 'service-defaults', ...base(f) };
  // Consul lower-cases Protocol ("HTTP" is "http").
  const rawProtocol = f.optionalText('Protocol');
  if (rawProtocol !== undefined) {
    const protocol = rawProtocol.toLowerCase();
    if (!(ENTRY_PROTOCOLS as readonly string[]).includes(protocol)) {
      throw badField(
        'Protocol',
        `must be one of ${ENTRY_PROTOCOLS.join(', ')} (got ${JSON.stringify(rawProtocol)})`,
      );
    }
    entry.Protocol = protocol as (typeof ENTRY_PROTOCOLS)[number];
  }
  const upstream = f.optionalObject('UpstreamConfig', ['Defaults', 'Overrides']);
  if (upstream?.has('Overrides')) {
    throw badField(upstream.field('Overrides'), 'is not supported by Causeway; use Defaults');
  }
  const d = upstream?.optionalObject('Defaults', [
    'ConnectTimeoutMs',
    'Limits',
    'PassiveHealthCheck',
  ]);
  if (d) {
    const defaults: UpstreamDefaults = {};
    const timeout = d.optionalInteger('ConnectTimeoutMs', 0, HOUR_MS);
    if (timeout) defaults.ConnectTimeoutMs = timeout;
    const l = d.optionalObject('Limits', [
      'MaxConnections',
      'MaxPendingRequests',
      'MaxConcurrentRequests',
    ]);
    if (l) {
      const limits: Record<string, number> = {};
      for (const k of ['MaxConnections', 'MaxPendingRequests', 'MaxConcurrentRequests'] as const) {
        const v = l.optionalInteger(k, 0, MAX_LIMIT);
        // 0 means "the default", as in Consul.
        if (v !== undefined && v !== 0) limits[k] = v;
      }
      if (Object.keys(limits).length > 0) defaults.Limits = limits;
    }
    const p = d.optionalObject('PassiveHealthCheck', [
      'MaxFailures',
      'BaseEjectionTime',
      'MaxEjectionPercent',
    ]);
    if (p) {
      const phc: NonNullable<UpstreamDefaults['PassiveHealthCheck']> = {};
      const failures = p.optionalInteger('MaxFailures', 0, MAX_FAILURES);
      if (failures !== undefined) phc.MaxFailures = failures;
      const base = p.optionalDuration('BaseEjectionTime', { minMs: 1, maxMs: HOUR_MS });
      if (base !== undefined) phc.BaseEjectionTime = base;
      const percent = p.optionalInteger('MaxEjectionPercent', 0, 100);
      if (percent !== undefined) phc.MaxEjectionPercent = percent;
      if (Object.keys(phc).length > 0) defaults.PassiveHealthCheck = phc;
    }
    if (Object.keys(defaults).length > 0) entry.UpstreamConfig = { Defaults: defaults };
  }
  return entry;
}

function decodeResolver(f: EntryFields): ServiceResolverEntry {
  const entry: ServiceResolverEntry = { Kind: 'service-resolver', ...base(f) };
  const raw = f.get('Subsets');
  if (raw !== undefined) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw badField('Subsets', `must be an object of subsets by name, got ${typeName(raw)}`);
    }
    const subsets: Record<string, ResolverSubset> = {};
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      const at = `Subsets.${name}`;
      checkEntryName(name, at);
      const s = new EntryFields(value, at, ['Filter', 'OnlyPassing']);
      const subset: ResolverSubset = {};
      const filter = s.optionalText('Filter', 4096);
      if (filter !== undefined) {
        parseSubsetFilter(filter, s.field('Filter'));
        subset.Filter = filter;
      }
      if (s.optionalBoolean('OnlyPassing') === true) subset.OnlyPassing = true;
      subsets[name] = subset;
    }
    if (Object.keys(subsets).length > 0) entry.Subsets = subsets;
  }
  const defaultSubset = f.optionalText('DefaultSubset', 63);
  if (defaultSubset !== undefined) {
    if (!entry.Subsets || !Object.hasOwn(entry.Subsets, defaultSubset)) {
      throw badField(
        'DefaultSubset',
        `names subset ${JSON.stringify(defaultSubset)}, which Subsets does not define`,
      );
    }
    entry.DefaultSubset = defaultSubset;
  }
  const timeout = f.optionalDuration('ConnectTimeout', { maxMs: HOUR_MS });
  if (timeout !== undefined && durationMs(timeout) > 0) entry.ConnectTimeout = timeout;
  const lb = f.optionalObject('LoadBalancer', [
    'Policy',
    'LeastRequestConfig',
    'RingHashConfig',
    'HashPolicies',
  ]);
  if (lb) {
    if (lb.has('RingHashConfig')) {
      throw badField(lb.field('RingHashConfig'), 'is not supported by Causeway');
    }
    const out: ResolverLoadBalancer = {};
    const policy = lb.optionalEnum('Policy', RESOLVER_LB_POLICIES);
    if (policy) out.Policy = policy;
    const lr = lb.optionalObject('LeastRequestConfig', ['ChoiceCount']);
    if (lr) {
      if (policy !== 'least_request') {
        throw badField(lb.field('LeastRequestConfig'), 'is only valid with Policy "least_request"');
      }
      const choices = lr.optionalInteger('ChoiceCount', 2, 100);
      if (choices !== undefined) out.LeastRequestConfig = { ChoiceCount: choices };
    }
    const hashes = lb.optionalList('HashPolicies', 16);
    if (hashes && hashes.length > 0) {
      if (policy !== 'ring_hash') {
        throw badField(lb.field('HashPolicies'), 'is only valid with Policy "ring_hash"');
      }
      out.HashPolicies = hashes.map((h, i) => {
        const hf = new EntryFields(h, `${lb.field('HashPolicies')}[${i}]`, ['Field', 'FieldValue']);
        const field = hf.optionalText('Field');
        if (field !== 'header')
          throw badField(
            hf.field('Field'),
            'must be "header" (the only hash field Causeway supports)',
          );
        const value = hf.optionalText('FieldValue', 256);
        if (value === undefined || !HEADER.test(value)) {
          throw badField(hf.field('FieldValue'), 'must name the header to hash');
        }
        return { Field: 'header' as const, FieldValue: value };
      });
    }
    if (policy === 'ring_hash' && !out.HashPolicies) {
      throw badField(lb.field('HashPolicies'), 'must name a header to hash for Policy "ring_hash"');
    }
    if (Object.keys(out).length > 0) entry.LoadBalancer = out;
  }
  const failover = decodeFailover(f);
  if (failover) entry.Failover = failover;
  const weights = decodeZoneWeights(f);
  if (weights) entry.ZoneWeights = weights;
  return entry;
}

function decodeSplitter(f: EntryFields): ServiceSplitterEntry {
  const b = base(f);
  const raw = f.optionalList('Splits', 64);
  if (!raw || raw.length === 0) throw badField('Splits', 'must have at least one split');
  const seen = new Set<string>();
  let total = 0;
  const splits = raw.map((s, i): SplitterSplit => {
    const sf = new EntryFields(s, `Splits[${i}]`, [
      'Weight',
      'ServiceSubset',
      'Service',
      'Namespace',
    ]);
    const weight = sf.optionalNumber('Weight', 0, 100) ?? 0;
    // Consul keeps two decimals of a weight (0.01% steps).
    if (Math.abs(Math.round(weight * 100) - weight * 100) > 1e-6) {
      throw badField(sf.field('Weight'), 'may have at most two decimals');
    }
    total += weight;
    const split: SplitterSplit = { Weight: weight };
    const service = label(sf, 'Service');
    if (service !== undefined) split.Service = service;
    const subset = label(sf, 'ServiceSubset');
    if (subset !== undefined) split.ServiceSubset = subset;
    const ns = label(sf, 'Namespace');
    if (ns !== undefined) split.Namespace = ns;
    const key = `${service ?? b.Name}/${ns ?? b.Namespace}/${subset ?? ''}`;
    if (seen.has(key))
      throw badField(`Splits[${i}]`, 'sends to the same destination as an earlier split');
    seen.add(key);
    return split;
  });
  if (Math.abs(total - 100) > 0.01) {
    throw badField(
      'Splits',
      `weights must sum to 100 (they sum to ${Math.round(total * 100) / 100})`,
    );
  }
  return { Kind: 'service-splitter', ...b, Splits: splits };
}

function decodeHttp(f: EntryFields, path: string): HttpCondition {
  const out: HttpCondition = {};
  const exact = f.optionalText('PathExact', 1024);
  const prefix = f.optionalText('PathPrefix', 1024);
  if (exact !== undefined && prefix !== undefined) {
    throw badField(`${path}.PathExact`, 'and PathPrefix cannot both be set');
  }
  for (const [name, v] of [
    ['PathExact', exact],
    ['PathPrefix', prefix],
  ] as const) {
    if (v === undefined) continue;
    if (!v.startsWith('/'))
      throw badField(`${path}.${name}`, `must start with "/" (got ${JSON.stringify(v)})`);
    out[name] = v;
  }
  const headers = f.optionalList('Header', 32);
  if (headers && headers.length > 0) {
    out.Header = headers.map((h, i): HeaderCondition => {
      const hf = new EntryFields(h, `${path}.Header[${i}]`, [
        'Name',
        'Present',
        'Exact',
        'Prefix',
        'Invert',
      ]);
      const name = hf.optionalText('Name', 256);
      if (name === undefined || !HEADER.test(name))
        throw badField(hf.field('Name'), 'must be a header name');
      const cond: HeaderCondition = { Name: name };
      const present = hf.optionalBoolean('Present');
      const hExact = hf.optionalString('Exact', 4096);
      const hPrefix = hf.optionalString('Prefix', 4096);
      const set = [present === true, hExact !== undefined, hPrefix !== undefined].filter(
        Boolean,
      ).length;
      if (set !== 1) throw badField(hf.path, 'must set exactly one of Present, Exact, Prefix');
      if (present === true) cond.Present = true;
      if (hExact !== undefined) cond.Exact = hExact;
      if (hPrefix !== undefined) cond.Prefix = hPrefix;
      if (hf.optionalBoolean('Invert') === true) cond.Invert = true;
      return cond;
    });
  }
  const methods = f.optionalList('Methods', 16);
  if (methods && methods.length > 0) {
    const seen = new Set<string>();
    out.Methods = methods.map((m, i) => {
      if (typeof m !== 'string' || !METHOD.test(m)) {
        throw badField(
          `${path}.Methods[${i}]`,
          `must be an upper-case HTTP method, got ${JSON.stringify(m)}`,
        );
      }
      if (seen.has(m)) throw badField(`${path}.Methods[${i}]`, `repeats ${m}`);
      seen.add(m);
      return m;
    });
  }
  return out;
}

function decodeFault(f: EntryFields): RouteFault | undefined {
  const out: RouteFault = {};
  const delay = f.optionalObject('Delay', ['Percent', 'Duration']);
  if (delay) {
    const duration = delay.optionalDuration('Duration', { maxMs: HOUR_MS });
    if (duration === undefined) throw badField(delay.field('Duration'), 'is required');
    out.Delay = { Percent: delay.optionalNumber('Percent', 0, 100) ?? 0, Duration: duration };
  }
  const abort = f.optionalObject('Abort', ['Percent', 'HttpStatus']);
  if (abort) {
    const status = abort.optionalInteger('HttpStatus', 200, 599);
    if (status === undefined) throw badField(abort.field('HttpStatus'), 'is required');
    out.Abort = { Percent: abort.optionalNumber('Percent', 0, 100) ?? 0, HttpStatus: status };
  }
  return out.Delay || out.Abort ? out : undefined;
}

function decodeDestination(f: EntryFields): RouteDestination {
  const out: RouteDestination = {};
  const service = label(f, 'Service');
  if (service !== undefined) out.Service = service;
  const subset = label(f, 'ServiceSubset');
  if (subset !== undefined) out.ServiceSubset = subset;
  const ns = label(f, 'Namespace');
  if (ns !== undefined) out.Namespace = ns;
  const timeout = f.optionalDuration('RequestTimeout', { maxMs: HOUR_MS });
  if (timeout !== undefined) out.RequestTimeout = timeout;
  const retries = f.optionalInteger('NumRetries', 0, 10);
  if (retries !== undefined) out.NumRetries = retries;
  if (f.optionalBoolean('RetryOnConnectFailure') === true) out.RetryOnConnectFailure = true;
  const codes = f.optionalList('RetryOnStatusCodes', 32);
  if (codes && codes.length > 0) {
    out.RetryOnStatusCodes = codes.map((c, i) => {
      if (typeof c !== 'number' || !Number.isInteger(c) || c < 100 || c > 599) {
        throw badField(
          `${f.field('RetryOnStatusCodes')}[${i}]`,
          `must be an HTTP status code, got ${JSON.stringify(c)}`,
        );
      }
      return c;
    });
  }
  const fault = f.optionalObject('Fault', ['Delay', 'Abort']);
  if (fault) {
    const decoded = decodeFault(fault);
    if (decoded) out.Fault = decoded;
  }
  return out;
}

function decodeRouter(f: EntryFields): ServiceRouterEntry {
  const b = base(f);
  const raw = f.optionalList('Routes', MAX_ROUTES) ?? [];
  const routes = raw.map((r, i): RouterRoute => {
    const rf = new EntryFields(r, `Routes[${i}]`, ['Match', 'Destination']);
    const route: RouterRoute = {};
    const match = rf.optionalObject('Match', ['HTTP']);
    const http = match?.optionalObject('HTTP', [...HTTP_FIELDS, 'QueryParam']);
    if (http?.has('QueryParam'))
      throw badField(http.field('QueryParam'), 'is not supported by Causeway');
    if (http) {
      const cond = decodeHttp(http, http.path);
      if (Object.keys(cond).length > 0) route.Match = { HTTP: cond };
    }
    const dest = rf.optionalObject('Destination', [
      'Service',
      'ServiceSubset',
      'Namespace',
      'RequestTimeout',
      'NumRetries',
      'RetryOnConnectFailure',
      'RetryOnStatusCodes',
      'Fault',
    ]);
    if (dest) route.Destination = decodeDestination(dest);
    return route;
  });
  return { Kind: 'service-router', ...b, Routes: routes };
}

/** Consul's precedence of a source for an exact destination (see `intentionPrecedence`). */
function decodeIntentions(f: EntryFields): ServiceIntentionsEntry {
  const b = base(f, true);
  const raw = f.optionalList('Sources', MAX_SOURCES) ?? [];
  const seen = new Set<string>();
  const sources = raw.map((s, i): IntentionSource => {
    const at = `Sources[${i}]`;
    const sf = new EntryFields(s, at, [
      'Name',
      'Namespace',
      'Partition',
      'Peer',
      'SamenessGroup',
      'Zone',
      'Action',
      'Permissions',
      'Description',
      'Precedence',
      'Type',
      'LegacyID',
      'LegacyMeta',
      'LegacyCreateTime',
      'LegacyUpdateTime',
    ]);
    for (const unsupported of ['Peer', 'SamenessGroup']) {
      if (sf.optionalText(unsupported) !== undefined) {
        throw badField(sf.field(unsupported), 'is not supported by Causeway; use Zone');
      }
    }
    const type = sf.optionalText('Type');
    if (type !== undefined && type !== 'consul')
      throw badField(sf.field('Type'), 'must be "consul"');
    const name = sf.optionalText('Name', 63);
    if (name === undefined) throw badField(sf.field('Name'), 'is required (a service name or "*")');
    const source: IntentionSource = {
      Name: checkEntryName(name, sf.field('Name'), true),
      Namespace: 'default',
    };
    const ns = sf.optionalText('Namespace', 63);
    if (ns !== undefined) source.Namespace = checkEntryName(ns, sf.field('Namespace'), true);
    if (source.Namespace === '*' && source.Name !== '*') {
      throw badField(sf.field('Name'), 'must be "*" when Namespace is "*"');
    }
    const zone = label(sf, 'Zone');
    if (zone !== undefined) source.Zone = zone;
    const action = sf.optionalEnum('Action', ['allow', 'deny'] as const);
    const perms = sf.optionalList('Permissions', 64);
    if (action !== undefined && perms && perms.length > 0) {
      throw badField(sf.field('Action'), 'must be empty if Permissions are set');
    }
    if (action === undefined && (!perms || perms.length === 0)) {
      throw badField(sf.field('Action'), 'is required (allow or deny) unless Permissions are set');
    }
    if (action) source.Action = action;
    if (perms && perms.length > 0) {
      source.Permissions = perms.map((p, j): IntentionPermission => {
        const pf = new EntryFields(p, `${at}.Permissions[${j}]`, ['Action', 'HTTP']);
        const pAction = pf.optionalEnum('Action', ['allow', 'deny'] as const);
        if (pAction === undefined)
          throw badField(pf.field('Action'), 'is required (allow or deny)');
        const http = pf.optionalObject('HTTP', HTTP_FIELDS);
        if (!http) throw badField(pf.field('HTTP'), 'is required');
        const cond = decodeHttp(http, http.path);
        if (Object.keys(cond).length === 0) {
          throw badField(
            http.path,
            'must set at least one of PathExact, PathPrefix, Header, Methods',
          );
        }
        return { Action: pAction, HTTP: cond };
      });
    }
    const description = sf.optionalText('Description', 512);
    if (description !== undefined) source.Description = description;
    const key = `${source.Name}/${source.Namespace}/${source.Zone ?? ''}`;
    if (seen.has(key)) throw badField(at, `repeats source ${JSON.stringify(source.Name)}`);
    seen.add(key);
    source.Precedence = intentionPrecedence(source, b.Name);
    return source;
  });
  return { Kind: 'service-intentions', ...b, Sources: sources };
}

/**
 * Consul's intention precedence (higher is evaluated first): exact destination beats `*`,
 * then exact source name beats `*` name beats `*` namespace. Causeway adds one step
 * inside each: a source naming a `Zone` ranks above the same source without one.
 */
export function intentionPrecedence(
  source: Pick<IntentionSource, 'Name' | 'Namespace'>,
  destination: string,
): number {
  const src = source.Namespace === '*' ? 0 : source.Name === '*' ? 1 : 2;
  const dst = destination === '*' ? 0 : 1;
  return 3 * (dst + 1) + src + 1;
}
