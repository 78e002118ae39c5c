// Copyright 2026 the pooled-fetch authors. MIT license.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import { FakeTime } from "@std/testing/time";
import { FetchError, type FetchErrorStage } from "../errors.ts";
import {
  isIdempotentMethod,
  NEVER_WRITTEN_ATTEMPTS,
  type RetryEvent,
  type RetryOptions,
  RetryPolicy,
  type RetryRequestInfo,
} from "../retry.ts";
import { RetryBudget } from "../_retry_budget.ts";
import { parseRetryAfter } from "../_retry_after.ts";

/** Status retries as a caller turns them on. */
const STATUS_CODES = [429, 502, 503, 504];

const ORIGIN = "http://127.0.0.1:8000";

function request(
  method = "GET",
  init: Partial<RetryRequestInfo> = {},
): RetryRequestInfo {
  return {
    method,
    url: `${ORIGIN}/path`,
    headers: new Headers(),
    bodyReplayable: true,
    ...init,
  };
}

function failure(stage: FetchErrorStage, reused = false): FetchError {
  return new FetchError(`${stage} failed`, {
    stage,
    code: stage === "connect" ? "CONNECT_FAILED" : "CONNECTION_CLOSED",
    origin: ORIGIN,
    reused,
  });
}

/** A budget that never runs out in these tests. */
function ample(): RetryBudget {
  return new RetryBudget({ ratio: 0, minPerSecond: 1000 });
}

/** A budget that is always empty. */
function empty(): RetryBudget {
  return new RetryBudget({ ratio: 0, minPerSecond: 0 });
}

function headers(init: Record<string, string> = {}): Headers {
  return new Headers(init);
}

// Rule 1: nothing was written.

Deno.test("RetryPolicy.onError() replays a POST at once after a failed connect", () => {
  const policy = new RetryPolicy();
  const budget = ample();
  assertEquals(
    policy.onError(request("POST"), 1, failure("connect"), budget),
    { reason: "connect", delay: 0, freshConnection: false },
  );
  assertEquals(budget.withdrawn, 0);
});

Deno.test("RetryPolicy.onError() replays a POST at once when the connection died before the write", () => {
  const policy = new RetryPolicy();
  assertEquals(
    policy.onError(request("POST"), 1, failure("unsent", true), ample()),
    { reason: "unsent", delay: 0, freshConnection: true },
  );
  assertEquals(
    policy.onError(request("PATCH"), 1, failure("unsent", false), ample()),
    { reason: "unsent", delay: 0, freshConnection: false },
  );
});

Deno.test("RetryPolicy.onError() replays unwritten requests without drawing on the budget", () => {
  const policy = new RetryPolicy();
  const budget = empty();
  assert(policy.onError(request(), 1, failure("connect"), budget) !== null);
  assert(policy.onError(request(), 2, failure("unsent"), budget) !== null);
  assertEquals(budget.withdrawn, 0);
  assertEquals(budget.refused, 0);
});

Deno.test("RetryPolicy.onError() does not replay an unwritten request whose body cannot be replayed", () => {
  const policy = new RetryPolicy();
  const stream = request("GET", { bodyReplayable: false });
  assertStrictEquals(
    policy.onError(stream, 1, failure("connect"), ample()),
    null,
  );
  assertStrictEquals(
    policy.onError(stream, 1, failure("unsent", true), ample()),
    null,
  );
});

// Rule 2: the keep-alive race.

Deno.test("RetryPolicy.onError() replays a GET at once after a stale reused connection", () => {
  const policy = new RetryPolicy();
  const budget = ample();
  assertEquals(
    policy.onError(request("GET"), 1, failure("sent", true), budget),
    { reason: "stale", delay: 0, freshConnection: true },
  );
  assertEquals(budget.withdrawn, 1);
});

Deno.test("RetryPolicy.onError() replays every idempotent method after a stale reused connection", () => {
  const policy = new RetryPolicy();
  for (const method of ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]) {
    assertEquals(
      policy.onError(request(method), 1, failure("sent", true), ample())
        ?.reason,
      "stale",
      method,
    );
  }
});

Deno.test("RetryPolicy.onError() does not replay a POST after a stale reused connection", () => {
  const policy = new RetryPolicy();
  for (const method of ["POST", "PATCH", "CONNECT"]) {
    assertStrictEquals(
      policy.onError(request(method), 1, failure("sent", true), ample()),
      null,
      method,
    );
  }
});

Deno.test("RetryPolicy.onError() replays a POST with an Idempotency-Key after a stale reused connection", () => {
  const policy = new RetryPolicy();
  for (const name of ["Idempotency-Key", "X-Idempotency-Key"]) {
    const post = request("POST", { headers: headers({ [name]: '"k1"' }) });
    assertEquals(
      policy.onError(post, 1, failure("sent", true), ample()),
      { reason: "stale", delay: 0, freshConnection: true },
      name,
    );
  }
});

