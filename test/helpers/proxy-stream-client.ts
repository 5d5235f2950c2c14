/**
 * A config stream client for zone tests: a real `ws` client over TLS that verifies the
 * zone's control identity with its trust bundle and keeps every frame the zone sent.
 */
import { once } from 'node:events';
import { WebSocket } from 'ws';
import {
  createCsr,
  formatSpiffeId,
  generateKeyPair,
  spiffeServerIdentityCheck,
} from '../../core/index.ts';
import type { ZoneMessage } from '../../core/src/proxy-stream/messages.ts';
import { PROTOCOL_VERSION, frameText } from '../../core/src/proxy-stream/messages.ts';
import { eventually } from './async.ts';
import { TEST_TRUST_DOMAIN, workloadId } from './ca.ts';
import type { TestZone } from './zone.ts';

export class StreamClient {
  readonly frames: ZoneMessage[] = [];
  closeCode: number | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(frameText(data)) as ZoneMessage));
    ws.on('close', (code) => (this.closeCode = code));
    ws.on('error', () => undefined);
  }

  static async connect(zone: TestZone, token?: string, zoneName = 'test'): Promise<StreamClient> {
    const { port } = zone.zone.proxyStream.address();
    const bundle = (await (await fetch(`${zone.url}/api/ca/bundle`)).json()) as { roots: string[] };
    const control = formatSpiffeId({
      kind: 'control',
      trustDomain: TEST_TRUST_DOMAIN,
      zone: zoneName,
    });
    const ws = new WebSocket(`wss://127.0.0.1:${port}/`, {
      ca: bundle.roots,
      checkServerIdentity: spiffeServerIdentityCheck(control) as unknown as () => boolean,
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    });
    const client = new StreamClient(ws);
    await once(ws, 'open');
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  /** The first frame of `type` after the first `after` frames. */
  async next<T extends ZoneMessage['type']>(
    type: T,
    after = 0,
    ms = 10_000,
  ): Promise<Extract<ZoneMessage, { type: T }>> {
    return eventually(
      () =>
        this.frames.slice(after).find((f) => f.type === type) as
          Extract<ZoneMessage, { type: T }> | undefined,
      `a ${type} frame`,
      ms,
      10,
    );
  }

  /** Every frame of `type` received so far. */
  all<T extends ZoneMessage['type']>(type: T): Extract<ZoneMessage, { type: T }>[] {
    return this.frames.filter((f) => f.type === type) as Extract<ZoneMessage, { type: T }>[];
  }

  async closed(): Promise<number> {
    return eventually(() => this.closeCode, 'the stream to close');
  }

  close(): void {
    this.ws.close();
  }
}

export interface HelloFields {
  service: string;
  instanceId: string;
  [field: string]: unknown;
}

/** A valid hello for `fields.service` with a fresh key pair and CSR. */
export async function helloFrame(fields: HelloFields): Promise<Record<string, unknown>> {
  const keyPair = await generateKeyPair();
  return {
    type: 'hello',
    protocol: PROTOCOL_VERSION,
    address: '127.0.0.1',
    port: 21000,
    upstreams: [],
    csr: createCsr({ keyPair, spiffeId: workloadId(fields.service) }),
    ...fields,
  };
}
