// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Tests of `_telemetry.ts` driven directly, as the attempt loop and the pool
 * drive it: spans and metrics collected in memory through the OpenTelemetry
 * SDK, plus a subprocess run where the application pins its own copy of the
 * API. Through the client, and with `OTEL_DENO=true`: see
 * tests/telemetry_client_test.ts.
 *
 * @module
 */

import {
  assert,
  assertEquals,
  assertExists,
  assertNotEquals,
  assertStrictEquals,
} from "@std/assert";
import {
  context,
  createTraceState,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
} from "@opentelemetry/api";
import {
  CompositePropagator,
  W3CTraceContextPropagator,
} from "@opentelemetry/core";
import {
  createTelemetry,
  errorType,
  type Field,
  NOOP_TELEMETRY,
  OVERFLOW_ADDRESS,
  SCOPE_NAME,
  type TracedRequest,
  type TracedResponse,
} from "../_telemetry.ts";
import { FetchError } from "../errors.ts";
import { valueOf, withSdk } from "./_telemetry_sdk.ts";

const ORIGIN = "http://127.0.0.1:8080";

/** A request as the attempt loop hands it over. */
function req(
  url: string | URL,
  method = "GET",
  fields: readonly Field[] = [],
): TracedRequest {
  return { method, url: new URL(url), fields };
}

/** A response head as the transport reports it. */
function head(
  status: number,
  more: Partial<TracedResponse> = {},
): TracedResponse {
  return {
    status,
    protocol: "1.1",
    reused: false,
    pipelinedAhead: 0,
    queueWait: 0,
    ...more,
  };
}

Deno.test("Telemetry.startRequest() makes a CLIENT span named by the method with the built-in fetch's attributes", async () => {
  await withSdk(({ spans }) => {
    const telemetry = createTelemetry();
    const request = telemetry.startRequest(
      req("http://user:secret@127.0.0.1:8080/a/b?x=1&y=2#frag"),
      0,
      undefined,
    );
    request.end(
      head(200, { reused: true, pipelinedAhead: 2, queueWait: 1.5 }),
    );
    const [span] = spans();
    assertEquals(span.name, "GET");
    assertEquals(span.kind, SpanKind.CLIENT);
    assertEquals(span.instrumentationScope.name, SCOPE_NAME);
    assertEquals(span.attributes, {
      "http.request.method": "GET",
      "url.full": "http://127.0.0.1:8080/a/b?x=1&y=2#frag",
      "url.scheme": "http",
      "url.path": "/a/b",
      "url.query": "x=1&y=2",
      "server.address": "127.0.0.1",
      "server.port": 8080,
      "http.response.status_code": 200,
      "network.protocol.version": "1.1",
      "pooled_fetch.connection.reused": true,
      "pooled_fetch.pipeline.ahead": 2,
      "pooled_fetch.queue.wait_ms": 1.5,
    });
    assertEquals(span.status.code, SpanStatusCode.UNSET);
    assertEquals(span.events, []);
  });
});

Deno.test("Telemetry.startRequest() takes the scheme's default port, an empty query and an IPv6 address without brackets", async () => {
  await withSdk(({ spans }) => {
    const telemetry = createTelemetry();
    for (const url of ["https://example.com/", "http://[::1]/x"]) {
      telemetry.startRequest(req(url), 0, undefined).end(head(204));
    }
    const [https, ipv6] = spans();
    assertEquals(https.attributes["server.address"], "example.com");
    assertEquals(https.attributes["server.port"], 443);
    assertEquals(https.attributes["url.query"], "");
    assertEquals(https.attributes["url.scheme"], "https");
    assertEquals(ipv6.attributes["server.address"], "::1");
    assertEquals(ipv6.attributes["server.port"], 80);
    assertEquals(ipv6.attributes["url.full"], "http://[::1]/x");
  });
});

