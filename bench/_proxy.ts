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

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Longest wait for one line from the watchdog, in milliseconds. */
const LINE_TIMEOUT = 10_000;
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

/** A free loopback port: bind port 0, read it, release it. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * squid's `server.all.requests` counter, asked over a connection of its
 * own (a request to the cache manager reaches no origin, so it does not
 * count itself).
 */
async function originConnections(port: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(
      "GET /squid-internal-mgr/counters HTTP/1.1\r\n" +
        `Host: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
    ));
    let text = "";
    const buf = new Uint8Array(16384);
    for (let i = 0; i < 1000; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    const m = /^server\.all\.requests = (\d+)/m.exec(text);
    if (!m) {
      throw new Error(
        `Unexpected cache manager answer: ${text.slice(0, 200)}`,
      );
    }
    return Number(m[1]);
  } finally {
    conn.close();
  }
}

/** squid running, and what it wrote to standard error (the last of it). */
interface Running {
  child: Deno.ChildProcess;
  port: number;
  output: () => string;
}

async function stopSquid(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, 5000);
  await child.status;
  clearTimeout(timer);
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
    let exited = false;
    child.status.then(() => exited = true);
    for (let i = 0; i < 100 && !exited; i++) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        return { child, port, output: () => output };
      } catch {
        await sleep(50);
      }
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
  const dir = await Deno.makeTempDir({
    dir: tmp,
    prefix: "pooled_fetch_bench_proxy_",
  });
  let running: Running | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      if (running) await stopSquid(running.child);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const onSignal = async () => {
    await stop();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const print = (v: unknown) =>
    Deno.stdout.writeSync(encoder.encode(JSON.stringify(v) + "\n"));
  try {
    running = await startSquid(squid, dir);
    const { port } = running;
    let base = await originConnections(port);
    print({ port });
    let pending = "";
    const chunk = new Uint8Array(4096);
    for (let i = 0; i < Number.MAX_SAFE_INTEGER; i++) {
      const n = await Deno.stdin.read(chunk);
      if (n === null) break;
      pending += decoder.decode(chunk.subarray(0, n));
      let nl;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const cmd = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (cmd !== "stats" && cmd !== "reset") continue;
        const total = await originConnections(port);
        print({ tunnels: total - base });
        if (cmd === "reset") base = total;
      }
    }
  } catch (e) {
    const output = running?.output().trim();
    print({
      error: (e instanceof Error ? e.message : String(e)) +
        (output ? ` (squid: ${output})` : ""),
    });
  } finally {
    await stop();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
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
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #pending = "";
  #port = 0;

  private constructor(options: BenchProxyOptions) {
    const { binary, tmpDir, pin = [] } = options;
    const [command, ...prefix] = [...pin, Deno.execPath()];
    this.#child = new Deno.Command(command!, {
      args: [
        ...prefix,
        "run",
        "--no-prompt",
        "--allow-net=127.0.0.1",
        `--allow-read=${tmpDir}`,
        `--allow-write=${tmpDir}`,
        `--allow-run=${binary}`,
        new URL(import.meta.url).pathname,
        binary,
        tmpDir,
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /**
   * Spawns the watchdog, which starts squid, and waits until it listens.
   *
   * @param options The executable, where its files go, how it is pinned.
   * @returns The running proxy.
   */
  static async start(options: BenchProxyOptions): Promise<BenchProxy> {
    const proxy = new BenchProxy(options);
    try {
      const { port, error } = JSON.parse(await proxy.#line());
      if (error !== undefined) throw new Error(error);
      proxy.#port = port;
    } catch (e) {
      await proxy.stop();
      throw e;
    }
    return proxy;
  }

  /** The port squid listens on, on 127.0.0.1. */
  get port(): number {
    return this.#port;
  }

  /** The proxy URL, `http://127.0.0.1:<port>`. */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async #line(): Promise<string> {
    const deadline = Date.now() + LINE_TIMEOUT;
    while (Date.now() < deadline) {
      const nl = this.#pending.indexOf("\n");
      if (nl >= 0) {
        const line = this.#pending.slice(0, nl);
        this.#pending = this.#pending.slice(nl + 1);
        return line;
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error("Benchmark proxy did not answer")),
          deadline - Date.now(),
        );
      });
      try {
        const { value, done } = await Promise.race([
          this.#reader.read(),
          timeout,
        ]);
        if (done) throw new Error("Benchmark proxy exited");
        this.#pending += value;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new Error("Benchmark proxy did not answer");
  }

  /**
   * Returns the tunnels squid opened to origins since the last call, and
   * resets its count.
   *
   * @returns The tunnel count.
   */
  async resetTunnels(): Promise<number> {
    await this.#writer.write(encoder.encode("reset\n"));
    const { tunnels } = JSON.parse(await this.#line());
    return tunnels;
  }

  /** Stops the proxy (closes the watchdog's stdin) and waits for it. */
  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill(), 5000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader.cancel().catch(() => {});
  }
}

if (import.meta.main) await main();
