/**
 * Outbound routes match the normalised path (the one the destination's inbound authorizes
 * and its app receives), and that path is what goes upstream.
 */
import { expect } from 'chai';
import { OutboundFixture } from './outbound-fixture.ts';

describe('outbound path normalisation (integration)', function () {
  this.timeout(30_000);
  let f: OutboundFixture;

  beforeEach(async function () {
    f = await OutboundFixture.create();
  });
  afterEach(async function () {
    await f?.close();
  });

  it('routes and forwards the normalised path, and answers 400 to an encoded slash', async function () {
    const seen: string[] = [];
    const app =
      (name: string) => (req: { url?: string; resume(): void }, res: { end(s: string): void }) => {
        seen.push(`${name} ${req.url}`);
        req.resume();
        res.end(name);
      };
    const admin = await f.backend(app('admin'), { service: 'admin' });
    const other = await f.backend(app('other'));
    await f.outbound.apply(
      OutboundFixture.config(
        [
          {
            name: 'backend',
            routes: [
              { match: { pathPrefix: '/admin' }, destinations: [{ cluster: 'admin', weight: 1 }] },
              { match: {}, destinations: [{ cluster: 'backend', weight: 1 }] },
            ],
          },
        ],
        [
          { name: 'admin', endpoints: [OutboundFixture.endpoint(admin)] },
          { name: 'backend', endpoints: [OutboundFixture.endpoint(other)] },
        ],
      ),
    );
    expect((await f.call('/api/../admin/x?y=%2F')).body).to.equal('admin');
    expect((await f.call('//admin')).body).to.equal('admin');
    expect((await f.call('/%61dmin')).body).to.equal('admin');
    expect((await f.call('/api')).body).to.equal('other');
    expect(seen).to.deep.equal([
      'admin /admin/x?y=%2F',
      'admin /admin',
      'admin /admin',
      'other /api',
    ]);
    expect((await f.call('/x%2Fadmin')).status).to.equal(400);
  });
});
