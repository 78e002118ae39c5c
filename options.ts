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
  checkBoolean,
  checkCount,
  checkDuration,
  checkInteger,
  checkObject,
  invalidOption,
} from "./_validate.ts";
import { parseTransportOptions } from "./_dial.ts";
import type { PoolSettings } from "./pool.ts";
import { type RetryOptions, RetryPolicy } from "./retry.ts";
import { createTelemetry, type Telemetry } from "./_telemetry.ts";

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
   * Long enough for a slow API (a non-streaming LLM completion can take
   * minutes before its head); a request can set its own
   * ({@linkcode FetchInit.headersTimeout}).
   *
   * @default {300000} (5 minutes, as undici's)
   */
  headersTimeout?: number;
  /**
   * Milliseconds a response body may make no progress: no bytes from the
   * server while the caller reads, or no read by the caller while the
   * connection is held for it. Then the connection is closed and the body
   * errors with a {@linkcode FetchError} (`BODY_TIMEOUT`). Long enough for a
   * quiet server-sent-events stream; a request can set its own.
   *
   * @default {300000} (5 minutes, as undici's)
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
  /** TLS settings for https origins (and HTTPS proxies). */
  tls?: TlsOptions;
  /**
   * How to reach origins, in the shape of Deno's own
   * `Deno.CreateHttpClientOptions["proxy"]`:
   * - `{ url, basicAuth? }`: an `http://`, `https://`, `socks5://` (the name
   *   is resolved here) or `socks5h://` (the proxy resolves it) proxy;
   *   credentials may also come from the URL's userinfo, and `basicAuth`
   *   wins over them;
   * - `{ transport: "unix", path }`: every request goes to this Unix socket
   *   (an absolute path); `Host` still comes from the URL;
   * - `false`: connect directly, whatever the environment says.
   *
   * Unset, the environment decides, as for the built-in fetch:
   * `HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` (lower case
   * wins); see the README for the rules. The environment is read when the
   * client is created, and never prompts: variables this process may not
   * read count as unset.
   *
   * @default {undefined} (the environment decides)
   */
  proxy?: ProxyOption;
  /**
   * Opens the byte stream to a host instead of `Deno.connect`, like Go's
   * `DialContext`: custom DNS, happy eyeballs, SSH tunnels, in-memory
   * transports in tests. It is given the origin's (or the proxy's) host and
   * port and a signal that aborts at `connectTimeout`. TLS for `https:`
   * stays ours, on top of what it returns.
   *
   * @default {undefined} (`Deno.connect`)
   */
  connect?: (target: ConnectTarget) => Promise<Deno.Conn>;
  /**
   * Whether every TCP socket we open gets keep-alive probes
   * (`setKeepAlive`). They follow the system's schedule (two hours on
   * Linux by default): they help long-lived streams on tuned hosts, not a
   * 30-second NAT timeout, which the short `idleTimeout`, the header and
   * body timeouts and `maxConnectionAge` guard against.
   *
   * @default {true}
   */
  tcpKeepAlive?: boolean;
  /**
   * Milliseconds after which a connection takes no new request and is
   * closed once idle, so that a new connection resolves the name again
   * (DNS-balanced services move traffic) and a silently dead path does not
   * live forever.
   *
   * @default {Infinity}
   */
  maxConnectionAge?: number;
  /**
   * Whether the client reports to OpenTelemetry: a client span per request
   * sent (each attempt, each redirect hop) with `traceparent` injected, and
   * HTTP client and pool metrics. It costs nothing measurable until
   * OpenTelemetry is active: Deno's `OTEL_DENO=true`, or an SDK registered
   * through `@opentelemetry/api`. `false` turns traces, metrics and
   * injected headers off for this client. See the README's "Tracing and
   * metrics".
   *
   * @default {true}
   */
  telemetry?: boolean;
  /**
   * Whether HTTP/2 may be spoken. For `https:` origins ALPN then offers
   * `h2` and `http/1.1` and the server picks; one HTTP/2 session carries
   * many requests at once, without head-of-line blocking between responses.
   * Off by default for now (see the README's "HTTP/2" section). Without
   * `http1`, `http:` origins speak HTTP/2 with prior knowledge (h2c).
   *
   * @default {false} (`true` when `http1` is `false`)
   */
  http2?: boolean;
  /**
   * Whether HTTP/1.1 may be spoken. `http1: false` means HTTP/2 only:
   * `https:` origins must choose `h2` by ALPN, `http:` origins speak h2c.
   * `http1: false` with `http2: false` is a `RangeError`.
   *
   * @default {true}
   */
  http1?: boolean;
  /**
   * Our cap on concurrent streams per HTTP/2 session; the server's
   * SETTINGS_MAX_CONCURRENT_STREAMS lowers it. Requests beyond every
   * session's streams open a new session (within
   * `maxConnectionsPerOrigin`) or wait in the queue.
   *
   * @default {100}
   */
  maxConcurrentStreams?: number;
}