Deno.test("RetryPolicy.onError() does not replay a stream body after a stale reused connection", () => {
  const policy = new RetryPolicy();
  const put = request("PUT", { bodyReplayable: false });
  assertStrictEquals(
    policy.onError(put, 1, failure("sent", true), ample()),
    null,
  );
});

// Rule 3: the server may have seen it.

Deno.test("RetryPolicy.onError() retries a GET with backoff after a failure on a fresh connection", () => {
  const policy = new RetryPolicy({ random: () => 0.5 });
  const budget = ample();
  assertEquals(
    policy.onError(request(), 1, failure("sent", false), budget),
    { reason: "network", delay: 150, freshConnection: false },
  );
  assertEquals(
    policy.onError(request(), 2, failure("sent", false), budget),
    { reason: "network", delay: 250, freshConnection: false },
  );
  assertEquals(budget.withdrawn, 2);
});

Deno.test("RetryPolicy.onError() retries a GET with backoff after a failure during the response head", () => {
  const policy = new RetryPolicy({ random: () => 0 });
  for (const reused of [false, true]) {
    assertEquals(
      policy.onError(request(), 1, failure("response", reused), ample()),
      { reason: "network", delay: 100, freshConnection: false },
    );
  }
});

Deno.test("RetryPolicy.onError() never retries a POST once it was sent", () => {
  const policy = new RetryPolicy();
  for (
    const error of [
      failure("sent", false),
      failure("sent", true),
      failure("response", false),
    ]
  ) {
    assertStrictEquals(
      policy.onError(request("POST"), 1, error, ample()),
      null,
    );
  }
});

Deno.test("RetryPolicy.onError() retries a POST with an Idempotency-Key after a failure on a fresh connection", () => {
  const policy = new RetryPolicy({ random: () => 0 });
  const post = request("POST", {
    headers: headers({ "idempotency-key": '"k"' }),
  });
  assertEquals(
    policy.onError(post, 1, failure("sent", false), ample())?.reason,
    "network",
  );
});

Deno.test("RetryPolicy.onError() never retries a failure of the response body", () => {
  const policy = new RetryPolicy();
  assertStrictEquals(
    policy.onError(request(), 1, failure("body", false), ample()),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 1, failure("body", true), ample()),
    null,
  );
});

Deno.test("RetryPolicy.onError() never retries an error that is not a network failure", () => {
  const policy = new RetryPolicy();
  const controller = new AbortController();
  controller.abort();
  for (
    const error of [
      new DOMException("Aborted", "AbortError"),
      controller.signal.reason,
      "a string reason",
      new TypeError("plain TypeError"),
      new Error("connect"),
      undefined,
    ]
  ) {
    assertStrictEquals(policy.onError(request(), 1, error, ample()), null);
  }
});

Deno.test("RetryPolicy.onError() gives up once maxAttempts attempts were made", () => {
  const policy = new RetryPolicy({ maxAttempts: 3 });
  assert(policy.onError(request(), 2, failure("connect"), ample()) !== null);
  assertStrictEquals(
    policy.onError(request(), 3, failure("connect"), ample()),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 3, failure("sent", true), ample()),
    null,
  );
  const more = new RetryPolicy({ maxAttempts: 5 });
  assert(more.onError(request(), 4, failure("connect"), ample()) !== null);
  assertStrictEquals(
    more.onError(request(), 5, failure("connect"), ample()),
    null,
  );
});

Deno.test("RetryPolicy.onError() with maxAttempts 1 acts as retry: false", () => {
  const one = new RetryPolicy({ maxAttempts: 1 });
  const off = new RetryPolicy(false);
  for (const policy of [one, off]) {
    assertEquals(
      policy.onError(request("POST"), 1, failure("connect"), ample()),
      { reason: "connect", delay: 0, freshConnection: false },
    );
    assertStrictEquals(
      policy.onError(
        request(),
        NEVER_WRITTEN_ATTEMPTS,
        failure("unsent"),
        ample(),
      ),
      null,
    );
    assertStrictEquals(
      policy.onError(request(), 1, failure("sent", true), ample()),
      null,
    );
    assertStrictEquals(
      policy.onResponse(request(), 1, 408, headers(), ample()),
      null,
    );
  }
});

Deno.test("RetryPolicy.onError() never retries a failure that sending again cannot mend", () => {
  const policy = new RetryPolicy({ maxAttempts: 5 });
  const codes = [
    ["connect", "TLS_FAILED"],
    ["connect", "PROXY_AUTH"],
    ["response", "MALFORMED_RESPONSE"],
    ["sent", "REQUEST_BODY"],
    ["unsent", "QUEUE_FULL"],
    ["unsent", "QUEUE_TIMEOUT"],
    ["unsent", "CLIENT_CLOSED"],
  ] as const;
  for (const [stage, code] of codes) {
    const error = new FetchError("no", { stage, code, origin: ORIGIN });
    assertStrictEquals(
      policy.onError(request(), 1, error, ample()),
      null,
      code,
    );
  }
});

