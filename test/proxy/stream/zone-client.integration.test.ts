/**
 * The proxy's stream client against a scripted zone (a `ws` server over TLS with a
 * control-plane certificate from a test CA), to push what a real zone never would:
 * snapshots that fail validation, snapshots for another service, leaves for a key the
 * proxy never generated. Each is NACKed with its reason and the last good config keeps
 * serving. Also: the token goes in the upgrade, and a server that is not a zone control
 * plane is refused before the hello.
 */
import { once } from 'node:events';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import { frameText } from '../../../core/src/proxy-stream/messages.ts';
import { createCsr, generateKeyPair, runComponents } from '../../../core/index.ts';
import { createProxy } from '../../../proxy/src/proxy.ts';
import type { Proxy } from '../../../proxy/src/proxy.ts';
import { resolveProxyOptions } from '../../../proxy/src/options.ts';
import { eventually } from '../../helpers/async.ts';
import { echoRoundTrip } from '../../helpers/mesh-participant.ts';
import { snapshot } from '../fixtures/configs.ts';
import { startTcpEcho } from '../fixtures/local-apps.ts';
import type { TcpApp } from '../fixtures/local-apps.ts';
import { meshConnect } from '../fixtures/mesh-client.ts';
import { TestCa } from '../../helpers/test-ca.ts';
import type { TestLeaf } from '../../helpers/test-ca.ts';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
const WEB = 'spiffe://causeway.mesh/zone/test/ns/default/svc/web';

type Frame = Record<string, unknown> & { type: string };

/** A zone that signs the hello's CSR and then does what the test says. */
class ScriptedZone {
  readonly frames: Frame[] = [];
  readonly upgrades: IncomingMessage[] = [];
  socket: WebSocket | undefined;
  readonly #server: https.Server;
  readonly #wss: WebSocketServer;
  #nonce = 0;

  constructor(
    readonly ca: TestCa,
    serverLeaf: TestLeaf,
    readonly firstConfig: Record<string, unknown>,
  ) {
    this.#server = https.createServer({ key: serverLeaf.keyPem, cert: serverLeaf.chainPem });
    this.#wss = new WebSocketServer({ server: this.#server });
    this.#wss.on('connection', (ws, req) => {
      this.upgrades.push(req);
      this.socket = ws;
      ws.on('message', (data) => void this.#onFrame(JSON.parse(frameText(data)) as Frame));
    });
  }

  async listen(): Promise<number> {
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return (this.#server.address() as AddressInfo).port;
  }

  push(frame: Record<string, unknown>): string {
    const nonce = `n${++this.#nonce}`;
    this.socket!.send(JSON.stringify({ ...frame, nonce }));
    return nonce;
  }

  async answer(nonce: string): Promise<Frame> {
    return eventually(
      () => this.frames.find((f) => f.nonce === nonce && (f.type === 'ack' || f.type === 'nack')),
      `an answer to ${nonce}`,
    );
  }

  async #onFrame(frame: Frame): Promise<void> {
    this.frames.push(frame);
    if (frame.type !== 'hello') return;
    const leaf = await this.ca.signCsr(frame.csr as string, WEB);
    const now = new Date();
    this.push({
      type: 'leaf',
      version: 1,
      ...leaf,
      issuedAt: now.toISOString(),
      notAfter: new Date(now.getTime() + 3_600_000).toISOString(),
    });
    this.push({ type: 'bundle', version: 1, roots: [this.ca.rootPem], revokedSerials: [] });
    this.push({ type: 'config', version: 1, snapshot: this.firstConfig });
  }

  async close(): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate();
    this.#wss.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

