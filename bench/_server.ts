// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A small, fast HTTP/1.1 server for the benchmarks, meant to run in its own
 * process so that the client's CPU time is measured alone.
 *
 * It speaks just enough HTTP/1.1 for the workloads, on raw `Deno.listen`
 * sockets (TLS: `node:tls`, see `NodeSocketConn`), and is correct under
 * pipelining: requests are parsed in a loop
 * from a per-connection buffer, answered in order, and the responses to all
 * the complete requests found in one read go out in one write.
 *
 * Routes:
 * - `GET /small`: the 13-byte body `Hello, World!`.
 * - `GET /64k`: a 65,536-byte body.
 * - `GET /api`: the "typical API" response of `bench/_payloads.ts`, 1 KiB of
 *   JSON with the fifteen header fields nginx sends for it (see
 *   `bench/_nginx.ts`), in nginx's order, with a fresh `X-Request-Id` each.
 * - `POST /echo`: reads the body (`Content-Length` or chunked) and answers
 *   its length in decimal.
 * - `GET /__stats`: `{"connections":n}`, the connections accepted since the
 *   last reset; `GET /__stats?reset` also resets the count. A connection whose
 *   first request is `/__stats` is not counted.
 *
 * A request is answered with `Connection: close` and its connection closed
 * when it sends `Connection: close`, when its target has a `close` query
 * parameter (`/small?close`), or always with `--close`.
 *
 * With `--tls`, two TLS listeners are added: this HTTP/1.1 server over
 * `node:tls` (no ALPN), and `Deno.serve` over TLS, which offers `h2` and
 * `http/1.1` by ALPN, for the HTTP/2 rows (`bench/_server_h2.ts`; `/small`,
 * `/64k` and `/api` only).
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read=tests/fixtures
 * bench/_server.ts [--port N] [--tls] [--close]`. It prints one JSON line,
 * `{"port":n,"tlsPort":m,"h2Port":k}` (`tlsPort` and `h2Port` with `--tls`
 * only), then serves until its stdin closes. Each stdin line is a command
 * answered by one JSON line on stdout: `stats` prints
 * `{"connections":n,"tlsResumed":r,"protocols":{"h2":a,"http/1.1":b}}`
 * (`n`: connections accepted on every listener; `r`: TLS connections that
 * resumed a session, null when some were on the h2 listener, which cannot
 * tell; `protocols`: the h2 listener's connections by the protocol they
 * spoke), `reset` prints it and resets the counts.
 *
 * @module
 */

import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Server } from "node:tls";
import {
  type H2Listener,
  type ListenerProtocol,
  startH2Listener,
} from "./_server_h2.ts";
import {
  API_BYTES,
  API_HEADERS,
  apiBody,
  BIG_BYTES,
  SMALL_BODY,
} from "./_payloads.ts";
import { answerCommands, printLine } from "./_control.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const CR = 13;
const LF = 10;
/** Most bytes a request head may take before the server gives up. */
const MAX_HEAD_BYTES = 64 * 1024;
const READ_SIZE = 64 * 1024;

/** Options for {@linkcode startServer}. */
export interface ServerOptions {
  /** Port for plain HTTP; 0 picks a free one. @default {0} */
  port?: number;
  /**
   * TLS certificate and key (PEM); when given, two TLS listeners are added:
   * HTTP/1.1 only, and `Deno.serve` offering `h2` (see
   * `bench/_server_h2.ts`).
   */
  tls?: { cert: string; key: string };
  /** Answer every request with `Connection: close`. @default {false} */
  close?: boolean;
}

/** A running benchmark server. */
export interface BenchServer {
  /** The plain HTTP port. */
  port: number;
  /** The TLS port, when TLS was requested. */
  tlsPort?: number;
  /** The TLS port of `Deno.serve` (h2 or HTTP/1.1), when TLS was requested. */
  h2Port?: number;
  /** Connections accepted since the last reset, on every listener. */
  connections(): number;
  /**
   * TLS connections since the last reset that resumed a session; null when
   * some connections were on the h2 listener, which cannot tell.
   */
  tlsResumed(): number | null;
  /** The h2 listener's connections since the last reset, by protocol. */
  protocols(): Record<ListenerProtocol, number>;
  /** Returns the connections accepted since the last reset, and resets. */
  reset(): number;
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

function response(
  status: string,
  body: Uint8Array,
  close: boolean,
): Uint8Array {
  const head = encoder.encode(
    `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${
      close ? "Connection: close\r\n" : ""
    }\r\n`,
  );
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

const SMALL = encoder.encode(SMALL_BODY);
const BIG = new Uint8Array(BIG_BYTES).fill(0x61);
const CANNED = {
  small: [response("200 OK", SMALL, false), response("200 OK", SMALL, true)],
  big: [response("200 OK", BIG, false), response("200 OK", BIG, true)],
  notFound: [
    response("404 Not Found", encoder.encode("Not Found"), false),
    response("404 Not Found", encoder.encode("Not Found"), true),
  ],
};
const BAD_REQUEST = response(
  "400 Bad Request",
  encoder.encode("Bad Request"),
  true,
);

/**
 * The `/api` response, as nginx sends it for a static file with the
 * `add_header` fields of `bench/_payloads.ts`. The head is rebuilt when the
 * second (`Date`) changes; each response is a copy with its own request id.
 */
class ApiResponse {
  static readonly #BODY = encoder.encode(apiBody());
  static readonly #MODIFIED = new Date();
  static readonly #ETAG = `"${
    Math.floor(ApiResponse.#MODIFIED.getTime() / 1000).toString(16)
  }-${API_BYTES.toString(16)}"`;
  /** Random high half of every request id, so ids differ between runs. */
  static readonly #PREFIX = crypto.getRandomValues(new Uint8Array(8));
  #second = -1;
  #canned: [Uint8Array, Uint8Array] = [new Uint8Array(), new Uint8Array()];
  #idOffset: [number, number] = [0, 0];
  #next = 0;

  #build(now: Date, close: boolean): [Uint8Array, number] {
    const lines = [
      "HTTP/1.1 200 OK",
      "Server: pooled-fetch-bench",
      `Date: ${now.toUTCString()}`,
      "Content-Type: application/json",
      `Content-Length: ${API_BYTES}`,
      `Last-Modified: ${ApiResponse.#MODIFIED.toUTCString()}`,
      `Connection: ${close ? "close" : "keep-alive"}`,
      `ETag: ${ApiResponse.#ETAG}`,
      ...API_HEADERS.map(([name, value]) => `${name}: ${value}`),
      "Accept-Ranges: bytes",
    ];
    const head = lines.join("\r\n") + "\r\n\r\n";
    const idOffset = head.indexOf("X-Request-Id: ") + "X-Request-Id: ".length;
    const out = new Uint8Array(head.length + API_BYTES);
    out.set(encoder.encode(head));
    out.set(ApiResponse.#BODY, head.length);
    for (let i = 0; i < 8; i++) {
      const b = ApiResponse.#PREFIX[i]!;
      out[idOffset + 2 * i] = HEX[b >> 4]!;
      out[idOffset + 2 * i + 1] = HEX[b & 15]!;
    }
    return [out, idOffset + 16];
  }

  /** A fresh copy of the response, with the next request id. */
  next(close: boolean): Uint8Array {
    const ms = Date.now();
    const second = Math.floor(ms / 1000);
    if (second !== this.#second) {
      this.#second = second;
      const now = new Date(ms);
      for (const c of [0, 1]) {
        [this.#canned[c], this.#idOffset[c]] = this.#build(now, c === 1);
      }
    }
    const c = close ? 1 : 0;
    const out = this.#canned[c]!.slice();
    let id = this.#next++;
    for (let i = this.#idOffset[c]! + 15; i >= this.#idOffset[c]!; i--) {
      out[i] = HEX[id % 16]!;
      id = Math.floor(id / 16);
    }
    return out;
  }
}

