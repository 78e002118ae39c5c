// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * One attempt of a request inside the transport: made by the pool from a
 * {@linkcode DispatchRequest}, queued there, then carried by one connection,
 * which settles it with the response or a failure. Only the pool and the
 * connection touch it; the fetch layer sees the promise alone.
 *
 * Also here: how a failure is classified (`stage`, `code`) from how far the
 * exchange got and what ended it.
 *
 * @module
 */

import type { DispatchRequest, DispatchResult } from "./_dispatch.ts";
import type { ChunkedDecoder, ResponseHead } from "./_http1.ts";
import {
  FetchError,
  type FetchErrorCode,
  type FetchErrorStage,
  HttpParseError,
} from "./errors.ts";

/** Where an exchange is in its life. */
export const enum Phase {
  /** Waiting in the pool's queue. */
  Queued,
  /** Written (or being written); waiting for the response head. */
  Head,
  /** Gathering a small body whole before handing it over. */
  Buffer,
  /** Handed over; the body streams to the caller. */
  Stream,
  /** Finished: the body ended, or the exchange failed. */
  Done,
}

const EMPTY = new Uint8Array(0);

/** What any protocol's response head tells the fetch layer. */
export interface ResponseMeta {
  /** The final status. */
  status: number;
  /** The reason phrase, or `""`. */
  statusText: string;
  /** Header fields in the order received. */
  headers: [string, string][];
  /** The `Content-Encoding` field value, if any. */
  contentEncoding: string | undefined;
}

let lastConnectionId = 0;

/**
 * A new connection id: increasing and process-wide, shared by HTTP/1.1
 * connections and HTTP/2 sessions, so that "a connection opened after this
 * one" means the same for both (see {@linkcode Exchange.freshAfter}).
 */
export function nextConnectionId(): number {
  return ++lastConnectionId;
}

/** The id of the connection opened last. */
export function lastConnectionIdGiven(): number {
  return lastConnectionId;
}

/** Settles an exchange that the pool or a connection gives up on. */
export type AbortHandler = () => void;

/**
 * One attempt of a request. The pool owns it while it is queued (and sets
 * `onAbort` to take it out of the queue); the connection that takes it owns
 * it from then on (and replaces `onAbort`).
 */
export class Exchange {
  /** The request, as the fetch layer described it. */
  readonly request: DispatchRequest;
  /** The request method. */
  readonly method: string;
  /**
   * The HTTP/1.1 bytes of the head, with the body when it was in hand; set
   * by the pool when an HTTP/1.1 connection takes the exchange.
   */
  bytes: Uint8Array = EMPTY;
  /** A body to send after `bytes`, or `null`. */
  readonly stream: ReadableStream<Uint8Array> | null;
  /**
   * The declared length of `stream`, held to exactly; `null` sends it
   * chunked.
   */
  readonly streamLength: number | null;
  /** Whether it may be written behind unanswered requests. */
  readonly pipelinable: boolean;
  /** The caller's signal. */
  readonly signal: AbortSignal | undefined;
  /** Milliseconds to wait for the response head once written. */
  readonly headersTimeout: number;
  /** Milliseconds the body may make no progress. */
  readonly bodyTimeout: number;
  /**
   * Only a connection with a larger id may take it (`-1`: any): the last
   * attempt met a dead kept-alive connection, whose siblings are suspect.
   */
  readonly freshAfter: number;
  /** Settles with the response, or a failure. */
  readonly promise: Promise<DispatchResult>;
  /** Where the exchange is. */
  phase: Phase = Phase.Queued;
  /** Whether any byte of it was written. */
  written = false;
  /** Whether any byte of its response arrived. */
  responded = false;
  /** Whether the connection had carried a request before. */
  reused = false;
  /** Requests in flight ahead of it when it was written. */
  ahead = 0;
  /** When it was queued (`Date.now()`), 0 if never. */
  queuedAt = 0;
  /** Milliseconds it waited in the queue. */
  queueWait = 0;
  /** Called when the caller's signal aborts; set by its current owner. */
  onAbort: AbortHandler | null = null;
  /** The response head, once parsed. */
  head: ResponseHead | null = null;
  /** A small body being gathered whole. */
  bodyBuf: Uint8Array | null = null;
  /** Bytes of `bodyBuf` filled. */
  filled = 0;
  /** Body bytes still to come, for a Content-Length body being streamed. */
  remaining = 0;
  /** The chunked decoder of a chunked body being streamed. */
  decoder: ChunkedDecoder | null = null;
  /** The controller of the body stream handed over. */
  controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  #resolve!: (result: DispatchResult) => void;
  #reject!: (error: unknown) => void;
  #abortListener: (() => void) | null = null;

