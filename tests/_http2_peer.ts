// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A scripted HTTP/2 server for tests (h2c on loopback, port 0): each
 * accepted connection is a {@linkcode PeerConn} that records every frame the
 * client sends (HEADERS joined with their CONTINUATION frames and decoded
 * with HPACK) and writes exactly the frames the script asks for, built with
 * the codec's encoders. Faults are written as raw frames.
 *
 * Also here: a fake {@linkcode SessionHost} that records what a session
 * tells it, and helpers to make exchanges.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import {
  CLIENT_PREFACE,
  encodeData,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  Flag,
  FrameType,
  type Http2Settings,
  writeFrameHeader,
} from "../_http2_frames.ts";
import { HpackDecoder, HpackEncoder } from "../_hpack.ts";
import type { CloseReason } from "../_connection.ts";
import type { DispatchRequest, DispatchResult } from "../_dispatch.ts";
import { Exchange } from "../_exchange.ts";
import type {
  Http2Session,
  SessionHost,
  SessionSettings,
} from "../_http2_session.ts";

/** A frame the client sent. */
export interface PeerFrame {
  type: number;
  flags: number;
  streamId: number;
  /** The payload; for HEADERS, the whole joined header block. */
  payload: Uint8Array;
  /** For HEADERS: the decoded fields. */
  fields?: [string, string][];
}

/** A request as the peer saw its HEADERS. */
export interface PeerRequest {
  streamId: number;
  fields: [string, string][];
  endStream: boolean;
  /** A field's value by name (pseudo-headers included). */
  get(name: string): string | undefined;
}

/** Builds one raw frame: header and payload, nothing checked. */
export function rawFrame(
  type: number,
  flags: number,
  streamId: number,
  payload: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const out = new Uint8Array(9 + payload.byteLength);
  writeFrameHeader(out, 0, payload.byteLength, type, flags, streamId);
  out.set(payload, 9);
  return out;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const part of parts) n += part.byteLength;
  const out = new Uint8Array(n);
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.byteLength;
  }
  return out;
}

/** One connection to the scripted server. */
export class PeerConn {
  /** Every frame received after the preface, in order. */
  readonly frames: PeerFrame[] = [];
  /** Whether the client closed the connection (EOF or error). */
  ended = false;
  #conn: Deno.Conn;
  #taken = new Set<PeerFrame>();
  #waiters = new Set<() => void>();
  #encoder = new HpackEncoder();
  #decoder = new HpackDecoder({ maxHeaderListSize: 1 << 20 });
  #reading: Promise<void> | null = null;
  #closed = false;
  #prefaceOk = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Whether the client's preface was exact. */
  get prefaceOk(): boolean {
    return this.#prefaceOk;
  }

  /** Starts reading: the preface, then frames until EOF. */
  start(): void {
    this.#reading ??= this.#read();
  }

