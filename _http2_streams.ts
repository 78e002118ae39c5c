// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The streams of an HTTP/2 session (RFC 9113 §5.1) and their whole life:
 * opening one per exchange (odd, increasing ids), holding exchanges while
 * the session checks that the server is alive (`_http2_ping.ts`) or while
 * the server's stream limit is reached, closing and resetting streams, their
 * headersTimeout and bodyTimeout deadlines on one timer, and the
 * {@linkcode FetchError} a stream's exchange fails with, staged by how far
 * it got.
 *
 * The table owns both sides of its streams, the writer (`_http2_writer.ts`)
 * and the receiver (`_http2_stream.ts`); the session (`_http2_session.ts`)
 * decides when a stream may open and why streams fail.
 *
 * Our own RST_STREAM rate is capped (CVE-2023-44487, `_http2_guard.ts`):
 * past the cap a stream to cancel is not reset but abandoned, its DATA
 * dropped until it ends, and the session is asked to take no new stream.
 *
 * @module
 */

import type { CloseReason } from "./_connection.ts";
import { type Exchange, exchangeFailure } from "./_exchange.ts";
import { buildRequestFields } from "./_http2_fields.ts";
import {
  connectionError,
  encodeRstStream,
  ErrorCode,
  errorCodeName,
  MAX_WINDOW_SIZE,
} from "./_http2_frames.ts";
import type { SessionGuard } from "./_http2_guard.ts";
import {
  Body,
  Due,
  H2Stream,
  ResponseReceiver,
  type StreamOwner,
} from "./_http2_stream.ts";
import { FrameWriter, type WriterHost } from "./_http2_writer.ts";
import {
  FetchError,
  type FetchErrorCode,
  Http2ProtocolError,
} from "./errors.ts";

const PROTOCOL_ERROR = ErrorCode.PROTOCOL_ERROR;
const CANCEL = ErrorCode.CANCEL;
const MAX_STREAM_ID = MAX_WINDOW_SIZE;

/** What the stream table asks of its session. */
export interface TableOwner {
  /** A stream closed, or an exchange left before opening one. */
  streamEnded(): void;
  /** The session must take no new stream from now on. */
  stopAccepting(reason: CloseReason): void;
  /** A draining session closes once only abandoned streams are left. */
  checkDrained(): void;
  /** `stream` got no response head in time: is the server still there? */
  headersTimedOut(stream: H2Stream): void;
  /** Writing to the socket failed: the session is over. */
  failed(error: unknown): void;
}

/** What the stream table needs to know of its session's settings. */
export interface TableSettings {
  /** `scheme://host:port`, for messages. */
  origin: string;
  /** The `:scheme` of requests. */
  scheme: string;
  /** Our receive window of each stream. */
  window: number;
  /** Bytes of a body gathered whole and handed over as bytes, at most. */
  gather: number;
}

/**
 * The streams of one session, with their two sides: the writer of their
 * requests and the receiver of their responses. It opens, closes and resets
 * them and watches their deadlines; stream errors end here, as resets.
 */
export class StreamTable implements StreamOwner, WriterHost {
  /** The open streams by id; the session looks each frame's stream up here. */
  readonly streams: Map<number, H2Stream> = new Map();
  /** The writer of the session's socket, requests included. */
  readonly writer: FrameWriter;
  /** The receiving side of these streams. */
  readonly receiver: ResponseReceiver;

  #owner: TableOwner;
  #guard: SessionGuard;
  #origin: string;
  #scheme: string;
  #window: number;
  #nextStreamId = 1;
  /** Exchanges waiting for a PING ACK before their stream opens. */
  #held: Exchange[] = [];
  /** Exchanges waiting for a stream slot (the server lowered its limit). */
  #waiting: Exchange[] = [];
  #abandoned = 0;
  #closed = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerDue = 0;

  /** Creates an empty table and the writer of `conn`. */
  constructor(
    conn: Deno.Conn,
    owner: TableOwner,
    guard: SessionGuard,
    settings: TableSettings,
  ) {
    this.#owner = owner;
    this.#guard = guard;
    this.#origin = settings.origin;
    this.#scheme = settings.scheme;
    this.#window = settings.window;
    const writer = new FrameWriter(conn, this, guard, settings.origin);
    this.writer = writer;
    this.receiver = new ResponseReceiver(
      this,
      writer,
      guard,
      settings.window,
      settings.gather,
    );
  }

