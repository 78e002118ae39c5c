/**
 * OFFLINE STAND-IN for `@std/testing/time`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/testing/time` to when jsr.io cannot be
 * reached. {@linkcode FakeTime} keeps the real class's names, signatures and
 * behaviour (what is faked, when microtasks run, the error messages) and
 * takes its timer queue from `@sinonjs/fake-timers`. See
 * `.ci/std_offline/README.md` for the few differences.
 *
 * @module
 */

// @sinonjs/fake-timers ships no types; the shapes used are declared below.
import FakeTimers from "npm:@sinonjs/fake-timers@13.0.5";
import type { DelayOptions } from "./async_delay.ts";

export type { DelayOptions };

/** A timer handle as fake-timers returns it (like Deno's `Timeout`). */
interface FakeTimerHandle {
  [Symbol.toPrimitive](): number;
}

/** The part of a fake-timers clock that {@linkcode FakeTime} drives. */
interface Clock {
  now: number;
  setTimeout(
    callback: (...args: unknown[]) => void,
    delay: number,
    ...args: unknown[]
  ): FakeTimerHandle;
  clearTimeout(handle: unknown): void;
  setInterval(
    callback: (...args: unknown[]) => void,
    delay: number,
    ...args: unknown[]
  ): FakeTimerHandle;
  clearInterval(handle: unknown): void;
  tick(ms: number): number;
  next(): number;
  countTimers(): number;
}

interface FakeTimersWithGlobal {
  createClock(start: number, loopLimit: number): Clock;
}

const fakeTimers = (FakeTimers as unknown as {
  withGlobal(global: typeof globalThis): FakeTimersWithGlobal;
}).withGlobal(globalThis);

/** The real time functions, captured before anything fakes them. */
const real = {
  Date,
  setTimeout,
  clearTimeout,
  setInterval,
  clearInterval,
  AbortSignalTimeout: AbortSignal.timeout,
};

/**
 * How many timers `runAll` / `runAllAsync` fire before they give up (the
 * real ones have no bound and would hang on an interval never cleared).
 */
const RUN_ALL_LIMIT = 10_000;

/**
 * Represents an error when trying to execute an invalid operation on fake
 * time, given the state fake time is in.
 */
export class TimeError extends Error {
  /**
   * Construct TimeError.
   *
   * @param message The error message.
   */
  constructor(message: string) {
    super(message);
    this.name = "TimeError";
  }
}

/** The option for {@linkcode FakeTime}. */
export interface FakeTimeOptions {
  /**
   * The rate relative to real time at which fake time is updated. By
   * default time only moves forward through calling tick or setting now. Set
   * to 1 to have the fake time automatically tick forward at the same rate in
   * milliseconds as real time.
   *
   * @default {0}
   */
  advanceRate: number;
  /**
   * The frequency in milliseconds at which fake time is updated. If
   * advanceRate is set, we will update the time every 10 milliseconds by
   * default.
   *
   * @default {10}
   */
  advanceFrequency?: number;
}

/**
 * fake-timers numbers its timers from 10^12 up, so that they never collide
 * with the ids of real timers.
 */
const FIRST_FAKE_TIMER_ID = 1e12;

/** The active fake time and its clock; `undefined` when time is real. */
let active: { time: FakeTime; clock: Clock } | undefined;

function fakeNow(): number {
  return active ? active.clock.now : real.Date.now();
}

const FakeDate: DateConstructor = new Proxy(real.Date, {
  construct(target, args, newTarget) {
    return Reflect.construct(
      target,
      args.length === 0 ? [fakeNow()] : args,
      newTarget === FakeDate ? target : newTarget,
    );
  },
  apply() {
    return new real.Date(fakeNow()).toString();
  },
  get(target, property, receiver) {
    if (property === "now") return fakeNow;
    return Reflect.get(target, property, receiver);
  },
});

function requireFunction(
  callback: unknown,
  name: "setTimeout" | "setInterval",
): asserts callback is (...args: unknown[]) => void {
  if (typeof callback !== "function") {
    throw new TimeError(
      `FakeTime does not support non-function callbacks to ${name}`,
    );
  }
}

function fakeSetTimeout(
  callback: unknown,
  delay = 0,
  ...args: unknown[]
): FakeTimerHandle {
  requireFunction(callback, "setTimeout");
  if (!active) throw new TimeError("Cannot set timeout: time is not faked");
  return active.clock.setTimeout(
    callback,
    Math.max(0, Math.floor(Number(delay) || 0)),
    ...args,
  );
}

function fakeSetInterval(
  callback: unknown,
  delay = 0,
  ...args: unknown[]
): FakeTimerHandle {
  requireFunction(callback, "setInterval");
  if (!active) throw new TimeError("Cannot set interval: time is not faked");
  return active.clock.setInterval(
    callback,
    Math.max(1, Math.floor(Number(delay) || 0)),
    ...args,
  );
}

