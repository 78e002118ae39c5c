// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Telemetry through the client: spans and metrics of real requests to
 * loopback servers, collected in memory through the OpenTelemetry SDK
 * (`tests/_telemetry_sdk.ts`), and the trace context as the server receives
 * it. Last, one run in a subprocess with `OTEL_DENO=true`, exporting to a
 * loopback OTLP receiver: the built-in `fetch` and ours request the same
 * URLs, and their spans are compared.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertExists,
  assertInstanceOf,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
  assertThrows,
} from "@std/assert";
import {
  context,
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { type AttemptRequest, sendWithRetries } from "../_attempts.ts";
import { NO_BODY } from "../_body.ts";
import type { DispatchRequest, DispatchResult } from "../_dispatch.ts";
import { RetryBudget } from "../_retry_budget.ts";
import { createTelemetry, SCOPE_NAME } from "../_telemetry.ts";
import { createClient, FetchError } from "../mod.ts";
import { RetryPolicy } from "../retry.ts";
import { type OtlpSpan, startOtlpReceiver } from "./_otlp_receiver.ts";
import { rawServer, waitFor } from "./_servers.ts";
import { type Point, valueOf, withSdk } from "./_telemetry_sdk.ts";

/** What a test server saw of one request. */
interface Seen {
  path: string;
  traceparent: string | null;
  tracestate: string | null;
  authorization: string | null;
}

/**
 * A `Deno.serve` server on 127.0.0.1 that records the trace fields of every
 * request and answers with `respond` (by default `200 ok`).
 */
function traceServer(
  respond: (url: URL, index: number) => Response | Promise<Response> = () =>
    new Response("ok"),
) {
  const seen: Seen[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const url = new URL(request.url);
      seen.push({
        path: url.pathname + url.search,
        traceparent: request.headers.get("traceparent"),
        tracestate: request.headers.get("tracestate"),
        authorization: request.headers.get("authorization"),
      });
      return respond(url, seen.length - 1);
    },
  );
  const port = server.addr.port;
  return {
    seen,
    port,
    origin: `http://127.0.0.1:${port}`,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

function traceparentOf(span: ReadableSpan): string {
  const { traceId, spanId } = span.spanContext();
  return `00-${traceId}-${spanId}-01`;
}

/** The points of one server's series (its port). */
function ofPort(points: Point[], port: number): Point[] {
  return points.filter((point) => point.attributes["server.port"] === port);
}

Deno.test("Client.fetch() makes a CLIENT span per request, a child of the active span, with the built-in fetch's attributes and ours", async () => {
  await using server = traceServer();
  await using client = createClient();
  await withSdk(async ({ spans }) => {
    const tracer = trace.getTracer("test");
    await tracer.startActiveSpan("parent", async (parent) => {
      for (let i = 0; i < 2; i++) {
        const res = await client.fetch(`${server.origin}/a/b?x=1`);
        assertEquals(await res.text(), "ok");
      }
      parent.end();
    });
    const [first, second, parent] = spans();
    assertEquals(parent.name, "parent");
    for (const span of [first, second]) {
      assertEquals(span.name, "GET");
      assertEquals(span.kind, SpanKind.CLIENT);
      assertEquals(span.instrumentationScope.name, SCOPE_NAME);
      assertEquals(
        span.parentSpanContext?.spanId,
        parent.spanContext().spanId,
      );
      assertEquals(span.spanContext().traceId, parent.spanContext().traceId);
      assertEquals(span.status.code, SpanStatusCode.UNSET);
    }
    assertEquals(first.attributes, {
      "http.request.method": "GET",
      "url.full": `${server.origin}/a/b?x=1`,
      "url.scheme": "http",
      "url.path": "/a/b",
      "url.query": "x=1",
      "server.address": "127.0.0.1",
      "server.port": server.port,
      "http.response.status_code": 200,
      "network.protocol.version": "1.1",
      "pooled_fetch.connection.reused": false,
      "pooled_fetch.pipeline.ahead": 0,
      // It waited while its connection was opened.
      "pooled_fetch.queue.wait_ms":
        first.attributes["pooled_fetch.queue.wait_ms"],
    });
    assert(Number(first.attributes["pooled_fetch.queue.wait_ms"]) >= 0);
    assertEquals(second.attributes["pooled_fetch.connection.reused"], true);
    assertEquals(second.attributes["http.request.resend_count"], undefined);
    // Each request carried its own span's traceparent, and no tracestate.
    assertEquals(server.seen.map((seen) => seen.traceparent), [
      traceparentOf(first),
      traceparentOf(second),
    ]);
    assertEquals(server.seen.map((seen) => seen.tracestate), [null, null]);
  });
});

Deno.test("Client.fetch() injects the parent's tracestate and leaves a traceparent the caller set alone", async () => {
  await using server = traceServer();
  await using client = createClient();
  await withSdk(async ({ spans }) => {
    const remote = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: "0af7651916cd43dd8448eb211c80319c",
      spanId: "b7ad6b7169203331",
      traceFlags: TraceFlags.SAMPLED,
      isRemote: true,
      traceState: createTraceState("vendor=abc"),
    });
    const mine = "00-11111111111111111111111111111111-2222222222222222-01";
    await context.with(remote, async () => {
      await (await client.fetch(`${server.origin}/injected`)).text();
      await (await client.fetch(`${server.origin}/mine`, {
        headers: { traceparent: mine },
      })).text();
    });
    const [injected, kept] = spans();
    assertEquals(
      injected.spanContext().traceId,
      "0af7651916cd43dd8448eb211c80319c",
    );
    assertEquals(injected.parentSpanContext?.spanId, "b7ad6b7169203331");
    assertEquals(server.seen[0].traceparent, traceparentOf(injected));
    assertEquals(server.seen[0].tracestate, "vendor=abc");
    // The caller's, once (the built-in fetch would append its own), and
    // nothing of ours beside it; the span is still recorded.
    assertEquals(server.seen[1].traceparent, mine);
    assertEquals(server.seen[1].tracestate, null);
    assertEquals(kept.attributes["url.path"], "/mine");
  });
});

