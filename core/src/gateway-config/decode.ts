/**
 * Checks a gateway config, from a bootstrap file or (later) the zone's config stream, and
 * fills in the defaults. Like `decodeProxyConfig`, every error names the field by its full
 * path (`services[2].exportedTo[0]`), and cross-references (unique services and peer
 * zones, no peer for the gateway's own zone) are checked here rather than half-way
 * through applying the config. Unknown fields are ignored, as in proxy snapshots, so an
 * older gateway accepts a newer zone's config.
 */
import { isDnsLabel, validateTrustDomain } from '../ca/spiffe.ts';
import { HEALTH_STATUSES } from '../catalog/types.ts';
import { InvalidArgumentError } from '../errors.ts';
import { defaultTunnelSettings } from './defaults.ts';
import type {
  GatewayConfig,
  GatewayEndpoint,
  GatewayPeer,
  GatewayService,
  PeerGateway,
  TunnelSettings,
} from './types.ts';

const DAY_MS = 86_400_000;

/** Check a gateway config and return it with defaults filled in. @throws InvalidArgumentError */
export function decodeGatewayConfig(value: unknown): GatewayConfig {
  const f = new Reader(value, '');
  const zone = f.label('zone');
  let trustDomain: string;
  try {
    trustDomain = validateTrustDomain(f.raw('trustDomain'), 'trustDomain');
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message, 'trustDomain');
  }
  const services = f.list('services', 0, 10_000, decodeService, []);
  const seen = new Set<string>();
  services.forEach((s, i) => {
    const key = `${s.namespace}/${s.service}`;
    if (seen.has(key)) {
      throw new InvalidArgumentError(`services[${i}]: ${key} is listed twice`, `services[${i}]`);
    }
    seen.add(key);
  });
  const peers = f.list('peers', 0, 1_000, decodePeer, []);
  const peerZones = new Set<string>();
  peers.forEach((p, i) => {
    const at = `peers[${i}].zone`;
    if (p.zone === zone) {
      throw new InvalidArgumentError(`${at}: ${zone} is the gateway's own zone`, at);
    }
    if (peerZones.has(p.zone))
      throw new InvalidArgumentError(`${at}: ${p.zone} is listed twice`, at);
    peerZones.add(p.zone);
  });
  const config: GatewayConfig = {
    zone,
    trustDomain,
    services,
    peers,
    tunnels: decodeTunnels(f.object('tunnels', {})),
  };
  const version = f.optionalString('version', 256);
  if (version !== undefined) config.version = version;
  return config;
}

function decodeService(f: Reader): GatewayService {
  const exportedTo = f.values(
    'exportedTo',
    0,
    1_000,
    (raw, at) => {
      if (raw !== '*' && !isDnsLabel(raw)) {
        throw new InvalidArgumentError(`${at} must be a zone name (a DNS label) or *`, at);
      }
      return raw;
    },
    [],
  );
  if (exportedTo.includes('*') && exportedTo.length > 1) {
    throw new InvalidArgumentError(
      `${f.at('exportedTo')}: * (every zone) stands alone`,
      f.at('exportedTo'),
    );
  }
  if (new Set(exportedTo).size !== exportedTo.length) {
    throw new InvalidArgumentError(`${f.at('exportedTo')} names a zone twice`, f.at('exportedTo'));
  }
  return {
    service: f.label('service'),
    namespace: f.label('namespace', 'default'),
    exportedTo,
    endpoints: f.list('endpoints', 0, 100_000, decodeEndpoint, []),
  };
}

function decodeEndpoint(f: Reader): GatewayEndpoint {
  return {
    address: f.string('address', 255),
    port: f.integer('port', 1, 65535),
    health: f.oneOf('health', HEALTH_STATUSES, 'passing'),
    instanceId: f.string('instanceId', 256),
  };
}