/** Clears a fake timer; ids of real timers are ignored, as in `@std`. */
function clearFake(handle: unknown): void {
  const id = Number(handle);
  if (active && id >= FIRST_FAKE_TIMER_ID) active.clock.clearTimeout(id);
}

function fakeClearTimeout(handle?: unknown): void {
  if (!active) throw new TimeError("Cannot clear timeout: time is not faked");
  clearFake(handle);
}

function fakeClearInterval(handle?: unknown): void {
  if (!active) throw new TimeError("Cannot clear interval: time is not faked");
  clearFake(handle);
}

function fakeAbortSignalTimeout(delay: number): AbortSignal {
  const aborter = new AbortController();
  fakeSetTimeout(() => {
    aborter.abort(new DOMException("Signal timed out.", "TimeoutError"));
  }, delay);
  return aborter.signal;
}

function overrideGlobals(): void {
  globalThis.Date = FakeDate;
  globalThis.setTimeout = fakeSetTimeout as unknown as typeof setTimeout;
  globalThis.clearTimeout = fakeClearTimeout as typeof clearTimeout;
  globalThis.setInterval = fakeSetInterval as unknown as typeof setInterval;
  globalThis.clearInterval = fakeClearInterval as typeof clearInterval;
  AbortSignal.timeout = fakeAbortSignalTimeout;
}

function restoreGlobals(): void {
  globalThis.Date = real.Date;
  globalThis.setTimeout = real.setTimeout;
  globalThis.clearTimeout = real.clearTimeout;
  globalThis.setInterval = real.setInterval;
  globalThis.clearInterval = real.clearInterval;
  AbortSignal.timeout = real.AbortSignalTimeout;
}

/**
 * Overrides the real `Date` object, `setTimeout`, `clearTimeout`,
 * `setInterval`, `clearInterval` and `AbortSignal.timeout` with fake ones
 * that can be controlled through the fake time instance. Only one instance
 * can be active at a time; release it with {@linkcode FakeTime.restore} or
 * `using`.
 */
