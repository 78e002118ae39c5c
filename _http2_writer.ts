// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The sending side of an HTTP/2 session: the one writer of its socket, and
 * requests on their way out.
 *
 * - Frames are queued from anywhere in the session and go out together at
 *   the end of the tick, in writes of at most 64 KiB (one copy, never one of
 *   a whole large body).
 * - Request HEADERS are HPACK-encoded here, in the order they are written.
 * - Request bodies are cut into DATA frames that respect the server's stream
 *   and connection windows and its frame size (RFC 9113 §5.2, §6.9); a body
 *   whose window is spent waits for WINDOW_UPDATE or SETTINGS, and one that
 *   finds more than 256 KiB queued waits for the socket, so an upload can
 *   neither fill memory nor starve the other streams.
 * - A closing session's GOAWAY goes out after what is queued; the socket
 *   closes once it is written, or after a second if the server does not
 *   read.
 *
 * @module
 */

import { pumpBody } from "./_body.ts";
import type { Exchange } from "./_exchange.ts";
import { HpackEncoder } from "./_hpack.ts";
import {
  connectionError,
  DEFAULT_WINDOW_SIZE,
  encodeDataHeader,
  encodeHeaders,
  ErrorCode,
  type Http2Settings,
  MAX_WINDOW_SIZE,
} from "./_http2_frames.ts";
import type { SessionGuard } from "./_http2_guard.ts";
import { type H2Stream, joinRange } from "./_http2_stream.ts";
import { FetchError, Http2ProtocolError } from "./errors.ts";

const FLOW_CONTROL_ERROR = ErrorCode.FLOW_CONTROL_ERROR;
const CANCEL = ErrorCode.CANCEL;
/** Bytes queued for the socket past which a request body waits its turn. */
const WRITE_HIGH_WATER = 256 * 1024;
/** The largest single write of frames joined together. */
const WRITE_BATCH = 64 * 1024;
/** How long a closing session waits for its GOAWAY to be written. */
const CLOSE_FLUSH_TIMEOUT = 1000;

/** What the writer asks of the session it writes for. */
export interface WriterHost {
  /** Both sides ended `stream`: forget it and free its slot. */
  closeStream(stream: H2Stream): void;
  /** Resets a stream whose request body failed (within the reset cap). */
  reset(stream: H2Stream, code: number): void;
  /** Writing to the socket failed: the session is over. */
  failed(error: unknown): void;
}

/**
 * Writes one session's frames to its socket, and its requests' HEADERS and
 * bodies within the server's windows.
 */
export class FrameWriter {
  /** Resolves once the socket is closed. */
  readonly closed: Promise<void>;

  #conn: Deno.Conn;
  #host: WriterHost;
  #guard: SessionGuard;
  #origin: string;
  #hpackEncoder = new HpackEncoder();
  /** The session closed: nothing more is queued but its GOAWAY. */
  #stopped = false;

  // The server's settings and windows for what we send.
  #peerInitialWindow = DEFAULT_WINDOW_SIZE;
  #peerMaxFrameSize = 16384;
  #connSendWindow = DEFAULT_WINDOW_SIZE;
  /** Streams with request body bytes waiting for window. */
  #blocked = new Set<H2Stream>();

  // The queue and the socket.
  #out: Uint8Array[] = [];
  #outBytes = 0;
  /** Exchanges whose HEADERS are in `#out`. */
  #outHeads: Exchange[] = [];
  #flushQueued = false;
  #writing = false;
  #closeAfterFlush = false;
  #closeTimer: ReturnType<typeof setTimeout> | undefined;
  #drainWaiters: (() => void)[] = [];
  #socketClosed = false;
  #resolveClosed!: () => void;

