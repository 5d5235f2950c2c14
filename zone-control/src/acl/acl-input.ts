/**
 * Request bodies of the token and policy endpoints, checked field by field. Consul decodes
 * them with Go's `encoding/json`, so field names match case-insensitively and unknown
 * fields are ignored; a field of the wrong type is a 400 naming it ("Token decoding
 * failed: Description must be a string").
 */
import { InvalidArgumentError } from '../../../core/index.ts';
import { parseGoDuration } from '../http/go-duration.ts';
import type { NodeIdentity, ServiceIdentity } from './acl-records.ts';

type Body = Record<string, unknown>;

/** A policy named by ID or by name, as in `"Policies": [{"ID": …}, {"Name": …}]`. */
export interface PolicyLinkInput {
  id?: string;
  name?: string;
}

export interface TokenInput {
  accessorId?: string;
  secretId?: string;
  description: string;
  policies: PolicyLinkInput[];
  /** Consul roles; Causeway has none, so any link names a role that does not exist. */
  roles: PolicyLinkInput[];
  serviceIdentities: ServiceIdentity[];
  nodeIdentities: NodeIdentity[];
  rules: string;
  local: boolean;
  expirationTime?: string;
  expirationTtlMs?: number;
  /** Set only to be refused, as Consul does outside login / for legacy tokens. */
  authMethod?: string;
  type?: string;
}

export interface PolicyInput {
  id?: string;
  name: string;
  description: string;
  rules: string;
  datacenters: string[];
}

class Fields {
  constructor(
    private readonly body: Body,
    private readonly what: string,
    private readonly path = '',
  ) {}

  private bad(name: string, expected: string): never {
    const field = `${this.path}${name}`;
    throw new InvalidArgumentError(
      `${this.what} decoding failed: ${field} must be ${expected}`,
      field,
    );
  }

  /** Go's decoder matches field names case-insensitively; the exact spelling wins. */
  raw(name: string): unknown {
    if (name in this.body) return this.body[name];
    const lower = name.toLowerCase();
    const key = Object.keys(this.body).find((k) => k.toLowerCase() === lower);
    return key === undefined ? undefined : this.body[key];
  }

  string(name: string): string | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null) return undefined;
    return typeof v === 'string' ? v : this.bad(name, 'a string');
  }

  bool(name: string): boolean | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null) return undefined;
    return typeof v === 'boolean' ? v : this.bad(name, 'true or false');
  }

  strings(name: string): string[] {
    const v = this.raw(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      return this.bad(name, 'a list of strings');
    }
    return v as string[];
  }

  objects(name: string): Fields[] {
    const v = this.raw(name);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) return this.bad(name, 'a list of objects');
    return v.map((o, i) => {
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        return this.bad(`${name}[${i}]`, 'an object');
      }
      return new Fields(o as Body, this.what, `${this.path}${name}[${i}].`);
    });
  }

  /** Go's `time.Duration` decodes from nanoseconds; Consul's API also takes `"60s"`. */
  durationMs(name: string): number | undefined {
    const v = this.raw(name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'number' && Number.isFinite(v)) return v / 1e6;
    const ms = typeof v === 'string' ? parseGoDuration(v.replace(/^-/, '')) : undefined;
    if (ms === undefined) return this.bad(name, 'a duration such as "60s" or "24h"');
    return typeof v === 'string' && v.startsWith('-') ? -ms : ms;
  }

  time(name: string): string | undefined {
    const s = this.string(name);
    if (s === undefined || s === '' || s.startsWith('0001-01-01')) return undefined;
    if (Number.isNaN(Date.parse(s))) return this.bad(name, 'an RFC 3339 time');
    return new Date(s).toISOString();
  }
}

function asBody(body: unknown, what: string): Body {
  if (body === undefined) return {};
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError(
      `${what} decoding failed: the body must be a JSON object`,
      'body',
    );
  }
  return body as Body;
}

function links(list: Fields[]): PolicyLinkInput[] {
  return list.map((f) => {
    const id = f.string('ID');
    const name = f.string('Name');
    return { ...(id ? { id } : {}), ...(name ? { name } : {}) };
  });
}

export function parseTokenInput(body: unknown): TokenInput {
  const f = new Fields(asBody(body, 'Token'), 'Token');
  const input: TokenInput = {
    description: f.string('Description') ?? '',
    policies: links(f.objects('Policies')),
    roles: links(f.objects('Roles')),
    serviceIdentities: f.objects('ServiceIdentities').map((s) => {
      const dcs = s.strings('Datacenters');
      return {
        ServiceName: s.string('ServiceName') ?? '',
        ...(dcs.length > 0 ? { Datacenters: dcs } : {}),
      };
    }),
    nodeIdentities: f.objects('NodeIdentities').map((n) => ({
      NodeName: n.string('NodeName') ?? '',
      Datacenter: n.string('Datacenter') ?? '',
    })),
    rules: f.string('Rules') ?? '',
    local: f.bool('Local') ?? false,
  };
  const optional = {
    accessorId: f.string('AccessorID'),
    secretId: f.string('SecretID'),
    expirationTime: f.time('ExpirationTime'),
    expirationTtlMs: f.durationMs('ExpirationTTL'),
    authMethod: f.string('AuthMethod'),
    type: f.string('Type'),
  };
  for (const [k, v] of Object.entries(optional)) {
    if (v !== undefined && v !== '' && v !== 0) Object.assign(input, { [k]: v });
  }
  return input;
}

export function parsePolicyInput(body: unknown): PolicyInput {
  const f = new Fields(asBody(body, 'Policy'), 'Policy');
  const id = f.string('ID');
  return {
    ...(id ? { id } : {}),
    name: f.string('Name') ?? '',
    description: f.string('Description') ?? '',
    rules: f.string('Rules') ?? '',
    datacenters: f.strings('Datacenters'),
  };
}

/** `PUT /v1/acl/bootstrap` may carry `{"BootstrapSecret": "<uuid>"}`. */
export function parseBootstrapInput(body: unknown): { secret?: string } {
  const f = new Fields(asBody(body, 'Request'), 'Request');
  const secret = f.string('BootstrapSecret');
  return secret ? { secret } : {};
}
