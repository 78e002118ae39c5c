// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * One HTTP/2 client session (RFC 9113) over one connected socket: TLS that
 * negotiated `h2` by ALPN, or cleartext with prior knowledge (h2c). It opens
 * one stream per exchange the pool gives it, multiplexes their frames on the
 * socket, and settles each exchange as the HTTP/1.1 connection does
 * (`_connection.ts`), so the layers above cannot tell the protocols apart
 * except by `protocol: "2"`.
 *
 * The wire:
 * - The preface (§3.4), our SETTINGS (ENABLE_PUSH 0, the stream window,
 *   MAX_HEADER_LIST_SIZE) and a large connection WINDOW_UPDATE go out at
 *   once; the server's SETTINGS are applied and acknowledged (§6.5.3).
 * - Stream states (§5.1): ids are odd and increasing; a stream closes when
 *   both sides ended it or one reset it. Frames on a stream we closed are
 *   dropped (the peer may have sent them before it saw our END_STREAM or
 *   RST_STREAM); frames on a stream never opened are a connection error.
 * - Flow control (§5.2, §6.9): request bodies respect the server's stream
 *   and connection windows and its frame size. On the receive side each
 *   stream's window is `streamWindow` and is given back as the caller reads
 *   its body (back-pressure per stream), while the connection window is
 *   large and topped up as data arrives, so one unread body never stalls
 *   the other streams. Memory is bounded by streams × `streamWindow`.
 *
 * Decisions worth knowing:
 * - **Small bodies arrive as bytes.** A response whose `content-length` is
 *   at most the stream window is gathered whole and handed over as bytes
 *   (its stream slot is free before the caller reads it), as HTTP/1.1 does;
 *   so is a body without `content-length` whose END_STREAM arrives in the
 *   same read as its HEADERS. Anything else is handed over as a stream at
 *   once.
 * - **HEAD (and 204, 304) ignore DATA.** `Deno.serve` over HTTP/2 sends a
 *   body in reply to HEAD. Like the built-in fetch (and unlike curl), the
 *   response is handed over at its HEADERS with no body, and DATA frames
 *   that follow are counted for flow control and dropped until END_STREAM.
 * - **PING before reuse.** When a stream is sent on a session that has
 *   heard nothing from the server for `pingAfterIdle` ms, a PING goes first
 *   and the stream (and any sent meanwhile) waits for its ACK; none within
 *   `pingTimeout` means the session is dead: it is destroyed and the held
 *   exchanges fail as `unsent` (never written), so they are replayed on a
 *   fresh connection. A stream whose response head times out with nothing
 *   heard since it was sent triggers the same check.
 * - **Refused streams.** Streams above a GOAWAY's last-stream-id, and
 *   streams reset with REFUSED_STREAM, fail with code `STREAM_REFUSED` and
 *   stage `unsent` (the server says it never processed them, RFC 9113
 *   §8.7), unless their body was a stream we had begun to read: that cannot
 *   be sent again, so the stage is then `sent`. The cause is an
 *   {@linkcode Http2StreamReset}; with ENHANCE_YOUR_CALM its `calm` is true
 *   (see {@linkcode isEnhanceYourCalm}) so the retry policy backs off
 *   instead of replaying at once.
 * - **Our own RST_STREAM rate is capped** (CVE-2023-44487, "rapid reset"):
 *   a token bucket (`resetBurst`, refilled at `resetRate` per second).
 *   Past it, a stream to cancel is not reset but abandoned (its DATA is
 *   dropped), the session takes no new stream (`goingAway`), and it closes
 *   with GOAWAY(NO_ERROR) once only abandoned streams are left.
 * - **Hostile peers** get a connection error, never a hang or unbounded
 *   memory: more than 1000 frames a second that do nothing useful (PING,
 *   SETTINGS, empty DATA, 1xx HEADERS, frames on closed streams, window
 *   updates nobody waits for) is a flood (ENHANCE_YOUR_CALM), as are 10000
 *   replies (ACKs) queued behind a peer that does not read. Windows above
 *   2^31-1 are a FLOW_CONTROL_ERROR; HPACK and CONTINUATION limits are the
 *   codec's.
 * - Connection errors (ours or from the decoder) send GOAWAY with their
 *   code and fail every stream with `MALFORMED_RESPONSE`, which is never
 *   retried. Any other RST_STREAM from the server fails its exchange with
 *   `CONNECTION_CLOSED`, staged by how far it got (`exchangeFailure`).
 *
 * One read loop reads the socket; frames queued in the same tick go out in
 * one write. The socket is unref'd while the session has no stream, and no
 * timer stays armed while nothing is pending.
 *
 * This module keeps the session's life (opening, admitting exchanges,
 * draining, closing) and the frames that concern the whole connection
 * (SETTINGS, PING, GOAWAY, the connection window). The rest is split by job:
 * - `_http2_streams.ts`: the streams' life (open, close, reset, deadlines)
 *   and the failures their exchanges get;
 * - `_http2_stream.ts`: one stream's state, and the delivery of responses;
 * - `_http2_writer.ts`: the socket's writes, request HEADERS and bodies
 *   within the server's windows;
 * - `_http2_ping.ts`: the PING liveness check;
 * - `_http2_guard.ts`: the flood and reset limits;
 * - the codecs: `_http2_frames.ts`, `_http2_decoder.ts`, `_http2_fields.ts`
 *   and `_hpack.ts`.
 *
 * @module
 */

