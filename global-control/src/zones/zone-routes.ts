/**
 * The zone registry over HTTP (JSON; errors `{ "error": { code, message, field } }`):
 *
 * - `POST /api/zones` `{name, kind, tokenTtl?}` → 201 `{zone, token, expiresAt}` (409 if it exists)
 * - `GET /api/zones` → `{zones: [zone…]}`; `GET /api/zones/:name` → zone
 * - `POST /api/zones/:name/token` `{ttl?, rotate?}` → 201 `{zone, token, expiresAt}`
 * - `PATCH /api/zones/:name` `{enabled}` → zone
 * - `DELETE /api/zones/:name` → 204 (its synced resources go with it)
 *
 * A zone in an answer is its record plus `sync`, what the sync server knows of its
 * session (`{online: false}` when nothing).
 */
import type Router from '@koa/router';
import type { ZoneSyncStatus } from '../../../core/index.ts';
import type { GlobalApiDeps } from '../http/app.ts';
import { readJsonBody } from '../http/body.ts';
import type { ZoneRecord } from './zone-record.ts';
import type { IssuedZoneToken } from './zone-registry.ts';
import { parseCreateZone, parsePatchZone, parseTokenRequest, zoneName } from './zone-requests.ts';
import { NotFoundError } from '../../../core/index.ts';

export type ZoneView = ZoneRecord & { sync: ZoneSyncStatus };

export function zoneView(zone: ZoneRecord, deps: Pick<GlobalApiDeps, 'syncStatus'>): ZoneView {
  return { ...zone, sync: deps.syncStatus().status(zone.name) ?? { online: false } };
}

function tokenAnswer(zone: ZoneView, token: IssuedZoneToken) {
  return { zone, token: token.token, expiresAt: token.expiresAt };
}

export function zoneRoutes(router: Router, deps: GlobalApiDeps): void {
  const limit = deps.options.maxBodyBytes;

  router.post('/api/zones', async (ctx) => {
    const request = parseCreateZone(await readJsonBody(ctx, limit));
    const { zone, token } = await deps.zones.create(request);
    ctx.status = 201;
    ctx.body = tokenAnswer(zoneView(zone, deps), token);
  });

  router.get('/api/zones', async (ctx) => {
    const zones = await deps.zones.list();
    ctx.body = { zones: zones.map((z) => zoneView(z, deps)) };
  });

  router.get('/api/zones/:name', async (ctx) => {
    const name = zoneName(ctx.params.name);
    const zone = await deps.zones.get(name);
    if (!zone) throw new NotFoundError(`zone "${name}" does not exist`, 'name');
    ctx.body = zoneView(zone, deps);
  });

  router.post('/api/zones/:name/token', async (ctx) => {
    const name = zoneName(ctx.params.name);
    const request = parseTokenRequest(await readJsonBody(ctx, limit));
    const { zone, token } = await deps.zones.issueToken(name, request);
    ctx.status = 201;
    ctx.body = tokenAnswer(zoneView(zone, deps), token);
  });

  router.patch('/api/zones/:name', async (ctx) => {
    const name = zoneName(ctx.params.name);
    const { enabled } = parsePatchZone(await readJsonBody(ctx, limit));
    ctx.body = zoneView(await deps.zones.setEnabled(name, enabled), deps);
  });

  router.delete('/api/zones/:name', async (ctx) => {
    await deps.zones.delete(zoneName(ctx.params.name));
    ctx.status = 204;
  });
}
