/**
 * `/v1/config`: Consul's config entry endpoints. `PUT /v1/config[?cas=N]` answers `true` or
 * `false`; `GET /v1/config/:kind/:name` the entry (404 "Config entry not found for …");
 * `GET /v1/config/:kind` the list (`[]` when none, entries the token may not read left
 * out); `DELETE /v1/config/:kind/:name` answers `{}`, or `true`/`false` with `?cas=`,
 * as Consul's `config_endpoint.go` does. Reads block with `?index=&wait=`. `?ns=` picks
 * the namespace of a read or delete (default `default`).
 *
 * ACLs: writing needs `service:write` on the entry's name, reading `service:read`, or
 * `operator:write` / `operator:read` for either. service-intentions are the exception for
 * writes: Consul asks `intentions:write`, which a service identity (a dataplane token)
 * does not grant; Causeway's authorizer has no intentions level, so writing or deleting
 * them needs `operator:write`. Otherwise the token of the service an intention protects
 * could rewrite who may call it. Reading them stays `service:read`.
 *
 * exported-services (one entry per zone, named `default`) decides which services other
 * zones may reach: Consul asks `mesh:write` / `mesh:read`, which Causeway's authorizer
 * does not have, so it needs `operator:write` / `operator:read`. `service:<access>` on a
 * service called "default" must not stand in for it.
 *
 * A global policy (an entry written at the global control plane) is read-only here:
 * writing or deleting it answers 409 (see `global-policies.ts`).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import {
  checkEntryName,
  checkKind,
  decodeConfigEntry,
  listConfigEntries,
  readConfigEntry,
  NotFoundError,
  InvalidArgumentError,
  configEntryKey,
  configEntryPrefix,
} from '../../../core/index.ts';
import type { ConfigEntryKind } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import type { Access, Authorizer } from '../acl/authorizer.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { parseBlockingQuery, setConsulHeaders, waitForChange } from '../http/blocking.ts';
import { readJsonBody } from '../http/body.ts';
import { pathParam } from '../catalog/catalog-read.ts';
import { param, replyJson, uintParam } from '../kv/consul-reply.ts';
import { deleteZoneConfigEntry, writeZoneConfigEntry } from './global-policies.ts';

/**
 * service:<access> on the entry's name, or operator:<access>; otherwise Consul's 403.
 * Intentions are written with operator:write only, exported-services read and written
 * with operator access only (see above).
 */
function requireEntryAccess(
  authz: Authorizer,
  kind: ConfigEntryKind,
  name: string,
  access: Access,
): void {
  if (authz.allows('operator', '', access)) return;
  if ((kind === 'service-intentions' && access === 'write') || kind === 'exported-services') {
    requireAccess(authz, 'operator', '', access);
  }
  requireAccess(authz, 'service', name, access);
}

function canRead(authz: Authorizer, kind: ConfigEntryKind, name: string): boolean {
  if (authz.allows('operator', '', 'read')) return true;
  return kind !== 'exported-services' && authz.allows('service', name, 'read');
}

function namespaceOf(ctx: Context): string {
  const ns = param(ctx, 'ns');
  return ns === undefined || ns === '' ? 'default' : checkEntryName(ns, 'ns');
}

function kindOf(ctx: Context): ConfigEntryKind {
  const kind = pathParam(ctx, 'kind') ?? '';
  return checkKind(kind, 'kind');
}

function nameOf(ctx: Context, kind: ConfigEntryKind): string {
  return checkEntryName(pathParam(ctx, 'name') ?? '', 'name', kind === 'service-intentions');
}

export function configRoutes(router: Router, deps: ApiDeps): void {
  const { store } = deps;

  router.put('/v1/config', async (ctx) => {
    const cas = uintParam(ctx, 'cas');
    const entry = decodeConfigEntry(await readJsonBody(ctx, deps.zone.maxBodyBytes));
    const ns = param(ctx, 'ns');
    if (ns !== undefined && ns !== '' && ns !== entry.Namespace) {
      throw new InvalidArgumentError(
        `Request decoding failed: Namespace "${entry.Namespace}" does not match ?ns=${ns}`,
        'Namespace',
      );
    }
    requireEntryAccess(stateOf(ctx).authz, entry.Kind, entry.Name, 'write');
    replyJson(ctx, await writeZoneConfigEntry(store, entry, cas));
  });

  router.get('/v1/config/:kind/:name', async (ctx) => {
    const kind = kindOf(ctx);
    const name = nameOf(ctx, kind);
    const namespace = namespaceOf(ctx);
    const { authz, signal } = stateOf(ctx);
    requireEntryAccess(authz, kind, name, 'read');
    const target = { prefix: configEntryKey(kind, namespace, name), exact: true };
    await waitForChange(store, target, parseBlockingQuery(ctx), signal);
    const index = await store.currentIndex();
    const entry = await readConfigEntry(store, kind, namespace, name);
    setConsulHeaders(ctx, Math.max(index, entry?.ModifyIndex ?? 0));
    if (entry === null) {
      throw new NotFoundError(
        `Config entry not found for ${JSON.stringify(kind)} / ${JSON.stringify(name)}`,
        'name',
      );
    }
    replyJson(ctx, entry);
  });

  router.get('/v1/config/:kind', async (ctx) => {
    const kind = kindOf(ctx);
    const namespace = namespaceOf(ctx);
    const { authz, signal } = stateOf(ctx);
    const prefix = configEntryPrefix(kind, namespace);
    await waitForChange(store, { prefix }, parseBlockingQuery(ctx), signal);
    const { entries, index } = await listConfigEntries(store, kind, namespace);
    setConsulHeaders(ctx, index);
    // As Consul: entries the token may not read are left out, not refused.
    const readable = entries.filter((e) => canRead(authz, kind, e.Name));
    if (readable.length < entries.length) ctx.set('X-Consul-Results-Filtered-By-ACLs', 'true');
    replyJson(ctx, readable);
  });

  router.del('/v1/config/:kind/:name', async (ctx) => {
    const kind = kindOf(ctx);
    const name = nameOf(ctx, kind);
    const namespace = namespaceOf(ctx);
    const cas = uintParam(ctx, 'cas');
    requireEntryAccess(stateOf(ctx).authz, kind, name, 'write');
    const ok = await deleteZoneConfigEntry(store, kind, namespace, name, cas);
    // Consul answers the CAS outcome only to CAS deletes, for older callers' sake.
    replyJson(ctx, cas === undefined ? {} : ok);
  });
}
