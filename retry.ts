// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The retry policy: which failed or refused attempts of a request may be sent
 * again, after how long, and how often. It does no I/O and keeps no state of
 * its own: the attempt loop (`_attempts.ts`) asks it after every attempt and
 * follows its answer.
 *
 * ## Rules that are always on (the transport's own)
 *
 * These cover what only the transport can see; they are not entries of a list
 * a caller could replace.
 *
 * 1. **Never written** (a {@linkcode FetchError} with stage `connect`: the
 *    connection could not be opened; or `unsent`: the connection was found
 *    dead before any byte of the request went out, or an HTTP/2 server said
 *    it never processed the stream: REFUSED_STREAM, or above a GOAWAY's
 *    last stream). The server cannot have seen the request, so it is sent
 *    again at once, whatever its method, up to
 *    {@linkcode NEVER_WRITTEN_ATTEMPTS} attempts in all (or `maxAttempts`
 *    if larger). This holds even with `retry: false`, and draws nothing from
 *    the retry budget. A proxy that answers `CONNECT` with 502, 503 or 504
 *    reached nothing either, but says it is struggling: that replay waits a
 *    backoff delay and draws on the budget, as does a stream an HTTP/2
 *    server refused with ENHANCE_YOUR_CALM.
 *
 * With retries on (not `retry: false`), for replayable requests only: an
 * idempotent method (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`) or an
 * `Idempotency-Key` / `X-Idempotency-Key` header, and a body that can be sent
 * again (anything but a `ReadableStream`):
 *
 * 2. **Stale connection**: written on a reused connection and no response
 *    byte came back (stage `sent`, `reused`): the keep-alive race, where the
 *    server closed the idle connection as the request went out. Sent again at
 *    once, on a connection opened after the failure.
 * 3. **`408 Request Timeout`**: the server gave up on the connection; sent
 *    again at once on a new connection.
 * 4. **Other network failures** before the `Response` was handed over (stage
 *    `sent` on a fresh connection, or `response`): sent again after a backoff
 *    delay, since the server may have acted on it.
 *
 * Never sent again: a failure of the body after the `Response` was handed
 * over, a response that breaks the protocol (`MALFORMED_RESPONSE`: sending
 * again doubles the load on a broken server and can hide response
 * smuggling), a refused TLS certificate, a proxy that wants credentials, a
 * full queue, a closed client, and anything that is not a `FetchError` (such
 * as the abort signal's reason).
 *
 * ## Status retries are opt-in
 *
 * `statusCodes` (empty by default) lists the statuses that make a replayable
 * request be sent again: `429` and `503` after their `Retry-After` (a longer
 * wait than `maxRetryAfter` returns the response instead), any other after a
 * backoff delay. They are off by default because the layer that chose to
 * retry on a status (ky, ofetch, an SDK) usually does it already, and the two
 * would multiply.
 *
 * ## Backoff and budget
 *
 * Exponential with full jitter: after attempt `n` failed, a random wait
 * between `minDelay` and `min(maxDelay, minDelay × 2ⁿ)`. Every retry but the
 * replay of a never-written request draws on a per-origin retry budget
 * (`_retry_budget.ts`): at most
 * `budgetRatio` of the requests of the last 10 seconds, plus
 * `budgetMinPerSecond` per second.
 *
 * @module
 */

import { FetchError } from "./errors.ts";
import { RetryBudget } from "./_retry_budget.ts";
import { parseRetryAfter } from "./_retry_after.ts";
import {
  checkBoolean,
  checkDuration,
  checkFunction,
  checkInteger,
  checkNonNegative,
  checkObject,
  invalidOption,
} from "./_validate.ts";

/**
 * Why an attempt is sent again, as counted in `stats().totals.retries` and
 * reported to {@linkcode RetryOptions.onRetry}:
 *
 * - `"connect"`: opening the connection failed (nothing was written).
 * - `"unsent"`: the connection was dead before the request was written.
 * - `"stale"`: a reused keep-alive connection was closed under the request,
 *   with no response byte.
 * - `"network"`: the request was written, or the response head was arriving,
 *   when the connection failed.
 * - `"status"`: the response was a `408`, or had a status in `statusCodes`.
 *
 * @example Count retries by reason
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
 * @example Log each retry
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
  /** The request URL, without credentials. */
  url: string;
  /** The status of the response that is retried, for `reason: "status"`. */
  status?: number;
  /** The failure that is retried, for every reason but `"status"`. */
  error?: unknown;
}

/**
 * Options of the retry policy: the `retry` option of a client, and of a
 * single request (`client.fetch(url, { retry })`).
 *
 * @example Turn status retries on
 * ```ts
 * import { createClient, type RetryOptions } from "@pooled/fetch";
 *
 * const retry: RetryOptions = {
 *   maxAttempts: 4,
 *   statusCodes: [429, 502, 503, 504],
 *   onRetry: (event) => console.log(event.reason, event.delay),
 * };
 * await using client = createClient({ retry });
 * ```
 */
export interface RetryOptions {
  /**
   * How many attempts a request may take in all, the first included. A
   * request that was never written may always take 3 (see
   * {@linkcode NEVER_WRITTEN_ATTEMPTS}); `1` is then the same as
   * `retry: false`.
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
   * Response statuses that make a replayable request be sent again, e.g.
   * `[429, 502, 503, 504]`. Empty by default: a library above us that retries
   * on statuses (ky, ofetch, the SDKs) would otherwise multiply with ours.
   * `408` needs no entry: it is always retried (the server closed the
   * connection). `500` reports a fault with this very request, which sending
   * the same bytes again usually meets again.
   *
   * @default {[]}
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

/** The policy's answer when a request is to be sent again. */
export interface RetryDecision {
  /** Why the request is sent again. */
  reason: RetryReason;
  /** How long to wait before the next attempt, in milliseconds. */
  delay: number;
  /**
   * Whether the next attempt must go on a connection opened after this
   * decision, not an idle kept-alive one (after a `408`, or when a kept-alive
   * connection turned out dead: its idle siblings are likely dead too).
   */
  freshConnection: boolean;
}

/** What the policy needs to know about the request. */
export interface RetryRequestInfo {
  /** The request method, as it is sent. */
  method: string;
  /** The request URL. */
  url: string;
  /** The request headers, as they are sent. */
  headers: Headers;
  /**
   * Whether the body can be sent again: `true` for no body and for bodies
   * held in memory, `false` for a `ReadableStream` once reading it began.
   */
  bodyReplayable: boolean;
}

/**
 * How many attempts in all a request that was never written may take, even
 * with `retry: false`: the server never saw it, so sending it again is safe.
 */
export const NEVER_WRITTEN_ATTEMPTS = 3;

/**
 * How many attempts in all a request whose HTTP/2 stream the server refused
 * may take (as Go's HTTP/2 transport, 1 + 6 retries).
 */
export const REFUSED_STREAM_ATTEMPTS = 7;

/** Codes of failures that sending again cannot mend, or must not. */
const FINAL_CODES: ReadonlySet<FetchError["code"]> = new Set([
  "TLS_FAILED",
  "PROXY_AUTH",
  "MALFORMED_RESPONSE",
  "REQUEST_BODY",
  "QUEUE_FULL",
  "QUEUE_TIMEOUT",
  "CLIENT_CLOSED",
]);

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

/**
 * Whether a method is idempotent (RFC 9110 §9.2.2). The methods the Fetch
 * standard normalizes match in any case; `TRACE` only in upper case.
 */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(normalizeMethod(method));
}

/**
 * Whether a proxy failure says the proxy could not reach the origin but may
 * later (CONNECT answered 502, 503 or 504; a SOCKS server's transient
 * replies): the dialer marks its cause `retryable`.
 */
export function isProxyOverload(error: FetchError): boolean {
  return error.code === "PROXY_FAILED" &&
    (error.cause as { retryable?: unknown } | undefined)?.retryable === true;
}

/**
 * Decides whether a failed or refused attempt is sent again, when, and how
 * often; see the module documentation. One policy serves every request of a
 * client; budgets are per origin.
 *
 * @example A 503 to a GET, with status retries on
 * ```ts
 * import { RetryPolicy } from "./retry.ts";
 *
 * const policy = new RetryPolicy({ statusCodes: [503] });
 * const budget = policy.createBudget();
 * const request = {
 *   method: "GET",
 *   url: "http://127.0.0.1:8000/",
 *   headers: new Headers(),
 *   bodyReplayable: true,
 * };
 * budget.recordRequest();
 * const retryAfter = new Headers({ "retry-after": "2" });
 * const decision = policy.onResponse(request, 1, 503, retryAfter, budget);
 * if (decision?.delay !== 2000) throw new Error("Retry-After is honoured");
 * ```
 */
export class RetryPolicy {
  /** False for `retry: false`: only never-written requests are sent again. */
  readonly enabled: boolean;
  /** Attempts in all for a request the policy may retry. */
  readonly maxAttempts: number;
  /** The shortest backoff delay, in milliseconds. */
  readonly minDelay: number;
  /** The longest backoff delay, in milliseconds. */
  readonly maxDelay: number;
  /** The longest `Retry-After` honoured, in milliseconds. */
  readonly maxRetryAfter: number;
  /** Statuses retried besides `408`. */
  readonly statusCodes: readonly number[];
  /** Whether POST and PATCH get an `Idempotency-Key`. */
  readonly idempotencyKey: boolean;
  /** The budget's share of recent requests. */
  readonly budgetRatio: number;
  /** The budget's retries per second always allowed. */
  readonly budgetMinPerSecond: number;
  #statusSet: ReadonlySet<number>;
  #onRetry: ((event: RetryEvent) => void) | undefined;
  #random: () => number;
  #neverWrittenAttempts: number;

  /**
   * Creates a policy, checking every option; `name` is where the options
   * came from and `subject` what was being done, for messages (`retry`,
   * `create client`; per request, `fetch`).
   */
  constructor(
    options: RetryOptions | false = {},
    name = "retry",
    subject = "create client",
  ) {
    if (options === false) {
      this.enabled = false;
      this.maxAttempts = 1;
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
      this.#neverWrittenAttempts = NEVER_WRITTEN_ATTEMPTS;
      return;
    }
    checkObject(name, options, "an object or false", subject);
    const {
      maxAttempts = 3,
      minDelay = 100,
      maxDelay = 5000,
      maxRetryAfter = 60_000,
      statusCodes = [],
      idempotencyKey = false,
      budgetRatio = 0.2,
      budgetMinPerSecond = 10,
      onRetry,
      random = Math.random,
    } = options;
    checkInteger(`${name}.maxAttempts`, maxAttempts, 1, subject);
    checkNonNegative(`${name}.minDelay`, minDelay, subject);
    checkDuration(`${name}.maxDelay`, maxDelay, { allowZero: true }, subject);
    if (minDelay > maxDelay) {
      invalidOption(
        `${name}.minDelay`,
        `no greater than '${name}.maxDelay' (${maxDelay})`,
        minDelay,
        subject,
      );
    }
    checkDuration(
      `${name}.maxRetryAfter`,
      maxRetryAfter,
      { allowZero: true },
      subject,
    );
    if (!Array.isArray(statusCodes)) {
      invalidOption(
        `${name}.statusCodes`,
        "an array of status codes",
        statusCodes,
        subject,
        true,
      );
    }
    statusCodes.forEach((code: unknown, i: number) => {
      if (
        typeof code !== "number" || !Number.isInteger(code) || code < 400 ||
        code > 599
      ) {
        invalidOption(
          `${name}.statusCodes[${i}]`,
          "an integer from 400 to 599",
          code,
          subject,
        );
      }
    });
    checkBoolean(`${name}.idempotencyKey`, idempotencyKey, subject);
    checkNonNegative(`${name}.budgetRatio`, budgetRatio, subject);
    checkNonNegative(
      `${name}.budgetMinPerSecond`,
      budgetMinPerSecond,
      subject,
    );
    this.#onRetry = checkFunction(`${name}.onRetry`, onRetry, true, subject);
    this.#random = checkFunction(`${name}.random`, random, false, subject);
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
    this.#neverWrittenAttempts = Math.max(NEVER_WRITTEN_ATTEMPTS, maxAttempts);
  }

  /** A retry budget sized by this policy's options, for one origin. */
  createBudget(): RetryBudget {
    return new RetryBudget({
      ratio: this.budgetRatio,
      minPerSecond: this.budgetMinPerSecond,
    });
  }

  /**
   * Whether a response with `status` may be retried at all: a cheap test the
   * attempt loop makes before it builds anything for {@linkcode onResponse}.
   */
  retriesStatus(status: number): boolean {
    return this.enabled && (status === 408 || this.#statusSet.has(status));
  }

  /**
   * Whether the request may be sent twice: an idempotent method, or an
   * idempotency key header.
   */
  isReplayable(request: RetryRequestInfo): boolean {
    return isIdempotentMethod(request.method) ||
      request.headers.has("idempotency-key") ||
      request.headers.has("x-idempotency-key");
  }

  /**
   * Adds an `Idempotency-Key` to a POST or PATCH that has none, when the
   * option is on. Returns whether it added one.
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

  /** The backoff delay after attempt number `attempt` failed. */
  backoff(attempt: number): number {
    const { minDelay, maxDelay } = this;
    const exponent = Math.min(Math.max(attempt, 0), 1000);
    const ceiling = Math.min(maxDelay, minDelay * 2 ** exponent);
    return minDelay + this.#random() * (ceiling - minDelay);
  }

  /**
   * Decides what to do after attempt number `attempt` failed with `error`.
   * Returns `null` to give up, also when the budget refused (counted in
   * `budget.refused`).
   */
  onError(
    request: RetryRequestInfo,
    attempt: number,
    error: unknown,
    budget: RetryBudget,
  ): RetryDecision | null {
    if (!(error instanceof FetchError)) return null;
    if (FINAL_CODES.has(error.code)) return null;
    switch (error.stage) {
      case "connect":
      case "unsent": {
        if (!request.bodyReplayable) return null;
        if (error.code === "STREAM_REFUSED") {
          return this.#refused(error, attempt, budget);
        }
        if (attempt >= this.#neverWrittenAttempts) return null;
        if (error.code === "PROXY_FAILED") {
          // A refusal (403, a SOCKS rule) stays a refusal; only a proxy
          // that says it is struggling is asked again, and not in a storm.
          if (!isProxyOverload(error)) return null;
          if (!budget.tryWithdraw()) return null;
          return {
            reason: "connect",
            delay: this.backoff(attempt),
            freshConnection: false,
          };
        }
        return {
          reason: error.stage,
          delay: 0,
          freshConnection: error.stage === "unsent" && error.reused,
        };
      }
      case "sent":
      case "response": {
        if (!this.enabled || attempt >= this.maxAttempts) return null;
        if (!request.bodyReplayable || !this.isReplayable(request)) return null;
        if (!budget.tryWithdraw()) return null;
        if (error.stage === "sent" && error.reused) {
          return { reason: "stale", delay: 0, freshConnection: true };
        }
        return {
          reason: "network",
          delay: this.backoff(attempt),
          freshConnection: false,
        };
      }
      default:
        return null;
    }
  }

  /**
   * A stream an HTTP/2 server refused (REFUSED_STREAM, or above a GOAWAY's
   * last stream): it was never processed, so it is sent again whatever its
   * method, on a new connection; at once the first time, then after a
   * backoff delay, up to {@linkcode REFUSED_STREAM_ATTEMPTS} attempts, as
   * a server that closes sessions after a few streams may refuse a burst
   * several times over. With ENHANCE_YOUR_CALM every replay waits and
   * draws on the budget.
   */
  #refused(
    error: FetchError,
    attempt: number,
    budget: RetryBudget,
  ): RetryDecision | null {
    if (attempt >= REFUSED_STREAM_ATTEMPTS) return null;
    const calm = (error.cause as { calm?: unknown } | undefined)?.calm === true;
    if (calm && !budget.tryWithdraw()) return null;
    return {
      reason: "unsent",
      delay: calm || attempt > 1 ? this.backoff(attempt - 1) : 0,
      freshConnection: true,
    };
  }

  /**
   * Decides what to do after attempt number `attempt` was answered with
   * `status`; `headers` are the response's. Returns `null` to hand the
   * response to the caller.
   */
  onResponse(
    request: RetryRequestInfo,
    attempt: number,
    status: number,
    headers: Headers,
    budget: RetryBudget,
  ): RetryDecision | null {
    if (!this.retriesStatus(status) || attempt >= this.maxAttempts) {
      return null;
    }
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

  /** Tells the caller's `onRetry` about a retry; what it throws propagates. */
  notify(event: RetryEvent): void {
    this.#onRetry?.(event);
  }
}
