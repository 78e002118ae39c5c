// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * One benchmark row, run alone in its own process so that CPU time and peak
 * memory belong to one client: `bench/compare.ts` spawns it with a JSON
 * {@linkcode WorkerConfig} as the only argument, and it prints one JSON
 * {@linkcode WorkerResult} line on stdout.
 *
 * The load is `concurrency` loops, each sending the next request as soon as
 * the previous one's body has been read. A warm-up phase runs first and is
 * not measured (its connections stay open and are reused). The measured
 * phase ends after `durationMs` or `maxRequests`, whichever comes first.
 *
 * Each response counts only if it is what the workload serves: a 2xx status
 * and, when `expect` is given, a `content-type`, the body length of
 * `expect.bytes` and, for `/api`, an `x-request-id`. Anything else is an
 * error, so a client that skipped work (or a ceiling client that misparsed)
 * cannot post a figure. With `expect.protocol`, a client that can tell its
 * protocol (pooled-fetch, from `stats()`) must have spoken that one, or the
 * row fails; the driver checks the others from the server's side.
 *
 * @module
 */

import process from "node:process";
import {
  type BenchClient,
  type ClientSpec,
  openClient,
  type RequestSpec,
} from "./_clients.ts";

/** What one worker runs. */
export interface WorkerConfig {
  /** The client and its settings. */
  client: ClientSpec;
  /** The request sent over and over. */
  request: { url: string; method?: string; bodyBytes?: number };
  /** Requests kept in flight. */
  concurrency: number;
  /** Unmeasured warm-up, in milliseconds. */
  warmupMs: number;
  /** Measured phase length, in milliseconds. */
  durationMs: number;
  /** Most requests in the measured phase. */
  maxRequests: number;
  /** Path of a PEM CA certificate to trust, for TLS. */
  caFile?: string;
  /** What every response must carry. */
  expect?: {
    /** Body length in bytes. */
    bytes: number;
    /** Whether an `x-request-id` field must be there. */
    requestId: boolean;
    /** The protocol the connections must speak (`h2` or `http/1.1`). */
    protocol?: string;
  };
}

/** What one worker reports. */
export interface WorkerResult {
  /** Whether the row completed. */
  ok: boolean;
  /** Why it did not, or the last request error. */
  error?: string;
  /** Successful requests in the measured phase. */
  requests: number;
  /** Failed requests (thrown, or non-2xx) in both phases. */
  errors: number;
  /** Measured phase length, in milliseconds. */
  elapsedMs: number;
  /** Successful requests per second. */
  rps: number;
  /** Median latency, in milliseconds. */
  p50Ms: number;
  /** 99th percentile latency, in milliseconds. */
  p99Ms: number;
  /** Client CPU time (user + system) per request, in microseconds. */
  cpuUsPerReq: number;
  /** Highest sampled resident set size, in bytes. */
  peakRssBytes: number;
  /** Connections the client says it opened, when it can tell. */
  clientConnections?: number;
  /** The protocol the client says it spoke, when it can tell. */
  clientProtocol?: string;
}

