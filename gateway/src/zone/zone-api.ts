/**
 * The calls a gateway makes to its zone control plane's HTTP API: its config (a blocking
 * query), its leaf (a CSR; the key never leaves the gateway), the trust bundle (blocking),
 * and its catalog registration with a TTL check — the same APIs a Consul client uses, so a
 * gateway needs no connection of its own kind.
 */
import { ConfigError, decodeGatewayConfig } from '../../../core/index.ts';
import type { GatewayConfig } from '../../../core/index.ts';

export interface BundleReply {
  index: number;
  roots: string[];
  revokedSerials: string[];
  bundleVersion: number;
}

export interface LeafReply {
  certificatePem: string;
  chainPem: string;
  notBefore: Date;
  notAfter: Date;
  issuedAt: Date;
}

export class ZoneApi {
  readonly #base: string;

  constructor(
    zoneControl: string,
    private readonly token: string | undefined,
  ) {
    let url: URL;
    try {
      url = new URL(zoneControl);
    } catch {
      throw new ConfigError(
        `--zone-control must be a URL like http://127.0.0.1:8500`,
        'zoneControl',
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(
        `--zone-control must be the zone's HTTP API, http(s)://host:port (got ${zoneControl})`,
        'zoneControl',
      );
    }
    this.#base = url.origin;
  }

  /** The gateway's config; with `index`, waits (up to `wait`) for a newer one. */
  async config(
    name: string,
    options: { index?: number; signal?: AbortSignal } = {},
  ): Promise<{ index: number; config: GatewayConfig }> {
    const query = options.index ? `?index=${options.index}&wait=60s` : '';
    const res = await this.#call(
      'GET',
      `/api/gateways/${name}/config${query}`,
      undefined,
      options.signal,
    );
    return { index: indexOf(res.headers), config: decodeGatewayConfig(res.body) };
  }

  async bundle(options: { index?: number; signal?: AbortSignal } = {}): Promise<BundleReply> {
    const query = options.index ? `?index=${options.index}&wait=60s` : '';
    const res = await this.#call('GET', `/api/ca/bundle${query}`, undefined, options.signal);
    const body = res.body as { roots: string[]; revokedSerials: string[]; bundleVersion: number };
    return { index: indexOf(res.headers), ...body };
  }

  async leaf(spiffeId: string, csr: string): Promise<LeafReply> {
    const res = await this.#call('POST', '/api/ca/leaf', { spiffeId, csr });
    const body = res.body as Record<string, string>;
    return {
      certificatePem: String(body.certificatePem),
      chainPem: String(body.chainPem),
      notBefore: new Date(String(body.notBefore)),
      notAfter: new Date(String(body.notAfter)),
      issuedAt: new Date(String(body.issuedAt)),
    };
  }

  async register(registration: Record<string, unknown>): Promise<void> {
    await this.#call('PUT', '/v1/agent/service/register', registration);
  }

  async passCheck(checkId: string): Promise<void> {
    await this.#call('PUT', `/v1/agent/check/pass/${encodeURIComponent(checkId)}`);
  }

  async deregister(serviceId: string): Promise<void> {
    await this.#call('PUT', `/v1/agent/service/deregister/${encodeURIComponent(serviceId)}`);
  }

  async #call(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
  ): Promise<{ body: unknown; headers: Headers }> {
    const res = await fetch(this.#base + path, {
      method,
      headers: {
        ...(this.token ? { 'x-consul-token': this.token } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(90_000)])
        : AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`);
    let parsed: unknown = text;
    try {
      parsed = text === '' ? null : JSON.parse(text);
    } catch {
      // Consul's agent endpoints answer with an empty body or plain text.
    }
    return { body: parsed, headers: res.headers };
  }
}

function indexOf(headers: Headers): number {
  const value = Number(headers.get('x-consul-index'));
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}
