// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Side-by-side benchmark driver (`deno task bench`): pooled-fetch against the
 * built-in `fetch`, the built-in `fetch` with its own `Deno.HttpClient`, and
 * undici's `Pool`, on the same workloads, against the same server.
 *
 * The driver spawns the server (`bench/_server.ts`) in its own process once,
 * then one process per row (`bench/_worker.ts`), so each row's CPU time and
 * peak memory belong to one client alone. The server counts the connections
 * it accepts for each row.
 *
 * Flags:
 * - `--quick`: shorter rows (about 30 s in all).
 * - `--json`: print the rows as JSON instead of a table.
 * - `--url http://host:port`: use another server (it must serve `/small`
 *   and `/64k`); TLS rows are skipped and connection counts show `n/a`.
 * - `--only <substring>`: run the rows whose `workload · client` name
 *   contains it (repeatable); the built-in fetch row of each chosen workload
 *   always runs, for the ratio.
 * - `--duration <ms>`: measured time per row.
 * - `--runs <n>`: run each row n times and keep the run with the median
 *   req/s (for a noisy machine).
 *
 * @module
 */

import type { ClientSpec } from "./_clients.ts";
import type { WorkerConfig, WorkerResult } from "./_worker.ts";
import { ServerProcess } from "./_server_process.ts";

/** One workload: what is requested, how many at once. */
interface Workload {
  name: string;
  path: string;
  concurrency: number;
  tls?: boolean;
}

/** One row: a workload run by one client. */
interface Row {
  workload: Workload;
  label: string;
  client: ClientSpec;
  baseline?: boolean;
}

