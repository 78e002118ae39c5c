// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * One HTTP/1.1 connection: it owns one socket, writes the requests given to
 * it (coalescing those issued in the same tick into one write), reads the
 * responses in order and hands each to its caller, and knows whether it may
 * carry another request (RFC 9112 §9.3).
 *
 * A read is always pending on the socket, so a connection that the server
 * closes or writes to while idle is noticed at once and discarded, never
 * reused. The socket is unref'd while idle so it never keeps a process alive.
 *
 * @module
 */

import {
  ChunkedDecoder,
  parseResponseHead,
  type ParserLimits,
  type ResponseHead,
} from "./_http1.ts";
import { Deadline, type DeadlineKind } from "./_deadline.ts";
import { concat } from "./_body.ts";
import { RequestWriter, type WriterHost } from "./_request_writer.ts";
import { FetchError, type FetchErrorCode, HttpParseError } from "./errors.ts";
import {
  type Exchange,
  exchangeFailure,
  nextConnectionId,
  Phase,
} from "./_exchange.ts";

/** Why a connection was closed; counted in the pool's stats. */
export type CloseReason =
  | "idle-timeout"
  | "keep-alive-timeout"
  | "max-requests"
  | "server-closed"
  | "unsolicited-bytes"
  | "max-age"
  | "not-reusable"
  | "error"
  | "aborted"
  | "body-cancelled"
  | "client-closed";

/** What a connection tells the pool that owns it. */
export interface ConnectionHost {
  /** A response completed: the connection can take another request. */
  released(conn: Connection): void;
  /**
   * The connection closed. `pipelineFailed` is true when the server's doing
   * (EOF, reset, an error) closed it with more than one request in flight,
   * or it broke framing, so the pool may stop pipelining to this origin for
   * a while.
   */
  closed(conn: Connection, reason: CloseReason, pipelineFailed: boolean): void;
}

/** Settings a connection needs; the client derives them from its options. */
export interface ConnectionSettings {
  /** `scheme://host:port`, for messages. */
  origin: string;
  /** Parser limits. */
  limits: ParserLimits;
  /** Bytes of a response body read ahead of the caller. */
  readAhead: number;
  /** Requests one connection may carry in all. */
  maxRequests: number;
}

const EMPTY = new Uint8Array(0);

/**
 * One HTTP/1.1 connection. Created by {@linkcode Connection.open}; driven by
 * its pool through {@linkcode Connection.send} and
 * {@linkcode Connection.close}.
 */
export class Connection {
  /** Increasing, process-wide: a larger id is a newer connection. */
  readonly id: number = nextConnectionId();
  /** Requests assigned to this connection so far. */
  requests = 0;
  /** Responses completed on this connection so far. */
  responses = 0;
  /** When the connection last became idle (`Date.now()`). */
  idleSince = 0;
  /** When the connection was opened (`Date.now()`). */
  readonly openedAt: number = Date.now();
  /**
   * Milliseconds the server said it keeps the connection open
   * (`Keep-Alive: timeout`), if it said.
   */
  keepAliveTimeout: number | undefined;

  #conn: Deno.Conn;
  #settings: ConnectionSettings;
  #host: ConnectionHost;
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;
  #inflight: Exchange[] = [];
  #writer: RequestWriter;
  #closed = false;
  #accepting = true;
  #maxRequests: number;
  #pipelineReady = false;
  #deadline = new Deadline((kind, ms) => this.#timedOut(kind, ms));
  #holTimer: ReturnType<typeof setTimeout> | undefined;
  #pullWaiter: (() => void) | null = null;
  #spare: Uint8Array | null = null;
  /** When the last read returned (`Date.now()`). */
  #readAt = 0;
  #refed = true;

  private constructor(
    conn: Deno.Conn,
    settings: ConnectionSettings,
    host: ConnectionHost,
  ) {
    this.#conn = conn;
    this.#settings = settings;
    this.#host = host;
    this.#maxRequests = settings.maxRequests;
    this.idleSince = Date.now();
    const writerHost: WriterHost = {
      isClosed: () => this.#closed,
      progressed: () => this.#deadline.extend(),
      writeFailed: (error) => this.#shutdown("error", error),
      bodyFailed: (exchange, failure) => {
        const error = new FetchError(failure.message, {
          stage: "sent",
          code: "REQUEST_BODY",
          origin: this.#settings.origin,
          reused: exchange.reused,
          cause: failure.cause ?? failure,
        });
        exchange.fail(error);
        this.#shutdown("error", error);
      },
    };
    this.#writer = new RequestWriter(conn, writerHost);
    this.#readLoop();
  }