Deno.test("Client.fetch() sends a plain GET with a traceparent only while OpenTelemetry is active", async () => {
  await using server = traceServer();
  await using client = createClient();
  const url = `${server.origin}/plain`;
  // The transport caches the bytes of a plain GET: the traced request must
  // not take them, nor leave its traceparent in them.
  await (await client.fetch(url)).text();
  await withSdk(async ({ spans }) => {
    await (await client.fetch(url)).text();
    assertEquals(server.seen[1].traceparent, traceparentOf(spans()[0]));
  });
  await (await client.fetch(url)).text();
  assertEquals(server.seen.map((seen) => seen.traceparent !== null), [
    false,
    true,
    false,
  ]);
});

Deno.test("Client.fetch() strips userinfo from url.full and sends it as Authorization", async () => {
  await using server = traceServer();
  await using client = createClient();
  await withSdk(async ({ spans }) => {
    const url = `http://user:secret@127.0.0.1:${server.port}/private`;
    await (await client.fetch(url)).text();
    assertEquals(spans()[0].attributes["url.full"], `${server.origin}/private`);
    assertEquals(server.seen[0].authorization, `Basic ${btoa("user:secret")}`);
  });
});

Deno.test("Client.fetch() makes a span per retry, with http.request.resend_count, the retry reason and a retry metric", async () => {
  await using server = traceServer((_url, index) =>
    new Response(index === 0 ? "busy" : "ok", {
      status: index === 0 ? 503 : 200,
    })
  );
  await using client = createClient({
    retry: { statusCodes: [503], minDelay: 0 },
  });
  await withSdk(async ({ spans, points }) => {
    const res = await client.fetch(`${server.origin}/retried`);
    assertEquals([res.status, await res.text()], [200, "ok"]);
    const [refused, retried] = spans();
    assertEquals(refused.attributes["http.response.status_code"], 503);
    assertEquals(refused.attributes["error.type"], "503");
    assertEquals(refused.status, { code: SpanStatusCode.ERROR });
    assertEquals(refused.attributes["http.request.resend_count"], undefined);
    assertEquals(retried.attributes["http.response.status_code"], 200);
    assertEquals(retried.attributes["http.request.resend_count"], 1);
    assertEquals(retried.attributes["pooled_fetch.retry.reason"], "status");
    assertEquals(retried.attributes["error.type"], undefined);
    // Each attempt carried its own traceparent.
    assertEquals(server.seen.map((seen) => seen.traceparent), [
      traceparentOf(refused),
      traceparentOf(retried),
    ]);
    assertEquals(
      ofPort(await points("pooled_fetch.retry.attempts"), server.port)
        .map((point) => [
          point.attributes["pooled_fetch.retry.reason"],
          point.value,
        ]),
      [["status", 1]],
    );
    const durations = ofPort(
      await points("http.client.request.duration"),
      server.port,
    );
    assertEquals(
      durations.map((point) => [
        point.attributes["http.response.status_code"],
        point.attributes["error.type"],
        point.count,
      ]),
      [[503, "503", 1], [200, undefined, 1]],
    );
  });
});

