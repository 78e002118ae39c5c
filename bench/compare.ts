// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Side-by-side benchmark driver (`deno task bench`): pooled-fetch against the
 * built-in `fetch`, the built-in `fetch` with its own `Deno.HttpClient`,
 * undici's `Pool` and a bare `Deno.connect` client (the ceiling), on the same
 * workloads, against our own server, nginx, or both.
 *
 * Every client reads what a real caller reads: the status, the header fields
 * `content-type` and `x-request-id`, and the whole body (see
 * `bench/_clients.ts`). The bare client (`bench/_bare_client.ts`) does that
 * and no more, with the same number of connections and the same depth as the
 * row it bounds: "% of ceiling" is a row's req/s over the bare client's of
 * the same shape (`connections x depth`) in the same workload, on the same
 * server; "× fetch" is its req/s over the built-in fetch's.
 *
 * The driver spawns each server in its own process once (`bench/_server.ts`,
 * or nginx through `bench/_nginx.ts` with a config of its own in a temporary
 * directory), then one process per row and run (`bench/_worker.ts`), so each
 * row's CPU time and peak memory belong to one client alone. The servers
 * count the connections they accept for each row (column `conns`; on TLS
 * rows also how many of them resumed an earlier TLS session), and the worker
 * checks every response (status, `content-type`, body length, and
 * `x-request-id` on `/api`). Where `taskset` exists, the servers are pinned
 * to one core and the worker to another, so that client and server do not
 * fight over one (on a machine busy with other work, pinning can hurt more
 * than it helps: see `--no-pin`). Servers stop when the driver ends, however
 * it ends (error, Ctrl-C, SIGTERM, even SIGKILL: they stop when their stdin
 * closes).
 *
 * Proxy: the workload "TLS keep-alive through a proxy" sends every request
 * through squid (`bench/_proxy.ts`, which says why squid; found in `PATH`,
 * then `/usr/sbin` and `/usr/local/sbin`; without it the workload is skipped
 * with a note), so every connection is a `CONNECT` tunnel to the server's
 * TLS listener. Its baseline is the built-in fetch through the same proxy,
 * with `Deno.createHttpClient({ proxy: { url }, caCerts })` and that
 * client's own pool settings (`fetch + HttpClient(proxy)`). The proxy runs
 * on the server's core. The workers of these rows may connect to the
 * proxy's port only (the built-in fetch also needs the origin's, which Deno
 * checks before it hands the request to the proxy), and column `conns` adds
 * the tunnels the proxy opened: a row whose server accepted more
 * connections than the proxy opened tunnels fails. There is no bare ceiling
 * through a proxy.
 *
 * HTTP/2: the workloads named "HTTP/2 TLS, ..." (select them with `--only
 * HTTP/2`) run against a TLS port of the same server that offers `h2` and
 * `http/1.1` by ALPN: `Deno.serve` over TLS for our server
 * (`bench/_server_h2.ts`), a `listen ... ssl http2` port for nginx. Their
 * rows: the built-in fetch (the global one with `--cert`, which offers h2 by
 * default: the baseline), pooled-fetch with `http2: true`, and pooled-fetch
 * HTTP/1.1 8x8 pipelined against the same port. Every row must speak the
 * protocol its label says, or it fails: pooled-fetch's `stats()` says which
 * protocol it spoke (the worker checks it), and the server counts the
 * port's connections by the protocol they spoke (nginx logs
 * `$server_protocol` per connection; `Deno.serve`, which does not tell,
 * counts a connection whose first request has no `Host` field as h2, as
 * neither client sends `Host` over h2 and both always do over HTTP/1.1).
 * Column `conns` shows those counts after the connections accepted (nginx:
 * all of them; `Deno.serve`: only those that carried a request, as it
 * cannot tell of the others). The bare client cannot speak h2, so there is
 * no ceiling for these rows ("% of ceiling" is n/a). The `/api` workload
 * over HTTP/2 runs against nginx only: `Deno.serve` over TLS leaves Nagle's
 * algorithm on, and holds every response of about 1 KiB or more (500 bytes
 * over HTTP/1.1) until a delayed ACK, 40 ms later, whatever the client (curl
 * too); small responses fit one segment and are not held.
 *
 * Telemetry: the small c=16 workload also runs pooled-fetch 16x1 with the
 * OpenTelemetry JS SDK registered in memory (every request a span with an
 * injected `traceparent`, and metrics; nothing exported out of the process),
 * beside the plain row, where telemetry is on but OpenTelemetry inactive
 * (the default without `OTEL_DENO`). Their same-run ratio is printed under
 * the table. The hooks alone are timed by `deno bench --allow-env
 * bench/telemetry_bench.ts`, below the noise of a whole-request row.
 *
 * Flags:
 * - `--quick`: shorter rows (about 35 s in all for one server; the full run
 *   takes about 2.5 min per server on 2 cores).
 * - `--server bench|nginx|both`: which server(s) to run the rows against
 *   (default: `bench`). nginx is looked up in `PATH`, then `/usr/sbin` and
 *   `/usr/local/sbin`.
 * - `--json`: print the rows as JSON instead of a table.
 * - `--svg FILE`: also write the results as an SVG bar chart (FILE inside the
 *   project directory: the task may write only there).
 * - `--url http://host:port`: use another server (it must serve `/small`,
 *   `/64k` and `/api`); TLS rows are skipped, responses are not checked for
 *   size and connection counts show `n/a`.
 * - `--only <substring>`: run the rows whose `workload · client` name
 *   contains it (repeatable); the built-in fetch row and the ceiling rows of
 *   the same shapes in each chosen workload always run, for the ratios.
 * - `--duration <ms>`: measured time per row.
 * - `--runs <n>`: run every row n times, in n interleaved rounds (all rows,
 *   then all rows again), and keep each row's run with the median req/s.
 * - `--no-pin`: do not pin the server and the worker to cores.
 *
 * @module
 */