Deno.test("Telemetry.startRequest() makes each attempt a child of the active span, and a root span outside one", async () => {
  await withSdk(async ({ spans }) => {
    const telemetry = createTelemetry();
    const request = req(`${ORIGIN}/`);
    const tracer = trace.getTracer("test");
    await tracer.startActiveSpan("parent", async (parent) => {
      for (let attempt = 0; attempt < 2; attempt++) {
        await Promise.resolve();
        telemetry.startRequest(
          request,
          attempt,
          attempt === 0 ? undefined : "status",
        ).end(head(503));
      }
      parent.end();
    });
    telemetry.startRequest(request, 0, undefined).end(head(200));
    const [first, second, parent, root] = spans();
    assertEquals(parent.name, "parent");
    const parentId = parent.spanContext().spanId;
    assertEquals(first.parentSpanContext?.spanId, parentId);
    assertEquals(second.parentSpanContext?.spanId, parentId);
    assertEquals(first.spanContext().traceId, parent.spanContext().traceId);
    assertEquals(first.attributes["http.request.resend_count"], undefined);
    assertEquals(first.attributes["pooled_fetch.retry.reason"], undefined);
    assertEquals(second.attributes["http.request.resend_count"], 1);
    assertEquals(second.attributes["pooled_fetch.retry.reason"], "status");
    assertEquals(root.parentSpanContext, undefined);
    assertNotEquals(root.spanContext().traceId, parent.spanContext().traceId);
  });
});

const REMOTE_PARENT = {
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
  traceFlags: TraceFlags.SAMPLED,
  isRemote: true,
  traceState: createTraceState("vendor=abc"),
};

Deno.test("Telemetry.startRequest() injects traceparent and tracestate into a copy of the fields", async () => {
  await withSdk(({ spans }) => {
    const fields: Field[] = [["accept", "text/plain"]];
    const request = req(`${ORIGIN}/`, "GET", fields);
    const span = context.with(
      trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT),
      () => createTelemetry().startRequest(request, 0, undefined),
    );
    span.end(head(200));
    const [ended] = spans();
    assertEquals(ended.parentSpanContext?.spanId, "b7ad6b7169203331");
    assertEquals(span.fields, [
      ["accept", "text/plain"],
      [
        "traceparent",
        `00-0af7651916cd43dd8448eb211c80319c-${ended.spanContext().spanId}-01`,
      ],
      ["tracestate", "vendor=abc"],
    ]);
    // The request itself is left as it was: a retry or a redirect hop
    // starts from it again, with no trace context of ours on it.
    assertEquals(fields, [["accept", "text/plain"]]);
    assertStrictEquals(request.fields, fields);
  });
});

Deno.test("Telemetry.startRequest() leaves a traceparent the caller set alone and injects nothing", async () => {
  await withSdk(({ spans }) => {
    const traceparent =
      "00-11111111111111111111111111111111-2222222222222222-01";
    const span = context.with(
      trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT),
      () =>
        createTelemetry().startRequest(
          req(`${ORIGIN}/`, "GET", [["traceparent", traceparent]]),
          0,
          undefined,
        ),
    );
    span.end(head(200));
    // Not even the tracestate that would go with our own traceparent.
    assertEquals(span.fields, undefined);
    assertEquals(spans().length, 1);
  });
});

Deno.test("Telemetry.startRequest() never replaces a field the caller set and drops what a propagator sets badly", async () => {
  await withSdk(({ spans }) => {
    propagation.disable(); // withSdk's: replaced by one with a vendor's own
    propagation.setGlobalPropagator(
      new CompositePropagator({
        propagators: [
          new W3CTraceContextPropagator(),
          {
            inject(_context, carrier, setter) {
              setter.set(carrier, "X-Vendor-Id", "v1");
              setter.set(carrier, "x-smuggle", "a\r\nb: c");
              setter.set(carrier, "bad name", "x");
            },
            extract: (ctx) => ctx,
            fields: () => ["x-vendor-id", "x-smuggle", "bad name"],
          },
        ],
      }),
    );
    const span = context.with(
      trace.setSpanContext(ROOT_CONTEXT, REMOTE_PARENT),
      () =>
        createTelemetry().startRequest(
          req(`${ORIGIN}/`, "GET", [["tracestate", "mine=1"]]),
          0,
          undefined,
        ),
    );
    span.end(head(200));
    assertEquals(span.fields, [
      ["tracestate", "mine=1"],
      [
        "traceparent",
        `00-0af7651916cd43dd8448eb211c80319c-${
          spans()[0].spanContext().spanId
        }-01`,
      ],
      ["x-vendor-id", "v1"],
    ]);
  });
});

