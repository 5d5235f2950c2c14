/**
 * `causeway run proxy`: read flags and environment, build the proxy, hand its components
 * to the runner. With `--workers N` this process becomes the primary (zone stream, admin)
 * and N workers serve the listeners; a worker process lands here too and runs its part.
 * The CLI loads this file lazily through `index.ts`.
 */
import cluster from 'node:cluster';
import type { Component, Env, Logger } from '../core/index.ts';
import { parseProxyFlags } from './src/flags.ts';
import { resolveProxyOptions } from './src/options.ts';
import { createProxy } from './src/proxy.ts';
import { workerComponents } from './src/workers/worker-agent.ts';
import { primaryComponents } from './src/workers/worker-pool.ts';

export async function proxyMain(context: {
  logger: Logger;
  env: Env;
  args: readonly string[];
}): Promise<Component[]> {
  const options = resolveProxyOptions(parseProxyFlags(context.args, context.env));
  if (cluster.isWorker) return workerComponents(context.logger);
  if (options.workers > 1) return primaryComponents(options, context.logger);
  const proxy = await createProxy(options, context.logger);
  return proxy.components();
}