/** A finished row, as printed by `--json`. */
export interface RowResult extends WorkerResult {
  workload: string;
  client: string;
  /** Connections the server accepted during the row, if known. */
  connections: number | null;
  /** req/s divided by the built-in fetch's in the same workload. */
  ratio: number | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function log(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

function parseArgs(args: string[]) {
  const opts = {
    quick: false,
    json: false,
    url: undefined as string | undefined,
    only: [] as string[],
    duration: undefined as number | undefined,
    runs: 1,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--quick") opts.quick = true;
    else if (a === "--json") opts.json = true;
    else if (a === "--url") opts.url = args[++i];
    else if (a === "--only") opts.only.push(args[++i] ?? "");
    else if (a === "--duration") opts.duration = Number(args[++i]);
    else if (a === "--runs") opts.runs = Number(args[++i]);
    else if (a === "--help" || a === "-h") {
      log(
        "Usage: deno task bench [--quick] [--json] [--url http://host:port] [--only substring] [--duration ms] [--runs n]",
      );
      Deno.exit(0);
    } else throw new TypeError(`Cannot run bench as the flag is unknown: ${a}`);
  }
  if (opts.url !== undefined && !/^http:\/\/[^/]+\/?$/.test(opts.url)) {
    throw new TypeError(
      `Cannot run bench as '--url' must look like http://host:port: current value is ${opts.url}`,
    );
  }
  if (!(Number.isInteger(opts.runs) && opts.runs >= 1 && opts.runs <= 9)) {
    throw new RangeError(
      `Cannot run bench as '--runs' must be an integer from 1 to 9: current value is ${opts.runs}`,
    );
  }
  if (
    opts.duration !== undefined &&
    !(Number.isFinite(opts.duration) && opts.duration > 0 &&
      opts.duration <= 60_000)
  ) {
    throw new RangeError(
      `Cannot run bench as '--duration' must be 1 to 60000 ms: current value is ${opts.duration}`,
    );
  }
  return opts;
}

/** The rows, in order. */
function plan(tlsAvailable: boolean): Row[] {
  const rows: Row[] = [];
  const keepAlive: Workload[] = [
    { name: "small c=1", path: "/small", concurrency: 1 },
    { name: "small c=16", path: "/small", concurrency: 16 },
    { name: "small c=64", path: "/small", concurrency: 64 },
    { name: "64KiB c=16", path: "/64k", concurrency: 16 },
  ];
  for (const w of keepAlive) {
    const c = w.concurrency;
    rows.push(
      {
        workload: w,
        label: "fetch (built-in)",
        client: { kind: "fetch" },
        baseline: true,
      },
      {
        workload: w,
        label: `fetch + HttpClient(idle ${c})`,
        client: { kind: "fetch-client", connections: c },
      },
      {
        workload: w,
        label: `pooled-fetch ${c}x1`,
        client: { kind: "pooled", connections: c, pipelining: 1 },
      },
      {
        workload: w,
        label: "pooled-fetch 8x8 pipelined",
        client: { kind: "pooled", connections: 8, pipelining: 8 },
      },
      {
        workload: w,
        label: `undici Pool ${c}x1`,
        client: { kind: "undici", connections: c, pipelining: 1 },
      },
      {
        workload: w,
        label: "undici Pool 8x8 pipelined",
        client: { kind: "undici", connections: 8, pipelining: 8 },
      },
    );
    if (c === 64) {
      // The same 64 requests in flight on fewer, deeper pipelines: with
      // pipelining, more connections bring no gain.
      rows.push(
        {
          workload: w,
          label: "pooled-fetch 2x32 pipelined",
          client: { kind: "pooled", connections: 2, pipelining: 32 },
        },
        {
          workload: w,
          label: "undici Pool 2x32 pipelined",
          client: { kind: "undici", connections: 2, pipelining: 32 },
        },
      );
    }
  }
  const pipe: Workload = {
    name: "1 pipelined conn vs 16 conns, small c=16",
    path: "/small",
    concurrency: 16,
  };
  rows.push(
    {
      workload: pipe,
      label: "fetch (built-in)",
      client: { kind: "fetch" },
      baseline: true,
    },
    {
      workload: pipe,
      label: "pooled-fetch 1x16 pipelined",
      client: { kind: "pooled", connections: 1, pipelining: 16 },
    },
    {
      workload: pipe,
      label: "pooled-fetch 16x1",
      client: { kind: "pooled", connections: 16, pipelining: 1 },
    },
    {
      workload: pipe,
      label: "undici Pool 1x16 pipelined",
      client: { kind: "undici", connections: 1, pipelining: 16 },
    },
    {
      workload: pipe,
      label: "undici Pool 16x1",
      client: { kind: "undici", connections: 16, pipelining: 1 },
    },
  );
  if (tlsAvailable) {
    const tlsRows: Workload[] = [
      {
        name: "TLS keep-alive, small c=16",
        path: "/small",
        concurrency: 16,
        tls: true,
      },
      {
        name: "TLS new connection per request, small c=16",
        path: "/small?close",
        concurrency: 16,
        tls: true,
      },
    ];
    for (const w of tlsRows) {
      rows.push(
        {
          workload: w,
          label: "fetch (built-in)",
          client: { kind: "fetch" },
          baseline: true,
        },
        {
          workload: w,
          label: "pooled-fetch 16x1",
          client: { kind: "pooled", connections: 16, pipelining: 1 },
        },
      );
    }
  }
  return rows;
}

async function runWorker(
  config: WorkerConfig,
  netHost: string,
): Promise<WorkerResult> {
  const args = [
    "run",
    "--no-prompt",
    `--allow-net=${netHost}`,
    // undici reads environment variables (e.g. JEST_WORKER_ID) at load.
    ...(config.client.kind === "undici" ? ["--allow-env"] : []),
    ...(config.caFile ? [`--allow-read=${config.caFile}`] : []),
    // The plain built-in fetch can only trust the test CA through `--cert`.
    ...(config.caFile && config.client.kind === "fetch")
      ? [`--cert=${config.caFile}`]
      : [],
    new URL("./_worker.ts", import.meta.url).pathname,
    JSON.stringify(config),
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    config.warmupMs + config.durationMs + 30_000,
  );
  const out = await child.output();
  clearTimeout(timer);
  const lines = decoder.decode(out.stdout).trim().split("\n");
  try {
    return JSON.parse(lines.at(-1) ?? "") as WorkerResult;
  } catch {
    const err = decoder.decode(out.stderr).trim().split("\n").slice(-3).join(
      " | ",
    );
    return {
      ok: false,
      error: `Worker failed (exit ${out.code}): ${err}`,
      requests: 0,
      errors: 0,
      elapsedMs: 0,
      rps: 0,
      p50Ms: NaN,
      p99Ms: NaN,
      cpuUsPerReq: NaN,
      peakRssBytes: NaN,
    };
  }
}

/** The 1-minute load average, if `--allow-sys` allows reading it. */
function loadAverage(): number | undefined {
  try {
    return Deno.loadavg()[0];
  } catch {
    return undefined;
  }
}

function fmtNum(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "n/a";
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

function table(results: RowResult[]): string {
  const head = [
    "Workload",
    "Client",
    "req/s",
    "× fetch",
    "p50 ms",
    "p99 ms",
    "CPU µs/req",
    "peak RSS MiB",
    "conns",
  ];
  const body = results.map((r) => [
    r.workload,
    r.client + (r.ok ? "" : ` (FAILED: ${r.error ?? "?"})`),
    fmtNum(r.rps),
    r.ratio === null ? "n/a" : `${fmtNum(r.ratio, 2)}×`,
    fmtNum(r.p50Ms, 2),
    fmtNum(r.p99Ms, 2),
    fmtNum(r.cpuUsPerReq, 1),
    fmtNum(r.peakRssBytes / 2 ** 20, 1),
    r.connections === null ? "n/a" : String(r.connections),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => b[i]!.length))
  );
  const right = [false, false, true, true, true, true, true, true, true];
  const fmtRow = (cells: string[]) =>
    "| " +
    cells.map((c, i) =>
      right[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)
    ).join(" | ") +
    " |";
  const sep = "| " +
    widths.map((w, i) => right[i] ? "-".repeat(w - 1) + ":" : "-".repeat(w))
      .join(" | ") +
    " |";
  return [fmtRow(head), sep, ...body.map(fmtRow)].join("\n");
}

/**
 * Runs the comparison and prints the table (or JSON with `--json`).
 *
 * @param args Command-line flags, see the module documentation.
 * @returns The finished rows.
 */
export async function main(args: string[] = Deno.args): Promise<RowResult[]> {
  const opts = parseArgs(args);
  const fixtures = new URL("../tests/fixtures/", import.meta.url);
  const caFile = new URL("ca.pem", fixtures).pathname;
  let tlsAvailable = false;
  if (opts.url === undefined) {
    try {
      for (const f of ["server.pem", "server-key.pem", "ca.pem"]) {
        await Deno.stat(new URL(f, fixtures));
      }
      tlsAvailable = true;
    } catch {
      log("TLS fixtures missing in tests/fixtures/: TLS rows skipped");
    }
  }
  const warmupMs = opts.quick ? 150 : 300;
  const durationMs = opts.duration ?? (opts.quick ? 500 : 2000);
  const maxRequests = 2_000_000;

  let rows = plan(tlsAvailable);
  if (opts.only.length > 0) {
    const chosen = rows.filter((r) =>
      opts.only.some((s) => `${r.workload.name} · ${r.label}`.includes(s))
    );
    const workloads = new Set(chosen.map((r) => r.workload));
    rows = rows.filter((r) =>
      chosen.includes(r) || (r.baseline && workloads.has(r.workload))
    );
  }

  let server: ServerProcess | undefined;
  let base: string;
  let tlsBase: string | undefined;
  if (opts.url === undefined) {
    server = await ServerProcess.start(tlsAvailable);
    base = `http://127.0.0.1:${server.port}`;
    if (server.tlsPort) tlsBase = `https://127.0.0.1:${server.tlsPort}`;
  } else {
    base = opts.url.replace(/\/$/, "");
  }
  const netHost = opts.url === undefined ? "127.0.0.1" : new URL(base).host;

  const load = loadAverage();
  log(
    `${rows.length} rows x ${opts.runs} run(s), ${warmupMs} ms warm-up + ${durationMs} ms each; ` +
      `${navigator.hardwareConcurrency} cores, load average ${
        load?.toFixed(2) ?? "n/a"
      }`,
  );
  if (load !== undefined && load > 0.5) {
    log("Warning: the machine is busy; figures will be noisy");
  }
  const results: RowResult[] = [];
  const started = performance.now();
  try {
    for (const [i, row] of rows.entries()) {
      const url = (row.workload.tls ? tlsBase! : base) + row.workload.path;
      const config: WorkerConfig = {
        client: row.client,
        request: { url },
        concurrency: row.workload.concurrency,
        warmupMs,
        durationMs,
        maxRequests,
        ...(row.workload.tls ? { caFile } : {}),
      };
      const runs: [WorkerResult, number | null][] = [];
      for (let k = 0; k < opts.runs; k++) {
        await server?.reset();
        const run = await runWorker(config, netHost);
        runs.push([run, server ? await server.reset() : null]);
      }
      runs.sort((a, b) => a[0].rps - b[0].rps);
      const [r, connections] = runs[Math.floor((runs.length - 1) / 2)]!;
      results.push({
        ...r,
        workload: row.workload.name,
        client: row.label,
        connections,
        ratio: null,
      });
      log(
        `[${i + 1}/${rows.length}] ${row.workload.name} · ${row.label}: ${
          r.ok
            ? `${fmtNum(r.rps)} req/s, p99 ${fmtNum(r.p99Ms, 2)} ms`
            : `FAILED ${r.error}`
        }${r.ok && r.errors ? ` (${r.errors} errors: ${r.error})` : ""}`,
      );
    }
  } finally {
    await server?.stop();
  }
  for (const r of results) {
    const b = results.find((x) =>
      x.workload === r.workload && x.client === "fetch (built-in)"
    );
    r.ratio = b && b.ok && r.ok ? r.rps / b.rps : null;
  }
  log(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (opts.json) {
    console.log(JSON.stringify(
      {
        deno: Deno.version.deno,
        cores: navigator.hardwareConcurrency,
        loadAverage: load ?? null,
        warmupMs,
        durationMs,
        runs: opts.runs,
        server: opts.url ?? "bench/_server.ts",
        rows: results,
      },
      null,
      2,
    ));
  } else {
    console.log(table(results));
  }
  return results;
}

if (import.meta.main) await main();
