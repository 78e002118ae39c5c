// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The retry policy: which failed or refused attempts of a request may be sent
 * again, after how long, and how often. It does no I/O; the client asks it
 * after every attempt and follows its answer.
 *
 * ## What may be sent again
 *
 * By what happened to the attempt (the `stage` of the network failure):
 *
 * 1. **Nothing was written** (`connect`: the connection could not be opened;
 *    `unsent`: the connection was found dead before any byte of the request
 *    was written). The server cannot have seen the request, so it is sent
 *    again at once, whatever its method, as long as its body can be replayed.
 *    These replays do not draw on the retry budget, and they happen even with
 *    `retry: false` (then for at most {@linkcode RETRY_DISABLED_MAX_ATTEMPTS}
 *    attempts in all).
 * 2. **Written on a reused keep-alive connection, and no response byte came
 *    back** (`sent` with `reused`): the classic keep-alive race, where the
 *    server closed the idle connection while the request was on its way. The
 *    request is sent again at once, on a new connection, if it is replayable:
 *    an idempotent method (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`)
 *    or an `Idempotency-Key` / `X-Idempotency-Key` header, and a replayable
 *    body.
 * 3. **Written on a fresh connection with no response** (`sent`), or **failed
 *    while the response head was arriving** (`response`): the server may have
 *    acted on it, so only a replayable request is sent again, after a backoff
 *    delay.
 *
 * A failure of the response body (`body`) is never retried: the `Response`
 * was already in the caller's hands. Any other error, such as the abort
 * signal's reason, is never retried either.
 *
 * By status, for replayable requests whose status is in `statusCodes`:
 *
 * - `408 Request Timeout`: the server closed an idle connection as the
 *   request arrived; sent again at once, on a new connection.
 * - `429 Too Many Requests` and `503 Service Unavailable`: sent again after
 *   the `Retry-After` delay (delta-seconds or an HTTP-date), or after a
 *   backoff delay when there is none. A `Retry-After` longer than
 *   `maxRetryAfter` means the response is returned as it is.
 * - Any other status in the list: sent again after a backoff delay.
 *
 * ## Backoff
 *
 * Exponential, with full jitter, between `minDelay` and `maxDelay`. After the
 * attempt numbered `n` (1 for the first) failed:
 *
 * ```text
 * ceiling = min(maxDelay, minDelay * 2 ** n)
 * delay   = minDelay + random() * (ceiling - minDelay)
 * ```
 *
 * With the defaults that is 100–200 ms after the first attempt, 100–400 ms
 * after the second, and never more than 5 s.
 *
 * ## Limits
 *
 * `maxAttempts` counts every attempt, the first included, and bounds the
 * case-1 replays too: `maxAttempts: 1` turns every retry off, where
 * `retry: false` keeps the case-1 replays. Every other retry also draws on a
 * per-origin {@linkcode RetryBudget}: at most `budgetRatio` of the requests of
 * the last 10 seconds, plus `budgetMinPerSecond` per second, so that a failing
 * server does not get a storm of retries.
 *
 * @example Usage
 * ```ts
 * import { RetryBudget, RetryPolicy } from "./retry.ts";
 *
 * const policy = new RetryPolicy({ maxAttempts: 3 });
 * const budget = new RetryBudget();
 * const request = {
 *   method: "GET",
 *   url: "http://127.0.0.1:8000/",
 *   headers: new Headers(),
 *   bodyReplayable: true,
 * };
 * budget.recordRequest();
 * const decision = policy.onResponse(request, 1, 502, new Headers(), budget);
 * if (decision === null) throw new Error("a 502 to a GET is retried");
 * if (decision.reason !== "status") throw new Error("unexpected reason");
 * ```
 *
 * @module
 */

import { RequestFailure } from "./_errors.ts";

/**
 * Why an attempt is sent again, as reported in {@linkcode RetryDecision} and
 * {@linkcode RetryEvent}:
 *
 * - `"connect"`: opening the connection failed (nothing was written).
 * - `"unsent"`: the connection was dead before the request was written.
 * - `"stale"`: a reused keep-alive connection was closed under the request,
 *   with no response byte.
 * - `"network"`: the request was written, or the response head was arriving,
 *   when the connection failed.
 * - `"status"`: the response had a status in `statusCodes`.
 *
 * @example Usage
 * ```ts
 * import type { RetryReason } from "@pooled/fetch";
 *
 * const counts: Record<RetryReason, number> = {
 *   connect: 0,
 *   unsent: 0,
 *   stale: 0,
 *   network: 0,
 *   status: 0,
 * };
 * counts.stale++;
 * ```
 */
export type RetryReason = "connect" | "unsent" | "stale" | "network" | "status";

/**
 * What {@linkcode RetryOptions.onRetry} is told before a request is sent
 * again.
 *
 * @example Usage
 * ```ts
 * import type { RetryEvent } from "@pooled/fetch";
 *
 * function log(event: RetryEvent): void {
 *   console.log(
 *     `${event.method} ${event.url}: attempt ${event.nextAttempt} in ` +
 *       `${event.delay} ms (${event.reason})`,
 *   );
 * }
 * log({
 *   attempt: 1,
 *   nextAttempt: 2,
 *   reason: "status",
 *   delay: 150,
 *   method: "GET",
 *   url: "http://127.0.0.1:8000/",
 *   status: 503,
 * });
 * ```
 */
export interface RetryEvent {
  /** The number of the attempt that failed, starting at 1. */
  attempt: number;
  /** The number of the attempt about to be made (`attempt + 1`). */
  nextAttempt: number;
  /** Why the request is sent again. */
  reason: RetryReason;
  /** How long the client waits before the next attempt, in milliseconds. */
  delay: number;
  /** The request method. */
  method: string;
  /** The request URL. */
  url: string;
  /** The status of the response that is retried, for `reason: "status"`. */
  status?: number;
  /** The failure that is retried, for every reason but `"status"`. */
  error?: unknown;
}

/**
 * The policy's answer when a request is to be sent again.
 *
 * @example Usage
 * ```ts
 * import type { RetryDecision } from "./retry.ts";
 *
 * const decision: RetryDecision = {
 *   reason: "stale",
 *   delay: 0,
 *   freshConnection: true,
 * };
 * if (decision.delay !== 0) throw new Error("stale replays go at once");
 * ```
 */
export interface RetryDecision {
  /** Why the request is sent again. */
  reason: RetryReason;
  /** How long to wait before the next attempt, in milliseconds. */
  delay: number;
  /**
   * Whether the next attempt must go on a newly opened connection rather than
   * an idle kept-alive one (after a `408`, or when a kept-alive connection
   * turned out dead: its idle siblings are likely dead too).
   */
  freshConnection: boolean;
}

/**
 * What the policy needs to know about the request.
 *
 * @example Usage
 * ```ts
 * import { isIdempotentMethod, type RetryRequestInfo } from "./retry.ts";
 *
 * const info: RetryRequestInfo = {
 *   method: "PUT",
 *   url: "http://127.0.0.1:8000/items/1",
 *   headers: new Headers({ "content-type": "application/json" }),
 *   bodyReplayable: true,
 * };
 * if (!isIdempotentMethod(info.method)) throw new Error("PUT is idempotent");
 * ```
 */
export interface RetryRequestInfo {
  /** The request method, as it is sent. */
  method: string;
  /** The request URL. */
  url: string;
  /** The request headers, as they are sent. */
  headers: Headers;
  /**
   * Whether the body can be sent again: `true` for no body and for string,
   * `Uint8Array`, `ArrayBuffer`, `Blob`, `FormData` and `URLSearchParams`
   * bodies, `false` for a `ReadableStream` body once reading it began.
   */
  bodyReplayable: boolean;
}

/**
 * Options of the retry policy: the `retry` option of the client.
 *
 * @example Usage
 * ```ts
 * import { createClient, type RetryOptions } from "@pooled/fetch";
 *
 * const retry: RetryOptions = {
 *   maxAttempts: 5,
 *   statusCodes: [429, 500, 502, 503, 504],
 *   onRetry: (event) => console.log(event.reason, event.delay),
 * };
 * await using client = createClient({ retry });
 * ```
 */
export interface RetryOptions {
  /**
   * How many attempts a request may take in all, the first included. `1`
   * turns off every retry, even the replay of a request that was never
   * written (unlike `retry: false`).
   *
   * @default {3}
   */
  maxAttempts?: number;
  /**
   * The shortest backoff delay, in milliseconds; `0` turns backoff waits off
   * (the ceiling of the jitter range is a multiple of it).
   *
   * @default {100}
   */
  minDelay?: number;
  /**
   * The longest backoff delay, in milliseconds. It does not limit a
   * `Retry-After` delay; `maxRetryAfter` does.
   *
   * @default {5000}
   */
  maxDelay?: number;
  /**
   * The longest `Retry-After` delay to wait for, in milliseconds. A `429` or
   * `503` asking for a longer wait is returned to the caller as it is.
   *
   * @default {60000}
   */
  maxRetryAfter?: number;
  /**
   * The response statuses that make a replayable request be sent again.
   * `500` is left out on purpose: it reports a fault in the server's handling
   * of this very request, which sending the same bytes again usually meets
   * again; `502`, `503` and `504` report a gateway or overload condition that
   * is transient by definition (RFC 9110, section 15.6). Add `500` to opt in.
   *
   * @default {[408, 429, 502, 503, 504]}
   */
  statusCodes?: readonly number[];
  /**
   * Whether to give `POST` and `PATCH` requests that have none an
   * `Idempotency-Key` header (a random UUID), which makes them replayable.
   * Only useful with servers that honour the header.
   *
   * @default {false}
   */
  idempotencyKey?: boolean;
  /**
   * The share of the requests of the last 10 seconds to an origin that may be
   * retried (retries beyond `budgetMinPerSecond`).
   *
   * @default {0.2}
   */
  budgetRatio?: number;
  /**
   * The retries per second to an origin that are always allowed, however few
   * requests were made.
   *
   * @default {10}
   */
  budgetMinPerSecond?: number;
  /**
   * Called before every retry, before the wait. If it throws, the request is
   * not sent again and rejects with what it threw.
   *
   * @default {undefined}
   */
  onRetry?: (event: RetryEvent) => void;
  /**
   * The source of randomness for the backoff jitter: a function returning a
   * number from 0 (inclusive) to 1 (exclusive). Meant for tests.
   *
   * @default {Math.random}
   */
  random?: () => number;
}

/**
 * Options of {@linkcode RetryBudget}.
 *
 * @example Usage
 * ```ts
 * import { RetryBudget, type RetryBudgetOptions } from "./retry.ts";
 *
 * const options: RetryBudgetOptions = { ratio: 0.1, minPerSecond: 1 };
 * const budget = new RetryBudget(options);
 * if (budget.balance !== 10) throw new Error("1 per second over 10 seconds");
 * ```
 */
export interface RetryBudgetOptions {
  /**
   * The share of the recorded requests that may be retried.
   *
   * @default {0.2}
   */
  ratio?: number;
  /**
   * The retries per second that are always allowed.
   *
   * @default {10}
   */
  minPerSecond?: number;
  /**
   * How long a recorded request or retry counts, in milliseconds (forgotten
   * between 9/10 of it and all of it later).
   *
   * @default {10000}
   */
  windowMs?: number;
  /**
   * The clock, in milliseconds.
   *
   * @default {() => Date.now()}
   */
  now?: () => number;
}

/**
 * The statuses retried by default: `408`, `429`, `502`, `503`, `504`. See
 * {@linkcode RetryOptions.statusCodes} for why `500` is not among them.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_RETRY_STATUS_CODES, RetryPolicy } from "./retry.ts";
 *
 * const policy = new RetryPolicy({
 *   statusCodes: [...DEFAULT_RETRY_STATUS_CODES, 500],
 * });
 * if (!policy.statusCodes.includes(500)) throw new Error("unexpected");
 * ```
 */
export const DEFAULT_RETRY_STATUS_CODES: readonly number[] = Object.freeze([
  408,
  429,
  502,
  503,
  504,
]);

/**
 * How many attempts in all a request may take with `retry: false`, for the
 * one kind of replay that stays on: the request was never written (a failed
 * connect, or a connection found dead before the write).
 *
 * @example Usage
 * ```ts
 * import { RETRY_DISABLED_MAX_ATTEMPTS, RetryPolicy } from "./retry.ts";
 *
 * const policy = new RetryPolicy(false);
 * if (policy.maxAttempts !== RETRY_DISABLED_MAX_ATTEMPTS) {
 *   throw new Error("unexpected");
 * }
 * ```
 */
export const RETRY_DISABLED_MAX_ATTEMPTS: number = 3;

const BUDGET_WINDOW_MS = 10_000;
const BUDGET_BUCKETS = 10;
// Budget amounts are kept in thousandths of a retry so that sums stay exact.
const BUDGET_SCALE = 1000;
// The longest delay `setTimeout` can wait (2 ** 31 - 1 ms, about 24.8 days).
const MAX_TIMER_MS = 2_147_483_647;

const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([
  "GET",
  "HEAD",
  "OPTIONS",
  "TRACE",
  "PUT",
  "DELETE",
]);

// The methods the Fetch standard matches case-insensitively and upper-cases.
const NORMALIZED_METHODS: ReadonlySet<string> = new Set([
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "POST",
  "PUT",
]);

function normalizeMethod(method: string): string {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

function show(value: unknown): string {
  return Deno.inspect(value, { depth: 1, colors: false });
}

function invalid(
  subject: string,
  name: string,
  requirement: string,
  value: unknown,
  ErrorClass: TypeErrorConstructor | RangeErrorConstructor,
): never {
  throw new ErrorClass(
    `Cannot create ${subject} as '${name}' must be ${requirement}: current value is ${
      show(value)
    }`,
  );
}

function checkNumber(
  subject: string,
  name: string,
  value: unknown,
  requirement: string,
  ok: (value: number) => boolean,
): number {
  if (typeof value !== "number") {
    invalid(subject, name, requirement, value, TypeError);
  }
  if (!ok(value)) invalid(subject, name, requirement, value, RangeError);
  return value;
}

const isPositiveInteger = (n: number): boolean =>
  Number.isSafeInteger(n) && n >= 1;
const isNonNegativeFinite = (n: number): boolean =>
  Number.isFinite(n) && n >= 0;

/**
 * Tells whether a method is idempotent (RFC 9110, section 9.2.2): `GET`,
 * `HEAD`, `OPTIONS`, `TRACE`, `PUT` or `DELETE`. The methods the Fetch
 * standard normalizes (`get`, `put`, …) match in any case; `TRACE` only in
 * upper case, as the Fetch standard leaves other methods as they are.
 *
 * @param method The request method.
 * @returns Whether sending the request twice has the same effect as once.
 *
 * @example Usage
 * ```ts
 * import { isIdempotentMethod } from "./retry.ts";
 *
 * if (!isIdempotentMethod("put")) throw new Error("PUT is idempotent");
 * if (isIdempotentMethod("POST")) throw new Error("POST is not");
 * ```
 */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(normalizeMethod(method));
}

const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
// RFC 9110, section 5.6.7: IMF-fixdate, then the obsolete rfc850-date and
// asctime-date forms, which recipients must accept too.
const IMF_FIXDATE = new RegExp(
  `^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`,
);
const RFC850_DATE = new RegExp(
  `^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`,
);
const DELTA_SECONDS = /^\d+$/;

function utc(
  year: number,
  month: string,
  day: string,
  hour: string,
  minute: string,
  second: string,
): number | undefined {
  const d = Number(day);
  const h = Number(hour);
  const m = Number(minute);
  const s = Number(second);
  if (h > 23 || m > 59 || s > 60) return undefined;
  const monthIndex = MONTHS.indexOf(month);
  // setUTCFullYear, unlike Date.UTC, takes years 0 to 99 as they are.
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, d);
  // Reject days the month does not have (31 Apr, 29 Feb 2023).
  if (date.getUTCDate() !== d) return undefined;
  // A leap second (:60) rolls over into the next minute.
  return date.setUTCHours(h, m, s);
}

