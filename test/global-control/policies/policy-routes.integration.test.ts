/**
 * `/api/policies`: global policies on the global's HTTP API, against a real global (HTTP
 * listener, both store backends): Consul config entry bodies, check-and-set, JSON errors
 * naming the field, and the admin token.
 */
import { expect } from 'chai';
import { forEachGlobalBackend } from '../../helpers/global.ts';
import type { GlobalTestEnv } from '../../helpers/global.ts';

interface ErrorView {
  error: { code: string; message: string; field?: string };
}

async function json<T>(res: Response, status = 200): Promise<T> {
  const text = await res.text();
  expect(res.status, text).to.equal(status);
  return JSON.parse(text) as T;
}

const DEFAULTS = { Kind: 'service-defaults', Name: 'api', Protocol: 'http' };
const INTENTIONS = {
  Kind: 'service-intentions',
  Name: '*',
  Sources: [{ Name: '*', Action: 'deny' }],
};

forEachGlobalBackend('global policies API', { dev: false }, (env: GlobalTestEnv) => {
  const api = (path: string, init?: { method?: string; body?: unknown; token?: string | null }) =>
    env.global.api(path, init);

  it('writes, reads, lists and deletes policies as Consul config entries', async () => {
    expect(await json(await api('/api/policies', { method: 'PUT', body: DEFAULTS }))).to.include({
      ok: true,
    });
    await json(await api('/api/policies', { method: 'PUT', body: INTENTIONS }));
    const one = await json<Record<string, unknown>>(
      await api('/api/policies/service-defaults/api'),
    );
    expect(one).to.include({ Kind: 'service-defaults', Name: 'api', Protocol: 'http' });
    expect(one.ModifyIndex).to.be.a('number');
    const all = await json<{ policies: { Kind: string; Name: string }[] }>(
      await api('/api/policies'),
    );
    expect(all.policies.map((p) => `${p.Kind}/${p.Name}`)).to.deep.equal([
      'service-defaults/api',
      'service-intentions/*',
    ]);
    const some = await json<{ policies: unknown[] }>(
      await api('/api/policies?kind=service-intentions'),
    );
    expect(some.policies).to.have.length(1);
    expect(
      await json(await api('/api/policies/service-intentions/*', { method: 'DELETE' })),
    ).to.deep.equal({ ok: true });
    const gone = await json<ErrorView>(await api('/api/policies/service-intentions/*'), 404);
    expect(gone.error.message).to.equal('no global policy service-intentions/default/*');
  });

  it('writes and deletes with check-and-set', async () => {
    const first = await json<{ ok: boolean; index: number }>(
      await api('/api/policies?cas=0', {
        method: 'PUT',
        body: { ...DEFAULTS, Name: 'web' },
      }),
    );
    expect(first.ok).to.equal(true);
    const again = await json<{ ok: boolean }>(
      await api('/api/policies?cas=0', { method: 'PUT', body: { ...DEFAULTS, Name: 'web' } }),
    );
    expect(again.ok).to.equal(false);
    const stale = await json<{ ok: boolean }>(
      await api(`/api/policies/service-defaults/web?cas=${first.index + 1000}`, {
        method: 'DELETE',
      }),
    );
    expect(stale.ok).to.equal(false);
    const del = await json<{ ok: boolean }>(
      await api(`/api/policies/service-defaults/web?cas=${first.index}`, { method: 'DELETE' }),
    );
    expect(del.ok).to.equal(true);
  });

  const refusals: [string, string, string, unknown, number, RegExp, string][] = [
    [
      'exported-services, which stays per zone',
      'PUT',
      '/api/policies',
      { Kind: 'exported-services', Name: 'default', Services: [] },
      400,
      /not a global policy kind: each zone decides what it exports/,
      'Kind',
    ],
    [
      'an entry that does not decode',
      'PUT',
      '/api/policies',
      { ...DEFAULTS, Protocol: 'smtp' },
      400,
      /Protocol/,
      'Protocol',
    ],
    ['malformed JSON', 'PUT', '/api/policies', '{', 400, /not valid JSON/, 'body'],
    [
      'a Meta key zones reserve',
      'PUT',
      '/api/policies',
      { ...DEFAULTS, Meta: { 'causeway-origin': 'mine' } },
      400,
      /reserved/,
      'Meta',
    ],
    ['a bad cas', 'PUT', '/api/policies?cas=-1', DEFAULTS, 400, /cas must be an integer/, 'cas'],
    [
      'an unknown kind',
      'GET',
      '/api/policies/bogus/api',
      undefined,
      400,
      /invalid config entry kind/,
      'kind',
    ],
    [
      'a bad name',
      'GET',
      '/api/policies/service-defaults/Web!',
      undefined,
      400,
      /DNS label/,
      'name',
    ],
    [
      'a bad namespace',
      'DELETE',
      '/api/policies/service-defaults/api?namespace=A_B',
      undefined,
      400,
      /DNS label/,
      'namespace',
    ],
  ];
  for (const [what, method, path, body, status, message, field] of refusals) {
    it(`refuses ${what} with a JSON error naming ${field}`, async () => {
      const before = await json<{ policies: unknown[] }>(await api('/api/policies'));
      const err = await json<ErrorView>(await api(path, { method, body }), status);
      expect(err.error.message).to.match(message);
      expect(err.error.field).to.equal(field);
      expect(await json(await api('/api/policies'))).to.deep.equal(before);
    });
  }

  it('needs the admin token', async () => {
    const res = await api('/api/policies', { token: null });
    expect(res.status).to.equal(401);
  });
});
