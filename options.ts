// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The options of a client ({@linkcode ClientOptions}) and how they are
 * checked and resolved into the settings each layer uses. Every option is
 * checked here, before any I/O, in one voice (see `_validate.ts`).
 *
 * @module
 */

import type { ConnectionSettings } from "./_connection.ts";
import { DEFAULT_PARSER_LIMITS } from "./_http1.ts";
import {
  checkCount,
  checkDuration,
  checkInteger,
  checkObject,
  invalidOption,
} from "./_validate.ts";
import type { PoolSettings, TlsOptions } from "./pool.ts";
import { type RetryOptions, RetryPolicy } from "./retry.ts";

/**
 * Options of {@linkcode https://jsr.io/@pooled/fetch/doc/~/createClient | createClient}.
 * Every one is optional and checked before any I/O: a wrong type throws a
 * `TypeError`, a value out of range a `RangeError`.
 *
 * @example A client for a slow API behind a small pool
 * ```ts
 * import { createClient, type ClientOptions } from "@pooled/fetch";
 *
 * const options: ClientOptions = {
 *   maxConnectionsPerOrigin: 2,
 *   headersTimeout: 120_000,
 *   retry: { statusCodes: [429, 503] },
 * };
 * await using client = createClient(options);
 * ```
 */
export interface ClientOptions {
  /**
   * Connections open or opening to one origin at most (RFC 9112 §9.4: a
   * client ought to limit them). Requests beyond wait in a FIFO queue. Six is
   * what browsers allow per host: enough to hide one slow response, few
   * enough that no server sees a burst of handshakes from one client; with
   * keep-alive and pipelining, more rarely helps.
   *
   * @default {6}
   */
  maxConnectionsPerOrigin?: number;
  /**
   * Requests in flight per connection. 1 keeps connections alive without
   * pipelining; N > 1 writes up to N idempotent requests back to back on one
   * connection and reads the responses in order.
   *
   * @default {1}
   */
  pipelining?: number;
  /**
   * Milliseconds an idle connection is kept open for reuse. Below the 5 s
   * that common servers (nginx's 75 s aside; Node's `http` and many proxies
   * use 5 s) keep one, so the client closes first. A server's shorter
   * `Keep-Alive: timeout` wins, less a 1 s margin.
   *
   * @default {4000}
   */
  idleTimeout?: number;
  /**
   * Milliseconds to open a connection, TLS handshake included.
   *
   * @default {10000}
   */
  connectTimeout?: number;
  /**
   * Milliseconds to wait for a response head once the request is written.
   *
   * @default {30000}
   */
  headersTimeout?: number;
  /**
   * Milliseconds a response body may make no progress: no bytes from the
   * server while the caller reads, or no read by the caller while the
   * connection is held for it. Then the connection is closed and the body
   * errors with a `TimeoutError`.
   *
   * @default {30000}
   */
  bodyTimeout?: number;
  /**
   * Bytes a response head (status line and header fields) may take.
   *
   * @default {65536}
   */
  maxHeaderSize?: number;
  /**
   * Header fields a response head may have.
   *
   * @default {256}
   */
  maxHeaderCount?: number;
  /**
   * Bytes of a chunk-size line (size and extensions) in a chunked body.
   *
   * @default {4096}
   */
  maxChunkLineLength?: number;
  /**
   * Bytes of trailer fields after a chunked body.
   *
   * @default {16384}
   */
  maxTrailerSize?: number;
  /**
   * Bytes a Content-Encoding may decode to (a guard against decompression
   * bombs); more errors the body. `Infinity` turns the guard off.
   *
   * @default {1073741824} (1 GiB)
   */
  maxDecodedBodySize?: number;
  /**
   * Bytes of a response body read ahead of the caller. A body that arrives
   * whole within it gives its connection back without being read; a larger
   * one holds the connection until read, cancelled or `bodyTimeout`.
   *
   * @default {65536}
   */
  readAhead?: number;
  /**
   * Requests allowed to wait for a connection per origin; one more fails at
   * once with a `TypeError`.
   *
   * @default {Infinity}
   */
  maxQueue?: number;
  /**
   * Milliseconds a request may wait for a connection before it fails with a
   * `TypeError`.
   *
   * @default {Infinity}
   */
  queueTimeout?: number;
  /**
   * Requests one connection carries before it is closed. A server's
   * `Keep-Alive: max` may lower it.
   *
   * @default {Infinity}
   */
  maxRequestsPerConnection?: number;
  /**
   * The retry policy (see {@linkcode RetryOptions}), or `false` to send
   * nothing again that the server may have seen: only a request that was
   * never written is still sent again (up to 3 attempts).
   *
   * @default {{}} (3 attempts for replayable requests; no status retries)
   */
  retry?: false | RetryOptions;
  /** TLS settings for https origins. */
  tls?: TlsOptions;
}

