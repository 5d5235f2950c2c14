/**
 * `causeway run zone`: read flags and environment, build the zone, hand its components to
 * the runner. The CLI loads this file lazily through `index.ts`.
 */
import type { Component, Env, Logger } from '../core/index.ts';
import { parseZoneFlags } from './src/flags.ts';
import { createZone } from './src/zone.ts';

export async function zoneMain(context: {
  logger: Logger;
  env: Env;
  args: readonly string[];
}): Promise<Component[]> {
  const options = parseZoneFlags(context.args, context.env);
  const zone = await createZone(options, context.logger);
  return zone.components();
}
