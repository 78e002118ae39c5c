// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The ceiling of the benchmark: the least an HTTP/1.1 client can do and still
 * give a caller what a real caller reads. It writes one fixed GET request
 * over `Deno.connect` (and `Deno.startTls`) sockets and, for each response,
 * parses the status line and the header fields `Content-Length`,
 * `Content-Type`, `X-Request-Id` and `Connection`, and delivers the body in a
 * fresh `Uint8Array` of exactly `Content-Length` bytes: the bytes already read
 * are copied into it, the rest is read straight into it. That one copy is the
 * least a `fetch` must do, since its body must outlive the read buffer.
 *
 * The pool has the shape of the clients it bounds: at most `connections`
 * sockets, at most `pipelining` requests in flight on each. A request takes
 * the idle socket used last, else a new socket while under the bound, else
 * the socket with the fewest requests in flight below the depth, else it
 * waits. Requests queued on one socket in the same few microtask turns go out
 * in one write, as pooled-fetch's do.
 *
 * What it leaves out, on purpose: chunked bodies, 1xx, bodies without
 * `Content-Length`, methods other than GET, timeouts, retries, `Headers` and
 * `Response` objects. Responses it cannot handle fail the request.
 *
 * @example Fetch one response
 * ```ts ignore
 * const client = new BareClient({ url: "http://127.0.0.1:8000/small" });
 * const { status, body } = await client.request();
 * await client.close();
 * ```
 *
 * @module
 */

/** Options for {@linkcode BareClient}. */
export interface BareClientOptions {
  /** The `http:` or `https:` URL requested each time. */
  url: string;
  /** Most sockets open at once. @default {1} */
  connections?: number;
  /** Most requests in flight on one socket. @default {1} */
  pipelining?: number;
  /** PEM CA certificate to trust, for `https:`. */
  caCert?: string;
}

/** One response, as the bare client delivers it. */
export interface BareResponse {
  /** The status code. */
  status: number;
  /** The `Content-Type` field, or null. */
  contentType: string | null;
  /** The `X-Request-Id` field, or null. */
  requestId: string | null;
  /** The whole body, in a buffer of its own. */
  body: Uint8Array<ArrayBuffer>;
}

interface Waiter {
  resolve(res: BareResponse): void;
  reject(error: unknown): void;
}

const CR = 13;
const LF = 10;
const COLON = 58;
const SP = 32;
const HTAB = 9;
const READ_SIZE = 64 * 1024;
/** Microtask turns a pipelined write waits for company (as pooled-fetch). */
const PIPELINE_WRITE_DELAY = 12;

const encoder = new TextEncoder();
const CONTENT_LENGTH = encoder.encode("content-length");
const CONTENT_TYPE = encoder.encode("content-type");
const X_REQUEST_ID = encoder.encode("x-request-id");
const CONNECTION = encoder.encode("connection");
const CLOSE = encoder.encode("close");

/** Whether `buf[at..]` is `lower` (letters compared case-insensitively). */
function named(buf: Uint8Array, at: number, lower: Uint8Array): boolean {
  for (let k = 0; k < lower.length; k++) {
    if ((buf[at + k]! | 0x20) !== lower[k]) return false;
  }
  return true;
}

/** The bytes `buf[from..to]` as a string, one char per byte. */
function latin1(buf: Uint8Array, from: number, to: number): string {
  return String.fromCharCode.apply(
    null,
    buf.subarray(from, to) as unknown as number[],
  );
}

function deferMicrotasks(fn: () => void, turns: number): void {
  if (turns === 0) fn();
  else queueMicrotask(() => deferMicrotasks(fn, turns - 1));
}

/** A parsed response head (RFC 9112 §4, §5, §6.3); exported for tests. */
export class ResponseHead {
  status = 0;
  contentLength = -1;
  contentType: string | null = null;
  requestId: string | null = null;
  close = false;

