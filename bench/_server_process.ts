// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Spawns `bench/_server.ts` in its own process and talks to it over its
 * stdin/stdout control channel (see that file), so the server's CPU time is
 * never counted as the client's.
 *
 * @module
 */

const encoder = new TextEncoder();
/** Longest wait for one line from the server, in milliseconds. */
const LINE_TIMEOUT = 10_000;

/** The benchmark server process, with its stdin control channel. */
export class ServerProcess {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #pending = "";
  #port = 0;
  #tlsPort: number | undefined;

  private constructor(tls: boolean) {
    const fixtures = new URL("../tests/fixtures/", import.meta.url);
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-net=127.0.0.1",
        `--allow-read=${fixtures.pathname}`,
        new URL("./_server.ts", import.meta.url).pathname,
        ...(tls ? ["--tls"] : []),
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
   * Spawns the server and waits until it listens.
   *
   * @param tls Whether to add the TLS listener (needs `tests/fixtures/`).
   * @returns The running server.
   */
  static async start(tls: boolean): Promise<ServerProcess> {
    const server = new ServerProcess(tls);
    try {
      const { port, tlsPort } = JSON.parse(await server.#line());
      server.#port = port;
      server.#tlsPort = tlsPort;
    } catch (e) {
      await server.stop();
      throw e;
    }
    return server;
  }

  /** The plain HTTP port. */
  get port(): number {
    return this.#port;
  }

  /** The TLS port, if the TLS listener was added. */
  get tlsPort(): number | undefined {
    return this.#tlsPort;
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
          () => reject(new Error("Benchmark server did not answer")),
          deadline - Date.now(),
        );
      });
      try {
        const { value, done } = await Promise.race([
          this.#reader.read(),
          timeout,
        ]);
        if (done) throw new Error("Benchmark server exited");
        this.#pending += value;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new Error("Benchmark server did not answer");
  }

  /**
   * Returns the connections the server accepted since the last call, and
   * resets its count.
   *
   * @returns The connection count.
   */
  async reset(): Promise<number> {
    await this.#writer.write(encoder.encode("reset\n"));
    return JSON.parse(await this.#line()).connections;
  }

  /**
   * Lets this process exit while the server runs; the server stops when
   * its stdin closes, that is when this process exits. Used by `deno bench`
   * files, which have no teardown hook. `reset()` is unusable afterwards.
   */
  detach(): void {
    this.#reader.cancel().catch(() => {});
    this.#child.unref();
  }

  /** Stops the server (closes its stdin) and waits for it to exit. */
  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill(), 5000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader.cancel().catch(() => {});
  }
}
