/**
 * `causeway run gateway`: read flags and environment, build the gateway, hand its
 * components to the runner. The CLI loads this file lazily through `index.ts`.
 */
import type { Component, Env, Logger } from '../core/index.ts';
import { createGatewayProcess } from './src/create-gateway.ts';
import { parseGatewayFlags } from './src/flags.ts';
import { resolveGatewayCliOptions } from './src/options.ts';

export async function gatewayMain(context: {
  logger: Logger;
  env: Env;
  args: readonly string[];
}): Promise<Component[]> {
  const options = resolveGatewayCliOptions(parseGatewayFlags(context.args, context.env));
  const gateway = await createGatewayProcess(options, context.logger);
  return gateway.components();
}
