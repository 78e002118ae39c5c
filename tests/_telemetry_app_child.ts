// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Run by tests/telemetry_test.ts in a subprocess: an application that pins
 * `@opentelemetry/api` to the version its SDK accepts and registers that SDK,
 * while `_telemetry.ts` imports the API by the bare name, mapped to a caret
 * range. Prints, as JSON, whether both see one copy of the API and the spans
 * the application's exporter received.
 *
 * @module
 */

// The application's own pins, written as an application would write them.
import { trace } from "npm:@opentelemetry/api@1.9.1";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from "npm:@opentelemetry/sdk-trace-base@2.12.1";
import { trace as libraryTrace } from "@opentelemetry/api";
import { createTelemetry } from "../_telemetry.ts";

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const registered = trace.setGlobalTracerProvider(provider);

const request = createTelemetry().startRequest(
  { method: "GET", url: new URL("http://127.0.0.1:9/"), fields: [] },
  0,
  undefined,
);
request.end({
  status: 204,
  protocol: "1.1",
  reused: false,
  pipelinedAhead: 0,
  queueWait: 0,
});

console.log(JSON.stringify({
  registered,
  sameApi: libraryTrace === trace,
  spans: exporter.getFinishedSpans().map((span) => span.name),
}));
await provider.forceFlush();
await provider.shutdown();