Deno.test("Telemetry.startRequest() gives each attempt of the same request its own traceparent", async () => {
  await withSdk(({ spans }) => {
    const telemetry = createTelemetry();
    const request = req(`${ORIGIN}/`, "PUT");
    const one = telemetry.startRequest(request, 0, undefined);
    one.end(undefined, new FetchError("reset", fetchErrorInit));
    const two = telemetry.startRequest(request, 1, "stale");
    two.end(head(201));
    const [first, second] = spans();
    const traceparents = [one, two].map((span) =>
      span.fields?.filter(([name]) => name === "traceparent")
    );
    assertEquals(traceparents, [
      [[
        "traceparent",
        `00-${first.spanContext().traceId}-${first.spanContext().spanId}-01`,
      ]],
      [[
        "traceparent",
        `00-${second.spanContext().traceId}-${second.spanContext().spanId}-01`,
      ]],
    ]);
    assertEquals(request.fields, []);
    assertEquals(second.attributes["http.request.resend_count"], 1);
    assertEquals(second.attributes["pooled_fetch.retry.reason"], "stale");
  });
});

const fetchErrorInit = {
  stage: "sent",
  code: "CONNECTION_CLOSED",
  origin: ORIGIN,
} as const;

Deno.test("RequestTelemetry.end() takes error.type from a FetchError's code and records the exception", async () => {
  await withSdk(({ spans }) => {
    const error = new FetchError("connection refused", {
      stage: "connect",
      code: "CONNECT_FAILED",
      origin: ORIGIN,
    });
    createTelemetry().startRequest(req(`${ORIGIN}/`), 0, undefined)
      .end(undefined, error);
    const [span] = spans();
    assertEquals(span.attributes["error.type"], "CONNECT_FAILED");
    assertEquals(span.attributes["http.response.status_code"], undefined);
    assertEquals(span.attributes["network.protocol.version"], undefined);
    assertEquals(span.status, {
      code: SpanStatusCode.ERROR,
      message: `Fetch to ${ORIGIN} failed: connection refused`,
    });
    assertEquals(span.events.length, 1);
    assertEquals(span.events[0].name, "exception");
    assertEquals(
      span.events[0].attributes?.["exception.type"],
      "CONNECT_FAILED",
    );
  });
});

Deno.test("RequestTelemetry.end() sets status Error for 4xx and 5xx only, without a description", async () => {
  await withSdk(({ spans }) => {
    const telemetry = createTelemetry();
    const statuses = [101, 200, 304, 399, 400, 404, 500, 503, 600];
    for (const status of statuses) {
      telemetry.startRequest(req(`${ORIGIN}/`), 0, undefined).end(
        head(status),
      );
    }
    const got = spans().map((span) => [
      span.attributes["http.response.status_code"],
      span.status.code,
      span.status.message,
      span.attributes["error.type"],
    ]);
    const { ERROR, UNSET } = SpanStatusCode;
    assertEquals(got, [
      [101, UNSET, undefined, undefined],
      [200, UNSET, undefined, undefined],
      [304, UNSET, undefined, undefined],
      [399, UNSET, undefined, undefined],
      [400, ERROR, undefined, "400"],
      [404, ERROR, undefined, "404"],
      [500, ERROR, undefined, "500"],
      [503, ERROR, undefined, "503"],
      [600, ERROR, undefined, "600"],
    ]);
  });
});

