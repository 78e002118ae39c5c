// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The CPU cost of the telemetry hooks one request goes through, as the
 * client calls them: the attempt loop's `startRequest()` (and the traced
 * copy of the request when a propagator injected fields) and `end()`, and
 * the pool's `active()` / `idle()` on the connection that carries it, looked
 * up as the pool does. No I/O, so the per-request cost is visible: a
 * whole-request row of `deno task bench` would bury it in noise.
 *
 * - `telemetry: false`: the no-op implementation (baseline);
 * - inactive: telemetry on, no OpenTelemetry provider registered (the
 *   default without `OTEL_DENO`): must stay under 0.5 µs, and allocate
 *   nothing;
 * - active: the OpenTelemetry JS SDK registered: metrics only (a meter
 *   provider whose reader never collects: recording and aggregation only),
 *   traces only (spans handed to a dropping exporter in batches of 512, as
 *   the SDK's `BatchSpanProcessor` does, but synchronously: in a loop that
 *   never yields, that processor would never export and would drop every
 *   span past its queue, which is cheaper than what an application pays;
 *   and the W3C propagator with Deno's context manager), and both.
 *
 * `deno bench --allow-env bench/telemetry_bench.ts` runs the rows (the SDK
 * reads its `OTEL_*` variables). `deno run --allow-env
 * bench/telemetry_bench.ts` prints, for the same hooks, the heap bytes
 * allocated per request (the sum of the heap's growth between samples, less
 * that of an empty loop): about 0 while OpenTelemetry is inactive.
 *
 * The cost under Deno's own `OTEL_DENO=true` providers is not measured here
 * (it needs another process). The cost on whole requests is in `deno task
 * bench` (rows "pooled-fetch 16x1" and "pooled-fetch 16x1, telemetry active
 * (SDK in memory)").
 *
 * @module
 */

import {
  context,
  type ContextManager,
  metrics,
  propagation,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  type ReadableSpan,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";
import {
  type ConnectionTelemetry,
  createTelemetry,
  type Field,
  type Telemetry,
  type TracedRequest,
  type TracedResponse,
} from "../_telemetry.ts";

/** Drops every span: measures our hook and the SDK, not an exporter. */
class DroppingExporter implements SpanExporter {
  export(
    _spans: ReadableSpan[],
    done: (result: { code: number }) => void,
  ): void {
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Hands ended spans to the exporter in batches of 512, at once: the work of
 * a `BatchSpanProcessor` without its timers.
 */
class SyncBatchProcessor implements SpanProcessor {
  readonly #exporter: SpanExporter;
  #batch: ReadableSpan[] = [];
  constructor(exporter: SpanExporter) {
    this.#exporter = exporter;
  }
  onStart(): void {}
  onEnd(span: ReadableSpan): void {
    this.#batch.push(span);
    if (this.#batch.length < 512) return;
    this.#exporter.export(this.#batch, () => {});
    this.#batch = [];
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A reader nobody collects from: instruments still aggregate. */
class IdleReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

type Registered = "none" | "traces" | "metrics" | "both";
let registered: Registered = "none";

/** Registers what a row needs (rows run in file order: this runs rarely). */
function use(wanted: Registered): void {
  if (wanted === registered) return;
  registered = wanted;
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
  if (wanted === "traces" || wanted === "both") {
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({
        spanProcessors: [new SyncBatchProcessor(new DroppingExporter())],
      }),
    );
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    context.setGlobalContextManager(
      Deno.telemetry.contextManager as unknown as ContextManager,
    );
  }
  if (wanted === "metrics" || wanted === "both") {
    metrics.setGlobalMeterProvider(
      new MeterProvider({ readers: [new IdleReader()] }),
    );
  }
}

// What the attempt loop hands over: the default fields of a plain GET.
const FIELDS: readonly Field[] = [
  ["accept", "*/*"],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["user-agent", "pooled-fetch/0.1"],
];
const REQUEST: TracedRequest & { plain: boolean } = {
  method: "GET",
  url: new URL("http://127.0.0.1:8080/items?page=2"),
  fields: FIELDS,
  plain: true,
};
const RESPONSE: TracedResponse = {
  status: 200,
  protocol: "1.1",
  reused: true,
  pipelinedAhead: 0,
  queueWait: 0,
};

let sent: unknown;

/** The hooks of one request: the attempt loop's and the pool's. */
function hooks(telemetry: Telemetry): () => void {
  const connection = {};
  const conns = new Map<object, ConnectionTelemetry>([[
    connection,
    telemetry.pool("http://127.0.0.1:8080").connectionOpened("1.1"),
  ]]);
  return () => {
    const span = telemetry.startRequest(REQUEST, 0, undefined);
    const fields = span.fields;
    sent = fields === undefined
      ? REQUEST
      : { ...REQUEST, fields, plain: false };
    conns.get(connection)?.active();
    span.end(RESPONSE);
    conns.get(connection)?.idle();
  };
}

const disabled = hooks(createTelemetry({ enabled: false }));
const enabled = hooks(createTelemetry());
const group = "telemetry hooks per request";

Deno.bench({
  name: "telemetry: false (no-op)",
  group,
  baseline: true,
  fn() {
    use("none");
    disabled();
  },
});

Deno.bench({
  name: "telemetry on, OpenTelemetry inactive",
  group,
  fn() {
    use("none");
    enabled();
  },
});

Deno.bench({
  name: "telemetry on, SDK metrics only",
  group,
  fn() {
    use("metrics");
    enabled();
  },
});

Deno.bench({
  name: "telemetry on, SDK traces only (span + inject)",
  group,
  fn() {
    use("traces");
    enabled();
  },
});

Deno.bench({
  name: "telemetry on, SDK traces and metrics",
  group,
  fn() {
    use("both");
    enabled();
  },
});

/**
 * Heap bytes `fn` allocates per call: the heap's growth between samples
 * taken every `block` calls, summed (a drop is a collection, not counted).
 */
function bytesPerCall(fn: () => void, calls: number, block = 1000): number {
  for (let i = 0; i < 20_000; i++) fn(); // Optimised before it is measured.
  let total = 0;
  let before = Deno.memoryUsage().heapUsed;
  for (let done = 0; done < calls; done += block) {
    for (let i = 0; i < block; i++) fn();
    const now = Deno.memoryUsage().heapUsed;
    if (now > before) total += now - before;
    before = now;
  }
  return total / calls;
}

if (import.meta.main) {
  // `deno run`: the allocation report (Deno.bench does nothing here).
  const rows: [string, Registered, () => void][] = [
    ["telemetry: false (no-op)", "none", disabled],
    ["telemetry on, OpenTelemetry inactive", "none", enabled],
    ["telemetry on, SDK metrics only", "metrics", enabled],
    ["telemetry on, SDK traces only (span + inject)", "traces", enabled],
    ["telemetry on, SDK traces and metrics", "both", enabled],
  ];
  const empty = bytesPerCall(() => {}, 200_000);
  console.log("Heap bytes allocated per request by the telemetry hooks");
  console.log("(an empty loop's own, subtracted: %s B/call)", empty.toFixed(2));
  for (const [name, wanted, fn] of rows) {
    use(wanted);
    const calls = wanted === "none" ? 1_000_000 : 50_000;
    const raw = bytesPerCall(fn, calls);
    const bytes = Math.max(0, raw - empty);
    console.log(
      `  ${name.padEnd(48)} ${bytes.toFixed(1).padStart(8)} B` +
        `  (measured ${raw.toFixed(1)})`,
    );
  }
  use("none");
  void sent;
}
