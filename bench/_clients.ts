// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The HTTP clients the benchmarks compare, behind one small interface. Each
 * client's library is imported only when that client is opened, so a worker
 * process that measures one client does not pay for the others' code.
 *
 * Every client does what a real caller does with a response: it reads the
 * status, the header fields `content-type` and `x-request-id`, and the whole
 * body, and hands all four back. None may win by skipping work that a lazy
 * structure only saves when nobody looks.
 *
 * @module
 */

/**
 * Which client to measure. `bare` is the ceiling: the minimal `Deno.connect`
 * client of `bench/_bare_client.ts`.
 */
export type ClientKind =
  | "pooled"
  | "fetch"
  | "fetch-client"
  | "undici"
  | "bare";

/** How to open a {@linkcode BenchClient}. */
export interface ClientSpec {
  /** The client library. */
  kind: ClientKind;
  /**
   * Connections per origin: pooled-fetch's `maxConnectionsPerOrigin`,
   * undici's `connections`, `poolMaxIdlePerHost` for `fetch-client`, the
   * bare client's bound. Ignored by the plain built-in `fetch`. Unset on a
   * `fetch-client`: `Deno.createHttpClient`'s own pool settings (HTTP/2
   * allowed); otherwise 16.
   */
  connections?: number;
  /**
   * Requests in flight per connection (pooled-fetch, undici, bare).
   * @default {1}
   */
  pipelining?: number;
  /** PEM CA certificate to trust, for TLS workloads. */
  caCert?: string;
  /**
   * Whether HTTP/2 may be negotiated by ALPN: pooled-fetch's `http2`, or
   * `Deno.createHttpClient`'s `http2` for `fetch-client`. The plain
   * built-in `fetch` offers `h2` whatever this says, and the other clients
   * speak HTTP/1.1 only.
   * @default {false} for pooled-fetch and `fetch-client` with `connections`
   */
  http2?: boolean;
  /**
   * An `http://` proxy URL that every request goes through (`CONNECT`
   * tunnels for `https:`): pooled-fetch's `proxy: { url }`, or
   * `Deno.createHttpClient({ proxy: { url } })` for `fetch-client`. Other
   * clients take none.
   */
  proxy?: string;
  /**
   * pooled-fetch only: how it reports to OpenTelemetry. Unset, its default:
   * telemetry on while OpenTelemetry is inactive (no SDK registered, no
   * `OTEL_DENO`). `"sdk"`: the OpenTelemetry JS SDK registered in memory
   * (see {@linkcode registerSdk}), so that every request makes a span and
   * records metrics. `"off"`: `telemetry: false`.
   */
  telemetry?: "sdk" | "off";
}

/** What a workload sends. */
export interface RequestSpec {
  /** Absolute URL. */
  url: string;
  /** Request method. @default {"GET"} */
  method?: string;
  /** Request body, sent with a `Content-Length`. */
  body?: Uint8Array<ArrayBuffer>;
}

/** What a caller read from one response. */
export interface BenchResponse {
  /** The status code. */
  status: number;
  /** The `content-type` field, or null. */
  contentType: string | null;
  /** The `x-request-id` field, or null. */
  requestId: string | null;
  /** The length of the body, read in full into an `ArrayBuffer`. */
  bytes: number;
}

/** A client under measurement. */
export interface BenchClient {
  /**
   * Sends one request and reads the status, two header fields and the
   * whole body.
   *
   * @returns What was read.
   */
  request(): Promise<BenchResponse>;
  /** Connections the client says it opened, when it can tell. */
  connectionsOpened(): number | undefined;
  /**
   * The protocol the client says its connections speak (`h2` or
   * `http/1.1`), when it can tell.
   */
  protocol?(): string | undefined;
  /**
   * Whether the client did what its row claims (a telemetry row: spans
   * were made and exported): a message saying what is wrong, or
   * `undefined`.
   */
  check?(): Promise<string | undefined>;
  /** Releases the client's connections. */
  close(): Promise<void>;
}

/**
 * Opens a client that sends `req` on every call to `request()`.
 *
 * @param spec Which client, and how to configure it.
 * @param req The request to send.
 * @returns The client.
 */
