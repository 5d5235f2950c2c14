/**
 * A federated zone's inputs from files: the zone token (`--zone-token-file`, or
 * `CAUSEWAY_ZONE_TOKEN`) and optionally the global root (`--global-ca-file`). Read before
 * anything starts, so a missing file fails the start with its name.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../../core/index.ts';
import type { ResolvedZoneOptions } from '../options.ts';

export interface FederationInputs {
  globalAddr: string;
  zoneToken: string | undefined;
  globalCaPem?: string;
}

export async function readFederationFiles(
  options: ResolvedZoneOptions,
): Promise<FederationInputs | undefined> {
  if (options.globalAddr === undefined) return undefined;
  const read = async (file: string, field: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${field} ${file}: ${(err as Error).message}`, field);
    }
  };
  const zoneToken =
    options.zoneTokenFile === undefined
      ? options.zoneToken
      : (await read(options.zoneTokenFile, 'zoneTokenFile')).trim();
  return {
    globalAddr: options.globalAddr,
    zoneToken,
    ...(options.globalCaFile === undefined
      ? {}
      : { globalCaPem: await read(options.globalCaFile, 'globalCaFile') }),
  };
}