  /**
   * Parses the head starting at `start`. Returns the offset of the body, or
   * -1 when the head is not complete before `end`.
   */
  parse(buf: Uint8Array, start: number, end: number): number {
    // Status line: "HTTP/1.1 200 OK".
    if (end - start < 13) return -1;
    const s0 = buf[start + 9]! - 48;
    const s1 = buf[start + 10]! - 48;
    const s2 = buf[start + 11]! - 48;
    if (
      buf[start + 8] !== SP || s0 < 1 || s0 > 5 || s1 < 0 || s1 > 9 ||
      s2 < 0 || s2 > 9
    ) {
      throw new SyntaxError("Bad status line");
    }
    this.status = s0 * 100 + s1 * 10 + s2;
    this.contentLength = -1;
    this.contentType = null;
    this.requestId = null;
    this.close = false;
    let p = buf.indexOf(LF, start + 12);
    if (p < 0 || p >= end) return -1;
    p++;
    // Field lines, until the empty line.
    for (;;) {
      const lf = buf.indexOf(LF, p);
      if (lf < 0 || lf >= end) return -1;
      const eol = lf > p && buf[lf - 1] === CR ? lf - 1 : lf;
      if (eol === p) return lf + 1;
      const colon = buf.indexOf(COLON, p);
      if (colon < 0 || colon > eol) throw new SyntaxError("Bad field line");
      const nameLength = colon - p;
      let v = colon + 1;
      while (v < eol && (buf[v] === SP || buf[v] === HTAB)) v++;
      let ve = eol;
      while (ve > v && (buf[ve - 1] === SP || buf[ve - 1] === HTAB)) ve--;
      if (nameLength === 14 && named(buf, p, CONTENT_LENGTH)) {
        if (v === ve) throw new SyntaxError("Bad Content-Length");
        let n = 0;
        for (let i = v; i < ve; i++) {
          const d = buf[i]! - 48;
          if (d < 0 || d > 9) throw new SyntaxError("Bad Content-Length");
          n = n * 10 + d;
        }
        this.contentLength = n;
      } else if (nameLength === 12) {
        if (named(buf, p, CONTENT_TYPE)) {
          this.contentType = latin1(buf, v, ve);
        } else if (named(buf, p, X_REQUEST_ID)) {
          this.requestId = latin1(buf, v, ve);
        }
      } else if (nameLength === 10 && named(buf, p, CONNECTION)) {
        this.close = ve - v === 5 && named(buf, v, CLOSE);
      }
      p = lf + 1;
    }
  }
}

/** One socket of a {@linkcode BareClient}. */
class BareConnection {
  #client: BareClient;
  #conn: Deno.Conn | Deno.TlsConn | null = null;
  #waiters: Waiter[] = [];
  #head = 0;
  #unwritten = 0;
  #writing = false;
  #flushQueued = false;
  #closed = false;
  /** Requests sent or queued, not yet answered. */
  inFlight = 0;
  /** Settles when the socket has closed and its read loop ended. */
  done: Promise<void> = Promise.resolve();
  /** False once the server said `Connection: close`, or on failure. */
  accepting = true;

  constructor(client: BareClient) {
    this.#client = client;
  }

  /** Whether a write is queued (a request may join it). */
  get writePending(): boolean {
    return this.#flushQueued;
  }