  async #read(): Promise<void> {
    let buf: Uint8Array = new Uint8Array(0);
    const chunk = new Uint8Array(64 * 1024);
    let block: Uint8Array[] | null = null;
    let blockFlags = 0;
    let blockStream = 0;
    try {
      while (true) {
        const n = await this.#conn.read(chunk);
        if (n === null) break;
        buf = concatBytes([buf, chunk.subarray(0, n)]);
        if (!this.#prefaceOk) {
          if (buf.byteLength < CLIENT_PREFACE.byteLength) continue;
          for (let i = 0; i < CLIENT_PREFACE.byteLength; i++) {
            if (buf[i] !== CLIENT_PREFACE[i]) throw new Error("bad preface");
          }
          this.#prefaceOk = true;
          buf = buf.slice(CLIENT_PREFACE.byteLength);
        }
        let pos = 0;
        while (buf.byteLength - pos >= 9) {
          const length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
          if (buf.byteLength - pos < 9 + length) break;
          const type = buf[pos + 3];
          const flags = buf[pos + 4];
          const streamId = new DataView(buf.buffer, buf.byteOffset + pos + 5)
            .getUint32(0) & 0x7fffffff;
          const payload = buf.slice(pos + 9, pos + 9 + length);
          pos += 9 + length;
          if (type === FrameType.HEADERS || type === FrameType.CONTINUATION) {
            if (type === FrameType.HEADERS) {
              block = [payload];
              blockFlags = flags;
              blockStream = streamId;
            } else {
              block!.push(payload);
            }
            if ((flags & Flag.END_HEADERS) === 0) continue;
            const whole = concatBytes(block!);
            block = null;
            this.#add({
              type: FrameType.HEADERS,
              flags: blockFlags | Flag.END_HEADERS,
              streamId: blockStream,
              payload: whole,
              fields: this.#decoder.decode(whole, blockStream),
            });
            continue;
          }
          this.#add({ type, flags, streamId, payload });
        }
        buf = buf.slice(pos);
      }
    } catch {
      // Reset or closed: the connection is over.
    } finally {
      this.ended = true;
      this.#notify();
    }
  }

  #add(frame: PeerFrame): void {
    this.frames.push(frame);
    this.#notify();
  }

  #notify(): void {
    for (const waiter of [...this.#waiters]) waiter();
  }

  /**
   * The first frame not yet taken that matches `match`, waiting up to
   * `ms` for it; it is then taken.
   */
  async next(
    match: (frame: PeerFrame) => boolean,
    ms = 5000,
  ): Promise<PeerFrame> {
    this.start();
    let wake!: () => void;
    const waiter = () => wake();
    try {
      return await deadline(
        (async () => {
          while (true) {
            for (const frame of this.frames) {
              if (!this.#taken.has(frame) && match(frame)) {
                this.#taken.add(frame);
                return frame;
              }
            }
            if (this.ended) throw new Error("the client closed the connection");
            await new Promise<void>((resolve) => {
              wake = resolve;
              this.#waiters.add(waiter);
            });
            this.#waiters.delete(waiter);
          }
        })(),
        ms,
      );
    } finally {
      this.#waiters.delete(waiter);
      wake?.();
    }
  }

  /** The next frame of `type` (on `streamId`, when given). */
  nextOf(type: number, streamId?: number, ms?: number): Promise<PeerFrame> {
    return this.next(
      (f) =>
        f.type === type && (streamId === undefined || f.streamId === streamId),
      ms,
    );
  }

  /** Whether a frame matching `match` has been received (taken or not). */
  has(match: (frame: PeerFrame) => boolean): boolean {
    return this.frames.some(match);
  }

  /** The next request HEADERS. */
  async request(ms?: number): Promise<PeerRequest> {
    const frame = await this.nextOf(FrameType.HEADERS, undefined, ms);
    const fields = frame.fields!;
    return {
      streamId: frame.streamId,
      fields,
      endStream: (frame.flags & Flag.END_STREAM) !== 0,
      get: (name) => fields.find(([n]) => n === name)?.[1],
    };
  }

  /** The request body of `streamId`: DATA frames up to END_STREAM. */
  async body(streamId: number, ms?: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    while (true) {
      const frame = await this.nextOf(FrameType.DATA, streamId, ms);
      parts.push(frame.payload);
      if (frame.flags & Flag.END_STREAM) return concatBytes(parts);
    }
  }

  /** Writes bytes. */
  async write(...parts: Uint8Array[]): Promise<void> {
    const data = parts.length === 1 ? parts[0] : concatBytes(parts);
    let written = 0;
    while (written < data.byteLength) {
      written += await this.#conn.write(data.subarray(written));
    }
  }

  /**
   * The server's side of the connection preface: our SETTINGS (empty by
   * default), then an ACK of the client's. Waits for the client's SETTINGS.
   */
  async handshake(settings: Partial<Http2Settings> = {}): Promise<PeerFrame> {
    this.start();
    await this.write(encodeSettings(settings));
    const theirs = await this.next((f) =>
      f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) === 0
    );
    await this.write(encodeSettingsAck());
    return theirs;
  }

  /** A header block for `fields`, with this server's HPACK encoder. */
  headersFrame(
    streamId: number,
    fields: [string, string][],
    endStream = false,
  ): Uint8Array {
    return encodeHeaders(
      streamId,
      this.#encoder.encode(fields),
      endStream,
      16384,
    );
  }

  /** Writes a response head (`:status` first). */
  respond(
    streamId: number,
    status: number,
    headers: [string, string][] = [],
    endStream = false,
  ): Promise<void> {
    return this.write(
      this.headersFrame(
        streamId,
        [[":status", String(status)], ...headers],
        endStream,
      ),
    );
  }

  /** Writes DATA frames of at most 16384 bytes. */
  data(streamId: number, bytes: Uint8Array, endStream = false): Promise<void> {
    const frames: Uint8Array[] = [];
    let offset = 0;
    do {
      const n = Math.min(16384, bytes.byteLength - offset);
      const last = offset + n === bytes.byteLength;
      frames.push(
        encodeData(
          streamId,
          bytes.subarray(offset, offset + n),
          last && endStream,
        ),
      );
      offset += n;
    } while (offset < bytes.byteLength);
    return this.write(...frames);
  }

  /** Writes a whole response: head, body, END_STREAM. */
  async reply(
    streamId: number,
    status: number,
    body: string | Uint8Array,
    headers: [string, string][] = [],
  ): Promise<void> {
    const bytes = typeof body === "string"
      ? new TextEncoder().encode(body)
      : body;
    await this.write(
      this.headersFrame(
        streamId,
        [[":status", String(status)], ...headers],
        bytes.byteLength === 0,
      ),
      ...(bytes.byteLength === 0 ? [] : [encodeData(streamId, bytes, true)]),
    );
  }

  rst(streamId: number, code: number): Promise<void> {
    return this.write(encodeRstStream(streamId, code));
  }

  goaway(lastStreamId: number, code: number, debug = ""): Promise<void> {
    return this.write(
      encodeGoaway(lastStreamId, code, new TextEncoder().encode(debug)),
    );
  }

  ping(data: Uint8Array, ack = false): Promise<void> {
    return this.write(encodePing(data, ack));
  }

  windowUpdate(streamId: number, increment: number): Promise<void> {
    return this.write(encodeWindowUpdate(streamId, increment));
  }

  /** Resolves when the client has closed the connection (or after `ms`). */
  async waitEnd(ms = 5000): Promise<boolean> {
    this.start();
    const started = Date.now();
    while (!this.ended && Date.now() - started < ms) {
      let wake!: () => void;
      const waiter = () => wake();
      const timer = setTimeout(() => wake(), 50);
      await new Promise<void>((resolve) => {
        wake = resolve;
        this.#waiters.add(waiter);
      });
      clearTimeout(timer);
      this.#waiters.delete(waiter);
    }
    return this.ended;
  }

  /** Closes this side. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Waits for the read loop to stop (after close or EOF). */
  async finished(): Promise<void> {
    await this.#reading;
  }
}