Deno.test("RetryPolicy.onError() backs off and draws on the budget when a proxy says it is overloaded, and never asks a refusing one again", () => {
  const policy = new RetryPolicy({ random: () => 0 });
  const proxyFailure = (retryable: boolean) =>
    new FetchError("the proxy answered CONNECT", {
      stage: "connect",
      code: "PROXY_FAILED",
      origin: ORIGIN,
      cause: Object.assign(new Error("refused"), { retryable }),
    });
  const budget = ample();
  assertEquals(
    policy.onError(request("POST"), 1, proxyFailure(true), budget),
    { reason: "connect", delay: 100, freshConnection: false },
  );
  assertEquals(budget.withdrawn, 1);
  assertStrictEquals(
    policy.onError(request("POST"), 1, proxyFailure(true), empty()),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 1, proxyFailure(false), ample()),
    null,
  );
});

Deno.test("RetryPolicy.onError() gives up when the budget is spent and counts the refusal", () => {
  const policy = new RetryPolicy();
  const budget = empty();
  assertStrictEquals(
    policy.onError(request(), 1, failure("sent", true), budget),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 1, failure("response"), budget),
    null,
  );
  assertEquals(budget.refused, 2);
});

Deno.test("RetryPolicy.onError() draws on the budget only for a retry it grants", () => {
  const policy = new RetryPolicy();
  const budget = empty();
  policy.onError(request("POST"), 1, failure("sent", true), budget);
  policy.onError(request(), 1, failure("body"), budget);
  assertEquals(budget.refused, 0);
});

// retry: false

Deno.test("RetryPolicy(false) replays only requests that were never written", () => {
  const policy = new RetryPolicy(false);
  assertEquals(policy.enabled, false);
  assertEquals(policy.maxAttempts, 1);
  assertEquals(NEVER_WRITTEN_ATTEMPTS, 3);
  assertEquals(
    policy.onError(request("POST"), 1, failure("connect"), ample()),
    { reason: "connect", delay: 0, freshConnection: false },
  );
  assertEquals(
    policy.onError(request("POST"), 2, failure("unsent", true), ample()),
    { reason: "unsent", delay: 0, freshConnection: true },
  );
  assertStrictEquals(
    policy.onError(request(), 3, failure("connect"), ample()),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 1, failure("sent", true), ample()),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 1, failure("sent", false), ample()),
    null,
  );
  assertStrictEquals(
    policy.onError(request(), 1, failure("response"), ample()),
    null,
  );
  for (const status of [408, 429, 502, 503, 504]) {
    assertStrictEquals(
      policy.onResponse(request(), 1, status, headers(), ample()),
      null,
    );
  }
});

Deno.test("RetryPolicy(false) sets no Idempotency-Key and calls nothing on notify", () => {
  const policy = new RetryPolicy(false);
  const h = headers();
  assertEquals(policy.applyIdempotencyKey("POST", h), false);
  assertEquals(h.has("idempotency-key"), false);
  policy.notify({
    attempt: 1,
    nextAttempt: 2,
    reason: "connect",
    delay: 0,
    method: "GET",
    url: ORIGIN,
  });
});

// By status.

Deno.test("RetryPolicy.onResponse() sends a 408 again at once on a new connection", () => {
  const policy = new RetryPolicy();
  const budget = ample();
  assertEquals(
    policy.onResponse(request(), 1, 408, headers(), budget),
    { reason: "status", delay: 0, freshConnection: true },
  );
  assertEquals(budget.withdrawn, 1);
});

Deno.test("RetryPolicy.onResponse() waits the Retry-After seconds of a 429 and a 503", () => {
  const policy = new RetryPolicy({ statusCodes: STATUS_CODES });
  for (const status of [429, 503]) {
    assertEquals(
      policy.onResponse(
        request(),
        1,
        status,
        headers({ "retry-after": "7" }),
        ample(),
      ),
      { reason: "status", delay: 7000, freshConnection: false },
    );
  }
  assertEquals(
    policy.onResponse(
      request(),
      1,
      503,
      headers({ "retry-after": "0" }),
      ample(),
    )?.delay,
    0,
  );
});

