// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The seam between the fetch layer and the transport, in the manner of Go's
 * `RoundTripper` and undici's `Dispatcher`: the fetch layer describes a
 * request, a dispatcher (the per-origin pool) sends it once and resolves to
 * the response head and body. Everything below (connections, exchanges,
 * sockets, protocol framing) belongs to the dispatcher; everything above
 * (retries, redirects, decoding, `Response`) wraps this one interface and can
 * be tested against a fake of it.
 *
 * @module
 */

import type { RequestBody } from "./_body.ts";

/** A request, as the fetch layer hands it to the transport. */
export interface DispatchRequest {
  /** The method, as it is sent. */
  readonly method: string;
  /** The absolute URL; its origin is the dispatcher's. */
  readonly url: URL;
  /**
   * The header fields to send, the caller's first, then the defaults. Never
   * `Host`, `Content-Length` or `Transfer-Encoding`: framing is the
   * transport's, from `host`, `contentLength` and `body`.
   */
  readonly fields: readonly (readonly [string, string])[];
  /** A `Host` the caller set, sent instead of the URL's host. */
  readonly host: string | undefined;
  /** The body: bytes in hand, a stream, or neither. */
  readonly body: RequestBody;
  /**
   * The body's length to declare: the bytes' length, a length the caller
   * declared for a stream (held to exactly), `0` for a POST, PUT or PATCH
   * without body, or `null` for none (a stream is then sent chunked).
   */
  readonly contentLength: number | null;
  /**
   * Whether `fields` are the defaults alone: the encoded request then
   * depends only on the method and URL, and the transport may cache it.
   */
  readonly plain: boolean;
}

/** How to dispatch one attempt of a request. */
export interface DispatchOptions {
  /** Aborts the attempt at any stage; it rejects with the signal's reason. */
  readonly signal: AbortSignal | undefined;
  /**
   * Whether the request may be written behind unanswered ones on the same
   * connection (an idempotent method and a body in hand).
   */
  readonly pipelinable: boolean;
  /**
   * Whether the attempt must go on a connection opened after this call, not
   * on one kept alive from before (the last attempt met a dead one).
   */
  readonly freshConnection: boolean;
  /** Milliseconds to wait for the response head once the request is written. */
  readonly headersTimeout: number;
  /** Milliseconds the response body may make no progress. */
  readonly bodyTimeout: number;
}

/** The response to one dispatched attempt. */
export interface DispatchResult {
  /** The final (non-1xx) status. */
  readonly status: number;
  /** The reason phrase (HTTP/1.1), or `""`. */
  readonly statusText: string;
  /** Header fields in the order received. */
  readonly headers: [string, string][];
  /** The `Content-Encoding` field value, if any. */
  readonly contentEncoding: string | undefined;
  /**
   * The body: bytes when it arrived whole (the connection is free already),
   * a stream while it is still arriving, `null` when there is none.
   */
  readonly body: Uint8Array | ReadableStream<Uint8Array> | null;
  /** Whether the connection had carried a request before this one. */
  readonly reused: boolean;
  /** The protocol version the response came in: `"1.1"` (or `"1.0"`), `"2"`. */
  readonly protocol: string;
  /** Requests that were in flight ahead of this one on its connection. */
  readonly pipelinedAhead: number;
  /** Milliseconds the request waited for a connection. */
  readonly queueWait: number;
}

/** Sends requests to one origin. */
export interface Dispatcher {
  /**
   * Sends one attempt of `request`.
   *
   * @returns The response head and body.
   * @throws {FetchError} The attempt failed; its `stage` says how far it got.
   * @throws The signal's reason, unchanged, when the signal aborts.
   */
  dispatch(
    request: DispatchRequest,
    options: DispatchOptions,
  ): Promise<DispatchResult>;
}
