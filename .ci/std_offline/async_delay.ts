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

/** What {@linkcode delay} takes besides the time. */
export interface DelayOptions {
  /** Ends the wait early, rejecting with its reason. */
  signal?: AbortSignal;
  /**
   * Whether the pending timer keeps the process alive: with `false`, Deno
   * may exit while the wait is under way.
   *
   * @default {true}
   */
  persistent?: boolean;
}

/** The longest delay one `setTimeout` call can hold (2^31 - 1 ms). */
const MAX_TIMER_DELAY = 2 ** 31 - 1;

/**
 * Waits `ms` milliseconds. An abort of `options.signal` in the meantime ends
 * the wait, rejecting with the signal's reason. A wait longer than one timer
 * can hold (2^31 - 1 ms) is split over several timers.
 *
 * @param ms How long to wait, in milliseconds.
 * @param options An abort signal, and whether the timer keeps the process
 * alive.
 * @returns A promise that fulfils once the time is up.
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