Deno.test("errorType() names an abort, a timeout, a plain error and a thrown non-error", () => {
  const abort = new AbortController();
  abort.abort();
  assertEquals(errorType(abort.signal.reason), "AbortError");
  assertEquals(
    errorType(new DOMException("late", "TimeoutError")),
    "TimeoutError",
  );
  assertEquals(errorType(new TypeError("x")), "TypeError");
  assertEquals(
    errorType(new FetchError("x", fetchErrorInit)),
    "CONNECTION_CLOSED",
  );
  assertEquals(errorType("stop"), "_OTHER");
  assertEquals(errorType(undefined), "_OTHER");
});

Deno.test("RequestTelemetry.end() records an abort reason that is not an error", async () => {
  await withSdk(({ spans }) => {
    createTelemetry().startRequest(req(`${ORIGIN}/`), 0, undefined)
      .end(undefined, "user left");
    const [span] = spans();
    assertEquals(span.attributes["error.type"], "_OTHER");
    assertEquals(span.status, { code: SpanStatusCode.ERROR });
    assertEquals(span.events[0].attributes?.["exception.message"], "user left");
  });
});

Deno.test("RequestTelemetry.end() records http.client.request.duration and active_requests, with _OTHER for unknown methods", async () => {
  await withSdk(async ({ spans, points }) => {
    const telemetry = createTelemetry();
    const get = telemetry.startRequest(req(`${ORIGIN}/`), 0, undefined);
    const purge = telemetry.startRequest(
      req(`${ORIGIN}/`, "PURGE"),
      0,
      undefined,
    );
    assertEquals(
      valueOf(await points("http.client.active_requests"), {
        "http.request.method": "GET",
        "server.port": 8080,
      }),
      1,
    );
    get.end(head(200, { pipelinedAhead: 1 }));
    get.end(head(500)); // a second end() is ignored
    purge.end(head(404));

    const active = await points("http.client.active_requests");
    const here = { "server.address": "127.0.0.1", "server.port": 8080 };
    assertEquals(
      valueOf(active, { ...here, "http.request.method": "GET" }),
      0,
    );
    assertEquals(
      valueOf(active, { ...here, "http.request.method": "_OTHER" }),
      0,
    );
    const durations = await points("http.client.request.duration");
    assertEquals(durations.map((point) => point.attributes), [
      {
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": 8080,
        "http.response.status_code": 200,
        "network.protocol.version": "1.1",
      },
      {
        "http.request.method": "_OTHER",
        "server.address": "127.0.0.1",
        "server.port": 8080,
        "http.response.status_code": 404,
        "network.protocol.version": "1.1",
        "error.type": "404",
      },
    ]);
    assert(durations.every((point) => point.count === 1 && point.sum! >= 0));
    assertEquals(await points("pooled_fetch.request.pipelined"), [
      {
        attributes: { "server.address": "127.0.0.1", "server.port": 8080 },
        value: 1,
      },
    ]);
    assertEquals(spans()[1].name, "PURGE");
    assertEquals(spans()[1].attributes["http.request.method"], "PURGE");
  });
});

Deno.test("PoolTelemetry reports open connections through opened, active, idle and closed, back to 0", async () => {
  await withSdk(async ({ points }) => {
    const pool = createTelemetry().pool("http://127.0.0.1:8081");
    const here = { "server.port": 8081, "network.protocol.version": "1.1" };
    const open = async () => {
      const got = await points("http.client.open_connections");
      return {
        idle: valueOf(got, { ...here, "http.connection.state": "idle" }),
        active: valueOf(got, { ...here, "http.connection.state": "active" }),
      };
    };
    const a = pool.connectionOpened("1.1", "active");
    const b = pool.connectionOpened("1.1");
    assertEquals(await open(), { idle: 1, active: 1 });
    b.active();
    b.active(); // no change
    assertEquals(await open(), { idle: 0, active: 2 });
    a.idle();
    b.idle();
    assertEquals(await open(), { idle: 2, active: 0 });
    a.closed();
    b.active();
    b.closed();
    b.closed(); // no change
    b.idle(); // after close: no change
    assertEquals(await open(), { idle: 0, active: 0 });

    const series = (await points("http.client.open_connections"))
      .filter((point) => point.attributes["server.port"] === 8081);
    assertEquals(series.map((point) => point.attributes), [
      {
        "server.address": "127.0.0.1",
        "server.port": 8081,
        "http.connection.state": "idle",
        "network.protocol.version": "1.1",
      },
      {
        "server.address": "127.0.0.1",
        "server.port": 8081,
        "http.connection.state": "active",
        "network.protocol.version": "1.1",
      },
    ]);
    const durations = await points("http.client.connection.duration");
    assertEquals(durations.length, 1);
    assertEquals(durations[0].count, 2);
  });
});