import type { CloseReason } from "./_connection.ts";
import { type Exchange, nextConnectionId, Phase } from "./_exchange.ts";
import { HpackDecoder } from "./_hpack.ts";
import {
  type DataFrame,
  type Frame,
  FrameDecoder,
  type HeadersFrame,
  type SettingsFrame,
} from "./_http2_decoder.ts";
import {
  CLIENT_PREFACE,
  connectionError,
  DEFAULT_WINDOW_SIZE,
  encodeGoaway,
  encodePing,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  ErrorCode,
  errorCodeName,
  FrameType,
  MAX_WINDOW_SIZE,
} from "./_http2_frames.ts";
import { SessionGuard } from "./_http2_guard.ts";
import { PingCheck } from "./_http2_ping.ts";
import type { H2Stream, ResponseReceiver } from "./_http2_stream.ts";
import { StreamTable } from "./_http2_streams.ts";
import type { FrameWriter } from "./_http2_writer.ts";
import {
  FetchError,
  type FetchErrorCode,
  Http2ProtocolError,
} from "./errors.ts";

// ---------------------------------------------------------------------------
// Public surface

/** What a session tells the pool that owns it. */
export interface SessionHost {
  /** A stream ended: the session can take another request. */
  released(session: Http2Session): void;
  /** The session closed; forget it. */
  closed(session: Http2Session, reason: CloseReason): void;
  /**
   * The session takes no new stream: the server sent GOAWAY (streams above
   * its last-stream-id already failed as `STREAM_REFUSED`), or the session
   * hit its own RST_STREAM cap. It closes once its streams end.
   */
  goingAway(session: Http2Session): void;
}

/** Settings a session needs; the client derives them from its options. */
export interface SessionSettings {
  /** `scheme://host:port`, for messages. */
  origin: string;
  /** The `:scheme` of requests. */
  scheme: "http" | "https";
  /**
   * Our own cap on concurrent streams; the server's
   * SETTINGS_MAX_CONCURRENT_STREAMS lowers it, and until its SETTINGS
   * arrive at most 100 are assumed.
   */
  maxConcurrentStreams: number;
  /**
   * SETTINGS_MAX_HEADER_LIST_SIZE we advertise and enforce: octets of a
   * response's fields, 32 more per field (`ClientOptions.maxHeaderSize`).
   */
  maxHeaderListSize: number;
  /**
   * Bytes of a response body gathered whole: a body up to this size may be
   * handed over as bytes.
   */
  readAhead: number;
  /**
   * Our receive window of each stream: body bytes read ahead of the
   * caller. Memory is bounded by streams × this.
   *
   * @default {readAhead}
   */
  streamWindow?: number;
  /**
   * Milliseconds without a frame from the server after which a PING ACK is
   * awaited before the next stream is sent (`Infinity`: never).
   */
  pingAfterIdle: number;
  /**
   * Milliseconds to wait for a PING ACK before the session is taken for
   * dead.
   *
   * @default {5000}
   */
  pingTimeout?: number;
  /**
   * RST_STREAM frames the session may send in a burst before it stops
   * resetting and closes instead (CVE-2023-44487).
   *
   * @default {100}
   */
  resetBurst?: number;
  /**
   * RST_STREAM frames per second the burst allowance refills at.
   *
   * @default {20}
   */
  resetRate?: number;
}