  /** Exchanges waiting for a stream slot. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /** Exchanges held or waiting: not on a stream yet. */
  get queued(): number {
    return this.#held.length + this.#waiting.length;
  }

  /** Streams cancelled past the reset cap and left to end on their own. */
  get abandoned(): number {
    return this.#abandoned;
  }

  /**
   * Opens a stream for `exchange`: writes its HEADERS and starts its body.
   * An exchange that cannot be sent fails at once (and, when the session
   * ran out of stream ids, the session stops accepting).
   */
  open(exchange: Exchange, now: number): void {
    const request = exchange.request;
    const id = this.#nextStreamId;
    if (id > MAX_STREAM_ID) {
      // Stream ids ran out (§5.1.1): this session is spent.
      exchange.fail(
        this.unsent("the HTTP/2 session has used all its stream ids"),
      );
      this.#owner.stopAccepting("max-requests");
      return;
    }
    let fields: [string, string][];
    try {
      const url = request.url;
      fields = buildRequestFields(
        request.method,
        this.#scheme,
        request.host ?? url.host,
        url.pathname + url.search,
        request.fields,
      );
    } catch (error) {
      exchange.fail(error);
      this.#owner.streamEnded();
      return;
    }
    if (request.contentLength !== null) {
      fields.push(["content-length", String(request.contentLength)]);
    }
    this.#nextStreamId = id + 2;
    const stream = new H2Stream(
      id,
      exchange,
      this.writer.initialWindow,
      this.#window,
      now,
    );
    this.streams.set(id, stream);
    this.writer.headers(stream, fields);
    if (exchange.signal !== undefined) {
      exchange.onAbort = () => this.#abort(stream);
    }
    this.setDue(stream, exchange.headersTimeout, Due.Headers, now);
    this.writer.body(stream);
  }

  /** Holds `exchange` until {@linkcode StreamTable.release}. */
  hold(exchange: Exchange): void {
    this.#held.push(exchange);
    this.#onAbortQueued(exchange);
  }

  /** Queues `exchange` until a stream slot is free. */
  wait(exchange: Exchange): void {
    this.#waiting.push(exchange);
    this.#onAbortQueued(exchange);
  }

  /**
   * The server answered our PING: held exchanges open now, or wait for a
   * slot when `limit` streams are open. False when none was held.
   */
  release(limit: number): boolean {
    const held = this.#held;
    if (held.length === 0) return false;
    this.#held = [];
    const now = Date.now();
    for (const exchange of held) {
      if (exchange.done) continue;
      if (this.streams.size >= limit) {
        this.#waiting.push(exchange);
      } else {
        this.open(exchange, now);
      }
    }
    return true;
  }

  /** Takes the exchanges waiting for a slot, leaving none. */
  takeWaiting(): Exchange[] {
    const waiting = this.#waiting;
    this.#waiting = [];
    return waiting;
  }

