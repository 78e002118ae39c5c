// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * squid as the benchmark's HTTP proxy, for the workload "TLS keep-alive
 * through a proxy": every connection of a row is a `CONNECT` tunnel through
 * it to the TLS listener of the server under test.
 *
 * Why squid and not tinyproxy: both took about the same CPU time per
 * request on the server's core (30 to 40 µs here), but tinyproxy sets no
 * `TCP_NODELAY` on its sockets, so small TLS records relayed back to back
 * wait for the peer's delayed ACK: through it, pooled-fetch 8x8 pipelined
 * against nginx had a p99 of 44 ms in every run and about a third fewer
 * req/s than through squid, which measures tinyproxy, not the clients.
 * squid sets `TCP_NODELAY`.
 *
 * Run as a script, this file is a watchdog, as `bench/_nginx.ts` is for
 * nginx: it writes a config of its own into a new temporary directory, runs
 * squid on it in the foreground (`-N`, no root needed; as root, squid
 * switches to its own user, and needs to write nothing) on a free loopback
 * port, prints `{"port":n}`, then answers `stats` and `reset` on stdin with
 * `{"tunnels":n}`: the connections squid opened to origins since the last
 * reset (`server.all.requests` of its cache manager's counters, which
 * counts a tunnel when it reaches the origin). When its stdin closes (the
 * driver exited, however it exited), or on SIGINT or SIGTERM, it stops squid
 * and removes the directory.
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read=<tmp>
 * --allow-write=<tmp> --allow-run=<squid> bench/_proxy.ts <squid> <tmp>`.
 * The driver does not spawn it by hand: {@linkcode BenchProxy.start} does,
 * and talks to it.
 *
 * The config lets loopback clients `CONNECT` to any port (no `SSL_ports`
 * rule: the TLS listeners' ports are picked at random), caches nothing,
 * adds no `Via` field and keeps no logs, pid file or core directory. squid
 * runs under a service name of its own (`-n`), so that the shared memory
 * segments it makes are its own, not those of another squid on the machine,
 * and are removed when it stops (it is stopped with SIGTERM, which takes
 * about a second with `shutdown_lifetime 0`).
 *
 * @module
 */

import {
  answerCommands,
  askOverHttp,
  errorMessage,
  freePort,
  HelperProcess,
  printLine,
  runInTempDir,
  stopProcess,
  waitForPorts,
} from "./_control.ts";

/** Most of squid's standard error kept for an error message, in chars. */
const MAX_OUTPUT = 4096;

/** Ports of one squid config. */
export interface SquidConfigOptions {
  /** Port on 127.0.0.1. */
  port: number;
}

/**
 * The squid config for the benchmark, as text.
 *
 * @param options The port.
 * @returns The config file's text.
 */
export function squidConfig(options: SquidConfigOptions): string {
  const { port } = options;
  return `# Written by bench/_proxy.ts for one benchmark run.
http_port 127.0.0.1:${port}
acl loopback src 127.0.0.1
# No SSL_ports rule: CONNECT may reach any port.
http_access allow loopback
http_access deny all
cache deny all
cache_mem 8 MB
via off
pinger_enable off
pid_filename none
cache_log /dev/null
access_log none
coredump_dir none
shutdown_lifetime 0 seconds
`;
}

/**
 * squid's `server.all.requests` counter, asked over a connection of its
 * own (a request to the cache manager reaches no origin, so it does not
 * count itself).
 */
async function originConnections(port: number): Promise<number> {
  const text = await askOverHttp(
    port,
    "GET /squid-internal-mgr/counters HTTP/1.1\r\n" +
      `Host: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
  );
  const m = /^server\.all\.requests = (\d+)/m.exec(text);
  if (!m) {
    throw new Error(`Unexpected cache manager answer: ${text.slice(0, 200)}`);
  }
  return Number(m[1]);
}

/** squid running, and what it wrote to standard error (the last of it). */
interface Running {
  child: Deno.ChildProcess;
  port: number;
  output: () => string;
}

