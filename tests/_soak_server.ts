// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The soak test's server: a raw HTTP/1.1 server on loopback (`Deno.listen`,
 * port 0) that answers requests for `/s?id=<id>&m=<method>` and injects
 * faults at random. It logs the id of every request it reads, so the driver
 * can check that no POST arrived twice and that every response it accepted
 * was really sent for its request.
 *
 * Every response body, whatever its status, is
 * `id=<id>;m=<method>;n=<n>;<n pattern bytes>;end=<id>`, so a response handed
 * to the wrong request, or cut short, is caught by the driver.
 *
 * Faults, drawn per request (`FaultRates`): closing an idle connection
 * (with or without an unsolicited 408 first), closing a busy connection
 * right after reading a request, closing with the rest of the request
 * unread (a reset, on a server that can send one: Deno's `close()` shuts
 * the write side down first, so the client sees a FIN, not an RST; real
 * RSTs are tested in `interop_test.ts` with Node's `resetAndDestroy()`),
 * closing in the middle of a
 * response, `408` + close, `429` / `503` with and without `Retry-After`,
 * stalls (short, and rarely longer than the client's headers timeout), and
 * responses split into small writes. Responses also vary in framing
 * (Content-Length, chunked with extensions and trailers, close-delimited,
 * HTTP/1.0), size (a few are larger than the client's read-ahead, so they
 * stream), interim 103 responses, and `Keep-Alive: timeout=2, max=N` hints.
 *
 * Run as a program (`deno run --allow-net=127.0.0.1 tests/_soak_server.ts
 * [--seed N] [--no-long-stalls] [--keep-open]`) it prints `{"port":N}` on a line, then
 * answers each `report` line on stdin with the report as one JSON line, and
 * exits at `exit` or the end of stdin.
 *
 * @module
 */

/** Probabilities of each fault, per request (idle ones per idle period). */
export interface FaultRates {
  /** Close an idle keep-alive connection after 0–20 ms. */
  idleClose: number;
  /** Write an unsolicited 408 on an idle connection, then close it. */
  idle408: number;
  /** Read a request, then close without answering (FIN). */
  closeBeforeAnswer: number;
  /**
   * Read only the request line, then close with the rest unread (where a
   * server would reset; Deno sends FIN).
   */
  closeUnread: number;
  /** Close in the middle of the response head or body. */
  closeMidResponse: number;
  /** Answer `408 Request Timeout` with `Connection: close`, then close. */
  status408: number;
  /** Answer `429 Too Many Requests`. */
  status429: number;
  /** Answer `503 Service Unavailable`. */
  status503: number;
  /** Wait 5–150 ms before answering. */
  stall: number;
  /** Wait `longStallMs` before answering (past the client's timeout). */
  longStall: number;
  /** Write the response in small pieces with pauses between. */
  split: number;
}

/** The default rates: about one request in twelve meets a fault. */
export const DEFAULT_FAULTS: FaultRates = {
  idleClose: 0.02,
  idle408: 0.005,
  closeBeforeAnswer: 0.005,
  closeUnread: 0.005,
  closeMidResponse: 0.005,
  status408: 0.005,
  status429: 0.01,
  status503: 0.01,
  stall: 0.02,
  longStall: 0.0002,
  split: 0.05,
};

/** Options of {@linkcode startSoakServer}. */
export interface SoakServerOptions {
  /** Seed of the fault draws. */
  seed?: number;
  /** Fault probabilities. */
  faults?: Partial<FaultRates>;
  /** Milliseconds of a long stall. */
  longStallMs?: number;
  /**
   * Never close a connection: no closing faults (idle closes, resets, 408,
   * cut responses, long stalls) and no close-delimited or HTTP/1.0
   * responses, so that a client's pipelining is never suspended. Stalls,
   * split writes, 429/503, interim responses, chunk extensions and trailers
   * remain.
   */
  keepOpen?: boolean;
}

/** The faults that close a connection, all off with `keepOpen`. */
const CLOSING_FAULTS: Partial<FaultRates> = {
  idleClose: 0,
  idle408: 0,
  closeBeforeAnswer: 0,
  closeUnread: 0,
  closeMidResponse: 0,
  status408: 0,
  longStall: 0,
};

/** What the server saw; ids index the count arrays. */
export interface SoakServerReport {
  /** `posts[id]`: times a POST with that id was read (request line seen). */
  posts: number[];
  /** `gets[id]`: times a GET with that id was read. */
  gets: number[];
  /** POSTs whose body did not carry the id of their URL (must be 0). */
  bodyMismatches: number;
  /** Requests the server could not parse (must be 0). */
  malformed: number;
  /** Connections accepted. */
  connections: number;
  /** Faults and response shapes, by name, with counts. */
  actions: Record<string, number>;
}

/** A running soak server. */
export interface SoakServer extends AsyncDisposable {
  /** The port on 127.0.0.1. */
  port: number;
  /** What the server saw so far. */
  report(): SoakServerReport;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The padding of response bodies: `n` bytes of a fixed pattern. */
export function pad(n: number): string {
  const unit = "abcdefghijklmnopqrstuvwxyz0123456789";
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

/** The body every response to request `id` carries. */
export function soakBody(id: number, method: string, n: number): string {
  return `id=${id};m=${method};n=${n};${pad(n)};end=${id}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A buffered reader over one connection with at most one read pending. */
class Reader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #pending: Promise<boolean> | null = null;
  eof = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get buffered(): number {
    return this.#buf.length;
  }

  /** Reads once (at most `max` bytes); false at EOF or error. */
  fill(max = 64 * 1024): Promise<boolean> {
    if (this.#pending !== null) return this.#pending;
    const chunk = new Uint8Array(max);
    this.#pending = this.#conn.read(chunk).then(
      (n) => {
        this.#pending = null;
        if (n === null) {
          this.eof = true;
          return false;
        }
        const next = new Uint8Array(this.#buf.length + n);
        next.set(this.#buf);
        next.set(chunk.subarray(0, n), this.#buf.length);
        this.#buf = next;
        return true;
      },
      () => {
        this.#pending = null;
        this.eof = true;
        return false;
      },
    );
    return this.#pending;
  }

  /** Waits up to `ms` for bytes; true when some are buffered. */
  async waitReadable(ms: number): Promise<boolean> {
    if (this.#buf.length > 0) return true;
    if (this.eof) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    });
    try {
      const won = await Promise.race([this.fill(), timeout]);
      return won === true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The first line, if a whole one is buffered (without consuming it). */
  peekLine(): string | null {
    const i = this.#buf.indexOf(10);
    return i === -1 ? null : decoder.decode(this.#buf.subarray(0, i)).trim();
  }

  /** Reads one request head and body; null at EOF before one starts. */
  async readRequest(): Promise<
    { method: string; target: string; body: string } | null
  > {
    let end: number;
    while ((end = findHeadEnd(this.#buf)) === -1) {
      if (!await this.fill()) {
        if (this.#buf.length === 0) return null;
        throw new Error("EOF in request head");
      }
    }
    const head = decoder.decode(this.#buf.subarray(0, end));
    this.#buf = this.#buf.subarray(end + 4);
    const lines = head.split("\r\n");
    const [method, target] = lines[0].split(" ");
    let length = 0;
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === "content-length") length = Number(value);
      if (name === "transfer-encoding") {
        throw new Error("chunked request bodies are not expected");
      }
    }
    while (this.#buf.length < length) {
      if (!await this.fill()) throw new Error("EOF in request body");
    }
    const body = decoder.decode(this.#buf.subarray(0, length));
    this.#buf = this.#buf.subarray(length);
    return { method, target, body };
  }
}

function findHeadEnd(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) {
      return i;
    }
  }
  return -1;
}

/** Parses `/s?id=<id>&m=<method>`; null when it is not that. */
function parseTarget(target: string): { id: number; m: string } | null {
  const match = /^\/s\?id=(\d+)&m=([A-Z]+)/.exec(target);
  return match === null ? null : { id: Number(match[1]), m: match[2] };
}

/** Starts the fault-injecting server on 127.0.0.1, port 0. */
export function startSoakServer(options: SoakServerOptions = {}): SoakServer {
  const { seed = 1, longStallMs = 3500, keepOpen = false } = options;
  const faults: FaultRates = {
    ...DEFAULT_FAULTS,
    ...options.faults,
    ...(keepOpen ? CLOSING_FAULTS : {}),
  };
  const random = prng(seed);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const posts: number[] = [];
  const gets: number[] = [];
  const actions: Record<string, number> = {};
  let bodyMismatches = 0;
  let malformed = 0;
  let connections = 0;
  const open = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let closing = false;

  const count = (name: string) => {
    actions[name] = (actions[name] ?? 0) + 1;
  };
  const record = (method: string, id: number) => {
    const log = method === "POST" ? posts : gets;
    log[id] = (log[id] ?? 0) + 1;
  };
  /** Picks a key of `rates` by probability, or null for none. */
  const draw = <K extends keyof FaultRates>(keys: K[]): K | null => {
    let r = random();
    for (const key of keys) {
      if (r < faults[key]) return key;
      r -= faults[key];
    }
    return null;
  };

  async function write(conn: Deno.Conn, data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.length) {
      written += await conn.write(data.subarray(written));
    }
  }

  /**
   * Writes `data` in small pieces: 1–40 bytes over the first 4 KiB (the
   * head and the start of the body, cut anywhere), then up to 16 KiB.
   */
  async function writeSplit(conn: Deno.Conn, data: Uint8Array): Promise<void> {
    let i = 0;
    while (i < data.length) {
      const size = i < 4096
        ? 1 + Math.floor(random() * 40)
        : 1 + Math.floor(random() * 16384);
      await write(conn, data.subarray(i, i + size));
      i += size;
      await sleep(random() < 0.1 ? 1 : 0);
    }
  }

  /** Builds a response; returns its bytes and whether to close after it. */
  function build(
    id: number,
    method: string,
    status: number,
    extra: string[] = [],
    delimited = true,
  ): { bytes: Uint8Array; close: boolean } {
    const large = random() < 0.02;
    const n = large
      ? 70_000 + Math.floor(random() * 130_000)
      : Math.floor(random() * 1500);
    const body = encoder.encode(soakBody(id, method, n));
    const reasons: Record<number, string> = {
      200: "OK",
      408: "Request Timeout",
      429: "Too Many Requests",
      503: "Service Unavailable",
    };
    const headers = [`content-type: text/plain`, ...extra];
    if (random() < 0.03) {
      // A hint the client follows: keep idle at most 1 s (2 s less its
      // margin), and carry at most a few more requests.
      count("keep-alive hint");
      headers.push(
        `keep-alive: timeout=2, max=${1 + Math.floor(random() * 20)}`,
      );
    }
    let close = status === 408;
    if (close) headers.push("connection: close");
    // A close-delimited body cut short looks complete (RFC 9112 §6.3): when
    // the response is to be cut, frame it so that the cut can be told.
    const shape = delimited && !keepOpen ? random() : random() * 0.92;
    let version = "HTTP/1.1";
    let framed: Uint8Array;
    if (method === "HEAD") {
      framed = new Uint8Array(0);
      headers.push(`content-length: ${body.length}`);
    } else if (shape < 0.6 || close) {
      count("shape:length");
      headers.push(`content-length: ${body.length}`);
      framed = body;
    } else if (shape < 0.92) {
      count("shape:chunked");
      headers.push("transfer-encoding: chunked");
      const parts: string[] = [];
      const text = decoder.decode(body);
      let i = 0;
      while (i < text.length) {
        const size = 1 + Math.floor(random() * 3000);
        const piece = text.slice(i, i + size);
        const ext = random() < 0.1 ? ";x=1" : "";
        parts.push(`${piece.length.toString(16)}${ext}\r\n${piece}\r\n`);
        i += size;
      }
      parts.push(random() < 0.1 ? "0\r\nx-trailer: 1\r\n\r\n" : "0\r\n\r\n");
      framed = encoder.encode(parts.join(""));
    } else if (shape < 0.96) {
      count("shape:close-delimited");
      headers.push("connection: close");
      close = true;
      framed = body;
    } else if (shape < 0.98) {
      count("shape:http/1.0");
      version = "HTTP/1.0";
      headers.push(`content-length: ${body.length}`);
      close = true;
      framed = body;
    } else {
      count("shape:length");
      headers.push(`content-length: ${body.length}`);
      framed = body;
    }
    let interim = "";
    if (version === "HTTP/1.1" && random() < 0.01) {
      count("interim 103");
      interim = "HTTP/1.1 103 Early Hints\r\nlink: </a>; rel=preload\r\n\r\n";
    }
    const head = encoder.encode(
      `${interim}${version} ${status} ${reasons[status]}\r\n${
        headers.join("\r\n")
      }\r\n\r\n`,
    );
    const bytes = new Uint8Array(head.length + framed.length);
    bytes.set(head);
    bytes.set(framed, head.length);
    return { bytes, close };
  }

  async function handle(conn: Deno.Conn): Promise<void> {
    const reader = new Reader(conn);
    let served = 0;
    while (!closing) {
      // Idle faults, between requests on a kept-alive connection.
      if (served > 0 && reader.buffered === 0) {
        const idle = draw(["idleClose", "idle408"]);
        if (idle !== null) {
          const ms = Math.floor(random() * 20);
          if (!await reader.waitReadable(ms)) {
            count(idle);
            if (idle === "idle408") {
              await write(
                conn,
                encoder.encode(
                  "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n",
                ),
              ).catch(() => {});
            }
            return;
          }
        }
      }
      const fault = draw([
        "closeUnread",
        "closeBeforeAnswer",
        "closeMidResponse",
        "status408",
        "status429",
        "status503",
        "stall",
        "longStall",
      ]);
      if (fault === "closeUnread") {
        // Read the request line (and maybe a little more) only, and close
        // with the rest unread.
        if (reader.buffered === 0) await reader.fill(64);
        const line = reader.peekLine();
        const parsed = line === null ? null : parseTarget(line.split(" ")[1]);
        if (parsed !== null) record(line!.split(" ")[0], parsed.id);
        count("closeUnread");
        return;
      }
      let req;
      try {
        req = await reader.readRequest();
      } catch {
        if (!closing) malformed++;
        return;
      }
      if (req === null) return;
      const parsed = parseTarget(req.target);
      if (parsed === null || parsed.m !== req.method) {
        malformed++;
        return;
      }
      const { id } = parsed;
      record(req.method, id);
      served++;
      if (req.method === "POST" && !req.body.startsWith(`{"id":${id},`)) {
        bodyMismatches++;
      }
      if (fault === "closeBeforeAnswer") {
        count(fault);
        return;
      }
      let status = 200;
      const extra: string[] = [];
      if (fault === "status408") status = 408;
      if (fault === "status429" || fault === "status503") {
        status = fault === "status429" ? 429 : 503;
        const r = random();
        // Mostly no wait or a short one; rarely longer than the client's
        // maxRetryAfter, which returns the response as it is.
        if (r < 0.4) extra.push("retry-after: 0");
        else if (r < 0.45) extra.push("retry-after: 1");
        else if (r < 0.5) extra.push("retry-after: 30");
      }
      if (fault !== null) count(fault);
      if (fault === "stall") await sleep(5 + Math.floor(random() * 145));
      if (fault === "longStall") await sleep(longStallMs);
      const { bytes, close } = build(
        id,
        req.method,
        status,
        extra,
        fault !== "closeMidResponse",
      );
      try {
        if (fault === "closeMidResponse") {
          await write(
            conn,
            bytes.subarray(0, Math.floor(random() * bytes.length)),
          );
          return;
        }
        if (random() < faults.split) {
          count("split");
          await writeSplit(conn, bytes);
        } else {
          await write(conn, bytes);
        }
      } catch {
        return; // The client went away.
      }
      if (close) return;
    }
  }

  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        connections++;
        open.add(conn);
        const task = handle(conn).catch(() => {}).finally(() => {
          open.delete(conn);
          try {
            conn.close();
          } catch {
            // Already closed.
          }
          tasks.delete(task);
        });
        tasks.add(task);
      }
    } catch {
      // The listener was closed.
    }
  })();

  const server: SoakServer = {
    port,
    report() {
      return {
        posts: Array.from(posts, (n) => n ?? 0),
        gets: Array.from(gets, (n) => n ?? 0),
        bodyMismatches,
        malformed,
        connections,
        actions: { ...actions },
      };
    },
    async close() {
      closing = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await accepting;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
      await Promise.allSettled([...tasks]);
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}

if (import.meta.main) {
  const args = Deno.args;
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i === -1 ? undefined : args[i + 1];
  };
  const server = startSoakServer({
    seed: Number(flag("--seed") ?? "1"),
    faults: args.includes("--no-long-stalls") ? { longStall: 0 } : {},
    keepOpen: args.includes("--keep-open"),
  });
  const out = async (line: string) => {
    await Deno.stdout.write(encoder.encode(line + "\n"));
  };
  await out(JSON.stringify({ port: server.port }));
  let buffered = "";
  for await (
    const chunk of Deno.stdin.readable.pipeThrough(
      new TextDecoderStream(),
    )
  ) {
    buffered += chunk;
    let nl: number;
    let done = false;
    while ((nl = buffered.indexOf("\n")) !== -1) {
      const command = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (command === "report") await out(JSON.stringify(server.report()));
      if (command === "exit") done = true;
    }
    if (done) break;
  }
  await server.close();
  Deno.exit(0);
}
