// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * OpenTelemetry for pooled-fetch: a client span per HTTP request sent, the
 * HTTP client metrics of the semantic conventions, and the pool's own
 * metrics. Everything that touches `@opentelemetry/api` lives here; the fetch
 * layer and the pool only call the small interfaces below.
 *
 * Written against OpenTelemetry Semantic Conventions **v1.44.0** (HTTP
 * client spans and `http.client.request.duration` are stable there; the
 * other HTTP metrics are still "development").
 *
 * ## Who calls what
 *
 * - The attempt loop (fetch layer), for every request it writes (each attempt,
 *   each redirect hop): {@linkcode Telemetry.startRequest} just before the
 *   request is handed to the pool (it sends {@linkcode RequestTelemetry.fields}
 *   instead of the request's own when they are set), and
 *   {@linkcode RequestTelemetry.end} once the response head is in or the
 *   attempt failed (the span does not wait for the body, like the built-in
 *   `fetch`'s). When the retry budget refuses a retry:
 *   {@linkcode Telemetry.retryRefused}.
 * - The pool, once per origin: {@linkcode Telemetry.pool}; then, on its
 *   {@linkcode PoolTelemetry}: `connectionOpened()` for every connection that
 *   finished its handshake (and, on the handle it returns, `active()` /
 *   `idle()` on every state change and `closed()` once), `queued()` /
 *   `dequeued()` around each wait in the queue, `evicted()` for every idle
 *   connection it drops.
 *
 * ## When it costs nothing
 *
 * A client created with `telemetry: false` gets {@linkcode NOOP_TELEMETRY}.
 * Otherwise each request first asks the API for the global tracer and meter
 * providers (a few property reads and an identity compare, some tens of
 * nanoseconds) and gets a shared no-op handle when neither is registered:
 * no allocation, the request is sent as it is. The pool's events only move
 * integers. Tracers and instruments are cached per provider identity, so an
 * SDK registered after the client was created is picked up by the next
 * request, and one unregistered is dropped. Nothing here arms a timer.
 *
 * ## How the "how many now" metrics are kept
 *
 * `http.client.open_connections`, `http.client.active_requests` and
 * `pooled_fetch.queue.requests` are observable up-down counters: we keep the
 * counts ourselves (a few integers per host:port) and the SDK reads them
 * when it collects. The exported data is the same non-monotonic sum a
 * synchronous up-down counter gives, without an SDK call per request (each
 * costs about 1 µs under `OTEL_DENO`), and a provider registered after
 * connections opened still sees them, from the first request or pool event
 * after it was registered. One consequence: Deno's last export,
 * when the process exits, does not run observable callbacks (Deno 2.9), so a
 * short script only reports them at its periodic exports
 * (`OTEL_METRIC_EXPORT_INTERVAL`, 60 s by default).
 *
 * ## Spans
 *
 * Kind `CLIENT`, named by the method (`GET`), as the built-in `fetch` names
 * its spans; a child of the active context. Attributes:
 *
 * | Attribute | When | Value |
 * | --- | --- | --- |
 * | `http.request.method` | always | the method as sent (as the built-in does) |
 * | `url.full` | always | the URL, user and password removed |
 * | `url.scheme`, `url.path`, `url.query` | always | `http`, `/a`, `q=1` (`""` when there is no query, as the built-in) |
 * | `server.address`, `server.port` | always | host (no brackets for IPv6) and port, a number |
 * | `http.request.resend_count` | retries and redirect hops | 1, 2, … |
 * | `http.response.status_code` | a response head arrived | a number |
 * | `network.protocol.version` | a response head arrived | `"1.1"`, `"1.0"` or `"2"` |
 * | `error.type` | failure or status ≥ 400 | `FetchError.code`, the error's `name`, or the status (`"503"`) |
 * | `pooled_fetch.connection.reused` | a response head arrived | the connection had carried a request before |
 * | `pooled_fetch.pipeline.ahead` | a response head arrived | requests ahead of it on that connection |
 * | `pooled_fetch.queue.wait_ms` | a response head arrived | time waited in the pool's queue, in ms |
 * | `pooled_fetch.retry.reason` | a retry | the retry policy's reason (`"stale"`, `"status"`, …) |
 *
 * Status: `Error` for status ≥ 400 (a client span, so 4xx too) or a status
 * outside 100–599, with no description; `Error` with the error's message on
 * a failure, recorded as an `exception` event; otherwise unset.
 *
 * `traceparent` / `tracestate` (and `baggage`) are injected through the
 * configured propagator into a copy of the request's fields (the request
 * itself, and so a redirect or a retry, never carries them over). A
 * `traceparent` the caller set is left alone, and nothing is injected then;
 * a field the caller set is never replaced.
 *
 * ## Metrics
 *
 * | Metric | Instrument, unit | Stability | Attributes |
 * | --- | --- | --- | --- |
 * | `http.client.request.duration` | histogram, `s` | stable | method¹, `server.*`², status, `error.type`, `network.protocol.version` |
 * | `http.client.active_requests` | up-down counter³ | development | method¹, `server.*`² |
 * | `http.client.open_connections` | up-down counter³ | development | `http.connection.state` (`idle`/`active`), `server.*`², `network.protocol.version` |
 * | `http.client.connection.duration` | histogram, `s` | development | `server.*`², `network.protocol.version` |
 * | `pooled_fetch.queue.duration` | histogram, `s` | ours | `server.*`² |
 * | `pooled_fetch.queue.requests` | up-down counter³ | ours | `server.*`² |
 * | `pooled_fetch.retry.attempts` | counter | ours | `pooled_fetch.retry.reason`, `server.*`² |
 * | `pooled_fetch.retry.refused` | counter | ours | `pooled_fetch.retry.reason`, `server.*`² |
 * | `pooled_fetch.connection.evictions` | counter | ours | `pooled_fetch.eviction.reason`, `server.*`² |
 * | `pooled_fetch.request.pipelined` | counter | ours | `server.*`² |
 *
 * ¹ A method outside RFC 9110's and `PATCH` is `_OTHER` on metrics (spans keep
 * it, as the built-in `fetch` does).
 * ² `server.address` and `server.port`. Metric series stay bounded: the first
 * 100 distinct host:port pairs of the process keep their own series; every
 * later one is folded into `server.address="_OTHER"` without `server.port`.
 * Spans always carry the real address.
 * ³ Observable (see above).
 *
 * @module
 */

