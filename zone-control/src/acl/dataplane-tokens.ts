/**
 * `POST /api/dataplane-tokens`: a token for one proxy's service, what `causeway run proxy
 * --token-file` presents on the config stream. It is an ordinary ACL token with a Consul
 * service identity (`service:write` on the service and its `-sidecar-proxy`, read on the
 * rest of the catalog), so the stream's entitlement check lets it open a stream for that
 * service and no other. Needs `acl:write`. Body: `{ "service", "namespace"?, "ttl"? }`
 * (`ttl` a Go duration from 1m to 24h, Consul's ExpirationTTL bounds); answers 201
 * `{ accessorId, secretId, service, namespace, expiresAt? }`.
 *
 * `namespace` must be `default` (or absent): ACL service identities do not know
 * namespaces, so a token "for staging/web" would in fact be a token for `web` in every
 * namespace. Refusing it is the honest answer until ACLs carry namespaces; the stream's
 * entitlement (`ca/entitlement.ts`) likewise needs `operator:write` for an identity outside
 * `default`.
 */
import type Router from '@koa/router';
import { InvalidArgumentError, isDnsLabel } from '../../../core/index.ts';
import { stateOf } from '../http/api-context.ts';
import type { ApiDeps } from '../http/api-context.ts';
import type { RouteModule } from '../http/app.ts';
import { readJsonBody } from '../http/body.ts';
import { parseGoDuration } from '../http/go-duration.ts';
import { AclDisabledError } from './acl-disabled-error.ts';
import { createToken } from './acl-tokens.ts';
import { requireAccess } from './authorizer.ts';

const MIN_TTL_MS = 60_000;
const MAX_TTL_MS = 24 * 3_600_000;

export interface DataplaneTokenRequest {
  service: string;
  namespace: string;
  ttlMs?: number;
}

/** Check the body; each refusal names its field. */
function parseDataplaneTokenRequest(body: unknown): DataplaneTokenRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidArgumentError('the body must be a JSON object with a "service"', 'body');
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (!['service', 'namespace', 'ttl'].includes(key)) {
      throw new InvalidArgumentError(
        `unknown field "${key}"; expected service, namespace, ttl`,
        key,
      );
    }
  }
  const label = (field: string, value: unknown): string => {
    if (!isDnsLabel(value)) {
      throw new InvalidArgumentError(
        `${field} must be a lowercase DNS label (got ${JSON.stringify(value)})`,
        field,
      );
    }
    return value;
  };
  const request: DataplaneTokenRequest = {
    service: label('service', b.service),
    namespace: b.namespace === undefined ? 'default' : label('namespace', b.namespace),
  };
  if (request.namespace !== 'default') {
    throw new InvalidArgumentError(
      `namespace must be "default": ACL tokens do not carry namespaces yet, so a dataplane ` +
        `token cannot be limited to ${JSON.stringify(request.namespace)}; a proxy outside ` +
        `"default" needs a token with operator:write`,
      'namespace',
    );
  }
  if (b.ttl !== undefined) {
    const ms = typeof b.ttl === 'string' ? parseGoDuration(b.ttl) : undefined;
    if (ms === undefined || ms < MIN_TTL_MS || ms > MAX_TTL_MS) {
      throw new InvalidArgumentError(
        `ttl must be a duration from 1m to 24h, like "24h" (got ${JSON.stringify(b.ttl)})`,
        'ttl',
      );
    }
    request.ttlMs = ms;
  }
  return request;
}

export function dataplaneTokenRoutes(aclEnabled: boolean): RouteModule {
  return (router: Router, deps: ApiDeps) => {
    router.post('/api/dataplane-tokens', async (ctx) => {
      if (!aclEnabled) {
        // With ACLs off there is nothing to issue.
        throw new AclDisabledError(
          'ACL support disabled: with --dev proxies connect without a token',
        );
      }
      requireAccess(stateOf(ctx).authz, 'acl', '', 'write');
      const request = parseDataplaneTokenRequest(await readJsonBody(ctx, 64 * 1024));
      const { stored, secretId } = await createToken(deps.store, {
        description: `dataplane token for ${request.namespace}/${request.service}`,
        policies: [],
        roles: [],
        serviceIdentities: [{ ServiceName: request.service }],
        nodeIdentities: [],
        rules: '',
        local: true,
        ...(request.ttlMs !== undefined ? { expirationTtlMs: request.ttlMs } : {}),
      });
      ctx.status = 201;
      ctx.body = {
        accessorId: stored.record.accessorId,
        secretId,
        service: request.service,
        namespace: request.namespace,
        ...(stored.record.expirationTime !== undefined
          ? { expiresAt: stored.record.expirationTime }
          : {}),
      };
    });
  };
}
