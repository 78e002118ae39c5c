// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A loopback OTLP/HTTP receiver for tests, speaking the JSON encoding
 * (`OTEL_EXPORTER_OTLP_PROTOCOL=http/json`). It listens on `127.0.0.1:0`,
 * keeps every payload posted to `/v1/traces`, `/v1/metrics` and `/v1/logs`,
 * and flattens them into spans and metric points that tests can compare.
 *
 * Point a `deno run` subprocess at it with {@linkcode OtlpReceiver.env}:
 *
 * ```ts ignore
 * await using receiver = startOtlpReceiver();
 * const child = new Deno.Command(Deno.execPath(), {
 *   args: ["run", "--allow-net=127.0.0.1", "script.ts"],
 *   env: receiver.env(),
 * }).output();
 * // Deno flushes its exporters before the process exits.
 * const spans = receiver.spans();
 * ```
 *
 * @module
 */

/** An attribute value, decoded from OTLP's `AnyValue`. */
export type OtlpValue =
  | string
  | number
  | boolean
  | null
  | OtlpValue[]
  | { [key: string]: OtlpValue };

/** Attributes keyed by name. `intValue`s become numbers. */
export type OtlpAttributes = Record<string, OtlpValue>;

/** One span, flattened out of its resource and scope. */
export interface OtlpSpan {
  /** Span name. */
  name: string;
  /** OTLP kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  /** 32 hex digits. */
  traceId: string;
  /** 16 hex digits. */
  spanId: string;
  /** 16 hex digits, or `""` for a root span. */
  parentSpanId: string;
  /** Attributes, decoded. */
  attributes: OtlpAttributes;
  /**
   * How each attribute was typed on the wire (`stringValue`, `intValue`,
   * `doubleValue`, `boolValue`, `arrayValue`, `kvlistValue`).
   */
  attributeTypes: Record<string, string>;
  /** OTLP status code: 0 unset, 1 ok, 2 error; and its message. */
  status: { code: number; message: string };
  /** Events with their decoded attributes. */
  events: { name: string; attributes: OtlpAttributes }[];
  /** Name of the instrumentation scope that made the span. */
  scope: string;
  /** Start and end, in nanoseconds since the epoch, as strings. */
  startTimeUnixNano: string;
  /** End, in nanoseconds since the epoch. */
  endTimeUnixNano: string;
}

/** One data point of a metric, flattened out of its resource and scope. */
export interface OtlpMetricPoint {
  /** Metric name. */
  name: string;
  /** Unit, e.g. `s`. */
  unit: string;
  /** `sum`, `gauge`, `histogram` or `exponentialHistogram`. */
  type: string;
  /** For sums: whether the sum only grows. */
  monotonic?: boolean;
  /** Name of the instrumentation scope. */
  scope: string;
  /** Point attributes, decoded. */
  attributes: OtlpAttributes;
  /** Value of a sum or gauge point. */
  value?: number;
  /** Count of a histogram point. */
  count?: number;
  /** Sum of a histogram point. */
  sum?: number;
}