import {
  type Attributes,
  type Context,
  context,
  type Counter,
  createNoopMeter,
  type Histogram,
  type Meter,
  type MeterProvider,
  metrics,
  type ObservableResult,
  propagation,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapSetter,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import { FetchError } from "./errors.ts";

/** Instrumentation scope name of our tracer and meter. */
export const SCOPE_NAME = "@pooled/fetch";
/** Instrumentation scope version; keep in step with `deno.json`. */
export const SCOPE_VERSION = "0.1.0";
/** The semantic conventions release the attributes and metrics follow. */
export const SEMCONV_VERSION = "1.44.0";
/** Prefix of every attribute and metric name that is ours. */
export const PREFIX = "pooled_fetch";
/** Distinct host:port pairs that keep their own metric series. */
export const DEFAULT_MAX_SERVER_ADDRESSES = 100;
/** `server.address` of the series every further origin is folded into. */
export const OVERFLOW_ADDRESS = "_OTHER";

/** A header field as the transport sends it: lower-case name, value. */
export type Field = readonly [string, string];

/**
 * The request about to be sent, as the attempt loop holds it (a
 * `DispatchRequest` fits): this attempt's method, URL (this hop's, for a
 * redirect) and header fields.
 */
export interface TracedRequest {
  /** The method as sent, e.g. `GET`. */
  readonly method: string;
  /** The URL of this request; it carries no credentials. */
  readonly url: URL;
  /** The header fields about to be written, names in lower case. */
  readonly fields: readonly Field[];
}

/**
 * What the transport said about a response head (a `DispatchResult` fits).
 */
export interface TracedResponse {
  /** The final status. */
  readonly status: number;
  /** The protocol version it came in: `"1.0"`, `"1.1"` or `"2"`. */
  readonly protocol: string;
  /** Whether its connection had carried a request before this one. */
  readonly reused: boolean;
  /** Requests ahead of this one on that connection when it was written. */
  readonly pipelinedAhead: number;
  /** Milliseconds the request waited in the pool's queue. */
  readonly queueWait: number;
}

/** One request in flight; end it exactly once (further calls do nothing). */
export interface RequestTelemetry {
  /**
   * The header fields to send instead of the request's: its own, then the
   * trace context the propagator injected. `undefined` when nothing was
   * injected: send the request as it is.
   */
  readonly fields: readonly Field[] | undefined;
  /**
   * Ends the span and records the request's metrics: with the response
   * head once it arrived, or with the failure (thrown value, abort reason).
   */
  end(response: TracedResponse | undefined, error?: unknown): void;
}

/** The state of a pooled connection, as `http.connection.state` names it. */
export type ConnectionState = "idle" | "active";

/** Why the pool dropped an idle connection (the keys of `EvictionStats`). */
export type EvictionReason =
  | "idleTimeout"
  | "keepAliveTimeout"
  | "maxRequests"
  | "serverClosed"
  | "unsolicitedBytes"
  | "maxConnectionAge";

/** One open connection. Calls after `closed()` do nothing. */
export interface ConnectionTelemetry {
  /** The connection now carries at least one request. */
  active(): void;
  /** The connection carries no request any more. */
  idle(): void;
  /** The connection closed; records its lifetime. */
  closed(): void;
}

/** The telemetry of one origin's pool. */
export interface PoolTelemetry {
  /**
   * A connection finished its handshake.
   *
   * @param protocolVersion The protocol it speaks.
   * @param state Its state now.
   * @returns The handle to report its state changes on.
   */
  connectionOpened(
    protocolVersion?: "1.1" | "2",
    state?: ConnectionState,
  ): ConnectionTelemetry;
  /** A request started waiting in the queue. */
  queued(): void;
  /**
   * A request left the queue: it got a connection, timed out or was
   * aborted.
   *
   * @param waitMs How long it waited, in milliseconds.
   */
  dequeued(waitMs: number): void;
  /** The pool dropped an idle connection (call `closed()` on it as well). */
  evicted(reason: EvictionReason): void;
}

/** The telemetry of one client. */
export interface Telemetry {
  /**
   * Starts the span of one request about to be sent, and injects the trace
   * context into a copy of its fields (see {@linkcode RequestTelemetry.fields}).
   * Positional arguments, so that the call allocates nothing while
   * OpenTelemetry is inactive.
   *
   * @param request The request, as it is about to be sent.
   * @param resendCount How many times this fetch sent a request before: 0
   * for the first attempt, 1 for the first retry or redirect hop, and so on
   * (`http.request.resend_count`).
   * @param retryReason Why this attempt is a retry: one of the retry
   * policy's reasons (a small fixed set: it becomes a metric attribute);
   * `undefined` for a first attempt or a redirect hop.
   * @returns The handle to end the request on.
   */
  startRequest(
    request: TracedRequest,
    resendCount: number,
    retryReason: string | undefined,
  ): RequestTelemetry;
  /** The retry budget refused to retry a request to `url`. */
  retryRefused(url: URL, reason: string): void;
  /** The telemetry of the pool for `origin` (`scheme://host:port`). */
  pool(origin: string): PoolTelemetry;
}

/** Options of {@linkcode createTelemetry}. */
export interface TelemetryOptions {
  /**
   * `false` gives {@linkcode NOOP_TELEMETRY}: no spans, no metrics, no
   * injected headers.
   *
   * @default {true}
   */
  enabled?: boolean;
  /**
   * Distinct host:port pairs that keep their own metric series; further
   * ones are folded into `server.address="_OTHER"`. Without it, a limit of
   * {@linkcode DEFAULT_MAX_SERVER_ADDRESSES} is shared by every client of the
   * process; with it, this client gets a limit of its own.
   */
  maxServerAddresses?: number;
}

// ---------------------------------------------------------------------------
// No-op implementation

const NOOP_REQUEST: RequestTelemetry = Object.freeze({
  fields: undefined,
  end() {},
});
const NOOP_CONNECTION: ConnectionTelemetry = Object.freeze({
  active() {},
  idle() {},
  closed() {},
});
const NOOP_POOL: PoolTelemetry = Object.freeze({
  connectionOpened: () => NOOP_CONNECTION,
  queued() {},
  dequeued() {},
  evicted() {},
});

/** Telemetry that does nothing: what `telemetry: false` gets. */
export const NOOP_TELEMETRY: Telemetry = Object.freeze({
  startRequest: () => NOOP_REQUEST,
  retryRefused() {},
  pool: () => NOOP_POOL,
});

// ---------------------------------------------------------------------------
// Resolving the global providers, cached by identity

// The API answers with these when nothing is registered.
const NOOP_TRACER_PROVIDER: TracerProvider = new ProxyTracerProvider()
  .getDelegate();
const NOOP_METER: Meter = createNoopMeter();

let tracerProvider: TracerProvider = NOOP_TRACER_PROVIDER;
let tracer: Tracer | undefined;

/**
 * Where `@opentelemetry/api` 1.x keeps what is registered (Deno's own
 * providers under `OTEL_DENO` included): read directly, a property load
 * tells whether anything changed, so the inactive path never calls into
 * the API. Its calls cost microseconds once Node compatibility is loaded
 * (any npm package does that), for every request.
 */
const API_REGISTRY = Symbol.for("opentelemetry.js.api.1");

interface ApiRegistry {
  trace?: unknown;
  metrics?: unknown;
}

function registry(): ApiRegistry | undefined {
  return (globalThis as Record<symbol, ApiRegistry | undefined>)[API_REGISTRY];
}

let seenTrace: unknown = null;
let seenMetrics: unknown = null;

/** The tracer of the registered provider, or undefined when there is none. */
function currentTracer(): Tracer | undefined {
  let registered = registry()?.trace;
  // The API registers its one proxy and swaps the delegate behind it.
  if (registered instanceof ProxyTracerProvider) {
    registered = registered.getDelegate();
  }
  if (registered === seenTrace) return tracer;
  seenTrace = registered;
  const provider = trace.getTracerProvider();
  const real = provider instanceof ProxyTracerProvider
    ? provider.getDelegate()
    : provider;
  if (real !== tracerProvider) {
    tracerProvider = real;
    tracer = real === NOOP_TRACER_PROVIDER
      ? undefined
      : real.getTracer(SCOPE_NAME, SCOPE_VERSION);
  }
  return tracer;
}

/** The instruments of one meter provider. */
interface Instruments {
  readonly requestDuration: Histogram;
  readonly connectionDuration: Histogram;
  readonly queueDuration: Histogram;
  readonly retries: Counter;
  readonly retriesRefused: Counter;
  readonly evictions: Counter;
  readonly pipelined: Counter;
}

// The semantic conventions' advice for http.client.request.duration.
const DURATION_BUCKETS = [
  0,
  0.005,
  0.01,
  0.025,
  0.05,
  0.075,
  0.1,
  0.25,
  0.5,
  0.75,
  1,
  2.5,
  5,
  7.5,
  10,
];
const CONNECTION_BUCKETS = [
  0.01,
  0.02,
  0.05,
  0.1,
  0.2,
  0.5,
  1,
  2,
  5,
  10,
  30,
  60,
  120,
  300,
];

function createInstruments(meter: Meter): Instruments {
  // The three "how many now" metrics are observed at collection time from
  // the counts we keep (see Gauges): no SDK call per request for them, and
  // exact even for a provider registered after connections opened.
  meter.createObservableUpDownCounter("http.client.open_connections", {
    description:
      "Number of outbound HTTP connections that are currently active or idle on the client.",
    unit: "{connection}",
  }).addCallback((result) => {
    for (const series of gauges.values()) series.observeOpen(result);
  });
  meter.createObservableUpDownCounter("http.client.active_requests", {
    description: "Number of active HTTP requests.",
    unit: "{request}",
  }).addCallback((result) => {
    for (const series of gauges.values()) series.observeActive(result);
  });
  meter.createObservableUpDownCounter(`${PREFIX}.queue.requests`, {
    description: "Requests waiting in the pool's queue for a connection.",
    unit: "{request}",
  }).addCallback((result) => {
    for (const series of gauges.values()) series.observeQueued(result);
  });
  return {
    requestDuration: meter.createHistogram("http.client.request.duration", {
      description: "Duration of HTTP client requests.",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    connectionDuration: meter.createHistogram(
      "http.client.connection.duration",
      {
        description:
          "The duration of the successfully established outbound HTTP connections.",
        unit: "s",
        advice: { explicitBucketBoundaries: CONNECTION_BUCKETS },
      },
    ),
    queueDuration: meter.createHistogram(`${PREFIX}.queue.duration`, {
      description: "Time requests waited in the pool's queue for a connection.",
      unit: "s",
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    }),
    retries: meter.createCounter(`${PREFIX}.retry.attempts`, {
      description: "Requests sent again by the retry policy, by reason.",
      unit: "{request}",
    }),
    retriesRefused: meter.createCounter(`${PREFIX}.retry.refused`, {
      description: "Retries the retry budget refused, by reason.",
      unit: "{request}",
    }),
    evictions: meter.createCounter(`${PREFIX}.connection.evictions`, {
      description: "Idle connections the pool dropped, by reason.",
      unit: "{connection}",
    }),
    pipelined: meter.createCounter(`${PREFIX}.request.pipelined`, {
      description:
        "Requests written on a connection that had requests in flight.",
      unit: "{request}",
    }),
  };
}

let meterProvider: MeterProvider | undefined;
let instruments: Instruments | undefined;

/** The instruments of the registered meter provider, if there is one. */
function currentInstruments(): Instruments | undefined {
  const registered = registry()?.metrics;
  if (registered === seenMetrics) return instruments;
  seenMetrics = registered;
  const provider = metrics.getMeterProvider();
  if (provider !== meterProvider) {
    meterProvider = provider;
    const meter = provider.getMeter(SCOPE_NAME, SCOPE_VERSION);
    instruments = meter === NOOP_METER ? undefined : createInstruments(meter);
  }
  return instruments;
}

// ---------------------------------------------------------------------------
// Attributes

const METHODS = [
  "CONNECT",
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "PATCH",
  "POST",
  "PUT",
  "TRACE",
  "_OTHER",
] as const;

/** Index in METHODS; `_OTHER` for a method RFC 9110 and RFC 5789 do not name. */
function methodIndex(method: string): number {
  const index = (METHODS as readonly string[]).indexOf(method);
  return index === -1 ? METHODS.length - 1 : index;
}

/** `server.address` of a URL: its host, without an IPv6 literal's brackets. */
function serverAddress(url: URL): string {
  const host = url.hostname;
  return host.charCodeAt(0) === 91 /* [ */ ? host.slice(1, -1) : host;
}

/** `server.port` of a URL: its port, or the scheme's default. */
function serverPort(url: URL): number {
  if (url.port !== "") return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/** `url.full`: the URL without user and password. */
function fullUrl(url: URL): string {
  if (url.username === "" && url.password === "") return url.href;
  const copy = new URL(url.href);
  copy.username = "";
  copy.password = "";
  return copy.href;
}

/**
 * `error.type` of a failure: a {@linkcode FetchError}'s code, an error's
 * name (`AbortError`, `TimeoutError`, `TypeError`), else `_OTHER`.
 *
 * @param error What the attempt failed with.
 * @returns A low-cardinality identifier of the failure.
 */
export function errorType(error: unknown): string {
  if (error instanceof FetchError) return error.code;
  if (typeof error === "object" && error !== null) {
    const name = (error as { name?: unknown }).name;
    if (typeof name === "string" && name !== "") return name;
  }
  return "_OTHER";
}

/** Whether a client span with this status is an error (semconv: ≥ 400). */
function isErrorStatus(status: number): boolean {
  return status >= 400 || status < 100 || status > 599;
}

// ---------------------------------------------------------------------------
// Live counts, and the cap on metric series

// Connection states × protocol versions, as indexes into Gauges.open.
const VERSIONS = ["1.1", "2"] as const;
function slot(state: ConnectionState, version: "1.1" | "2"): number {
  return (state === "idle" ? 0 : 2) + (version === "1.1" ? 0 : 1);
}
const OPEN_USED = 0xf;
const ACTIVE_USED = 0x3ff0;
const QUEUE_USED = 0x4000;

/**
 * What is open, in flight and queued now for one metric series (one
 * host:port, or the overflow). Kept whether or not a provider is registered;
 * read by the observable instruments. A series ever used is observed from
 * then on, zeros included, so it goes back to 0 instead of vanishing.
 */
class Gauges {
  readonly server: Attributes;
  /** Open connections by slot(state, version). */
  readonly open: number[] = [0, 0, 0, 0];
  /** Requests in flight by method index. */
  readonly active: number[] = METHODS.map(() => 0);
  queued = 0;
  /** Bits 0–3: open slots used; 4–13: methods used; 14: the queue used. */
  used = 0;
  #openAttributes: Attributes[] | undefined;
  #activeAttributes: Attributes[] | undefined;

  constructor(server: Attributes) {
    this.server = server;
  }

  observeOpen(result: ObservableResult): void {
    if ((this.used & OPEN_USED) === 0) return;
    this.#openAttributes ??= [0, 1, 2, 3].map((i) =>
      Object.freeze({
        ...this.server,
        "http.connection.state": i < 2 ? "idle" : "active",
        "network.protocol.version": VERSIONS[i & 1],
      })
    );
    for (let i = 0; i < 4; i++) {
      if (this.used & (1 << i)) {
        result.observe(this.open[i], this.#openAttributes[i]);
      }
    }
  }

  observeActive(result: ObservableResult): void {
    if ((this.used & ACTIVE_USED) === 0) return;
    this.#activeAttributes ??= METHODS.map((method) =>
      Object.freeze({ "http.request.method": method, ...this.server })
    );
    for (let i = 0; i < METHODS.length; i++) {
      if (this.used & (1 << (4 + i))) {
        result.observe(this.active[i], this.#activeAttributes[i]);
      }
    }
  }

  observeQueued(result: ObservableResult): void {
    if (this.used & QUEUE_USED) result.observe(this.queued, this.server);
  }
}

/** Every series, by `host:port` (or `_OTHER`); bounded by the limits. */
const gauges = new Map<string, Gauges>();

function gaugesFor(key: string, server: Attributes): Gauges {
  let series = gauges.get(key);
  if (series === undefined) {
    series = new Gauges(server);
    gauges.set(key, series);
  }
  return series;
}

/**
 * Folds origins past the limit into one series: the first `max` distinct
 * host:port pairs keep their own, later ones share `server.address="_OTHER"`
 * (and no `server.port`).
 */
class AddressLimit {
  readonly #max: number;
  readonly #known = new Map<string, Gauges>();

  constructor(max: number) {
    this.#max = max;
  }

  /** The series the metrics of this origin go to. */
  series(address: string, port: number): Gauges {
    const key = `${address}:${port}`;
    const known = this.#known.get(key);
    if (known !== undefined) return known;
    if (this.#known.size >= this.#max) {
      return gaugesFor(
        OVERFLOW_ADDRESS,
        Object.freeze({ "server.address": OVERFLOW_ADDRESS }),
      );
    }
    const series = gaugesFor(
      key,
      Object.freeze({ "server.address": address, "server.port": port }),
    );
    this.#known.set(key, series);
    return series;
  }
}

const sharedLimit = new AddressLimit(DEFAULT_MAX_SERVER_ADDRESSES);

// ---------------------------------------------------------------------------
// Propagation

// RFC 9110 §5.1 (a token) and §5.5 (no CR, LF or NUL): a propagator is
// somebody else's code, and what it sets goes on the wire unchecked by
// `Headers`.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function hasField(fields: readonly Field[], name: string): boolean {
  for (let i = 0; i < fields.length; i++) {
    if (fields[i][0] === name) return true;
  }
  return false;
}

/** Collects what a propagator injects, never over a field already there. */
class FieldsSetter implements TextMapSetter<readonly Field[]> {
  readonly added: Field[] = [];
  set(carrier: readonly Field[], key: string, value: string): void {
    const name = key.toLowerCase();
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value)) return;
    if (hasField(carrier, name) || hasField(this.added, name)) return;
    this.added.push([name, value]);
  }
}

/**
 * The request's fields plus the trace context of `ctx`, or `undefined` when
 * nothing is to be added: the caller set a `traceparent` of their own (left
 * alone, and nothing goes with it), or the propagator injected nothing.
 */
function inject(ctx: Context, fields: readonly Field[]): Field[] | undefined {
  if (hasField(fields, "traceparent")) return undefined;
  const setter = new FieldsSetter();
  propagation.inject(ctx, fields, setter);
  return setter.added.length === 0 ? undefined : fields.concat(setter.added);
}

// ---------------------------------------------------------------------------
// Active implementation

class ActiveRequest implements RequestTelemetry {
  readonly fields: readonly Field[] | undefined;
  readonly #span: Span | undefined;
  /** Set when metrics were on at the start: the request is counted there. */
  readonly #series: Gauges | undefined;
  readonly #method: number;
  readonly #start = performance.now();
  #ended = false;

  constructor(
    span: Span | undefined,
    fields: readonly Field[] | undefined,
    series: Gauges | undefined,
    method: number,
  ) {
    this.#span = span;
    this.fields = fields;
    this.#series = series;
    this.#method = method;
  }

  end(response: TracedResponse | undefined, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    const series = this.#series;
    if (series !== undefined) series.active[this.#method]--;
    try {
      const failed = response === undefined;
      const status = response?.status;
      let type: string | undefined;
      if (failed) type = errorType(error);
      else if (isErrorStatus(response.status)) type = String(response.status);
      const span = this.#span;
      if (span !== undefined && !span.isRecording()) span.end();
      else if (span !== undefined) {
        const attributes: Attributes = {};
        if (response !== undefined) {
          attributes["http.response.status_code"] = response.status;
          attributes["network.protocol.version"] = response.protocol;
          attributes[`${PREFIX}.connection.reused`] = response.reused;
          attributes[`${PREFIX}.pipeline.ahead`] = response.pipelinedAhead;
          attributes[`${PREFIX}.queue.wait_ms`] = response.queueWait;
        }
        if (type !== undefined) attributes["error.type"] = type;
        span.setAttributes(attributes);
        if (failed) {
          const message = error instanceof Error ? error.message : "";
          span.recordException(
            error instanceof Error ? error : String(error),
          );
          span.setStatus(
            message === ""
              ? { code: SpanStatusCode.ERROR }
              : { code: SpanStatusCode.ERROR, message },
          );
        } else if (type !== undefined) {
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        span.end();
      }
      const m = series === undefined ? undefined : currentInstruments();
      if (m !== undefined && series !== undefined) {
        const attributes: Attributes = {
          "http.request.method": METHODS[this.#method],
          ...series.server,
        };
        if (status !== undefined) {
          attributes["http.response.status_code"] = status;
          attributes["network.protocol.version"] = response!.protocol;
        }
        if (type !== undefined) attributes["error.type"] = type;
        m.requestDuration.record(
          (performance.now() - this.#start) / 1000,
          attributes,
        );
        if (response !== undefined && response.pipelinedAhead > 0) {
          m.pipelined.add(1, series.server);
        }
      }
    } catch {
      // Telemetry never breaks a request.
    }
  }
}

class ActiveConnection implements ConnectionTelemetry {
  readonly #pool: ActivePool;
  readonly #version: "1.1" | "2";
  readonly #opened = performance.now();
  #state: ConnectionState | undefined;

  constructor(pool: ActivePool, version: "1.1" | "2", state: ConnectionState) {
    this.#pool = pool;
    this.#version = version;
    this.#state = state;
    pool.move(-1, slot(state, version));
  }

  active(): void {
    if (this.#state !== "idle") return;
    this.#state = "active";
    this.#pool.move(slot("idle", this.#version), slot("active", this.#version));
  }

  idle(): void {
    if (this.#state !== "active") return;
    this.#state = "idle";
    this.#pool.move(slot("active", this.#version), slot("idle", this.#version));
  }

  closed(): void {
    if (this.#state === undefined) return;
    this.#pool.move(slot(this.#state, this.#version), -1);
    this.#state = undefined;
    this.#pool.connectionClosed(
      (performance.now() - this.#opened) / 1000,
      this.#version,
    );
  }
}

class ActivePool implements PoolTelemetry {
  readonly #series: Gauges;
  #versionAttributes: Attributes[] | undefined;

  constructor(series: Gauges) {
    this.#series = series;
  }

  /** A connection left slot `from` and entered slot `to` (-1: none). */
  move(from: number, to: number): void {
    // Creates the instruments (and so their observers) for a new provider.
    currentInstruments();
    const series = this.#series;
    if (from !== -1) series.open[from]--;
    if (to !== -1) {
      series.open[to]++;
      series.used |= 1 << to;
    }
  }

  connectionClosed(seconds: number, version: "1.1" | "2"): void {
    try {
      const m = currentInstruments();
      if (m === undefined) return;
      const server = this.#series.server;
      this.#versionAttributes ??= VERSIONS.map((v) =>
        Object.freeze({ ...server, "network.protocol.version": v })
      );
      m.connectionDuration.record(
        seconds,
        this.#versionAttributes[version === "1.1" ? 0 : 1],
      );
    } catch {
      // Telemetry never breaks a request.
    }
  }

  connectionOpened(
    protocolVersion: "1.1" | "2" = "1.1",
    state: ConnectionState = "idle",
  ): ConnectionTelemetry {
    return new ActiveConnection(this, protocolVersion, state);
  }

  queued(): void {
    currentInstruments();
    this.#series.queued++;
    this.#series.used |= QUEUE_USED;
  }

  dequeued(waitMs: number): void {
    this.#series.queued--;
    try {
      currentInstruments()?.queueDuration.record(
        waitMs / 1000,
        this.#series.server,
      );
    } catch {
      // Telemetry never breaks a request.
    }
  }

  evicted(reason: EvictionReason): void {
    try {
      currentInstruments()?.evictions.add(1, {
        ...this.#series.server,
        [`${PREFIX}.eviction.reason`]: EVICTION_VALUES[reason],
      });
    } catch {
      // Telemetry never breaks a request.
    }
  }
}

const EVICTION_VALUES: Record<EvictionReason, string> = {
  idleTimeout: "idle_timeout",
  keepAliveTimeout: "keep_alive_timeout",
  maxRequests: "max_requests",
  serverClosed: "server_closed",
  unsolicitedBytes: "unsolicited_bytes",
  maxConnectionAge: "max_connection_age",
};

class ActiveTelemetry implements Telemetry {
  readonly #limit: AddressLimit;

  constructor(limit: AddressLimit) {
    this.#limit = limit;
  }

  startRequest(
    request: TracedRequest,
    resendCount: number,
    retryReason: string | undefined,
  ): RequestTelemetry {
    const tracer = currentTracer();
    const m = currentInstruments();
    if (tracer === undefined && m === undefined) return NOOP_REQUEST;
    try {
      const { method, url } = request;
      const address = serverAddress(url);
      const port = serverPort(url);
      let span: Span | undefined;
      let fields: Field[] | undefined;
      if (tracer !== undefined) {
        const attributes: Attributes = {
          "http.request.method": method,
          "url.full": fullUrl(url),
          "url.scheme": url.protocol.slice(0, -1),
          "url.path": url.pathname,
          "url.query": url.search.slice(1),
          "server.address": address,
          "server.port": port,
        };
        if (resendCount > 0) {
          attributes["http.request.resend_count"] = resendCount;
        }
        if (retryReason !== undefined) {
          attributes[`${PREFIX}.retry.reason`] = retryReason;
        }
        const parent = context.active();
        span = tracer.startSpan(
          method,
          { kind: SpanKind.CLIENT, attributes },
          parent,
        );
        fields = inject(trace.setSpan(parent, span), request.fields);
      }
      const index = methodIndex(method);
      let series: Gauges | undefined;
      if (m !== undefined) {
        series = this.#limit.series(address, port);
        series.active[index]++;
        series.used |= 1 << (4 + index);
        if (retryReason !== undefined) {
          m.retries.add(1, {
            ...series.server,
            [`${PREFIX}.retry.reason`]: retryReason,
          });
        }
      }
      return new ActiveRequest(span, fields, series, index);
    } catch {
      return NOOP_REQUEST;
    }
  }

  retryRefused(url: URL, reason: string): void {
    try {
      currentInstruments()?.retriesRefused.add(1, {
        ...this.#limit.series(serverAddress(url), serverPort(url)).server,
        [`${PREFIX}.retry.reason`]: reason,
      });
    } catch {
      // Telemetry never breaks a request.
    }
  }

  pool(origin: string): PoolTelemetry {
    const url = new URL(origin);
    return new ActivePool(
      this.#limit.series(serverAddress(url), serverPort(url)),
    );
  }
}

/**
 * The telemetry of one client: {@linkcode NOOP_TELEMETRY} when `enabled` is
 * false, else one that follows the global OpenTelemetry providers as they
 * are registered and unregistered.
 *
 * @example A span around one attempt, as the attempt loop makes it
 * ```ts ignore
 * const telemetry = createTelemetry();
 * const span = telemetry.startRequest(request, 0, undefined);
 * const sent = span.fields === undefined
 *   ? request
 *   : { ...request, fields: span.fields, plain: false };
 * try {
 *   const result = await dispatcher.dispatch(sent, options);
 *   span.end(result);
 * } catch (error) {
 *   span.end(undefined, error);
 * }
 * ```
 *
 * @param options Whether it is on, and its own series limit.
 * @returns The client's telemetry.
 */
export function createTelemetry(options: TelemetryOptions = {}): Telemetry {
  const { enabled = true, maxServerAddresses } = options;
  if (!enabled) return NOOP_TELEMETRY;
  return new ActiveTelemetry(
    maxServerAddresses === undefined
      ? sharedLimit
      : new AddressLimit(maxServerAddresses),
  );
}
