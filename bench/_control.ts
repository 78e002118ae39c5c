// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The control channel between the benchmark driver and the helper processes
 * it starts (`bench/_server.ts`, `bench/_nginx.ts`, `bench/_proxy.ts`): JSON
 * lines on the helper's stdout, one-word commands (`stats`, `reset`) on its
 * stdin. A helper stops when its stdin closes, so none outlives the process
 * that started it, however that process ended.
 *
 * The driver's side is {@linkcode HelperProcess}; the helper's side is
 * {@linkcode answerCommands}, {@linkcode printLine} and, for helpers that
 * run a server of someone else's in a temporary directory,
 * {@linkcode runInTempDir}.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Longest wait for one line from a helper, in milliseconds. */
const LINE_TIMEOUT = 10_000;

/** A helper process seen from the driver: spawned, asked, stopped. */
export class HelperProcess {
  #name: string;
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reader: ReadableStreamDefaultReader<string>;
  #pending = "";

  /**
   * Spawns `deno run <args>` (behind the `pin` prefix, such as
   * `["taskset", "-c", "0"]`) and waits for its first line, which must be
   * a JSON object without an `error` field.
   *
   * @param name What the helper is, for errors ("Benchmark server").
   * @param args Arguments of `deno run`: flags, the script, its arguments.
   * @param pin A command prefix that pins the helper to a core.
   * @returns The helper and its first line, parsed.
   */
  static async start(
    name: string,
    args: string[],
    pin: string[] = [],
  ): Promise<{ helper: HelperProcess; ready: Record<string, unknown> }> {
    const helper = new HelperProcess(name, args, pin);
    try {
      const ready = JSON.parse(await helper.#line());
      if (ready.error !== undefined) throw new Error(ready.error);
      return { helper, ready };
    } catch (e) {
      await helper.stop();
      throw e;
    }
  }

  private constructor(name: string, args: string[], pin: string[]) {
    this.#name = name;
    const [command, ...prefix] = [...pin, Deno.execPath()];
    this.#child = new Deno.Command(command!, {
      args: [...prefix, "run", ...args],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.#reader = this.#child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
  }

  /**
   * Sends `command` and returns the helper's answer, parsed.
   *
   * @param command `stats` or `reset`.
   * @returns The JSON object the helper answered.
   */
  async ask(command: string): Promise<Record<string, unknown>> {
    await this.#writer.write(encoder.encode(command + "\n"));
    return JSON.parse(await this.#line());
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
          () => reject(new Error(`${this.#name} did not answer`)),
          deadline - Date.now(),
        );
      });
      try {
        const { value, done } = await Promise.race([
          this.#reader.read(),
          timeout,
        ]);
        if (done) throw new Error(`${this.#name} exited`);
        this.#pending += value;
      } finally {
        clearTimeout(timer);
      }
    }
    throw new Error(`${this.#name} did not answer`);
  }

  /**
   * Lets this process exit while the helper runs; the helper stops when
   * its stdin closes, that is when this process exits. For `deno bench`
   * files, which have no teardown hook. `ask()` is unusable afterwards.
   */
  detach(): void {
    this.#reader.cancel().catch(() => {});
    this.#child.unref();
  }

  /** Stops the helper (closes its stdin) and waits for it to exit. */
  async stop(): Promise<void> {
    await this.#writer.close().catch(() => {});
    const timer = setTimeout(() => this.#child.kill(), 5000);
    await this.#child.status;
    clearTimeout(timer);
    await this.#reader.cancel().catch(() => {});
  }
}

/** Writes `value` as one JSON line on stdout (the helper's side). */
export function printLine(value: unknown): void {
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(value) + "\n"));
}

/**
 * Answers `stats` and `reset` on stdin until it closes (the helper's side):
 * each is answered with the line `answer(command)` returns; other lines are
 * ignored.
 *
 * @param answer What to print for a command.
 */
export async function answerCommands(
  answer: (command: "stats" | "reset") => unknown | Promise<unknown>,
): Promise<void> {
  let pending = "";
  const chunk = new Uint8Array(4096);
  for (let i = 0; i < Number.MAX_SAFE_INTEGER; i++) {
    const n = await Deno.stdin.read(chunk);
    if (n === null) return;
    pending += decoder.decode(chunk.subarray(0, n));
    let nl;
    while ((nl = pending.indexOf("\n")) >= 0) {
      const command = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (command !== "stats" && command !== "reset") continue;
      printLine(await answer(command));
    }
  }
}

/**
 * Runs `body` with a new temporary directory in `parent`, and always ends
 * with `stop` and the directory removed: when `body` returns or throws, or
 * on SIGINT or SIGTERM. An error is printed as `{"error": ...}` (with
 * `describe(error)`), the line the driver waits for.
 *
 * @param parent Where the directory goes.
 * @param prefix Its name's prefix.
 * @param body What runs in it.
 * @param stop Stops what `body` started, if anything (called once).
 * @param describe The error message to print (default: the error's own).
 */
export async function runInTempDir(
  parent: string,
  prefix: string,
  body: (dir: string) => Promise<void>,
  stop: () => Promise<void>,
  describe: (error: unknown) => string = errorMessage,
): Promise<void> {
  const dir = await Deno.makeTempDir({ dir: parent, prefix });
  let stopping: Promise<void> | undefined;
  const end = () =>
    stopping ??= (async () => {
      await stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();
  const onSignal = async () => {
    await end();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await body(dir);
  } catch (e) {
    printLine({ error: describe(e) });
  } finally {
    await end();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** The message of `error`, whatever was thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A free loopback port: bind port 0, read it, release it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops a server process: SIGTERM, then SIGKILL after `graceMs`.
 *
 * @param child The process.
 * @param graceMs How long it may take to exit on SIGTERM.
 */
export async function stopProcess(
  child: Deno.ChildProcess,
  graceMs: number,
): Promise<void> {
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
  }, graceMs);
  await child.status;
  clearTimeout(timer);
}

/**
 * Waits until `ports` accept connections on 127.0.0.1, while `child` runs:
 * true once they all do, false if it exited or 5 s passed.
 */
export async function waitForPorts(
  child: Deno.ChildProcess,
  ports: number[],
): Promise<boolean> {
  let exited = false;
  child.status.then(() => exited = true);
  for (let i = 0; i < 100 && !exited; i++) {
    try {
      for (const port of ports) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
      }
      return true;
    } catch {
      await sleep(50);
    }
  }
  return false;
}

/**
 * Sends `request` (a whole HTTP/1.1 request with `Connection: close`) to
 * 127.0.0.1:`port` on a connection of its own, and returns all it answered.
 */
export async function askOverHttp(
  port: number,
  request: string,
): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(request));
    let text = "";
    const buf = new Uint8Array(16384);
    for (let i = 0; i < 1000; i++) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n), { stream: true });
    }
    return text;
  } finally {
    conn.close();
  }
}
