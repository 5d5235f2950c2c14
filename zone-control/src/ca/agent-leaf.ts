/**
 * `GET /v1/agent/connect/ca/leaf/<service>`: Consul's agent hands a local service its leaf
 * certificate *and private key*, generated on the agent. The zone plays the agent here,
 * so this endpoint is for Consul-native integrations on trusted hosts; Causeway's own
 * proxies keep their keys and send CSRs to `POST /api/ca/leaf`.
 *
 * Like Consul's agent cache, one leaf per service is kept and returned until it is due
 * for renewal (80% of its life), signing moves to another root, or it is revoked; a
 * blocking query (`?index=`) waits for that replacement.
 */
import {
  createCsr,
  formatSpiffeId,
  generateKeyPair,
  privateKeyToPem,
  renewalDelayMs,
} from '../../../core/index.ts';
import type { IssuedLeaf, ZoneCa } from './zone-ca.ts';

export interface AgentLeaf {
  leaf: IssuedLeaf;
  privateKeyPem: string;
  service: string;
  /** When it is replaced (renewal point, fixed when issued so clients agree). */
  renewAt: number;
}

export class AgentLeafCache {
  readonly #leaves = new Map<string, Promise<AgentLeaf>>();

  constructor(
    private readonly ca: ZoneCa,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current leaf for `service` (namespace default), issuing one if needed. */
  async get(service: string): Promise<AgentLeaf> {
    const cached = this.#leaves.get(service);
    if (cached) {
      const current = await cached.catch(() => undefined);
      if (current && (await this.#fresh(current))) return current;
      if (this.#leaves.get(service) !== cached) return this.get(service);
    }
    const issuing = this.#issue(service);
    this.#leaves.set(service, issuing);
    issuing.catch(() => {
      if (this.#leaves.get(service) === issuing) this.#leaves.delete(service);
    });
    return issuing;
  }

  async #fresh(entry: AgentLeaf): Promise<boolean> {
    return (
      this.now() < entry.renewAt &&
      entry.leaf.rootId === this.ca.state.activeRootId &&
      !(await this.ca.isRevoked(entry.leaf.serial))
    );
  }

  async #issue(service: string): Promise<AgentLeaf> {
    const { trustDomain, zone } = this.ca.state;
    const spiffeId = formatSpiffeId({
      kind: 'workload',
      trustDomain,
      zone,
      namespace: 'default',
      service,
    });
    const keyPair = await generateKeyPair();
    const leaf = await this.ca.sign(createCsr({ keyPair, spiffeId }), spiffeId);
    return {
      leaf,
      privateKeyPem: privateKeyToPem(keyPair.privateKey),
      service,
      renewAt: this.now() + renewalDelayMs(leaf, new Date(this.now())),
    };
  }
}
