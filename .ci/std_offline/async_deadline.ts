/**
 * OFFLINE STAND-IN for `@std/async/deadline`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/async/deadline` to when jsr.io cannot
 * be reached. Same export names and signatures as the real module. See
 * `.ci/std_offline/README.md`.
 *
 * @module
 */

import { abortable } from "./async_abortable.ts";

/** What {@linkcode deadline} takes besides the promise and the time. */
export interface DeadlineOptions {
  /** Ends the wait early, rejecting with its reason. */
  signal?: AbortSignal;
}

/**
 * Waits for `p` for `ms` milliseconds at most. Past that, the result rejects
 * with a `DOMException` named `"TimeoutError"`.
 *
 * @throws {DOMException} `p` did not settle in time; or the reason of
 * `options.signal`, if that aborts first.
 * @typeParam T What `p` resolves to.
 * @param p The promise to wait for.
 * @param ms How long to wait, in milliseconds.
 * @param options An optional abort signal.
 * @returns `p`'s outcome, when it settles in time.
 */
export async function deadline<T>(
  p: Promise<T>,
  ms: number,
  options: DeadlineOptions = {},
): Promise<T> {
  const signals = [AbortSignal.timeout(ms)];
  if (options.signal) signals.push(options.signal);
  return await abortable(p, AbortSignal.any(signals));
}
