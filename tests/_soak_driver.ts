// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The soak driver, shared by `tests/soak.ts` (the long run) and
 * `tests/soak_test.ts` (a short run in the test suite): many concurrent GETs
 * and POSTs through one client against the fault-injecting server of
 * `_soak_server.ts`, every outcome checked and classified.
 *
 * Invariants (all must be 0):
 * - duplicate POSTs: a POST (no Idempotency-Key) the server read twice;
 * - lost GETs: a GET that never settled, got a body that is not its own, or
 *   failed with something other than a `TypeError`;
 * - desyncs and corrupt bodies, for any method; "phantom" responses (a 200
 *   the client accepted for a request the server never read).
 *
 * A POST that fails after it was written is not retried, by design: it is
 * counted as a failure by cause, not as lost.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { pooledMap } from "@std/async/pool";
import { type ClientStats, createClient } from "../mod.ts";
import { soakBody, type SoakServerReport } from "./_soak_server.ts";

/** Options of {@linkcode runSoak}. */
export interface SoakOptions {
  /** The server's port on 127.0.0.1. */
  port: number;
  /** Asks the server what it saw. */
  report(): Promise<SoakServerReport>;
  /** Requests to issue at most. */
  requests: number;
  /** Seconds to keep issuing requests at most. */
  seconds: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** Share of POSTs among the requests. */
  postRatio: number;
  /**
   * Share of requests given a signal that aborts 1–50 ms after the request
   * starts (its reason must be what the request rejects with, if it does).
   * Default 0.02.
   */
  abortRatio?: number;
  /** The client's `pipelining`. */
  pipelining: number;
  /** The client's `maxConnectionsPerOrigin`. */
  connections: number;
  /** Milliseconds after which a request that has not settled counts as hung. */
  hangMs?: number;
  /** Called about once a second with progress and the client's stats. */
  onProgress?: (done: number, elapsedMs: number, stats: ClientStats) => void;
}

/** What a soak run found. */
export interface SoakReport {
  /** The options, less the functions. */
  config: Record<string, number>;
  /** Milliseconds from the first request to the last settling. */
  durationMs: number;
  /** Requests issued, settled, by method. */
  requests: { issued: number; settled: number; get: number; post: number };
  /** Settled requests per second. */
  throughput: number;
  /** Milliseconds from issue to settling (body read included). */
  latency: { p50: number; p99: number; max: number };
  /** Requests that took longer than 5 s to settle, with examples. */
  slow: { count: number; examples: string[] };
  /** Responses by method and status (with the right body). */
  responses: Record<string, number>;
  /** Failures by method and cause. */
  failures: Record<string, number>;
  /** Invariants; every one must be 0. */
  invariants: {
    duplicatePosts: number;
    lostGets: number;
    hung: number;
    desynced: number;
    corrupt: number;
    phantom: number;
    nonTypeErrors: number;
    serverBodyMismatches: number;
    serverMalformed: number;
  };
  /** POSTs that failed although the server read them (allowed: not retried). */
  postsFailedAfterServerRead: number;
  /** POSTs that failed before the server read them. */
  postsFailedUnread: number;
  /** Memory of this process, in MiB. */
  memory: {
    peakRss: number;
    rssAfterWarmup: number;
    rssEnd: number;
    externalAfterWarmup: number;
    externalEnd: number;
    heapAfterWarmup: number;
    heapEnd: number;
    gcAvailable: boolean;
    flat: boolean;
  };
  /** The client's statistics totals at the end. */
  client: Record<string, unknown>;
  /** What the server saw: connections, faults and response shapes. */
  server: { connections: number; actions: Record<string, number> };
  /** A few examples of violations, for debugging. */
  examples: string[];
  /** Whether every invariant held. */
  ok: boolean;
}

const MIB = 1024 * 1024;
const BODY = /^id=(\d+);m=([A-Z]+);n=(\d+);/;

function gc(): boolean {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) return false;
  collect();
  return true;
}

/** Names a failure: exhausted or not, the stage, the root cause's name. */
export function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return `non-error ${String(error)}`;
  const exhausted = /failed after \d+ attempts/.test(error.message);
  let stage: string | undefined;
  let cur: unknown = error;
  let root: unknown = error;
  for (let depth = 0; depth < 8 && cur !== undefined; depth++) {
    if (typeof cur === "object" && cur !== null && "stage" in cur) {
      stage = String((cur as { stage: unknown }).stage);
    }
    root = cur;
    cur = (cur as { cause?: unknown }).cause;
  }
  let rootName = root instanceof Error ? root.name : typeof root;
  if (root instanceof Error && root.name === "TypeError" && root !== error) {
    rootName = `TypeError(${root.message.slice(0, 40)})`;
  }
  if (root === error && error.name === "TypeError") {
    rootName = `TypeError(${error.message.slice(0, 60)})`;
  }
  return `${exhausted ? "exhausted " : ""}${stage ?? "-"}/${rootName}`;
}

