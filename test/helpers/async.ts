/**
 * Timeouts for tests that wait on async iterators, so a missing event fails the test with
 * a clear message instead of hanging until mocha's global timeout.
 */

/** Resolve with the promise's value, or reject with a descriptive error after `ms`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what = 'operation',
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export type Raced<T> = { timedOut: true } | { timedOut: false; value: T };

/**
 * Race a promise against a timer without failing: used to assert that nothing happens
 * within a short window. The promise keeps running and can still be awaited afterwards.
 */
export async function raceTimeout<T>(promise: Promise<T>, ms: number): Promise<Raced<T>> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Raced<T>>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), ms);
  });
  try {
    return await Promise.race([
      promise.then((value): Raced<T> => ({ timedOut: false, value })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The iterator's next result, or an error if none arrives within `timeoutMs`. */
export function nextEvent<T>(iter: AsyncIterator<T>, timeoutMs = 2000): Promise<IteratorResult<T>> {
  return withTimeout(iter.next(), timeoutMs, 'waiting for the next event');
}

/**
 * Pull up to `n` values, stopping early if the iterator ends. Fails if the whole
 * collection takes longer than `timeoutMs`, reporting how many values had arrived.
 */
export async function collect<T>(
  iter: AsyncIterator<T>,
  n: number,
  timeoutMs = 5000,
): Promise<T[]> {
  const out: T[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const left = deadline - Date.now();
    let result: IteratorResult<T>;
    try {
      result = await withTimeout(iter.next(), Math.max(left, 1));
    } catch {
      const wanted = Number.isFinite(n) ? `${n} values` : 'values until the end';
      throw new Error(`collected ${out.length} of ${wanted} before ${timeoutMs} ms passed`);
    }
    if (result.done === true) break;
    out.push(result.value);
  }
  return out;
}

/** Every remaining value until the iterator ends (fails if it has not ended by `timeoutMs`). */
export function drain<T>(iter: AsyncIterator<T>, timeoutMs = 5000): Promise<T[]> {
  return collect(iter, Number.POSITIVE_INFINITY, timeoutMs);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Poll `check` every `everyMs` until it returns a value other than undefined/false. */
export async function eventually<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  what: string,
  timeoutMs = 10_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