function decodePeer(f: Reader): GatewayPeer {
  const gateways = f.list('gateways', 1, 64, decodePeerGateway);
  const names = new Set<string>();
  gateways.forEach((g, i) => {
    const at = `${f.at('gateways')}[${i}].name`;
    if (names.has(g.name)) throw new InvalidArgumentError(`${at}: ${g.name} is listed twice`, at);
    names.add(g.name);
  });
  return { zone: f.label('zone'), gateways };
}

function decodePeerGateway(f: Reader): PeerGateway {
  return {
    name: f.label('name'),
    address: f.string('address', 255),
    port: f.integer('port', 1, 65535),
  };
}

function decodeTunnels(f: Reader): TunnelSettings {
  const d = defaultTunnelSettings();
  return {
    maxSessionsPerPeer: f.integer('maxSessionsPerPeer', 1, 64, d.maxSessionsPerPeer),
    maxStreamsPerSession: f.integer('maxStreamsPerSession', 1, 10_000, d.maxStreamsPerSession),
    idleTimeoutMs: f.integer('idleTimeoutMs', 1, DAY_MS, d.idleTimeoutMs),
    connectTimeoutMs: f.integer('connectTimeoutMs', 1, 600_000, d.connectTimeoutMs),
  };
}

/** Reads one object's fields, naming each by its full path in errors. */
class Reader {
  readonly #value: Record<string, unknown>;
  readonly #path: string;

  constructor(value: unknown, path: string) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentError(`${path || 'config'} must be an object`, path || 'config');
    }
    this.#value = value as Record<string, unknown>;
    this.#path = path;
  }

  at(key: string): string {
    return this.#path === '' ? key : `${this.#path}.${key}`;
  }

  raw(key: string): unknown {
    return this.#value[key];
  }

  object(key: string, fallback?: Record<string, unknown>): Reader {
    const v = this.#value[key] ?? fallback;
    if (v === undefined)
      throw new InvalidArgumentError(`${this.at(key)} is required`, this.at(key));
    return new Reader(v, this.at(key));
  }

  list<T>(key: string, min: number, max: number, each: (item: Reader) => T, fallback?: T[]): T[] {
    return this.values(key, min, max, (raw, at) => each(new Reader(raw, at)), fallback);
  }

  values<T>(
    key: string,
    min: number,
    max: number,
    each: (raw: unknown, at: string) => T,
    fallback?: T[],
  ): T[] {
    const v = this.#value[key];
    if (v === undefined && fallback !== undefined) return [...fallback];
    if (!Array.isArray(v) || v.length < min || v.length > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a list of ${min} to ${max} items`,
        this.at(key),
      );
    }
    return v.map((raw: unknown, i) => each(raw, `${this.at(key)}[${i}]`));
  }

  string(key: string, max: number): string {
    const v = this.optionalString(key, max);
    if (v === undefined)
      throw new InvalidArgumentError(`${this.at(key)} is required`, this.at(key));
    return v;
  }

  optionalString(key: string, max: number): string | undefined {
    const v = this.#value[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length === 0 || v.length > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a non-empty string of at most ${max} characters`,
        this.at(key),
      );
    }
    return v;
  }

  label(key: string, fallback?: string): string {
    const v = this.#value[key] ?? fallback;
    if (!isDnsLabel(v)) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be a lowercase DNS label (got ${JSON.stringify(v)})`,
        this.at(key),
      );
    }
    return v;
  }

  integer(key: string, min: number, max: number, fallback?: number): number {
    const v = this.#value[key] ?? fallback;
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be an integer from ${min} to ${max}`,
        this.at(key),
      );
    }
    return v as number;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], fallback?: T): T {
    const v = this.#value[key] ?? fallback;
    if (!allowed.includes(v as T)) {
      throw new InvalidArgumentError(
        `${this.at(key)} must be one of ${allowed.join(', ')}`,
        this.at(key),
      );
    }
    return v as T;
  }
}