/**
 * TLS settings of a client.
 *
 * @example Trust a private CA and present a client certificate
 * ```ts ignore
 * import { createClient, type TlsOptions } from "@pooled/fetch";
 *
 * const tls: TlsOptions = {
 *   caCerts: [await Deno.readTextFile("ca.pem")],
 *   cert: await Deno.readTextFile("client.pem"),
 *   key: await Deno.readTextFile("client-key.pem"),
 * };
 * await using client = createClient({ tls });
 * ```
 */
export interface TlsOptions {
  /**
   * PEM certificates to trust in addition to the system's root store, e.g. a
   * private CA. They are trusted for HTTPS proxies too.
   *
   * @default {[]}
   */
  caCerts?: string[];
  /**
   * PEM client certificate chain for mutual TLS; requires `key`. Deno can
   * present one only on a direct connection (see the README).
   */
  cert?: string;
  /** PEM private key of the client certificate; requires `cert`. */
  key?: string;
}

/**
 * The `proxy` option of a client, shaped as Deno's own
 * `Deno.CreateHttpClientOptions["proxy"]`.
 *
 * @example Three ways to reach origins
 * ```ts
 * import type { ProxyOption } from "@pooled/fetch";
 *
 * const corporate: ProxyOption = {
 *   url: "http://proxy.internal:3128",
 *   basicAuth: { username: "me", password: "secret" },
 * };
 * const socks: ProxyOption = { url: "socks5h://127.0.0.1:1080" };
 * const docker: ProxyOption = { transport: "unix", path: "/var/run/docker.sock" };
 * console.log([corporate, socks, docker].length); // 3
 * ```
 */
export type ProxyOption =
  | {
    /** `http://`, `https://`, `socks5://` or `socks5h://` proxy URL. */
    url: string;
    /** Credentials; they win over those of the URL. */
    basicAuth?: { username: string; password: string };
  }
  | {
    /** Connect to a Unix socket. */
    transport: "unix";
    /** Absolute path of the socket. */
    path: string;
  }
  | false;

/**
 * What a custom `connect` dialer is given.
 *
 * @example A dialer that logs, then connects as usual
 * ```ts
 * import type { ConnectTarget } from "@pooled/fetch";
 *
 * async function connect(target: ConnectTarget): Promise<Deno.Conn> {
 *   console.log(`dialing ${target.hostname}:${target.port}`);
 *   return await Deno.connect({ hostname: target.hostname, port: target.port, signal: target.signal });
 * }
 * console.log(typeof connect); // function
 * ```
 */
export interface ConnectTarget {
  /** Host name or IP address, IPv6 without brackets. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Aborts the dial (`connectTimeout`, or the connection is no longer needed). */
  signal: AbortSignal;
}

/**
 * What `client.fetch` takes: the web `RequestInit`, plus three settings of
 * our own that override the client's for one request, so that one client
 * can serve both a slow LLM call and a health check. Like Deno's own
 * `client` field, they are ignored by the built-in `fetch`.
 *
 * @example A slow call and a quick one through the same client
 * ```ts
 * import { createClient } from "@pooled/fetch";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("ok"),
 * );
 * await using client = createClient();
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * const slow = await client.fetch(url, { headersTimeout: 600_000 });
 * const quick = await client.fetch(url, { headersTimeout: 2000, retry: false });
 * console.log(await slow.text(), await quick.text()); // ok ok
 * ```
 */
