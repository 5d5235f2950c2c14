/**
 * Consul's `/v1/acl/...` endpoints (https://developer.hashicorp.com/consul/api-docs/acl):
 * bootstrap, tokens and policies, with Consul's shapes, required permissions
 * (`acl:read` to look, `acl:write` to change) and blocking reads. With ACLs off (`--dev`)
 * every `/v1/acl/` path answers 401 "ACL support disabled", as Consul does.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError, PermissionDeniedError } from '../../../core/index.ts';
import type { Store } from '../../../core/index.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { stateOf } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import { parseBlockingQuery, setConsulHeaders, waitForChange } from '../http/blocking.ts';
import { readJsonBody } from '../http/body.ts';
import { bootstrapViaApi } from './acl-bootstrap.ts';
import { AclDisabledError } from './acl-disabled-error.ts';
import { parseBootstrapInput, parsePolicyInput, parseTokenInput } from './acl-input.ts';
import { createPolicy, deletePolicy, updatePolicy } from './acl-policies.ts';
import {
  ACL_PREFIX,
  HIDDEN_SECRET,
  POLICY_PREFIX,
  TOKEN_PREFIX,
  isExpired,
  isUuid,
  listRecords,
  readPolicy,
  readPolicyByName,
  readToken,
  readTokenBySecret,
} from './acl-records.ts';
import type { PolicyRecord, Stored, TokenRecord } from './acl-records.ts';
import type { AclResolver } from './acl-resolver.ts';
import { requestToken } from './acl-resolver.ts';
import { policyShape, policyStub, tokenShape, tokenStub } from './acl-shapes.ts';
import type { PolicyIndex } from './acl-shapes.ts';
import { createToken, deleteToken, updateToken } from './acl-tokens.ts';
import { requireAccess } from './authorizer.ts';

async function policyIndex(
  store: Store,
  policies?: readonly Stored<PolicyRecord>[],
): Promise<PolicyIndex> {
  const list = policies ?? (await listRecords<PolicyRecord>(store, POLICY_PREFIX)).items;
  return new Map(list.map((p) => [p.record.id, p.record]));
}

/** A blocking read: wait for an ACL change after `?index`, then answer with the index. */
async function blockingRead(
  ctx: Context,
  store: Store,
  read: () => Promise<unknown>,
): Promise<void> {
  await waitForChange(store, { prefix: ACL_PREFIX }, parseBlockingQuery(ctx), stateOf(ctx).signal);
  try {
    ctx.body = await read();
  } finally {
    // Read after the data, so the index covers it; a 404 carries it too, as Consul's
    // deferred setMeta does.
    setConsulHeaders(ctx, await store.currentIndex());
  }
}

function notFound(what: 'token' | 'policy'): Error {
  // Consul's `ACLResourceNotExistError` wraps "ACL not found"; the HTTP layer answers 404.
  return Object.assign(new Error(`Requested ${what} does not exist: ACL not found`), {
    status: 404,
    expose: true,
  });
}