function parseHttpDate(value: string, now: number): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match) {
    const [, day, month, year, h, m, s] = match;
    return utc(Number(year), month!, day!, h!, m!, s!);
  }
  match = RFC850_DATE.exec(value);
  if (match) {
    const [, day, month, yy, h, m, s] = match;
    // RFC 9110, section 5.6.7: a two-digit year more than 50 years in the
    // future is the most recent past year with the same last two digits.
    const currentYear = new Date(now).getUTCFullYear();
    let year = currentYear - (currentYear % 100) + Number(yy);
    if (year > currentYear + 50) year -= 100;
    return utc(year, month!, day!, h!, m!, s!);
  }
  match = ASCTIME_DATE.exec(value);
  if (match) {
    const [, month, day, h, m, s, year] = match;
    return utc(Number(year), month!, day!.trim(), h!, m!, s!);
  }
  return undefined;
}

/**
 * Reads a `Retry-After` header value (RFC 9110, section 10.2.3): either
 * delta-seconds (`120`) or an HTTP-date in any of its three forms
 * (`Wed, 21 Oct 2015 07:28:00 GMT`, and the obsolete RFC 850 and asctime
 * forms).
 *
 * @param value The header value, or `null` when the header is absent.
 * @param now The current time, in milliseconds since the epoch, that an
 * HTTP-date is measured from. Defaults to `Date.now()`.
 * @returns How long to wait, in milliseconds (`0` for a date in the past), or
 * `undefined` when the header is absent or not valid.
 *
 * @example Usage
 * ```ts
 * import { parseRetryAfter } from "./retry.ts";
 *
 * const now = Date.UTC(2015, 9, 21, 7, 28, 0);
 * if (parseRetryAfter("120") !== 120_000) throw new Error("seconds");
 * if (parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now) !== 30_000) {
 *   throw new Error("date");
 * }
 * if (parseRetryAfter("soon") !== undefined) throw new Error("invalid");
 * ```
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (DELTA_SECONDS.test(trimmed)) return Number(trimmed) * 1000;
  const time = parseHttpDate(trimmed, now);
  if (time === undefined) return undefined;
  return Math.max(0, time - now);
}

/**
 * Builds the error a request rejects with once every attempt it was allowed
 * failed: a `TypeError`, as a network error of the built-in `fetch` is, whose
 * message says how many attempts were made and whose `cause` is the last
 * failure. Credentials in the URL are left out of the message.
 *
 * @param lastError The failure of the last attempt.
 * @param attempts How many attempts were made in all.
 * @param url The request URL.
 * @returns The error to reject with.
 *
 * @example Usage
 * ```ts
 * import { exhaustedError } from "./retry.ts";
 *
 * const last = new TypeError("Connection reset by peer");
 * const error = exhaustedError(last, 3, "http://127.0.0.1:8000/");
 * if (
 *   error.message !==
 *     "Request to http://127.0.0.1:8000/ failed after 3 attempts: " +
 *       "Connection reset by peer"
 * ) {
 *   throw new Error("unexpected message");
 * }
 * if (error.cause !== last) throw new Error("unexpected cause");
 * ```
 */
