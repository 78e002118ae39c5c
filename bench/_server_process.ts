// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Spawns a benchmark server in its own process, our `bench/_server.ts` or
 * nginx (through `bench/_nginx.ts`), and talks to it over the stdin/stdout
 * control channel both speak (see `bench/_server.ts`), so the server's CPU
 * time is never counted as the client's. Either stops when its stdin closes,
 * so a server never outlives the process that started it.
 *
 * @module
 */

import { HelperProcess } from "./_control.ts";

/** Options for {@linkcode ServerProcess.start}. */
export interface ServerProcessOptions {
  /** Which server: our own, or nginx. @default {"bench"} */
  server?: "bench" | "nginx";
  /** The nginx executable, for `server: "nginx"`. */
  nginx?: string;
  /** Directory where nginx gets its temporary directory, for `"nginx"`. */
  tmpDir?: string;
  /**
   * A command prefix that pins the server to a core, such as
   * `["taskset", "-c", "0"]`. @default {[]}
   */
  pin?: string[];
}

/** What a server counted between two resets. */
export interface ServerCounts {
  /** Connections accepted, on every listener. */
  connections: number;
  /** TLS connections that resumed a session; null if the server cannot tell. */
  tlsResumed: number | null;
  /**
   * The h2 port's connections by the protocol they spoke (`h2`,
   * `http/1.1`); null when the server has no h2 port.
   */
  protocols: Record<string, number> | null;
}

/** The benchmark server process, with its stdin control channel. */
export class ServerProcess {
  #helper: HelperProcess;
  #port: number;
  #tlsPort: number | undefined;
  #h2Port: number | undefined;

  private constructor(helper: HelperProcess, ready: Record<string, unknown>) {
    this.#helper = helper;
    this.#port = ready.port as number;
    this.#tlsPort = ready.tlsPort as number | undefined;
    this.#h2Port = ready.h2Port as number | undefined;
  }

  /**
   * Spawns the server and waits until it listens.
   *
   * @param tls Whether to add the TLS listeners, HTTP/1.1 only and h2 (needs
   *   `tests/fixtures/`).
   * @param options Which server, and where it runs.
   * @returns The running server.
   */
  static async start(
    tls: boolean,
    options: ServerProcessOptions = {},
  ): Promise<ServerProcess> {
    const { server = "bench", nginx, tmpDir = "/tmp", pin = [] } = options;
    const fixtures = new URL("../tests/fixtures/", import.meta.url);
    let args: string[];
    if (server === "nginx") {
      if (nginx === undefined) {
        throw new TypeError(
          "Cannot start the benchmark server as 'nginx' must be the nginx executable: current value is undefined",
        );
      }
      args = [
        "--no-prompt",
        "--allow-net=127.0.0.1",
        `--allow-read=${tmpDir}`,
        `--allow-write=${tmpDir}`,
        `--allow-run=${nginx}`,
        new URL("./_nginx.ts", import.meta.url).pathname,
        nginx,
        tmpDir,
        ...(tls ? ["--tls"] : []),
      ];
    } else {
      args = [
        "--no-prompt",
        "--allow-net=127.0.0.1",
        `--allow-read=${fixtures.pathname}`,
        new URL("./_server.ts", import.meta.url).pathname,
        ...(tls ? ["--tls"] : []),
      ];
    }
    const { helper, ready } = await HelperProcess.start(
      "Benchmark server",
      args,
      pin,
    );
    return new ServerProcess(helper, ready);
  }

  /** The plain HTTP port. */
  get port(): number {
    return this.#port;
  }

  /** The TLS port, if the TLS listener was added. */
  get tlsPort(): number | undefined {
    return this.#tlsPort;
  }

  /**
   * The TLS port that offers `h2` and `http/1.1` by ALPN, if the TLS
   * listeners were added.
   */
  get h2Port(): number | undefined {
    return this.#h2Port;
  }

  /**
   * Returns the connections the server accepted since the last call, and
   * resets its count.
   *
   * @returns The connection count.
   */
  async reset(): Promise<number> {
    return (await this.resetCounts()).connections;
  }

  /**
   * Returns what the server counted since the last reset, and resets it:
   * connections accepted, TLS connections that resumed a session (null
   * when the server cannot tell), and the connections of the h2 port by the
   * protocol they spoke (null when the server has no h2 port).
   *
   * @returns The counts.
   */
  async resetCounts(): Promise<ServerCounts> {
    const { connections, tlsResumed, protocols } = await this.#helper.ask(
      "reset",
    );
    return {
      connections: connections as number,
      tlsResumed: (tlsResumed ?? null) as number | null,
      protocols: (protocols ?? null) as Record<string, number> | null,
    };
  }

  /**
   * Lets this process exit while the server runs; the server stops when
   * its stdin closes, that is when this process exits. Used by `deno bench`
   * files, which have no teardown hook. `reset()` is unusable afterwards.
   */
  detach(): void {
    this.#helper.detach();
  }

  /** Stops the server (closes its stdin) and waits for it to exit. */
  stop(): Promise<void> {
    return this.#helper.stop();
  }
}