  /** Opens the socket, then reads responses until it closes. */
  async open(
    hostname: string,
    port: number,
    tls: boolean,
    caCert: string | undefined,
  ): Promise<void> {
    try {
      const tcp = await Deno.connect({ hostname, port });
      tcp.setNoDelay(true);
      this.#conn = tls
        ? await Deno.startTls(tcp, {
          hostname,
          ...(caCert ? { caCerts: [caCert] } : {}),
        })
        : tcp;
      if (this.#closed) {
        this.#conn.close();
        return;
      }
    } catch (error) {
      this.#fail(error);
      return;
    }
    if (this.#unwritten > 0) this.#flush();
    await this.#readLoop(this.#conn);
  }

  /** Queues a request on this socket. */
  send(waiter: Waiter): void {
    this.#waiters.push(waiter);
    this.inFlight++;
    this.#unwritten++;
    if (this.#conn !== null && !this.#writing && !this.#flushQueued) {
      this.#flushQueued = true;
      if (this.inFlight === 1) queueMicrotask(this.#flush);
      else deferMicrotasks(this.#flush, PIPELINE_WRITE_DELAY);
    }
  }

  #flush = (): void => {
    this.#flushQueued = false;
    if (this.#writing || this.#closed || this.#unwritten === 0) return;
    this.#writing = true;
    this.#writeLoop(this.#conn!);
  };

  async #writeLoop(conn: Deno.Conn): Promise<void> {
    const { requests, requestBytes } = this.#client;
    try {
      while (this.#unwritten > 0 && !this.#closed) {
        const data = requests.subarray(0, this.#unwritten * requestBytes);
        this.#unwritten = 0;
        let written = 0;
        while (written < data.length) {
          written += await conn.write(data.subarray(written));
        }
      }
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#writing = false;
    }
  }

  async #readLoop(conn: Deno.Conn): Promise<void> {
    const head = new ResponseHead();
    const buf = new Uint8Array(READ_SIZE);
    let start = 0;
    let end = 0;
    try {
      while (!this.#closed) {
        if (buf.length - end < 4096) {
          if (start === 0) {
            if (end === buf.length) {
              throw new SyntaxError("Response head too large");
            }
          } else {
            buf.copyWithin(0, start, end);
            end -= start;
            start = 0;
          }
        }
        const n = await conn.read(buf.subarray(end));
        if (n === null) {
          if (this.inFlight > 0) {
            throw new Error("Connection closed before the response");
          }
          this.#shut();
          return;
        }
        end += n;
        while (start < end) {
          const bodyStart = head.parse(buf, start, end);
          if (bodyStart < 0) break;
          const length = head.contentLength;
          if (length < 0) throw new SyntaxError("No Content-Length");
          if (head.close) this.accepting = false;
          let body: Uint8Array<ArrayBuffer>;
          if (end - bodyStart >= length) {
            body = buf.slice(bodyStart, bodyStart + length);
            start = bodyStart + length;
          } else {
            // The rest of the body goes straight into its own buffer.
            body = new Uint8Array(length);
            body.set(buf.subarray(bodyStart, end));
            let filled = end - bodyStart;
            start = end = 0;
            while (filled < length) {
              const m = await conn.read(body.subarray(filled));
              if (m === null) throw new Error("Connection closed in a body");
              filled += m;
            }
          }
          this.#deliver(head, body);
          if (this.#closed) return;
        }
        if (start === end) start = end = 0;
      }
    } catch (error) {
      this.#fail(error);
    }
  }

  #deliver(head: ResponseHead, body: Uint8Array<ArrayBuffer>): void {
    const waiter = this.#waiters[this.#head];
    if (waiter === undefined) throw new SyntaxError("Unsolicited response");
    this.#waiters[this.#head++] = undefined as unknown as Waiter;
    if (this.#head === this.#waiters.length) {
      this.#waiters.length = 0;
      this.#head = 0;
    }
    this.inFlight--;
    waiter.resolve({
      status: head.status,
      contentType: head.contentType,
      requestId: head.requestId,
      body,
    });
    if (!this.accepting && this.inFlight === 0) this.#shut();
    else this.#client.released(this);
  }

  /** Closes the socket; requests still in flight fail with `error`. */
  #shut(error?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.accepting = false;
    try {
      this.#conn?.close();
    } catch {
      // Already closed.
    }
    const waiters = this.#waiters.slice(this.#head);
    this.#waiters.length = 0;
    this.#head = 0;
    this.inFlight = 0;
    for (const w of waiters) {
      w.reject(error ?? new Error("Connection closed before the response"));
    }
    this.#client.removed(this);
  }

  #fail(error: unknown): void {
    this.#shut(error);
  }