describe('proxy stream client against a scripted zone (integration)', function () {
  this.timeout(30_000);
  let ca: TestCa;
  let dir: string;
  let app: TcpApp;

  before(async function () {
    ca = await TestCa.create();
    dir = mkdtempSync(join(tmpdir(), 'causeway-proxy-nack-'));
    writeFileSync(join(dir, 'roots.pem'), ca.rootPem);
    writeFileSync(join(dir, 'token'), 'secret-token\n');
    app = await startTcpEcho();
  });
  after(async function () {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function run(zonePort: number): Promise<{ proxy: Proxy; stop: () => Promise<void> }> {
    const proxy = await createProxy(
      resolveProxyOptions({
        zoneControl: `wss://127.0.0.1:${zonePort}`,
        caFile: join(dir, 'roots.pem'),
        tokenFile: join(dir, 'token'),
        service: 'web',
        port: app.port,
        inboundPort: 0,
        inboundAddress: '127.0.0.1',
        adminAddr: '127.0.0.1:0',
        healthCheck: 'none',
      }),
      logger,
      { stream: { backoffBaseMs: 100, backoffMaxMs: 300 } },
    );
    const ac = new AbortController();
    const running = runComponents(proxy.components(), {
      logger,
      signal: ac.signal,
      installSignals: () => () => undefined,
      drainTimeoutMs: 5000,
    });
    running.catch(() => undefined);
    return {
      proxy,
      stop: async () => {
        ac.abort();
        await running;
      },
    };
  }

  it('NACKs snapshots it cannot decode or that are not its own, and keeps the last good one serving', async function () {
    const zone = new ScriptedZone(
      ca,
      await ca.control('test'),
      snapshot({ service: 'web', inbound: { port: 15006, protocol: 'tcp' } }),
    );
    const { proxy, stop } = await run(await zone.listen());
    try {
      await eventually(() => proxy.dataPlane.applied?.version === 1, 'config 1 to apply');
      expect(zone.upgrades[0]?.headers.authorization).to.equal('Bearer secret-token');
      const hello = zone.frames.find((f) => f.type === 'hello')!;
      expect(hello).to.include({ service: 'web', namespace: 'default', protocol: 1 });
      expect(hello.port).to.equal(proxy.dataPlane.inboundPort()!);
      expect(hello.adminPort).to.equal(proxy.admin.address().port);
      for (const kind of ['leaf', 'bundle', 'config']) {
        expect(
          zone.frames.some((f) => f.type === 'ack' && f.kind === kind && f.version === 1),
        ).to.equal(true);
      }

      const bad = await zone.answer(
        zone.push({
          type: 'config',
          version: 2,
          snapshot: snapshot({ service: 'web', clusters: 'nope' }),
        }),
      );
      expect(bad).to.include({ type: 'nack', kind: 'config', version: 2 });
      expect(bad.reason).to.match(/clusters/);

      const other = await zone.answer(
        zone.push({ type: 'config', version: 3, snapshot: snapshot({ service: 'api' }) }),
      );
      expect(other).to.include({ type: 'nack', version: 3 });
      expect(other.reason).to.match(/service api, this proxy is web/);

      const stranger = await generateKeyPair();
      const foreign = await ca.signCsr(createCsr({ keyPair: stranger, spiffeId: WEB }), WEB);
      const now = new Date().toISOString();
      const leaf = await zone.answer(
        zone.push({ type: 'leaf', version: 2, ...foreign, issuedAt: now, notAfter: now }),
      );
      expect(leaf).to.include({ type: 'nack', kind: 'leaf' });
      expect(leaf.reason).to.match(/not for a key this proxy generated/);

      expect(proxy.dataPlane.applied?.version).to.equal(1);
      const client = await ca.leaf('client');
      const socket = await meshConnect({
        port: proxy.dataPlane.inboundPort()!,
        leaf: client,
        roots: [ca.rootPem],
        server: WEB,
      });
      await echoRoundTrip(socket, 'still serving config 1');
      socket.destroy();
      const dump = (await (
        await fetch(`http://127.0.0.1:${proxy.admin.address().port}/config_dump`)
      ).json()) as {
        version: number;
        stream: { lastNack: { kind: string; reason: string } };
      };
      expect(dump.version).to.equal(1);
      expect(dump.stream.lastNack.kind).to.equal('leaf');
      const prom = await (
        await fetch(`http://127.0.0.1:${proxy.admin.address().port}/stats/prometheus`)
      ).text();
      expect(prom).to.match(/^causeway_proxy_config_rejected_total 2$/m);
      expect(prom).to.match(/^causeway_proxy_config_version 1$/m);
    } finally {
      await stop();
      await zone.close();
    }
  });

  it('refuses a server whose certificate is not a zone control plane, before any hello', async function () {
    const zone = new ScriptedZone(ca, await ca.leaf('impostor'), snapshot({ service: 'web' }));
    const { proxy, stop } = await run(await zone.listen());
    try {
      await eventually(
        () =>
          /expected spiffe:\/\/causeway\.mesh\/zone\/<any>\/control/.test(
            proxy.zoneClient!.status().lastError ?? '',
          ),
        'the identity refusal',
      );
      expect(zone.frames).to.deep.equal([]);
      expect(proxy.readiness()).to.deep.equal({
        ready: false,
        reasons: ['no certificate yet (zone stream down)', 'no config yet'],
      });
    } finally {
      await stop();
      await zone.close();
    }
  });
});
