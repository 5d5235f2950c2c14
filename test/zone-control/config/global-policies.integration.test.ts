/**
 * Global policies at a real zone: a `policy` delta applied by the zone's inbox (with the
 * projection zone sync uses) shows up in `/v1/config` like a local entry, marked as
 * global; writes and deletes of it through `/v1/config` are refused with 409 and change
 * nothing; other entries stay writable; the zone entry a policy replaced comes back when
 * global removes the policy.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import {
  ResourceInbox,
  globalResourcePrefix,
  globalResourceValidators,
  policyResourceName,
} from '../../../core/index.ts';
import type { GlobalResourceType } from '../../../core/index.ts';
import { policyProjection } from '../../../zone-control/src/config/global-policies.ts';
import { startZone } from '../../helpers/zone.ts';
import type { TestZone } from '../../helpers/zone.ts';
import { syncDelta } from '../../helpers/sync-delta.ts';

async function call(
  zone: TestZone,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string; json: () => unknown }> {
  const res = await fetch(`${zone.url}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as unknown };
}

const API_DEFAULTS = { Kind: 'service-defaults', Name: 'api', Protocol: 'http' };
const NAME = policyResourceName('service-defaults', 'default', 'api');

describe('global policies at a zone', () => {
  let zone: TestZone;
  let inbox: ResourceInbox<GlobalResourceType>;

  before(async () => {
    zone = await startZone();
    inbox = new ResourceInbox<GlobalResourceType>({
      store: zone.zone.store,
      prefix: (type) => globalResourcePrefix(type),
      revisionKey: (type) => `sync/rev/global/${type}`,
      validators: globalResourceValidators,
      projections: { policy: policyProjection(zone.zone.store) },
      logger: pino({ level: 'silent' }),
    });
  });
  after(() => zone.stop());

  it('applies a global policy as a config entry, replacing a local one, marked as global', async () => {
    const local = await call(zone, 'PUT', '/v1/config', { ...API_DEFAULTS, Protocol: 'tcp' });
    expect(local.json()).to.equal(true);
    const answer = await inbox.apply(
      syncDelta('policy', {
        upserts: [
          {
            name: NAME,
            version: 'v1',
            body: {
              kind: 'service-defaults',
              namespace: 'default',
              name: 'api',
              entry: API_DEFAULTS,
            },
          },
        ],
      }),
    );
    expect(answer).to.include({ type: 'ack' });
    const got = await call(zone, 'GET', '/v1/config/service-defaults/api');
    expect(got.json()).to.deep.include({
      Kind: 'service-defaults',
      Name: 'api',
      Protocol: 'http',
      Meta: { 'causeway-origin': 'global' },
    });
  });

  it('refuses to write or delete the global policy through /v1/config, changing nothing', async () => {
    const before = await call(zone, 'GET', '/v1/config/service-defaults/api');
    const index = (before.json() as { ModifyIndex: number }).ModifyIndex;
    const put = await call(zone, 'PUT', '/v1/config', { ...API_DEFAULTS, Protocol: 'grpc' });
    expect(put.status).to.equal(409);
    expect(put.text).to.equal(
      'Config entry service-defaults/default/api is a global policy: change it at the global control plane (PUT /api/policies there); zones hold it read-only\n',
    );
    const cas = await call(zone, 'PUT', `/v1/config?cas=${index}`, API_DEFAULTS);
    expect(cas.status).to.equal(409);
    expect((await call(zone, 'DELETE', '/v1/config/service-defaults/api')).status).to.equal(409);
    expect(
      (await call(zone, 'DELETE', `/v1/config/service-defaults/api?cas=${index}`)).status,
    ).to.equal(409);
    const after = await call(zone, 'GET', '/v1/config/service-defaults/api');
    expect(after.json()).to.deep.equal(before.json());
    // Another entry is the zone's own.
    const web = await call(zone, 'PUT', '/v1/config', { ...API_DEFAULTS, Name: 'web' });
    expect(web.json()).to.equal(true);
    expect((await call(zone, 'DELETE', '/v1/config/service-defaults/web')).status).to.equal(200);
  });

  it('brings the zone entry the policy replaced back when global removes the policy, and the zone may write it again', async () => {
    const answer = await inbox.apply(syncDelta('policy', { revision: 'r.2' }));
    expect(answer).to.include({ type: 'ack' });
    const restored = await call(zone, 'GET', '/v1/config/service-defaults/api');
    expect(restored.json()).to.deep.include({ Protocol: 'tcp' });
    expect((restored.json() as { Meta?: unknown }).Meta).to.equal(undefined);
    const put = await call(zone, 'PUT', '/v1/config', { ...API_DEFAULTS, Protocol: 'grpc' });
    expect(put.json()).to.equal(true);
  });

  it('refuses a policy whose mirror would overwrite a zone write made meanwhile, and applies it on the next try', async () => {
    const body = {
      kind: 'service-defaults',
      namespace: 'default',
      name: 'api',
      entry: API_DEFAULTS,
    };
    // A zone write lands between the projection's read and its transaction.
    const store = zone.zone.store;
    const racing = new ResourceInbox<GlobalResourceType>({
      store,
      prefix: (type) => globalResourcePrefix(type),
      revisionKey: (type) => `sync/rev/global/${type}`,
      validators: globalResourceValidators,
      projections: {
        policy: {
          ...policyProjection(store),
          async upsert(name, b) {
            const ops = await policyProjection(store).upsert(name, b);
            await call(zone, 'PUT', '/v1/config', { ...API_DEFAULTS, Protocol: 'http2' });
            return ops;
          },
        },
      },
      logger: pino({ level: 'silent' }),
    });
    const refused = await racing.apply(
      syncDelta('policy', { revision: 'r.3', upserts: [{ name: NAME, version: 'v2', body }] }),
    );
    expect(refused).to.include({ type: 'nack' });
    expect((await call(zone, 'GET', '/v1/config/service-defaults/api')).json()).to.deep.include({
      Protocol: 'http2',
    });
    const applied = await inbox.apply(
      syncDelta('policy', { revision: 'r.4', upserts: [{ name: NAME, version: 'v2', body }] }),
    );
    expect(applied).to.include({ type: 'ack' });
    expect((await call(zone, 'GET', '/v1/config/service-defaults/api')).json()).to.deep.include({
      Protocol: 'http',
      Meta: { 'causeway-origin': 'global' },
    });
    // The zone's http2 entry waits aside until the policy goes.
    await inbox.apply(syncDelta('policy', { revision: 'r.5' }));
    expect((await call(zone, 'GET', '/v1/config/service-defaults/api')).json()).to.deep.include({
      Protocol: 'http2',
    });
  });
});
