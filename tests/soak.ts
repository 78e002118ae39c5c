// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The soak run: `deno task soak` (outside the default test run). Sends up to
 * `--requests` requests (default 100000) for up to `--seconds` (default 60),
 * whichever ends first, mixed GET and POST, `--concurrency` (default 64) at
 * once, through one client against the fault-injecting server of
 * `_soak_server.ts`, run in a separate `deno` process (so its CPU does not
 * distort the client's) unless `--in-process`. Prints a report (`--json` for
 * JSON) and exits 1 when an invariant broke: a POST the server read twice, a
 * GET lost (never settled, or got a body not its own), a desync.
 *
 * Flags: `--requests N`, `--seconds S`, `--concurrency C`, `--post-ratio R`
 * (default 0.3), `--abort-ratio R` (default 0.02: requests whose signal
 * aborts 1–50 ms in), `--pipelining P` (default 4), `--connections M` (default
 * 16), `--seed N`, `--no-long-stalls`, `--keep-open` (no fault closes a
 * connection, so pipelining is never suspended: it soaks the pipelining
 * path with split writes, stalls, 429/503 and interim responses),
 * `--in-process`, `--json`, `--quiet`.
 *
 * @module
 */

import { formatReport, runSoak } from "./_soak_driver.ts";
import { type SoakServerReport, startSoakServer } from "./_soak_server.ts";

const args = Deno.args;
function flag(name: string, fallback: number): number {
  const i = args.indexOf(name);
  if (i === -1) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value < 0) {
    console.error(`${name} needs a non-negative number`);
    Deno.exit(2);
  }
  return value;
}
const requests = flag("--requests", 100_000);
const seconds = flag("--seconds", 60);
const concurrency = flag("--concurrency", 64);
const postRatio = flag("--post-ratio", 0.3);
const abortRatio = flag("--abort-ratio", 0.02);
const pipelining = flag("--pipelining", 4);
const connections = flag("--connections", 16);
const seed = flag("--seed", Date.now() % 1_000_000);
const json = args.includes("--json");
const quiet = args.includes("--quiet") || json;
const inProcess = args.includes("--in-process");
const noLongStalls = args.includes("--no-long-stalls");
const keepOpen = args.includes("--keep-open");

interface Target {
  port: number;
  report(): Promise<SoakServerReport>;
  close(): Promise<void>;
}

async function spawnServer(): Promise<Target> {
  const script = new URL("./_soak_server.ts", import.meta.url).pathname;
  let deno = "deno";
  try {
    deno = Deno.execPath();
  } catch {
    // No read permission for the path: rely on PATH.
  }
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "--quiet",
      "--allow-net=127.0.0.1",
      script,
      "--seed",
      String(seed),
      ...(noLongStalls ? ["--no-long-stalls"] : []),
      ...(keepOpen ? ["--keep-open"] : []),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  async function line(): Promise<string> {
    while (!buffered.includes("\n")) {
      const { done, value } = await lines.read();
      if (done) throw new Error("the soak server exited");
      buffered += value;
    }
    const nl = buffered.indexOf("\n");
    const out = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    return out;
  }
  const { port } = JSON.parse(await line());
  const encoder = new TextEncoder();
  return {
    port,
    async report() {
      await writer.write(encoder.encode("report\n"));
      return JSON.parse(await line());
    },
    async close() {
      await writer.write(encoder.encode("exit\n")).catch(() => {});
      await writer.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
      await lines.cancel().catch(() => {});
    },
  };
}

const target: Target = inProcess
  ? (() => {
    const server = startSoakServer({
      seed,
      faults: noLongStalls ? { longStall: 0 } : {},
      keepOpen,
    });
    return {
      port: server.port,
      report: () => Promise.resolve(server.report()),
      close: () => server.close(),
    };
  })()
  : await spawnServer();

if (!quiet) {
  console.error(
    `soak: ${requests} requests / ${seconds} s, concurrency ${concurrency}, server ${
      inProcess ? "in-process" : "in a separate process"
    } on 127.0.0.1:${target.port}, seed ${seed}`,
  );
}
let report;
try {
  report = await runSoak({
    port: target.port,
    report: target.report,
    requests,
    seconds,
    concurrency,
    postRatio,
    abortRatio,
    pipelining,
    connections,
    onProgress: quiet ? undefined : (done, elapsed, stats) => {
      const memory = Deno.memoryUsage();
      const pool = stats.origins[0];
      console.error(
        `  ${(elapsed / 1000).toFixed(0)} s: ${done} settled; RSS ${
          (memory.rss / 1024 / 1024).toFixed(0)
        } MiB, external ${(memory.external / 1024 / 1024).toFixed(0)} MiB; ${
          pool === undefined
            ? "no pool"
            : `open ${pool.open} (busy ${pool.busy}), connecting ${pool.connecting}, queued ${pool.queued}`
        }`,
      );
    },
  });
} finally {
  await target.close();
}
const withSeed = { ...report, config: { ...report.config, seed } };
console.log(json ? JSON.stringify(withSeed, null, 2) : formatReport(withSeed));
Deno.exit(report.ok ? 0 : 1);
