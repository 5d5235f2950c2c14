/**
 * Snapshots built once per proxy shape, not once per proxy. A rebuild after a change
 * otherwise builds, serializes and checks (`decodeProxyConfig`) the same snapshot for
 * every one of a service's proxies: with a thousand `web` proxies that was most of a
 * zone's work per change. Proxies whose hellos agree on the {@link ProxyShape} fields
 * (service, namespace, inbound port, app protocol, upstreams with their local ports) get
 * the same snapshot by construction — the builder reads nothing else — so the first
 * session of a shape builds it and the others reuse its canonical JSON.
 *
 * Entries belong to one `SnapshotInputs` object (a new one is read after every change)
 * and go away with it, so a cached snapshot is never one built from older inputs. What is
 * shared is text: nothing a session could change for the others.
 */
import { decodeProxyConfig } from '../../../core/index.ts';
import { buildSnapshot, proxyShape } from './snapshot-builder.ts';
import type { ProxyShape, SnapshotInputs } from './snapshot-builder.ts';

/** A snapshot as every proxy of one shape gets it. */
export interface SharedSnapshot {
  /** The snapshot's canonical JSON (the builder is pure and builds in a fixed order). */
  readonly text: string;
  /** Why the snapshot fails the proxy's own checks (`decodeProxyConfig`); then not sent. */
  readonly invalid?: string;
}

/** A proxy's shape and the key it is cached under; a session makes it once, at hello. */
export interface KeyedShape {
  /** The canonical JSON of `shape`. */
  readonly key: string;
  readonly shape: Readonly<ProxyShape>;
}

/**
 * Copy `hello`'s shape fields (and only those) and key them. The builder gets this copy,
 * so whatever it reads is part of the key.
 */
export function keyedShape(hello: ProxyShape): KeyedShape {
  const shape = proxyShape(hello);
  for (const u of shape.upstreams) Object.freeze(u);
  Object.freeze(shape.upstreams);
  return { key: JSON.stringify(shape), shape: Object.freeze(shape) };
}

type Built = SharedSnapshot | { readonly failed: unknown };

export class SnapshotCache {
  readonly #byInputs = new WeakMap<SnapshotInputs, Map<string, Built>>();

  /**
   * The snapshot for a proxy of this shape under `inputs`, built on the first call for
   * the shape. @throws what the builder threw (to every caller of that shape).
   */
  get(inputs: SnapshotInputs, proxy: KeyedShape): SharedSnapshot {
    let shapes = this.#byInputs.get(inputs);
    if (shapes === undefined) {
      shapes = new Map();
      this.#byInputs.set(inputs, shapes);
    }
    let built = shapes.get(proxy.key);
    if (built === undefined) {
      built = build(inputs, proxy.shape);
      shapes.set(proxy.key, built);
    }
    if ('failed' in built) throw built.failed;
    return built;
  }
}

function build(inputs: SnapshotInputs, shape: ProxyShape): Built {
  try {
    const snapshot = buildSnapshot(inputs, shape);
    const text = JSON.stringify(snapshot);
    try {
      decodeProxyConfig(snapshot);
      return { text };
    } catch (err) {
      return { text, invalid: (err as Error).message };
    }
  } catch (err) {
    return { failed: err };
  }
}