Deno.test("PoolTelemetry reports queue wait, queued requests, evictions, retries and refused retries", async () => {
  await withSdk(async ({ points }) => {
    const telemetry = createTelemetry();
    const pool = telemetry.pool("http://127.0.0.1:8082");
    const server = { "server.address": "127.0.0.1", "server.port": 8082 };
    pool.queued();
    pool.queued();
    assertEquals(
      valueOf(await points("pooled_fetch.queue.requests"), server),
      2,
    );
    pool.dequeued(250);
    pool.dequeued(750);
    assertEquals(
      valueOf(await points("pooled_fetch.queue.requests"), server),
      0,
    );
    const [wait] = await points("pooled_fetch.queue.duration");
    assertEquals([wait.count, wait.sum], [2, 1]);

    pool.evicted("idleTimeout");
    pool.evicted("idleTimeout");
    pool.evicted("serverClosed");
    pool.evicted("maxConnectionAge");
    const evictions = await points("pooled_fetch.connection.evictions");
    assertEquals(
      valueOf(evictions, { "pooled_fetch.eviction.reason": "idle_timeout" }),
      2,
    );
    assertEquals(
      valueOf(evictions, { "pooled_fetch.eviction.reason": "server_closed" }),
      1,
    );
    assertEquals(
      valueOf(evictions, {
        "pooled_fetch.eviction.reason": "max_connection_age",
      }),
      1,
    );

    const url = new URL("http://127.0.0.1:8082/");
    telemetry.startRequest(req(url), 1, "network").end(head(200));
    telemetry.retryRefused(url, "network");
    assertEquals(await points("pooled_fetch.retry.attempts"), [
      {
        attributes: { ...server, "pooled_fetch.retry.reason": "network" },
        value: 1,
      },
    ]);
    assertEquals(await points("pooled_fetch.retry.refused"), [
      {
        attributes: { ...server, "pooled_fetch.retry.reason": "network" },
        value: 1,
      },
    ]);
  });
});

Deno.test("PoolTelemetry counts connections opened before an SDK was registered, so the SDK sees them and the count ends at 0", async () => {
  const pool = createTelemetry().pool("http://127.0.0.1:8083");
  const a = pool.connectionOpened("1.1", "active");
  const b = pool.connectionOpened("2");
  pool.queued();
  await withSdk(async ({ points }) => {
    const here = { "server.port": 8083 };
    const c = pool.connectionOpened("1.1"); // the first event after it
    c.closed();
    let open = await points("http.client.open_connections");
    assertEquals(
      valueOf(open, {
        ...here,
        "http.connection.state": "active",
        "network.protocol.version": "1.1",
      }),
      1,
    );
    assertEquals(
      valueOf(open, {
        ...here,
        "http.connection.state": "idle",
        "network.protocol.version": "2",
      }),
      1,
    );
    assertEquals(valueOf(await points("pooled_fetch.queue.requests"), here), 1);
    a.idle();
    a.closed();
    b.closed();
    pool.dequeued(1);
    open = await points("http.client.open_connections");
    const mine = open.filter((point) =>
      point.attributes["server.port"] === 8083
    );
    assertEquals(mine.length, 3); // idle 1.1, idle 2, active 1.1
    assert(mine.every((point) => point.value === 0));
    assertEquals(valueOf(await points("pooled_fetch.queue.requests"), here), 0);
  });
});