/** What a client works with, resolved from its options. */
export interface ClientSettings {
  /** Settings shared by every pool of the client (`onEmpty` is the client's). */
  pool: Omit<PoolSettings, "onEmpty">;
  /** The retry policy. */
  policy: RetryPolicy;
  /** Milliseconds to wait for a response head once written. */
  headersTimeout: number;
  /** Milliseconds a response body may make no progress. */
  bodyTimeout: number;
  /** Decoded bytes a Content-Encoding may produce. */
  maxDecodedBodySize: number;
}

/**
 * Checks `options` and applies the defaults.
 *
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} An option is out of range.
 */
export function resolveOptions(options: ClientOptions = {}): ClientSettings {
  checkObject("options", options);
  const {
    maxConnectionsPerOrigin = 6,
    pipelining = 1,
    idleTimeout = 4000,
    connectTimeout = 10_000,
    headersTimeout = 30_000,
    bodyTimeout = 30_000,
    maxHeaderSize = DEFAULT_PARSER_LIMITS.maxHeaderSize,
    maxHeaderCount = DEFAULT_PARSER_LIMITS.maxHeaderCount,
    maxChunkLineLength = DEFAULT_PARSER_LIMITS.maxChunkLineLength,
    maxTrailerSize = DEFAULT_PARSER_LIMITS.maxTrailerSize,
    maxDecodedBodySize = 1024 * 1024 * 1024,
    readAhead = 64 * 1024,
    maxQueue = Infinity,
    queueTimeout = Infinity,
    maxRequestsPerConnection = Infinity,
    retry = {},
    tls = {},
  } = options;
  checkInteger("maxConnectionsPerOrigin", maxConnectionsPerOrigin, 1);
  checkInteger("pipelining", pipelining, 1);
  checkDuration("idleTimeout", idleTimeout);
  checkDuration("connectTimeout", connectTimeout, { allowInfinity: true });
  checkDuration("headersTimeout", headersTimeout, { allowInfinity: true });
  checkDuration("bodyTimeout", bodyTimeout, { allowInfinity: true });
  checkInteger("maxHeaderSize", maxHeaderSize, 64);
  checkInteger("maxHeaderCount", maxHeaderCount, 1);
  checkInteger("maxChunkLineLength", maxChunkLineLength, 16);
  checkInteger("maxTrailerSize", maxTrailerSize, 0);
  checkCount("maxDecodedBodySize", maxDecodedBodySize, 1);
  checkInteger("readAhead", readAhead, 1);
  checkCount("maxQueue", maxQueue, 0);
  checkDuration("queueTimeout", queueTimeout, { allowInfinity: true });
  checkCount("maxRequestsPerConnection", maxRequestsPerConnection, 1);
  const policy = new RetryPolicy(retry);
  const connection: Omit<ConnectionSettings, "origin"> = {
    limits: {
      maxHeaderSize,
      maxHeaderCount,
      maxChunkLineLength,
      maxTrailerSize,
    },
    readAhead,
    maxRequests: maxRequestsPerConnection,
  };
  return {
    pool: {
      maxConnections: maxConnectionsPerOrigin,
      pipelining,
      idleTimeout,
      connectTimeout,
      maxQueue,
      queueTimeout,
      pipelinePenalty: 60_000,
      tls: checkTls(tls),
      connection,
    },
    policy,
    headersTimeout,
    bodyTimeout,
    maxDecodedBodySize,
  };
}

function checkTls(tls: unknown): TlsOptions {
  const { caCerts, cert, key } = checkObject<TlsOptions>("tls", tls);
  if (
    caCerts !== undefined &&
    (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))
  ) {
    invalidOption("tls.caCerts", "an array of PEM strings", caCerts);
  }
  if (cert !== undefined && typeof cert !== "string") {
    invalidOption("tls.cert", "a PEM string", cert);
  }
  if (key !== undefined && typeof key !== "string") {
    invalidOption("tls.key", "a PEM string", key);
  }
  if ((cert === undefined) !== (key === undefined)) {
    invalidOption(
      cert === undefined ? "tls.cert" : "tls.key",
      "set together with " + (cert === undefined ? "'tls.key'" : "'tls.cert'"),
      cert === undefined ? cert : key,
    );
  }
  return { caCerts, cert, key };
}
