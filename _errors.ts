// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Internal error types shared by the codec, the connection, the pool, the
 * retry policy and the client. Not exported from `mod.ts`: users see these as
 * `TypeError` (network failures) whose `cause` says what happened.
 *
 * @module
 */

/**
 * Where in its life a request failed. The retry policy reads it to decide
 * whether the request may be sent again (see `retry.ts`).
 *
 * - `"connect"`: opening the connection failed; nothing was written.
 * - `"unsent"`: the connection was found dead before any byte of the request
 *   was written (a write failed outright, or the socket had closed).
 * - `"sent"`: some or all of the request was written and no byte of a
 *   response arrived (EOF, reset, or a timeout while waiting).
 * - `"response"`: response bytes arrived, but the `Response` had not yet been
 *   handed to the caller (malformed head, reset mid-head, headers timeout).
 * - `"body"`: the `Response` was handed to the caller and its body then
 *   failed. Never retried.
 */
export type FailureStage = "connect" | "unsent" | "sent" | "response" | "body";

/** Options for {@linkcode RequestFailure}. */
export interface RequestFailureInit {
  /** Where the request failed. */
  stage: FailureStage;
  /** The origin (`scheme://host:port`) the request was for. */
  origin: string;
  /**
   * Whether the connection had already carried a request before this one (a
   * kept-alive connection, or a request pipelined behind another).
   */
  reused: boolean;
  /** The underlying failure. */
  cause?: unknown;
}

/**
 * A network-level failure of one attempt of a request. It is a `TypeError`, as
 * the Fetch standard's "network error" is, so code written for the built-in
 * `fetch` keeps working; `stage` and `reused` tell the retry policy what
 * happened to the request.
 */
export class RequestFailure extends TypeError {
  /** Where the request failed. */
  readonly stage: FailureStage;
  /** The origin the request was for. */
  readonly origin: string;
  /** Whether the connection had carried a request before. */
  readonly reused: boolean;

  /** Creates a failure; `message` should say what happened and to which origin. */
  constructor(message: string, init: RequestFailureInit) {
    super(message, { cause: init.cause });
    this.name = "TypeError";
    this.stage = init.stage;
    this.origin = init.origin;
    this.reused = init.reused;
  }
}

/**
 * The bytes a server sent are not a valid HTTP/1.1 response (RFC 9112), or
 * exceed one of the parser's limits. Carried as the `cause` of a
 * {@linkcode RequestFailure}.
 */
export class HttpParseError extends SyntaxError {
  /** Creates a parse error whose message says which rule was broken. */
  constructor(message: string) {
    super(message);
    this.name = "HttpParseError";
  }
}