export function exhaustedError(
  lastError: unknown,
  attempts: number,
  url: string,
): TypeError {
  let shown = url;
  try {
    const parsed = new URL(url);
    if (parsed.username !== "" || parsed.password !== "") {
      parsed.username = "";
      parsed.password = "";
      shown = parsed.href;
    }
  } catch {
    // Not a URL: show it as it is.
  }
  const reason = lastError instanceof Error
    ? lastError.message
    : String(lastError);
  const noun = attempts === 1 ? "attempt" : "attempts";
  return new TypeError(
    `Request to ${shown} failed after ${attempts} ${noun}: ${reason}`,
    { cause: lastError },
  );
}

/**
 * Waits `ms` milliseconds, or until `signal` aborts. On abort the timer is
 * cleared and the promise rejects with `signal.reason`, unchanged.
 *
 * @param ms How long to wait, in milliseconds.
 * @param signal Cuts the wait short when it aborts.
 * @returns A promise that resolves after the wait.
 * @throws {RangeError} If `ms` is negative, not finite, or longer than
 * 2147483647 (the longest timer).
 *
 * @example Usage
 * ```ts
 * import { abortableDelay } from "./retry.ts";
 *
 * const controller = new AbortController();
 * const wait = abortableDelay(60_000, controller.signal);
 * const reason = new Error("stop");
 * controller.abort(reason);
 * try {
 *   await wait;
 *   throw new Error("not aborted");
 * } catch (error) {
 *   if (error !== reason) throw error;
 * }
 * ```
 */
