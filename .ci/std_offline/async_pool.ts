/**
 * OFFLINE STAND-IN for `@std/async/pool`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/async/pool` to when jsr.io cannot be
 * reached. Same export names and signatures as the real module. See
 * `.ci/std_offline/README.md`.
 *
 * @module
 */

/**
 * The message of the `AggregateError` that {@linkcode pooledMap} throws when
 * a call fails.
 */
export const ERROR_WHILE_MAPPING_MESSAGE =
  "Cannot complete the mapping as an error was thrown from an item";

/**
 * Maps each item of `array` through `iteratorFn` with at most `poolLimit`
 * calls in flight, and yields the results in the order of the input. After
 * a call fails, no other one starts: those under way are awaited, then all
 * their failures are thrown at once as one `AggregateError`.
 *
 * @typeParam T The item type of the input.
 * @typeParam R What each call resolves to.
 * @param poolLimit How many calls may run at once.
 * @param array The items to map, from a sync or an async iterable.
 * @param iteratorFn Maps one item.
 * @returns An async iterator over the results.
 */
export function pooledMap<T, R>(
  poolLimit: number,
  array: Iterable<T> | AsyncIterable<T>,
  iteratorFn: (data: T) => Promise<R>,
): AsyncIterableIterator<R> {
  const results = new TransformStream<Promise<R>, R>({
    async transform(pending, controller) {
      try {
        controller.enqueue(await pending);
      } catch (error) {
        if (
          error instanceof AggregateError &&
          error.message === ERROR_WHILE_MAPPING_MESSAGE
        ) {
          controller.error(error);
        }
      }
    },
  });
  (async () => {
    const writer = results.writable.getWriter();
    const running: Promise<unknown>[] = [];
    try {
      for await (const item of array) {
        const task = Promise.resolve().then(() => iteratorFn(item));
        writer.write(task).catch(() => {});
        const settled: Promise<unknown> = task.then(() =>
          running.splice(running.indexOf(settled), 1)
        );
        running.push(settled);
        if (running.length >= poolLimit) await Promise.race(running);
      }
      await Promise.all(running);
      await writer.close();
    } catch {
      const errors: unknown[] = [];
      for (const outcome of await Promise.allSettled(running)) {
        if (outcome.status === "rejected") errors.push(outcome.reason);
      }
      writer.write(
        Promise.reject(new AggregateError(errors, ERROR_WHILE_MAPPING_MESSAGE)),
      ).catch(() => {});
    }
  })();
  return results.readable[Symbol.asyncIterator]();
}
