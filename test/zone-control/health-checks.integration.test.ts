/**
 * The zone running health checks, end to end on a real zone (embedded and Redis): HTTP
 * checks against a tiny server on 127.0.0.1 (2xx passing, 429 warning, 5xx critical), TCP
 * checks (connect = passing), TTL checks expiring, DeregisterCriticalServiceAfter removing
 * the service, and probes stopping when a service is deregistered. Intervals and TTLs are
 * a few hundred milliseconds; assertions wait for the outcome, never for a time.
 */
import { expect } from 'chai';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { forEachBackend } from '../helpers/zone.ts';

interface AgentCheck {
  Status: string;
  Output: string;
  Type: string;
}

/** Poll `probe` until it returns a value, or fail after `timeoutMs` with the last one seen. */
async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 8000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A tiny HTTP server answering `status` (changeable), counting requests. */
async function httpTarget() {
  const target = { status: 200, hits: 0, port: 0, server: http.createServer() };
  target.server.on('request', (_req, res) => {
    target.hits++;
    res.writeHead(target.status, { 'content-type': 'text/plain' });
    res.end(`status ${target.status}`);
  });
  await new Promise<void>((r) => target.server.listen(0, '127.0.0.1', r));
  target.port = (target.server.address() as AddressInfo).port;
  return target;
}

/**
 * The consul client's typings want `name` and `timeout` on every service check; neither
 * Consul nor the client does, and these tests rely on the defaults.
 */
function serviceCheck<T extends object>(c: T): T & { name: string; timeout: string } {
  return c as T & { name: string; timeout: string };
}

forEachBackend('health checks run by the zone', (env) => {
  async function agentCheck(id: string): Promise<AgentCheck | undefined> {
    const checks = (await env.consul.agent.check.list()) as Record<string, AgentCheck>;
    return checks[id];
  }

  function statusOf(id: string, status: string): Promise<AgentCheck> {
    return until(`check ${id} to be ${status}`, async () => {
      const c = await agentCheck(id);
      return c?.Status === status ? c : undefined;
    });
  }

  it('runs an HTTP check: 2xx passing, 429 warning, 5xx critical', async function () {
    const target = await httpTarget();
    try {
      const url = `http://127.0.0.1:${target.port}/health`;
      await env.consul.agent.service.register({
        name: 'http-svc',
        port: target.port,
        check: serviceCheck({ http: url, interval: '100ms', timeout: '1s' }),
      });
      const passing = await statusOf('service:http-svc', 'passing');
      expect(passing.Type).to.equal('http');
      expect(passing.Output).to.equal(`HTTP GET ${url}: 200 OK Output: status 200`);
      target.status = 429;
      await statusOf('service:http-svc', 'warning');
      target.status = 503;
      const critical = await statusOf('service:http-svc', 'critical');
      expect(critical.Output).to.include('503 Service Unavailable');
      target.status = 204;
      await statusOf('service:http-svc', 'passing');
    } finally {
      await env.consul.agent.service.deregister('http-svc');
      target.server.close();
    }
  });

  it('runs a TCP check: passing while something listens, critical once it stops', async function () {
    const server = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await env.consul.agent.service.register({
        name: 'tcp-svc',
        port,
        check: serviceCheck({ tcp: `127.0.0.1:${port}`, interval: '100ms', timeout: '1s' }),
      });
      const passing = await statusOf('service:tcp-svc', 'passing');
      expect(passing.Output).to.equal(`TCP connect 127.0.0.1:${port}: Success`);
      await new Promise<void>((r) => server.close(() => r()));
      const critical = await statusOf('service:tcp-svc', 'critical');
      expect(critical.Output).to.include(`TCP connect 127.0.0.1:${port}:`);
    } finally {
      await env.consul.agent.service.deregister('tcp-svc');
      server.close();
    }
  });

  it('turns a TTL check critical when it is not renewed in time', async function () {
    await env.consul.agent.service.register({
      name: 'ttl-svc',
      check: serviceCheck({ ttl: '400ms' }),
    });
    await env.consul.agent.check.pass({ id: 'service:ttl-svc', note: 'still here' });
    expect((await agentCheck('service:ttl-svc'))?.Status).to.equal('passing');
    const expired = await statusOf('service:ttl-svc', 'critical');
    expect(expired.Output).to.equal('TTL expired (last output before timeout follows): still here');
    await env.consul.agent.service.deregister('ttl-svc');
  });

  it('deregisters a service critical for longer than DeregisterCriticalServiceAfter', async function () {
    await env.consul.agent.service.register({
      name: 'doomed',
      check: serviceCheck({ ttl: '10s', deregistercriticalserviceafter: '300ms' }),
    });
    // Registered critical (Consul's initial status): the clock starts now.
    await until('the service to be deregistered', async () => {
      const services = (await env.consul.agent.service.list()) as Record<string, unknown>;
      return 'doomed' in services ? undefined : true;
    });
    expect(await agentCheck('service:doomed')).to.equal(undefined);
  });

  it('keeps a passing service that has DeregisterCriticalServiceAfter', async function () {
    await env.consul.agent.service.register({
      name: 'kept',
      check: serviceCheck({
        ttl: '10s',
        status: 'passing',
        deregistercriticalserviceafter: '200ms',
      }),
    });
    // Give the reaper several periods; the service must still be there.
    await new Promise((r) => setTimeout(r, 600));
    const services = (await env.consul.agent.service.list()) as Record<string, unknown>;
    expect(services).to.have.property('kept');
    await env.consul.agent.service.deregister('kept');
  });

  it('stops probing once the service is deregistered', async function () {
    const target = await httpTarget();
    try {
      await env.consul.agent.service.register({
        name: 'probed',
        check: serviceCheck({ http: `http://127.0.0.1:${target.port}/`, interval: '100ms' }),
      });
      await until('the first probes', () => Promise.resolve(target.hits >= 2 ? true : undefined));
      await env.consul.agent.service.deregister('probed');
      // The runner follows the store's watch; once the removal has reached it, hits stop.
      await new Promise((r) => setTimeout(r, 300));
      const after = target.hits;
      await new Promise((r) => setTimeout(r, 500));
      expect(target.hits).to.equal(after);
    } finally {
      target.server.close();
    }
  });
});
