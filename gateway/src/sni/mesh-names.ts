/**
 * The names a gateway routes on, as SNI or as an HTTP/2 CONNECT authority:
 *
 * - a destination: `<service>.<namespace>.<zone>.<trustDomain>` (what a proxy sends to
 *   reach an instance of that service in that zone);
 * - a gateway: `gateway.<zone>.<trustDomain>` (a peer gateway opening a tunnel).
 *
 * Labels are DNS labels and the trust domain has dots of its own, so a name is read
 * against the trust domain we know rather than split blindly.
 */
import { isDnsLabel } from '../../../core/index.ts';

export type MeshName =
  | { kind: 'destination'; service: string; namespace: string; zone: string }
  | { kind: 'gateway'; zone: string };

/** Parse `name` (lowercase, no port) within `trustDomain`, or undefined when it is neither. */
export function parseMeshName(name: string, trustDomain: string): MeshName | undefined {
  const suffix = `.${trustDomain}`;
  if (!name.endsWith(suffix)) return undefined;
  const labels = name.slice(0, -suffix.length).split('.');
  if (!labels.every(isDnsLabel)) return undefined;
  const [a = '', b = '', c = ''] = labels;
  if (labels.length === 2 && a === 'gateway') return { kind: 'gateway', zone: b };
  if (labels.length === 3) return { kind: 'destination', service: a, namespace: b, zone: c };
  return undefined;
}

/** `<service>.<namespace>.<zone>.<trustDomain>`. */
export function destinationName(
  d: { service: string; namespace: string; zone: string },
  trustDomain: string,
): string {
  return `${d.service}.${d.namespace}.${d.zone}.${trustDomain}`;
}

/** `gateway.<zone>.<trustDomain>`: the SNI a tunnel to that zone's gateways carries. */
export function gatewayName(zone: string, trustDomain: string): string {
  return `gateway.${zone}.${trustDomain}`;
}

/**
 * The host of a CONNECT `:authority` (`host:port`, RFC 9113 §8.5), lowercased; undefined
 * when it has no port.
 */
export function authorityHost(authority: string | undefined): string | undefined {
  if (authority === undefined) return undefined;
  const match = /^([^:[\]]+):(\d{1,5})$/.exec(authority);
  return match ? (match[1] as string).toLowerCase() : undefined;
}