/**
 * Why the server ended a stream, by RST_STREAM or GOAWAY: the `cause` of a
 * {@linkcode FetchError} with code `STREAM_REFUSED` or `CONNECTION_CLOSED`.
 */
export class Http2StreamReset extends Error {
  /** The RFC 9113 §7 error code the server gave. */
  readonly errorCode: number;
  /** Whether it came in a GOAWAY rather than a RST_STREAM. */
  readonly goaway: boolean;
  /**
   * Whether the code was ENHANCE_YOUR_CALM: the server thinks we send too
   * much. Replays should back off and draw on the retry budget.
   */
  readonly calm: boolean;

  /** Creates the cause; `message` says what the server did. */
  constructor(message: string, errorCode: number, goaway: boolean) {
    super(message);
    this.name = "Http2StreamReset";
    this.errorCode = errorCode;
    this.goaway = goaway;
    this.calm = errorCode === ErrorCode.ENHANCE_YOUR_CALM;
  }
}

/**
 * Whether `error` is a failure the server caused by telling us to calm down
 * (ENHANCE_YOUR_CALM in a GOAWAY or RST_STREAM): a replay must wait a
 * backoff delay and draw on the retry budget, never follow at once.
 */
export function isEnhanceYourCalm(error: unknown): boolean {
  return error instanceof FetchError &&
    (error.cause as { calm?: unknown } | undefined)?.calm === true;
}

// ---------------------------------------------------------------------------
// Constants

const NO_ERROR = ErrorCode.NO_ERROR;
const FLOW_CONTROL_ERROR = ErrorCode.FLOW_CONTROL_ERROR;
const REFUSED_STREAM = ErrorCode.REFUSED_STREAM;

/** Streams assumed allowed until the server's SETTINGS say (RFC 9113 §6.5.2 leaves it open). */
const INITIAL_PEER_STREAMS = 100;
/** Our connection receive window: large, topped up as data arrives. */
const CONNECTION_WINDOW = 16 * 1024 * 1024;
/** Bytes consumed on the connection before it is topped up. */
const CONNECTION_TOP_UP = CONNECTION_WINDOW / 4;
/** The read buffer: room for several maximum-size frames (16 KiB, we advertise no more). */
const READ_BUFFER_SIZE = 64 * 1024;
const DEFAULT_PING_TIMEOUT = 5000;
const DEFAULT_RESET_BURST = 100;
const DEFAULT_RESET_RATE = 20;

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// The session

/**
 * One HTTP/2 session. Created by {@linkcode Http2Session.open}; driven by
 * its pool through {@linkcode Http2Session.send},
 * {@linkcode Http2Session.close} and {@linkcode Http2Session.destroy}.
 *
 * @example Send one request on a session (the pool does this)
 * ```ts ignore
 * const session = Http2Session.open(conn, settings, host);
 * const exchange = new Exchange(request, true, undefined, 30_000, 300_000, -1);
 * session.send(exchange);
 * const result = await exchange.promise; // result.protocol === "2"
 * ```
 */