  /** Takes every exchange held or waiting, leaving none. */
  takeQueued(): Exchange[] {
    const queued = [...this.#held, ...this.#waiting];
    this.#held = [];
    this.#waiting = [];
    return queued;
  }

  /** Opens queued exchanges while fewer than `limit` streams are open. */
  openWaiting(limit: number): void {
    const now = Date.now();
    while (
      this.#waiting.length > 0 && this.streams.size < limit && !this.#closed
    ) {
      const exchange = this.#waiting.shift()!;
      if (!exchange.done) this.open(exchange, now);
    }
  }

  /**
   * A frame on a stream that is not open: one we closed (dropped, §5.1), or
   * one never opened, which is a connection error (§5.1, §8.4: the server
   * cannot open streams while push is off).
   *
   * @throws {Http2ProtocolError} The stream was never opened.
   */
  unknownStream(id: number, what: string): void {
    if ((id & 1) === 0 || id >= this.#nextStreamId) {
      throw connectionError(
        `${what} frame on stream ${id}, which was never opened (RFC 9113 §5.1)`,
        PROTOCOL_ERROR,
      );
    }
    this.#guard.useless();
  }

  /** Closes `stream` (both sides are done) and frees its slot. */
  closeStream(stream: H2Stream): void {
    if (this.forget(stream)) this.#owner.streamEnded();
  }

  /** Forgets a stream without freeing its slot; false when already closed. */
  forget(stream: H2Stream): boolean {
    if (stream.closed) return false;
    stream.closed = true;
    stream.due = 0;
    this.streams.delete(stream.id);
    if (stream.abandoned) this.#abandoned--;
    this.writer.release(stream);
    return true;
  }

  /** Resets a stream we no longer want, within the reset cap. */
  reset(stream: H2Stream, code: number): void {
    if (stream.closed || this.#closed) return;
    if (!this.#guard.takeReset()) {
      // Past the cap: no RST_STREAM (CVE-2023-44487). The stream is left to
      // end on its own, its DATA dropped; the session closes once only such
      // streams are left.
      if (!stream.abandoned) {
        stream.abandoned = true;
        this.#abandoned++;
        if (stream.body !== Body.Done) stream.body = Body.Discard;
        stream.due = 0;
        this.writer.release(stream);
        if (stream.remoteEnded) {
          this.closeStream(stream);
        } else {
          this.receiver.grant(stream);
        }
      }
      this.#owner.stopAccepting("aborted");
      this.#owner.checkDrained();
      return;
    }
    this.writer.push(encodeRstStream(stream.id, code));
    stream.localEnded = true;
    stream.remoteEnded = true;
    this.closeStream(stream);
  }

  /** A stream error (§5.4.2): reset the stream, fail its exchange. */
  streamError(error: Http2ProtocolError): void {
    const stream = this.streams.get(error.streamId);
    if (stream === undefined) return; // Closed already: nothing to reset.
    const exchange = stream.exchange;
    if (!exchange.done) {
      exchange.fail(this.failure(exchange, error, "MALFORMED_RESPONSE"));
    }
    this.reset(stream, error.code);
  }

  /** Writing failed: the session is over. */
  failed(error: unknown): void {
    this.#owner.failed(error);
  }

  /**
   * A GOAWAY (§6.8): the streams above `lastStreamId` were never processed,
   * and the exchanges held or waiting never will be here. Each fails as
   * refused with `cause()`; the streams are forgotten without freeing a
   * slot (the session takes no new stream).
   */
  refuseAbove(lastStreamId: number, cause: () => Error): void {
    for (const stream of [...this.streams.values()]) {
      if (stream.id <= lastStreamId) continue;
      if (!stream.exchange.done) {
        stream.exchange.fail(this.refused(stream, cause()));
      }
      stream.localEnded = true;
      stream.remoteEnded = true;
      this.forget(stream);
    }
    this.refuse(this.takeQueued(), cause);
  }

  /** Fails the `exchanges` not done yet as refused, each with `cause()`. */
  refuse(exchanges: Exchange[], cause: () => Error): void {
    for (const exchange of exchanges) {
      if (!exchange.done) exchange.fail(this.refused(null, cause(), exchange));
    }
  }

  /**
   * Fails the exchanges of `streams` not done yet, each with the failure of
   * `causeOf(exchange)`, staged by how far it got.
   */
  fail(
    streams: Iterable<H2Stream>,
    causeOf: (exchange: Exchange) => unknown,
    code: FetchErrorCode | undefined,
  ): void {
    for (const stream of streams) {
      const exchange = stream.exchange;
      if (exchange.done) continue;
      exchange.fail(this.failure(exchange, causeOf(exchange), code));
    }
  }

  #onAbortQueued(exchange: Exchange): void {
    if (exchange.signal === undefined) return;
    exchange.onAbort = () => {
      const held = this.#held.indexOf(exchange);
      if (held !== -1) this.#held.splice(held, 1);
      const waiting = this.#waiting.indexOf(exchange);
      if (waiting !== -1) this.#waiting.splice(waiting, 1);
      if (held === -1 && waiting === -1) return;
      exchange.fail(exchange.signal!.reason);
      this.#owner.streamEnded();
    };
  }

  #abort(stream: H2Stream): void {
    const exchange = stream.exchange;
    if (!exchange.done) exchange.fail(exchange.signal!.reason);
    this.reset(stream, CANCEL);
  }

  /**
   * The session closed: forgets every stream (closed, no deadline, no body
   * waiting for window) and returns them, for their exchanges to be failed.
   */
  close(): H2Stream[] {
    this.#closed = true;
    this.stopTimer();
    const streams = [...this.streams.values()];
    this.streams.clear();
    this.receiver.clear();
    for (const stream of streams) {
      stream.closed = true;
      stream.due = 0;
      this.writer.release(stream);
    }
    return streams;
  }