const HEX = encoder.encode("0123456789abcdef");
const API = new ApiResponse();

/** What `serveConn` needs from a socket; `Deno.Conn` has it. */
interface ByteConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/**
 * A `node:tls` socket as a {@linkcode ByteConn}. The TLS listener uses
 * `node:tls` because a socket accepted by `Deno.listenTls` cannot have
 * `TCP_NODELAY` set, and Nagle's algorithm then stalls some handshakes and
 * responses by about 40 ms (delayed ACK).
 */
class NodeSocketConn implements ByteConn {
  #sock: TLSSocket;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #ended = false;
  #wake: (() => void) | undefined;

  constructor(sock: TLSSocket) {
    this.#sock = sock;
    const wake = () => {
      const w = this.#wake;
      this.#wake = undefined;
      w?.();
    };
    sock.on("data", (chunk: Uint8Array) => {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > 1 << 20) sock.pause();
      wake();
    });
    const end = () => {
      this.#ended = true;
      wake();
    };
    sock.on("end", end);
    sock.on("close", end);
    sock.on("error", end);
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#queue.length === 0) {
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    let n = 0;
    while (n < p.length && this.#queue.length > 0) {
      const head = this.#queue[0]!;
      const take = Math.min(head.length, p.length - n);
      p.set(head.subarray(0, take), n);
      n += take;
      if (take === head.length) this.#queue.shift();
      else this.#queue[0] = head.subarray(take);
    }
    this.#queued -= n;
    if (this.#queued <= 1 << 20 && this.#sock.isPaused()) this.#sock.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#sock.destroyed) {
      return Promise.reject(new Error("Socket closed"));
    }
    if (this.#sock.write(p)) return Promise.resolve(p.length);
    return new Promise((resolve, reject) => {
      const done = () => {
        this.#sock.off("drain", done);
        this.#sock.off("close", done);
        if (this.#sock.destroyed) reject(new Error("Socket closed"));
        else resolve(p.length);
      };
      this.#sock.on("drain", done);
      this.#sock.on("close", done);
    });
  }

  close(): void {
    this.#sock.end();
    this.#sock.destroySoon();
  }
}

async function writeAll(conn: ByteConn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  n = 0;
  for (const c of chunks) {
    out.set(c, n);
    n += c.length;
  }
  return out;
}

/** Index of the `\r\n\r\n` ending the head, or -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = Math.max(from, 3); i < to; i++) {
    if (
      buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF &&
      buf[i - 3] === CR
    ) return i + 1;
  }
  return -1;
}

/**
 * Scans a chunked body starting at `pos`. Returns the end offset and decoded
 * length, `null` if more bytes are needed, or `-1` if malformed.
 */
function scanChunked(
  buf: Uint8Array,
  pos: number,
  end: number,
): { end: number; length: number } | null | -1 {
  let length = 0;
  for (let guard = 0; guard < 1_000_000; guard++) {
    let lineEnd = -1;
    for (let i = pos; i + 1 < end; i++) {
      if (buf[i] === CR && buf[i + 1] === LF) {
        lineEnd = i;
        break;
      }
    }
    if (lineEnd < 0) return end - pos > 1024 ? -1 : null;
    const sizeText = decoder.decode(buf.subarray(pos, lineEnd)).split(";")[0]!
      .trim();
    if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) return -1;
    const size = parseInt(sizeText, 16);
    pos = lineEnd + 2;
    if (size === 0) {
      // Trailer section: lines until an empty one (RFC 9112 §7.1.2).
      for (let g = 0; g < 1000; g++) {
        let e = -1;
        for (let i = pos; i + 1 < end; i++) {
          if (buf[i] === CR && buf[i + 1] === LF) {
            e = i;
            break;
          }
        }
        if (e < 0) return null;
        const empty = e === pos;
        pos = e + 2;
        if (empty) return { end: pos, length };
      }
      return -1;
    }
    if (end - pos < size + 2) return null;
    length += size;
    pos += size + 2;
  }
  return -1;
}

