/**
 * A global control plane reduced to a script, for testing a zone's side of global KV on
 * its own: a real TLS WebSocket server with a real root, global identity and signed zone
 * tokens, speaking the sync protocol frame by frame — a welcome naming the global KV
 * prefixes, full `kv` deltas of what it holds, answers to `kv-write` (or silence, or a
 * dropped connection), and going away and coming back on the same port.
 */
import { createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';
import {
  SYNC_PROTOCOL_VERSION,
  certificatePin,
  decodeZoneFrame,
  generateKeyPair,
  kvResourceName,
  privateKeyToPem,
  signGlobalCertificate,
  signIntermediateCertificate,
  signZoneToken,
} from '../../../core/index.ts';
import type {
  KvResource,
  KvWriteMessage,
  KvWrittenMessage,
  ZoneToGlobal,
} from '../../../core/index.ts';
import { SYNC_TRUST_DOMAIN, makeGlobalKeys } from '../../helpers/sync-global.ts';

export interface GlobalEntry {
  /** base64 */
  value: string;
  flags: number;
  modifyIndex: number;
}

/** How the script answers a `kv-write`. */
export type WriteMode =
  | 'apply'
  | 'ignore'
  | 'drop-connection'
  | ((w: KvWriteMessage) => Omit<KvWrittenMessage, 'type' | 'id'>);

export interface ScriptedGlobalOptions {
  prefixes?: string[];
  heartbeatMs?: number;
}

const sha = (v: unknown): string =>
  createHash('sha256').update(JSON.stringify(v)).digest('hex').slice(0, 16);

export class ScriptedGlobal {
  /** What the welcome names; change it before the zone's next connection. */
  prefixes: string[];
  heartbeatMs: number;
  /** Global's KV: key → entry. */
  readonly kv = new Map<string, GlobalEntry>();
  index = 100;
  writeMode: WriteMode = 'apply';
  /** Every `kv-write` received, in order. */
  readonly writes: KvWriteMessage[] = [];
  /** Every NACK the zone sent. */
  readonly nacks: { resourceType: string; message: string }[] = [];
  /** Extra kv resources sent as they are (to test what the zone refuses). */
  extraKv: { name: string; body: unknown }[] = [];
  readonly #sockets = new Set<WebSocket>();
  #server: https.Server | undefined;
  #port = 0;
  #revision = 0;
  #keys!: Awaited<ReturnType<typeof makeGlobalKeys>>;
  #identity!: { cert: string; key: string };

  private constructor(options: ScriptedGlobalOptions) {
    this.prefixes = options.prefixes ?? ['global/'];
    this.heartbeatMs = options.heartbeatMs ?? 1000;
  }

  static async start(options: ScriptedGlobalOptions = {}): Promise<ScriptedGlobal> {
    const g = new ScriptedGlobal(options);
    g.#keys = await makeGlobalKeys();
    const pair = await generateKeyPair();
    g.#identity = {
      cert:
        signGlobalCertificate({
          root: g.#keys.root,
          trustDomain: SYNC_TRUST_DOMAIN,
          publicKey: pair.publicKey,
        }) + g.#keys.root.pem,
      key: privateKeyToPem(pair.privateKey),
    };
    await g.listen();
    return g;
  }

  get url(): string {
    return `wss://127.0.0.1:${this.#port}`;
  }

  get rootPem(): string {
    return this.#keys.root.pem;
  }

  /** Zones connected now. */
  get connections(): number {
    return this.#sockets.size;
  }

  token(zone: string): string {
    const iat = Math.floor(Date.now() / 1000);
    return signZoneToken(
      {
        v: 1,
        zone,
        kind: 'universal',
        td: SYNC_TRUST_DOMAIN,
        rootPin: certificatePin(this.#keys.root.pem),
        iat,
        exp: iat + 3600,
        jti: randomBytes(12).toString('base64url'),
      },
      this.#keys.tokenKey.privateKey,
    );
  }

  /** Write global's KV (as global's own API would) and send the set to every zone. */
  set(key: string, value: string, flags = 0): number {
    const modifyIndex = ++this.index;
    this.kv.set(key, { value: Buffer.from(value).toString('base64'), flags, modifyIndex });
    this.push();
    return modifyIndex;
  }

  delete(key: string): void {
    this.kv.delete(key);
    ++this.index;
    this.push();
  }

  /** Send the whole `kv` set to every connected zone. */
  push(): void {
    for (const ws of this.#sockets) this.#sendKv(ws);
  }

  /** Listen (again) on the same port. */
  async listen(): Promise<void> {
    const server = https.createServer({
      ...this.#identity,
      minVersion: 'TLSv1.2',
      requestCert: true,
      rejectUnauthorized: false,
    });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => this.#accept(ws));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, '127.0.0.1', () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Go away: close every zone connection and stop listening ({@link listen} reuses the port). */
  async stop(): Promise<void> {
    for (const ws of this.#sockets) ws.terminate();
    this.#sockets.clear();
    const server = this.#server;
    this.#server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(ws: WebSocket): void {
    this.#sockets.add(ws);
    ws.on('close', () => this.#sockets.delete(ws));
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      let frame: ZoneToGlobal;
      try {
        frame = decodeZoneFrame((data as Buffer).toString());
      } catch {
        ws.close(4001, 'bad frame');
        return;
      }
      this.#onFrame(ws, frame);
    });
  }

  #send(ws: WebSocket, frame: unknown): void {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
  }

  #onFrame(ws: WebSocket, frame: ZoneToGlobal): void {
    switch (frame.type) {
      case 'hello': {
        const intermediatePem =
          frame.csr === undefined
            ? undefined
            : signIntermediateCertificate({
                issuer: this.#keys.root,
                trustDomain: SYNC_TRUST_DOMAIN,
                zone: frame.zone,
                csrPem: frame.csr,
              });
        this.#send(ws, {
          type: 'welcome',
          protocol: SYNC_PROTOCOL_VERSION,
          zone: frame.zone,
          trustDomain: SYNC_TRUST_DOMAIN,
          roots: [this.#keys.root.pem],
          ...(intermediatePem === undefined ? {} : { intermediatePem }),
          heartbeatMs: this.heartbeatMs,
          kvGlobalPrefixes: this.prefixes,
          resume: {},
        });
        this.#sendKv(ws);
        return;
      }
      case 'delta':
        this.#send(ws, {
          type: 'ack',
          resourceType: frame.resourceType,
          nonce: frame.nonce,
          revision: frame.revision,
        });
        return;
      case 'nack':
        this.nacks.push({ resourceType: frame.resourceType, message: frame.message });
        return;
      case 'ping':
        this.#send(ws, { type: 'pong', at: Date.now() });
        return;
      case 'kv-write':
        this.writes.push(frame);
        this.#write(ws, frame);
        return;
      default:
        return;
    }
  }

  #write(ws: WebSocket, w: KvWriteMessage): void {
    const mode = this.writeMode;
    if (mode === 'ignore') return;
    if (mode === 'drop-connection') {
      ws.terminate();
      return;
    }
    if (typeof mode === 'function') {
      this.#send(ws, { type: 'kv-written', id: w.id, ...mode(w) });
      return;
    }
    const { op } = w;
    const current = this.kv.get(op.key);
    let ok = true;
    switch (op.verb) {
      case 'set':
      case 'cas':
        if (op.verb === 'cas') {
          ok = op.index === 0 ? !current : current?.modifyIndex === op.index;
        }
        if (ok) {
          this.kv.set(op.key, {
            value: op.value ?? '',
            flags: op.flags ?? 0,
            modifyIndex: ++this.index,
          });
        }
        break;
      case 'delete':
      case 'delete-cas':
        if (op.verb === 'delete-cas' && current && current.modifyIndex !== op.index) ok = false;
        if (ok) {
          this.kv.delete(op.key);
          ++this.index;
        }
        break;
      case 'delete-tree':
        for (const key of [...this.kv.keys()]) if (key.startsWith(op.key)) this.kv.delete(key);
        ++this.index;
        break;
    }
    // As global: the answer first, then the change reaches the zone's replica.
    this.#send(ws, { type: 'kv-written', id: w.id, ok, index: ok ? this.index : 0 });
    if (ok) setTimeout(() => this.push(), 20);
  }

  #sendKv(ws: WebSocket): void {
    const upserts = [...this.kv].map(([key, e]) => {
      const body: KvResource = { key, value: e.value, flags: e.flags, modifyIndex: e.modifyIndex };
      return { name: kvResourceName(key), version: sha(body), body };
    });
    for (const extra of this.extraKv) {
      upserts.push({ name: extra.name, version: sha(extra.body), body: extra.body as KvResource });
    }
    const revision = `s.${++this.#revision}`;
    this.#send(ws, {
      type: 'delta',
      resourceType: 'kv',
      nonce: `n${this.#revision}`,
      revision,
      baseRevision: '',
      full: true,
      retain: [],
      more: false,
      chunk: 0,
      upserts,
      removes: [],
    });
  }
}
