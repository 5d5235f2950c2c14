/**
 * The zone registry through the global's HTTP API, on the embedded store and on a real
 * redis-server: create, list, read, disable, rotate, delete, and the token checks the
 * sync server relies on.
 */
import { expect } from 'chai';
import { PermissionDeniedError, decodeZoneToken, zoneResourcePrefix } from '../../core/index.ts';
import type { ZoneChange } from '../../global-control/index.ts';
import { eventually } from '../helpers/async.ts';
import { forEachGlobalBackend } from '../helpers/global.ts';
import type { TestGlobal } from '../helpers/global.ts';

interface TokenAnswer {
  zone: { name: string; kind: string; enabled: boolean; sync: { online: boolean } };
  token: string;
  expiresAt: string;
}

async function json<T>(res: Response, status: number): Promise<T> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

async function refusedWith(res: Response, status: number, field?: string): Promise<string> {
  const body = await json<{ error: { code: string; message: string; field?: string } }>(
    res,
    status,
  );
  if (field !== undefined) expect(body.error.field, body.error.message).to.equal(field);
  return body.error.message;
}

async function createZone(g: TestGlobal, name: string, kind = 'universal'): Promise<TokenAnswer> {
  return json<TokenAnswer>(
    await g.api('/api/zones', { method: 'POST', body: { name, kind } }),
    201,
  );
}

async function verifyRefusal(g: TestGlobal, token: string, expectedZone?: string): Promise<string> {
  try {
    await g.global.zones.verifyToken(token, expectedZone);
  } catch (err) {
    expect(err).to.be.instanceOf(PermissionDeniedError);
    return (err as Error).message;
  }
  throw new Error('expected the token to be refused');
}