/** A scripted HTTP/2 server. */
export interface H2Peer extends AsyncDisposable {
  port: number;
  origin: string;
  /** Connections accepted so far. */
  conns: PeerConn[];
  close(): Promise<void>;
}

/**
 * Starts a scripted h2c server on 127.0.0.1. `handler` scripts each
 * connection; the connection is closed when it returns (or throws).
 */
export function h2Peer(handler: (peer: PeerConn) => Promise<void>): H2Peer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const conns: PeerConn[] = [];
  const tasks: Promise<void>[] = [];
  let closing = false;
  const accepting = (async () => {
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      (conn as Deno.TcpConn).setNoDelay(true);
      const peer = new PeerConn(conn);
      conns.push(peer);
      peer.start();
      tasks.push((async () => {
        try {
          await handler(peer);
        } catch {
          // The test asserts on what it needs.
        } finally {
          peer.close();
          await peer.finished();
        }
      })());
    }
  })();
  const server: H2Peer = {
    port,
    origin: `http://127.0.0.1:${port}`,
    conns,
    async close() {
      closing = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      await accepting;
      for (const peer of conns) peer.close();
      await Promise.allSettled(tasks);
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}

// ---------------------------------------------------------------------------
// The session side

/** Records what a session tells its host. */
export class FakeHost implements SessionHost {
  /** `released` calls so far. */
  releasedCount = 0;
  /** `goingAway` calls so far. */
  goingAwayCount = 0;
  /** The reason `closed` was called with, or null. */
  closedReason: CloseReason | null = null;
  /** Called on `released`, e.g. to send the next request. */
  onReleased: ((session: Http2Session) => void) | null = null;
  #onClosed: (() => void)[] = [];

  released(session: Http2Session): void {
    this.releasedCount++;
    this.onReleased?.(session);
  }

  goingAway(): void {
    this.goingAwayCount++;
  }

  closed(_session: Http2Session, reason: CloseReason): void {
    this.closedReason = reason;
    for (const resolve of this.#onClosed) resolve();
    this.#onClosed = [];
  }

  /** Resolves when `closed` has been called. */
  whenClosed(): Promise<void> {
    if (this.closedReason !== null) return Promise.resolve();
    return new Promise((resolve) => this.#onClosed.push(resolve));
  }
}

/** Settings for a session under test. */
export function sessionSettings(
  origin: string,
  overrides: Partial<SessionSettings> = {},
): SessionSettings {
  return {
    origin,
    scheme: origin.startsWith("https:") ? "https" : "http",
    maxConcurrentStreams: 100,
    maxHeaderListSize: 64 * 1024,
    readAhead: 64 * 1024,
    pingAfterIdle: Infinity,
    ...overrides,
  };
}

/** How a test request is made. */
export interface TestRequestInit {
  method?: string;
  headers?: [string, string][];
  body?: Uint8Array | ReadableStream<Uint8Array>;
  contentLength?: number | null;
  host?: string;
  signal?: AbortSignal;
  headersTimeout?: number;
  bodyTimeout?: number;
}

/** A DispatchRequest and its Exchange, as the pool would make them. */
export function makeExchange(
  url: string,
  init: TestRequestInit = {},
): Exchange {
  const { method = "GET", headers = [], body } = init;
  const bytes = body instanceof Uint8Array ? body : null;
  const stream = body instanceof ReadableStream ? body : null;
  const request: DispatchRequest = {
    method,
    url: new URL(url),
    fields: headers,
    host: init.host,
    body: {
      bytes,
      stream,
      contentType: null,
      replayable: stream === null,
    },
    contentLength: init.contentLength !== undefined
      ? init.contentLength
      : bytes !== null
      ? bytes.byteLength
      : null,
    plain: headers.length === 0,
  };
  return new Exchange(
    request,
    stream === null,
    init.signal,
    init.headersTimeout ?? 10_000,
    init.bodyTimeout ?? 10_000,
    -1,
  );
}

/** Reads a result's body whole. */
export async function bodyBytes(result: DispatchResult): Promise<Uint8Array> {
  const body = result.body;
  if (body === null) return new Uint8Array(0);
  if (body instanceof Uint8Array) return body;
  return new Uint8Array(await new Response(body).arrayBuffer());
}

/** Reads a result's body as text. */
export async function bodyText(result: DispatchResult): Promise<string> {
  return new TextDecoder().decode(await bodyBytes(result));
}
