/**
 * A gateway programmed by its zone: keeps its leaf fresh (`LeafRenewer`, a CSR per
 * renewal), follows the trust bundle and its config with blocking queries, and keeps
 * itself in the zone's catalog as a mesh gateway (`meta["causeway-kind"] =
 * "mesh-gateway"`, its local listener as the address proxies dial, its public address for
 * other zones) with a TTL check it renews. Zone sync tells the other zones about it.
 *
 * With the zone unreachable the gateway keeps its last identity and config and keeps
 * routing; each loop retries with backoff.
 */
import {
  LeafRenewer,
  createCsr,
  formatSpiffeId,
  generateKeyPair,
  isCausewayError,
  privateKeyToPem,
  sleep,
  untilAborted,
} from '../../../core/index.ts';
import type { Component, Logger } from '../../../core/index.ts';
import type { Gateway } from '../gateway.ts';
import type { BundleReply, LeafReply, ZoneApi } from './zone-api.ts';

/** Catalog meta the zone reads to find its gateways (see zone-control/src/sync). */
const KIND_META = 'causeway-kind';
const PUBLIC_ADDR_META = 'causeway-public-addr';
const CHECK_TTL = '30s';
const CHECK_PASS_EVERY_MS = 10_000;

export interface ZoneFollowerOptions {
  api: ZoneApi;
  gateway: Gateway;
  name: string;
  zone: string;
  trustDomain: string;
  /** host:port other zones dial (see {@link ZoneFollower.advertise}). */
  publicAddress: string;
  logger: Logger;
}

interface KeyedLeaf extends LeafReply {
  keyPem: string;
}

export class ZoneFollower implements Component {
  readonly name = 'zone-follower';
  #leaf: KeyedLeaf | undefined;
  #bundle: BundleReply | undefined;
  #configIndex = 0;
  readonly #renewer: LeafRenewer<KeyedLeaf>;
  readonly #serviceId: string;
  #publicAddress: () => string;

  constructor(private readonly options: ZoneFollowerOptions) {
    this.#serviceId = options.name;
    this.#publicAddress = () => options.publicAddress;
    this.#renewer = new LeafRenewer<KeyedLeaf>({
      issue: () => this.#issue(),
      install: (leaf) => {
        this.#leaf = leaf;
        this.#install();
      },
      logger: options.logger,
    });
  }

  /** Where the public address comes from once the listeners are bound. */
  advertise(publicAddress: () => string): void {
    this.#publicAddress = publicAddress;
  }

  /** Get the first leaf and bundle, so the gateway can serve before it registers. */
  async bootstrap(configIndex: number): Promise<void> {
    this.#configIndex = configIndex;
    this.#bundle = await this.options.api.bundle();
    this.#leaf = await this.#issue();
    this.#install();
  }

  async start(signal: AbortSignal): Promise<void> {
    await Promise.all([
      this.#renewer.run(signal),
      this.#loop('following the gateway config', signal, async () => {
        const { index, config } = await this.options.api.config(this.options.name, {
          index: this.#configIndex,
          signal,
        });
        if (index !== this.#configIndex || this.#configIndex === 0) {
          this.options.gateway.apply(config);
        }
        this.#configIndex = index;
      }),
      this.#loop('following the trust bundle', signal, async () => {
        const bundle = await this.options.api.bundle({ index: this.#bundle?.index, signal });
        const rootsChanged = bundle.roots.join() !== this.#bundle?.roots.join();
        this.#bundle = bundle;
        this.#install();
        if (rootsChanged) this.#renewer.renewNow();
      }),
      this.#register(signal),
    ]);
  }

  #install(): void {
    if (!this.#leaf || !this.#bundle) return;
    this.options.gateway.updateIdentity({
      certificatePem: this.#leaf.certificatePem,
      chainPem: this.#leaf.chainPem,
      keyPem: this.#leaf.keyPem,
      roots: this.#bundle.roots,
      revokedSerials: this.#bundle.revokedSerials,
    });
  }

  async #issue(): Promise<KeyedLeaf> {
    const keyPair = await generateKeyPair();
    const spiffeId = formatSpiffeId({
      kind: 'gateway',
      trustDomain: this.options.trustDomain,
      zone: this.options.zone,
      name: this.options.name,
    });
    const leaf = await this.options.api.leaf(spiffeId, createCsr({ keyPair, spiffeId }));
    return { ...leaf, keyPem: privateKeyToPem(keyPair.privateKey) };
  }

  /** Register in the zone's catalog, keep the TTL check passing, deregister on stop. */
  async #register(signal: AbortSignal): Promise<void> {
    const local = this.options.gateway.localAddress();
    const checkId = `gateway:${this.options.name}`;
    const registration = {
      ID: this.#serviceId,
      Name: this.options.name,
      Address: local.host,
      Port: local.port,
      Meta: { [KIND_META]: 'mesh-gateway', [PUBLIC_ADDR_META]: this.#publicAddress() },
      Check: {
        CheckID: checkId,
        Name: 'east-west gateway alive',
        TTL: CHECK_TTL,
        DeregisterCriticalServiceAfter: '1m',
      },
    };
    let registered = false;
    await this.#loop('registering in the zone catalog', signal, async () => {
      if (!registered) {
        await this.options.api.register(registration);
        registered = true;
        this.options.logger.info(
          { local: `${local.host}:${local.port}` },
          'registered as a mesh gateway',
        );
      }
      try {
        await this.options.api.passCheck(checkId);
      } catch (err) {
        // The zone lost the registration (restarted without a store, or reaped it).
        registered = false;
        throw err;
      }
      await sleep(CHECK_PASS_EVERY_MS, signal);
    });
    await untilAborted(signal);
    if (registered) {
      await this.options.api.deregister(this.#serviceId).catch((err: unknown) => {
        this.options.logger.warn({ err: String(err) }, 'deregistering the gateway failed');
      });
    }
  }

  /** Run `step` until `signal` aborts, retrying a failure with backoff (0.5 s to 15 s). */
  async #loop(what: string, signal: AbortSignal, step: () => Promise<void>): Promise<void> {
    let backoff = 500;
    while (!signal.aborted) {
      try {
        await step();
        backoff = 500;
      } catch (err) {
        if (signal.aborted) return;
        const closed = isCausewayError(err) && err.code === 'CW_ERR_CLOSED';
        if (closed) return;
        this.options.logger.warn({ err: String(err), retryInMs: backoff }, `${what} failed`);
        await sleep(backoff, signal);
        backoff = Math.min(backoff * 2, 15_000);
      }
    }
  }
}
