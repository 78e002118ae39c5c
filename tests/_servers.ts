// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Test servers on loopback: a raw TCP server whose handler scripts the exact
 * bytes it sends and records the bytes it receives, one handler call per
 * accepted connection. Ports are always 0 (chosen by the OS).
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { delay } from "@std/async/delay";

const encoder = new TextEncoder();

/** A request as a raw server read it. */
export interface RawRequest {
  /** The request line, e.g. `GET / HTTP/1.1`. */
  line: string;
  /** The method. */
  method: string;
  /** The request target. */
  target: string;
  /** Header fields, names lowercased, in order. */
  headers: [string, string][];
  /** The head exactly as received, CRLFs included. */
  rawHead: string;
  /** The body (Content-Length or chunked, decoded). */
  body: Uint8Array;
  /** Gets a header value by lowercase name. */
  header(name: string): string | undefined;
}

/** One accepted connection, from the server's side. */
export class ServerConn {
  /** 1-based number of the connection on its server. */
  readonly id: number;
  readonly #conn: Deno.Conn;
  #buf: Uint8Array = new Uint8Array(0);
  #closed = false;
  /** Every byte received so far, as Latin-1 text. */
  received = "";
  /** The size of each read, in order: shows how the client's writes arrived. */
  reads: number[] = [];

  constructor(conn: Deno.Conn, id: number) {
    this.#conn = conn;
    this.id = id;
  }