import type { ClientSpec } from "./_clients.ts";
import type { WorkerConfig, WorkerResult } from "./_worker.ts";
import { ServerProcess } from "./_server_process.ts";
import { BenchProxy } from "./_proxy.ts";
import { barChart, panelsOf } from "./_svg.ts";
import { API_BYTES, BIG_BYTES, SMALL_BODY } from "./_payloads.ts";

/** A server the rows run against. */
type ServerKind = "bench" | "nginx";

/** One workload: what is requested, how many at once. */
interface Workload {
  name: string;
  path: string;
  concurrency: number;
  /** Body length of every response. */
  bytes: number;
  /** Whether responses carry `x-request-id` (`/api`). */
  requestId?: boolean;
  tls?: boolean;
  /**
   * Whether the requests go to the server's TLS port that offers `h2` and
   * `http/1.1` by ALPN (needs `tls`); each row must then speak the protocol
   * of {@linkcode protocolOf}.
   */
  h2?: boolean;
  /** Whether every request goes through the proxy (needs `tls`). */
  proxy?: boolean;
  /** The servers it runs against, with why not the others. @default all */
  servers?: { only: ServerKind[]; why: string };
}

/**
 * A client of a workload: its label, its spec, and whether it is the
 * baseline that "× fetch" divides by.
 */
type Entry = [label: string, client: ClientSpec, baseline?: boolean];

/** One row: a workload run by one client against one server. */
interface Row {
  server: ServerKind;
  workload: Workload;
  label: string;
  client: ClientSpec;
  /** `connections x depth`, to find the ceiling row of the same shape. */
  shape: string;
  baseline?: boolean;
}

/** A finished row, as printed by `--json`. */
export interface RowResult extends WorkerResult {
  /** `bench` (bench/_server.ts), `nginx`, or the `--url` given. */
  server: string;
  workload: string;
  client: string;
  /** Connections x requests in flight on each, e.g. `8x8`. */
  shape: string;
  /** Connections the server accepted during the row, if known. */
  connections: number | null;
  /** Of those, TLS connections that resumed a session, if known. */
  tlsResumed: number | null;
  /** Tunnels the proxy opened to the server during the row; null if none. */
  tunnels: number | null;
  /**
   * On the h2 port, the connections the server saw by the protocol they
   * spoke (`h2`, `http/1.1`); null on other workloads.
   */
  protocols: Record<string, number> | null;
  /**
   * req/s divided by the baseline's in the same workload: the built-in
   * fetch's (through a proxy, the built-in fetch's through that proxy).
   */
  ratio: number | null;
  /** req/s of the bare client of the same shape in the same workload. */
  ceilingRps: number | null;
  /** req/s divided by `ceilingRps`. */
  ofCeiling: number | null;
  /** req/s of every run, in run order. */
  runsRps: number[];
}

/**
 * The cost of telemetry in one workload on one server: the row with the
 * OpenTelemetry SDK active beside the plain row of the same shape, where it
 * is inactive.
 */
