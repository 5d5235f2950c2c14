/**
 * Reading a process's YAML-or-JSON config file (the proxy's and the gateway's bootstrap
 * files): read it, parse it, require an object with known top-level fields, and hand back
 * a `fail` that names the file and field the same way everywhere.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '../errors.ts';
import { isPlainObject } from './merge.ts';

export interface ConfigFile {
  /** The absolute path read. */
  path: string;
  root: Record<string, unknown>;
  /** Throw a ConfigError `<file>: <field>: <message>` naming `field`. */
  fail: (message: string, field: string) => never;
}

/** @throws ConfigError (field `bootstrap`) when the file cannot be read or parsed. */
export async function readConfigFile(file: string, fields: readonly string[]): Promise<ConfigFile> {
  const path = resolve(file);
  const fail = (message: string, field: string): never => {
    throw new ConfigError(`${file}: ${field}: ${message}`, field);
  };
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `cannot read the bootstrap file ${file}: ${(err as Error).message}`,
      'bootstrap',
    );
  }
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new ConfigError(
      `${file} is not valid YAML or JSON: ${(err as Error).message}`,
      'bootstrap',
    );
  }
  if (!isPlainObject(doc)) return fail('the file must hold an object', '(root)');
  for (const key of Object.keys(doc)) {
    if (!fields.includes(key)) fail(`unknown field (expected ${fields.join(', ')})`, key);
  }
  return { path, root: doc, fail };
}