Deno.test("RetryPolicy.onResponse() waits until the Retry-After date of a 503", () => {
  using _time = new FakeTime(Date.UTC(2015, 9, 21, 7, 28, 0));
  const policy = new RetryPolicy({ statusCodes: STATUS_CODES });
  assertEquals(
    policy.onResponse(
      request(),
      1,
      503,
      headers({ "retry-after": "Wed, 21 Oct 2015 07:28:42 GMT" }),
      ample(),
    )?.delay,
    42_000,
  );
  assertEquals(
    policy.onResponse(
      request(),
      1,
      503,
      headers({ "retry-after": "Wed, 21 Oct 2015 07:00:00 GMT" }),
      ample(),
    )?.delay,
    0,
  );
});

Deno.test("RetryPolicy.onResponse() returns a response whose Retry-After exceeds maxRetryAfter", () => {
  const policy = new RetryPolicy({
    maxRetryAfter: 10_000,
    statusCodes: STATUS_CODES,
  });
  const budget = ample();
  assertStrictEquals(
    policy.onResponse(
      request(),
      1,
      429,
      headers({ "retry-after": "11" }),
      budget,
    ),
    null,
  );
  assertEquals(budget.withdrawn, 0);
  assertEquals(
    policy.onResponse(
      request(),
      1,
      429,
      headers({ "retry-after": "10" }),
      budget,
    )?.delay,
    10_000,
  );
});

Deno.test("RetryPolicy.onResponse() backs off when a 503 has no or an invalid Retry-After", () => {
  const policy = new RetryPolicy({
    random: () => 0.5,
    statusCodes: STATUS_CODES,
  });
  for (const value of [undefined, "soon", "-1", "1.5"]) {
    const h = value === undefined ? headers() : headers({
      "retry-after": value,
    });
    assertEquals(
      policy.onResponse(request(), 1, 503, h, ample()),
      { reason: "status", delay: 150, freshConnection: false },
      String(value),
    );
  }
});

Deno.test("RetryPolicy.onResponse() backs off on a 502 or 504 whatever its Retry-After", () => {
  const policy = new RetryPolicy({
    random: () => 0,
    statusCodes: STATUS_CODES,
  });
  for (const status of [502, 504]) {
    assertEquals(
      policy.onResponse(
        request(),
        1,
        status,
        headers({ "retry-after": "30" }),
        ample(),
      )?.delay,
      100,
    );
  }
});

Deno.test("RetryPolicy.onResponse() returns statuses that are not in statusCodes", () => {
  const policy = new RetryPolicy();
  for (const status of [200, 304, 400, 404, 429, 500, 501, 502, 503, 504]) {
    assertStrictEquals(
      policy.onResponse(request(), 1, status, headers(), ample()),
      null,
    );
  }
  const custom = new RetryPolicy({ statusCodes: [500] });
  assertEquals(
    custom.onResponse(request(), 1, 500, headers(), ample())?.reason,
    "status",
  );
  assertStrictEquals(
    custom.onResponse(request(), 1, 503, headers(), ample()),
    null,
  );
});

Deno.test("RetryPolicy.onResponse() never retries a POST or a stream body", () => {
  const policy = new RetryPolicy({ statusCodes: STATUS_CODES });
  assertStrictEquals(
    policy.onResponse(request("POST"), 1, 503, headers(), ample()),
    null,
  );
  assertStrictEquals(
    policy.onResponse(request("POST"), 1, 408, headers(), ample()),
    null,
  );
  const stream = request("PUT", { bodyReplayable: false });
  assertStrictEquals(
    policy.onResponse(stream, 1, 503, headers(), ample()),
    null,
  );
  const keyed = request("POST", {
    headers: headers({ "idempotency-key": '"k"' }),
  });
  assertEquals(
    policy.onResponse(keyed, 1, 408, headers(), ample())?.reason,
    "status",
  );
});

Deno.test("RetryPolicy.onResponse() returns the response once maxAttempts attempts were made", () => {
  const policy = new RetryPolicy({ maxAttempts: 2, statusCodes: [503] });
  assert(policy.onResponse(request(), 1, 503, headers(), ample()) !== null);
  assertStrictEquals(
    policy.onResponse(request(), 2, 503, headers(), ample()),
    null,
  );
});

Deno.test("RetryPolicy.onResponse() returns the response when the budget is spent", () => {
  const policy = new RetryPolicy();
  const budget = empty();
  assertStrictEquals(
    policy.onResponse(request(), 1, 408, headers(), budget),
    null,
  );
  assertEquals(budget.refused, 1);
});

// Backoff.

Deno.test("RetryPolicy.backoff() stays between minDelay and a doubling ceiling", () => {
  let r = 0;
  const policy = new RetryPolicy({
    minDelay: 100,
    maxDelay: 5000,
    random: () => r,
  });
  const ceilings = [200, 400, 800, 1600, 3200, 5000, 5000];
  ceilings.forEach((ceiling, i) => {
    r = 0;
    assertEquals(policy.backoff(i + 1), 100, `low, attempt ${i + 1}`);
    r = 0.5;
    assertEquals(policy.backoff(i + 1), 100 + (ceiling - 100) / 2);
    r = 1 - Number.EPSILON;
    const high = policy.backoff(i + 1);
    assert(high < ceiling && high > ceiling - 0.001, `high ${high}`);
  });
});