/** A running receiver. Close it with `await using` or `close()`. */
export interface OtlpReceiver extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`, for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  /** Raw JSON bodies posted to `/v1/traces`, in arrival order. */
  readonly traces: unknown[];
  /** Raw JSON bodies posted to `/v1/metrics`, in arrival order. */
  readonly metrics: unknown[];
  /** Raw JSON bodies posted to `/v1/logs`, in arrival order. */
  readonly logs: unknown[];
  /** Bodies that were not JSON or went to another path, for diagnosis. */
  readonly rejected: { path: string; contentType: string; bytes: number }[];
  /** Every span received so far. */
  spans(): OtlpSpan[];
  /** Every metric data point received so far. */
  metricPoints(): OtlpMetricPoint[];
  /**
   * Environment for a `deno` subprocess that exports to this receiver:
   * `OTEL_DENO=true`, the endpoint, `http/json`, and a short metric interval.
   * `extra` is merged over it.
   */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a receiver on `127.0.0.1` and a port the OS picks. */
export function startOtlpReceiver(): OtlpReceiver {
  const traces: unknown[] = [];
  const metrics: unknown[] = [];
  const logs: unknown[] = [];
  const rejected: OtlpReceiver["rejected"] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const gzip = request.headers.get("content-encoding") === "gzip";
      const body = gzip && request.body
        ? request.body.pipeThrough(new DecompressionStream("gzip"))
        : request.body;
      const bytes = new Uint8Array(await new Response(body).arrayBuffer());
      const contentType = request.headers.get("content-type") ?? "";
      const target = path === "/v1/traces"
        ? traces
        : path === "/v1/metrics"
        ? metrics
        : path === "/v1/logs"
        ? logs
        : undefined;
      if (target === undefined || !contentType.includes("json")) {
        rejected.push({ path, contentType, bytes: bytes.length });
        return new Response("unsupported", { status: 415 });
      }
      target.push(JSON.parse(new TextDecoder().decode(bytes)));
      return Response.json({});
    },
  );
  const endpoint = `http://127.0.0.1:${server.addr.port}`;
  const close = async (): Promise<void> => {
    await server.shutdown();
  };
  return {
    endpoint,
    traces,
    metrics,
    logs,
    rejected,
    spans: () => traces.flatMap(flattenSpans),
    metricPoints: () => metrics.flatMap(flattenMetrics),
    env: (extra) => ({
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_METRIC_EXPORT_INTERVAL: "500",
      OTEL_SERVICE_NAME: "otlp-receiver-test",
      NO_COLOR: "1",
      ...extra,
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Decodes an OTLP `AnyValue`. */
export function decodeValue(value: Json): OtlpValue {
  if (value === null || typeof value !== "object") return null;
  if ("stringValue" in value) return value.stringValue;
  if ("boolValue" in value) return value.boolValue;
  if ("intValue" in value) return Number(value.intValue);
  if ("doubleValue" in value) return Number(value.doubleValue);
  if ("arrayValue" in value) {
    return (value.arrayValue.values ?? []).map(decodeValue);
  }
  if ("kvlistValue" in value) return decodeAttributes(value.kvlistValue.values);
  if ("bytesValue" in value) return String(value.bytesValue);
  return null;
}

/** Decodes an OTLP `KeyValue[]` into an object. */
export function decodeAttributes(list: Json[] | undefined): OtlpAttributes {
  const out: OtlpAttributes = {};
  for (const { key, value } of list ?? []) out[key] = decodeValue(value);
  return out;
}

function attributeTypes(list: Json[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of list ?? []) {
    out[key] = Object.keys(value ?? {})[0] ?? "empty";
  }
  return out;
}

function flattenSpans(payload: Json): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const resource of payload.resourceSpans ?? []) {
    for (const scopeSpans of resource.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        out.push({
          name: span.name,
          kind: span.kind ?? 0,
          traceId: span.traceId ?? "",
          spanId: span.spanId ?? "",
          parentSpanId: span.parentSpanId ?? "",
          attributes: decodeAttributes(span.attributes),
          attributeTypes: attributeTypes(span.attributes),
          status: {
            code: span.status?.code ?? 0,
            message: span.status?.message ?? "",
          },
          events: (span.events ?? []).map((event: Json) => ({
            name: event.name,
            attributes: decodeAttributes(event.attributes),
          })),
          scope: scopeSpans.scope?.name ?? "",
          startTimeUnixNano: String(span.startTimeUnixNano ?? ""),
          endTimeUnixNano: String(span.endTimeUnixNano ?? ""),
        });
      }
    }
  }
  return out;
}

function flattenMetrics(payload: Json): OtlpMetricPoint[] {
  const out: OtlpMetricPoint[] = [];
  for (const resource of payload.resourceMetrics ?? []) {
    for (const scopeMetrics of resource.scopeMetrics ?? []) {
      const scope = scopeMetrics.scope?.name ?? "";
      for (const metric of scopeMetrics.metrics ?? []) {
        for (
          const type of ["sum", "gauge", "histogram", "exponentialHistogram"]
        ) {
          const data = metric[type];
          if (!data) continue;
          for (const point of data.dataPoints ?? []) {
            const value = point.asInt ?? point.asDouble;
            out.push({
              name: metric.name,
              unit: metric.unit ?? "",
              type,
              ...(type === "sum" ? { monotonic: !!data.isMonotonic } : {}),
              scope,
              attributes: decodeAttributes(point.attributes),
              ...(value !== undefined ? { value: Number(value) } : {}),
              ...(point.count !== undefined
                ? { count: Number(point.count) }
                : {}),
              ...(point.sum !== undefined ? { sum: Number(point.sum) } : {}),
            });
          }
        }
      }
    }
  }
  return out;
}