  /** Closes the socket, failing what is in flight. */
  close(): void {
    this.#shut(new Error("Client closed"));
  }
}

/** A minimal pooled HTTP/1.1 GET client: the ceiling rows of the bench. */
export class BareClient {
  #hostname: string;
  #port: number;
  #tls: boolean;
  #caCert: string | undefined;
  #max: number;
  #depth: number;
  #conns = new Set<BareConnection>();
  #idle: BareConnection[] = [];
  #waiting: Waiter[] = [];
  #opened = 0;
  #closed = false;
  /** `pipelining` copies of the request, back to back. */
  readonly requests: Uint8Array;
  /** Bytes in one request. */
  readonly requestBytes: number;

  /**
   * Prepares the client; sockets open on demand.
   *
   * @param options URL, pool shape and TLS trust.
   */
  constructor(options: BareClientOptions) {
    const { url, connections = 1, pipelining = 1, caCert } = options;
    const u = new URL(url);
    this.#tls = u.protocol === "https:";
    this.#hostname = u.hostname;
    this.#port = Number(u.port || (this.#tls ? 443 : 80));
    this.#caCert = caCert;
    this.#max = connections;
    this.#depth = pipelining;
    const request = encoder.encode(
      `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nAccept: */*\r\n\r\n`,
    );
    this.requestBytes = request.length;
    this.requests = new Uint8Array(request.length * pipelining);
    for (let i = 0; i < pipelining; i++) {
      this.requests.set(request, i * request.length);
    }
  }

  /** Sockets opened so far. */
  get connectionsOpened(): number {
    return this.#opened;
  }

  /**
   * Sends the request once.
   *
   * @returns The response, its body read in full.
   */
  request(): Promise<BareResponse> {
    return new Promise((resolve, reject) => {
      if (this.#closed) reject(new Error("Client closed"));
      else this.#dispatch({ resolve, reject });
    });
  }

  #dispatch(waiter: Waiter): void {
    const conn = this.#pick();
    if (conn === null) this.#waiting.push(waiter);
    else conn.send(waiter);
  }

  #pick(): BareConnection | null {
    while (this.#idle.length > 0) {
      const conn = this.#idle.pop()!;
      if (conn.accepting && conn.inFlight === 0) return conn;
    }
    if (this.#conns.size < this.#max) {
      const conn = new BareConnection(this);
      this.#conns.add(conn);
      this.#opened++;
      conn.done = conn.open(
        this.#hostname,
        this.#port,
        this.#tls,
        this.#caCert,
      );
      return conn;
    }
    if (this.#depth === 1) return null;
    let best: BareConnection | null = null;
    for (const conn of this.#conns) {
      if (!conn.accepting || conn.inFlight >= this.#depth) continue;
      if (conn.writePending) return conn;
      if (best === null || conn.inFlight < best.inFlight) best = conn;
    }
    return best;
  }

  /** Called by a socket that has answered a request and may take more. */
  released(conn: BareConnection): void {
    if (this.#waiting.length > 0 && conn.inFlight < this.#depth) {
      conn.send(this.#waiting.shift()!);
    } else if (conn.inFlight === 0) this.#idle.push(conn);
  }

  /** Called by a socket that has closed. */
  removed(conn: BareConnection): void {
    this.#conns.delete(conn);
    const i = this.#idle.indexOf(conn);
    if (i >= 0) this.#idle.splice(i, 1);
    // Its place may go to a request that waits.
    while (this.#waiting.length > 0 && !this.#closed) {
      const next = this.#pick();
      if (next === null) break;
      next.send(this.#waiting.shift()!);
    }
  }

  /** Closes every socket (requests in flight fail) and waits for them. */
  async close(): Promise<void> {
    this.#closed = true;
    const conns = [...this.#conns];
    for (const conn of conns) conn.close();
    for (const w of this.#waiting.splice(0)) {
      w.reject(new Error("Client closed"));
    }
    await Promise.all(conns.map((conn) => conn.done));
  }
}
