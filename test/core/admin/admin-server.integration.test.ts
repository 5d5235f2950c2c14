/**
 * The admin server the proxy and the gateway share: its fixed paths, the process's JSON
 * paths, and what it answers to anything else.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { AdminServer, runComponents } from '../../../core/index.ts';
import type { Readiness } from '../../../core/index.ts';

describe('core admin server', () => {
  let readiness: Readiness;
  let stop: AbortController;
  let running: Promise<void>;
  let url: string;

  beforeEach(async () => {
    readiness = { ready: false, reasons: ['no config yet'] };
    const logger = pino({ level: 'silent' });
    const admin = new AdminServer(
      { host: '127.0.0.1', port: 0 },
      {
        readiness: () => readiness,
        json: {
          '/config_dump': () => ({ version: '7' }),
          '/tunnels': () => Promise.resolve({ sessions: 2 }),
        },
        prometheus: () => Promise.resolve({ contentType: 'text/plain', body: 'up 1\n' }),
        statsJson: () => Promise.resolve([{ name: 'up' }]),
      },
      logger,
    );
    stop = new AbortController();
    running = runComponents([admin], {
      logger,
      signal: stop.signal,
      installSignals: () => () => undefined,
    });
    await admin.ready();
    url = `http://127.0.0.1:${admin.address().port}`;
  });

  afterEach(async () => {
    stop.abort();
    await running;
  });

  it('answers /ready 503 with the reasons until ready, then 200', async () => {
    const before = await fetch(`${url}/ready`);
    expect(before.status).to.equal(503);
    expect(await before.json()).to.deep.equal({ ready: false, reasons: ['no config yet'] });
    readiness = { ready: true, reasons: [] };
    expect((await fetch(`${url}/ready`)).status).to.equal(200);
  });

  it('serves the JSON paths (sync or async) and the metrics', async () => {
    expect(await (await fetch(`${url}/config_dump`)).json()).to.deep.equal({ version: '7' });
    expect(await (await fetch(`${url}/tunnels`)).json()).to.deep.equal({ sessions: 2 });
    expect(await (await fetch(`${url}/stats/prometheus`)).text()).to.equal('up 1\n');
    expect(await (await fetch(`${url}/stats`)).json()).to.deep.equal([{ name: 'up' }]);
  });

  it('answers an unknown path with 404 listing the paths, and other methods with 405', async () => {
    const missing = await fetch(`${url}/constructor`);
    expect(missing.status).to.equal(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).to.equal(
      'no admin endpoint /constructor; try /ready, /config_dump, /tunnels, /stats/prometheus, /stats',
    );
    const post = await fetch(`${url}/ready`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect(post.headers.get('allow')).to.match(/GET/);
  });
});
