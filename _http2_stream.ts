// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * One HTTP/2 stream's state (RFC 9113 §5.1), and the receiving side of
 * streams, which turns a stream's HEADERS, DATA and END_STREAM into its
 * exchange's response (§8.1) and gives the stream's receive window back as
 * the body is read (§6.9). The session (`_http2_session.ts`) decodes the
 * frames and hands each stream's to the receiver; the stream table
 * (`_http2_streams.ts`) opens, closes and resets streams; the writer
 * (`_http2_writer.ts`) sends the requests.
 *
 * How a body is handed over is chosen at the response head: one of known
 * length up to the stream window is gathered whole and delivered as bytes at
 * END_STREAM; one of unknown length is gathered during the current read and
 * delivered as bytes if it ends there, else streamed from the end of the
 * read; anything else is a stream at once. HEAD, 204 and 304 responses have
 * no body: their DATA is counted for flow control and dropped.
 *
 * @module
 */

import { type Exchange, Phase, type ResponseMeta } from "./_exchange.ts";
import { encodeWindowUpdate, ErrorCode } from "./_http2_frames.ts";
import type { DataFrame } from "./_http2_decoder.ts";
import {
  validateResponseFields,
  validateTrailerFields,
} from "./_http2_fields.ts";
import type { SessionGuard } from "./_http2_guard.ts";
import { Http2ProtocolError } from "./errors.ts";

const PROTOCOL_ERROR = ErrorCode.PROTOCOL_ERROR;
const FLOW_CONTROL_ERROR = ErrorCode.FLOW_CONTROL_ERROR;
const STREAM_CLOSED = ErrorCode.STREAM_CLOSED;
const CANCEL = ErrorCode.CANCEL;

const EMPTY = new Uint8Array(0);

/** How a stream's response body is being received. */
export const enum Body {
  /** No final response head yet. */
  Waiting,
  /** A body of known small length, gathered into one buffer. */
  Buffer,
  /** A body of unknown length, gathered until the end of this read. */
  Collect,
  /** Handed over as a stream. */
  Stream,
  /** Nobody wants it (HEAD, cancelled, abandoned): DATA is dropped. */
  Discard,
  /** END_STREAM received. */
  Done,
}

/** Which timeout a stream's deadline enforces. */
export const enum Due {
  Headers,
  Body,
}

/** One stream: an exchange in flight on the session. */
export class H2Stream {
  readonly id: number;
  readonly exchange: Exchange;
  /** A HEAD request: the response has no body, whatever is sent. */
  readonly head: boolean;
  readonly sentAt: number;
  /** The server's window for our DATA on this stream. */
  sendWindow: number;
  /** Our window for the server's DATA on this stream. */
  recvWindow: number;
  localEnded = false;
  remoteEnded = false;
  closed = false;
  /** Cancelled past the reset cap: kept open, its DATA dropped. */
  abandoned = false;
  /** A request body stream began to be read: it cannot be sent again. */
  bodyStarted = false;
  body: Body = Body.Waiting;
  meta: ResponseMeta | null = null;
  /** The response's content-length, or -1. */
  expected = -1;
  /** Response body bytes received. */
  received = 0;
  buf: Uint8Array | null = null;
  chunks: Uint8Array[] | null = null;
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  /** A request body in hand, from `pendingOffset` on still to send. */
  pending: Uint8Array | null = null;
  pendingOffset = 0;
  /** A streamed request body waiting for window. */
  waiter: (() => void) | null = null;
  /** A body in hand waiting for queued frames to be written. */
  drainWait = false;
  /** When the stream times out (`Date.now()` time), 0 for never. */
  due = 0;
  dueMs = 0;
  dueKind: Due = Due.Headers;

  /** Creates the state of stream `id`, opened at `now`. */
  constructor(
    id: number,
    exchange: Exchange,
    sendWindow: number,
    recvWindow: number,
    now: number,
  ) {
    this.id = id;
    this.exchange = exchange;
    this.head = exchange.method === "HEAD";
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
    this.sentAt = now;
  }

  /** Progress: pushes the stream's deadline back by its length. */
  extend(now: number): void {
    if (this.due !== 0) this.due = now + this.dueMs;
  }
}

/** What the receiving side asks of the session that owns the streams. */
export interface StreamOwner {
  /** Gives `stream` a deadline `ms` after `now` (none for `Infinity`). */
  setDue(stream: H2Stream, ms: number, kind: Due, now: number): void;
  /** Both sides ended `stream`: forget it and free its slot. */
  closeStream(stream: H2Stream): void;
  /** Resets a stream nobody wants any more (within the reset cap). */
  reset(stream: H2Stream, code: number): void;
}

