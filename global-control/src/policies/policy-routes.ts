/**
 * Global policies over HTTP (JSON; errors `{ "error": { code, message, field } }`). The
 * body of a write is a config entry exactly as Consul's `PUT /v1/config` takes it.
 *
 * - `PUT /api/policies[?cas=N]` → `{ok, index}` (`ok: false` when a check-and-set missed)
 * - `GET /api/policies[?kind=K]` → `{policies: [entry…]}` (with CreateIndex / ModifyIndex)
 * - `GET /api/policies/:kind/:name[?namespace=NS]` → the entry, 404 when absent
 * - `DELETE /api/policies/:kind/:name[?namespace=NS][&cas=N]` → `{ok}`
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError, NotFoundError, checkEntryName } from '../../../core/index.ts';
import type { GlobalApiDeps } from '../http/app.ts';
import { readJsonBody } from '../http/body.ts';
import type { GlobalPolicies } from './global-policies.ts';
import { policyKind } from './global-policies.ts';

function query(ctx: Context, name: string): string | undefined {
  const v = ctx.query[name];
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function casOf(ctx: Context): number | undefined {
  const raw = query(ctx, 'cas');
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(
      `cas must be an integer from 0 to 2^53-1 (got ${JSON.stringify(raw)})`,
      'cas',
    );
  }
  return n;
}

function namespaceOf(ctx: Context): string {
  const ns = query(ctx, 'namespace');
  return ns === undefined || ns === '' ? 'default' : checkEntryName(ns, 'namespace');
}

function target(
  ctx: Context,
  params: Record<string, string>,
): { kind: string; name: string; namespace: string } {
  const kind = policyKind(params.kind ?? '', 'kind');
  const name = checkEntryName(params.name ?? '', 'name', kind === 'service-intentions');
  return { kind, name, namespace: namespaceOf(ctx) };
}

export function policyRoutes(policies: GlobalPolicies) {
  return (router: Router, deps: GlobalApiDeps): void => {
    router.put('/api/policies', async (ctx) => {
      const cas = casOf(ctx);
      ctx.body = await policies.put(await readJsonBody(ctx, deps.options.maxBodyBytes), cas);
    });

    router.get('/api/policies', async (ctx) => {
      ctx.body = { policies: await policies.list(query(ctx, 'kind')) };
    });

    router.get('/api/policies/:kind/:name', async (ctx) => {
      const { kind, name, namespace } = target(ctx, ctx.params);
      const entry = await policies.get(kind, namespace, name);
      if (!entry) {
        throw new NotFoundError(`no global policy ${kind}/${namespace}/${name}`, 'name');
      }
      ctx.body = entry;
    });

    router.delete('/api/policies/:kind/:name', async (ctx) => {
      const { kind, name, namespace } = target(ctx, ctx.params);
      ctx.body = { ok: await policies.delete(kind, namespace, name, casOf(ctx)) };
    });
  };
}