Deno.test("Client.fetch() makes a span per redirect hop, http.request.resend_count running over hops and retries", async () => {
  await using server = traceServer((url, index) => {
    if (url.pathname === "/start") {
      return new Response(null, {
        status: 302,
        headers: { location: "/next?hop=2" },
      });
    }
    return new Response("done", { status: index === 1 ? 503 : 200 });
  });
  await using client = createClient({
    retry: { statusCodes: [503], minDelay: 0 },
  });
  await withSdk(async ({ spans }) => {
    const tracer = trace.getTracer("test");
    await tracer.startActiveSpan("parent", async (parent) => {
      const res = await client.fetch(`${server.origin}/start`);
      assertEquals([res.status, res.redirected, await res.text()], [
        200,
        true,
        "done",
      ]);
      parent.end();
    });
    const [hop1, hop2, hop2retry, parent] = spans();
    assertEquals(
      [hop1, hop2, hop2retry].map((span) => [
        span.attributes["url.full"],
        span.attributes["http.response.status_code"],
        span.attributes["http.request.resend_count"],
        span.attributes["pooled_fetch.retry.reason"],
        span.parentSpanContext?.spanId,
      ]),
      [
        [
          `${server.origin}/start`,
          302,
          undefined,
          undefined,
          parent.spanContext().spanId,
        ],
        [
          `${server.origin}/next?hop=2`,
          503,
          1,
          undefined,
          parent.spanContext().spanId,
        ],
        [
          `${server.origin}/next?hop=2`,
          200,
          2,
          "status",
          parent.spanContext().spanId,
        ],
      ],
    );
    assertEquals(hop1.status.code, SpanStatusCode.UNSET);
    assertEquals(server.seen.map((seen) => seen.traceparent), [
      traceparentOf(hop1),
      traceparentOf(hop2),
      traceparentOf(hop2retry),
    ]);
  });
});

Deno.test("Client.fetch() ends a refused connection's spans with error.type from the FetchError code", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close(); // Nothing listens there any more.
  await using client = createClient({ retry: false });
  await withSdk(async ({ spans, points }) => {
    const error = await assertRejects(
      () => client.fetch(`http://127.0.0.1:${port}/`),
      FetchError,
    );
    assertEquals(error.code, "CONNECT_FAILED");
    // Never written, so sent again even with retry: false: 3 attempts.
    const attempts = spans();
    assertEquals(
      attempts.map((span) => [
        span.attributes["error.type"],
        span.attributes["http.request.resend_count"],
        span.attributes["pooled_fetch.retry.reason"],
        span.attributes["http.response.status_code"],
        span.status.code,
        span.events.map((event) => event.name),
      ]),
      [
        ["CONNECT_FAILED", undefined, undefined, undefined, 2, ["exception"]],
        ["CONNECT_FAILED", 1, "connect", undefined, 2, ["exception"]],
        ["CONNECT_FAILED", 2, "connect", undefined, 2, ["exception"]],
      ],
    );
    const [duration] = ofPort(
      await points("http.client.request.duration"),
      port,
    );
    assertEquals(duration.attributes["error.type"], "CONNECT_FAILED");
    assertEquals(duration.count, 3);
  });
});