  /**
   * Wraps a connected socket and starts reading from it.
   */
  static open(
    conn: Deno.Conn,
    settings: ConnectionSettings,
    host: ConnectionHost,
  ): Connection {
    return new Connection(conn, settings, host);
  }

  /** Whether the socket is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Requests written (or being written) and not yet answered in full. */
  get inFlight(): number {
    return this.#inflight.length;
  }

  /** Whether requests are waiting for a write that is about to happen. */
  get writePending(): boolean {
    return this.#writer.queued;
  }

  /** Whether the connection may be given another request. */
  get accepting(): boolean {
    return this.#accepting && !this.#closed;
  }

  /**
   * Whether a request may be written behind the ones in flight: the
   * connection has completed a keep-alive response from an HTTP/1.1 server,
   * and the last request in flight may itself be pipelined behind.
   */
  get canPipeline(): boolean {
    if (!this.#pipelineReady || !this.accepting) return false;
    const last = this.#inflight[this.#inflight.length - 1];
    return last === undefined || (last.pipelinable && last.stream === null);
  }

  /**
   * Writes `exchange`'s request on this connection. Requests sent in the
   * same tick go out in one write.
   */
  send(exchange: Exchange): void {
    exchange.reused = this.requests > 0;
    exchange.ahead = this.#inflight.length;
    exchange.phase = Phase.Head;
    this.requests++;
    if (this.requests >= this.#maxRequests) this.#accepting = false;
    this.#inflight.push(exchange);
    if (this.#inflight.length === 1) {
      if (!this.#refed) {
        this.#conn.ref();
        this.#refed = true;
      }
      this.#deadline.set(exchange.headersTimeout, "headers");
    }
    if (exchange.signal !== undefined) {
      exchange.onAbort = () => this.#abort(exchange);
    }
    this.#writer.write(exchange, this.#inflight.length > 1);
  }

  /**
   * Closes the connection once the requests in flight are answered; at once
   * when there are none.
   */
  close(reason: CloseReason): void {
    this.#accepting = false;
    if (this.#inflight.length === 0) this.#shutdown(reason, null);
  }

  /** Closes the socket at once, failing whatever is in flight with `error`. */
  destroy(reason: CloseReason, error: unknown): void {
    this.#shutdown(reason, error);
  }

  // ---- reading -----------------------------------------------------------

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        const cur = this.#inflight[0];
        let n: number | null;
        if (cur !== undefined && cur.phase !== Phase.Head) {
          if (
            cur.phase === Phase.Stream && cur.controller !== null &&
            cur.controller.desiredSize! <= 0
          ) {
            await this.#waitForReader(cur);
            continue;
          }
          if (this.#start === this.#end && cur.phase === Phase.Buffer) {
            // The rest of a small body goes straight into its own buffer.
            n = await this.#conn.read(cur.bodyBuf!.subarray(cur.filled));
            if (n !== null) cur.filled += n;
          } else if (
            this.#start === this.#end && cur.phase === Phase.Stream &&
            cur.head!.framing === "length" && cur.remaining >= 16 * 1024
          ) {
            n = await this.#readChunk(cur);
          } else {
            n = await this.#conn.read(this.#bufferSpace());
            if (n !== null) this.#end += n;
          }
        } else {
          // The common case: heads (and small bodies) into the read buffer.
          n = await this.#conn.read(this.#bufferSpace());
          if (n !== null) this.#end += n;
        }
        if (this.#closed) return;
        if (n === null) {
          this.#onEof();
          return;
        }
        // One clock read per read, shared by the responses it completes.
        const now = Date.now();
        this.#readAt = now;
        this.#deadline.extend(now);
        this.#process();
      }
    } catch (error) {
      this.#shutdown("error", error);
    }
  }

  /**
   * Reads a large body's next piece straight into a chunk that is handed to
   * the reader: no copy. Short reads do not waste the chunk: the next read
   * continues in its unused rest, so the chunks of a body share buffers
   * that they fill.
   */
  async #readChunk(cur: Exchange): Promise<number | null> {
    let space = this.#spare;
    if (space === null || space.byteLength < 4096) {
      space = new Uint8Array(64 * 1024);
    }
    const view = space.byteLength > cur.remaining
      ? space.subarray(0, cur.remaining)
      : space;
    this.#spare = null;
    const n = await this.#conn.read(view);
    if (n !== null && !this.#closed && !cur.done) {
      this.#readAt = Date.now();
      this.#spare = space.subarray(n);
      cur.remaining -= n;
      this.#enqueue(cur, view.subarray(0, n));
      if (cur.remaining === 0) this.#finishStream(cur);
    }
    return n;
  }