export interface TelemetryCost {
  server: string;
  workload: string;
  /** The plain row (telemetry on, OpenTelemetry inactive). */
  inactive: string;
  /** The row with the SDK registered in memory. */
  active: string;
  inactiveRps: number;
  activeRps: number;
  /** `activeRps / inactiveRps`. */
  ratio: number;
  inactiveCpuUsPerReq: number;
  activeCpuUsPerReq: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BUILTIN = "fetch (built-in)";
/** The baseline of the HTTP/2 workloads. */
const BUILTIN_H2 = "fetch (built-in) over h2";
/** The baseline of the proxy workload. */
const BUILTIN_PROXY = "fetch + HttpClient(proxy)";
const TELEMETRY_ACTIVE = ", telemetry active (SDK in memory)";

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
    servers: ["bench"] as ServerKind[],
    svg: undefined as string | undefined,
    pin: true,
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--quick") opts.quick = true;
    else if (a === "--json") opts.json = true;
    else if (a === "--url") opts.url = args[++i];
    else if (a === "--only") opts.only.push(args[++i] ?? "");
    else if (a === "--duration") opts.duration = Number(args[++i]);
    else if (a === "--runs") opts.runs = Number(args[++i]);
    else if (a === "--svg") opts.svg = args[++i];
    else if (a === "--no-pin") opts.pin = false;
    else if (a === "--server") {
      const v = args[++i];
      if (v === "bench" || v === "nginx") opts.servers = [v];
      else if (v === "both") opts.servers = ["bench", "nginx"];
      else {
        throw new TypeError(
          `Cannot run bench as '--server' must be bench, nginx or both: current value is ${v}`,
        );
      }
    } else if (a === "--help" || a === "-h") {
      log(
        "Usage: deno task bench [--quick] [--server bench|nginx|both] [--json] [--svg file] " +
          "[--url http://host:port] [--only substring] [--duration ms] [--runs n] [--no-pin]",
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
  if (opts.svg !== undefined && !opts.svg.endsWith(".svg")) {
    throw new TypeError(
      `Cannot run bench as '--svg' must name a .svg file: current value is ${opts.svg}`,
    );
  }
  return opts;
}

const SMALL_BYTES = SMALL_BODY.length;

/** The workloads, in order, each with its clients. */
function workloads(
  tlsAvailable: boolean,
  proxyAvailable: boolean,
): [Workload, Entry[]][] {
  const fetchClient = (c: number): Entry => [
    `fetch + HttpClient(idle ${c})`,
    { kind: "fetch-client", connections: c },
  ];
  const pooled = (n: number, d: number): Entry => [
    `pooled-fetch ${n}x${d}${d > 1 ? " pipelined" : ""}`,
    { kind: "pooled", connections: n, pipelining: d },
  ];
  // The same client with the OpenTelemetry SDK registered (bench/_clients.ts).
  const traced = (n: number, d: number): Entry => [
    `pooled-fetch ${n}x${d}${d > 1 ? " pipelined" : ""}${TELEMETRY_ACTIVE}`,
    { kind: "pooled", connections: n, pipelining: d, telemetry: "sdk" },
  ];
  const undici = (n: number, d: number): Entry => [
    `undici Pool ${n}x${d}${d > 1 ? " pipelined" : ""}`,
    { kind: "undici", connections: n, pipelining: d },
  ];
  const bare = (n: number, d: number): Entry => [
    `bare client ${n}x${d}${d > 1 ? " pipelined" : ""} (ceiling)`,
    { kind: "bare", connections: n, pipelining: d },
  ];
  const builtin: Entry = [BUILTIN, { kind: "fetch" }, true];
  const list: [Workload, Entry[]][] = [
    [
      { name: "small c=1", path: "/small", concurrency: 1, bytes: SMALL_BYTES },
      [builtin, fetchClient(1), pooled(1, 1), undici(1, 1), bare(1, 1)],
    ],
    [
      {
        name: "small c=16",
        path: "/small",
        concurrency: 16,
        bytes: SMALL_BYTES,
      },
      [
        builtin,
        fetchClient(16),
        pooled(16, 1),
        traced(16, 1),
        pooled(8, 8),
        pooled(1, 16),
        undici(16, 1),
        bare(16, 1),
        bare(8, 8),
        bare(1, 16),
      ],
    ],
    [
      {
        name: "API 1KiB c=16",
        path: "/api",
        concurrency: 16,
        bytes: API_BYTES,
        requestId: true,
      },
      [
        builtin,
        pooled(16, 1),
        pooled(8, 8),
        undici(16, 1),
        bare(16, 1),
        bare(8, 8),
      ],
    ],
    [
      {
        name: "small c=64",
        path: "/small",
        concurrency: 64,
        bytes: SMALL_BYTES,
      },
      [
        builtin,
        pooled(64, 1),
        pooled(8, 8),
        pooled(2, 32),
        undici(8, 8),
        bare(64, 1),
        bare(8, 8),
        bare(2, 32),
      ],
    ],
    [
      { name: "64KiB c=16", path: "/64k", concurrency: 16, bytes: BIG_BYTES },
      [
        builtin,
        pooled(16, 1),
        pooled(8, 8),
        undici(16, 1),
        bare(16, 1),
        bare(8, 8),
      ],
    ],
  ];
  if (tlsAvailable) {
    list.push(
      [
        {
          name: "TLS keep-alive, small c=16",
          path: "/small",
          concurrency: 16,
          bytes: SMALL_BYTES,
          tls: true,
        },
        [
          builtin,
          pooled(16, 1),
          pooled(8, 8),
          bare(16, 1),
          bare(8, 8),
        ],
      ],
    );
    // HTTP/2 against the port that offers h2 and http/1.1; the baseline is
    // the global fetch, which offers h2 by default.
    const h2Clients: Entry[] = [
      [BUILTIN_H2, { kind: "fetch", http2: true }, true],
      ["pooled-fetch h2", { kind: "pooled", http2: true }],
      [
        "pooled-fetch 8x8 pipelined HTTP/1.1",
        { kind: "pooled", connections: 8, pipelining: 8 },
      ],
    ];
    for (
      const [name, path, concurrency, bytes] of [
        ["small c=16", "/small", 16, SMALL_BYTES],
        ["small c=64", "/small", 64, SMALL_BYTES],
        ["API 1KiB c=16", "/api", 16, API_BYTES],
      ] as const
    ) {
      list.push([
        {
          name: `HTTP/2 TLS, ${name}`,
          path,
          concurrency,
          bytes,
          tls: true,
          h2: true,
          ...(path === "/api"
            ? {
              requestId: true,
              servers: {
                only: ["nginx"],
                why: "Deno.serve over TLS holds every response of about " +
                  "1 KiB or more for 40 ms (Nagle's algorithm and a " +
                  "delayed ACK)",
              },
            }
            : {}),
        },
        h2Clients,
      ]);
    }
  }
  if (tlsAvailable && proxyAvailable) {
    // The built-in fetch takes a proxy only through a Deno.HttpClient: one
    // with nothing else set, as a user would write it.
    list.push([
      {
        name: "TLS keep-alive through a proxy, small c=16",
        path: "/small",
        concurrency: 16,
        bytes: SMALL_BYTES,
        tls: true,
        proxy: true,
      },
      [
        [BUILTIN_PROXY, { kind: "fetch-client" }, true],
        pooled(16, 1),
        pooled(8, 8),
      ],
    ]);
  }
  if (tlsAvailable) {
    list.push(
      [
        {
          name: "TLS new connection per request, small c=16",
          path: "/small?close",
          concurrency: 16,
          bytes: SMALL_BYTES,
          tls: true,
        },
        [builtin, pooled(16, 1), bare(16, 1)],
      ],
    );
  }
  return list;
}

/** `connections x depth` of a client in a workload. */
function shapeOf(client: ClientSpec, concurrency: number): string {
  // Over h2, one session carries every stream (100 at most at first; the
  // server's SETTINGS may lower it): the conns column tells.
  if (client.http2) return `1x${concurrency}`;
  // The built-in fetch's pool opens a connection per request in flight.
  if (
    client.kind === "fetch" ||
    (client.kind === "fetch-client" && client.connections === undefined)
  ) {
    return `${concurrency}x1`;
  }
  return `${client.connections ?? 16}x${client.pipelining ?? 1}`;
}

/**
 * The protocol a client must speak on the h2 port: `h2` if it offers it
 * (the built-in fetch always does), else `http/1.1`.
 */
function protocolOf(client: ClientSpec): "h2" | "http/1.1" {
  return client.http2 ? "h2" : "http/1.1";
}

/**
 * Why a row on the h2 port did not speak its protocol, from the server's
 * counts of the connections by protocol; undefined if it did.
 */
function protocolProblem(
  protocols: Record<string, number> | null,
  wanted: string,
): string | undefined {
  if (protocols === null) {
    return `The server cannot tell the protocol of its connections`;
  }
  const others = Object.entries(protocols).filter(([name, n]) =>
    name !== wanted && n > 0
  );
  if (others.length > 0) {
    return `The server saw ${
      others.map(([name, n]) => `${n} connection(s) speak ${name}`).join(
        " and ",
      )
    }, not ${wanted}`;
  }
  if (!(protocols[wanted]! > 0)) {
    return `The server saw no connection speak ${wanted}`;
  }
  return undefined;
}

/** The rows, in order: by workload, then by server. */
function plan(
  tlsAvailable: boolean,
  proxyAvailable: boolean,
  servers: ServerKind[],
): Row[] {
  const rows: Row[] = [];
  for (const [workload, clients] of workloads(tlsAvailable, proxyAvailable)) {
    for (const server of servers) {
      if (workload.servers && !workload.servers.only.includes(server)) {
        continue;
      }
      for (const [label, client, baseline] of clients) {
        rows.push({
          server,
          workload,
          label,
          client,
          shape: shapeOf(client, workload.concurrency),
          ...(baseline ? { baseline: true } : {}),
        });
      }
    }
  }
  return rows;
}

/** Command prefixes that pin the server and the worker to two cores. */
interface Pinning {
  server: string[];
  client: string[];
  note: string;
}

/** The CPUs in a `taskset` list such as `0-3,6`. */
function cpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(",")) {
    const [a, b] = part.split("-").map(Number);
    if (!Number.isInteger(a)) continue;
    for (let c = a!; c <= (Number.isInteger(b) ? b! : a!); c++) cpus.push(c);
  }
  return cpus;
}