function stopSquid(child: Deno.ChildProcess): Promise<void> {
  return stopProcess(child, 5000);
}

/** Starts squid in `dir` and waits until it accepts connections. */
async function startSquid(squid: string, dir: string): Promise<Running> {
  let lastError = "";
  // A port found free may be taken before squid binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    await Deno.writeTextFile(`${dir}/squid.conf`, squidConfig({ port }));
    const child = new Deno.Command(squid, {
      // -N: foreground, one process; -d 0: errors to standard error.
      args: [
        "-N",
        "-d",
        "0",
        "-n",
        `pfbench${Deno.pid}`,
        "-f",
        `${dir}/squid.conf`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let output = "";
    // Bounded by squid: the pipe ends when it exits.
    const drained = child.stderr.pipeThrough(new TextDecoderStream())
      .pipeTo(
        new WritableStream({
          write(chunk) {
            output = (output + chunk).slice(-MAX_OUTPUT);
          },
        }),
      ).catch(() => {});
    if (await waitForPorts(child, [port])) {
      return { child, port, output: () => output };
    }
    await stopSquid(child);
    await drained;
    lastError = output.trim() || "(no output)";
  }
  throw new Error(`squid did not start: ${lastError}`);
}

async function main(): Promise<void> {
  const [squid, tmp] = Deno.args;
  if (!squid || !tmp) {
    throw new TypeError("Usage: _proxy.ts <squid> <tmp dir>");
  }
  let running: Running | undefined;
  await runInTempDir(
    tmp,
    "pooled_fetch_bench_proxy_",
    async (dir) => {
      running = await startSquid(squid, dir);
      const { port } = running;
      let base = await originConnections(port);
      printLine({ port });
      await answerCommands(async (command) => {
        const total = await originConnections(port);
        const tunnels = total - base;
        if (command === "reset") base = total;
        return { tunnels };
      });
    },
    async () => {
      if (running) await stopSquid(running.child);
    },
    (e) => {
      const output = running?.output().trim();
      return errorMessage(e) + (output ? ` (squid: ${output})` : "");
    },
  );
}

/** Options for {@linkcode BenchProxy.start}. */
export interface BenchProxyOptions {
  /** The squid executable. */
  binary: string;
  /** Directory where the watchdog makes its temporary directory. */
  tmpDir: string;
  /**
   * A command prefix that pins the proxy to a core, such as
   * `["taskset", "-c", "0"]`. @default {[]}
   */
  pin?: string[];
}

/** squid behind its watchdog process, seen from the driver. */
export class BenchProxy {
  #helper: HelperProcess;
  #port: number;

  private constructor(helper: HelperProcess, port: number) {
    this.#helper = helper;
    this.#port = port;
  }

  /**
   * Spawns the watchdog, which starts squid, and waits until it listens.
   *
   * @param options The executable, where its files go, how it is pinned.
   * @returns The running proxy.
   */
  static async start(options: BenchProxyOptions): Promise<BenchProxy> {
    const { binary, tmpDir, pin = [] } = options;
    const { helper, ready } = await HelperProcess.start("Benchmark proxy", [
      "--no-prompt",
      "--allow-net=127.0.0.1",
      `--allow-read=${tmpDir}`,
      `--allow-write=${tmpDir}`,
      `--allow-run=${binary}`,
      new URL(import.meta.url).pathname,
      binary,
      tmpDir,
    ], pin);
    return new BenchProxy(helper, ready.port as number);
  }

  /** The port squid listens on, on 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** The proxy URL, `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /**
   * Returns the tunnels squid opened to origins since the last call, and
   * resets its count.
   *
   * @returns The tunnel count.
   */
  async resetTunnels(): Promise<number> {
    const { tunnels } = await this.#helper.ask("reset");
    return tunnels as number;
  }

  /** Stops the proxy (closes the watchdog's stdin) and waits for it. */
  stop(): Promise<void> {
    return this.#helper.stop();
  }
}

if (import.meta.main) await main();