  /** Creates the writer of `conn`; `origin` is for messages. */
  constructor(
    conn: Deno.Conn,
    host: WriterHost,
    guard: SessionGuard,
    origin: string,
  ) {
    this.#conn = conn;
    this.#host = host;
    this.#guard = guard;
    this.#origin = origin;
    this.closed = new Promise<void>((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  /** The server's SETTINGS_INITIAL_WINDOW_SIZE: a new stream's send window. */
  get initialWindow(): number {
    return this.#peerInitialWindow;
  }

  /** Queues a frame (or part of one) for the socket. */
  push(bytes: Uint8Array): void {
    if (this.#stopped) return;
    this.#queue(bytes);
  }

  /**
   * Queues a reply the peer asked for (an ACK), bounded.
   *
   * @throws {Http2ProtocolError} A connection error (ENHANCE_YOUR_CALM) when
   * too many replies wait for the peer to read them.
   */
  reply(bytes: Uint8Array): void {
    this.#guard.reply();
    this.push(bytes);
  }

  /**
   * Queues the HEADERS (and CONTINUATION) frames of `stream`'s request. They
   * carry END_STREAM when the request has no body.
   */
  headers(stream: H2Stream, fields: [string, string][]): void {
    const exchange = stream.exchange;
    const bytes = exchange.request.body.bytes;
    const endStream = exchange.stream === null &&
      (bytes === null || bytes.byteLength === 0);
    const block = this.#hpackEncoder.encode(fields);
    this.push(
      encodeHeaders(stream.id, block, endStream, this.#peerMaxFrameSize),
    );
    exchange.written = true;
    this.#outHeads.push(exchange);
    if (endStream) stream.localEnded = true;
  }

  /**
   * Sends `stream`'s request body after its HEADERS: bytes in hand as far as
   * the windows allow now, a stream as it is read.
   */
  body(stream: H2Stream): void {
    if (stream.localEnded) return;
    const exchange = stream.exchange;
    if (exchange.stream === null) {
      stream.pending = exchange.request.body.bytes;
      this.#sendPending(stream);
    } else {
      this.#pump(stream);
    }
  }

  /**
   * Takes the server's settings that shape what we send (RFC 9113 §6.5.2):
   * its HPACK table size, frame size and initial stream window, which moves
   * every open stream's window by the difference (§6.9.2).
   *
   * @throws {Http2ProtocolError} A connection error (FLOW_CONTROL_ERROR) when
   * a window would exceed 2^31-1.
   */
  settings(
    s: Readonly<Partial<Http2Settings>>,
    streams: Iterable<H2Stream>,
  ): void {
    if (s.headerTableSize !== undefined) {
      this.#hpackEncoder.setPeerMaxTableSize(s.headerTableSize);
    }
    if (s.maxFrameSize !== undefined) this.#peerMaxFrameSize = s.maxFrameSize;
    if (s.initialWindowSize !== undefined) {
      const delta = s.initialWindowSize - this.#peerInitialWindow;
      this.#peerInitialWindow = s.initialWindowSize;
      if (delta !== 0) {
        for (const stream of streams) {
          stream.sendWindow += delta;
          if (stream.sendWindow > MAX_WINDOW_SIZE) {
            throw connectionError(
              `SETTINGS_INITIAL_WINDOW_SIZE makes the window of stream ${stream.id} exceed 2^31-1 (RFC 9113 §6.9.2)`,
              FLOW_CONTROL_ERROR,
            );
          }
        }
      }
    }
  }

  /** Lets every blocked stream that has window again go on. */
  resumeBlocked(): void {
    for (const stream of [...this.#blocked]) {
      if (stream.sendWindow > 0) this.#resume(stream);
    }
  }

  /**
   * A WINDOW_UPDATE for the connection (RFC 9113 §6.9.1). One that nobody
   * waits for counts against floods.
   *
   * @throws {Http2ProtocolError} A connection error (FLOW_CONTROL_ERROR) when
   * the window would exceed 2^31-1.
   */
  windowUpdate(increment: number): void {
    if (this.#connSendWindow + increment > MAX_WINDOW_SIZE) {
      throw connectionError(
        `WINDOW_UPDATE makes the connection's send window exceed 2^31-1 (RFC 9113 §6.9.1)`,
        FLOW_CONTROL_ERROR,
      );
    }
    this.#connSendWindow += increment;
    if (this.#blocked.size === 0) {
      this.#guard.useless();
      return;
    }
    this.#guard.useful();
    for (const stream of [...this.#blocked]) {
      if (this.#connSendWindow <= 0) break;
      if (stream.sendWindow > 0) this.#resume(stream);
    }
  }

  /**
   * A WINDOW_UPDATE for an open stream (RFC 9113 §6.9.1).
   *
   * @throws {Http2ProtocolError} A stream error (FLOW_CONTROL_ERROR) when the
   * window would exceed 2^31-1.
   */
  streamWindowUpdate(stream: H2Stream, increment: number): void {
    if (stream.sendWindow + increment > MAX_WINDOW_SIZE) {
      throw new Http2ProtocolError(
        `WINDOW_UPDATE makes the send window of stream ${stream.id} exceed 2^31-1 (RFC 9113 §6.9.1)`,
        FLOW_CONTROL_ERROR,
        stream.id,
      );
    }
    stream.sendWindow += increment;
    if (this.#blocked.has(stream)) {
      this.#guard.useful();
      if (this.#connSendWindow > 0) this.#resume(stream);
    } else {
      this.#guard.useless();
    }
  }

  /** `stream` sends no more: stop waiting for window, wake its body. */
  release(stream: H2Stream): void {
    this.#blocked.delete(stream);
    const waiter = stream.waiter;
    if (waiter !== null) {
      stream.waiter = null;
      waiter();
    }
  }

  /** The session closed: queue nothing more, wait for no window. */
  stop(): void {
    this.#stopped = true;
    this.#blocked.clear();
  }

  /**
   * Closes the socket: at once, or once `goaway` (queued after everything
   * else) is written, or after a short while if the server does not read.
   */
  close(goaway: Uint8Array | null): void {
    if (goaway !== null && !this.#socketClosed) {
      this.#queue(goaway);
      this.#closeAfterFlush = true;
      const timer = setTimeout(() => {
        this.#closeTimer = undefined;
        this.#closeSocket();
      }, CLOSE_FLUSH_TIMEOUT);
      Deno.unrefTimer(timer);
      this.#closeTimer = timer;
    } else {
      this.#closeSocket();
    }
  }

  /** Sends what the windows allow of a request body in hand. */
  #sendPending(stream: H2Stream): void {
    const data = stream.pending!;
    let offset = stream.pendingOffset;
    while (offset < data.byteLength) {
      if (this.#outBytes >= WRITE_HIGH_WATER) {
        // Enough queued: let other streams' frames in, go on once written.
        stream.pendingOffset = offset;
        if (!stream.drainWait) {
          stream.drainWait = true;
          this.#drained().then(() => {
            stream.drainWait = false;
            if (!stream.closed && !this.#stopped && stream.pending !== null) {
              this.#sendPending(stream);
            }
          });
        }
        return;
      }
      const n = this.#data(stream, data, offset, true);
      if (n === 0) {
        stream.pendingOffset = offset;
        this.#blocked.add(stream);
        return;
      }
      offset += n;
    }
    stream.pending = null;
    stream.pendingOffset = 0;
    stream.localEnded = true;
    this.#blocked.delete(stream);
    stream.extend(Date.now());
    if (stream.remoteEnded) this.#host.closeStream(stream);
  }

  /**
   * Streams a request body (`pumpBody` holds a declared length to exactly),
   * in DATA frames the windows allow, then ends the stream. A body that
   * fails fails its exchange (`REQUEST_BODY`) and resets its stream; the
   * session goes on.
   */
  async #pump(stream: H2Stream): Promise<void> {
    const exchange = stream.exchange;
    const body = exchange.stream!;
    stream.bodyStarted = true;
    const stopped = () => stream.closed || stream.abandoned || this.#stopped;
    let failure: Error | null = null;
    try {
      failure = await pumpBody(
        body,
        exchange.streamLength,
        (chunk) => this.#sendChunk(stream, chunk),
        stopped,
      );
    } catch {
      // Not thrown by #sendChunk; kept for safety.
    }
    if (stopped()) {
      body.cancel().catch(() => {});
      return;
    }
    if (failure !== null) {
      exchange.fail(
        new FetchError(failure.message, {
          stage: "sent",
          code: "REQUEST_BODY",
          origin: this.#origin,
          reused: exchange.reused,
          cause: failure.cause ?? failure,
        }),
      );
      this.#host.reset(stream, CANCEL);
      return;
    }
    this.push(encodeDataHeader(stream.id, 0, true));
    stream.localEnded = true;
    if (stream.remoteEnded) this.#host.closeStream(stream);
  }

  /** Queues one chunk of a streamed body, waiting for window as needed. */
  async #sendChunk(stream: H2Stream, chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (stream.closed || stream.abandoned || this.#stopped) return;
      const n = this.#data(stream, chunk, offset, false);
      if (n === 0) {
        this.#blocked.add(stream);
        await new Promise<void>((resolve) => {
          stream.waiter = resolve;
        });
        continue;
      }
      offset += n;
    }
    stream.extend(Date.now());
    if (this.#outBytes >= WRITE_HIGH_WATER) await this.#drained();
  }

  /**
   * Queues one DATA frame of `bytes` from `offset` (the bytes themselves,
   * uncopied), as long as the windows and the frame size allow, ending the
   * stream if it takes the last byte and `last` says they are the body's
   * last. Returns its length: 0 when a window is spent.
   */
  #data(
    stream: H2Stream,
    bytes: Uint8Array,
    offset: number,
    last: boolean,
  ): number {
    const n = Math.min(
      bytes.byteLength - offset,
      stream.sendWindow,
      this.#connSendWindow,
      this.#peerMaxFrameSize,
    );
    if (n <= 0) return 0;
    const end = offset + n;
    this.push(
      encodeDataHeader(stream.id, n, last && end === bytes.byteLength),
    );
    this.push(bytes.subarray(offset, end));
    stream.sendWindow -= n;
    this.#connSendWindow -= n;
    return n;
  }

  /** Lets a stream waiting for window try again. */
  #resume(stream: H2Stream): void {
    if (stream.pending === null) {
      this.release(stream);
    } else {
      this.#blocked.delete(stream);
      if (!stream.drainWait) this.#sendPending(stream);
    }
  }

  #queue(bytes: Uint8Array): void {
    this.#out.push(bytes);
    this.#outBytes += bytes.byteLength;
    if (!this.#writing && !this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  #flush = (): void => {
    this.#flushQueued = false;
    if (this.#writing || this.#socketClosed) return;
    this.#writing = true;
    this.#writeLoop();
  };

  async #writeLoop(): Promise<void> {
    try {
      while (this.#out.length > 0 && !this.#socketClosed) {
        const chunks = this.#out;
        const heads = this.#outHeads;
        this.#out = [];
        this.#outBytes = 0;
        if (heads.length > 0) this.#outHeads = [];
        // Frames queued together go out together, in writes of at most
        // WRITE_BATCH bytes: one copy, never one of a whole large body.
        let first = true;
        let i = 0;
        while (i < chunks.length && !this.#socketClosed) {
          let j = i + 1;
          let size = chunks[i].byteLength;
          while (
            j < chunks.length && size + chunks[j].byteLength <= WRITE_BATCH
          ) {
            size += chunks[j++].byteLength;
          }
          const data = j === i + 1 ? chunks[i] : joinRange(chunks, i, j, size);
          i = j;
          let written: number;
          try {
            written = await this.#conn.write(data);
          } catch (error) {
            // Only a first write that failed outright proves that nothing
            // of these requests went out.
            if (first) {
              for (const exchange of heads) exchange.written = false;
            }
            throw error;
          }
          first = false;
          while (written < data.byteLength && !this.#socketClosed) {
            written += await this.#conn.write(data.subarray(written));
          }
        }
        this.#guard.written();
        if (this.#out.length === 0) this.#wakeDrainWaiters();
      }
    } catch (error) {
      if (!this.#stopped) this.#host.failed(error);
      this.#closeSocket();
    } finally {
      this.#writing = false;
      this.#wakeDrainWaiters();
      if (this.#closeAfterFlush) this.#closeSocket();
    }
  }

  #wakeDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    if (waiters.length > 0) {
      this.#drainWaiters = [];
      for (const waiter of waiters) waiter();
    }
  }

  /** Resolves once everything queued is written (or the socket closed). */
  #drained(): Promise<void> {
    if (this.#socketClosed || (!this.#writing && this.#out.length === 0)) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  #closeSocket(): void {
    if (this.#socketClosed) return;
    this.#socketClosed = true;
    if (this.#closeTimer !== undefined) clearTimeout(this.#closeTimer);
    this.#closeTimer = undefined;
    this.#out = [];
    this.#outBytes = 0;
    this.#outHeads = [];
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#wakeDrainWaiters();
    this.#resolveClosed();
  }
}
