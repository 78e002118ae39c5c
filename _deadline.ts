// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * One connection's deadline: the time by which the next thing it waits for
 * (a response head, body progress, the reader) must happen. One timer
 * serves every deadline; it is re-armed only when a deadline comes earlier
 * than the timer, so setting and extending a deadline on the hot path rarely
 * touches timers. The timer is unref'd: it never keeps a process alive.
 *
 * @module
 */

/** What a connection waits for. */
export type DeadlineKind = "headers" | "body" | "reader";

/** A resettable deadline with one lazily re-armed timer. */
export class Deadline {
  #due = 0;
  #ms = 0;
  #kind: DeadlineKind = "headers";
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = 0;
  #onExpire: (kind: DeadlineKind, ms: number) => void;

  /** `onExpire` is called once a deadline passes unmet. */
  constructor(onExpire: (kind: DeadlineKind, ms: number) => void) {
    this.#onExpire = onExpire;
  }

  /**
   * Sets the deadline `ms` from `now` (`Infinity`: none). A caller that has
   * just read the clock passes what it read.
   */
  set(ms: number, kind: DeadlineKind, now: number = Date.now()): void {
    if (ms === Infinity) {
      this.#due = 0;
      return;
    }
    this.#due = now + ms;
    this.#ms = ms;
    this.#kind = kind;
    if (this.#timer === undefined || this.#due < this.#timerDue) {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#arm(ms);
    }
  }

  /** Pushes the current deadline back by its length: progress was made. */
  extend(now: number = Date.now()): void {
    if (this.#due !== 0) this.#due = now + this.#ms;
  }

  /**
   * Nothing is awaited any more. A timer already armed stays until it fires
   * (cheaper than clearing it between requests); {@linkcode stop} clears it.
   */
  clear(): void {
    this.#due = 0;
  }

  /** Clears the deadline and its timer for good. */
  stop(): void {
    this.#due = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(ms: number): void {
    const timer = setTimeout(this.#fire, ms);
    Deno.unrefTimer(timer);
    this.#timer = timer;
    this.#timerDue = Date.now() + ms;
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (this.#due === 0) return;
    const left = this.#due - Date.now();
    if (left > 0) {
      this.#arm(left);
      return;
    }
    this.#due = 0;
    this.#onExpire(this.#kind, this.#ms);
  };
}
