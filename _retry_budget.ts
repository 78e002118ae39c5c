// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The retry budget: a per-origin limit on retries, so that a failing server
 * does not get a storm of them. Over a sliding window (10 seconds by
 * default), retries may not exceed `ratio` of the recorded requests plus
 * `minPerSecond` per second (the idea of Finagle's `RetryBudget`).
 *
 * Every recorded request deposits `ratio` of a retry; every retry withdraws
 * one; the balance also holds a reserve of `minPerSecond × window` retries.
 * Deposits and withdrawals are kept in ten time buckets, so both operations
 * take constant time, and each is forgotten once the window has passed.
 *
 * @example Two requests at ratio 0.5 earn one retry
 * ```ts
 * import { RetryBudget } from "./_retry_budget.ts";
 *
 * const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0 });
 * budget.recordRequest();
 * budget.recordRequest();
 * if (!budget.tryWithdraw()) throw new Error("2 × 0.5 = 1 retry");
 * if (budget.tryWithdraw()) throw new Error("no more");
 * if (budget.refused !== 1) throw new Error("one refusal");
 * ```
 *
 * @module
 */

import { checkFunction, checkNonNegative, invalidOption } from "./_validate.ts";

/** Options of {@linkcode RetryBudget}. */
export interface RetryBudgetOptions {
  /** The share of the recorded requests that may be retried. @default {0.2} */
  ratio?: number;
  /** The retries per second that are always allowed. @default {10} */
  minPerSecond?: number;
  /**
   * How long a recorded request or retry counts, in milliseconds (forgotten
   * between 9/10 of it and all of it later). @default {10000}
   */
  windowMs?: number;
  /** The clock, in milliseconds. @default {() => Date.now()} */
  now?: () => number;
}

const BUCKETS = 10;
// Amounts are kept in thousandths of a retry so that sums stay exact.
const SCALE = 1000;
const SUBJECT = "create retry budget";

/** A per-origin retry budget; see the module documentation. */
export class RetryBudget {
  #deposit: number;
  #reserve: number;
  #bucketMs: number;
  #now: () => number;
  #buckets: number[] = new Array(BUCKETS).fill(0);
  #sum = 0;
  #slot: number;
  #refused = 0;
  #withdrawn = 0;

  /** Creates a budget; options are checked as the client's are. */
  constructor(options: RetryBudgetOptions = {}) {
    const {
      ratio = 0.2,
      minPerSecond = 10,
      windowMs = 10_000,
      now = () => Date.now(),
    } = options;
    checkNonNegative("ratio", ratio, SUBJECT);
    checkNonNegative("minPerSecond", minPerSecond, SUBJECT);
    if (
      typeof windowMs !== "number" || !(windowMs > 0 && windowMs < Infinity)
    ) {
      invalidOption("windowMs", "a positive finite number", windowMs, SUBJECT);
    }
    checkFunction("now", now, false, SUBJECT);
    this.#deposit = Math.round(ratio * SCALE);
    this.#reserve = Math.round(minPerSecond * (windowMs / 1000) * SCALE);
    this.#bucketMs = windowMs / BUCKETS;
    this.#now = now;
    this.#slot = Math.floor(now() / this.#bucketMs);
  }

  /** Forgets the buckets that have left the window. */
  #advance(): void {
    const slot = Math.floor(this.#now() / this.#bucketMs);
    if (slot <= this.#slot) return; // Same bucket, or the clock went back.
    const stale = Math.min(slot - this.#slot, BUCKETS);
    for (let i = 1; i <= stale; i++) {
      const index = (this.#slot + i) % BUCKETS;
      this.#sum -= this.#buckets[index]!;
      this.#buckets[index] = 0;
    }
    this.#slot = slot;
  }

  #add(amount: number): void {
    this.#buckets[this.#slot % BUCKETS]! += amount;
    this.#sum += amount;
  }

  /**
   * Records one request, which adds `ratio` of a retry. Once per request,
   * not per attempt: retries must not earn retries.
   */
  recordRequest(): void {
    this.#advance();
    this.#add(this.#deposit);
  }

  /** Takes one retry if there is one; a refusal is counted in `refused`. */
  tryWithdraw(): boolean {
    this.#advance();
    if (this.#reserve + this.#sum - SCALE < 0) {
      this.#refused++;
      return false;
    }
    this.#add(-SCALE);
    this.#withdrawn++;
    return true;
  }

  /** The retries the budget allows right now, rounded down. */
  get balance(): number {
    this.#advance();
    return Math.floor((this.#reserve + this.#sum) / SCALE);
  }

  /** Retries refused since the budget was created. */
  get refused(): number {
    return this.#refused;
  }

  /** Retries granted since the budget was created. */
  get withdrawn(): number {
    return this.#withdrawn;
  }
}
