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
import { Fields } from '../decode/fields.ts';
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
  const f = new Fields(value, '');
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

function decodeService(f: Fields): GatewayService {
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

function decodeEndpoint(f: Fields): GatewayEndpoint {
  return {
    address: f.string('address', 255),
    port: f.integer('port', 1, 65535),
    health: f.oneOf('health', HEALTH_STATUSES, 'passing'),
    instanceId: f.string('instanceId', 256),
  };
}

function decodePeer(f: Fields): GatewayPeer {
  const gateways = f.list('gateways', 1, 64, decodePeerGateway);
  const names = new Set<string>();
  gateways.forEach((g, i) => {
    const at = `${f.at('gateways')}[${i}].name`;
    if (names.has(g.name)) throw new InvalidArgumentError(`${at}: ${g.name} is listed twice`, at);
    names.add(g.name);
  });
  return { zone: f.label('zone'), gateways };
}

function decodePeerGateway(f: Fields): PeerGateway {
  return {
    name: f.label('name'),
    address: f.string('address', 255),
    port: f.integer('port', 1, 65535),
  };
}

function decodeTunnels(f: Fields): TunnelSettings {
  const d = defaultTunnelSettings();
  return {
    maxSessionsPerPeer: f.integer('maxSessionsPerPeer', 1, 64, d.maxSessionsPerPeer),
    maxStreamsPerSession: f.integer('maxStreamsPerSession', 1, 10_000, d.maxStreamsPerSession),
    idleTimeoutMs: f.integer('idleTimeoutMs', 1, DAY_MS, d.idleTimeoutMs),
    connectTimeoutMs: f.integer('connectTimeoutMs', 1, 600_000, d.connectTimeoutMs),
  };
}