Deno.test("Client.fetch() ends the span with error.type AbortError when the signal aborts while it waits for the head", async () => {
  let arrived!: () => void;
  const requestArrived = new Promise<void>((resolve) => arrived = resolve);
  await using server = rawServer(async (conn) => {
    await conn.readRequest();
    arrived();
    await conn.waitForClose(5000); // never answers
  });
  await using client = createClient();
  await withSdk(async ({ spans, points }) => {
    const controller = new AbortController();
    const pending = client.fetch(`${server.origin}/hang`, {
      signal: controller.signal,
    });
    await requestArrived;
    assertEquals(
      valueOf(
        ofPort(await points("http.client.active_requests"), server.port),
        { "http.request.method": "GET" },
      ),
      1,
    );
    controller.abort();
    const reason = await assertRejects(() => pending);
    assertInstanceOf(reason, DOMException);
    const [span] = spans();
    assertEquals(span.attributes["error.type"], "AbortError");
    assertEquals(span.attributes["http.response.status_code"], undefined);
    assertEquals(span.status.code, SpanStatusCode.ERROR);
    assertEquals(spans().length, 1); // An abort is never retried.
    assertEquals(
      valueOf(
        ofPort(await points("http.client.active_requests"), server.port),
        { "http.request.method": "GET" },
      ),
      0,
    );
  });
});

Deno.test("Client reports connections opened, active, idle and closed, and queue waits, back to 0 after close()", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  let arrived = 0;
  await using server = traceServer(async () => {
    arrived++;
    await gate;
    return new Response("slow");
  });
  await using client = createClient({ maxConnectionsPerOrigin: 2 });
  await withSdk(async ({ points }) => {
    const open = async () => {
      const got = ofPort(
        await points("http.client.open_connections"),
        server.port,
      );
      return {
        idle: valueOf(got, { "http.connection.state": "idle" }) ?? 0,
        active: valueOf(got, { "http.connection.state": "active" }) ?? 0,
      };
    };
    const queued = async () =>
      valueOf(
        ofPort(await points("pooled_fetch.queue.requests"), server.port),
        {},
      );
    const texts = Array.from(
      { length: 3 },
      async () => (await client.fetch(`${server.origin}/slow`)).text(),
    );
    // Two connections carry a request each; the third request waits.
    assert(await waitFor(() => arrived === 2), "two requests in flight");
    assertEquals(await open(), { idle: 0, active: 2 });
    assertEquals(await queued(), 1);
    assertEquals(
      valueOf(
        ofPort(await points("http.client.active_requests"), server.port),
        { "http.request.method": "GET" },
      ),
      3,
    );
    release();
    assertEquals(await Promise.all(texts), ["slow", "slow", "slow"]);
    assertEquals(await open(), { idle: 2, active: 0 });
    assertEquals(await queued(), 0);
    // All three waited: two while their connections were opened.
    const [wait] = ofPort(
      await points("pooled_fetch.queue.duration"),
      server.port,
    );
    assertEquals(wait.count, 3);
    assertEquals(
      ofPort(await points("http.client.connection.duration"), server.port),
      [],
    );
    await client.close();
    assertEquals(await open(), { idle: 0, active: 0 });
    const [lifetimes] = ofPort(
      await points("http.client.connection.duration"),
      server.port,
    );
    assertEquals(lifetimes.count, 2);
    assertEquals(lifetimes.attributes["network.protocol.version"], "1.1");
    assertEquals(client.stats().totals.connectionsOpened, 2);
  });
});

Deno.test("Client reports an idle connection it evicts, by reason", async () => {
  await using server = traceServer();
  await using client = createClient({ idleTimeout: 30 });
  await withSdk(async ({ points }) => {
    await (await client.fetch(`${server.origin}/`)).text();
    assert(
      await waitFor(() => client.stats().origins[0]?.open === 0),
      "the idle connection is evicted",
    );
    const evictions = ofPort(
      await points("pooled_fetch.connection.evictions"),
      server.port,
    );
    assertEquals(
      evictions.map((point) => [
        point.attributes["pooled_fetch.eviction.reason"],
        point.value,
      ]),
      [["idle_timeout", 1]],
    );
    const open = ofPort(
      await points("http.client.open_connections"),
      server.port,
    );
    assert(open.length > 0 && open.every((point) => point.value === 0));
  });
});

Deno.test("Client.fetch() reports a retry the budget refused", async () => {
  await using server = traceServer(() => new Response("busy", { status: 503 }));
  await using client = createClient({
    retry: {
      statusCodes: [503],
      minDelay: 0,
      budgetRatio: 0,
      budgetMinPerSecond: 0,
    },
  });
  await withSdk(async ({ spans, points }) => {
    const res = await client.fetch(`${server.origin}/`);
    assertEquals([res.status, await res.text()], [503, "busy"]);
    assertEquals(spans().length, 1);
    assertEquals(
      ofPort(await points("pooled_fetch.retry.refused"), server.port)
        .map((point) => [
          point.attributes["pooled_fetch.retry.reason"],
          point.value,
        ]),
      [["status", 1]],
    );
    assertEquals(client.stats().totals.retriesDenied, 1);
  });
});