Deno.test("createTelemetry() folds metric series past maxServerAddresses into server.address _OTHER", async () => {
  await withSdk(async ({ spans, points }) => {
    const telemetry = createTelemetry({ maxServerAddresses: 2 });
    const hosts = ["a.test", "b.test", "c.test", "d.test", "a.test"];
    for (const host of hosts) {
      telemetry.startRequest(req(`http://${host}/`), 0, undefined)
        .end(head(200));
    }
    telemetry.pool("http://e.test").connectionOpened().closed();
    const durations = await points("http.client.request.duration");
    assertEquals(
      durations.map((point) => [
        point.attributes["server.address"],
        point.attributes["server.port"],
        point.count,
      ]),
      [["a.test", 80, 2], ["b.test", 80, 1], [OVERFLOW_ADDRESS, undefined, 2]],
    );
    const [connection] = await points("http.client.connection.duration");
    assertEquals(connection.attributes["server.address"], OVERFLOW_ADDRESS);
    // Spans keep the real address.
    assertEquals(spans()[3].attributes["server.address"], "d.test");
  });
});

Deno.test("NOOP_TELEMETRY (telemetry: false) emits nothing and leaves headers alone, even with an SDK registered", async () => {
  await withSdk(async ({ spans, points }) => {
    const telemetry = createTelemetry({ enabled: false });
    assertStrictEquals(telemetry, NOOP_TELEMETRY);
    const origin = "http://127.0.0.1:8084";
    const span = telemetry.startRequest(req(`${origin}/`), 0, undefined);
    span.end(head(500));
    const pool = telemetry.pool(origin);
    pool.connectionOpened().closed();
    pool.queued();
    pool.dequeued(1);
    pool.evicted("maxRequests");
    telemetry.retryRefused(new URL(`${origin}/`), "status");
    assertEquals(span.fields, undefined);
    assertEquals(spans(), []);
    const names = [
      "http.client.request.duration",
      "http.client.active_requests",
      "http.client.open_connections",
      "http.client.connection.duration",
      "pooled_fetch.queue.requests",
      "pooled_fetch.queue.duration",
      "pooled_fetch.connection.evictions",
      "pooled_fetch.retry.refused",
    ];
    for (const name of names) {
      const mine = (await points(name)).filter((point) =>
        point.attributes["server.port"] === 8084
      );
      assertEquals(mine, [], name);
    }
  });
});

Deno.test("createTelemetry() returns shared no-op handles while no provider is registered, and follows one registered later", async () => {
  const telemetry = createTelemetry();
  const request = req(`${ORIGIN}/`);
  const first = telemetry.startRequest(request, 0, undefined);
  const second = telemetry.startRequest(request, 1, "stale");
  assertStrictEquals(first, second);
  assertEquals(first.fields, undefined);
  first.end(head(200));
  await withSdk(({ spans }) => {
    const span = telemetry.startRequest(request, 0, undefined);
    span.end(head(200));
    assertEquals(spans().length, 1);
    assertExists(span.fields?.find(([name]) => name === "traceparent"));
  });
  // Unregistered again: back to no-op.
  assertStrictEquals(telemetry.startRequest(request, 0, undefined), first);
});

// ---------------------------------------------------------------------------
// Subprocesses

const importMap = new URL("../.ci/std_offline/import_map.json", import.meta.url)
  .pathname;

function script(name: string): string {
  return new URL(name, import.meta.url).pathname;
}

Deno.test("_telemetry.ts shares one API copy with an application that pins the SDK's API version", async () => {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      `--import-map=${importMap}`,
      "--allow-env",
      "--allow-read",
      script("_telemetry_app_child.ts"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assertEquals(code, 0, new TextDecoder().decode(stderr));
  assertEquals(JSON.parse(text), {
    registered: true,
    sameApi: true,
    spans: ["GET"],
  });
});
