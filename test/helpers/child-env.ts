/**
 * The environment for a Node child process a test spawns: no CAUSEWAY_* settings from the
 * developer's shell, and V8 coverage off.
 *
 * Why coverage off: children load the TypeScript sources through tsx in a different way
 * from mocha (the bin shim calls tsx's `register()`), the transformed code differs, and c8
 * merges raw V8 ranges per file before it applies source maps — so one child's coverage
 * garbles the report of every file it shares with the test process. The value is set, not
 * removed, because child_process copies the parent's NODE_V8_COVERAGE into an env that
 * lacks the key; an empty value turns coverage off.
 */
export function childEnv(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('CAUSEWAY_')),
  );
  return { ...env, NODE_V8_COVERAGE: '', ...extra };
}