/** Runs the soak and returns what it found. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const {
    port,
    requests,
    seconds,
    concurrency,
    postRatio,
    pipelining,
    connections,
    hangMs = 30_000,
    abortRatio = 0.02,
  } = options;
  const origin = `http://127.0.0.1:${port}`;
  const client = createClient({
    maxConnectionsPerOrigin: connections,
    pipelining,
    headersTimeout: 2000,
    bodyTimeout: 5000,
    retry: { maxAttempts: 4, minDelay: 5, maxDelay: 100, maxRetryAfter: 1000 },
  });

  const responses: Record<string, number> = {};
  const failures: Record<string, number> = {};
  const examples: string[] = [];
  const bump = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };
  const example = (text: string) => {
    if (examples.length < 20) examples.push(text);
  };
  let hung = 0;
  let desynced = 0;
  let corrupt = 0;
  let nonTypeErrors = 0;
  let lostGets = 0;
  let issued = 0;
  let settled = 0;
  let gets = 0;
  let posts = 0;
  /** Ids of requests that got a 200 with their own body, by method. */
  const ok200 = { GET: [] as number[], POST: [] as number[] };
  const failedPosts: number[] = [];
  const latencies: number[] = [];
  const slowMs = 5000;
  let slow = 0;
  const slowExamples: string[] = [];

  // Memory: peak RSS sampled; warm-up value once a fifth of the work is done.
  let peakRss = 0;
  let rssAfterWarmup = 0;
  let heapAfterWarmup = 0;
  let externalAfterWarmup = 0;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }, 250);
  const warmupAt = Math.min(Math.floor(requests / 5), 20_000);
  const start = Date.now();
  const stopIssuingAt = start + seconds * 1000;

  /** Whether request `id` gets an aborting signal (a function of id). */
  const abortsAt = (id: number): number | null =>
    ((id * 40503) >>> 0) % 10_000 < abortRatio * 10_000 ? 1 + (id % 50) : null;

  async function once(id: number, method: "GET" | "POST"): Promise<void> {
    const delay = abortsAt(id);
    if (delay === null) return await attempt(id, method, null);
    const controller = new AbortController();
    const reason = new Error(`soak abort ${id}`);
    const timer = setTimeout(() => controller.abort(reason), delay);
    try {
      await attempt(id, method, { signal: controller.signal, reason });
    } finally {
      clearTimeout(timer);
    }
  }

  async function attempt(
    id: number,
    method: "GET" | "POST",
    abort: { signal: AbortSignal; reason: Error } | null,
  ): Promise<void> {
    const url = `${origin}/s?id=${id}&m=${method}`;
    const init: RequestInit = method === "POST"
      ? {
        method,
        body: JSON.stringify({ id, note: "x".repeat(id % 300) }),
        headers: { "content-type": "application/json" },
      }
      : {};
    if (abort !== null) init.signal = abort.signal;
    let res: Response;
    try {
      res = await client.fetch(url, init);
    } catch (error) {
      if (abort !== null && error === abort.reason) {
        bump(
          responses,
          `${method} aborted (rejected with the signal's reason)`,
        );
        if (method === "POST") failedPosts.push(id);
        return;
      }
      if (!(error instanceof TypeError)) {
        nonTypeErrors++;
        if (method === "GET") lostGets++;
        example(`${method} ${id}: rejected with ${String(error)}`);
      }
      bump(failures, `${method} ${describeFailure(error)}`);
      if (method === "POST") failedPosts.push(id);
      return;
    }
    let text: string;
    try {
      text = await res.text();
    } catch (error) {
      if (method === "POST") failedPosts.push(id);
      if (abort !== null && error === abort.reason) {
        bump(responses, `${method} aborted while reading the body`);
        return;
      }
      if (!(error instanceof TypeError)) {
        nonTypeErrors++;
        example(`${method} ${id}: body failed with ${String(error)}`);
      }
      bump(failures, `${method} body ${describeFailure(error)}`);
      return;
    }
    if (res.status === 408 && text === "") {
      // An idle connection's unsolicited 408 that crossed the request on the
      // wire: the server never read the request (see postsFailedUnread).
      bump(responses, `${method} 408 (unsolicited, empty)`);
      if (method === "POST") failedPosts.push(id);
      return;
    }
    const match = BODY.exec(text);
    if (match === null) {
      corrupt++;
      if (method === "GET") lostGets++;
      example(
        `${method} ${id}: corrupt body ${JSON.stringify(text.slice(0, 80))}`,
      );
      return;
    }
    const n = Number(match[3]);
    if (Number(match[1]) !== id || match[2] !== method) {
      desynced++;
      if (method === "GET") lostGets++;
      example(
        `${method} ${id}: got the body of ${match[2]} ${
          match[1]
        } (status ${res.status})`,
      );
      return;
    }
    if (text !== soakBody(id, method, n)) {
      corrupt++;
      if (method === "GET") lostGets++;
      example(
        `${method} ${id}: body of ${text.length} bytes is not intact (${
          soakBody(id, method, n).length
        } expected; status ${res.status}, content-length ${
          res.headers.get("content-length")
        }, transfer-encoding ${res.headers.get("transfer-encoding")})`,
      );
      return;
    }
    bump(responses, `${method} ${res.status}`);
    if (res.status === 200) ok200[method].push(id);
    else if (method === "POST") failedPosts.push(id);
  }

  async function guarded(id: number, method: "GET" | "POST"): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"hung">((resolve) => {
      timer = setTimeout(() => resolve("hung"), hangMs);
    });
    const began = Date.now();
    const result = await Promise.race([once(id, method), timeout]);
    clearTimeout(timer);
    const took = Date.now() - began;
    latencies.push(took);
    if (took > slowMs) {
      slow++;
      if (slowExamples.length < 10) {
        slowExamples.push(`${method} ${id}: settled after ${took} ms`);
      }
    }
    if (result === "hung") {
      hung++;
      if (method === "GET") lostGets++;
      example(`${method} ${id}: not settled after ${hangMs} ms`);
    }
    settled++;
  }

  // Deterministic mix: the method of id i depends on i only.
  const methodOf = (id: number): "GET" | "POST" =>
    ((id * 2654435761) >>> 0) / 4294967296 < postRatio ? "POST" : "GET";
  let lastProgress = start;
  let warmed = false;
  /** Request ids, until `requests` are issued or the time is up. */
  function* ids(): Generator<number> {
    for (let id = 0; id < requests && Date.now() < stopIssuingAt; id++) {
      yield id;
    }
  }
  async function run(id: number): Promise<void> {
    const method = methodOf(id);
    if (method === "GET") gets++;
    else posts++;
    issued++;
    await guarded(id, method);
    if (!warmed && settled >= warmupAt) {
      warmed = true;
      gc();
      const usage = Deno.memoryUsage();
      rssAfterWarmup = usage.rss;
      heapAfterWarmup = usage.heapUsed;
      externalAfterWarmup = usage.external;
    }
    const now = Date.now();
    if (options.onProgress !== undefined && now - lastProgress >= 1000) {
      lastProgress = now;
      options.onProgress(settled, now - start, client.stats());
    }
  }

  try {
    // `concurrency` requests in flight; the next id is drawn when one ends.
    for await (const _ of pooledMap(concurrency, ids(), run)) {
      // Each request records its own outcome.
    }
  } finally {
    clearInterval(sampler);
  }
  const durationMs = Date.now() - start;
  const finalStats = client.stats();
  const totals = finalStats.totals;
  const pool = finalStats.origins[0];
  // Closing waits for requests in flight: bounded, since one could hang.
  const closed = await deadline(client.close(), 10_000).then(
    () => true,
    (error) => {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        return false;
      }
      throw error;
    },
  );
  if (!closed) example("client.close() did not finish within 10 s");

  const server = await options.report();
  const gcAvailable = gc();
  const end = Deno.memoryUsage();
  peakRss = Math.max(peakRss, end.rss);
  if (rssAfterWarmup === 0) {
    rssAfterWarmup = end.rss;
    heapAfterWarmup = end.heapUsed;
    externalAfterWarmup = end.external;
  }
  latencies.sort((a, b) => a - b);
  const quantile = (q: number) =>
    latencies.length === 0 ? 0 : latencies[
      Math.min(latencies.length - 1, Math.floor(q * latencies.length))
    ];

  let duplicatePosts = 0;
  server.posts.forEach((count, id) => {
    if (count > 1) {
      duplicatePosts++;
      example(`POST ${id}: the server read it ${count} times`);
    }
  });
  let phantom = 0;
  for (const method of ["GET", "POST"] as const) {
    const log = method === "GET" ? server.gets : server.posts;
    for (const id of ok200[method]) {
      if ((log[id] ?? 0) === 0) {
        phantom++;
        example(`${method} ${id}: a 200 for a request the server never read`);
      }
    }
  }
  let postsFailedAfterServerRead = 0;
  for (const id of failedPosts) {
    if ((server.posts[id] ?? 0) > 0) postsFailedAfterServerRead++;
  }
  const invariants = {
    duplicatePosts,
    lostGets,
    hung,
    desynced,
    corrupt,
    phantom,
    nonTypeErrors,
    serverBodyMismatches: server.bodyMismatches,
    serverMalformed: server.malformed,
  };
  const heapEnd = end.heapUsed;
  // Flat: the heap at the end (after GC, all connections closed) is not
  // above the heap after warm-up by more than 50 % + 16 MiB.
  const flat = heapEnd <= heapAfterWarmup * 1.5 + 16 * MIB &&
    end.external <= externalAfterWarmup * 1.5 + 16 * MIB;
  const round = (bytes: number) => Math.round((bytes / MIB) * 10) / 10;
  return {
    config: {
      requests,
      seconds,
      concurrency,
      postRatio,
      abortRatio,
      pipelining,
      connections,
      hangMs,
    },
    durationMs,
    requests: { issued, settled, get: gets, post: posts },
    throughput: Math.round(settled / (durationMs / 1000)),
    latency: { p50: quantile(0.5), p99: quantile(0.99), max: quantile(1) },
    slow: { count: slow, examples: slowExamples },
    responses,
    failures,
    invariants,
    postsFailedAfterServerRead,
    postsFailedUnread: failedPosts.length - postsFailedAfterServerRead,
    memory: {
      peakRss: round(peakRss),
      rssAfterWarmup: round(rssAfterWarmup),
      rssEnd: round(end.rss),
      externalAfterWarmup: round(externalAfterWarmup),
      externalEnd: round(end.external),
      heapAfterWarmup: round(heapAfterWarmup),
      heapEnd: round(heapEnd),
      gcAvailable,
      flat,
    },
    client: {
      ...totals,
      pipeliningSuspensions: pool?.pipeliningSuspensions ?? 0,
      connectFailures: pool?.connectFailures ?? 0,
    },
    server: { connections: server.connections, actions: server.actions },
    examples,
    ok: Object.values(invariants).every((n) => n === 0) && settled === issued &&
      closed,
  };
}