Deno.test("createClient({ telemetry: false }) emits no span or metric and injects nothing, even with an SDK registered", async () => {
  await using server = traceServer((_url, index) =>
    new Response("x", { status: index === 0 ? 503 : 200 })
  );
  await using client = createClient({
    telemetry: false,
    retry: { statusCodes: [503], minDelay: 0 },
  });
  await withSdk(async ({ spans, points }) => {
    const res = await client.fetch(`${server.origin}/`);
    assertEquals([res.status, await res.text()], [200, "x"]);
    await client.close();
    assertEquals(spans(), []);
    assertEquals(server.seen.map((seen) => seen.traceparent), [null, null]);
    const names = [
      "http.client.request.duration",
      "http.client.active_requests",
      "http.client.open_connections",
      "http.client.connection.duration",
      "pooled_fetch.queue.requests",
      "pooled_fetch.retry.attempts",
    ];
    for (const name of names) {
      assertEquals(ofPort(await points(name), server.port), [], name);
    }
  });
});

Deno.test("createClient() checks that telemetry is a boolean", () => {
  assertThrows(
    () => createClient({ telemetry: "yes" as unknown as boolean }),
    TypeError,
    `Cannot create client as 'telemetry' must be a boolean: current value is "yes"`,
  );
});

Deno.test("sendWithRetries() hands the dispatcher the request itself while OpenTelemetry is inactive, and a traced copy while it is active", async () => {
  const dispatched: DispatchRequest[] = [];
  const result: DispatchResult = {
    status: 204,
    statusText: "",
    headers: [],
    contentEncoding: undefined,
    body: null,
    reused: false,
    protocol: "1.1",
    pipelinedAhead: 0,
    queueWait: 0,
  };
  const request: AttemptRequest = {
    method: "GET",
    url: new URL("http://127.0.0.1:8090/"),
    fields: [["accept", "*/*"]],
    host: undefined,
    body: NO_BODY,
    contentLength: null,
    plain: true,
    headers: null,
    signal: undefined,
  };
  const send = () =>
    sendWithRetries(request, {
      dispatcher: {
        dispatch(request) {
          dispatched.push(request);
          return Promise.resolve(result);
        },
      },
      policy: new RetryPolicy(),
      budget: new RetryBudget(),
      retries: { connect: 0, unsent: 0, stale: 0, network: 0, status: 0 },
      headersTimeout: 1000,
      bodyTimeout: 1000,
      telemetry: createTelemetry(),
    });
  await send();
  assertStrictEquals(dispatched[0], request);
  await withSdk(async ({ spans }) => {
    await send();
    const [span] = spans();
    assertNotEquals(dispatched[1], request);
    assertEquals(dispatched[1].plain, false);
    assertEquals(dispatched[1].fields, [
      ["accept", "*/*"],
      ["traceparent", traceparentOf(span)],
    ]);
  });
  // The request itself is untouched.
  assertEquals(request.plain, true);
  assertEquals(request.fields, [["accept", "*/*"]]);
});

// ---------------------------------------------------------------------------
// OTEL_DENO=true, in a subprocess

const importMap = new URL("../.ci/std_offline/import_map.json", import.meta.url)
  .pathname;

