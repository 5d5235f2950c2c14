/**
 * SPIFFE IDs for Causeway identities, carried as the only URI SAN of every leaf.
 *
 * - workloads: `spiffe://<trust-domain>/zone/<zone>/ns/<namespace>/svc/<service>`
 * - gateways: `spiffe://<trust-domain>/zone/<zone>/gateway/<name>`
 * - zone control planes: `spiffe://<trust-domain>/zone/<zone>/control`
 * - the global control plane: `spiffe://<trust-domain>/global`
 *
 * The zone is always the first path element of a zone identity, so one prefix
 * (`…/zone/<zone>/`) covers everything a zone's intermediate CA may sign. The global's
 * identity lies outside every zone: only the root signs it (see `global-identity.ts`).
 * See https://spiffe.io/docs/latest/spiffe-about/spiffe-concepts/
 */
import { InvalidArgumentError } from '../errors.ts';

/** An identity inside one zone: what a zone intermediate may sign. */
export type ZoneSpiffeId =
  | { kind: 'workload'; trustDomain: string; zone: string; namespace: string; service: string }
  | { kind: 'gateway'; trustDomain: string; zone: string; name: string }
  | { kind: 'control'; trustDomain: string; zone: string };

/** The global control plane's identity: no zone, signed directly by the root. */
export interface GlobalSpiffeId {
  kind: 'global';
  trustDomain: string;
}

export type SpiffeId = ZoneSpiffeId | GlobalSpiffeId;

// SPIFFE allows [a-z0-9._-] in a trust domain; we keep names to DNS labels so the same
// strings work as Kubernetes names and in metrics labels.
const trustDomainPattern =
  /^(?=.{1,255}$)[a-z0-9]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9_-]*[a-z0-9])?)*$/;
/**
 * A lowercase DNS label (RFC 1123): 1-63 letters, digits and inner hyphens. Service,
 * namespace, zone and subset names are labels so they fit SPIFFE IDs, SNI and metrics.
 */
export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** Whether `value` is a lowercase DNS label (see {@link DNS_LABEL}). */
export function isDnsLabel(value: unknown): value is string {
  return typeof value === 'string' && DNS_LABEL.test(value);
}

/** @throws InvalidArgumentError naming `field` unless `value` is a valid trust domain. */
export function validateTrustDomain(value: unknown, field = 'trustDomain'): string {
  if (typeof value !== 'string' || !trustDomainPattern.test(value)) {
    throw new InvalidArgumentError(
      `${field} must be a lowercase trust domain like "mesh.example" (got ${JSON.stringify(value)})`,
      field,
    );
  }
  return value;
}

/** @throws InvalidArgumentError naming `field` unless `value` is a lowercase DNS label. */
export function validateSpiffeSegment(value: unknown, field: string): string {
  if (!isDnsLabel(value)) {
    throw new InvalidArgumentError(
      `${field} must be a lowercase DNS label of 1-63 letters, digits and inner hyphens (got ${JSON.stringify(value)})`,
      field,
    );
  }
  return value;
}

/** Render a SPIFFE ID after validating every part. */
export function formatSpiffeId(id: SpiffeId): string {
  if (id.kind === 'global') return globalSpiffeId(id.trustDomain);
  const base = `${zonePrefix(id.trustDomain, id.zone)}`;
  switch (id.kind) {
    case 'workload':
      return `${base}ns/${validateSpiffeSegment(id.namespace, 'namespace')}/svc/${validateSpiffeSegment(id.service, 'service')}`;
    case 'gateway':
      return `${base}gateway/${validateSpiffeSegment(id.name, 'name')}`;
    case 'control':
      return `${base}control`;
    default: {
      const kind = (id as { kind: unknown }).kind;
      throw new InvalidArgumentError(`unknown SPIFFE ID kind ${JSON.stringify(kind)}`, 'kind');
    }
  }
}

/** `spiffe://<td>/zone/<zone>/`: the prefix of every identity in a zone. */
export function zonePrefix(trustDomain: string, zone: string): string {
  return `spiffe://${validateTrustDomain(trustDomain)}/zone/${validateSpiffeSegment(zone, 'zone')}/`;
}

/** `spiffe://<td>/global`: the global control plane's identity. */
export function globalSpiffeId(trustDomain: string): string {
  return `spiffe://${validateTrustDomain(trustDomain)}/global`;
}

/**
 * Parse any Causeway SPIFFE ID, the global control plane's included. Use it where the
 * global's identity is acceptable; everywhere else {@link parseSpiffeId} refuses it.
 *
 * @throws InvalidArgumentError naming `field` (or the bad part) when malformed.
 */
export function parseAnySpiffeId(value: unknown, field = 'spiffeId'): SpiffeId {
  const global = typeof value === 'string' ? /^spiffe:\/\/([^/]+)\/global$/.exec(value) : null;
  if (global) {
    return { kind: 'global', trustDomain: validateTrustDomain(global[1], `${field}.trustDomain`) };
  }
  return parseSpiffeId(value, field);
}

/**
 * Parse a zone identity (workload, gateway or zone control plane) into its typed parts.
 * The global control plane's ID is refused here: every caller so far checks a peer or a
 * CSR that must belong to a zone (see {@link parseAnySpiffeId}).
 *
 * @param field - the input the value came from, named in the error.
 * @throws InvalidArgumentError naming `field` (or the bad part) when malformed or global.
 */
export function parseSpiffeId(value: unknown, field = 'spiffeId'): ZoneSpiffeId {
  if (typeof value !== 'string') {
    throw new InvalidArgumentError(`${field} must be a string`, field);
  }
  if (/^spiffe:\/\/[^/]+\/global$/.test(value)) {
    throw new InvalidArgumentError(
      `${field} ${JSON.stringify(value)} is the global control plane's identity; a zone identity (spiffe://<trust-domain>/zone/<zone>/…) is expected here`,
      field,
    );
  }
  const match = /^spiffe:\/\/([^/]+)\/zone\/([^/]+)\/(.+)$/.exec(value);
  if (!match) {
    throw new InvalidArgumentError(
      `${field} must look like spiffe://<trust-domain>/zone/<zone>/… (got ${JSON.stringify(value)})`,
      field,
    );
  }
  const [, td = '', zoneName = '', rest = ''] = match;
  const trustDomain = validateTrustDomain(td, `${field}.trustDomain`);
  const zone = validateSpiffeSegment(zoneName, `${field}.zone`);
  const parts = rest.split('/');
  if (parts.length === 1 && parts[0] === 'control') return { kind: 'control', trustDomain, zone };
  if (parts.length === 2 && parts[0] === 'gateway') {
    return {
      kind: 'gateway',
      trustDomain,
      zone,
      name: validateSpiffeSegment(parts[1], `${field}.name`),
    };
  }
  if (parts.length === 4 && parts[0] === 'ns' && parts[2] === 'svc') {
    return {
      kind: 'workload',
      trustDomain,
      zone,
      namespace: validateSpiffeSegment(parts[1], `${field}.namespace`),
      service: validateSpiffeSegment(parts[3], `${field}.service`),
    };
  }
  throw new InvalidArgumentError(
    `${field} path must be /zone/<zone>/ns/<namespace>/svc/<service>, /zone/<zone>/gateway/<name> or /zone/<zone>/control (got ${JSON.stringify(value)})`,
    field,
  );
}

/** True when `value` parses as a Causeway zone SPIFFE ID (not the global's). */
export function isSpiffeId(value: unknown): value is string {
  try {
    parseSpiffeId(value);
    return true;
  } catch {
    return false;
  }
}