export interface FetchInit extends RequestInit {
  /**
   * Milliseconds to wait for this request's response head.
   *
   * @default {the client's `headersTimeout`}
   */
  headersTimeout?: number;
  /**
   * Milliseconds this request's response body may make no progress.
   *
   * @default {the client's `bodyTimeout`}
   */
  bodyTimeout?: number;
  /**
   * The retry policy for this request, replacing the client's: `false` or
   * an object. Any other value is left alone, since libraries pass their
   * own options through as `init` (ofetch's `retry` is a count).
   *
   * @default {the client's `retry`}
   */
  retry?: false | RetryOptions;
}

/** What one request works with: the client's settings, or its own. */
export interface RequestSettings {
  /** The retry policy. */
  policy: RetryPolicy;
  /** Milliseconds to wait for the response head. */
  headersTimeout: number;
  /** Milliseconds the body may make no progress. */
  bodyTimeout: number;
}

/**
 * The settings of one request: the client's, with what `init` overrides.
 *
 * @throws {TypeError | RangeError} An override is invalid.
 */
export function requestSettings(
  init: FetchInit | undefined,
  client: RequestSettings,
): RequestSettings {
  if (init === undefined) return client;
  // ofetch passes its own options, `retry` (a count) among them, through as
  // `init`: only `false` or an object is ours.
  const retry = init.retry === false ||
      (typeof init.retry === "object" && init.retry !== null)
    ? init.retry
    : undefined;
  if (
    init.headersTimeout === undefined && init.bodyTimeout === undefined &&
    retry === undefined
  ) {
    return client;
  }
  const subject = "fetch";
  const duration = { allowInfinity: true };
  return {
    policy: retry === undefined
      ? client.policy
      : new RetryPolicy(retry, "retry", subject),
    headersTimeout: init.headersTimeout === undefined
      ? client.headersTimeout
      : checkDuration("headersTimeout", init.headersTimeout, duration, subject),
    bodyTimeout: init.bodyTimeout === undefined
      ? client.bodyTimeout
      : checkDuration("bodyTimeout", init.bodyTimeout, duration, subject),
  };
}

/**
 * Milliseconds of silence from an HTTP/2 server after which a session is
 * checked with a PING before it carries another request: longer than a
 * busy session ever stays silent, so that reuse rarely pays a round trip.
 */
const PING_AFTER_IDLE = 2000;

/** What a client works with, resolved from its options. */
export interface ClientSettings extends RequestSettings {
  /**
   * Settings shared by every pool of the client (`onEmpty` and each
   * origin's `telemetry` are the client's).
   */
  pool: Omit<PoolSettings, "onEmpty" | "telemetry">;
  /** Decoded bytes a Content-Encoding may produce. */
  maxDecodedBodySize: number;
  /** Traces and metrics; the no-op one for `telemetry: false`. */
  telemetry: Telemetry;
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
    headersTimeout = 300_000,
    bodyTimeout = 300_000,
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
    maxConnectionAge = Infinity,
    telemetry = true,
    http1 = true,
    maxConcurrentStreams = 100,
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
  checkDuration("maxConnectionAge", maxConnectionAge, {
    allowInfinity: true,
  });
  checkBoolean("telemetry", telemetry);
  checkBoolean("http1", http1);
  const { http2 = !http1 } = options;
  checkBoolean("http2", http2);
  if (!http1 && !http2) {
    throw new RangeError(
      "Cannot create client as 'http1' and 'http2' cannot both be false: current value is { http1: false, http2: false }",
    );
  }
  checkInteger("maxConcurrentStreams", maxConcurrentStreams, 1);
  const checkedTls = checkTls(tls);
  const transport = parseTransportOptions({
    proxy: options.proxy,
    connect: options.connect,
    tcpKeepAlive: options.tcpKeepAlive,
    tls: checkedTls,
  });
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
      maxConnectionAge,
      http1,
      http2,
      maxConcurrentStreams,
      pingAfterIdle: PING_AFTER_IDLE,
      tls: checkedTls,
      transport,
      connection,
    },
    policy,
    headersTimeout,
    bodyTimeout,
    maxDecodedBodySize,
    telemetry: createTelemetry({ enabled: telemetry }),
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