Deno.test("RetryPolicy.backoff() stays finite for huge attempt numbers", () => {
  const policy = new RetryPolicy({ random: () => 0.5 });
  assertEquals(policy.backoff(100_000), 100 + (5000 - 100) / 2);
  const none = new RetryPolicy({ minDelay: 0, random: () => 0.5 });
  assertEquals(none.backoff(100_000), 0);
});

Deno.test("RetryPolicy.backoff() waits minDelay exactly when it equals maxDelay", () => {
  const policy = new RetryPolicy({
    minDelay: 250,
    maxDelay: 250,
    random: () => 0.9,
  });
  assertEquals(policy.backoff(1), 250);
  assertEquals(policy.backoff(5), 250);
});

Deno.test("RetryPolicy.backoff() uses Math.random by default", () => {
  const policy = new RetryPolicy();
  for (let i = 0; i < 50; i++) {
    const delay = policy.backoff(1);
    assert(delay >= 100 && delay < 200, String(delay));
  }
});

// Budget.

Deno.test("RetryBudget limits retries under a burst to the ratio plus the floor", () => {
  using _time = new FakeTime(0);
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1 });
  assertEquals(budget.balance, 10);
  for (let i = 0; i < 100; i++) budget.recordRequest();
  assertEquals(budget.balance, 30);
  let granted = 0;
  for (let i = 0; i < 100; i++) if (budget.tryWithdraw()) granted++;
  assertEquals(granted, 30);
  assertEquals(budget.withdrawn, 30);
  assertEquals(budget.refused, 70);
  assertEquals(budget.balance, 0);
});

Deno.test("RetryBudget recovers after the window", () => {
  using time = new FakeTime(0);
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 1 });
  while (budget.tryWithdraw()) { /* drain the reserve */ }
  assertEquals(budget.balance, 0);
  time.tick(5_000);
  assertEquals(budget.tryWithdraw(), false);
  time.tick(5_000);
  assertEquals(budget.balance, 10);
  assert(budget.tryWithdraw());
});

Deno.test("RetryBudget forgets recorded requests after the window", () => {
  using time = new FakeTime(0);
  const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0 });
  for (let i = 0; i < 10; i++) budget.recordRequest();
  assertEquals(budget.balance, 5);
  time.tick(9_999);
  assertEquals(budget.balance, 5);
  time.tick(1);
  assertEquals(budget.balance, 0);
});

Deno.test("RetryBudget slides its window one tenth at a time", () => {
  using time = new FakeTime(0);
  const budget = new RetryBudget({ ratio: 1, minPerSecond: 0 });
  budget.recordRequest(); // In the bucket [0 s, 1 s).
  time.tick(5_000);
  budget.recordRequest(); // In the bucket [5 s, 6 s).
  assertEquals(budget.balance, 2);
  time.tick(5_000); // 10 s: the first is forgotten.
  assertEquals(budget.balance, 1);
  time.tick(5_000); // 15 s: so is the second.
  assertEquals(budget.balance, 0);
  time.tick(1_000_000); // A long idle gap clears everything at once.
  assertEquals(budget.balance, 0);
});

Deno.test("RetryBudget uses the injected clock", () => {
  let now = 1_000_000;
  const budget = new RetryBudget({
    ratio: 1,
    minPerSecond: 0,
    windowMs: 1000,
    now: () => now,
  });
  budget.recordRequest();
  assertEquals(budget.balance, 1);
  now += 1000;
  assertEquals(budget.balance, 0);
  now -= 5000; // A clock that goes back forgets nothing and breaks nothing.
  budget.recordRequest();
  assertEquals(budget.balance, 1);
});

Deno.test("RetryPolicy.createBudget() sizes the budget from the options", () => {
  using _time = new FakeTime(0);
  const policy = new RetryPolicy({ budgetRatio: 0.5, budgetMinPerSecond: 2 });
  const budget = policy.createBudget();
  assertInstanceOf(budget, RetryBudget);
  assertEquals(budget.balance, 20);
  budget.recordRequest();
  budget.recordRequest();
  assertEquals(budget.balance, 21);
  assertEquals(new RetryPolicy().createBudget().balance, 100);
});

