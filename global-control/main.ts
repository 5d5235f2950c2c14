/**
 * `causeway run global`: read flags and environment, build the global control plane, hand
 * its components to the runner. The CLI loads this file lazily through `index.ts`.
 */
import type { Component, Env, Logger } from '../core/index.ts';
import { parseGlobalFlags } from './src/flags.ts';
import { createGlobal } from './src/global.ts';

export async function globalMain(context: {
  logger: Logger;
  env: Env;
  args: readonly string[];
}): Promise<Component[]> {
  const options = parseGlobalFlags(context.args, context.env);
  const global = await createGlobal(options, context.logger);
  return global.components();
}