Deno.test("with OTEL_DENO=true the built-in fetch and Client.fetch() export spans of the same name, ours with every attribute of the built-in's", async () => {
  const seen = new Map<string, (string | null)[]>();
  await using target = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const agent = request.headers.get("user-agent") ?? "";
      const client = agent.startsWith("pooled-fetch") ? "ours" : "builtin";
      seen.set(client, [
        ...seen.get(client) ?? [],
        request.headers.get("traceparent"),
      ]);
      const missing = new URL(request.url).pathname === "/missing";
      return new Response(missing ? "no" : "ok", {
        status: missing ? 404 : 200,
      });
    },
  );
  await using receiver = startOtlpReceiver();
  const origin = `http://127.0.0.1:${target.addr.port}`;
  const urls = [`${origin}/path?q=1`, `${origin}/missing`];
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--import-map=${importMap}`,
      "--allow-net=127.0.0.1",
      new URL("_telemetry_child.ts", import.meta.url).pathname,
      ...urls,
    ],
    // Observable instruments are only read at periodic exports, not at exit.
    env: receiver.env({ OTEL_METRIC_EXPORT_INTERVAL: "100" }),
    stdout: "null",
    stderr: "piped",
  }).output();
  assertEquals(code, 0, new TextDecoder().decode(stderr));

  const spans = receiver.spans();
  const root = spans.find((span) => span.name === "e2e-root");
  assertExists(root);
  const builtins = spans.filter((span) => span.scope === "deno");
  const ours = spans.filter((span) => span.scope === SCOPE_NAME);
  assertEquals(builtins.length, 2);
  assertEquals(ours.length, 2);
  const byUrl = (list: OtlpSpan[], url: string) =>
    list.find((span) => span.attributes["url.full"] === url);

  for (const url of urls) {
    const builtin = byUrl(builtins, url);
    const mine = byUrl(ours, url);
    assertExists(builtin, url);
    assertExists(mine, url);
    // Same name, kind and parent.
    assertEquals(mine.name, builtin.name);
    assertEquals(mine.name, "GET");
    assertEquals(mine.kind, builtin.kind);
    assertEquals(mine.kind, 3); // OTLP SPAN_KIND_CLIENT
    assertEquals(builtin.parentSpanId, root.spanId);
    assertEquals(mine.parentSpanId, root.spanId);
    assertEquals(mine.traceId, builtin.traceId);
    assertEquals(mine.status.code, builtin.status.code);
    // Every key of the built-in's, with the same value; where ours is a
    // number (the status code), the same number.
    for (const [key, value] of Object.entries(builtin.attributes)) {
      assert(key in mine.attributes, `${url}: ours lacks ${key}`);
      const type = mine.attributeTypes[key];
      if (type === "intValue" || type === "doubleValue") {
        assertEquals(mine.attributes[key], Number(value), `${url}: ${key}`);
      } else {
        assertEquals(mine.attributes[key], value, `${url}: ${key}`);
      }
    }
    assert(
      ["intValue", "doubleValue"].includes(
        mine.attributeTypes["http.response.status_code"],
      ),
      "the status code is a number on ours",
    );
    assertEquals(mine.attributes["server.port"], target.addr.port);
    assertEquals(mine.attributes["network.protocol.version"], "1.1");
  }
  // What the built-in fetch emits on Deno 2.9, for the record.
  assertEquals(byUrl(builtins, urls[1])?.attributes["error.type"], "404");
  assertEquals(
    Object.keys(byUrl(builtins, urls[0])!.attributes).sort(),
    [
      "http.request.method",
      "http.response.status_code",
      "url.full",
      "url.path",
      "url.query",
      "url.scheme",
    ],
  );

  // Each request carried its own span's traceparent.
  const traceparent = (span: OtlpSpan | undefined) =>
    `00-${span?.traceId}-${span?.spanId}-01`;
  assertEquals(
    seen.get("builtin"),
    urls.map((url) => traceparent(byUrl(builtins, url))),
  );
  assertEquals(
    seen.get("ours"),
    urls.map((url) => traceparent(byUrl(ours, url))),
  );

  // Our metrics reached Deno's exporter through the API.
  const points = receiver.metricPoints().filter((point) =>
    point.scope === SCOPE_NAME
  );
  const durations = points.filter((point) =>
    point.name === "http.client.request.duration"
  );
  // Cumulative: each periodic export repeats the series.
  assertEquals(
    [
      ...new Set(
        durations.map((point) => point.attributes["http.response.status_code"]),
      ),
    ]
      .sort(),
    [200, 404],
  );
  const idle = points.filter((point) =>
    point.name === "http.client.open_connections" &&
    point.attributes["http.connection.state"] === "idle"
  );
  assert(idle.length > 0, "no export of http.client.open_connections");
  // Back to 0 once the client closed.
  assertEquals(idle.at(-1)?.value, 0);
  assertNotEquals(
    points.find((point) => point.name === "http.client.connection.duration"),
    undefined,
  );
});
