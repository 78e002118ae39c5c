// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The attempt loop against a fake dispatcher: no sockets. Each test scripts
 * what every attempt meets and checks what the loop sends, waits and
 * returns.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { FakeTime } from "@std/testing/time";
import {
  type AttemptContext,
  type AttemptRequest,
  sendWithRetries,
  wait,
} from "../_attempts.ts";
import { NO_BODY, type RequestBody } from "../_body.ts";
import type {
  Dispatcher,
  DispatchOptions,
  DispatchRequest,
  DispatchResult,
} from "../_dispatch.ts";
import { RetryBudget } from "../_retry_budget.ts";
import { FetchError, type FetchErrorStage } from "../errors.ts";
import { type RetryEvent, type RetryOptions, RetryPolicy } from "../retry.ts";

const ORIGIN = "http://127.0.0.1:8000";

/** What one attempt meets: a status, or a failure to throw. */
type Outcome =
  | number
  | {
    status: number;
    headers?: [string, string][];
    body?: DispatchResult["body"];
  }
  | FetchError
  | Error;

/** A dispatcher that plays a script, one outcome per attempt. */
class FakeDispatcher implements Dispatcher {
  calls: DispatchOptions[] = [];
  #script: Outcome[];

  constructor(script: Outcome[]) {
    this.#script = script;
  }

  dispatch(
    _request: DispatchRequest,
    options: DispatchOptions,
  ): Promise<DispatchResult> {
    this.calls.push(options);
    const outcome = this.#script.shift();
    if (outcome === undefined) throw new Error("the script ran out");
    if (outcome instanceof Error) return Promise.reject(outcome);
    const { status, headers = [], body = null } = typeof outcome === "number"
      ? { status: outcome }
      : outcome;
    return Promise.resolve({
      status,
      statusText: "",
      headers,
      contentEncoding: undefined,
      body,
      reused: false,
      protocol: "1.1",
      pipelinedAhead: 0,
      queueWait: 0,
    });
  }
}

function failure(stage: FetchErrorStage, reused = false): FetchError {
  return new FetchError(`${stage} failed`, {
    stage,
    code: stage === "connect" ? "CONNECT_FAILED" : "CONNECTION_CLOSED",
    origin: ORIGIN,
    reused,
  });
}

function request(
  method = "GET",
  init: { body?: RequestBody; signal?: AbortSignal; headers?: Headers } = {},
): AttemptRequest {
  return {
    method,
    url: new URL(`${ORIGIN}/path`),
    fields: [],
    host: undefined,
    body: init.body ?? NO_BODY,
    contentLength: null,
    plain: true,
    headers: init.headers ?? null,
    signal: init.signal,
  };
}

function context(
  dispatcher: Dispatcher,
  retry: RetryOptions | false = { random: () => 0 },
): AttemptContext & { events: RetryEvent[] } {
  const events: RetryEvent[] = [];
  const policy = new RetryPolicy(
    retry === false ? false : { ...retry, onRetry: (e) => events.push(e) },
  );
  return {
    dispatcher,
    policy,
    budget: new RetryBudget({ ratio: 0, minPerSecond: 1000 }),
    retries: { connect: 0, unsent: 0, stale: 0, network: 0, status: 0 },
    headersTimeout: 1000,
    bodyTimeout: 2000,
    events,
  };
}

Deno.test("sendWithRetries() returns the first response it is not told to retry", async () => {
  const dispatcher = new FakeDispatcher([503]);
  const result = await sendWithRetries(request(), context(dispatcher));
  assertEquals(result.status, 503);
  assertEquals(dispatcher.calls.length, 1);
  assertEquals(dispatcher.calls[0], {
    signal: undefined,
    pipelinable: true,
    freshConnection: false,
    headersTimeout: 1000,
    bodyTimeout: 2000,
  });
});

Deno.test("sendWithRetries() asks only idempotent requests with bodies in hand to be pipelined", async () => {
  const post = new FakeDispatcher([200]);
  await sendWithRetries(request("POST"), context(post));
  assertEquals(post.calls[0].pipelinable, false);
  const stream = new FakeDispatcher([200]);
  const body: RequestBody = {
    bytes: null,
    stream: new ReadableStream(),
    contentType: null,
    replayable: false,
  };
  await sendWithRetries(request("PUT", { body }), context(stream));
  assertEquals(stream.calls[0].pipelinable, false);
  await body.stream!.cancel();
});

