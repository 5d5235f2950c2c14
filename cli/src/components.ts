/**
 * The process components `causeway run <component>` can start.
 *
 * Each entry is loaded lazily, so `causeway store get` never imports the proxy and
 * `causeway run proxy` never imports the global control plane. Process folders register
 * here through their `index.ts` (`zone`, `global`, `proxy` and `gateway` arrive with their
 * folders).
 */
import type { Component } from '../../core/src/lifecycle.ts';
import type { Logger } from '../../core/src/logging.ts';
import type { Env } from '../../core/src/options/env.ts';

/** What a component factory gets from the command line. */
export interface RunContext {
  /** A child logger named after the component. */
  logger: Logger;
  /** The process environment, for the factory's `readEnvOptions()`. */
  env: Env;
  /**
   * Arguments after the component name that `causeway run` did not recognise
   * (`causeway run proxy --service web` → `["--service", "web"]`), for the component's
   * own flags.
   */
  args: readonly string[];
}

/** Builds the components of one process, in start order. */
export type ComponentFactory = (context: RunContext) => Component[] | Promise<Component[]>;

export interface RunnableComponent {
  /** One line for `causeway run --help`. */
  description: string;
  load(): Promise<ComponentFactory>;
}

export type ComponentRegistry = ReadonlyMap<string, RunnableComponent>;

/** The built-in registry, by the name operators type after `causeway run`. */
export const components: ComponentRegistry = new Map<string, RunnableComponent>([
  [
    'zone',
    {
      description: 'a zone control plane: catalog, KV and the Consul-compatible HTTP API',
      load: async () => (await import('../../zone-control/index.ts')).zoneMain,
    },
  ],
  [
    'global',
    {
      description: 'the global control plane: zone registry, root CA, mesh-wide API, zone sync',
      load: async () => (await import('../../global-control/index.ts')).globalMain,
    },
  ],
  [
    'gateway',
    {
      description: 'an east-west gateway: SNI routing and pooled mTLS tunnels between zones',
      load: async () => (await import('../../gateway/index.ts')).gatewayMain,
    },
  ],
  [
    'proxy',
    {
      description: 'a sidecar proxy: mTLS inbound, outbound load balancing, zone config stream',
      load: async () => (await import('../../proxy/index.ts')).proxyMain,
    },
  ],
]);

/** Where to read about components when none are registered. */
export const COMPONENTS_DOC = 'docs/README.md';

/** `"global, zone"`, or a pointer to the docs when the registry is empty. */
export function describeAvailable(registry: ComponentRegistry): string {
  const names = [...registry.keys()].sort();
  return names.length > 0 ? names.join(', ') : `(none yet — see ${COMPONENTS_DOC})`;
}