/** The `/v1/acl` route module; `resolver` is undefined when ACLs are off. */
export function aclRoutes(resolver: AclResolver | undefined): RouteModule {
  return (router: Router, deps: ApiDeps) => {
    if (!resolver) {
      router.all('/v1/acl/*rest', () => {
        throw new AclDisabledError();
      });
      return;
    }
    const { store } = deps;
    const body = (ctx: Context): Promise<unknown> => readJsonBody(ctx, deps.zone.maxBodyBytes);
    const allow = (ctx: Context, access: 'read' | 'write'): void =>
      requireAccess(stateOf(ctx).authz, 'acl', '', access);
    /** After a write: the next request through this server must see it. */
    const changed = (): void => resolver.invalidate();

    router.put('/v1/acl/bootstrap', async (ctx) => {
      const { secret } = parseBootstrapInput(await body(ctx));
      if (secret !== undefined && !isUuid(secret)) {
        throw new InvalidArgumentError('BootstrapSecret must be a UUID', 'BootstrapSecret');
      }
      const { stored, secretId } = await bootstrapViaApi(store, secret);
      changed();
      // Consul's bootstrap answer also carries the deprecated `ID` (the SecretID).
      ctx.body = { ID: secretId, ...tokenShape(stored, await policyIndex(store), secretId) };
    });

    router.put('/v1/acl/token', async (ctx) => {
      allow(ctx, 'write');
      const { stored, secretId, policies } = await createToken(
        store,
        parseTokenInput(await body(ctx)),
      );
      changed();
      ctx.body = tokenShape(stored, await policyIndex(store, policies), secretId);
    });

    router.get('/v1/acl/token/self', async (ctx) => {
      const secret = requestToken(ctx);
      await blockingRead(ctx, store, async () => {
        const token = secret === '' ? null : await readTokenBySecret(store, secret);
        if (!token || isExpired(token.record)) {
          throw Object.assign(new Error('Supplied token does not exist'), {
            status: 404,
            expose: true,
          });
        }
        return tokenShape(token, await policyIndex(store), secret);
      });
    });

    router.put('/v1/acl/token/:id/clone', async (ctx) => {
      allow(ctx, 'write');
      const source = await readToken(store, ctx.params.id ?? '');
      if (!source || isExpired(source.record)) throw new PermissionDeniedError('ACL not found');
      const s = source.record;
      const input = parseTokenInput(await body(ctx));
      // Links to since-deleted policies are dropped, as Consul's read of the source would.
      const live = await policyIndex(store);
      const { stored, secretId, policies } = await createToken(store, {
        description: input.description || s.description,
        policies: s.policyIds.filter((id) => live.has(id)).map((id) => ({ id })),
        roles: [],
        serviceIdentities: s.serviceIdentities,
        nodeIdentities: s.nodeIdentities,
        rules: s.rules,
        local: s.local,
        ...(s.expirationTime ? { expirationTime: s.expirationTime } : {}),
      });
      changed();
      ctx.body = tokenShape(stored, await policyIndex(store, policies), secretId);
    });

    router.get('/v1/acl/token/:id', async (ctx) => {
      allow(ctx, 'read');
      await blockingRead(ctx, store, async () => {
        const token = await readToken(store, ctx.params.id ?? '');
        if (!token || isExpired(token.record)) throw notFound('token');
        // Only a hash of the secret is stored (see acl-records.ts), so reads never show it.
        return tokenShape(token, await policyIndex(store), HIDDEN_SECRET);
      });
    });

    router.put('/v1/acl/token/:id', async (ctx) => {
      allow(ctx, 'write');
      const input = parseTokenInput(await body(ctx));
      const { stored, policies } = await updateToken(store, ctx.params.id ?? '', input);
      changed();
      ctx.body = tokenShape(
        stored,
        await policyIndex(store, policies),
        input.secretId ?? HIDDEN_SECRET,
      );
    });

    router.delete('/v1/acl/token/:id', async (ctx) => {
      allow(ctx, 'write');
      await deleteToken(store, ctx.params.id ?? '', stateOf(ctx).authz.accessorId);
      changed();
      ctx.body = true;
    });

    router.get('/v1/acl/tokens', async (ctx) => {
      allow(ctx, 'read');
      const q = (name: string): string | undefined => {
        const v = ctx.query[name];
        return Array.isArray(v) ? v[0] : v;
      };
      const [policy, role, authMethod, serviceName] = [
        'policy',
        'role',
        'authmethod',
        'servicename',
      ].map(q);
      await blockingRead(ctx, store, async () => {
        // Causeway has no roles or auth methods: those filters match no token.
        if (role || authMethod) return [];
        const { items } = await listRecords<TokenRecord>(store, TOKEN_PREFIX);
        const policies = await policyIndex(store);
        return items
          .filter((t) => !isExpired(t.record))
          .filter((t) => !policy || t.record.policyIds.includes(policy))
          .filter(
            (t) =>
              !serviceName || t.record.serviceIdentities.some((s) => s.ServiceName === serviceName),
          )
          .map((t) => tokenStub(t, policies, HIDDEN_SECRET));
      });
    });

    router.put('/v1/acl/policy', async (ctx) => {
      allow(ctx, 'write');
      const stored = await createPolicy(store, parsePolicyInput(await body(ctx)));
      changed();
      ctx.body = policyShape(stored);
    });

    router.get('/v1/acl/policy/name/:name', async (ctx) => {
      allow(ctx, 'read');
      await blockingRead(ctx, store, async () => {
        const policy = await readPolicyByName(store, ctx.params.name ?? '');
        if (!policy) throw notFound('policy');
        return policyShape(policy);
      });
    });

    router.get('/v1/acl/policy/:id', async (ctx) => {
      allow(ctx, 'read');
      await blockingRead(ctx, store, async () => {
        const policy = await readPolicy(store, ctx.params.id ?? '');
        if (!policy) throw notFound('policy');
        return policyShape(policy);
      });
    });

    router.put('/v1/acl/policy/:id', async (ctx) => {
      allow(ctx, 'write');
      const stored = await updatePolicy(
        store,
        ctx.params.id ?? '',
        parsePolicyInput(await body(ctx)),
      );
      changed();
      ctx.body = policyShape(stored);
    });

    router.delete('/v1/acl/policy/:id', async (ctx) => {
      allow(ctx, 'write');
      await deletePolicy(store, ctx.params.id ?? '');
      changed();
      ctx.body = true;
    });

    router.get('/v1/acl/policies', async (ctx) => {
      allow(ctx, 'read');
      await blockingRead(ctx, store, async () => {
        const { items } = await listRecords<PolicyRecord>(store, POLICY_PREFIX);
        return items.map(policyStub);
      });
    });
  };
}