async function detectPinning(wanted: boolean): Promise<Pinning> {
  const none = (why: string) => ({ server: [], client: [], note: why });
  if (!wanted) return none("none (--no-pin)");
  try {
    const out = await new Deno.Command("taskset", {
      args: ["-cp", String(Deno.pid)],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return none("none (taskset failed)");
    // "pid 123's current affinity list: 0,1"
    const cpus = cpuList(decoder.decode(out.stdout).split(":").at(-1) ?? "");
    if (cpus.length < 2) return none("none (fewer than 2 CPUs allowed)");
    const [s, c] = [cpus[0]!, cpus[1]!];
    return {
      server: ["taskset", "-c", String(s)],
      client: ["taskset", "-c", String(c)],
      note: `server on CPU ${s}, client worker on CPU ${c} (taskset -c)`,
    };
  } catch {
    return none("none (taskset not found)");
  }
}

/** A program from PATH, or `/usr/sbin`, `/usr/local/sbin`; null if none. */
async function findBinary(name: string): Promise<string | null> {
  let path = "";
  try {
    path = Deno.env.get("PATH") ?? "";
  } catch {
    // No --allow-env: the usual places only.
  }
  try {
    const out = await new Deno.Command("sh", {
      args: ["-c", 'command -v "$1"', "sh", name],
      env: { PATH: [path, "/usr/sbin", "/usr/local/sbin"].join(":") },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const found = decoder.decode(out.stdout).trim();
    return out.success && found.startsWith("/") ? found : null;
  } catch {
    return null;
  }
}

/** `squid 5.7`, from `squid -v`. */
async function squidVersion(squid: string): Promise<string> {
  try {
    const out = await new Deno.Command(squid, {
      args: ["-v"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    const m = /Version ([\w.]+)/.exec(decoder.decode(out.stdout));
    return m ? `squid ${m[1]}` : "squid";
  } catch {
    return "squid";
  }
}

/** `nginx/1.22.1`, from `nginx -v`. */
async function nginxVersion(nginx: string): Promise<string> {
  try {
    const out = await new Deno.Command(nginx, {
      args: ["-v"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    return /nginx\/[\w.]+/.exec(decoder.decode(out.stderr))?.[0] ?? "nginx";
  } catch {
    return "nginx";
  }
}

async function runWorker(
  config: WorkerConfig,
  net: string,
  pin: string[],
  onSpawn: (child: Deno.ChildProcess | undefined) => void,
): Promise<WorkerResult> {
  const args = [
    "run",
    "--no-prompt",
    `--allow-net=${net}`,
    // undici reads environment variables (e.g. JEST_WORKER_ID) at load.
    ...(config.client.kind === "undici" ? ["--allow-env"] : []),
    // The OpenTelemetry SDK reads its OTEL_* variables; only those, so that
    // the client still cannot read proxy variables, as in the plain row.
    ...(config.client.telemetry === "sdk" ? ["--allow-env=OTEL_*"] : []),
    // The project's files (a client's code is imported when the worker
    // opens it, and a file edited meanwhile is read again) and the CA.
    `--allow-read=${new URL("../", import.meta.url).pathname}${
      config.caFile ? `,${config.caFile}` : ""
    }`,
    // The plain built-in fetch can only trust the test CA through `--cert`.
    ...(config.caFile && config.client.kind === "fetch")
      ? [`--cert=${config.caFile}`]
      : [],
    new URL("./_worker.ts", import.meta.url).pathname,
    JSON.stringify(config),
  ];
  const [command, ...prefix] = [...pin, Deno.execPath()];
  const child = new Deno.Command(command!, {
    args: [...prefix, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  onSpawn(child);
  const timer = setTimeout(
    () => child.kill("SIGKILL"),
    config.warmupMs + config.durationMs + 30_000,
  );
  const out = await child.output();
  clearTimeout(timer);
  onSpawn(undefined);
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

/**
 * `16`, `16 (0 resumed)`, `16 (0 resumed, 16 tunnels)`, `1 (h2: 1)`,
 * `16 (h2: 1, 0 resumed)`.
 */
function connectionsCell(r: RowResult): string {
  const notes = [
    // On the h2 port: the connections that carried requests, by protocol.
    ...Object.entries(r.protocols ?? {}).filter(([, n]) => n > 0).map((
      [name, n],
    ) => `${name}: ${n}`),
    ...(r.tlsResumed === null ? [] : [`${r.tlsResumed} resumed`]),
    ...(r.tunnels === null ? [] : [`${r.tunnels} tunnels`]),
  ];
  return `${r.connections}${notes.length > 0 ? ` (${notes.join(", ")})` : ""}`;
}

function table(results: RowResult[]): string {
  const head = [
    "Workload",
    "Server",
    "Client",
    "req/s",
    "× fetch",
    "% of ceiling",
    "p50 ms",
    "p99 ms",
    "CPU µs/req",
    "peak RSS MiB",
    "conns",
  ];
  const body = results.map((r) => [
    r.workload,
    r.server,
    r.client + (r.ok ? "" : ` (FAILED: ${r.error ?? "?"})`),
    fmtNum(r.rps),
    r.ratio === null ? "n/a" : `${fmtNum(r.ratio, 2)}×`,
    r.ofCeiling === null ? "n/a" : `${fmtNum(100 * r.ofCeiling)} %`,
    fmtNum(r.p50Ms, 2),
    fmtNum(r.p99Ms, 2),
    fmtNum(r.cpuUsPerReq, 1),
    fmtNum(r.peakRssBytes / 2 ** 20, 1),
    r.connections === null ? "n/a" : connectionsCell(r),
  ]);
  const widths = head.map((h, i) =>
    Math.max(h.length, ...body.map((b) => b[i]!.length))
  );
  const right = head.map((_, i) => i >= 3);
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
  const servers: ServerKind[] = opts.url === undefined ? opts.servers : [
    "bench",
  ];
  let nginx: string | null = null;
  let nginxName = "nginx";
  if (opts.url === undefined && servers.includes("nginx")) {
    nginx = await findBinary("nginx");
    if (nginx === null) {
      throw new Error(
        "Cannot run bench as nginx was not found in PATH, /usr/sbin or /usr/local/sbin (on Debian: apt-get install nginx)",
      );
    }
    nginxName = await nginxVersion(nginx);
  }
  // The proxy workload needs TLS and squid; without squid, a note.
  let squid: string | null = null;
  let proxyNote: string | undefined;
  if (tlsAvailable) {
    squid = await findBinary("squid");
    if (squid === null) {
      proxyNote =
        "Proxy: squid was not found in PATH, /usr/sbin or /usr/local/sbin, " +
        "so the workload through a proxy is skipped (on Debian: apt-get install squid).";
    }
  }
  const serverName = (s: ServerKind) =>
    opts.url ?? (s === "nginx" ? nginxName : "bench");
  const warmupMs = opts.quick ? 150 : 300;
  const durationMs = opts.duration ?? (opts.quick ? 500 : 2000);
  const maxRequests = 2_000_000;

  let rows = plan(tlsAvailable, squid !== null, servers);
  // Workloads left out on a chosen server, and why (chosen by --only or not).
  const skipNotes: string[] = [];
  for (const [w, clients] of workloads(tlsAvailable, squid !== null)) {
    const left = servers.filter((s) =>
      w.servers && !w.servers.only.includes(s)
    );
    const wanted = opts.only.length === 0 ||
      clients.some(([label]) =>
        opts.only.some((s) => `${w.name} · ${label}`.includes(s))
      );
    if (w.servers && left.length > 0 && wanted) {
      skipNotes.push(
        `"${w.name}" runs against ${
          w.servers.only.join(", ")
        } only, so not against ${
          left.map(serverName).join(", ")
        }: ${w.servers.why}.`,
      );
    }
  }
  if (opts.only.length > 0) {
    const chosen = rows.filter((r) =>
      opts.only.some((s) => `${r.workload.name} · ${r.label}`.includes(s))
    );
    // The built-in fetch, and the ceilings of the shapes that run, too.
    const keep = new Set(chosen.map((r) => `${r.server}|${r.workload.name}`));
    // A telemetry row keeps the plain row of its shape, for the ratio.
    const traced = new Set(
      chosen.filter((r) => r.client.telemetry === "sdk").map((r) =>
        `${r.server}|${r.workload.name}|${r.shape}`
      ),
    );
    const kept = rows.filter((r) =>
      chosen.includes(r) ||
      (r.baseline && keep.has(`${r.server}|${r.workload.name}`)) ||
      (r.client.kind === "pooled" && r.client.telemetry === undefined &&
        traced.has(`${r.server}|${r.workload.name}|${r.shape}`))
    );
    const shapes = new Set(
      kept.map((r) => `${r.server}|${r.workload.name}|${r.shape}`),
    );
    rows = rows.filter((r) =>
      kept.includes(r) ||
      (r.client.kind === "bare" &&
        shapes.has(`${r.server}|${r.workload.name}|${r.shape}`))
    );
  }

  const pinning = await detectPinning(opts.pin);
  if (opts.url !== undefined && pinning.server.length > 0) {
    pinning.server = [];
    pinning.note = pinning.note.replace(/^server on CPU \d+, /, "") +
      "; the --url server is not pinned";
  }
  const started: Partial<Record<ServerKind, ServerProcess>> = {};
  let proxy: BenchProxy | undefined;
  let worker: Deno.ChildProcess | undefined;
  let interrupted = false;
  const stopAll = () =>
    Promise.all([
      ...Object.values(started).map((s) => s.stop()),
      ...(proxy ? [proxy.stop()] : []),
    ]);
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    log("Interrupted: stopping the worker and the servers");
    try {
      worker?.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const bases: Partial<
    Record<ServerKind, { http: string; https?: string; h2?: string }>
  > = {};
  const results: RowResult[] = [];
  const baselines = new Set<RowResult>();
  const load = loadAverage();
  const proxied = squid !== null && rows.some((r) => r.workload.proxy);
  // Written once the servers and the proxy run (a proxy that fails to start
  // drops its rows).
  const header: string[] = [];
  const startedAt = performance.now();
  try {
    if (opts.url === undefined) {
      let tmpDir = "/tmp";
      try {
        tmpDir = Deno.env.get("TMPDIR") || "/tmp";
      } catch {
        // No --allow-env: /tmp.
      }
      for (const s of servers) {
        const server = await ServerProcess.start(tlsAvailable, {
          server: s,
          ...(nginx ? { nginx } : {}),
          tmpDir,
          pin: pinning.server,
        });
        started[s] = server;
        bases[s] = {
          http: `http://127.0.0.1:${server.port}`,
          ...(server.tlsPort
            ? { https: `https://127.0.0.1:${server.tlsPort}` }
            : {}),
          ...(server.h2Port
            ? { h2: `https://127.0.0.1:${server.h2Port}` }
            : {}),
        };
      }
      if (proxied) {
        try {
          proxy = await BenchProxy.start({
            binary: squid!,
            tmpDir,
            pin: pinning.server,
          });
          proxyNote = `Proxy: ${await squidVersion(squid!)} ` +
            `(config of bench/_proxy.ts), ${
              pinning.server.length > 0 ? "on the server's CPU" : "not pinned"
            }; "× fetch" of its rows is over ${BUILTIN_PROXY}, the ` +
            `built-in fetch through the same proxy.`;
        } catch (e) {
          proxyNote = "Proxy: the workload through a proxy is skipped: " +
            (e instanceof Error ? e.message : String(e));
          rows = rows.filter((r) => !r.workload.proxy);
        }
      }
    } else {
      bases.bench = { http: opts.url.replace(/\/$/, "") };
    }
    header.push(
      `Servers: ${
        servers.map((s) =>
          opts.url ?? (s === "nginx"
            ? `${nginxName} (config of bench/_nginx.ts)`
            : "bench/_server.ts")
        ).join(", ")
      }. Pinning: ${pinning.note}.`,
      `Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load average ${
        load?.toFixed(2) ?? "n/a"
      } at start. ${rows.length} rows, median of ${opts.runs} interleaved run(s), ${warmupMs} ms warm-up + ${durationMs} ms each.`,
      ...(proxyNote ? [proxyNote] : []),
      ...skipNotes,
    );
    const netHost = opts.url === undefined
      ? "127.0.0.1"
      : new URL(opts.url).host;

    for (const line of header) log(line);
    if (load !== undefined && load > 0.5) {
      log("Warning: the machine is busy; figures will be noisy");
    }

    const runs: {
      result: WorkerResult;
      connections: number | null;
      tlsResumed: number | null;
      tunnels: number | null;
      protocols: Record<string, number> | null;
    }[][] = rows.map(() => []);
    for (let k = 0; k < opts.runs; k++) {
      for (const [i, row] of rows.entries()) {
        const base = bases[row.server]!;
        const url = (row.workload.h2
          ? base.h2!
          : row.workload.tls
          ? base.https!
          : base.http) + row.workload.path;
        const via = row.workload.proxy ? proxy : undefined;
        const config: WorkerConfig = {
          client: via ? { ...row.client, proxy: via.url } : row.client,
          request: { url },
          concurrency: row.workload.concurrency,
          warmupMs,
          durationMs,
          maxRequests,
          ...(row.workload.tls ? { caFile } : {}),
          ...(opts.url === undefined
            ? {
              expect: {
                bytes: row.workload.bytes,
                requestId: row.workload.requestId ?? false,
                ...(row.workload.h2
                  ? { protocol: protocolOf(row.client) }
                  : {}),
              },
            }
            : {}),
        };
        // Through the proxy, the worker may reach the proxy only. The
        // built-in fetch also needs the origin: Deno checks the request's
        // URL before it hands the request to the proxy (it never connects
        // there; the tunnel count below tells).
        const net = via
          ? [
            `127.0.0.1:${via.port}`,
            ...(row.client.kind === "pooled" ? [] : [new URL(url).host]),
          ].join(",")
          : netHost;
        const server = started[row.server];
        await server?.reset();
        await via?.resetTunnels();
        let result = await runWorker(
          config,
          net,
          pinning.client,
          (child) =>
            worker = child,
        );
        if (interrupted) return results;
        const counts = server ? await server.resetCounts() : null;
        const connections = counts?.connections ?? null;
        const tlsResumed = row.workload.tls ? counts?.tlsResumed ?? null : null;
        const tunnels = via ? await via.resetTunnels() : null;
        const protocols = row.workload.h2 ? counts?.protocols ?? null : null;
        const unlike = row.workload.h2 && server
          ? protocolProblem(protocols, protocolOf(row.client))
          : undefined;
        if (result.ok && unlike !== undefined) {
          result = { ...result, ok: false, error: unlike };
        }
        if (
          result.ok && tunnels !== null && connections !== null &&
          connections > tunnels
        ) {
          result = {
            ...result,
            ok: false,
            error: `The server accepted ${connections} connections but the ` +
              `proxy opened ${tunnels} tunnels: some bypassed the proxy`,
          };
        }
        runs[i]!.push({
          result,
          connections,
          tlsResumed,
          tunnels,
          protocols,
        });
        const r = result;
        log(
          `[${opts.runs > 1 ? `run ${k + 1}/${opts.runs}, ` : ""}${
            i + 1
          }/${rows.length}] ${row.workload.name} · ${
            serverName(row.server)
          } · ${row.label}: ${
            r.ok
              ? `${fmtNum(r.rps)} req/s, p99 ${fmtNum(r.p99Ms, 2)} ms`
              : `FAILED ${r.error}`
          }${r.ok && r.errors ? ` (${r.errors} errors: ${r.error})` : ""}`,
        );
      }
    }
    for (const [i, row] of rows.entries()) {
      const sorted = [...runs[i]!].sort((a, b) => a.result.rps - b.result.rps);
      const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
      results.push({
        ...median.result,
        server: serverName(row.server),
        workload: row.workload.name,
        client: row.label,
        shape: row.shape,
        connections: median.connections,
        tlsResumed: median.tlsResumed,
        tunnels: median.tunnels,
        protocols: median.protocols,
        ratio: null,
        ceilingRps: null,
        ofCeiling: null,
        runsRps: runs[i]!.map((r) => r.result.rps),
      });
      if (row.baseline) baselines.add(results.at(-1)!);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (!interrupted) await stopAll();
  }
  for (const r of results) {
    const same = (x: RowResult) =>
      x.server === r.server && x.workload === r.workload && x.ok;
    const b = results.find((x) => same(x) && baselines.has(x));
    r.ratio = b && r.ok ? r.rps / b.rps : null;
    const c = results.find((x) =>
      same(x) && x.client.startsWith("bare") && x.shape === r.shape
    );
    r.ceilingRps = c ? c.rps : null;
    r.ofCeiling = c && r.ok ? r.rps / c.rps : null;
  }
  const telemetry = telemetryCosts(results);
  const loadEnd = loadAverage();
  log(`Done in ${((performance.now() - startedAt) / 1000).toFixed(1)} s`);
  const pinNote = `Pinning: ${pinning.note}`;
  if (opts.json) {
    console.log(JSON.stringify(
      {
        deno: Deno.version.deno,
        cores: navigator.hardwareConcurrency,
        loadAverage: load ?? null,
        loadAverageEnd: loadEnd ?? null,
        warmupMs,
        durationMs,
        runs: opts.runs,
        servers: servers.map(serverName),
        pinning: pinning.note,
        proxy: proxyNote ?? null,
        rows: results,
        telemetry,
      },
      null,
      2,
    ));
  } else {
    console.log(
      [
        ...header,
        `Load average ${loadEnd?.toFixed(2) ?? "n/a"} at the end. ` +
        `"× fetch": req/s over the built-in fetch's; "% of ceiling": req/s ` +
        `over the bare client's of the same shape (connections x depth), ` +
        `both in the same workload on the same server.` +
        (results.some((r) => r.protocols !== null)
          ? ` "conns" of the HTTP/2 rows: connections accepted, then those ` +
            `that carried requests by protocol ("h2: 1"); Deno.serve counts ` +
            `only the latter.`
          : ""),
        "",
      ].join("\n"),
    );
    console.log(table(results));
    if (telemetry.length > 0) console.log("\n" + telemetryLines(telemetry));
  }
  if (opts.svg !== undefined) {
    // The chart's label column is narrow: a short name for telemetry rows.
    const charted = results.map((r) => ({
      ...r,
      client: r.client.replace(TELEMETRY_ACTIVE, " + OTel SDK"),
    }));
    const svg = barChart(panelsOf(charted), {
      title: "pooled-fetch: requests per second by workload",
      subtitle:
        `Median of ${opts.runs} run(s) of ${durationMs} ms; Deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} cores, load average ${
          load?.toFixed(2) ?? "n/a"
        }; ${pinNote}; ${new Date().toISOString().slice(0, 10)}`,
    });
    try {
      await Deno.writeTextFile(opts.svg, svg);
      log(`Chart written to ${opts.svg}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotCapable) {
        throw new Error(
          `Cannot write the chart as '--svg' must be a file inside the project directory: current value is ${opts.svg}`,
          { cause: e },
        );
      }
      throw e;
    }
    // `deno fmt --check` (a CI gate) formats SVG files too: leave the chart
    // as it would, so that it can be committed as written.
    try {
      await new Deno.Command(Deno.execPath(), {
        args: ["fmt", "--quiet", opts.svg],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
    } catch {
      // The chart is valid SVG either way.
    }
  }
  return results;
}

/** Each telemetry row beside the plain row of its shape, same run. */
function telemetryCosts(results: RowResult[]): TelemetryCost[] {
  const out: TelemetryCost[] = [];
  for (const active of results) {
    if (!active.client.endsWith(TELEMETRY_ACTIVE) || !active.ok) continue;
    const label = active.client.slice(0, -TELEMETRY_ACTIVE.length);
    const inactive = results.find((r) =>
      r.server === active.server && r.workload === active.workload &&
      r.client === label && r.ok
    );
    if (inactive === undefined) continue;
    out.push({
      server: active.server,
      workload: active.workload,
      inactive: inactive.client,
      active: active.client,
      inactiveRps: inactive.rps,
      activeRps: active.rps,
      ratio: active.rps / inactive.rps,
      inactiveCpuUsPerReq: inactive.cpuUsPerReq,
      activeCpuUsPerReq: active.cpuUsPerReq,
    });
  }
  return out;
}

function telemetryLines(costs: TelemetryCost[]): string {
  const lines = [
    "Telemetry, same run: OpenTelemetry active (SDK in memory: a span and " +
    "metrics per request, traceparent injected) against the plain row, " +
    "where telemetry is on but OpenTelemetry inactive:",
  ];
  for (const c of costs) {
    const extra = c.activeCpuUsPerReq - c.inactiveCpuUsPerReq;
    lines.push(
      `- ${c.workload} · ${c.server} · ${c.inactive}: ${
        fmtNum(c.ratio, 2)
      }× the req/s (${fmtNum(c.activeRps)} vs ${fmtNum(c.inactiveRps)}), ` +
        `CPU ${fmtNum(c.activeCpuUsPerReq, 1)} vs ${
          fmtNum(c.inactiveCpuUsPerReq, 1)
        } µs/req (${extra >= 0 ? "+" : ""}${fmtNum(extra, 1)})`,
    );
  }
  lines.push(
    "The hooks alone, inactive and active: deno bench --allow-env bench/telemetry_bench.ts",
  );
  return lines.join("\n");
}

if (import.meta.main) await main();
