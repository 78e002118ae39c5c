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
 * Thrown when fake time is asked for something its state rules out: faking
 * time twice, or restoring it when it is real.
 */
export class TimeError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was attempted.
   */
  constructor(message: string) {
    super(message);
    this.name = "TimeError";
  }
}

/** How a {@linkcode FakeTime} moves forward on its own, if at all. */
export interface FakeTimeOptions {
  /**
   * Fake milliseconds that pass for each real one. At 0, fake time moves only
   * when a test moves it (`tick`, `next`, `runAll`, setting `now`); at 1 it
   * keeps pace with the real clock.
   *
   * @default {0}
   */
  advanceRate: number;
  /**
   * With a non-zero `advanceRate`: how many real milliseconds pass between
   * two steps of fake time.
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
 * Puts versions of `Date`, `setTimeout`, `clearTimeout`, `setInterval`,
 * `clearInterval` and `AbortSignal.timeout` in place that this object drives,
 * so that a test decides when time passes. One instance at a time; end it
 * with {@linkcode FakeTime.restore} or `using`.
 */
export class FakeTime {
  #clock: Clock;
  #start: number;
  #advanceTimer: ReturnType<typeof setInterval> | undefined;

  /**
   * Starts faking time until restored.
   *
   * @param start The fake clock's first reading: a `Date`, milliseconds since
   * the epoch or a date string; the real time now when left out.
   * @param options How fake time moves forward on its own.
   * @throws {TimeError} Another instance is faking time already.
   * @throws {TypeError} `start` names no valid time.
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

  /** Ends the fake time, for `using`. */
  [Symbol.dispose](): void {
    this.restore();
  }

  /**
   * Ends whichever instance is faking time.
   *
   * @throws {TimeError} Time is not faked.
   */
  static restore(): void {
    if (!active) {
      throw new TimeError("Cannot restore time: time is already restored");
    }
    active.time.restore();
  }

  /**
   * Runs `callback` with the real `Date` and timers back in place, and fakes
   * them again once its result has settled.
   *
   * @typeParam T What the callback returns or resolves to.
   * @param callback Runs with real time.
   * @param args Passed on to `callback`.
   * @returns What `callback` resolved to.
   * @throws {TimeError} Time is not faked (the promise rejects).
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
   * The fake clock's reading, in milliseconds since the epoch.
   *
   * @returns That reading.
   */
  get now(): number {
    return this.#clock.now;
  }

  /**
   * Moves the fake clock to `value`, firing on the way each timer that falls
   * due.
   *
   * @param value The new reading, in milliseconds since the epoch.
   * @throws {RangeError} `value` is earlier than the current reading.
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
   * The fake clock's first reading, in milliseconds since the epoch.
   *
   * @returns That reading.
   */
  get start(): number {
    return this.#start;
  }

  /**
   * Waits `ms` milliseconds of real time, whatever the fake clock does.
   *
   * @param ms How long to wait, in real milliseconds.
   * @param options An abort signal, and whether the timer keeps the process
   * alive.
   * @returns A promise that fulfils once the time is up.
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
   * Lets queued promise callbacks run, by waiting for one real 0 ms timer.
   *
   * @returns A promise that fulfils once they have run.
   */
  async runMicrotasks(): Promise<void> {
    await this.delay(0);
  }

  /**
   * Moves the fake clock `ms` milliseconds forward, firing on the way each
   * timer that falls due.
   *
   * @param ms How far to move, in milliseconds.
   */
  tick(ms = 0): void {
    this.now += ms;
  }

  /**
   * Lets queued promise callbacks run once, then does
   * {@linkcode FakeTime.tick}. Callbacks queued by the timers it fires wait
   * until it is over.
   *
   * @param ms How far to move, in milliseconds.
   */
  async tickAsync(ms = 0): Promise<void> {
    await this.runMicrotasks();
    this.now += ms;
  }

  /**
   * Moves the fake clock to the due time of the next timer and fires every
   * timer due then. With no timer pending, nothing changes.
   *
   * @returns Whether a timer was pending.
   */
  next(): boolean {
    if (this.#clock.countTimers() === 0) return false;
    this.#clock.next();
    this.#clock.tick(0);
    return true;
  }

  /**
   * Lets queued promise callbacks run, then does {@linkcode FakeTime.next}.
   *
   * @returns Whether a timer was pending.
   */
  async nextAsync(): Promise<boolean> {
    await this.runMicrotasks();
    return this.next();
  }

  /**
   * Repeats {@linkcode FakeTime.next} until no timer is pending, counting the
   * timers that fired ones set.
   *
   * @throws {TimeError} Timers are still pending after 10,000 rounds (an
   * interval that is never cleared, say).
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
   * {@linkcode FakeTime.runAll}, letting queued promise callbacks run before
   * each round.
   *
   * @throws {TimeError} Timers are still pending after 10,000 rounds.
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
   * Puts the real `Date` and timer functions back.
   *
   * @throws {TimeError} Time is not faked.
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