  /** Creates an exchange for one attempt of a request. */
  constructor(
    request: DispatchRequest,
    pipelinable: boolean,
    signal: AbortSignal | undefined,
    headersTimeout: number,
    bodyTimeout: number,
    freshAfter: number,
  ) {
    this.request = request;
    this.method = request.method;
    this.stream = request.body.stream;
    this.streamLength = this.stream === null ? null : request.contentLength;
    this.pipelinable = pipelinable;
    this.signal = signal;
    this.headersTimeout = headersTimeout;
    this.bodyTimeout = bodyTimeout;
    this.freshAfter = freshAfter;
    this.promise = new Promise<DispatchResult>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    if (signal !== undefined) {
      this.#abortListener = () => this.onAbort?.();
      signal.addEventListener("abort", this.#abortListener, { once: true });
    }
  }

  /** Whether the response was handed over (its body may still stream). */
  get delivered(): boolean {
    return this.phase === Phase.Stream || this.phase === Phase.Done;
  }

  /** Whether the exchange ended, in a response body read whole or an error. */
  get done(): boolean {
    return this.phase === Phase.Done;
  }

  /** Hands over the response: its head, protocol version and body. */
  deliver(
    head: ResponseMeta,
    protocol: string,
    body: DispatchResult["body"],
  ): void {
    this.#resolve({
      status: head.status,
      statusText: head.statusText,
      headers: head.headers,
      contentEncoding: head.contentEncoding,
      body,
      reused: this.reused,
      protocol,
      pipelinedAhead: this.ahead,
      queueWait: this.queueWait,
    });
  }

  /**
   * Ends the exchange with `error`: rejects the promise, or errors the body
   * stream when the response was already handed over.
   */
  fail(error: unknown): void {
    if (this.phase === Phase.Done) return;
    const delivered = this.phase === Phase.Stream;
    this.phase = Phase.Done;
    this.#cleanup();
    if (delivered) {
      try {
        this.controller?.error(error);
      } catch {
        // The stream was already closed or cancelled.
      }
    } else {
      this.#reject(error);
    }
  }

  /** Marks the exchange finished and drops the abort listener. */
  finish(): void {
    this.phase = Phase.Done;
    this.#cleanup();
  }

  #cleanup(): void {
    if (this.#abortListener !== null) {
      this.signal!.removeEventListener("abort", this.#abortListener);
      this.#abortListener = null;
      this.onAbort = null;
    }
  }
}

/**
 * The cause a connection is shut down with when its client is destroyed
 * (`close({ signal })` aborted): in-flight requests fail with
 * `CLIENT_CLOSED`.
 */
export class ClientDestroyed extends Error {
  /** Creates the marker. */
  constructor() {
    super("the client was destroyed while the request was in flight");
    this.name = "ClientDestroyed";
  }
}

/**
 * The failure of `exchange`, which was `first` in its connection's pipeline
 * (or not), when the connection ended because of `cause`. The stage says how
 * far the exchange got; requests pipelined behind the first count as reused,
 * since they face the same race as a request on a kept-alive connection.
 * `code` is given when the connection knows better than the cause (a
 * timeout, a TLS alert); else it is read from the cause.
 */
export function exchangeFailure(
  exchange: Exchange,
  first: boolean,
  origin: string,
  cause: unknown,
  code: FetchErrorCode = failureCode(cause),
): FetchError {
  let stage: FetchErrorStage;
  if (exchange.delivered) stage = "body";
  else if (first && exchange.responded) stage = "response";
  else if (exchange.written) stage = "sent";
  else stage = "unsent";
  return new FetchError(describe(cause), {
    stage,
    code,
    origin,
    // A timeout is no keep-alive race: retried with backoff, if at all.
    reused: (exchange.reused || !first) && code !== "HEADERS_TIMEOUT" &&
      code !== "BODY_TIMEOUT",
    cause,
  });
}

function failureCode(cause: unknown): FetchErrorCode {
  if (cause instanceof HttpParseError) return "MALFORMED_RESPONSE";
  if (cause instanceof ClientDestroyed) return "CLIENT_CLOSED";
  return "CONNECTION_CLOSED";
}

/** Says what a connection failure was, for messages. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error instanceof HttpParseError) {
      return `malformed response: ${error.message}`;
    }
    if (error instanceof Deno.errors.ConnectionReset) {
      return "connection reset by the server";
    }
    if (error instanceof Deno.errors.BrokenPipe) {
      return "connection closed by the server while writing the request";
    }
    return error.message;
  }
  return String(error);
}