Deno.test("RetryPolicy.onError() stops retrying a failing origin once its budget is spent", () => {
  using time = new FakeTime(0);
  const policy = new RetryPolicy({
    budgetRatio: 0.2,
    budgetMinPerSecond: 0,
    random: () => 0,
  });
  const budget = policy.createBudget();
  let retries = 0;
  for (let i = 0; i < 50; i++) {
    budget.recordRequest();
    const decision = policy.onError(request(), 1, failure("sent"), budget);
    if (decision !== null) retries++;
    // Unwritten replays stay allowed whatever the budget.
    assert(policy.onError(request(), 1, failure("connect"), budget) !== null);
  }
  assertEquals(retries, 10);
  time.tick(10_000);
  budget.recordRequest();
  budget.recordRequest();
  budget.recordRequest();
  budget.recordRequest();
  budget.recordRequest();
  assert(policy.onError(request(), 1, failure("sent"), budget) !== null);
});

Deno.test("RetryBudget() rejects invalid options", () => {
  const cases: [Record<string, unknown>, ErrorConstructor, string][] = [
    [
      { ratio: -0.1 },
      RangeError,
      "Cannot create retry budget as 'ratio' must be a non-negative finite number: current value is -0.1",
    ],
    [
      { ratio: "0.2" },
      TypeError,
      `Cannot create retry budget as 'ratio' must be a non-negative finite number: current value is "0.2"`,
    ],
    [
      { minPerSecond: Infinity },
      RangeError,
      "Cannot create retry budget as 'minPerSecond' must be a non-negative finite number: current value is Infinity",
    ],
    [
      { windowMs: 0 },
      RangeError,
      "Cannot create retry budget as 'windowMs' must be a positive finite number: current value is 0",
    ],
    [
      { now: 5 },
      TypeError,
      "Cannot create retry budget as 'now' must be a function: current value is 5",
    ],
  ];
  for (const [options, ErrorClass, message] of cases) {
    const error = assertThrows(
      () => new RetryBudget(options as never),
      ErrorClass,
    );
    assertEquals(error.message, message);
  }
});

// Retry-After.

Deno.test("parseRetryAfter() reads delta-seconds", () => {
  assertEquals(parseRetryAfter("0"), 0);
  assertEquals(parseRetryAfter("120"), 120_000);
  assertEquals(parseRetryAfter(" 5 "), 5000);
  assertEquals(parseRetryAfter("007"), 7000);
});

Deno.test("parseRetryAfter() reads the three HTTP-date forms", () => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 0);
  assertEquals(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), 37_000);
  assertEquals(
    parseRetryAfter("Sunday, 06-Nov-94 08:49:37 GMT", now),
    37_000,
  );
  assertEquals(parseRetryAfter("Sun Nov  6 08:49:37 1994", now), 37_000);
  assertEquals(parseRetryAfter("Sun Nov 16 08:49:37 1994", now), 864_037_000);
});

Deno.test("parseRetryAfter() measures dates from Date.now() by default", () => {
  using _time = new FakeTime(Date.UTC(2030, 0, 1));
  assertEquals(parseRetryAfter("Tue, 01 Jan 2030 00:01:00 GMT"), 60_000);
});

Deno.test("parseRetryAfter() returns 0 for a date in the past", () => {
  const now = Date.UTC(2020, 0, 1);
  assertEquals(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", now), 0);
});

Deno.test("parseRetryAfter() reads a two-digit year as at most 50 years ahead", () => {
  const now = Date.UTC(2026, 0, 1);
  // 76 would be 2076 (50 years ahead): taken as such.
  assertEquals(
    parseRetryAfter("Friday, 01-Jan-76 00:00:00 GMT", now),
    Date.UTC(2076, 0, 1) - now,
  );
  // 77 would be 2077 (more than 50 years ahead): 1977, in the past.
  assertEquals(parseRetryAfter("Saturday, 01-Jan-77 00:00:00 GMT", now), 0);
});

Deno.test("parseRetryAfter() returns undefined for an absent or invalid value", () => {
  const now = Date.UTC(2015, 0, 1);
  for (
    const value of [
      null,
      "",
      "-5",
      "1.5",
      "+3",
      "1e3",
      "soon",
      "Wed, 31 Apr 2015 07:28:00 GMT", // 31 April
      "Sun, 29 Feb 2015 07:28:00 GMT", // not a leap year
      "Wed, 21 Oct 2015 24:00:00 GMT",
      "Wed, 21 Oct 2015 07:60:00 GMT",
      "wed, 21 oct 2015 07:28:00 gmt",
      "Wed, 21 Oct 2015 07:28:00 UTC",
      "2015-10-21T07:28:00Z",
      "Wed, 21 Oct 2015",
    ]
  ) {
    assertStrictEquals(parseRetryAfter(value, now), undefined, String(value));
  }
});

// Methods and idempotency keys.

Deno.test("isIdempotentMethod() accepts the idempotent methods of RFC 9110", () => {
  for (const method of ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]) {
    assert(isIdempotentMethod(method), method);
  }
  for (const method of ["get", "Put", "delete", "head", "options"]) {
    assert(isIdempotentMethod(method), method);
  }
  for (const method of ["POST", "post", "PATCH", "CONNECT", "trace", "FOO"]) {
    assert(!isIdempotentMethod(method), method);
  }
});