/** Formats a report for people. */
export function formatReport(report: SoakReport): string {
  const lines: string[] = [];
  const { requests, invariants, memory } = report;
  const sorted = (map: Record<string, number>) =>
    Object.entries(map).sort((a, b) => b[1] - a[1]);
  lines.push(
    `soak: ${requests.settled}/${requests.issued} requests settled (${requests.get} GET, ${requests.post} POST) in ${
      (report.durationMs / 1000).toFixed(1)
    } s, ${report.throughput} req/s`,
  );
  lines.push(
    `latency (ms): p50 ${report.latency.p50}, p99 ${report.latency.p99}, max ${report.latency.max}; slower than 5 s: ${report.slow.count}`,
  );
  for (const e of report.slow.examples) lines.push(`  slow: ${e}`);
  lines.push(
    `config: ${
      Object.entries(report.config).map(([k, v]) => `${k}=${v}`).join(" ")
    }`,
  );
  lines.push("invariants (all must be 0):");
  for (const [name, value] of Object.entries(invariants)) {
    lines.push(`  ${value === 0 ? "ok  " : "FAIL"} ${name}: ${value}`);
  }
  lines.push("responses (own body verified):");
  for (const [key, n] of sorted(report.responses)) lines.push(`  ${key}: ${n}`);
  lines.push("failures by cause:");
  for (const [key, n] of sorted(report.failures)) lines.push(`  ${key}: ${n}`);
  lines.push(
    `POSTs failed: ${report.postsFailedAfterServerRead} after the server read them (not retried, by design), ${report.postsFailedUnread} before`,
  );
  lines.push(
    `memory (MiB): peak RSS ${memory.peakRss}; after warm-up RSS ${memory.rssAfterWarmup} heap ${memory.heapAfterWarmup} external ${memory.externalAfterWarmup}; end RSS ${memory.rssEnd} heap ${memory.heapEnd} external ${memory.externalEnd} (${
      memory.gcAvailable ? "after GC" : "no --expose-gc"
    }): ${memory.flat ? "flat" : "GROWING"}`,
  );
  const c = report.client as Record<string, unknown>;
  lines.push(
    `client: ${c.connectionsOpened} connections opened, ${c.requestsSent} requests sent, reuse ${
      Number(c.reuseRatio).toFixed(3)
    }, ${c.requestsPipelined} pipelined, retries ${
      JSON.stringify(c.retries)
    }, retries denied ${c.retriesDenied}, pipelining suspended ${c.pipeliningSuspensions} times, evictions ${
      JSON.stringify(c.evictions)
    }`,
  );
  lines.push(
    `server: ${report.server.connections} connections; ${
      sorted(report.server.actions).map(([k, n]) => `${k} ${n}`).join(", ")
    }`,
  );
  if (report.examples.length > 0) {
    lines.push("examples:");
    for (const e of report.examples) lines.push(`  ${e}`);
  }
  lines.push(report.ok ? "RESULT: ok" : "RESULT: FAILED");
  return lines.join("\n");
}