interface Counter {
  n: number;
  /** TLS connections that resumed an earlier session. */
  resumed: number;
}

async function serveConn(
  conn: ByteConn,
  counter: Counter,
  alwaysClose: boolean,
): Promise<void> {
  let buf = new Uint8Array(READ_SIZE);
  let start = 0; // first unparsed byte
  let end = 0; // end of valid data
  let scanned = 0; // head search resumes here
  let first = true;
  try {
    for (let reads = 0; reads < Number.MAX_SAFE_INTEGER; reads++) {
      if (end === buf.length) {
        if (start > 0) {
          buf.copyWithin(0, start, end);
          end -= start;
          scanned -= start;
          start = 0;
        } else {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf.subarray(0, end));
          buf = bigger;
        }
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) return;
      end += n;
      const out: Uint8Array[] = [];
      let closeAfter = false;
      while (start < end) {
        const he = headEnd(buf, Math.max(scanned, start), end);
        if (he < 0) {
          scanned = end;
          if (end - start > MAX_HEAD_BYTES) {
            out.push(BAD_REQUEST);
            closeAfter = true;
          }
          break;
        }
        const head = decoder.decode(buf.subarray(start, he - 4));
        const lines = head.split("\r\n");
        const [method, target] = lines[0]!.split(" ", 3);
        let contentLength = 0;
        let chunked = false;
        let close = alwaysClose;
        for (let i = 1; i < lines.length; i++) {
          const line = lines[i]!;
          const colon = line.indexOf(":");
          if (colon < 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim().toLowerCase();
          if (name === "content-length") contentLength = Number(value);
          else if (name === "transfer-encoding") {
            chunked = value.endsWith("chunked");
          } else if (name === "connection" && value.includes("close")) {
            close = true;
          }
        }
        let bodyEnd = he;
        let bodyLength = 0;
        if (chunked) {
          const r = scanChunked(buf, he, end);
          if (r === null) break;
          if (r === -1) {
            out.push(BAD_REQUEST);
            closeAfter = true;
            break;
          }
          bodyEnd = r.end;
          bodyLength = r.length;
        } else if (contentLength > 0) {
          if (!Number.isSafeInteger(contentLength)) {
            out.push(BAD_REQUEST);
            closeAfter = true;
            break;
          }
          if (end - he < contentLength) {
            // Make room for the whole body, then read on.
            if (he + contentLength > buf.length && start > 0) {
              buf.copyWithin(0, start, end);
              end -= start;
              start = 0;
            }
            scanned = start;
            if (contentLength > buf.length - start) {
              const bigger = new Uint8Array(start + contentLength + READ_SIZE);
              bigger.set(buf.subarray(0, end));
              buf = bigger;
            }
            break;
          }
          bodyEnd = he + contentLength;
          bodyLength = contentLength;
        }
        start = bodyEnd;
        scanned = start;
        const q = target?.indexOf("?") ?? -1;
        const path = q < 0 ? target : target!.slice(0, q);
        const query = q < 0 ? "" : target!.slice(q + 1);
        if (!close && /(^|&)close(=|&|$)/.test(query)) close = true;
        const c = close ? 1 : 0;
        if (first && path === "/__stats") counter.n--; // control connection
        first = false;
        if (method === "GET" && path === "/small") out.push(CANNED.small[c]!);
        else if (method === "GET" && path === "/64k") out.push(CANNED.big[c]!);
        else if (method === "GET" && path === "/api") out.push(API.next(close));
        else if (method === "POST" && path === "/echo") {
          out.push(
            response("200 OK", encoder.encode(String(bodyLength)), close),
          );
        } else if (method === "GET" && path === "/__stats") {
          const connections = counter.n;
          if (/(^|&)reset(=|&|$)/.test(query)) counter.n = 0;
          out.push(
            response(
              "200 OK",
              encoder.encode(JSON.stringify({ connections })),
              close,
            ),
          );
        } else out.push(CANNED.notFound[c]!);
        if (close) {
          closeAfter = true;
          break;
        }
      }
      if (start === end) start = end = scanned = 0;
      if (out.length > 0) await writeAll(conn, concat(out));
      if (closeAfter) return;
    }
  } catch {
    // Resets and broken pipes are the client's business.
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

/**
 * Starts the benchmark server on 127.0.0.1.
 *
 * @param options Ports, TLS material and close mode.
 * @returns The running server, once it listens.
 */
export async function startServer(
  options: ServerOptions = {},
): Promise<BenchServer> {
  const { port = 0, tls, close = false } = options;
  const counter: Counter = { n: 0, resumed: 0 };
  const conns = new Set<ByteConn>();
  const serve = (conn: ByteConn) => {
    counter.n++;
    conns.add(conn);
    serveConn(conn, counter, close).finally(() => conns.delete(conn));
  };
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        conn.setNoDelay(true);
        serve(conn);
      }
    } catch {
      // listener closed
    }
  })();
  let tlsServer: Server | undefined;
  let tlsPort: number | undefined;
  let h2: H2Listener | undefined;
  if (tls) {
    const server = createTlsServer({ cert: tls.cert, key: tls.key });
    server.on("secureConnection", (sock: TLSSocket) => {
      sock.setNoDelay(true);
      if (sock.isSessionReused()) counter.resumed++;
      serve(new NodeSocketConn(sock));
    });
    // Count TCP accepts like the plain listener does; a failed handshake
    // never reaches `secureConnection`.
    server.on("connection", (sock: { setNoDelay(v: boolean): void }) => {
      sock.setNoDelay(true);
    });
    server.on("tlsClientError", () => counter.n++);
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    tlsServer = server;
    tlsPort = (server.address() as { port: number }).port;
    h2 = await startH2Listener(tls);
  }
  const connections = () => counter.n + (h2?.connections() ?? 0);
  return {
    port: (listener.addr as Deno.NetAddr).port,
    tlsPort,
    ...(h2 ? { h2Port: h2.port } : {}),
    connections,
    tlsResumed: () => (h2?.connections() ?? 0) > 0 ? null : counter.resumed,
    protocols: () => h2?.protocols() ?? { "h2": 0, "http/1.1": 0 },
    reset: () => {
      const n = connections();
      counter.n = 0;
      counter.resumed = 0;
      h2?.reset();
      return n;
    },
    close: async () => {
      listener.close();
      tlsServer?.close();
      await h2?.close();
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      await loop;
    },
  };
}

async function main(): Promise<void> {
  const args = Deno.args;
  const portIdx = args.indexOf("--port");
  const port = portIdx >= 0 ? Number(args[portIdx + 1]) : 0;
  let tls: ServerOptions["tls"];
  if (args.includes("--tls")) {
    const dir = new URL("../tests/fixtures/", import.meta.url);
    tls = {
      cert: await Deno.readTextFile(new URL("server.pem", dir)),
      key: await Deno.readTextFile(new URL("server-key.pem", dir)),
    };
  }
  const server = await startServer({
    port,
    tls,
    close: args.includes("--close"),
  });
  printLine({
    port: server.port,
    tlsPort: server.tlsPort,
    h2Port: server.h2Port,
  });
  // Commands on stdin; EOF stops the server.
  await answerCommands((command) => {
    const tlsResumed = server.tlsResumed();
    const protocols = server.protocols();
    const connections = command === "reset"
      ? server.reset()
      : server.connections();
    return { connections, tlsResumed, protocols };
  });
  await server.close();
}

if (import.meta.main) await main();
