/**
 * Layering options from several sources with one fixed precedence:
 * flags > environment > config file > defaults.
 */

/**
 * One source's view of options of type `T`: every field optional, nested plain objects
 * (such as `tls: { certFile, keyFile }`) partial too, arrays taken whole.
 */
export type OptionLayer<T> = {
  [K in keyof T]?: T[K] extends readonly unknown[] | ((...args: never[]) => unknown)
    ? T[K]
    : T[K] extends object
      ? OptionLayer<T[K]>
      : T[K];
};

/** The sources {@link mergeOptions} combines, named so precedence is visible at the call. */
export interface OptionLayers<T> {
  defaults?: OptionLayer<T>;
  /** The optional YAML/JSON config file. */
  file?: OptionLayer<T>;
  /** From {@link readEnvOptions}. */
  env?: OptionLayer<T>;
  /** Command-line flags; commander leaves unset flags `undefined`, which never override. */
  flags?: OptionLayer<T>;
}

const precedence = ['defaults', 'file', 'env', 'flags'] as const;

/**
 * Merge option layers: flags win over env, env over file, file over defaults. `undefined`
 * never overrides a value; nested plain objects merge field by field; arrays and other
 * objects (Buffers, URLs) replace as a whole. Inputs are not modified.
 *
 * The result is still an input: pass it to the component's `resolveXOptions()` to
 * validate it and fill in what is missing.
 */
export function mergeOptions<T extends object>(layers: OptionLayers<T>): OptionLayer<T> {
  let merged: Record<string, unknown> = {};
  for (const name of precedence) {
    const layer = layers[name];
    if (layer !== undefined) merged = mergeInto(merged, layer);
  }
  return merged as OptionLayer<T>;
}

function mergeInto(base: Record<string, unknown>, over: Record<string, unknown>) {
  // Copy rather than assign into `base`, so no layer object is ever shared or mutated.
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(value) && isPlainObject(current) ? mergeInto(current, value) : value;
  }
  return out;
}

/** Object literals and parsed JSON/YAML, as opposed to arrays, Buffers, Dates or URLs. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