/** Where the receiving side queues its WINDOW_UPDATE frames. */
export interface FrameSink {
  /** Queues a frame for the socket. */
  push(bytes: Uint8Array): void;
}

function streamError(
  message: string,
  code: number,
  streamId: number,
): Http2ProtocolError {
  return new Http2ProtocolError(message, code, streamId);
}

/** A frame on a stream the server already ended (§5.1). */
function afterEnd(what: string, streamId: number): Http2ProtocolError {
  return streamError(
    `${what} frame on stream ${streamId} after END_STREAM (RFC 9113 §5.1)`,
    STREAM_CLOSED,
    streamId,
  );
}

function lengthMismatch(
  stream: H2Stream,
  received: number,
): Http2ProtocolError {
  return streamError(
    `Response body of ${received} bytes does not match its content-length of ${stream.expected} (RFC 9113 §8.1.1)`,
    PROTOCOL_ERROR,
    stream.id,
  );
}

function byteLength(chunk: Uint8Array): number {
  return chunk.byteLength;
}

function join(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  if (chunks.length === 0) return EMPTY;
  return joinRange(chunks, 0, chunks.length, size);
}

/** `chunks[from:to]` in one new array of `size` bytes. */
export function joinRange(
  chunks: Uint8Array[],
  from: number,
  to: number,
  size: number,
): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (let i = from; i < to; i++) {
    out.set(chunks[i], offset);
    offset += chunks[i].byteLength;
  }
  return out;
}

/** Parses a content-length value: digits only; -1 when invalid. */
function parseLength(value: string): number {
  if (value.length === 0 || value.length > 15) return -1;
  let n = 0;
  for (let i = 0; i < value.length; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    n = n * 10 + digit;
  }
  return n;
}

/**
 * The receiving side of a session's streams: the frames of one open stream
 * go in, the exchange's response head and body come out. Stream errors are
 * thrown as {@linkcode Http2ProtocolError}s for the session to reset.
 */
export class ResponseReceiver {
  #owner: StreamOwner;
  #sink: FrameSink;
  #guard: SessionGuard;
  /** Our stream receive window. */
  #window: number;
  /** A body of known length up to this is gathered whole. */
  #gather: number;
  #grantThreshold: number;
  /** Streams gathering a body of unknown length during this read. */
  #collecting: H2Stream[] = [];
  #responses = 0;

  /**
   * Creates the receiving side; `window` is each stream's receive window,
   * `gather` the largest body handed over as bytes.
   */
  constructor(
    owner: StreamOwner,
    sink: FrameSink,
    guard: SessionGuard,
    window: number,
    gather: number,
  ) {
    this.#owner = owner;
    this.#sink = sink;
    this.#guard = guard;
    this.#window = window;
    this.#gather = gather;
    this.#grantThreshold = Math.max(1, Math.floor(window / 2));
  }

  /** Final response heads received so far. */
  get responses(): number {
    return this.#responses;
  }

  /**
   * A DATA frame on `stream`, already counted against the connection window
   * (RFC 9113 §6.1, §6.9.1), received at `now`.
   */
  data(stream: H2Stream, frame: DataFrame, now: number): void {
    const id = stream.id;
    const length = frame.length;
    if (stream.remoteEnded) throw afterEnd("DATA", id);
    if (length > stream.recvWindow) {
      throw streamError(
        `DATA frame of ${length} bytes exceeds the window of stream ${id} (${stream.recvWindow}) (RFC 9113 §6.9.1)`,
        FLOW_CONTROL_ERROR,
        id,
      );
    }
    stream.recvWindow -= length;
    const data = frame.data;
    const size = data.byteLength;
    if (size > 0) this.#guard.useful();
    else if (!frame.endStream) this.#guard.useless();
    switch (stream.body) {
      case Body.Waiting:
        throw streamError(
          `DATA frame on stream ${id} before its response HEADERS (RFC 9113 §8.1)`,
          PROTOCOL_ERROR,
          id,
        );
      case Body.Discard:
        this.grant(stream);
        break;
      case Body.Buffer:
        if (stream.received + size > stream.expected) {
          throw lengthMismatch(stream, stream.received + size);
        }
        stream.buf!.set(data, stream.received);
        stream.received += size;
        stream.extend(now);
        if (size !== length) this.grant(stream); // padding
        break;
      case Body.Collect:
        stream.received += size;
        if (size > 0) stream.chunks!.push(data.slice());
        stream.extend(now);
        if (size !== length) this.grant(stream);
        break;
      case Body.Stream:
        stream.received += size;
        if (stream.expected !== -1 && stream.received > stream.expected) {
          throw lengthMismatch(stream, stream.received);
        }
        if (size > 0) {
          try {
            stream.controller!.enqueue(data.slice());
          } catch {
            // Errored by a failure; the stream is being reset.
          }
        }
        stream.extend(now);
        this.grant(stream);
        break;
    }
    if (frame.endStream) this.#end(stream);
  }

