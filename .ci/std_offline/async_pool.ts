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

/** Error message emitted from the thrown error while mapping. */
export const ERROR_WHILE_MAPPING_MESSAGE =
  "Cannot complete the mapping as an error was thrown from an item";

/**
 * Transforms values from an (async) iterable into another async iterable,
 * running at most `poolLimit` transforms at once. Results are yielded in
 * input order. If a transform throws, no new transform starts; the running
 * ones finish, and their rejections are thrown together in an
 * `AggregateError`.
 *
 * @typeParam T The input type.
 * @typeParam R The output type.
 * @param poolLimit The maximum count of items being processed concurrently.
 * @param array The input array for mapping.
 * @param iteratorFn The function to call for every item of the array.
 * @returns The async iterator with the transformed values.
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
