/**
 * Request token → {@link Authorizer}, fast: the compiled authorizer of each secret seen is
 * kept in memory, and a store watch on `acl/` drops the whole cache on any ACL change —
 * made here, or by another zone server sharing the store — so a revoked token stops
 * working at once. Writes made through this server also drop it before they answer, so
 * the caller's next request never sees the old rights.
 *
 * Until the watch runs (and while it reconnects) nothing is cached: every request reads the
 * store, which is slower but never stale.
 */
import type { Context } from 'koa';
import { PermissionDeniedError } from '../../../core/index.ts';
import type { Logger, Store } from '../../../core/index.ts';
import {
  ANONYMOUS_SECRET,
  ACL_PREFIX,
  GLOBAL_MANAGEMENT_ID,
  isExpired,
  readPolicy,
  readTokenBySecret,
} from './acl-records.ts';
import type { TokenRecord } from './acl-records.ts';
import type { Authorizer } from './authorizer.ts';
import { RulesAuthorizer, managementAuthorizer } from './policy-authorizer.ts';
import { parseRules } from './rules.ts';
import type { PolicyRules } from './rules.ts';
import { sleep } from '../../../core/index.ts';

/** More distinct secrets than this in the cache and it starts over (bounds memory). */
const MAX_CACHED = 10_000;
const RETRY_MS = 1_000;

interface Cached {
  authz: Authorizer;
  /** Epoch ms after which the token has expired. */
  expiresAt: number;
}

/**
 * The token a request carries, where Consul looks for it (`agent/http.go`,
 * `parseTokenInternal`): `?token=`, then `X-Consul-Token`, then `Authorization: Bearer`.
 * Empty when there is none (the anonymous token).
 */
export function requestToken(ctx: Context): string {
  const q = ctx.query.token;
  const query = Array.isArray(q) ? q[0] : q;
  if (query) return query;
  const header = ctx.get('X-Consul-Token');
  if (header) return header;
  const parts = ctx.get('Authorization').split(' ');
  if (parts.length > 1 && parts[0]?.toLowerCase() === 'bearer')
    return parts.slice(1).join(' ').trim();
  return '';
}

/** Rules implied by Consul service and node identities (`agent/structs/acl.go` templates). */
function identityRules(t: TokenRecord, zone: string): PolicyRules[] {
  const out: PolicyRules[] = [];
  for (const s of t.serviceIdentities) {
    if (s.Datacenters && s.Datacenters.length > 0 && !s.Datacenters.includes(zone)) continue;
    out.push({
      grants: [
        { kind: 'service', name: s.ServiceName, prefix: false, level: 'write' },
        { kind: 'service', name: `${s.ServiceName}-sidecar-proxy`, prefix: false, level: 'write' },
        { kind: 'service', name: '', prefix: true, level: 'read' },
        { kind: 'node', name: '', prefix: true, level: 'read' },
      ],
    });
  }
  for (const n of t.nodeIdentities) {
    if (n.Datacenter !== zone) continue;
    out.push({
      grants: [
        { kind: 'node', name: n.NodeName, prefix: false, level: 'write' },
        { kind: 'service', name: '', prefix: true, level: 'read' },
      ],
    });
  }
  return out;
}

export class AclResolver {
  private readonly cache = new Map<string, Cached>();
  private generation = 0;
  private live = false;

  constructor(
    private readonly store: Store,
    /** The zone's name: policies limited to other datacenters do not apply here. */
    private readonly zone: string,
    private readonly logger: Logger,
  ) {}

  /** The request's authorizer; an unknown or expired token is Consul's 403 "ACL not found". */
  resolve(ctx: Context): Promise<Authorizer> {
    return this.authorizerFor(requestToken(ctx));
  }

  async authorizerFor(secret: string): Promise<Authorizer> {
    const key = secret === '' ? ANONYMOUS_SECRET : secret;
    const hit = this.cache.get(key);
    if (hit && hit.expiresAt > Date.now()) return hit.authz;
    const generation = this.generation;
    const token = await readTokenBySecret(this.store, key);
    if (!token || isExpired(token.record)) throw new PermissionDeniedError('ACL not found');
    const authz = await this.compile(token.record);
    // Only a result read entirely after the last change may be kept.
    if (this.live && generation === this.generation) {
      if (this.cache.size >= MAX_CACHED) this.cache.clear();
      const expiresAt = token.record.expirationTime
        ? Date.parse(token.record.expirationTime)
        : Infinity;
      this.cache.set(key, { authz, expiresAt });
    }
    return authz;
  }

  /** Forget every cached authorizer (after an ACL write, or a change seen by the watch). */
  invalidate(): void {
    this.generation++;
    this.cache.clear();
  }

  private async compile(t: TokenRecord): Promise<Authorizer> {
    const rules: PolicyRules[] = [];
    const policies = await Promise.all(t.policyIds.map((id) => readPolicy(this.store, id)));
    for (const p of policies) {
      // Links to deleted policies grant nothing; datacenter-scoped policies apply only there.
      if (!p) continue;
      const dcs = p.record.datacenters;
      if (dcs.length > 0 && !dcs.includes(this.zone)) continue;
      if (p.record.id === GLOBAL_MANAGEMENT_ID) return managementAuthorizer(t.accessorId);
      rules.push(this.parseStored(p.record.rules, `policy ${p.record.id}`));
    }
    if (t.rules !== '') rules.push(this.parseStored(t.rules, `token ${t.accessorId}`));
    rules.push(...identityRules(t, this.zone));
    return new RulesAuthorizer(t.accessorId, rules);
  }

  /** Rules were checked when written; rules that no longer parse grant nothing. */
  private parseStored(text: string, owner: string): PolicyRules {
    try {
      return parseRules(text);
    } catch (err) {
      this.logger.error(
        { err: String(err), owner },
        'stored ACL rules do not parse; ignoring them',
      );
      return { grants: [] };
    }
  }

  /**
   * Keep the cache honest until `signal` aborts: watch `acl/` from the current index and
   * drop the cache on every change; on a resync or a store error, start over.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      let failed = false;
      try {
        const from = await this.store.currentIndex();
        this.invalidate();
        this.live = true;
        for await (const event of this.store.watch(ACL_PREFIX, from, { signal })) {
          this.invalidate();
          if (event.type === 'resync') break;
        }
      } catch (err) {
        if (signal.aborted) break;
        failed = true;
        this.logger.warn(
          { err: String(err) },
          'ACL watch failed; serving uncached until it resumes',
        );
      } finally {
        this.live = false;
        this.invalidate();
      }
      if (failed) await sleep(RETRY_MS, signal);
    }
  }
}