  /** Whether this side closed the connection. */
  get closed(): boolean {
    return this.#closed;
  }

  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    let n: number | null;
    try {
      n = await this.#conn.read(chunk);
    } catch {
      return false;
    }
    if (n === null) return false;
    this.reads.push(n);
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    this.received += latin1(chunk.subarray(0, n));
    return true;
  }

  #take(n: number): Uint8Array {
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.slice(n);
    return out;
  }

  async #readLine(): Promise<string | null> {
    while (true) {
      const i = this.#buf.indexOf(10);
      if (i !== -1) return latin1(this.#take(i + 1)).replace(/\r?\n$/, "");
      if (!await this.#fill()) return null;
    }
  }

  /** Whether bytes are already buffered (a pipelined request arrived). */
  get buffered(): number {
    return this.#buf.length;
  }

  /**
   * Reads one request (head and body). Resolves `null` at EOF before a
   * request starts.
   */
  async readRequest(): Promise<RawRequest | null> {
    let line = await this.#readLine();
    while (line === "") line = await this.#readLine();
    if (line === null) return null;
    let rawHead = line + "\r\n";
    const headers: [string, string][] = [];
    while (true) {
      const h = await this.#readLine();
      if (h === null) throw new Error("EOF in request head");
      rawHead += h + "\r\n";
      if (h === "") break;
      const colon = h.indexOf(":");
      headers.push([
        h.slice(0, colon).toLowerCase(),
        h.slice(colon + 1).trim(),
      ]);
    }
    const get = (name: string) => headers.find(([k]) => k === name)?.[1];
    let body: Uint8Array = new Uint8Array(0);
    const length = get("content-length");
    if (get("transfer-encoding")?.includes("chunked")) {
      const parts: Uint8Array[] = [];
      while (true) {
        const sizeLine = await this.#readLine();
        if (sizeLine === null) throw new Error("EOF in chunked body");
        const size = parseInt(sizeLine, 16);
        if (size === 0) {
          while ((await this.#readLine()) !== "") { /* trailers */ }
          break;
        }
        while (this.#buf.length < size + 2) {
          if (!await this.#fill()) throw new Error("EOF in chunk");
        }
        parts.push(this.#take(size));
        this.#take(2);
      }
      body = concatBytes(parts);
    } else if (length !== undefined) {
      const n = Number(length);
      while (this.#buf.length < n) {
        if (!await this.#fill()) throw new Error("EOF in body");
      }
      body = this.#take(n);
    }
    const [method, target] = line.split(" ");
    return {
      line,
      method,
      target,
      headers,
      rawHead,
      body,
      header: get,
    };
  }

  /** Waits for EOF from the client; true if it came within `ms`. */
  async waitForClose(ms = 2000): Promise<boolean> {
    const eof = (async () => {
      while (await this.#fill()) { /* keep reading */ }
      return true;
    })();
    // #fill() never throws: the only rejection is the deadline passing.
    return await deadline(eof, ms).catch(() => false);
  }

  /** Writes bytes or Latin-1 text. */
  async write(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    let written = 0;
    while (written < bytes.length) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  /** Writes `data` in pieces of `size` bytes, pausing `pauseMs` between. */
  async writeSplit(
    data: string | Uint8Array,
    size: number,
    pauseMs = 0,
  ): Promise<void> {
    const bytes = typeof data === "string" ? latin1Bytes(data) : data;
    for (let i = 0; i < bytes.length; i += size) {
      await this.write(bytes.subarray(i, i + size));
      await delay(pauseMs);
    }
  }

  /** Closes the connection (a FIN, not a reset). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }
}

/** A raw TCP server on 127.0.0.1 that runs `handler` for each connection. */
export interface RawServer extends AsyncDisposable {
  /** The port it listens on. */
  port: number;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections open now (accepted and not yet closed by either side). */
  readonly open: number;
  /** Every connection accepted, in order. */
  conns: ServerConn[];
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a raw server. `handler` scripts one connection; when it returns the
 * connection is closed unless it was told to keep it (`keep: true`). The
 * handler also gets the socket under `conn`, to read a few bytes past it.
 */
export function rawServer(
  handler: (conn: ServerConn, socket: Deno.Conn) => Promise<void>,
): RawServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns: ServerConn[] = [];
  const tasks: Promise<void>[] = [];
  let open = 0;
  const accepting = (async () => {
    for await (const socket of listener) {
      const conn = new ServerConn(socket, conns.length + 1);
      conns.push(conn);
      open++;
      tasks.push(
        (async () => {
          try {
            await handler(conn, socket);
          } catch {
            // A handler failing is the test's business; it asserts on results.
          } finally {
            conn.close();
            open--;
          }
        })(),
      );
    }
  })();
  const server: RawServer = {
    port,
    origin: `http://127.0.0.1:${port}`,
    get accepted() {
      return conns.length;
    },
    get open() {
      return open;
    },
    conns,
    async close() {
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of conns) conn.close();
      await accepting.catch(() => {});
      await Promise.allSettled(tasks);
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}

/**
 * A handler that answers every request on a connection with `respond`, in
 * order, until the client closes it. `respond` may wait before it answers.
 */
export function keepAliveHandler(
  respond: (
    req: RawRequest,
    conn: ServerConn,
  ) => string | Uint8Array | Promise<string | Uint8Array>,
): (conn: ServerConn) => Promise<void> {
  return async (conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      await conn.write(await respond(req, conn));
    }
  };
}

/**
 * A keep-alive handler that answers `/large` with a Content-Length body of
 * `pieces` writes of 100 000 zero bytes, and every other request with
 * `respond`. The large body is written as fast as the client reads it; the
 * handler returns when the client gives up on it (a write fails).
 */
export function largeBodyHandler(
  pieces: number,
  respond: (req: RawRequest) => string,
): (conn: ServerConn) => Promise<void> {
  return async (conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      if (req.target !== "/large") {
        await conn.write(respond(req));
        continue;
      }
      await conn.write(
        `HTTP/1.1 200 OK\r\nContent-Length: ${pieces * 100_000}\r\n\r\n`,
      );
      try {
        for (let i = 0; i < pieces; i++) {
          await conn.write(new Uint8Array(100_000));
        }
      } catch {
        return; // The client gave up on it.
      }
    }
  };
}

/** An HTTP/1.1 response with a Content-Length body. */
export function response(
  body: string,
  { status = 200, headers = [] as string[] } = {},
): string {
  const reason = status === 200 ? "OK" : "Status";
  return `HTTP/1.1 ${status} ${reason}\r\n${
    headers.map((h) => h + "\r\n").join("")
  }Content-Length: ${latin1Bytes(body).length}\r\n\r\n${body}`;
}

/** Decodes bytes as Latin-1. */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Encodes Latin-1 text as bytes. */
export function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** UTF-8 bytes of `text`. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Fetches `<origin>/0` to `<origin>/<count - 1>` with `client`, all at once,
 * and resolves their bodies as text, in that order.
 */
export function fetchTexts(
  client: { fetch(input: string): Promise<Response> },
  origin: string,
  count: number,
): Promise<string[]> {
  return Promise.all(
    Array.from(
      { length: count },
      async (_, i) => (await client.fetch(`${origin}/${i}`)).text(),
    ),
  );
}

/** Polls `condition` every 10 ms until true or `ms` elapse. */
export async function waitFor(
  condition: () => boolean,
  ms = 2000,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await delay(10);
  }
  return condition();
}

/** What {@linkcode runWithMod} saw of the child process. */
export interface ModScriptResult {
  /** Whether it exited with status 0. */
  success: boolean;
  /** Its standard output, decoded. */
  stdout: string;
  /** Its standard error, decoded. */
  stderr: string;
  /** Milliseconds from start to exit. */
  elapsed: number;
}

/**
 * Runs `code` in a child `deno eval` after `import { <names> }` from this
 * package's `mod.ts`, and waits for the process to exit on its own: shows
 * whether open sockets or timers keep a process alive.
 */
export async function runWithMod(
  names: string[],
  code: string,
): Promise<ModScriptResult> {
  const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
  const script = `import { ${names.join(", ")} } from ${mod};\n${code}`;
  const started = Date.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", "--quiet", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const elapsed = Date.now() - started;
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    elapsed,
  };
}
