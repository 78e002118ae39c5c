// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Run by tests/telemetry_client_test.ts in a subprocess with
 * `OTEL_DENO=true`. Under one root span it requests each URL given as an
 * argument twice: with the built-in `fetch`, then with our client (neither
 * sets a header: the server tells them apart by `user-agent`). It then
 * closes the client and lets a few periodic metric exports happen; Deno
 * exports the spans, and the metrics, to the test's OTLP receiver.
 *
 * @module
 */

import { trace } from "@opentelemetry/api";
import { createClient } from "../mod.ts";

const client = createClient();
const tracer = trace.getTracer("e2e-test");
await tracer.startActiveSpan("e2e-root", async (root) => {
  try {
    for (const url of Deno.args) {
      const builtin = await fetch(url);
      await builtin.body?.cancel();
      const ours = await client.fetch(url);
      await ours.body?.cancel();
    }
  } finally {
    root.end();
  }
});
await client.close();

// Deno reads observable instruments only at its periodic exports (the test
// sets OTEL_METRIC_EXPORT_INTERVAL=100), not at exit: let a few happen, the
// last ones after close(), when no connection is open any more.
await new Promise((resolve) => setTimeout(resolve, 500));
