/**
 * OFFLINE STAND-IN for `@std/async/delay`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/async/delay` to when jsr.io cannot be
 * reached. Same export names and signatures as the real module. See
 * `.ci/std_offline/README.md`.
 *
 * @module
 */

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Signal used to abort the delay. */
  signal?: AbortSignal;
  /**
   * Indicates whether the process should continue to run as long as the
   * timer exists.
   *
   * @default {true}
   */
  persistent?: boolean;
}

/** The longest delay one `setTimeout` call can hold (2^31 - 1 ms). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Resolve a {@linkcode Promise} after a given amount of milliseconds.
 *
 * If the optional signal is aborted before the delay duration, the returned
 * promise rejects with the signal's reason.
 *
 * @param ms Duration in milliseconds for how long the delay should last.
 * @param options Additional options.
 * @returns A promise that resolves after `ms` milliseconds.
 */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal, persistent = true } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const total = Math.trunc(Math.max(ms, 0) || 0);
    const startedAt = Date.now();
    let timer: ReturnType<typeof setTimeout>;
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    // One timer holds at most MAX_TIMER_DELAY; longer delays are chained.
    const schedule = (wait: number) => {
      timer = wait > MAX_TIMER_DELAY
        ? setTimeout(
          () => schedule(total - (Date.now() - startedAt)),
          MAX_TIMER_DELAY,
        )
        : setTimeout(done, wait);
      if (!persistent) Deno.unrefTimer(Number(timer));
    };
    schedule(total);
    signal?.addEventListener("abort", abort, { once: true });
  });
}
