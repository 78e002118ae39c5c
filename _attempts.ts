// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The attempt loop: sends one request through a {@linkcode Dispatcher},
 * asks the retry policy after each failed or refused attempt, waits as it
 * says, and sends again. It knows nothing of sockets; it is tested against a
 * fake dispatcher.
 *
 * Each attempt is a client span (`_telemetry.ts`): started just before the
 * dispatch, with the trace context injected into a copy of the request's
 * fields, and ended when the response head arrives or the attempt fails.
 *
 * @module
 */

import { discardBody } from "./_body.ts";
import type {
  Dispatcher,
  DispatchOptions,
  DispatchRequest,
  DispatchResult,
} from "./_dispatch.ts";
import type { RetryBudget } from "./_retry_budget.ts";
import { NOOP_TELEMETRY, type Telemetry } from "./_telemetry.ts";
import { FetchError } from "./errors.ts";
import {
  isIdempotentMethod,
  type RetryDecision,
  type RetryPolicy,
  type RetryReason,
  type RetryRequestInfo,
} from "./retry.ts";

/** A request as the attempt loop needs it. */
export interface AttemptRequest extends DispatchRequest {
  /** The caller's headers, for the policy (idempotency keys); `null`: none. */
  readonly headers: Headers | null;
  /** The caller's signal. */
  readonly signal: AbortSignal | undefined;
}

/** Everything the loop works with besides the request. */
export interface AttemptContext {
  /** Sends each attempt. */
  dispatcher: Dispatcher;
  /** The retry policy in force for this request. */
  policy: RetryPolicy;
  /** The origin's retry budget. */
  budget: RetryBudget;
  /** Retries by reason, counted here. */
  retries: Record<RetryReason, number>;
  /** Milliseconds to wait for a response head once written. */
  headersTimeout: number;
  /** Milliseconds a response body may make no progress. */
  bodyTimeout: number;
  /**
   * The client's telemetry: a span per attempt, retries and refusals.
   *
   * @default {NOOP_TELEMETRY}
   */
  telemetry?: Telemetry;
  /**
   * Requests this fetch sent before (the attempts of earlier redirect
   * hops); the loop adds one per attempt, so that a context kept across
   * hops numbers `http.request.resend_count` over the whole fetch.
   *
   * @default {0}
   */
  sent?: number;
}

const NO_HEADERS = new Headers();

/**
 * Sends `request`, retrying as the policy says. Resolves with the response
 * to hand over (possibly one whose status the policy declined to retry).
 *
 * @throws {FetchError} The last attempt's failure; when more than one
 * attempt was made, its message and `attempts` say how many.
 * @throws The signal's reason, unchanged, when the signal aborts.
 */
export async function sendWithRetries(
  request: AttemptRequest,
  context: AttemptContext,
): Promise<DispatchResult> {
  const { dispatcher, policy, budget, headersTimeout, bodyTimeout } = context;
  const { signal } = request;
  budget.recordRequest();
  const pipelinable = request.body.stream === null &&
    isIdempotentMethod(request.method);
  let options: DispatchOptions = {
    signal,
    pipelinable,
    freshConnection: false,
    headersTimeout,
    bodyTimeout,
  };
  const telemetry = context.telemetry ?? NOOP_TELEMETRY;
  let info: RetryRequestInfo | undefined;
  let retryReason: RetryReason | undefined;
  for (let attempt = 1;; attempt++) {
    const sent = context.sent ?? 0;
    context.sent = sent + 1;
    const span = telemetry.startRequest(request, sent, retryReason);
    const fields = span.fields;
    let result: DispatchResult | undefined;
    let error: unknown;
    try {
      result = await dispatcher.dispatch(
        fields === undefined ? request : traced(request, fields),
        options,
      );
    } catch (caught) {
      error = caught;
    }
    span.end(result, error);
    let decision: RetryDecision | null;
    if (result !== undefined) {
      if (!policy.retriesStatus(result.status)) return result;
      info ??= requestInfo(request);
      const refused = budget.refused;
      decision = policy.onResponse(
        info,
        attempt,
        result.status,
        new Headers(result.headers),
        budget,
      );
      if (decision === null) {
        if (budget.refused !== refused) {
          telemetry.retryRefused(request.url, "status");
        }
        return result;
      }
      discardBody(result.body);
    } else {
      if (signal?.aborted && error === signal.reason) throw error;
      info ??= requestInfo(request);
      const refused = budget.refused;
      decision = policy.onError(
        neverWritten(error) ? { ...info, bodyReplayable: true } : info,
        attempt,
        error,
        budget,
      );
      if (decision === null) {
        if (budget.refused !== refused) {
          telemetry.retryRefused(request.url, refusedReason(error));
        }
        throw gaveUp(error, attempt);
      }
    }
    context.retries[decision.reason]++;
    retryReason = decision.reason;
    policy.notify({
      attempt,
      nextAttempt: attempt + 1,
      reason: decision.reason,
      delay: decision.delay,
      method: request.method,
      url: request.url.href,
      status: result?.status,
      error,
    });
    if (decision.delay > 0) await wait(decision.delay, signal);
    if (options.freshConnection !== decision.freshConnection) {
      options = { ...options, freshConnection: decision.freshConnection };
    }
  }
}

/**
 * The request with `fields` (its own plus the injected trace context)
 * instead of its own. No longer plain: the transport must not send the
 * encoding it cached for the request without them.
 */
function traced(
  request: DispatchRequest,
  fields: readonly (readonly [string, string])[],
): DispatchRequest {
  return {
    method: request.method,
    url: request.url,
    fields,
    host: request.host,
    body: request.body,
    contentLength: request.contentLength,
    plain: false,
  };
}

/**
 * The reason of the retry the budget refused after a failure: the policy
 * asks the budget for proxy overloads (`connect`) and for requests that
 * reached the server (`stale` on a reused connection, else `network`).
 */
function refusedReason(error: unknown): RetryReason {
  if (error instanceof FetchError) {
    if (error.stage === "connect" || error.stage === "unsent") return "connect";
    if (error.stage === "sent" && error.reused) return "stale";
  }
  return "network";
}

function requestInfo(request: AttemptRequest): RetryRequestInfo {
  return {
    method: request.method,
    url: request.url.href,
    headers: request.headers ?? NO_HEADERS,
    bodyReplayable: request.body.replayable,
  };
}

/**
 * Whether the attempt never wrote a byte: then even a stream body was not
 * read, and can be sent as it is.
 */
function neverWritten(error: unknown): boolean {
  return error instanceof FetchError &&
    (error.stage === "connect" || error.stage === "unsent");
}

/**
 * The error a request rejects with when the policy gives up: the last
 * failure, saying how many attempts were made.
 */
function gaveUp(error: unknown, attempts: number): unknown {
  if (attempts === 1 || !(error instanceof FetchError)) return error;
  return new FetchError(
    `${error.message} (gave up after ${attempts} attempts)`,
    {
      stage: error.stage,
      code: error.code,
      origin: error.origin,
      reused: error.reused,
      attempts,
      cause: error.cause,
    },
  );
}

/**
 * Waits `ms` milliseconds, or until `signal` aborts, then rejects with its
 * reason, unchanged. The timer is cleared either way.
 */
export function wait(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