  /** The free end of the read buffer, after compacting or growing it. */
  #bufferSpace(): Uint8Array {
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
    } else if (this.#end === this.#buf.byteLength) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        // A head larger than the buffer: grow, up to the header limit (the
        // parser reports a head that exceeds it).
        const size = Math.min(
          this.#buf.byteLength * 2,
          this.#settings.limits.maxHeaderSize + 1024,
        );
        if (size <= this.#buf.byteLength) {
          throw new HttpParseError(
            `Response head exceeds maxHeaderSize (${this.#settings.limits.maxHeaderSize} bytes)`,
          );
        }
        const grown = new Uint8Array(size);
        grown.set(this.#buf.subarray(0, this.#end));
        this.#buf = grown;
      }
    }
    return this.#buf.subarray(this.#end);
  }

  /** Consumes buffered bytes: heads, bodies, and the next heads behind. */
  #process(): void {
    while (!this.#closed) {
      const cur = this.#inflight[0];
      if (cur === undefined) {
        if (this.#start < this.#end) {
          // Nothing was asked, yet bytes came: a 408 on an idle connection,
          // or garbage. Never read them as the next response (RFC 9112 §9.6).
          this.#shutdown("unsolicited-bytes", null);
        }
        return;
      }
      switch (cur.phase) {
        case Phase.Head: {
          if (this.#start === this.#end) return;
          cur.responded = true;
          const head = parseResponseHead(
            this.#buf,
            this.#start,
            this.#end,
            cur.method,
            this.#settings.limits,
          );
          if (head === null) return;
          this.#start += head.headLength;
          if (head.status < 200) {
            if (head.status === 101) {
              throw new HttpParseError(
                "Unexpected 101 Switching Protocols: no upgrade was requested",
              );
            }
            continue; // 1xx interim responses are skipped (RFC 9110 §15.2).
          }
          this.#onHead(cur, head);
          continue;
        }
        case Phase.Buffer: {
          const body = cur.bodyBuf!;
          const n = Math.min(
            this.#end - this.#start,
            body.byteLength - cur.filled,
          );
          if (n > 0) {
            body.set(
              this.#buf.subarray(this.#start, this.#start + n),
              cur.filled,
            );
            cur.filled += n;
            this.#start += n;
          }
          if (cur.filled === body.byteLength) {
            this.#complete(cur, body);
            continue;
          }
          return;
        }
        case Phase.Stream: {
          if (!this.#streamBuffered(cur)) return;
          continue;
        }
        default:
          return;
      }
    }
  }

  /** Moves buffered body bytes into the stream; true when the body ended. */
  #streamBuffered(cur: Exchange): boolean {
    const head = cur.head!;
    if (head.framing === "length") {
      const n = Math.min(this.#end - this.#start, cur.remaining);
      if (n > 0) {
        this.#enqueue(cur, this.#buf.slice(this.#start, this.#start + n));
        this.#start += n;
        cur.remaining -= n;
      }
      if (cur.remaining === 0) {
        this.#finishStream(cur);
        return true;
      }
      return false;
    }
    if (head.framing === "chunked") {
      const decoder = cur.decoder!;
      while (this.#start < this.#end && !decoder.done) {
        const used = decoder.decode(this.#buf, this.#start, this.#end);
        if (used === 0) break;
        this.#start += used;
        if (decoder.data !== null) this.#enqueue(cur, decoder.data.slice());
      }
      if (decoder.done) {
        this.#finishStream(cur);
        return true;
      }
      return false;
    }
    // Close-delimited: everything is body until EOF.
    if (this.#start < this.#end) {
      this.#enqueue(cur, this.#buf.slice(this.#start, this.#end));
      this.#start = this.#end;
    }
    return false;
  }

  #onHead(cur: Exchange, head: ResponseHead): void {
    cur.head = head;
    // A 408 says the server gave up on this connection (RFC 9110 §15.5.9),
    // whatever its Connection field says.
    if (!head.keepAlive || head.status === 408) this.#accepting = false;
    if (head.keepAliveTimeout !== undefined) {
      this.keepAliveTimeout = head.keepAliveTimeout;
    }
    if (head.keepAliveMax !== undefined) {
      // `max` counts the requests the server still allows after this one.
      this.#maxRequests = Math.min(
        this.#maxRequests,
        this.responses + 1 + head.keepAliveMax,
      );
      if (this.requests >= this.#maxRequests) this.#accepting = false;
    }
    switch (head.framing) {
      case "none":
        this.#complete(cur, null);
        return;
      case "length": {
        const available = this.#end - this.#start;
        const length = head.contentLength;
        if (available >= length) {
          const body = this.#buf.slice(this.#start, this.#start + length);
          this.#start += length;
          this.#complete(cur, body);
        } else if (length <= this.#settings.readAhead) {
          // Small body: gather it whole and hand over bytes, not a stream.
          const body = new Uint8Array(length);
          body.set(this.#buf.subarray(this.#start, this.#end));
          cur.bodyBuf = body;
          cur.filled = available;
          this.#start = this.#end;
          cur.phase = Phase.Buffer;
          this.#deadline.set(cur.bodyTimeout, "body");
        } else {
          cur.remaining = length;
          this.#deliverStream(cur);
        }
        return;
      }
      case "chunked": {
        const decoder = new ChunkedDecoder(this.#settings.limits);
        const pieces: Uint8Array[] = [];
        let pos = this.#start;
        while (pos < this.#end && !decoder.done) {
          const used = decoder.decode(this.#buf, pos, this.#end);
          if (used === 0) break;
          pos += used;
          if (decoder.data !== null) pieces.push(decoder.data);
        }
        if (decoder.done) {
          this.#start = pos;
          this.#complete(cur, concat(pieces));
          return;
        }
        cur.decoder = decoder;
        this.#deliverStream(cur);
        for (const piece of pieces) this.#enqueue(cur, piece.slice());
        this.#start = pos;
        return;
      }
      case "close":
        this.#deliverStream(cur);
        return;
    }
  }

  #deliverStream(cur: Exchange): void {
    cur.phase = Phase.Stream;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        cur.controller = controller;
      },
      pull: () => {
        const waiter = this.#pullWaiter;
        if (waiter !== null) {
          this.#pullWaiter = null;
          waiter();
        }
      },
      cancel: () => {
        if (!cur.done) {
          cur.finish();
          this.#shutdown("body-cancelled", null);
        }
      },
    }, {
      highWaterMark: this.#settings.readAhead,
      size: (chunk) => chunk.byteLength,
    });
    this.#deadline.set(cur.bodyTimeout, "body");
    cur.deliver(cur.head!, protocolOf(cur.head!), stream);
  }

  #enqueue(cur: Exchange, chunk: Uint8Array): void {
    try {
      cur.controller!.enqueue(chunk);
    } catch {
      // The reader cancelled; the cancel callback closes the connection.
    }
  }

  #finishStream(cur: Exchange): void {
    try {
      cur.controller!.close();
    } catch {
      // Already cancelled.
    }
    this.#complete(cur, null);
  }

  /**
   * Waits until the reader of `cur`'s body wants more. Requests pipelined
   * behind a body that is not read are moved elsewhere after a short while
   * rather than stalled without bound.
   */
  #waitForReader(cur: Exchange): Promise<void> {
    this.#deadline.set(cur.bodyTimeout, "reader");
    if (this.#inflight.length > 1 && this.#holTimer === undefined) {
      const timer = setTimeout(() => {
        this.#holTimer = undefined;
        if (this.#inflight[0] === cur && this.#pullWaiter !== null) {
          this.#detachBehind();
        }
      }, Math.min(1000, cur.bodyTimeout));
      Deno.unrefTimer(timer);
      this.#holTimer = timer;
    }
    return new Promise((resolve) => {
      this.#pullWaiter = () => {
        // A waiter woken by the shutdown must not arm a timer again.
        if (!this.#closed) this.#deadline.set(cur.bodyTimeout, "body");
        resolve();
      };
    });
  }

  /**
   * Fails the requests behind the current response as retryable ("sent" on
   * a reused connection, which the retry policy replays at once when it
   * may), and closes this connection after the current response.
   */
  #detachBehind(): void {
    this.#accepting = false;
    const behind = this.#inflight.splice(1);
    for (const exchange of behind) {
      exchange.fail(
        new FetchError(
          "the request was moved off a pipelined connection: the response before it is not being read",
          {
            stage: exchange.written ? "sent" : "unsent",
            code: "CONNECTION_CLOSED",
            origin: this.#settings.origin,
            reused: true,
          },
        ),
      );
    }
  }

  #complete(cur: Exchange, body: Uint8Array | null): void {
    this.#inflight.shift();
    const delivered = cur.phase === Phase.Stream;
    cur.finish();
    this.responses++;
    const head = cur.head!;
    if (head.keepAlive && head.minorVersion >= 1) this.#pipelineReady = true;
    if (!delivered) {
      cur.deliver(
        head,
        protocolOf(head),
        body ?? (head.framing === "none" ? null : EMPTY),
      );
    }
    if (this.#holTimer !== undefined) {
      clearTimeout(this.#holTimer);
      this.#holTimer = undefined;
    }
    if (!this.#accepting) {
      if (this.#inflight.length > 0) {
        // The server ends the connection after this response (`Connection:
        // close`): the requests written behind it will not be answered here.
        this.#shutdown("not-reusable", null);
      } else {
        this.#shutdown(
          this.requests >= this.#maxRequests ? "max-requests" : "not-reusable",
          null,
        );
      }
      return;
    }
    if (this.#inflight.length === 0) {
      this.idleSince = this.#readAt;
      this.#deadline.clear();
      if (this.#refed) {
        this.#conn.unref();
        this.#refed = false;
      }
    } else {
      this.#deadline.set(
        this.#inflight[0].headersTimeout,
        "headers",
        this.#readAt,
      );
    }
    this.#host.released(this);
  }

  #onEof(): void {
    const cur = this.#inflight[0];
    if (cur === undefined) {
      this.#shutdown("server-closed", null);
      return;
    }
    if (cur.phase === Phase.Stream && cur.head!.framing === "close") {
      this.#accepting = false;
      this.#finishStream(cur);
      if (!this.#closed) this.#shutdown("server-closed", null);
      return;
    }
    this.#shutdown(
      "server-closed",
      new Deno.errors.UnexpectedEof(
        cur.responded || cur.delivered
          ? "the server closed the connection in the middle of the response"
          : "the server closed the connection before sending a response",
      ),
    );
  }

  #abort(exchange: Exchange): void {
    if (exchange.done || this.#closed) return;
    const reason = exchange.signal!.reason;
    exchange.fail(reason);
    this.#shutdown("aborted", null);
  }

  // ---- timeouts ----------------------------------------------------------

  #timedOut(kind: DeadlineKind, ms: number): void {
    if (this.#closed) return;
    const what = kind === "headers"
      ? `no response head within headersTimeout (${ms} ms)`
      : kind === "body"
      ? `no response body progress within bodyTimeout (${ms} ms)`
      : `the response body was not read for bodyTimeout (${ms} ms)`;
    this.#shutdown(
      "error",
      new DOMException(`timed out: ${what}`, "TimeoutError"),
      kind === "headers" ? "HEADERS_TIMEOUT" : "BODY_TIMEOUT",
    );
  }

  // ---- shutdown ----------------------------------------------------------

  /**
   * Closes the socket, fails every request still in flight (classified by
   * how far each got), and tells the pool.
   */
  #shutdown(
    reason: CloseReason,
    error: unknown,
    code?: FetchErrorCode,
  ): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#accepting = false;
    const inflight = this.#inflight;
    this.#inflight = [];
    this.#writer.clear();
    this.#deadline.stop();
    if (this.#holTimer !== undefined) clearTimeout(this.#holTimer);
    this.#holTimer = undefined;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer.
    }
    const waiter = this.#pullWaiter;
    this.#pullWaiter = null;
    waiter?.();
    // Only the server's doing counts against pipelining to it: not a body
    // the caller cancelled, an abort, or a close the client chose.
    const pipelineFailed = error instanceof HttpParseError ||
      (inflight.length > 1 &&
        (reason === "server-closed" || reason === "error"));
    for (let i = 0; i < inflight.length; i++) {
      const exchange = inflight[i];
      if (exchange.done) continue;
      exchange.fail(this.#failure(exchange, i === 0, reason, error, code));
    }
    this.#host.closed(this, reason, pipelineFailed);
  }

  #failure(
    exchange: Exchange,
    first: boolean,
    reason: CloseReason,
    error: unknown,
    code: FetchErrorCode | undefined,
  ): FetchError {
    const origin = this.#settings.origin;
    if (error instanceof FetchError) return error;
    if (error instanceof Deno.errors.InvalidData && this.responses === 0) {
      // A TLS alert after the handshake (TLS 1.3 servers reject a missing
      // client certificate this way): sending again cannot help.
      return new FetchError(`TLS handshake failed (${error.message})`, {
        stage: "connect",
        code: "TLS_FAILED",
        origin,
        cause: error,
      });
    }
    const cause = error ?? new Deno.errors.ConnectionAborted(
      `the connection was closed (${reason}) before the response`,
    );
    return exchangeFailure(exchange, first, origin, cause, code);
  }
}

/** `"1.0"` or `"1.1"`, as the status line said. */
function protocolOf(head: ResponseHead): string {
  return head.minorVersion === 0 ? "1.0" : "1.1";
}