  /**
   * A header block on `stream`, already decoded (the HPACK state is the
   * connection's, §4.3), received at `now`: the response head, an interim
   * response, or trailers.
   */
  headers(
    stream: H2Stream,
    fields: [string, string][],
    endStream: boolean,
    now: number,
  ): void {
    const id = stream.id;
    if (stream.remoteEnded) throw afterEnd("HEADERS", id);
    if (stream.body === Body.Discard && stream.meta === null) {
      // Abandoned before its response: drop it.
      if (endStream) this.#end(stream);
      return;
    }
    if (stream.meta === null) {
      this.#head(stream, fields, endStream, now);
      return;
    }
    // Trailers (§8.1): they must end the stream; checked, then dropped.
    if (!endStream) {
      throw streamError(
        `Second HEADERS frame on stream ${id} without END_STREAM: trailers must end the stream (RFC 9113 §8.1)`,
        PROTOCOL_ERROR,
        id,
      );
    }
    validateTrailerFields(fields, id);
    this.#end(stream);
  }

  #head(
    stream: H2Stream,
    fields: [string, string][],
    endStream: boolean,
    now: number,
  ): void {
    const id = stream.id;
    const { status, headers } = validateResponseFields(fields, id);
    if (status < 200) {
      if (status === 101) {
        throw streamError(
          "Response 101 Switching Protocols is not allowed in HTTP/2 (RFC 9113 §8.6)",
          PROTOCOL_ERROR,
          id,
        );
      }
      if (endStream) {
        throw streamError(
          `Interim response ${status} ends stream ${id} (RFC 9113 §8.1)`,
          PROTOCOL_ERROR,
          id,
        );
      }
      this.#guard.useless();
      return; // 1xx interim responses are skipped (RFC 9110 §15.2).
    }
    let expected = -1;
    let contentEncoding: string | undefined;
    for (let i = 0; i < headers.length; i++) {
      const name = headers[i][0];
      if (name === "content-length") {
        const n = parseLength(headers[i][1]);
        if (n === -1 || (expected !== -1 && n !== expected)) {
          throw streamError(
            `Response has an invalid content-length ${
              JSON.stringify(headers[i][1])
            } (RFC 9110 §8.6)`,
            PROTOCOL_ERROR,
            id,
          );
        }
        expected = n;
      } else if (name === "content-encoding") {
        contentEncoding = contentEncoding === undefined
          ? headers[i][1]
          : `${contentEncoding}, ${headers[i][1]}`;
      }
    }
    const meta: ResponseMeta = {
      status,
      statusText: "",
      headers,
      contentEncoding,
    };
    stream.meta = meta;
    this.#guard.useful();
    this.#responses++;
    const exchange = stream.exchange;
    const noBody = stream.head || status === 204 || status === 304;
    stream.expected = expected;
    if (endStream) {
      if (!noBody && expected > 0) throw lengthMismatch(stream, 0);
      stream.remoteEnded = true;
      stream.body = Body.Done;
      stream.due = 0;
      exchange.finish();
      exchange.deliver(meta, "2", noBody ? null : EMPTY);
      if (stream.localEnded) this.#owner.closeStream(stream);
      return;
    }
    if (noBody) {
      // A body to HEAD (Deno.serve sends one), 204 or 304 is dropped.
      stream.body = Body.Discard;
      exchange.finish();
      exchange.deliver(meta, "2", null);
      this.#owner.setDue(stream, exchange.bodyTimeout, Due.Body, now);
      return;
    }
    if (expected !== -1 && expected <= this.#gather) {
      // Small: gathered whole within the stream window, handed over as bytes.
      stream.body = Body.Buffer;
      stream.buf = expected === 0 ? EMPTY : new Uint8Array(expected);
      exchange.phase = Phase.Buffer;
      this.#owner.setDue(stream, exchange.bodyTimeout, Due.Body, now);
    } else if (expected === -1) {
      // Unknown length: bytes if it ends within this read, else a stream.
      stream.body = Body.Collect;
      stream.chunks = [];
      this.#collecting.push(stream);
      exchange.phase = Phase.Buffer;
      this.#owner.setDue(stream, exchange.bodyTimeout, Due.Body, now);
    } else {
      this.#deliverStream(stream, null, now);
    }
  }

  /**
   * The end of a read at `now`: bodies of unknown length that did not end in
   * it are handed over as streams.
   */
  endOfRead(now: number): void {
    const collecting = this.#collecting;
    if (collecting.length === 0) return;
    this.#collecting = [];
    for (const stream of collecting) {
      if (stream.body === Body.Collect && !stream.closed) {
        const chunks = stream.chunks!;
        stream.chunks = null;
        this.#deliverStream(stream, chunks, now);
        this.grant(stream);
      }
    }
  }

  /** Forgets the bodies being gathered: the session closed. */
  clear(): void {
    this.#collecting = [];
  }

  #deliverStream(
    stream: H2Stream,
    chunks: Uint8Array[] | null,
    now: number,
  ): void {
    const exchange = stream.exchange;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        stream.controller = controller;
      },
      pull: () => this.#onPull(stream),
      cancel: () => this.#onCancel(stream),
    }, { highWaterMark: this.#window, size: byteLength });
    stream.body = Body.Stream;
    exchange.phase = Phase.Stream;
    exchange.controller = stream.controller;
    if (chunks !== null) {
      for (const chunk of chunks) stream.controller!.enqueue(chunk);
    }
    this.#owner.setDue(stream, exchange.bodyTimeout, Due.Body, now);
    exchange.deliver(stream.meta!, "2", body);
  }

  /** The body's reader wants more: give the server window for it. */
  #onPull(stream: H2Stream): void {
    if (stream.body !== Body.Stream || stream.closed) return;
    if (stream.due !== 0) stream.due = Date.now() + stream.dueMs;
    this.grant(stream);
  }

  /** The body's reader cancelled it: reset the stream, keep the session. */
  #onCancel(stream: H2Stream): void {
    if (stream.body === Body.Stream) stream.body = Body.Discard;
    const exchange = stream.exchange;
    if (!exchange.done) exchange.finish();
    this.#owner.reset(stream, CANCEL);
  }

  /**
   * Sends a stream WINDOW_UPDATE for what its reader consumed (§6.9): the
   * window plus the bytes buffered stay at most `readAhead`, and updates go
   * out in steps of half of it.
   */
  grant(stream: H2Stream): void {
    if (stream.remoteEnded || stream.closed) return;
    let queued: number;
    switch (stream.body) {
      case Body.Stream: {
        const desired = stream.controller!.desiredSize;
        queued = desired === null ? 0 : this.#window - desired;
        break;
      }
      case Body.Buffer:
      case Body.Collect:
        queued = stream.received;
        break;
      default:
        queued = 0;
    }
    const credit = this.#window - queued - stream.recvWindow;
    if (credit >= this.#grantThreshold) {
      stream.recvWindow += credit;
      this.#sink.push(encodeWindowUpdate(stream.id, credit));
    }
  }

  /** END_STREAM from the server: the response is complete. */
  #end(stream: H2Stream): void {
    const exchange = stream.exchange;
    switch (stream.body) {
      case Body.Buffer:
        if (stream.received !== stream.expected) {
          throw lengthMismatch(stream, stream.received);
        }
        exchange.finish();
        exchange.deliver(stream.meta!, "2", stream.buf);
        break;
      case Body.Collect:
        exchange.finish();
        exchange.deliver(
          stream.meta!,
          "2",
          join(stream.chunks!, stream.received),
        );
        break;
      case Body.Stream:
        if (stream.expected !== -1 && stream.received !== stream.expected) {
          throw lengthMismatch(stream, stream.received);
        }
        try {
          stream.controller!.close();
        } catch {
          // Cancelled or errored already.
        }
        exchange.finish();
        break;
    }
    stream.remoteEnded = true;
    stream.body = Body.Done;
    stream.buf = null;
    stream.chunks = null;
    if (stream.localEnded || stream.abandoned) {
      this.#owner.closeStream(stream);
    } else {
      // The response came before the whole request body: the upload goes
      // on (§8.1), but may not stall for longer than bodyTimeout.
      this.#owner.setDue(stream, exchange.bodyTimeout, Due.Body, Date.now());
    }
  }
}