export class Http2Session {
  /** Increasing, process-wide, shared with HTTP/1.1 connections. */
  readonly id: number = nextConnectionId();
  /** When the session was opened (`Date.now()`). */
  readonly openedAt: number = Date.now();
  /** When the session last had no stream (`Date.now()`). */
  idleSince: number;
  /** Streams opened (or held to open) so far. */
  requests = 0;
  /** Resolves once the socket is closed and the read loop has stopped. */
  readonly finished: Promise<void>;

  #conn: Deno.Conn;
  #host: SessionHost;
  #ourMaxStreams: number;
  #pingAfterIdle: number;

  #decoder: FrameDecoder;
  #hpackDecoder: HpackDecoder;
  #guard: SessionGuard;
  #ping: PingCheck;
  #writer: FrameWriter;
  #table: StreamTable;
  #receiver: ResponseReceiver;
  /** The open streams by id: the table's. */
  #streams: Map<number, H2Stream>;

  // The server's settings.
  #peerMaxStreams = INITIAL_PEER_STREAMS;
  #peerSettingsSeen = false;
  #settingsAcksExpected = 1;

  // Connection flow control, receiving side.
  #connRecvWindow = CONNECTION_WINDOW;
  #connConsumed = 0;

  // Lifecycle.
  #closed = false;
  #draining = false;
  #drainReason: CloseReason = "not-reusable";
  #goawayReceived = false;
  #goawayLastId = MAX_WINDOW_SIZE;
  #goawayCode: number = NO_ERROR;
  #refed = true;

  // Reading.
  #buf = new Uint8Array(READ_BUFFER_SIZE);
  #start = 0;
  #end = 0;
  #now: number;
  #lastReadAt: number;

