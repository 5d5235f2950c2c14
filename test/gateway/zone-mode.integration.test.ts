/**
 * A gateway programmed by its zone (`--zone-control`), in-process against a real zone:
 * it takes its config and identity from the zone, registers itself in the catalog as a
 * mesh gateway with a passing TTL check, and deregisters when it stops.
 */
import { expect } from 'chai';
import { pino } from 'pino';
import { runComponents } from '../../core/index.ts';
import { createGatewayProcess, resolveGatewayCliOptions } from '../../gateway/index.ts';
import { eventually } from '../helpers/async.ts';
import { startZone } from '../helpers/zone.ts';
import type { TestZone } from '../helpers/zone.ts';

interface HealthEntry {
  Service: { Service: string; Address: string; Port: number; Meta: Record<string, string> };
  Checks: { CheckID: string; Status: string }[];
}

describe('gateway programmed by its zone', function () {
  this.timeout(60_000);
  let zone: TestZone;

  beforeEach(async () => {
    zone = await startZone({ name: 'east' });
  });
  afterEach(async () => {
    await zone.stop();
  });

  it('registers as a mesh gateway with its local listener and public address, and leaves on stop', async () => {
    const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
    const options = resolveGatewayCliOptions({
      zoneControl: zone.url,
      name: 'east-gw',
      publicListen: '127.0.0.1:0',
      localListen: '127.0.0.1:0',
      adminAddr: '127.0.0.1:0',
    });
    expect(options.mode).to.equal('zone');
    const gw = await createGatewayProcess(options, logger);
    const ac = new AbortController();
    const running = runComponents(gw.components(), {
      logger,
      signal: ac.signal,
      installSignals: () => () => undefined,
      drainTimeoutMs: 5000,
    });
    running.catch(() => undefined);
    try {
      // Its identity is the zone's gateway identity, from a CSR.
      const dump = gw.gateway.configDump() as {
        identity: { spiffeId: string };
        config: { zone: string };
      };
      expect(dump.identity.spiffeId).to.equal('spiffe://causeway.mesh/zone/east/gateway/east-gw');
      expect(dump.config.zone).to.equal('east');
      const entry = await eventually(async () => {
        const res = await fetch(`${zone.url}/v1/health/service/east-gw`);
        const list = (await res.json()) as HealthEntry[];
        const first = list[0];
        return first?.Checks.some((c) => c.CheckID === 'gateway:east-gw' && c.Status === 'passing')
          ? first
          : undefined;
      }, 'the gateway registered with a passing check');
      const local = gw.gateway.localAddress();
      const pub = gw.gateway.publicAddress();
      expect(entry.Service.Address).to.equal('127.0.0.1');
      expect(entry.Service.Port).to.equal(local.port);
      expect(entry.Service.Meta).to.deep.equal({
        'causeway-kind': 'mesh-gateway',
        'causeway-public-addr': `127.0.0.1:${pub.port}`,
      });
    } finally {
      ac.abort();
      await running;
    }
    const after = (await (
      await fetch(`${zone.url}/v1/health/service/east-gw`)
    ).json()) as HealthEntry[];
    expect(after).to.deep.equal([]);
  });

  it('refuses to run without --name, or with both --zone-control and --bootstrap', () => {
    expect(() => resolveGatewayCliOptions({ zoneControl: zone.url })).to.throw(/needs --name/);
    expect(() =>
      resolveGatewayCliOptions({ zoneControl: zone.url, name: 'gw', bootstrap: 'gw.yaml' }),
    ).to.throw(/one source of identity and config/);
  });
});