Deno.test("RetryPolicy.isReplayable() accepts idempotent methods and idempotency keys", () => {
  const policy = new RetryPolicy();
  assert(policy.isReplayable(request("DELETE")));
  assert(!policy.isReplayable(request("POST")));
  assert(
    policy.isReplayable(
      request("PATCH", { headers: headers({ "Idempotency-Key": '"a"' }) }),
    ),
  );
  // The body is a separate condition.
  assert(policy.isReplayable(request("GET", { bodyReplayable: false })));
});

Deno.test("RetryPolicy.applyIdempotencyKey() keys POST and PATCH requests that have none", () => {
  const policy = new RetryPolicy({ idempotencyKey: true });
  const keys = new Set<string>();
  for (const method of ["POST", "post", "PATCH"]) {
    const h = headers();
    assertEquals(policy.applyIdempotencyKey(method, h), true, method);
    const key = h.get("idempotency-key")!;
    assert(
      /^"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"$/
        .test(key),
      key,
    );
    keys.add(key);
    assert(policy.isReplayable(request(method, { headers: h })));
  }
  assertEquals(keys.size, 3);
});

Deno.test("RetryPolicy.applyIdempotencyKey() keeps a key the request has", () => {
  const policy = new RetryPolicy({ idempotencyKey: true });
  const own = headers({ "Idempotency-Key": '"mine"' });
  assertEquals(policy.applyIdempotencyKey("POST", own), false);
  assertEquals(own.get("idempotency-key"), '"mine"');
  const legacy = headers({ "X-Idempotency-Key": "mine" });
  assertEquals(policy.applyIdempotencyKey("POST", legacy), false);
  assertEquals(legacy.has("idempotency-key"), false);
});

Deno.test("RetryPolicy.applyIdempotencyKey() leaves other methods and a policy without the option alone", () => {
  const on = new RetryPolicy({ idempotencyKey: true });
  for (const method of ["GET", "PUT", "DELETE"]) {
    const h = headers();
    assertEquals(on.applyIdempotencyKey(method, h), false);
    assertEquals(h.has("idempotency-key"), false);
  }
  const off = new RetryPolicy();
  const h = headers();
  assertEquals(off.applyIdempotencyKey("POST", h), false);
  assertEquals(h.has("idempotency-key"), false);
});

// onRetry.

const EVENT: RetryEvent = {
  attempt: 1,
  nextAttempt: 2,
  reason: "status",
  delay: 150,
  method: "GET",
  url: `${ORIGIN}/path`,
  status: 503,
};

Deno.test("RetryPolicy.notify() calls onRetry with the event", () => {
  const seen: RetryEvent[] = [];
  const policy = new RetryPolicy({ onRetry: (event) => seen.push(event) });
  policy.notify(EVENT);
  assertEquals(seen.length, 1);
  assertStrictEquals(seen[0], EVENT);
});

Deno.test("RetryPolicy.notify() lets an error thrown by onRetry propagate unchanged", () => {
  const thrown = new Error("stop retrying");
  const policy = new RetryPolicy({
    onRetry: () => {
      throw thrown;
    },
  });
  const error = assertThrows(() => policy.notify(EVENT));
  assertStrictEquals(error, thrown);
});

Deno.test("RetryPolicy.notify() does nothing without onRetry", () => {
  new RetryPolicy().notify(EVENT);
});

// Options.

Deno.test("RetryPolicy() applies the documented defaults", () => {
  const policy = new RetryPolicy();
  assertEquals(policy.enabled, true);
  assertEquals(policy.maxAttempts, 3);
  assertEquals(policy.minDelay, 100);
  assertEquals(policy.maxDelay, 5000);
  assertEquals(policy.maxRetryAfter, 60_000);
  assertEquals(policy.statusCodes, []);
  assert(policy.retriesStatus(408));
  assert(!policy.retriesStatus(503));
  assertEquals(policy.idempotencyKey, false);
  assertEquals(policy.budgetRatio, 0.2);
  assertEquals(policy.budgetMinPerSecond, 10);
  assertEquals(new RetryPolicy({}).maxAttempts, 3);
});

Deno.test("RetryPolicy() copies the status list and leaves the options alone", () => {
  const statusCodes = [503];
  const options: RetryOptions = { statusCodes };
  const policy = new RetryPolicy(options);
  statusCodes.push(500);
  assertEquals(policy.statusCodes, [503]);
  assert(Object.isFrozen(policy.statusCodes));
  assertEquals(options, { statusCodes: [503, 500] });
});