  private constructor(
    conn: Deno.Conn,
    settings: SessionSettings,
    host: SessionHost,
  ) {
    this.#conn = conn;
    this.#host = host;
    this.#ourMaxStreams = settings.maxConcurrentStreams;
    const streamWindow = Math.max(
      1,
      Math.min(
        Math.floor(settings.streamWindow ?? settings.readAhead),
        MAX_WINDOW_SIZE,
      ),
    );
    this.#pingAfterIdle = settings.pingAfterIdle;
    const maxList = Math.min(settings.maxHeaderListSize, 2 ** 32);
    this.#hpackDecoder = new HpackDecoder({
      maxHeaderListSize: maxList,
      maxStringLength: Math.max(64 * 1024, Math.min(maxList, 2 ** 28)),
    });
    this.#decoder = new FrameDecoder({
      maxHeaderBlockSize: Math.min(
        Math.max(128 * 1024, maxList * 2),
        2 ** 30,
      ),
    });
    const now = this.openedAt;
    this.idleSince = now;
    this.#now = now;
    this.#lastReadAt = now;
    this.#guard = new SessionGuard(
      settings.resetBurst ?? DEFAULT_RESET_BURST,
      settings.resetRate ?? DEFAULT_RESET_RATE,
      now,
    );
    // What the stream table asks of the session: made once.
    this.#table = new StreamTable(
      conn,
      {
        streamEnded: () => this.#streamEnded(),
        stopAccepting: (reason) => this.#stopAccepting(reason),
        checkDrained: () => this.#checkDrained(),
        headersTimedOut: (stream) => {
          // Nothing heard since the request went out: is the session alive?
          if (this.#lastReadAt < stream.sentAt) this.#ping.send();
        },
        failed: (error) => this.#shutdown("error", error, undefined, null),
      },
      this.#guard,
      {
        origin: settings.origin,
        scheme: settings.scheme,
        window: streamWindow,
        gather: Math.min(settings.readAhead, streamWindow),
      },
    );
    this.#streams = this.#table.streams;
    this.#writer = this.#table.writer;
    this.#receiver = this.#table.receiver;
    this.#ping = new PingCheck(
      this.#writer,
      settings.pingTimeout ?? DEFAULT_PING_TIMEOUT,
      (error) =>
        this.#shutdown("error", error, undefined, encodeGoaway(0, NO_ERROR)),
    );

    // The preface, our SETTINGS and the connection window (§3.4, §6.5, §6.9).
    this.#writer.push(CLIENT_PREFACE);
    this.#writer.push(encodeSettings({
      enablePush: 0,
      initialWindowSize: streamWindow,
      maxHeaderListSize: maxList <= 0xffffffff ? maxList : undefined,
    }));
    this.#writer.push(
      encodeWindowUpdate(0, CONNECTION_WINDOW - DEFAULT_WINDOW_SIZE),
    );
    // Nothing in flight yet: an idle session never keeps a process alive.
    this.#unref();
    this.finished = Promise.all([this.#readLoop(), this.#writer.closed]).then(
      () => {},
    );
  }

  /**
   * Starts a session on `conn`, already connected (TLS with ALPN `h2`, or
   * cleartext with prior knowledge): writes the connection preface and
   * starts reading.
   */
  static open(
    conn: Deno.Conn,
    settings: SessionSettings,
    host: SessionHost,
  ): Http2Session {
    return new Http2Session(conn, settings, host);
  }

  /** Whether the session may open new streams (not closing, no GOAWAY). */
  get accepting(): boolean {
    return !this.#closed && !this.#draining;
  }

  /** Whether the session is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Streams open, and exchanges waiting here to open one. */
  get activeStreams(): number {
    return this.#streams.size + this.#table.queued;
  }

  /**
   * The most streams open at once: our cap, lowered by the server's
   * SETTINGS_MAX_CONCURRENT_STREAMS (100 until its SETTINGS arrive).
   */
  get maxConcurrentStreams(): number {
    return Math.min(this.#ourMaxStreams, this.#peerMaxStreams);
  }

  /** Streams the session can open now. */
  get capacity(): number {
    if (!this.accepting) return 0;
    return Math.max(0, this.maxConcurrentStreams - this.activeStreams);
  }

  /**
   * Opens a stream for `exchange.request` and settles the exchange with the
   * response or a failure. Streams sent in the same tick go out in one
   * write.
   */
  send(exchange: Exchange): void {
    if (!this.accepting) {
      exchange.fail(
        this.#table.unsent(
          "the HTTP/2 session takes no new streams (it is closing)",
        ),
      );
      return;
    }
    exchange.reused = this.requests > 0;
    exchange.ahead = 0;
    exchange.phase = Phase.Head;
    this.requests++;
    if (exchange.signal?.aborted) {
      exchange.fail(exchange.signal.reason);
      return;
    }
    this.#ref();
    const now = Date.now();
    if (this.#ping.pending || now - this.#lastReadAt > this.#pingAfterIdle) {
      // Heard nothing for a while: make sure the server is still there
      // before anything is written.
      this.#table.hold(exchange);
      this.#ping.send();
      return;
    }
    if (this.#streams.size >= this.maxConcurrentStreams) {
      this.#table.wait(exchange);
      this.#startWaiting();
      return;
    }
    this.#table.open(exchange, now);
  }

  /**
   * Closes the session once its streams end, with GOAWAY(NO_ERROR); at once
   * when it has none. It takes no new stream from now on.
   */
  close(reason: CloseReason): void {
    if (this.#closed) return;
    if (!this.#draining) {
      this.#draining = true;
      this.#drainReason = reason;
    }
    this.#checkDrained();
  }

  /** Closes the socket at once, failing every stream with `error`. */
  destroy(reason: CloseReason, error: unknown): void {
    this.#shutdown(reason, error, undefined, null);
  }

  // ---- reading -------------------------------------------------------------

  async #readLoop(): Promise<void> {
    try {
      while (!this.#closed) {
        if (this.#start === this.#end) {
          this.#start = this.#end = 0;
        } else if (this.#buf.byteLength - this.#end < 16 * 1024 + 9) {
          // Keep room for a whole frame after the partial one.
          this.#buf.copyWithin(0, this.#start, this.#end);
          this.#end -= this.#start;
          this.#start = 0;
        }
        const n = await this.#conn.read(this.#buf.subarray(this.#end));
        if (this.#closed) return;
        if (n === null) {
          this.#onEof();
          return;
        }
        this.#end += n;
        const now = Date.now();
        this.#now = now;
        this.#lastReadAt = now;
        this.#guard.read(now);
        this.#process();
        if (this.#closed) return;
        this.#afterRead();
      }
    } catch (error) {
      if (this.#closed) return;
      if (error instanceof Http2ProtocolError) {
        this.#connectionError(error);
      } else {
        this.#shutdown("error", error, undefined, null);
      }
    }
  }

  /** Decodes and handles every complete frame in the read buffer. */
  #process(): void {
    const decoder = this.#decoder;
    while (!this.#closed) {
      let frame: Frame | null;
      try {
        frame = decoder.decode(this.#buf, this.#start, this.#end);
        this.#start += decoder.consumed;
        if (frame === null) return;
      } catch (error) {
        this.#start += decoder.consumed;
        if (error instanceof Http2ProtocolError && error.streamId !== 0) {
          this.#table.streamError(error); // the frame was consumed: go on
          continue;
        }
        throw error;
      }
      try {
        this.#onFrame(frame);
      } catch (error) {
        if (error instanceof Http2ProtocolError && error.streamId !== 0) {
          this.#table.streamError(error);
          continue;
        }
        throw error;
      }
    }
  }

  /** Work left at the end of each read. */
  #afterRead(): void {
    // Bodies of unknown length that did not end in this read: stream them.
    this.#receiver.endOfRead(this.#now);
    if (this.#connConsumed >= CONNECTION_TOP_UP) {
      // Topped up as data arrives, not as it is read: the stream windows
      // bound what is buffered, and no stream can stall another.
      const increment = this.#connConsumed;
      this.#connConsumed = 0;
      this.#connRecvWindow += increment;
      this.#writer.push(encodeWindowUpdate(0, increment));
    }
  }

  #onFrame(frame: Frame): void {
    switch (frame.type) {
      case FrameType.DATA:
        this.#onData(frame);
        return;
      case FrameType.HEADERS:
        this.#onHeaders(frame);
        return;
      case FrameType.RST_STREAM: {
        const stream = this.#streams.get(frame.streamId);
        if (stream === undefined) {
          this.#table.unknownStream(frame.streamId, "RST_STREAM");
          return;
        }
        this.#guard.useful();
        this.#onReset(stream, frame.errorCode);
        return;
      }
      case FrameType.SETTINGS:
        this.#onSettings(frame);
        return;
      case FrameType.PING:
        if (!frame.ack) {
          this.#guard.useless();
          this.#writer.reply(encodePing(frame.data, true));
        } else if (this.#ping.ack(frame.data)) {
          this.#guard.useful();
          // The server is alive: the exchanges held for it go on.
          if (this.#table.release(this.maxConcurrentStreams)) {
            this.#startWaiting();
          }
        } else {
          this.#guard.useless();
        }
        return;
      case FrameType.GOAWAY:
        this.#onGoaway(frame.lastStreamId, frame.errorCode, frame.debugData);
        return;
      case FrameType.WINDOW_UPDATE:
        this.#onWindowUpdate(frame.streamId, frame.increment);
        return;
    }
  }

  #onData(frame: DataFrame): void {
    const length = frame.length;
    if (length > this.#connRecvWindow) {
      throw connectionError(
        `DATA frame of ${length} bytes exceeds the connection's receive window of ${this.#connRecvWindow} (RFC 9113 §6.9.1)`,
        FLOW_CONTROL_ERROR,
      );
    }
    this.#connRecvWindow -= length;
    this.#connConsumed += length;
    const id = frame.streamId;
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      this.#table.unknownStream(id, "DATA");
      return;
    }
    this.#receiver.data(stream, frame, this.#now);
  }

  #onHeaders(frame: HeadersFrame): void {
    const id = frame.streamId;
    const stream = this.#streams.get(id);
    // Response bytes arrived, whatever they turn out to be.
    if (stream !== undefined) stream.exchange.responded = true;
    // Decoded first, whatever the stream: the HPACK state is the
    // connection's (§4.3).
    const fields = this.#hpackDecoder.decode(frame.headerBlock, id);
    if (stream === undefined) {
      this.#table.unknownStream(id, "HEADERS");
      return;
    }
    this.#receiver.headers(stream, fields, frame.endStream, this.#now);
  }

  #onReset(stream: H2Stream, code: number): void {
    const exchange = stream.exchange;
    if (!exchange.done) {
      const name = errorCodeName(code);
      if (code === REFUSED_STREAM && !exchange.responded) {
        exchange.fail(this.#table.refused(
          stream,
          new Http2StreamReset(
            "the server refused the stream (REFUSED_STREAM): it was not processed",
            code,
            false,
          ),
        ));
      } else if (code !== NO_ERROR || !stream.remoteEnded) {
        const cause = new Http2StreamReset(
          `the server reset the stream (${name})`,
          code,
          false,
        );
        exchange.fail(
          this.#table.failure(exchange, cause, "CONNECTION_CLOSED"),
        );
      }
    }
    // No RST_STREAM is sent back (§5.4.2); the stream is closed.
    stream.localEnded = true;
    this.#table.closeStream(stream);
  }

  #onSettings(frame: SettingsFrame): void {
    if (frame.ack) {
      if (this.#settingsAcksExpected > 0) this.#settingsAcksExpected--;
      else this.#guard.useless();
      return;
    }
    const s = frame.settings;
    if (this.#peerSettingsSeen) {
      this.#guard.useless();
    } else if (s.maxConcurrentStreams === undefined) {
      // Not limited by the server (§6.5.2): our own cap alone applies.
      this.#peerMaxStreams = Infinity;
    }
    this.#peerSettingsSeen = true;
    this.#writer.settings(s, this.#streams.values());
    const before = this.capacity;
    if (s.maxConcurrentStreams !== undefined) {
      this.#peerMaxStreams = s.maxConcurrentStreams;
    }
    this.#writer.reply(encodeSettingsAck());
    if (s.initialWindowSize !== undefined) this.#writer.resumeBlocked();
    this.#startWaiting();
    if (this.accepting && this.capacity > before) this.#host.released(this);
  }

  #onGoaway(lastStreamId: number, code: number, debugData: Uint8Array): void {
    this.#guard.useful();
    const last = Math.min(lastStreamId, this.#goawayLastId);
    this.#goawayReceived = true;
    this.#goawayLastId = last;
    this.#goawayCode = code;
    const name = errorCodeName(code);
    let detail = "";
    if (debugData.byteLength > 0) {
      detail = `: ${
        new TextDecoder().decode(debugData.subarray(0, 256)).replace(
          /[^ -~]/g,
          "?",
        )
      }`;
    }
    const cause = () =>
      new Http2StreamReset(
        `the server refused the stream (GOAWAY ${name}, last stream ${last}${detail}): it was not processed`,
        code,
        true,
      );
    // Streams above the last id were never processed (§6.8): they are
    // closed, and may be sent again elsewhere, as may the queued exchanges.
    this.#table.refuseAbove(last, cause);
    this.#stopAccepting("server-closed");
    this.#streamEnded();
  }

  #onWindowUpdate(id: number, increment: number): void {
    if (id === 0) {
      this.#writer.windowUpdate(increment);
      return;
    }
    const stream = this.#streams.get(id);
    if (stream === undefined) {
      this.#table.unknownStream(id, "WINDOW_UPDATE");
      return;
    }
    this.#writer.streamWindowUpdate(stream, increment);
  }

  #onEof(): void {
    const code = this.#goawayCode;
    const goaway = this.#goawayReceived && code !== NO_ERROR;
    this.#table.fail(
      this.#streams.values(),
      (exchange) =>
        goaway
          ? new Http2StreamReset(
            `the server sent GOAWAY (${
              errorCodeName(code)
            }) and closed the connection`,
            code,
            true,
          )
          : new Deno.errors.UnexpectedEof(
            exchange.responded
              ? "the server closed the connection in the middle of the response"
              : "the server closed the connection before sending a response",
          ),
      undefined,
    );
    this.#shutdown("server-closed", null, undefined, null);
  }

  // ---- slots and draining --------------------------------------------------

  /** A stream slot became free (or an exchange left before opening one). */
  #streamEnded(): void {
    if (this.#closed) return;
    this.#startWaiting();
    if (this.activeStreams === 0) {
      this.idleSince = Date.now();
      this.#table.stopTimer();
      this.#unref();
    }
    if (this.#draining) {
      this.#checkDrained();
      return;
    }
    this.#host.released(this);
  }

  #startWaiting(): void {
    if (this.#table.waiting === 0 || this.#closed) return;
    if (this.maxConcurrentStreams === 0 && this.#streams.size === 0) {
      // The server allows no stream at all for now: try elsewhere.
      const cause = new Http2StreamReset(
        "the server allows no streams (SETTINGS_MAX_CONCURRENT_STREAMS 0)",
        REFUSED_STREAM,
        false,
      );
      this.#table.refuse(this.#table.takeWaiting(), () => cause);
      return;
    }
    this.#table.openWaiting(this.maxConcurrentStreams);
  }

  #stopAccepting(reason: CloseReason): void {
    if (this.#draining || this.#closed) return;
    this.#draining = true;
    this.#drainReason = reason;
    this.#host.goingAway(this);
  }

  /** Closes a draining session once only abandoned streams are left. */
  #checkDrained(): void {
    if (
      this.#closed || !this.#draining ||
      this.#streams.size > this.#table.abandoned || this.#table.queued > 0
    ) {
      return;
    }
    this.#shutdown(
      this.#drainReason,
      null,
      undefined,
      this.#goawayReceived ? null : encodeGoaway(0, NO_ERROR),
    );
  }

  // ---- failures and shutdown -----------------------------------------------

  /** A connection error (§5.4.1): GOAWAY with its code, then close. */
  #connectionError(error: Http2ProtocolError): void {
    const message = encoder.encode(error.message.slice(0, 200));
    this.#shutdown(
      "error",
      error,
      "MALFORMED_RESPONSE",
      encodeGoaway(0, error.code, message),
    );
  }

  /**
   * Closes the session: fails what is in flight (streams staged by how far
   * they got; exchanges never written as `unsent`), writes `goaway` if given
   * (then closes the socket), and tells the host.
   */
  #shutdown(
    reason: CloseReason,
    error: unknown,
    code: FetchErrorCode | undefined,
    goaway: Uint8Array | null,
  ): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#draining = true;
    this.#ping.close();
    const queued = this.#table.takeQueued();
    this.#writer.stop();
    const streams = this.#table.close();
    // A GOAWAY is written after what is queued; the socket closes once it
    // is out, or after a short while if the server does not read.
    this.#writer.close(goaway);
    this.#table.fail(
      streams,
      () =>
        error ?? new Deno.errors.ConnectionAborted(
          `the HTTP/2 session was closed (${reason}) before the response`,
        ),
      code,
    );
    for (const exchange of queued) {
      if (exchange.done) continue;
      const cause = error ?? new Deno.errors.ConnectionAborted(
        `the HTTP/2 session was closed (${reason})`,
      );
      // The session was found dead before the request was written: replay
      // on a fresh connection.
      exchange.fail(
        this.#table.unsent(
          `the request was not sent: ${
            cause instanceof Error ? cause.message : String(cause)
          }`,
          cause,
        ),
      );
    }
    this.#host.closed(this, reason);
  }

  #ref(): void {
    if (!this.#refed) {
      this.#conn.ref();
      this.#refed = true;
    }
  }

  #unref(): void {
    if (this.#refed) {
      this.#conn.unref();
      this.#refed = false;
    }
  }
}
