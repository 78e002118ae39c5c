// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The errors pooled-fetch raises. A network failure is a
 * {@linkcode FetchError}: a `TypeError`, as the Fetch standard's "network
 * error" is, so code written for the built-in `fetch` (ky, ofetch, the SDKs)
 * keeps recognising it, with the fields to tell what happened.
 *
 * @module
 */

/**
 * Where in its life a request failed.
 *
 * - `"connect"`: opening the connection failed (DNS, TCP, TLS, a proxy);
 *   nothing of the request was written.
 * - `"unsent"`: the request was never written: the connection was found dead
 *   before any byte went out, or the request never left the queue.
 * - `"sent"`: some or all of the request was written and no byte of a
 *   response arrived (EOF, reset, or a timeout while waiting).
 * - `"response"`: response bytes arrived, but the `Response` had not yet been
 *   handed over (malformed head, connection closed mid-head).
 * - `"body"`: the `Response` was handed over and its body then failed.
 */
export type FetchErrorStage =
  | "connect"
  | "unsent"
  | "sent"
  | "response"
  | "body";

/**
 * What went wrong, for code that branches on it.
 *
 * - `"CONNECT_FAILED"`: the connection could not be opened (refused,
 *   unreachable, name not resolved).
 * - `"CONNECT_TIMEOUT"`: opening it took longer than `connectTimeout`.
 * - `"TLS_FAILED"`: the TLS handshake failed, e.g. an untrusted certificate
 *   or one for another name. Never retried.
 * - `"PROXY_FAILED"`: the proxy refused the tunnel or the SOCKS request, or
 *   could not reach the origin.
 * - `"PROXY_AUTH"`: the proxy wants credentials, or refused the ones given.
 *   Never retried.
 * - `"CONNECTION_CLOSED"`: the server closed or reset the connection before
 *   the exchange was complete.
 * - `"HEADERS_TIMEOUT"`: no response head within `headersTimeout`.
 * - `"BODY_TIMEOUT"`: the body made no progress within `bodyTimeout`.
 * - `"MALFORMED_RESPONSE"`: the server broke the protocol (an invalid status
 *   line, conflicting `Content-Length`, a head over `maxHeaderSize`, an
 *   HTTP/2 protocol error). Never retried.
 * - `"STREAM_REFUSED"`: an HTTP/2 server refused the stream, or said in a
 *   `GOAWAY` that it never processed it.
 * - `"REQUEST_BODY"`: the request body failed: its stream errored, or it was
 *   shorter or longer than its declared `Content-Length`.
 * - `"QUEUE_FULL"`: `maxQueue` requests were already waiting.
 * - `"QUEUE_TIMEOUT"`: the request waited longer than `queueTimeout`.
 * - `"CLIENT_CLOSED"`: the client was closed before the request was sent,
 *   or destroyed while it was in flight.
 */
export type FetchErrorCode =
  | "CONNECT_FAILED"
  | "CONNECT_TIMEOUT"
  | "TLS_FAILED"
  | "PROXY_FAILED"
  | "PROXY_AUTH"
  | "CONNECTION_CLOSED"
  | "HEADERS_TIMEOUT"
  | "BODY_TIMEOUT"
  | "MALFORMED_RESPONSE"
  | "STREAM_REFUSED"
  | "REQUEST_BODY"
  | "QUEUE_FULL"
  | "QUEUE_TIMEOUT"
  | "CLIENT_CLOSED";

/** The fields of a {@linkcode FetchError}; `message` and `cause` aside. */
export interface FetchErrorInit {
  /** Where the request failed. */
  stage: FetchErrorStage;
  /** What went wrong. */
  code: FetchErrorCode;
  /** The origin (`scheme://host:port`) the request was for. */
  origin: string;
  /**
   * Whether the connection had carried a request before this one (a
   * kept-alive connection, or a request pipelined behind another).
   *
   * @default {false}
   */
  reused?: boolean;
  /**
   * Attempts made, the failed one included.
   *
   * @default {1}
   */
  attempts?: number;
  /** The underlying failure. */
  cause?: unknown;
}

/**
 * A request failed on the network, or the server broke the protocol. It is a
 * `TypeError` (`name` is `"TypeError"`), as a network error of the built-in
 * `fetch` is; its fields say where the request failed, what happened, and
 * whether a retry could have helped. The message always starts with
 * `Fetch to <origin> failed:`, and the origin never carries credentials.
 *
 * @example Tell a refused connection from a timeout
 * ```ts
 * import { createClient, FetchError } from "@pooled/fetch";
 *
 * await using client = createClient({ retry: false });
 * try {
 *   await client.fetch("http://127.0.0.1:9/"); // nothing listens on port 9
 * } catch (error) {
 *   if (error instanceof FetchError) {
 *     console.log(error.stage, error.code); // connect CONNECT_FAILED
 *     console.log(error instanceof TypeError); // true
 *   }
 * }
 * ```
 */
export class FetchError extends TypeError {
  /** Where the request failed. */
  readonly stage: FetchErrorStage;
  /** What went wrong. */
  readonly code: FetchErrorCode;
  /** The origin the request was for (`scheme://host:port`). */
  readonly origin: string;
  /** Whether the connection had carried a request before this one. */
  readonly reused: boolean;
  /** Attempts made, the failed one included. */
  readonly attempts: number;

  /**
   * Creates the error. `message` should say what happened; it is prefixed
   * with `Fetch to <origin> failed: ` unless it already starts with it.
   *
   * @param message What happened.
   * @param init The error's fields.
   */
  constructor(message: string, init: FetchErrorInit) {
    const prefix = `Fetch to ${init.origin} failed: `;
    super(message.startsWith(prefix) ? message : prefix + message, {
      cause: init.cause,
    });
    this.name = "TypeError";
    this.stage = init.stage;
    this.code = init.code;
    this.origin = init.origin;
    this.reused = init.reused ?? false;
    this.attempts = init.attempts ?? 1;
  }
}

/**
 * The bytes a server sent are not a valid HTTP/1.1 response (RFC 9112), or
 * exceed one of the parser's limits. Carried as the `cause` of a
 * {@linkcode FetchError} with code `"MALFORMED_RESPONSE"`.
 */
export class HttpParseError extends SyntaxError {
  /** Creates a parse error whose message says which rule was broken. */
  constructor(message: string) {
    super(message);
    this.name = "HttpParseError";
  }
}

/**
 * An HTTP/2 peer broke RFC 9113 or RFC 7541 (HPACK), or exceeded one of the
 * codec's limits. `code` is the RFC 9113 §7 error code to send: in a `GOAWAY`
 * when `streamId` is 0 (a connection error, §5.4.1), in a `RST_STREAM` on
 * `streamId` otherwise (a stream error, §5.4.2). Carried as the `cause` of a
 * {@linkcode FetchError} with code `"MALFORMED_RESPONSE"`.
 */
export class Http2ProtocolError extends SyntaxError {
  /** The RFC 9113 §7 error code, e.g. 1 for `PROTOCOL_ERROR`. */
  readonly code: number;
  /** The stream the error is confined to, or 0 for a connection error. */
  readonly streamId: number;

  /**
   * Creates a protocol error whose message says which rule was broken.
   *
   * @param message Which rule was broken.
   * @param code The RFC 9113 §7 error code.
   * @param streamId The stream in error, or 0 for a connection error.
   */
  constructor(message: string, code: number, streamId = 0) {
    super(message);
    this.name = "Http2ProtocolError";
    this.code = code;
    this.streamId = streamId;
  }
}