Deno.test("sendWithRetries() sends a request that was never written again at once, even with retry: false", async () => {
  const dispatcher = new FakeDispatcher([
    failure("connect"),
    failure("unsent", true),
    200,
  ]);
  const ctx = context(dispatcher, false);
  const result = await sendWithRetries(request("POST"), ctx);
  assertEquals(result.status, 200);
  assertEquals(dispatcher.calls.map((c) => c.freshConnection), [
    false,
    false,
    true,
  ]);
  assertEquals(ctx.retries.connect, 1);
  assertEquals(ctx.retries.unsent, 1);
});

Deno.test("sendWithRetries() replays a never-written stream body, which was not read", async () => {
  const body: RequestBody = {
    bytes: null,
    stream: new ReadableStream(),
    contentType: null,
    replayable: false,
  };
  const dispatcher = new FakeDispatcher([failure("unsent", true), 200]);
  const result = await sendWithRetries(
    request("PUT", { body }),
    context(dispatcher),
  );
  assertEquals(result.status, 200);
  const sent = new FakeDispatcher([failure("sent", true)]);
  const error = await assertRejects(
    () => sendWithRetries(request("PUT", { body }), context(sent)),
    FetchError,
  );
  assertEquals(error.stage, "sent");
  assertEquals(sent.calls.length, 1);
  await body.stream!.cancel();
});

Deno.test("sendWithRetries() sends a GET again on a fresh connection after a stale one", async () => {
  const dispatcher = new FakeDispatcher([failure("sent", true), 200]);
  const ctx = context(dispatcher);
  await sendWithRetries(request(), ctx);
  assertEquals(dispatcher.calls.map((c) => c.freshConnection), [false, true]);
  assertEquals(ctx.retries.stale, 1);
  assertEquals(ctx.events.map((e) => [e.reason, e.delay, e.attempt]), [
    ["stale", 0, 1],
  ]);
});

Deno.test("sendWithRetries() never sends a POST again once it was written", async () => {
  const dispatcher = new FakeDispatcher([failure("sent", true)]);
  const error = await assertRejects(
    () => sendWithRetries(request("POST"), context(dispatcher)),
    FetchError,
  );
  assertEquals(dispatcher.calls.length, 1);
  assertEquals(error.attempts, 1);
  assertEquals(error.message, `Fetch to ${ORIGIN} failed: sent failed`);
});

Deno.test("sendWithRetries() sends a 408 again at once on a fresh connection and drops its body", async () => {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      controller.enqueue(new Uint8Array(64 * 1024 + 1));
    },
    cancel() {
      cancelled = true;
    },
  });
  const dispatcher = new FakeDispatcher([{ status: 408, body }, 200]);
  const ctx = context(dispatcher);
  const result = await sendWithRetries(request(), ctx);
  assertEquals(result.status, 200);
  assertEquals(dispatcher.calls.map((c) => c.freshConnection), [false, true]);
  assertEquals(ctx.retries.status, 1);
  for (let i = 0; i < 10 && !cancelled; i++) await Promise.resolve();
  assert(cancelled, "a large unwanted body is cancelled");
});

Deno.test("sendWithRetries() waits the backoff before a status retry, and the signal cuts the wait short", async () => {
  using time = new FakeTime(0);
  const dispatcher = new FakeDispatcher([503, 503, 200]);
  const ctx = context(dispatcher, {
    statusCodes: [503],
    minDelay: 100,
    random: () => 1,
  });
  const sent = sendWithRetries(request(), ctx);
  await time.tickAsync(0);
  assertEquals(dispatcher.calls.length, 1);
  await time.tickAsync(199);
  assertEquals(dispatcher.calls.length, 1);
  await time.tickAsync(1);
  assertEquals(dispatcher.calls.length, 2);
  await time.tickAsync(400);
  assertEquals((await sent).status, 200);
  assertEquals(ctx.events.map((e) => [e.status, e.delay]), [
    [503, 200],
    [503, 400],
  ]);

  const controller = new AbortController();
  const aborted = sendWithRetries(
    request("GET", { signal: controller.signal }),
    context(new FakeDispatcher([503, 200]), { statusCodes: [503] }),
  );
  await time.tickAsync(10);
  const reason = new Error("stop");
  controller.abort(reason);
  const error = await assertRejects(() => aborted);
  assertStrictEquals(error, reason);
});