Deno.test("RetryPolicy() rejects invalid options with the option's name and value", async (t) => {
  const prefix = "Cannot create client as";
  const cases: [string, unknown, ErrorConstructor, string][] = [
    [
      "retry",
      "yes",
      TypeError,
      `${prefix} 'retry' must be an object or false: current value is "yes"`,
    ],
    [
      "retry",
      null,
      TypeError,
      `${prefix} 'retry' must be an object or false: current value is null`,
    ],
    [
      "retry",
      true,
      TypeError,
      `${prefix} 'retry' must be an object or false: current value is true`,
    ],
    [
      "maxAttempts",
      { maxAttempts: 0 },
      RangeError,
      `${prefix} 'retry.maxAttempts' must be a positive integer: current value is 0`,
    ],
    [
      "maxAttempts",
      { maxAttempts: 2.5 },
      RangeError,
      `${prefix} 'retry.maxAttempts' must be a positive integer: current value is 2.5`,
    ],
    [
      "maxAttempts",
      { maxAttempts: "3" },
      TypeError,
      `${prefix} 'retry.maxAttempts' must be a positive integer: current value is "3"`,
    ],
    [
      "minDelay",
      { minDelay: -1 },
      RangeError,
      `${prefix} 'retry.minDelay' must be a non-negative finite number: current value is -1`,
    ],
    [
      "minDelay",
      { minDelay: NaN },
      RangeError,
      `${prefix} 'retry.minDelay' must be a non-negative finite number: current value is NaN`,
    ],
    [
      "minDelay",
      { minDelay: 6000 },
      RangeError,
      `${prefix} 'retry.minDelay' must be no greater than 'retry.maxDelay' (5000): current value is 6000`,
    ],
    [
      "maxDelay",
      { maxDelay: -5 },
      RangeError,
      `${prefix} 'retry.maxDelay' must be a number of milliseconds from 0 to 2147483647: current value is -5`,
    ],
    [
      "maxDelay",
      { maxDelay: 2 ** 31 },
      RangeError,
      `${prefix} 'retry.maxDelay' must be a number of milliseconds from 0 to 2147483647: current value is 2147483648`,
    ],
    [
      "maxRetryAfter",
      { maxRetryAfter: Infinity },
      RangeError,
      `${prefix} 'retry.maxRetryAfter' must be a number of milliseconds from 0 to 2147483647: current value is Infinity`,
    ],
    [
      "maxRetryAfter",
      { maxRetryAfter: null },
      TypeError,
      `${prefix} 'retry.maxRetryAfter' must be a number of milliseconds from 0 to 2147483647: current value is null`,
    ],
    [
      "statusCodes",
      { statusCodes: 503 },
      TypeError,
      `${prefix} 'retry.statusCodes' must be an array of status codes: current value is 503`,
    ],
    [
      "statusCodes",
      { statusCodes: [503, 200] },
      RangeError,
      `${prefix} 'retry.statusCodes[1]' must be an integer from 400 to 599: current value is 200`,
    ],
    [
      "statusCodes",
      { statusCodes: ["503"] },
      TypeError,
      `${prefix} 'retry.statusCodes[0]' must be an integer from 400 to 599: current value is "503"`,
    ],
    [
      "idempotencyKey",
      { idempotencyKey: "true" },
      TypeError,
      `${prefix} 'retry.idempotencyKey' must be a boolean: current value is "true"`,
    ],
    [
      "budgetRatio",
      { budgetRatio: -0.5 },
      RangeError,
      `${prefix} 'retry.budgetRatio' must be a non-negative finite number: current value is -0.5`,
    ],
    [
      "budgetMinPerSecond",
      { budgetMinPerSecond: Infinity },
      RangeError,
      `${prefix} 'retry.budgetMinPerSecond' must be a non-negative finite number: current value is Infinity`,
    ],
    [
      "onRetry",
      { onRetry: "log" },
      TypeError,
      `${prefix} 'retry.onRetry' must be a function: current value is "log"`,
    ],
    [
      "random",
      { random: 0.5 },
      TypeError,
      `${prefix} 'retry.random' must be a function: current value is 0.5`,
    ],
  ];
  for (const [name, options, ErrorClass, message] of cases) {
    await t.step(`${name}: ${Deno.inspect(options)}`, () => {
      const error = assertThrows(
        () => new RetryPolicy(options as RetryOptions),
        ErrorClass,
      );
      assertEquals(error.message, message);
    });
  }
});

Deno.test("RetryPolicy() accepts boundary values", () => {
  const policy = new RetryPolicy({
    maxAttempts: 1,
    minDelay: 0,
    maxDelay: 0,
    maxRetryAfter: 0,
    statusCodes: [],
    budgetRatio: 0,
    budgetMinPerSecond: 0,
    onRetry: undefined,
  });
  assertEquals(policy.maxAttempts, 1);
  assertEquals(policy.statusCodes, []);
});
