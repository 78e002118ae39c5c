// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The OpenTelemetry SDK in memory, for tests: {@linkcode withSdk} registers a
 * tracer provider whose spans land in an `InMemorySpanExporter`, a meter
 * provider read by hand (no timer), the W3C trace-context propagator and
 * Deno's context manager, runs the test body, then unregisters it all and
 * shuts it down without leaving a timer behind.
 *
 * ```ts ignore
 * await withSdk(async ({ spans, points }) => {
 *   // ... make requests ...
 *   assertEquals(spans()[0].name, "GET");
 *   assertEquals(valueOf(await points("http.client.open_connections"), {
 *     "http.connection.state": "idle",
 *   }), 0);
 * });
 * ```
 *
 * @module
 */

import { assert } from "@std/assert";
import {
  type Attributes,
  context,
  type ContextManager,
  metrics,
  propagation,
  trace,
} from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { MeterProvider, MetricReader } from "@opentelemetry/sdk-metrics";

/** A reader the test collects from by hand: no timers to leak. */
class ManualReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** One data point: a number for sums, `{ count, sum }` for histograms. */
export interface Point {
  /** The point's attributes. */
  attributes: Attributes;
  /** A sum's value, or a histogram's count. */
  value: number;
  /** A histogram's count. */
  count?: number;
  /** A histogram's sum. */
  sum?: number;
}

/** What a test body gets from {@linkcode withSdk}. */
export interface Sdk {
  /** The spans ended so far, in the order they ended. */
  spans(): ReadableSpan[];
  /** Collects the metrics now and returns the points of metric `name`. */
  points(name: string): Promise<Point[]>;
}

/**
 * Registers an SDK (tracer, meter, W3C propagator, Deno's context manager)
 * for the duration of `fn`, then unregisters and shuts it all down.
 */
export async function withSdk(
  fn: (sdk: Sdk) => Promise<void> | void,
): Promise<void> {
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const reader = new ManualReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  // Deno's own context manager works without OTEL_DENO and follows awaits.
  context.setGlobalContextManager(
    Deno.telemetry.contextManager as unknown as ContextManager,
  );
  trace.setGlobalTracerProvider(tracerProvider);
  metrics.setGlobalMeterProvider(meterProvider);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const points = async (name: string): Promise<Point[]> => {
    const { resourceMetrics } = await reader.collect();
    const out: Point[] = [];
    for (const scope of resourceMetrics.scopeMetrics) {
      for (const metric of scope.metrics) {
        if (metric.descriptor.name !== name) continue;
        for (const point of metric.dataPoints) {
          const value = point.value;
          out.push(
            typeof value === "number"
              ? { attributes: point.attributes, value }
              : {
                attributes: point.attributes,
                value: value.count,
                count: value.count,
                sum: value.sum,
              },
          );
        }
      }
    }
    return out;
  };
  try {
    await fn({ spans: () => exporter.getFinishedSpans(), points });
  } finally {
    trace.disable();
    metrics.disable();
    propagation.disable();
    context.disable();
    // InMemorySpanExporter settles each export on a 0 ms timer, and a
    // processor's shutdown() does not wait for exports still pending:
    // flush first, so that no timer outlives the test.
    await tracerProvider.forceFlush();
    await tracerProvider.shutdown();
    await meterProvider.shutdown();
  }
}

/** The value of the one point whose attributes include `match`. */
export function valueOf(
  points: Point[],
  match: Attributes,
): number | undefined {
  const found = points.filter((point) =>
    Object.entries(match).every(([key, value]) =>
      point.attributes[key] === value
    )
  );
  assert(found.length <= 1, `several points match ${JSON.stringify(match)}`);
  return found[0]?.value;
}