  // ---- failures ------------------------------------------------------------

  /** The failure of a stream's exchange, staged by how far it got. */
  failure(
    exchange: Exchange,
    cause: unknown,
    code: FetchErrorCode | undefined,
  ): FetchError {
    if (cause instanceof FetchError) return cause;
    if (cause instanceof Http2ProtocolError) {
      const base = exchangeFailure(exchange, true, this.#origin, cause, code);
      return new FetchError(
        `malformed HTTP/2 response (${
          errorCodeName(cause.code)
        }): ${cause.message}`,
        {
          stage: base.stage,
          code: "MALFORMED_RESPONSE",
          origin: this.#origin,
          reused: base.reused,
          cause,
        },
      );
    }
    if (
      cause instanceof Deno.errors.InvalidData && this.receiver.responses === 0
    ) {
      // A TLS alert after the handshake (a refused client certificate).
      return new FetchError(`TLS handshake failed (${cause.message})`, {
        stage: "connect",
        code: "TLS_FAILED",
        origin: this.#origin,
        cause,
      });
    }
    return exchangeFailure(exchange, true, this.#origin, cause, code);
  }

  /**
   * The failure of an exchange never written on this session: `unsent` on a
   * reused connection, so that it is replayed on a fresh one.
   */
  unsent(message: string, cause?: unknown): FetchError {
    return new FetchError(message, {
      stage: "unsent",
      code: "CONNECTION_CLOSED",
      origin: this.#origin,
      reused: true,
      cause,
    });
  }

  /**
   * The failure of an exchange the server never processed: `unsent` (it may
   * be replayed at once, whatever its method), unless a streamed body had
   * begun to be read, which cannot be sent again.
   */
  refused(
    stream: H2Stream | null,
    cause: Error,
    exchange: Exchange = stream!.exchange,
  ): FetchError {
    return new FetchError(cause.message, {
      stage: stream !== null && stream.bodyStarted ? "sent" : "unsent",
      code: "STREAM_REFUSED",
      origin: this.#origin,
      reused: exchange.reused,
      cause,
    });
  }

  // ---- deadlines -----------------------------------------------------------

  /** Gives `stream` a deadline `ms` after `now` (none for `Infinity`). */
  setDue(stream: H2Stream, ms: number, kind: Due, now: number): void {
    if (ms === Infinity) {
      stream.due = 0;
      return;
    }
    stream.dueMs = ms;
    stream.dueKind = kind;
    stream.due = now + ms;
    this.#armTimer(stream.due);
  }

  /** Disarms the deadline timer: no stream is left. */
  stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #armTimer(due: number): void {
    if (this.#timer !== undefined) {
      if (due >= this.#timerDue) return;
      clearTimeout(this.#timer);
    }
    const timer = setTimeout(this.#onTimer, Math.max(0, due - Date.now()));
    Deno.unrefTimer(timer);
    this.#timer = timer;
    this.#timerDue = due;
  }

  #onTimer = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    const now = Date.now();
    let next = Infinity;
    for (const stream of [...this.streams.values()]) {
      if (stream.due === 0 || stream.closed) continue;
      if (stream.due <= now) this.#expire(stream);
      else if (stream.due < next) next = stream.due;
    }
    if (next !== Infinity && !this.#closed) this.#armTimer(next);
  };

  #expire(stream: H2Stream): void {
    const exchange = stream.exchange;
    const kind = stream.dueKind;
    const ms = stream.dueMs;
    stream.due = 0;
    if (!exchange.done) {
      const queued = stream.body === Body.Stream &&
        (stream.controller!.desiredSize ?? this.#window) < this.#window;
      const what = kind === Due.Headers
        ? `no response head within headersTimeout (${ms} ms)`
        : queued
        ? `the response body was not read for bodyTimeout (${ms} ms)`
        : `no response body progress within bodyTimeout (${ms} ms)`;
      exchange.fail(
        exchangeFailure(
          exchange,
          true,
          this.#origin,
          new DOMException(`timed out: ${what}`, "TimeoutError"),
          kind === Due.Headers ? "HEADERS_TIMEOUT" : "BODY_TIMEOUT",
        ),
      );
    }
    if (kind === Due.Headers) this.#owner.headersTimedOut(stream);
    this.reset(stream, CANCEL);
  }
}
