/**
 * `/v1/session/*`: create, destroy, renew, info, list and node — Consul's session API.
 *
 * Reads block (`?index&wait`) on `session/` (info: on its own record) and carry Consul's
 * headers. ACLs follow Consul: `session:write` on the session's node to create, destroy or
 * renew; sessions the token cannot read on their node are left out of reads.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { InvalidArgumentError, NotFoundError } from '../../../core/index.ts';
import { requireAccess } from '../acl/authorizer.ts';
import type { ApiDeps } from '../http/api-context.ts';
import { stateOf } from '../http/api-context.ts';
import { parseBlockingQuery, setConsulHeaders, waitForChange } from '../http/blocking.ts';
import type { WatchTarget } from '../http/blocking.ts';
import { readJsonBody } from '../http/body.ts';
import { replyJson } from '../kv/consul-reply.ts';
import { invalidateSession } from './invalidate.ts';
import { lockDelaysFor } from './lock-delay.ts';
import { parseSessionCreate } from './session-body.ts';
import { SESSION_PREFIX, isSessionId, sessionKey, toConsulSession } from './session-record.ts';
import type { StoredSession } from './session-record.ts';
import { createSession, listSessions, readSession, renewSession } from './session-store.ts';

/** The session ID path parameter; Consul's texts for a missing one. */
function sessionIdOf(ctx: Context): string {
  const id = (ctx.params as Record<string, string | undefined>).id ?? '';
  if (id === '') throw new InvalidArgumentError('Missing session', 'session');
  if (!isSessionId(id)) {
    throw new InvalidArgumentError(
      `Invalid session ID ${JSON.stringify(id)}: not a UUID`,
      'session',
    );
  }
  return id;
}

/** Keep the sessions the token may read; say so in a header when some were left out. */
function readable(ctx: Context, sessions: StoredSession[]): StoredSession[] {
  const { authz } = stateOf(ctx);
  const kept = sessions.filter((s) => authz.allows('session', s.record.Node, 'read'));
  if (kept.length < sessions.length) ctx.set('X-Consul-Results-Filtered-By-ACLs', 'true');
  return kept;
}

export function sessionRoutes(router: Router, deps: ApiDeps): void {
  const { store } = deps;
  const delays = lockDelaysFor(store);
  const now = (): number => Date.now();

  /** Block if asked, then answer `read()`'s sessions with Consul's headers. */
  const blockingRead = async (
    ctx: Context,
    target: WatchTarget,
    read: () => Promise<{ sessions: StoredSession[]; index: number }>,
  ): Promise<void> => {
    const query = parseBlockingQuery(ctx);
    await waitForChange(store, target, query, stateOf(ctx).signal);
    const { sessions, index } = await read();
    setConsulHeaders(ctx, index);
    replyJson(ctx, readable(ctx, sessions).map(toConsulSession));
  };

  router.put('/v1/session/create', async (ctx) => {
    const spec = parseSessionCreate(
      await readJsonBody(ctx, deps.zone.maxBodyBytes),
      deps.zone.name,
    );
    requireAccess(stateOf(ctx).authz, 'session', spec.Node, 'write');
    const created = await createSession(store, spec, now());
    replyJson(ctx, { ID: created.record.ID });
  });

  router.put('/v1/session/destroy{/:id}', async (ctx) => {
    const id = sessionIdOf(ctx);
    const existing = await readSession(store, id);
    // Destroying a session that is gone is not an error (Consul: idempotent).
    if (existing) requireAccess(stateOf(ctx).authz, 'session', existing.record.Node, 'write');
    await invalidateSession(store, id, delays, now);
    replyJson(ctx, true);
  });

  router.put('/v1/session/renew{/:id}', async (ctx) => {
    const id = sessionIdOf(ctx);
    const existing = await readSession(store, id);
    if (existing) requireAccess(stateOf(ctx).authz, 'session', existing.record.Node, 'write');
    const renewed = existing ? await renewSession(store, id, now()) : null;
    if (!renewed) throw new NotFoundError(`Session id '${id}' not found`, 'session');
    replyJson(ctx, [toConsulSession(renewed)]);
  });

  router.get('/v1/session/info{/:id}', async (ctx) => {
    const id = sessionIdOf(ctx);
    await blockingRead(ctx, { prefix: sessionKey(id), exact: true }, async () => {
      // The index first, so a write landing between the two reads wakes the next block.
      const index = await store.currentIndex();
      const s = await readSession(store, id);
      return { sessions: s ? [s] : [], index };
    });
  });

  router.get('/v1/session/list', async (ctx) => {
    await blockingRead(ctx, { prefix: SESSION_PREFIX }, () => listSessions(store));
  });

  router.get('/v1/session/node{/:node}', async (ctx) => {
    const node = (ctx.params as Record<string, string | undefined>).node ?? '';
    if (node === '') throw new InvalidArgumentError('Missing node name', 'node');
    await blockingRead(ctx, { prefix: SESSION_PREFIX }, async () => {
      const { sessions, index } = await listSessions(store);
      return { sessions: sessions.filter((s) => s.record.Node === node), index };
    });
  });
}