/** Log-scale latency histogram with 1% resolution, in microseconds. */
class Histogram {
  #buckets = new Float64Array(2400);
  #count = 0;
  add(ms: number): void {
    const us = Math.max(1, ms * 1000);
    const i = Math.min(
      this.#buckets.length - 1,
      Math.floor(Math.log(us) * 100),
    );
    this.#buckets[i]!++;
    this.#count++;
  }
  /** The `q` quantile, in milliseconds. */
  quantile(q: number): number {
    if (this.#count === 0) return NaN;
    const target = Math.ceil(q * this.#count);
    let seen = 0;
    for (let i = 0; i < this.#buckets.length; i++) {
      seen += this.#buckets[i]!;
      if (seen >= target) return Math.exp((i + 0.5) / 100) / 1000;
    }
    return NaN;
  }
}

const MAX_ERRORS = 1000;

async function run(config: WorkerConfig): Promise<WorkerResult> {
  const { concurrency, warmupMs, durationMs, maxRequests, caFile, expect } =
    config;
  const expectBytes = expect?.bytes ?? -1;
  const expectId = expect?.requestId ?? false;
  let peakRss = Deno.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }, 20);
  const caCert = caFile ? await Deno.readTextFile(caFile) : undefined;
  const req: RequestSpec = {
    url: config.request.url,
    method: config.request.method ?? "GET",
    ...(config.request.bodyBytes
      ? { body: new Uint8Array(config.request.bodyBytes).fill(0x62) }
      : {}),
  };
  let client: BenchClient | undefined;
  let errors = 0;
  let lastError: string | undefined;
  try {
    client = await openClient({ ...config.client, caCert }, req);
    const c = client;
    const phase = async (ms: number, limit: number, hist?: Histogram) => {
      const until = performance.now() + ms;
      let issued = 0;
      let done = 0;
      const loop = async () => {
        while (performance.now() < until && issued < limit) {
          issued++;
          const t0 = performance.now();
          try {
            const res = await c.request();
            const { status } = res;
            if (
              status >= 200 && status < 300 &&
              (expectBytes < 0 ||
                (res.bytes === expectBytes && res.contentType !== null &&
                  (!expectId || res.requestId !== null)))
            ) {
              hist?.add(performance.now() - t0);
              done++;
            } else {
              errors++;
              lastError = `Unexpected response: status ${status}, ` +
                `content-type ${res.contentType}, x-request-id ${res.requestId}, ${res.bytes} bytes`;
            }
          } catch (e) {
            errors++;
            lastError = e instanceof Error
              ? `${e.name}: ${e.message}${
                e.cause ? ` (cause: ${e.cause})` : ""
              }`
              : String(e);
          }
          if (errors > MAX_ERRORS) {
            throw new Error(`Too many errors: ${lastError}`);
          }
        }
      };
      await Promise.all(Array.from({ length: concurrency }, loop));
      return done;
    };
    await phase(warmupMs, Math.max(concurrency, maxRequests / 10));
    const hist = new Histogram();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const requests = await phase(durationMs, maxRequests, hist);
    const elapsedMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
    const clientConnections = client.connectionsOpened();
    const clientProtocol = client.protocol?.();
    let problem = await client.check?.();
    if (
      problem === undefined && expect?.protocol !== undefined &&
      clientProtocol !== undefined && clientProtocol !== expect.protocol
    ) {
      problem = `The client spoke ${clientProtocol}, not ${expect.protocol}`;
    }
    if (problem !== undefined) lastError = problem;
    return {
      ok: requests > 0 && problem === undefined,
      ...(lastError ? { error: lastError } : {}),
      requests,
      errors,
      elapsedMs,
      rps: requests / (elapsedMs / 1000),
      p50Ms: hist.quantile(0.5),
      p99Ms: hist.quantile(0.99),
      cpuUsPerReq: requests > 0 ? (cpu.user + cpu.system) / requests : NaN,
      peakRssBytes: peakRss,
      ...(clientConnections !== undefined ? { clientConnections } : {}),
      ...(clientProtocol !== undefined ? { clientProtocol } : {}),
    };
  } catch (e) {
    return {
      ok: false,
      error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
      requests: 0,
      errors,
      elapsedMs: 0,
      rps: 0,
      p50Ms: NaN,
      p99Ms: NaN,
      cpuUsPerReq: NaN,
      peakRssBytes: peakRss,
    };
  } finally {
    clearInterval(sampler);
    await client?.close().catch(() => {});
  }
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0] ?? "{}") as WorkerConfig;
  // Hard stop, in case a client hangs: report and exit.
  const deadline = setTimeout(() => {
    console.log(JSON.stringify({ ok: false, error: "Worker timed out" }));
    Deno.exit(3);
  }, config.warmupMs + config.durationMs + 20_000);
  const result = await run(config);
  clearTimeout(deadline);
  console.log(JSON.stringify(result));
  // Exit now: a client may keep timers or sockets alive after close().
  Deno.exit(0);
}