export class FakeTime {
  #clock: Clock;
  #start: number;
  #advanceTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * Construct a FakeTime object, faking time until it is restored.
   *
   * @param start The time to simulate. The default is the current time.
   * @param options The options.
   * @throws {TimeError} If time is already faked.
   * @throws {TypeError} If the start is invalid.
   */
  constructor(
    start?: number | string | Date | null,
    options?: FakeTimeOptions,
  ) {
    if (active) {
      throw new TimeError("Cannot construct FakeTime: time is already faked");
    }
    const startedAt = start instanceof Date
      ? start.valueOf()
      : typeof start === "number"
      ? Math.floor(start)
      : typeof start === "string"
      ? new real.Date(start).valueOf()
      : real.Date.now();
    if (Number.isNaN(startedAt)) {
      throw new TypeError(
        `Cannot construct FakeTime: invalid start time ${startedAt}`,
      );
    }
    this.#start = startedAt;
    this.#clock = fakeTimers.createClock(startedAt, RUN_ALL_LIMIT);
    active = { time: this, clock: this.#clock };
    overrideGlobals();

    const advanceRate = Math.max(0, options?.advanceRate ?? 0);
    const advanceFrequency = Math.max(0, options?.advanceFrequency ?? 10);
    if (advanceRate > 0) {
      this.#advanceTimer = real.setInterval(() => {
        this.tick(advanceRate * advanceFrequency);
      }, advanceFrequency);
    }
  }

  /** Restores real time; called by `using`. */
  [Symbol.dispose](): void {
    this.restore();
  }

  /**
   * Restores real time.
   *
   * @throws {TimeError} If time is already restored.
   */
  static restore(): void {
    if (!active) {
      throw new TimeError("Cannot restore time: time is already restored");
    }
    active.time.restore();
  }

  /**
   * Restores real time temporarily until callback returns and resolves.
   *
   * @typeParam T The returned value type of the callback.
   * @param callback The callback to be called while FakeTime is restored.
   * @param args The arguments to pass to the callback.
   * @returns The value the callback returned or resolved to.
   * @throws {TimeError} If time is not faked (as a rejection).
   */
  static restoreFor<T>(
    // deno-lint-ignore no-explicit-any
    callback: (...args: any[]) => Promise<T> | T,
    // deno-lint-ignore no-explicit-any
    ...args: any[]
  ): Promise<T> {
    if (!active) {
      return Promise.reject(
        new TimeError("Cannot restore time: time is not faked"),
      );
    }
    restoreGlobals();
    try {
      const result = callback(...args);
      if (result instanceof Promise) {
        return result.finally(() => overrideGlobals());
      }
      overrideGlobals();
      return Promise.resolve(result);
    } catch (error) {
      overrideGlobals();
      return Promise.reject(error);
    }
  }

  /**
   * The number of milliseconds elapsed since the epoch for the fake time.
   *
   * @returns The fake current time in milliseconds.
   */
  get now(): number {
    return this.#clock.now;
  }

  /**
   * Set the current time. It will call any functions waiting to be called
   * between the current and new fake time.
   *
   * @param value The new current time, in milliseconds since the epoch.
   * @throws {RangeError} If the time goes backwards.
   */
  set now(value: number) {
    const now = this.#clock.now;
    if (value < now) {
      throw new RangeError(
        `Cannot set current time in the past, time must be >= ${now}: received ${value}`,
      );
    }
    this.#clock.tick(value - now);
    this.#clock.now = value;
  }

  /**
   * The initial number of milliseconds elapsed since the epoch for the fake
   * time.
   *
   * @returns The start time in milliseconds.
   */
  get start(): number {
    return this.#start;
  }

  /**
   * Resolves after the given number of milliseconds using real time.
   *
   * @param ms The milliseconds to delay.
   * @param options The options.
   * @returns A promise that resolves after `ms` real milliseconds.
   */
  delay(ms: number, options: DelayOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.reject(
        new DOMException("Delay was aborted.", "AbortError"),
      );
    }
    return new Promise<void>((resolve, reject) => {
      const abort = () => {
        real.clearTimeout(timer);
        reject(new DOMException("Delay was aborted.", "AbortError"));
      };
      const timer = real.setTimeout(() => {
        signal?.removeEventListener("abort", abort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", abort, { once: true });
    });
  }

  /**
   * Runs all pending microtasks (by waiting for one real `setTimeout(0)`).
   *
   * @returns A promise that resolves once pending microtasks have run.
   */
  async runMicrotasks(): Promise<void> {
    await this.delay(0);
  }

  /**
   * Adds the specified number of milliseconds to the fake time, calling any
   * functions waiting to be called between the current and new fake time.
   *
   * @param ms The milliseconds to advance.
   */
  tick(ms = 0): void {
    this.now += ms;
  }

  /**
   * Runs all pending microtasks then adds the specified number of
   * milliseconds to the fake time. Microtasks run once, before the timers:
   * not again between the timers this tick fires.
   *
   * @param ms The milliseconds to advance.
   */
  async tickAsync(ms = 0): Promise<void> {
    await this.runMicrotasks();
    this.now += ms;
  }

  /**
   * Advances time to when the next scheduled timer is due, and calls every
   * timer due then. If there are no pending timers, time will not change.
   *
   * @returns `true` when there was a scheduled timer, `false` otherwise.
   */
  next(): boolean {
    if (this.#clock.countTimers() === 0) return false;
    this.#clock.next();
    this.#clock.tick(0);
    return true;
  }

  /**
   * Runs all pending microtasks then advances time to when the next
   * scheduled timer is due.
   *
   * @returns `true` when there was a scheduled timer, `false` otherwise.
   */
  async nextAsync(): Promise<boolean> {
    await this.runMicrotasks();
    return this.next();
  }

  /**
   * Advances time forward to the next due timer until there are no pending
   * timers remaining, including timers those timers create.
   *
   * @throws {TimeError} If timers are still pending after 10,000 rounds (an
   * interval that is never cleared).
   */
  runAll(): void {
    for (let round = 0; round < RUN_ALL_LIMIT; round++) {
      if (!this.next()) return;
    }
    throw new TimeError(
      `Cannot run all timers: still pending after ${RUN_ALL_LIMIT} rounds`,
    );
  }

  /**
   * Like {@linkcode FakeTime.runAll}, but runs all pending microtasks before
   * each timer.
   *
   * @throws {TimeError} If timers are still pending after 10,000 rounds.
   */
  async runAllAsync(): Promise<void> {
    for (let round = 0; round < RUN_ALL_LIMIT; round++) {
      if (this.#clock.countTimers() === 0) return;
      await this.nextAsync();
    }
    throw new TimeError(
      `Cannot run all timers: still pending after ${RUN_ALL_LIMIT} rounds`,
    );
  }

  /**
   * Restores time related global functions to their original state.
   *
   * @throws {TimeError} If time is already restored.
   */
  restore(): void {
    if (!active) {
      throw new TimeError("Cannot restore time: time is already restored");
    }
    active = undefined;
    restoreGlobals();
    if (this.#advanceTimer !== undefined) {
      real.clearInterval(this.#advanceTimer);
      this.#advanceTimer = undefined;
    }
  }
}