export async function openClient(
  spec: ClientSpec,
  req: RequestSpec,
): Promise<BenchClient> {
  const { kind, pipelining = 1, caCert, proxy, telemetry, http2 } = spec;
  const connections = spec.connections ?? 16;
  const { url, method = "GET", body } = req;
  if (proxy !== undefined && kind !== "pooled" && kind !== "fetch-client") {
    throw new TypeError(
      `Cannot open client as 'proxy' must be unset for ${kind}: current value is ${proxy}`,
    );
  }
  switch (kind) {
    case "pooled": {
      const sdk = telemetry === "sdk" ? await registerSdk() : undefined;
      const { createClient } = await import("../mod.ts");
      const client = createClient({
        maxConnectionsPerOrigin: connections,
        pipelining,
        ...(http2 ? { http2: true } : {}),
        ...(caCert ? { tls: { caCerts: [caCert] } } : {}),
        ...(proxy ? { proxy: { url: proxy } } : {}),
        ...(telemetry === "off" ? { telemetry: false } : {}),
      });
      return {
        async request() {
          const res = await client.fetch(url, { method, body });
          const status = res.status;
          const contentType = res.headers.get("content-type");
          const requestId = res.headers.get("x-request-id");
          const buf = await res.arrayBuffer();
          return { status, contentType, requestId, bytes: buf.byteLength };
        },
        connectionsOpened: () => client.stats().totals.connectionsOpened,
        protocol: () => client.stats().origins[0]?.protocol,
        ...(sdk ? { check: () => sdk.check() } : {}),
        close: async () => {
          await client.close();
          await sdk?.shutdown();
        },
      };
    }
    case "fetch": {
      // The plain global fetch. For TLS the worker runs with `--cert`.
      return {
        async request() {
          const res = await fetch(url, { method, body });
          const status = res.status;
          const contentType = res.headers.get("content-type");
          const requestId = res.headers.get("x-request-id");
          const buf = await res.arrayBuffer();
          return { status, contentType, requestId, bytes: buf.byteLength };
        },
        connectionsOpened: () => undefined,
        close: () => Promise.resolve(),
      };
    }
    case "fetch-client": {
      const client = Deno.createHttpClient({
        ...(spec.connections !== undefined
          ? { poolMaxIdlePerHost: connections, http2: false }
          : {}),
        ...(http2 !== undefined ? { http2 } : {}),
        ...(caCert ? { caCerts: [caCert] } : {}),
        ...(proxy ? { proxy: { url: proxy } } : {}),
      });
      return {
        async request() {
          const res = await fetch(url, { method, body, client });
          const status = res.status;
          const contentType = res.headers.get("content-type");
          const requestId = res.headers.get("x-request-id");
          const buf = await res.arrayBuffer();
          return { status, contentType, requestId, bytes: buf.byteLength };
        },
        connectionsOpened: () => undefined,
        close: () => Promise.resolve(client.close()),
      };
    }
    case "undici": {
      const { Pool } = await import("undici");
      const u = new URL(url);
      const pool = new Pool(u.origin, {
        connections,
        pipelining,
        ...(caCert ? { connect: { ca: caCert } } : {}),
      });
      const path = u.pathname + u.search;
      const m = method as "GET" | "POST";
      return {
        async request() {
          const res = await pool.request({ path, method: m, body });
          const status = res.statusCode;
          // undici hands over its headers as a plain object, lower-case
          // names, already built: reading two of them is what a caller does.
          const contentType = headerValue(res.headers["content-type"]);
          const requestId = headerValue(res.headers["x-request-id"]);
          const buf = await res.body.arrayBuffer();
          return { status, contentType, requestId, bytes: buf.byteLength };
        },
        connectionsOpened: () => undefined,
        close: () => pool.close(),
      };
    }
    case "bare": {
      if (method !== "GET" || body !== undefined) {
        throw new TypeError(
          `Cannot open client as the bare client only sends GET: current method is ${method}`,
        );
      }
      const { BareClient } = await import("./_bare_client.ts");
      const client = new BareClient({
        url,
        connections,
        pipelining,
        ...(caCert ? { caCert } : {}),
      });
      return {
        async request() {
          const res = await client.request();
          return {
            status: res.status,
            contentType: res.contentType,
            requestId: res.requestId,
            bytes: res.body.byteLength,
          };
        },
        connectionsOpened: () => client.connectionsOpened,
        close: () => client.close(),
      };
    }
    default:
      throw new TypeError(`Cannot open client as 'kind' is unknown: ${kind}`);
  }
}

/** The OpenTelemetry SDK, registered for a telemetry row. */
interface RegisteredSdk {
  /** Flushes, and says what is wrong if no span or metric was exported. */
  check(): Promise<string | undefined>;
  /** Unregisters it and shuts it down. */
  shutdown(): Promise<void>;
}

/**
 * Registers the OpenTelemetry JS SDK as an application would, with nothing
 * leaving the process: a tracer provider whose `BatchSpanProcessor` hands
 * the spans to an exporter that counts and drops them, a meter provider
 * whose periodic reader (every second) exports to an in-memory exporter,
 * the W3C trace-context propagator (so every request carries a
 * `traceparent`) and Deno's context manager. Imported only here, so other
 * rows do not load it.
 */
async function registerSdk(): Promise<RegisteredSdk> {
  const { context, metrics, propagation, trace } = await import(
    "@opentelemetry/api"
  );
  const { W3CTraceContextPropagator } = await import("@opentelemetry/core");
  const { BasicTracerProvider, BatchSpanProcessor } = await import(
    "@opentelemetry/sdk-trace-base"
  );
  const {
    AggregationTemporality,
    InMemoryMetricExporter,
    MeterProvider,
    PeriodicExportingMetricReader,
  } = await import("@opentelemetry/sdk-metrics");
  let spans = 0;
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [
      new BatchSpanProcessor({
        export(batch, done) {
          spans += batch.length;
          done({ code: 0 });
        },
        shutdown: () => Promise.resolve(),
      }),
    ],
  });
  const metricExporter = new InMemoryMetricExporter(
    AggregationTemporality.CUMULATIVE,
  );
  const meterProvider = new MeterProvider({
    readers: [
      new PeriodicExportingMetricReader({
        exporter: metricExporter,
        exportIntervalMillis: 1000,
      }),
    ],
  });
  context.setGlobalContextManager(
    Deno.telemetry.contextManager as unknown as Parameters<
      typeof context.setGlobalContextManager
    >[0],
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  return {
    async check() {
      await tracerProvider.forceFlush();
      await meterProvider.forceFlush();
      const exported = metricExporter.getMetrics().flatMap((resource) =>
        resource.scopeMetrics
      ).filter((scope) => scope.scope.name === "@pooled/fetch");
      if (spans === 0) return "Telemetry row: no span was exported";
      if (exported.length === 0) return "Telemetry row: no metric was exported";
      return undefined;
    },
    async shutdown() {
      trace.disable();
      metrics.disable();
      propagation.disable();
      context.disable();
      await tracerProvider.shutdown();
      await meterProvider.shutdown();
    },
  };
}

function headerValue(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return typeof v === "string" ? v : v.join(", ");
}