Deno.test("sendWithRetries() gives up saying how many attempts were made", async () => {
  const last = failure("sent");
  const dispatcher = new FakeDispatcher([
    failure("sent"),
    failure("sent"),
    last,
  ]);
  const error = await assertRejects(
    () => sendWithRetries(request(), context(dispatcher, { minDelay: 0 })),
    FetchError,
  );
  assertInstanceOf(error, TypeError);
  assertEquals(error.name, "TypeError");
  assertEquals(
    error.message,
    `Fetch to ${ORIGIN} failed: sent failed (gave up after 3 attempts)`,
  );
  assertEquals([error.attempts, error.stage, error.code], [
    3,
    "sent",
    "CONNECTION_CLOSED",
  ]);
  assertStrictEquals(error.cause, last.cause);
});

Deno.test("sendWithRetries() never sends again after a malformed response or an abort", async () => {
  const malformed = new FetchError("malformed response: bad status line", {
    stage: "response",
    code: "MALFORMED_RESPONSE",
    origin: ORIGIN,
  });
  const dispatcher = new FakeDispatcher([malformed]);
  const error = await assertRejects(() =>
    sendWithRetries(request(), context(dispatcher))
  );
  assertStrictEquals(error, malformed);

  const controller = new AbortController();
  const reason = new DOMException("gone", "AbortError");
  controller.abort(reason);
  const aborted = new FakeDispatcher([reason]);
  const caught = await assertRejects(() =>
    sendWithRetries(
      request("GET", { signal: controller.signal }),
      context(aborted),
    )
  );
  assertStrictEquals(caught, reason);
  assertEquals(aborted.calls.length, 1);
});

Deno.test("sendWithRetries() deposits in the budget once per request, not per attempt", async () => {
  const dispatcher = new FakeDispatcher([failure("connect"), 200]);
  const ctx = context(dispatcher);
  ctx.budget = new RetryBudget({ ratio: 1, minPerSecond: 0 });
  await sendWithRetries(request(), ctx);
  assertEquals(ctx.budget.balance, 1);
});

Deno.test("sendWithRetries() stops when the budget refuses, and the refusal is counted", async () => {
  const dispatcher = new FakeDispatcher([failure("sent", true)]);
  const ctx = context(dispatcher);
  ctx.budget = new RetryBudget({ ratio: 0, minPerSecond: 0 });
  await assertRejects(() => sendWithRetries(request(), ctx), FetchError);
  assertEquals(ctx.budget.refused, 1);
  assertEquals(dispatcher.calls.length, 1);
});

Deno.test("sendWithRetries() rejects with what onRetry throws, and sends nothing more", async () => {
  const thrown = new Error("no more");
  const dispatcher = new FakeDispatcher([failure("connect"), 200]);
  const ctx = context(dispatcher);
  ctx.policy = new RetryPolicy({
    onRetry() {
      throw thrown;
    },
  });
  const error = await assertRejects(() => sendWithRetries(request(), ctx));
  assertStrictEquals(error, thrown);
  assertEquals(dispatcher.calls.length, 1);
});

// wait()

Deno.test("wait() resolves after the delay", async () => {
  using time = new FakeTime(0);
  let done = false;
  const waiting = wait(1000).then(() => {
    done = true;
  });
  await time.tickAsync(999);
  assertEquals(done, false);
  await time.tickAsync(1);
  await waiting;
  assertEquals(done, true);
});

Deno.test("wait() rejects with the abort reason unchanged, at once for an aborted signal", async () => {
  using time = new FakeTime(0);
  const controller = new AbortController();
  const reason = { why: "not an Error" };
  const waiting = wait(60_000, controller.signal);
  await time.tickAsync(10);
  controller.abort(reason);
  assertStrictEquals(await waiting.catch((e) => e), reason);
  const early = new Error("already");
  assertStrictEquals(
    await wait(600_000, AbortSignal.abort(early)).catch((e) => e),
    early,
  );
});

Deno.test("wait() clears its timer on abort and removes its listener when done", async () => {
  // No FakeTime: the sanitizers show a timer left armed.
  const controller = new AbortController();
  const waiting = wait(600_000, controller.signal);
  controller.abort();
  await assertRejects(() => waiting);

  const signal = new AbortController().signal;
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  };
  await wait(1, signal);
  assertEquals(listeners, 0);
});
