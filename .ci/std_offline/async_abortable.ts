/**
 * OFFLINE STAND-IN for `@std/async/abortable`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/async/abortable` to when jsr.io cannot
 * be reached. Same export names and signatures as the real module. See
 * `.ci/std_offline/README.md`.
 *
 * @module
 */

/**
 * Races `p` against `signal`: the result settles as `p` does, unless the
 * signal aborts first.
 *
 * @throws {unknown} The signal's reason, when it aborts first (at once if it
 * already has).
 * @typeParam T What `p` resolves to.
 * @param p The promise to wait for.
 * @param signal Ends the wait when it aborts.
 * @returns `p`'s outcome, or a rejection with `signal.reason`.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T>;
/**
 * Passes on the items of `p` until `signal` aborts; the step under way then
 * throws the signal's reason.
 *
 * @throws {unknown} The signal's reason, once it aborts (on the first step
 * if it already has).
 * @typeParam T The item type.
 * @param p The iterable to read.
 * @param signal Ends the iteration when it aborts.
 * @returns An async generator over the items of `p`.
 */
export function abortable<T>(
  p: AsyncIterable<T>,
  signal: AbortSignal,
): AsyncGenerator<T>;
export function abortable<T>(
  p: Promise<T> | AsyncIterable<T>,
  signal: AbortSignal,
): Promise<T> | AsyncGenerator<T> {
  return p instanceof Promise
    ? abortablePromise(p, signal)
    : abortableAsyncIterable(p, signal);
}

/**
 * The promise form of {@linkcode abortable}: settles as `p` does, unless
 * `signal` aborts first.
 *
 * @typeParam T What `p` resolves to.
 * @param p The promise to wait for.
 * @param signal Ends the wait when it aborts.
 * @returns `p`'s outcome, or a rejection with `signal.reason`.
 */
export function abortablePromise<T>(
  p: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const { promise, reject } = Promise.withResolvers<never>();
  const abort = () => reject(signal.reason);
  signal.addEventListener("abort", abort, { once: true });
  return Promise.race([promise, p]).finally(() => {
    signal.removeEventListener("abort", abort);
  });
}

/**
 * The iterable form of {@linkcode abortable}: passes on the items of `p`
 * until `signal` aborts.
 *
 * @typeParam T The item type.
 * @param p The iterable to read.
 * @param signal Ends the iteration when it aborts.
 * @returns An async generator over the items of `p`.
 */
export async function* abortableAsyncIterable<T>(
  p: AsyncIterable<T>,
  signal: AbortSignal,
): AsyncGenerator<T> {
  signal.throwIfAborted();
  const { promise, reject } = Promise.withResolvers<never>();
  const abort = () => reject(signal.reason);
  signal.addEventListener("abort", abort, { once: true });
  const iterator = p[Symbol.asyncIterator]();
  try {
    while (true) {
      const { done, value } = await Promise.race([promise, iterator.next()]);
      if (done) return;
      yield value;
    }
  } finally {
    signal.removeEventListener("abort", abort);
  }
}
