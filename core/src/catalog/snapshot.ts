/**
 * A consistent view of the whole catalog, read with one `list("catalog/")`, so a reply that
 * joins nodes, instances and checks never mixes two points in time. The catalog of one
 * zone is small (thousands of records), so a read builds its indexes on the fly.
 */
import type { Store } from '../store/types.ts';
import { decodeCheck, decodeInstance, decodeNode } from './codec.ts';
import { aggregateHealth } from './health.ts';
import { CATALOG_PREFIX, parseCatalogKey } from './keys.ts';
import type { CatalogKey } from './keys.ts';
import type { CatalogNode, HealthCheck, HealthStatus, ServiceInstance, Stored } from './types.ts';

/** One instance with its node and every check that decides its health. */
export interface InstanceHealth {
  node: Stored<CatalogNode>;
  instance: Stored<ServiceInstance>;
  /** The node's own checks first, then the instance's, each in check ID order. */
  checks: Stored<HealthCheck>[];
  health: HealthStatus;
}

export class CatalogSnapshot {
  /** The store index this view is consistent with. */
  readonly index: number;
  private readonly nodesByName = new Map<string, Stored<CatalogNode>>();
  private readonly instancesByNode = new Map<string, Stored<ServiceInstance>[]>();
  private readonly checksByNode = new Map<string, Stored<HealthCheck>[]>();

  constructor(
    index: number,
    nodes: Stored<CatalogNode>[],
    instances: Stored<ServiceInstance>[],
    checks: Stored<HealthCheck>[],
  ) {
    this.index = index;
    for (const n of nodes) this.nodesByName.set(n.name, n);
    for (const i of instances) push(this.instancesByNode, i.node, i);
    for (const c of checks) push(this.checksByNode, c.node, c);
  }

  /** Every node, by name. */
  nodes(): Stored<CatalogNode>[] {
    return [...this.nodesByName.values()].sort((a, b) => compare(a.name, b.name));
  }

  node(name: string): Stored<CatalogNode> | undefined {
    return this.nodesByName.get(name);
  }

  /** Every instance, by node then ID. */
  instances(): Stored<ServiceInstance>[] {
    const nodes = [...this.instancesByNode.keys()].sort(compare);
    return nodes.flatMap((n) => this.instancesOn(n));
  }

  /** The instances on `node`, by ID. */
  instancesOn(node: string): Stored<ServiceInstance>[] {
    return [...(this.instancesByNode.get(node) ?? [])].sort((a, b) => compare(a.id, b.id));
  }

  instance(node: string, id: string): Stored<ServiceInstance> | undefined {
    return this.instancesByNode.get(node)?.find((i) => i.id === id);
  }

  /**
   * The instances of service `name`, by node then ID. Computed once per snapshot: every
   * proxy's snapshot of a zone reads the same few services (do not mutate the result).
   */
  instancesOf(name: string): Stored<ServiceInstance>[] {
    if (!this.#byService) {
      this.#byService = new Map();
      for (const i of this.instances()) push(this.#byService, i.service, i);
    }
    return this.#byService.get(name) ?? [];
  }

  #byService: Map<string, Stored<ServiceInstance>[]> | undefined;
  readonly #health = new Map<string, InstanceHealth[]>();

  /** Service name → the distinct tags of its instances, sorted. */
  serviceTags(): Map<string, string[]> {
    const tags = new Map<string, Set<string>>();
    for (const i of this.instances()) {
      const set = tags.get(i.service) ?? new Set<string>();
      for (const t of i.tags) set.add(t);
      tags.set(i.service, set);
    }
    return new Map(
      [...tags.entries()]
        .sort(([a], [b]) => compare(a, b))
        .map(([name, set]) => [name, [...set].sort(compare)]),
    );
  }

  /** Every check on `node`, node-level and service-level, by check ID. */
  checksOn(node: string): Stored<HealthCheck>[] {
    return [...(this.checksByNode.get(node) ?? [])].sort((a, b) => compare(a.checkId, b.checkId));
  }

  check(node: string, checkId: string): Stored<HealthCheck> | undefined {
    return this.checksByNode.get(node)?.find((c) => c.checkId === checkId);
  }

  /** Every check in the catalog, by node then check ID. */
  checks(): Stored<HealthCheck>[] {
    const nodes = [...this.checksByNode.keys()].sort(compare);
    return nodes.flatMap((n) => this.checksOn(n));
  }

  /** The checks of the instances of service `name`, by node then check ID. */
  checksOfService(name: string): Stored<HealthCheck>[] {
    return this.checks().filter((c) => {
      if (c.serviceId === '') return false;
      return this.instance(c.node, c.serviceId)?.service === name;
    });
  }

  /**
   * Each instance of service `name` with its node and checks. Instances whose node record
   * is missing (a registrar wrote one without the other) are left out, as Consul's join
   * would.
   */
  health(name: string): InstanceHealth[] {
    const cached = this.#health.get(name);
    if (cached) return cached;
    const out: InstanceHealth[] = [];
    this.#health.set(name, out);
    for (const instance of this.instancesOf(name)) {
      const node = this.node(instance.node);
      if (node === undefined) continue;
      const checks = this.checksOn(instance.node).filter(
        (c) => c.serviceId === '' || c.serviceId === instance.id,
      );
      checks.sort((a, b) => Number(a.serviceId !== '') - Number(b.serviceId !== ''));
      out.push({ node, instance, checks, health: aggregateHealth(checks) });
    }
    return out;
  }
}

/** Read the whole catalog at one index. */
export async function readCatalog(store: Store): Promise<CatalogSnapshot> {
  const { entries, index } = await store.list(CATALOG_PREFIX);
  const nodes: Stored<CatalogNode>[] = [];
  const instances: Stored<ServiceInstance>[] = [];
  const checks: Stored<HealthCheck>[] = [];
  for (const entry of entries) {
    const key = catalogKeyOf(entry.key);
    // Keys outside the layout are not catalog records (nothing writes them); skip them
    // rather than fail every read.
    if (key === undefined) continue;
    if (key.kind === 'node') nodes.push(decodeNode(entry));
    else if (key.kind === 'service') instances.push(decodeInstance(entry));
    else checks.push(decodeCheck(entry));
  }
  return new CatalogSnapshot(index, nodes, instances, checks);
}

function catalogKeyOf(key: string): CatalogKey | undefined {
  try {
    return parseCatalogKey(key);
  } catch {
    return undefined;
  }
}

function push<T>(map: Map<string, T[]>, key: string, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Byte order of UTF-16 code units, stable and locale-free, like the store's key order. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
