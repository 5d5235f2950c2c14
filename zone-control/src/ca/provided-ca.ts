/**
 * `--ca-cert-file` / `--ca-key-file`: a provided root, or an intermediate followed by its
 * issuers up to the root, read and checked at start.
 */
import { readFile } from 'node:fs/promises';
import { ConfigError, validateProvidedCa } from '../../../core/index.ts';
import type { ProvidedCa } from '../../../core/index.ts';

export async function readProvidedCa(options: {
  caCertFile: string | undefined;
  caKeyFile: string | undefined;
}): Promise<ProvidedCa | undefined> {
  if (options.caCertFile === undefined || options.caKeyFile === undefined) return undefined;
  const read = async (file: string, field: string): Promise<string> => {
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`, field);
    }
  };
  const provided = {
    certificatePem: await read(options.caCertFile, 'caCertFile'),
    privateKeyPem: await read(options.caKeyFile, 'caKeyFile'),
  };
  try {
    validateProvidedCa(provided);
  } catch (err) {
    throw new ConfigError(`--ca-cert-file/--ca-key-file: ${(err as Error).message}`, 'caCertFile');
  }
  return provided;
}