export async function abortableDelay(
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  if (!(Number.isFinite(ms) && ms >= 0 && ms <= MAX_TIMER_MS)) {
    throw new RangeError(
      `Cannot wait as 'ms' must be a number from 0 to ${MAX_TIMER_MS}: current value is ${
        show(ms)
      }`,
    );
  }
  signal?.throwIfAborted();
  const { promise, resolve, reject } = Promise.withResolvers<void>();
  const timer = setTimeout(resolve, ms);
  const onAbort = (): void => {
    clearTimeout(timer);
    reject(signal!.reason);
  };
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await promise;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * A per-origin limit on retries, so that a failing server does not get a
 * storm of them: over a sliding window (10 seconds by default), retries may
 * not exceed `ratio` of the recorded requests plus `minPerSecond` per second.
 * Modelled on Finagle's `RetryBudget`.
 *
 * Every recorded request deposits `ratio` of a retry; every retry withdraws
 * one; the balance also holds a reserve of `minPerSecond × window` retries.
 * Deposits and withdrawals are kept in ten time buckets, so both operations
 * take constant time, and each is forgotten once the window has passed.
 *
 * @example Usage
 * ```ts
 * import { RetryBudget } from "./retry.ts";
 *
 * const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0 });
 * budget.recordRequest();
 * budget.recordRequest();
 * if (!budget.tryWithdraw()) throw new Error("2 × 0.5 = 1 retry");
 * if (budget.tryWithdraw()) throw new Error("no more");
 * if (budget.refused !== 1) throw new Error("one refusal");
 * ```
 */
export class RetryBudget {
  #deposit: number;
  #reserve: number;
  #bucketMs: number;
  #now: () => number;
  #buckets: number[] = new Array(BUDGET_BUCKETS).fill(0);
  #sum = 0;
  #slot: number;
  #refused = 0;
  #withdrawn = 0;

  /**
   * Creates a budget.
   *
   * @param options How large the budget is, and the clock it uses.
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of range.
   */
  constructor(options: RetryBudgetOptions = {}) {
    const subject = "retry budget";
    const {
      ratio = 0.2,
      minPerSecond = 10,
      windowMs = BUDGET_WINDOW_MS,
      now = () => Date.now(),
    } = options;
    checkNumber(
      subject,
      "ratio",
      ratio,
      "a non-negative finite number",
      isNonNegativeFinite,
    );
    checkNumber(
      subject,
      "minPerSecond",
      minPerSecond,
      "a non-negative finite number",
      isNonNegativeFinite,
    );
    checkNumber(
      subject,
      "windowMs",
      windowMs,
      "a positive finite number",
      (n) => Number.isFinite(n) && n > 0,
    );
    if (typeof now !== "function") {
      invalid(subject, "now", "a function", now, TypeError);
    }
    this.#deposit = Math.round(ratio * BUDGET_SCALE);
    this.#reserve = Math.round(
      minPerSecond * (windowMs / 1000) * BUDGET_SCALE,
    );
    this.#bucketMs = windowMs / BUDGET_BUCKETS;
    this.#now = now;
    this.#slot = Math.floor(now() / this.#bucketMs);
  }

  /** Forgets the buckets that have left the window. */
  #advance(): void {
    const slot = Math.floor(this.#now() / this.#bucketMs);
    if (slot <= this.#slot) return; // Same bucket, or the clock went back.
    const stale = Math.min(slot - this.#slot, BUDGET_BUCKETS);
    for (let i = 1; i <= stale; i++) {
      const index = (this.#slot + i) % BUDGET_BUCKETS;
      this.#sum -= this.#buckets[index]!;
      this.#buckets[index] = 0;
    }
    this.#slot = slot;
  }

  #add(amount: number): void {
    this.#buckets[this.#slot % BUDGET_BUCKETS]! += amount;
    this.#sum += amount;
  }

  /**
   * Records one request to the origin, which adds `ratio` of a retry to the
   * budget. Call it once per request, not per attempt: retries must not earn
   * retries.
   *
   * @example Usage
   * ```ts
   * import { RetryBudget } from "./retry.ts";
   *
   * const budget = new RetryBudget({ ratio: 1, minPerSecond: 0 });
   * budget.recordRequest();
   * if (budget.balance !== 1) throw new Error("unexpected");
   * ```
   */
  recordRequest(): void {
    this.#advance();
    this.#add(this.#deposit);
  }

  /**
   * Takes one retry from the budget if there is one.
   *
   * @returns Whether the retry may be made; `false` also counts a refusal in
   * {@linkcode RetryBudget.prototype.refused}.
   *
   * @example Usage
   * ```ts
   * import { RetryBudget } from "./retry.ts";
   *
   * const budget = new RetryBudget({ ratio: 0, minPerSecond: 0.1 });
   * if (!budget.tryWithdraw()) throw new Error("the reserve holds one");
   * if (budget.tryWithdraw()) throw new Error("and only one");
   * ```
   */
  tryWithdraw(): boolean {
    this.#advance();
    if (this.#reserve + this.#sum - BUDGET_SCALE < 0) {
      this.#refused++;
      return false;
    }
    this.#add(-BUDGET_SCALE);
    this.#withdrawn++;
    return true;
  }

  /**
   * How many retries the budget allows right now.
   *
   * @returns The number of retries left, rounded down.
   *
   * @example Usage
   * ```ts
   * import { RetryBudget } from "./retry.ts";
   *
   * const budget = new RetryBudget();
   * if (budget.balance !== 100) throw new Error("10 per second × 10 s");
   * ```
   */
  get balance(): number {
    this.#advance();
    return Math.floor((this.#reserve + this.#sum) / BUDGET_SCALE);
  }

  /**
   * How many retries the budget has refused since it was created.
   *
   * @returns The count of refused withdrawals.
   *
   * @example Usage
   * ```ts
   * import { RetryBudget } from "./retry.ts";
   *
   * const budget = new RetryBudget({ ratio: 0, minPerSecond: 0 });
   * budget.tryWithdraw();
   * if (budget.refused !== 1) throw new Error("unexpected");
   * ```
   */
  get refused(): number {
    return this.#refused;
  }

  /**
   * How many retries the budget has granted since it was created.
   *
   * @returns The count of successful withdrawals.
   *
   * @example Usage
   * ```ts
   * import { RetryBudget } from "./retry.ts";
   *
   * const budget = new RetryBudget();
   * budget.tryWithdraw();
   * if (budget.withdrawn !== 1) throw new Error("unexpected");
   * ```
   */
  get withdrawn(): number {
    return this.#withdrawn;
  }
}

/**
 * Decides whether a failed or refused attempt of a request is sent again,
 * when, and how often; see the module documentation for the rules. One policy
 * serves every request of a client; budgets are per origin.
 *
 * @example Usage
 * ```ts
 * import { RetryBudget, RetryPolicy } from "./retry.ts";
 *
 * const policy = new RetryPolicy();
 * const budget = policy.createBudget();
 * const post = {
 *   method: "POST",
 *   url: "http://127.0.0.1:8000/orders",
 *   headers: new Headers(),
 *   bodyReplayable: true,
 * };
 * budget.recordRequest();
 * // A POST is not replayable, so a 503 is returned as it is.
 * if (policy.onResponse(post, 1, 503, new Headers(), budget) !== null) {
 *   throw new Error("unexpected");
 * }
 * post.headers.set("idempotency-key", '"order-42"');
 * const decision = policy.onResponse(
 *   post,
 *   1,
 *   503,
 *   new Headers({ "retry-after": "2" }),
 *   budget,
 * );
 * if (decision?.delay !== 2000) throw new Error("unexpected");
 * if (!(budget instanceof RetryBudget)) throw new Error("unexpected");
 * ```
 */
export class RetryPolicy {
  /**
   * Whether retries are on. `false` for `retry: false`, under which only
   * requests that were never written are sent again.
   */
  readonly enabled: boolean;
  /** How many attempts a request may take in all, the first included. */
  readonly maxAttempts: number;
  /** The shortest backoff delay, in milliseconds. */
  readonly minDelay: number;
  /** The longest backoff delay, in milliseconds. */
  readonly maxDelay: number;
  /** The longest `Retry-After` delay waited for, in milliseconds. */
  readonly maxRetryAfter: number;
  /** The statuses that make a replayable request be sent again. */
  readonly statusCodes: readonly number[];
  /** Whether `POST` and `PATCH` requests get an `Idempotency-Key`. */
  readonly idempotencyKey: boolean;
  /** The share of recent requests to an origin that may be retried. */
  readonly budgetRatio: number;
  /** The retries per second to an origin that are always allowed. */
  readonly budgetMinPerSecond: number;
  #statusSet: ReadonlySet<number>;
  #onRetry: ((event: RetryEvent) => void) | undefined;
  #random: () => number;

  /**
   * Creates a policy, checking every option.
   *
   * @param options The `retry` option of the client: options, or `false` to
   * send again only requests that were never written (at most
   * {@linkcode RETRY_DISABLED_MAX_ATTEMPTS} attempts in all).
   * @throws {TypeError} If an option has the wrong type.
   * @throws {RangeError} If an option is out of range.
   */
  constructor(options?: RetryOptions | false) {
    const subject = "client";
    if (options === false) {
      this.enabled = false;
      this.maxAttempts = RETRY_DISABLED_MAX_ATTEMPTS;
      this.minDelay = 0;
      this.maxDelay = 0;
      this.maxRetryAfter = 0;
      this.statusCodes = Object.freeze([]);
      this.idempotencyKey = false;
      this.budgetRatio = 0;
      this.budgetMinPerSecond = 0;
      this.#statusSet = new Set();
      this.#onRetry = undefined;
      this.#random = Math.random;
      return;
    }
    if (
      options !== undefined &&
      (typeof options !== "object" || options === null ||
        Array.isArray(options))
    ) {
      invalid(subject, "retry", "an object or false", options, TypeError);
    }
    const {
      maxAttempts = 3,
      minDelay = 100,
      maxDelay = 5000,
      maxRetryAfter = 60_000,
      statusCodes = DEFAULT_RETRY_STATUS_CODES,
      idempotencyKey = false,
      budgetRatio = 0.2,
      budgetMinPerSecond = 10,
      onRetry,
      random = Math.random,
    } = options ?? {};
    const nonNegative = "a non-negative finite number";
    const timer = `a number from 0 to ${MAX_TIMER_MS}`;
    checkNumber(
      subject,
      "retry.maxAttempts",
      maxAttempts,
      "a positive integer",
      isPositiveInteger,
    );
    checkNumber(
      subject,
      "retry.minDelay",
      minDelay,
      nonNegative,
      isNonNegativeFinite,
    );
    checkNumber(
      subject,
      "retry.maxDelay",
      maxDelay,
      timer,
      (n) => isNonNegativeFinite(n) && n <= MAX_TIMER_MS,
    );
    if (minDelay > maxDelay) {
      invalid(
        subject,
        "retry.minDelay",
        `no greater than 'retry.maxDelay' (${maxDelay})`,
        minDelay,
        RangeError,
      );
    }
    checkNumber(
      subject,
      "retry.maxRetryAfter",
      maxRetryAfter,
      timer,
      (n) => isNonNegativeFinite(n) && n <= MAX_TIMER_MS,
    );
    if (!Array.isArray(statusCodes)) {
      invalid(
        subject,
        "retry.statusCodes",
        "an array of status codes",
        statusCodes,
        TypeError,
      );
    }
    statusCodes.forEach((code: unknown, i: number) =>
      checkNumber(
        subject,
        `retry.statusCodes[${i}]`,
        code,
        "an integer from 400 to 599",
        (n) => Number.isInteger(n) && n >= 400 && n <= 599,
      )
    );
    if (typeof idempotencyKey !== "boolean") {
      invalid(
        subject,
        "retry.idempotencyKey",
        "a boolean",
        idempotencyKey,
        TypeError,
      );
    }
    checkNumber(
      subject,
      "retry.budgetRatio",
      budgetRatio,
      nonNegative,
      isNonNegativeFinite,
    );
    checkNumber(
      subject,
      "retry.budgetMinPerSecond",
      budgetMinPerSecond,
      nonNegative,
      isNonNegativeFinite,
    );
    if (onRetry !== undefined && typeof onRetry !== "function") {
      invalid(subject, "retry.onRetry", "a function", onRetry, TypeError);
    }
    if (typeof random !== "function") {
      invalid(subject, "retry.random", "a function", random, TypeError);
    }
    this.enabled = true;
    this.maxAttempts = maxAttempts;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
    this.maxRetryAfter = maxRetryAfter;
    this.statusCodes = Object.freeze([...statusCodes]);
    this.idempotencyKey = idempotencyKey;
    this.budgetRatio = budgetRatio;
    this.budgetMinPerSecond = budgetMinPerSecond;
    this.#statusSet = new Set(statusCodes);
    this.#onRetry = onRetry;
    this.#random = random;
  }

  /**
   * Creates the retry budget of one origin, sized by `budgetRatio` and
   * `budgetMinPerSecond`, over a 10-second window.
   *
   * @returns A new budget; keep one per origin.
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy } from "./retry.ts";
   *
   * const policy = new RetryPolicy({ budgetMinPerSecond: 1 });
   * if (policy.createBudget().balance !== 10) throw new Error("unexpected");
   * ```
   */
  createBudget(): RetryBudget {
    return new RetryBudget({
      ratio: this.budgetRatio,
      minPerSecond: this.budgetMinPerSecond,
    });
  }

  /**
   * Tells whether the request may be sent twice, judging by its method and
   * headers: an idempotent method, or an `Idempotency-Key` or
   * `X-Idempotency-Key` header. Whether its body can be replayed is a
   * separate condition.
   *
   * @param request The request.
   * @returns Whether the request is replayable.
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy } from "./retry.ts";
   *
   * const policy = new RetryPolicy();
   * const request = {
   *   method: "POST",
   *   url: "http://127.0.0.1:8000/",
   *   headers: new Headers({ "x-idempotency-key": "abc" }),
   *   bodyReplayable: true,
   * };
   * if (!policy.isReplayable(request)) throw new Error("unexpected");
   * ```
   */
  isReplayable(request: RetryRequestInfo): boolean {
    return isIdempotentMethod(request.method) ||
      request.headers.has("idempotency-key") ||
      request.headers.has("x-idempotency-key");
  }

  /**
   * Gives a `POST` or `PATCH` request an `Idempotency-Key` header when the
   * `idempotencyKey` option is on and it has neither that header nor
   * `X-Idempotency-Key`. The key is a random UUID, sent as a quoted string,
   * the structured-field form of the IETF draft.
   *
   * @param method The request method.
   * @param headers The request headers; changed in place.
   * @returns Whether a key was set.
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy } from "./retry.ts";
   *
   * const policy = new RetryPolicy({ idempotencyKey: true });
   * const headers = new Headers();
   * if (!policy.applyIdempotencyKey("POST", headers)) {
   *   throw new Error("unexpected");
   * }
   * if (!/^"[0-9a-f-]{36}"$/.test(headers.get("idempotency-key")!)) {
   *   throw new Error("unexpected key");
   * }
   * ```
   */
  applyIdempotencyKey(method: string, headers: Headers): boolean {
    if (!this.idempotencyKey) return false;
    const normalized = normalizeMethod(method);
    if (normalized !== "POST" && normalized !== "PATCH") return false;
    if (headers.has("idempotency-key") || headers.has("x-idempotency-key")) {
      return false;
    }
    headers.set("idempotency-key", `"${crypto.randomUUID()}"`);
    return true;
  }

  /**
   * The backoff delay after attempt number `attempt` failed:
   * `minDelay + random() * (min(maxDelay, minDelay * 2 ** attempt) - minDelay)`.
   *
   * @param attempt The number of the attempt that failed, starting at 1.
   * @returns The delay, in milliseconds.
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy } from "./retry.ts";
   *
   * const policy = new RetryPolicy({ minDelay: 100, random: () => 0.5 });
   * if (policy.backoff(1) !== 150) throw new Error("100 + 0.5 × 100");
   * if (policy.backoff(2) !== 250) throw new Error("100 + 0.5 × 300");
   * ```
   */
  backoff(attempt: number): number {
    const { minDelay, maxDelay } = this;
    const exponent = Math.min(Math.max(attempt, 0), 1000);
    const ceiling = Math.min(maxDelay, minDelay * 2 ** exponent);
    return minDelay + this.#random() * (ceiling - minDelay);
  }

  /**
   * Decides what to do after attempt number `attempt` failed with `error`.
   *
   * @param request The request.
   * @param attempt The number of the attempt that failed, starting at 1.
   * @param error What the attempt failed with.
   * @param budget The retry budget of the request's origin; a retry that is
   * granted is withdrawn from it.
   * @returns How to send the request again, or `null` to give up and reject
   * with `error` (also when the budget refused: see
   * {@linkcode RetryBudget.prototype.refused}).
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy } from "./retry.ts";
   *
   * const policy = new RetryPolicy();
   * const request = {
   *   method: "GET",
   *   url: "http://127.0.0.1:8000/",
   *   headers: new Headers(),
   *   bodyReplayable: true,
   * };
   * const abort = new DOMException("Aborted", "AbortError");
   * // Only network failures are retried, never an abort.
   * if (policy.onError(request, 1, abort, policy.createBudget()) !== null) {
   *   throw new Error("unexpected");
   * }
   * ```
   */
  onError(
    request: RetryRequestInfo,
    attempt: number,
    error: unknown,
    budget: RetryBudget,
  ): RetryDecision | null {
    if (attempt >= this.maxAttempts) return null;
    if (!(error instanceof RequestFailure)) return null;
    switch (error.stage) {
      case "connect":
      case "unsent":
        // Case 1: nothing was written; exempt from the budget.
        if (!request.bodyReplayable) return null;
        return {
          reason: error.stage,
          delay: 0,
          freshConnection: error.stage === "unsent" && error.reused,
        };
      case "sent":
      case "response": {
        if (!this.enabled) return null;
        if (!request.bodyReplayable || !this.isReplayable(request)) return null;
        if (error.stage === "sent" && error.reused) {
          // Case 2: the keep-alive race.
          if (!budget.tryWithdraw()) return null;
          return { reason: "stale", delay: 0, freshConnection: true };
        }
        // Case 3.
        if (!budget.tryWithdraw()) return null;
        return {
          reason: "network",
          delay: this.backoff(attempt),
          freshConnection: false,
        };
      }
      default:
        // "body", or a stage this version does not know.
        return null;
    }
  }

  /**
   * Decides what to do after attempt number `attempt` got a response, before
   * the response is handed to the caller.
   *
   * @param request The request.
   * @param attempt The number of the attempt, starting at 1.
   * @param status The response status.
   * @param headers The response headers (`Retry-After` is read).
   * @param budget The retry budget of the request's origin; a retry that is
   * granted is withdrawn from it.
   * @returns How to send the request again (the client then discards the
   * response and its body), or `null` to return the response.
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy } from "./retry.ts";
   *
   * const policy = new RetryPolicy({ maxRetryAfter: 10_000 });
   * const request = {
   *   method: "GET",
   *   url: "http://127.0.0.1:8000/",
   *   headers: new Headers(),
   *   bodyReplayable: true,
   * };
   * const budget = policy.createBudget();
   * const tooLong = new Headers({ "retry-after": "3600" });
   * if (policy.onResponse(request, 1, 429, tooLong, budget) !== null) {
   *   throw new Error("a wait of an hour is not made");
   * }
   * const decision = policy.onResponse(request, 1, 408, new Headers(), budget);
   * if (!decision?.freshConnection) throw new Error("unexpected");
   * ```
   */
  onResponse(
    request: RetryRequestInfo,
    attempt: number,
    status: number,
    headers: Headers,
    budget: RetryBudget,
  ): RetryDecision | null {
    if (!this.enabled || attempt >= this.maxAttempts) return null;
    if (!this.#statusSet.has(status)) return null;
    if (!request.bodyReplayable || !this.isReplayable(request)) return null;
    let delay: number;
    let freshConnection = false;
    if (status === 408) {
      delay = 0;
      freshConnection = true;
    } else {
      const retryAfter = status === 429 || status === 503
        ? parseRetryAfter(headers.get("retry-after"))
        : undefined;
      if (retryAfter === undefined) delay = this.backoff(attempt);
      else if (retryAfter > this.maxRetryAfter) return null;
      else delay = retryAfter;
    }
    if (!budget.tryWithdraw()) return null;
    return { reason: "status", delay, freshConnection };
  }

  /**
   * Tells the `onRetry` option of a retry about to be made. Call it after a
   * decision and before the wait. What `onRetry` throws is not caught: the
   * client then abandons the request and rejects with it.
   *
   * @param event The retry.
   *
   * @example Usage
   * ```ts
   * import { RetryPolicy, type RetryEvent } from "./retry.ts";
   *
   * const seen: RetryEvent[] = [];
   * const policy = new RetryPolicy({ onRetry: (event) => seen.push(event) });
   * policy.notify({
   *   attempt: 1,
   *   nextAttempt: 2,
   *   reason: "stale",
   *   delay: 0,
   *   method: "GET",
   *   url: "http://127.0.0.1:8000/",
   * });
   * if (seen.length !== 1) throw new Error("unexpected");
   * ```
   */
  notify(event: RetryEvent): void {
    this.#onRetry?.(event);
  }
}