forEachGlobalBackend('global zone registry API', { dev: true }, (env) => {
  it('creates a zone and answers a token for it carrying the trust domain and root pin', async function () {
    const created = await createZone(env.global, 'east', 'kubernetes');
    expect(created.zone).to.deep.include({ name: 'east', kind: 'kubernetes', enabled: true });
    expect(created.zone.sync).to.deep.equal({ online: false });
    const payload = decodeZoneToken(created.token);
    const health = await json<{ rootPin: string; trustDomain: string }>(
      await env.global.api('/api/health'),
      200,
    );
    expect(payload).to.deep.include({
      zone: 'east',
      kind: 'kubernetes',
      td: health.trustDomain,
      rootPin: health.rootPin,
    });
    expect(payload.exp - payload.iat).to.equal(24 * 3600);
    expect(created.expiresAt).to.equal(new Date(payload.exp * 1000).toISOString());
    const verified = await env.global.global.zones.verifyToken(created.token, 'east');
    expect(verified).to.deep.include({ zone: 'east', kind: 'kubernetes', exp: payload.exp });
  });

  it('refuses a second zone of the same name with 409', async function () {
    await createZone(env.global, 'dup');
    const res = await env.global.api('/api/zones', {
      method: 'POST',
      body: { name: 'dup', kind: 'universal' },
    });
    expect(await refusedWith(res, 409, 'name')).to.equal('zone "dup" already exists');
  });

  it('lists zones with their sync status and reads one by name', async function () {
    await createZone(env.global, 'listed');
    const list = await json<{ zones: { name: string; sync: unknown }[] }>(
      await env.global.api('/api/zones'),
      200,
    );
    const listed = list.zones.find((z) => z.name === 'listed');
    expect(listed?.sync).to.deep.equal({ online: false });
    expect(list.zones.map((z) => z.name)).to.deep.equal([...list.zones.map((z) => z.name)].sort());
    const one = await json<{ name: string; kind: string }>(
      await env.global.api('/api/zones/listed'),
      200,
    );
    expect(one).to.deep.include({ name: 'listed', kind: 'universal' });
    await refusedWith(await env.global.api('/api/zones/nowhere'), 404, 'name');
  });

  it('honours a token TTL and issues tokens that need no rotation to coexist', async function () {
    const created = await json<TokenAnswer>(
      await env.global.api('/api/zones', {
        method: 'POST',
        body: { name: 'ttl', kind: 'universal', tokenTtl: '90m' },
      }),
      201,
    );
    const p = decodeZoneToken(created.token);
    expect(p.exp - p.iat).to.equal(90 * 60);
    const second = await json<TokenAnswer>(
      await env.global.api('/api/zones/ttl/token', { method: 'POST', body: { ttl: '2h' } }),
      201,
    );
    const q = decodeZoneToken(second.token);
    expect(q.exp - q.iat).to.equal(2 * 3600);
    expect(q.jti).not.to.equal(p.jti);
    // Without rotate, the first token keeps working.
    await env.global.global.zones.verifyToken(created.token, 'ttl');
    await env.global.global.zones.verifyToken(second.token, 'ttl');
  });

  it('rotation revokes every older token and the new one works at once', async function () {
    const created = await createZone(env.global, 'rotor');
    const plain = await json<TokenAnswer>(
      await env.global.api('/api/zones/rotor/token', { method: 'POST' }),
      201,
    );
    const rotated = await json<TokenAnswer & { zone: { tokensValidAfter: string } }>(
      await env.global.api('/api/zones/rotor/token', { method: 'POST', body: { rotate: true } }),
      201,
    );
    for (const old of [created.token, plain.token]) {
      expect(await verifyRefusal(env.global, old)).to.equal(
        `zone token was revoked by a rotation at ${rotated.zone.tokensValidAfter}; issue a new one with: causeway zone token rotor`,
      );
    }
    await env.global.global.zones.verifyToken(rotated.token, 'rotor');
    // A token issued right after the rotation (same second) works too.
    const after = await json<TokenAnswer>(
      await env.global.api('/api/zones/rotor/token', { method: 'POST' }),
      201,
    );
    await env.global.global.zones.verifyToken(after.token, 'rotor');
  });

  it('refuses a disabled zone’s tokens until it is enabled again', async function () {
    const created = await createZone(env.global, 'sleepy');
    const disabled = await json<{ enabled: boolean }>(
      await env.global.api('/api/zones/sleepy', { method: 'PATCH', body: { enabled: false } }),
      200,
    );
    expect(disabled.enabled).to.equal(false);
    expect(await verifyRefusal(env.global, created.token)).to.equal(
      'zone "sleepy" is disabled; enable it with: causeway zone enable sleepy',
    );
    await json(
      await env.global.api('/api/zones/sleepy', { method: 'PATCH', body: { enabled: true } }),
      200,
    );
    await env.global.global.zones.verifyToken(created.token);
  });

  it('refuses a token for another zone, an expired one, and one of a deleted zone', async function () {
    const east = await createZone(env.global, 'ew-east');
    expect(await verifyRefusal(env.global, east.token, 'ew-west')).to.equal(
      'zone token is for zone "ew-east", not "ew-west"',
    );
    const { exp } = decodeZoneToken(east.token);
    let expired: unknown;
    try {
      await env.global.global.zones.verifyToken(east.token, 'ew-east', new Date(exp * 1000 + 1));
    } catch (err) {
      expired = err;
    }
    expect(String(expired)).to.include(`expired at ${new Date(exp * 1000).toISOString()}`);
    expect(await verifyRefusal(env.global, 'cwzt.bogus.token')).to.match(/^zone token refused/);
    await json(await env.global.api('/api/zones/ew-east', { method: 'DELETE' }), 204);
    expect(await verifyRefusal(env.global, east.token)).to.match(
      /^zone "ew-east" is not registered/,
    );
  });

  it('deletes a zone together with everything it synced, and nothing of other zones', async function () {
    await createZone(env.global, 'gone');
    await createZone(env.global, 'stays');
    const { store } = env.global.global;
    const resource = (zone: string, name: string) =>
      store.put(
        `${zoneResourcePrefix(zone, 'instance')}${name}`,
        Buffer.from(
          JSON.stringify({ version: '1', body: {}, receivedAt: new Date().toISOString() }),
        ),
      );
    await Promise.all([resource('gone', 'default/api/1'), resource('gone', 'default/api/2')]);
    await resource('stays', 'default/api/1');
    await json(await env.global.api('/api/zones/gone', { method: 'DELETE' }), 204);
    expect((await store.list(zoneResourcePrefix('gone'))).entries).to.have.length(0);
    expect((await store.list(zoneResourcePrefix('stays'))).entries).to.have.length(1);
    expect(await store.get('zones/gone')).to.equal(null);
    await refusedWith(await env.global.api('/api/zones/gone', { method: 'DELETE' }), 404, 'name');
  });

  it('tells onChange listeners about creations, changes and deletions', async function () {
    const seen: ZoneChange[] = [];
    const stop = env.global.global.zones.onChange((c) => {
      if (c.name === 'watched') seen.push(c);
    });
    try {
      await createZone(env.global, 'watched');
      await env.global.api('/api/zones/watched', { method: 'PATCH', body: { enabled: false } });
      await env.global.api('/api/zones/watched', { method: 'DELETE' });
      await eventually(() => seen.length >= 3, 'three zone changes');
      expect(seen.map((c) => c.zone?.enabled)).to.deep.equal([true, false, undefined]);
    } finally {
      stop();
    }
  });

  const badRequests: [string, string, string, unknown, number, string][] = [
    ['a missing kind', 'POST', '/api/zones', { name: 'x' }, 400, 'kind'],
    ['a missing name', 'POST', '/api/zones', { kind: 'universal' }, 400, 'name'],
    [
      'an unknown field',
      'POST',
      '/api/zones',
      { name: 'x', kind: 'universal', color: 1 },
      400,
      'color',
    ],
    ['an upper-case name', 'POST', '/api/zones', { name: 'East', kind: 'universal' }, 400, 'name'],
    ['an unknown kind', 'POST', '/api/zones', { name: 'x', kind: 'vm' }, 400, 'kind'],
    [
      'a TTL without a unit',
      'POST',
      '/api/zones',
      { name: 'x', kind: 'universal', tokenTtl: '60' },
      400,
      'tokenTtl',
    ],
    [
      'a TTL over a year',
      'POST',
      '/api/zones',
      { name: 'x', kind: 'universal', tokenTtl: '9000h' },
      400,
      'tokenTtl',
    ],
    ['a body that is not JSON', 'POST', '/api/zones', '{nope', 400, 'body'],
    ['a body that is a list', 'POST', '/api/zones', [1], 400, 'body'],
    [
      'a name in the path that is not a label',
      'GET',
      '/api/zones/Bad_Name',
      undefined,
      400,
      'name',
    ],
    ['a non-boolean enabled', 'PATCH', '/api/zones/any', { enabled: 'yes' }, 400, 'enabled'],
    [
      'an unknown PATCH field',
      'PATCH',
      '/api/zones/any',
      { enabled: true, kind: 'k' },
      400,
      'kind',
    ],
    ['a non-boolean rotate', 'POST', '/api/zones/any/token', { rotate: 1 }, 400, 'rotate'],
    ['a bad token TTL', 'POST', '/api/zones/any/token', { ttl: 5 }, 400, 'ttl'],
    ['a PATCH of an unknown zone', 'PATCH', '/api/zones/unknown', { enabled: true }, 404, 'name'],
    ['a token for an unknown zone', 'POST', '/api/zones/unknown/token', {}, 404, 'name'],
  ];
  for (const [what, method, path, body, status, field] of badRequests) {
    it(`answers ${status} naming ${field} for ${what}`, async function () {
      await refusedWith(await env.global.api(path, { method, body }), status, field);
    });
  }

  it('answers 405 with Allow for a wrong method and a JSON 404 for an unknown path', async function () {
    const res = await env.global.api('/api/zones', { method: 'PUT', body: {} });
    expect(res.status).to.equal(405);
    expect(res.headers.get('allow')).to.include('POST');
    const missing = await env.global.api('/api/nothing');
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).to.equal(
      'CW_ERR_NOT_FOUND',
    );
  });

  it('refuses an oversized body with 413', async function () {
    const res = await env.global.api('/api/zones', {
      method: 'POST',
      body: { name: 'x', kind: 'universal', pad: 'x'.repeat(70 * 1024) },
    });
    await refusedWith(res, 413, 'body');
  });
});
