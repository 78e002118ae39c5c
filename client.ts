// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The client: a `fetch` with the Fetch standard's surface, backed by one
 * {@linkcode Pool} per origin and a {@linkcode RetryPolicy}.
 *
 * @module
 */

import {
  ACCEPT_ENCODING,
  decodeContent,
  extractBody,
  type RequestBody,
} from "./_body.ts";
import { Connection, Exchange, type ExchangeResult } from "./_connection.ts";
import { RequestFailure } from "./_errors.ts";
import {
  DEFAULT_PARSER_LIMITS,
  encodeRequest,
  type ParserLimits,
  validateRequestHead,
} from "./_http1.ts";
import {
  noEvictions,
  type OriginStats,
  Pool,
  type PoolSettings,
  type TlsOptions,
} from "./pool.ts";
import {
  abortableDelay,
  exhaustedError,
  isIdempotentMethod,
  RetryBudget,
  type RetryDecision,
  type RetryOptions,
  RetryPolicy,
  type RetryReason,
  type RetryRequestInfo,
} from "./retry.ts";

/** Options of {@linkcode createClient}. Every one is checked before any I/O. */
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
   * The retry policy, or `false` to send nothing again except requests that
   * were never written at all (see {@linkcode RetryOptions}).
   *
   * @default {{}} (3 attempts for replayable requests)
   */
  retry?: false | RetryOptions;
  /** TLS settings for https origins. */
  tls?: TlsOptions;
}

/** Totals over all origins since the client was created. */
export interface ClientTotals {
  /** Connections opened. */
  connectionsOpened: number;
  /** Requests written (each attempt counts). */
  requestsSent: number;
  /** Requests written on a connection that had carried one before. */
  requestsOnReusedConnections: number;
  /** `requestsOnReusedConnections / requestsSent`, 0 before any request. */
  reuseRatio: number;
  /** Requests written behind another unanswered one (pipelined). */
  requestsPipelined: number;
  /** Idle connections closed, by reason, summed over origins. */
  evictions: OriginStats["evictions"];
  /** Requests sent again, by reason. */
  retries: Record<RetryReason, number>;
  /** Retries the per-origin retry budget refused. */
  retriesDenied: number;
  /** Requests that waited in a queue. */
  queuedRequests: number;
  /** Total milliseconds requests spent queued. */
  queueWaitTotal: number;
  /** Longest queue wait, in milliseconds. */
  queueWaitMax: number;
}

/** A snapshot of a client's pools and counters; see {@linkcode Client.stats}. */
export interface ClientStats {
  /** One entry per origin the client has a pool for. */
  origins: OriginStats[];
  /** Totals since the client was created. */
  totals: ClientTotals;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const MAX_REDIRECTS = 20;
const USER_AGENT = "pooled-fetch/0.1";
const EMPTY_HEADERS = new Headers();
const NO_PAIRS: [string, string][] = [];

/** A request in the shape the client works with. */
interface Prepared {
  method: string;
  url: URL;
  headers: Headers;
  body: RequestBody;
  signal: AbortSignal | undefined;
  redirect: RequestRedirect;
}

interface OriginEntry {
  pool: Pool;
  budget: RetryBudget;
}

/**
 * An HTTP/1.1 client with a bounded keep-alive pool per origin. Create one
 * with {@linkcode createClient}; close it with {@linkcode Client.close} or
 * `await using`.
 *
 * @example Fetch through a client
 * ```ts
 * import { createClient } from "@pooled/fetch";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hello"),
 * );
 * await using client = createClient({ maxConnectionsPerOrigin: 4 });
 * const res = await client.fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(res.status, await res.text()); // 200 hello
 * ```
 */
export class Client implements AsyncDisposable {
  #origins = new Map<string, OriginEntry>();
  /** The origin entry of each URL object seen, to skip building the key. */
  #entries = new WeakMap<URL, OriginEntry>();
  #poolSettings: PoolSettings;
  #policy: RetryPolicy;
  #maxDecodedBodySize: number;
  #closed = false;
  #retries: Record<RetryReason, number> = {
    connect: 0,
    unsent: 0,
    stale: 0,
    network: 0,
    status: 0,
  };

  /** Use {@linkcode createClient}. */
  constructor(options: ClientOptions = {}) {
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
    checkDuration("idleTimeout", idleTimeout, false);
    checkDuration("connectTimeout", connectTimeout, true);
    checkDuration("headersTimeout", headersTimeout, true);
    checkDuration("bodyTimeout", bodyTimeout, true);
    checkInteger("maxHeaderSize", maxHeaderSize, 64);
    checkInteger("maxHeaderCount", maxHeaderCount, 1);
    checkInteger("maxChunkLineLength", maxChunkLineLength, 16);
    checkInteger("maxTrailerSize", maxTrailerSize, 0);
    checkCount("maxDecodedBodySize", maxDecodedBodySize, 1);
    checkInteger("readAhead", readAhead, 1);
    checkCount("maxQueue", maxQueue, 0);
    checkDuration("queueTimeout", queueTimeout, true);
    checkCount("maxRequestsPerConnection", maxRequestsPerConnection, 1);
    checkTls(tls);
    this.#policy = new RetryPolicy(retry);
    this.#maxDecodedBodySize = maxDecodedBodySize;
    const limits: ParserLimits = {
      maxHeaderSize,
      maxHeaderCount,
      maxChunkLineLength,
      maxTrailerSize,
    };
    this.#poolSettings = {
      maxConnections: maxConnectionsPerOrigin,
      pipelining,
      idleTimeout,
      connectTimeout,
      maxQueue,
      queueTimeout,
      pipelinePenalty: 60_000,
      tls: { ...tls },
      connection: {
        limits,
        readAhead,
        headersTimeout,
        bodyTimeout,
        maxRequests: maxRequestsPerConnection,
      },
    };
  }

  /**
   * Fetches a resource over HTTP/1.1 like the web `fetch`, through this
   * client's pool for the URL's origin.
   *
   * @param input The URL, or a `Request` whose method, headers, body, signal
   * and redirect mode are used.
   * @param init Overrides for the request, as for the web `fetch`.
   * @returns The response, once its head has arrived (and its body, when
   * that is small and already in hand).
   * @throws {TypeError} On a network failure (the `cause` says what
   * happened), an invalid request, or a closed client.
   * @throws The signal's reason, unchanged, when `signal` aborts.
   *
   * @example POST JSON
   * ```ts
   * import { createClient } from "@pooled/fetch";
   *
   * await using server = Deno.serve(
   *   { hostname: "127.0.0.1", port: 0, onListen() {} },
   *   async (req) => Response.json(await req.json()),
   * );
   * await using client = createClient();
   * const res = await client.fetch(`http://127.0.0.1:${server.addr.port}/`, {
   *   method: "POST",
   *   headers: { "content-type": "application/json" },
   *   body: JSON.stringify({ hello: "world" }),
   * });
   * console.log(await res.json()); // { hello: "world" }
   * ```
   */
  async fetch(
    input: string | URL | Request,
    init?: RequestInit,
  ): Promise<Response> {
    if (this.#closed) {
      throw new TypeError("Cannot fetch as the client is closed");
    }
    const prepared = prepare(input, init);
    const request = prepared instanceof Promise ? await prepared : prepared;
    request.signal?.throwIfAborted();
    if (this.#policy.idempotencyKey) {
      if (request.headers === EMPTY_HEADERS) request.headers = new Headers();
      this.#policy.applyIdempotencyKey(request.method, request.headers);
    }
    let redirected = false;
    for (let redirects = 0;; redirects++) {
      const result = await this.#send(request);
      const { head } = result;
      if (
        !REDIRECT_STATUSES.has(head.status) || request.redirect === "manual"
      ) {
        return this.#toResponse(result, request, redirected);
      }
      const location = findHeader(head.headers, "location");
      if (location === undefined) {
        return this.#toResponse(result, request, redirected);
      }
      discard(result);
      if (request.redirect === "error") {
        throw new TypeError(
          `Fetch to ${request.url.href} was redirected (${head.status}) while redirect is "error"`,
        );
      }
      if (redirects === MAX_REDIRECTS) {
        throw new TypeError(
          `Fetch to ${request.url.href} failed: more than ${MAX_REDIRECTS} redirects`,
        );
      }
      followRedirect(request, head.status, location);
      redirected = true;
    }
  }

  /** Sends one request with retries; returns the response to hand over. */
  async #send(request: Prepared): Promise<ExchangeResult> {
    const entry = this.#entry(request.url);
    const method = request.method;
    const { body } = request;
    const plainGet = method === "GET" && request.headers === EMPTY_HEADERS;
    let bytes = plainGet ? plainGetCache.get(request.url) : undefined;
    if (bytes === undefined) {
      const target = request.url.pathname + request.url.search;
      // The client's own fields are valid by construction; check the rest.
      validateRequestHead({
        method,
        target,
        headers: request.headers === EMPTY_HEADERS ? NO_PAIRS : request.headers,
      });
      bytes = encodeRequest(
        { method, target, headers: buildHeaders(request) },
        body.bytes,
      );
      if (plainGet) plainGetCache.set(request.url, bytes);
    }
    const pipelinable = body.stream === null && isIdempotentMethod(method);
    let info: RetryRequestInfo | undefined;
    const policy = this.#policy;
    entry.budget.recordRequest();
    let freshAfter = -1;
    for (let attempt = 1;; attempt++) {
      const exchange = new Exchange(
        method,
        bytes,
        body.stream,
        pipelinable,
        request.signal,
      );
      exchange.freshAfter = freshAfter;
      entry.pool.request(exchange);
      let decision: RetryDecision | null;
      let result: ExchangeResult | undefined;
      let error: unknown;
      try {
        result = await exchange.promise;
      } catch (caught) {
        error = caught;
      }
      if (result !== undefined) {
        if (result.head.status < 400) return result;
        info ??= requestInfo(request);
        decision = policy.onResponse(
          info,
          attempt,
          result.head.status,
          new Headers(result.head.headers),
          entry.budget,
        );
        if (decision === null) return result;
      } else {
        if (request.signal?.aborted && error === request.signal.reason) {
          throw error;
        }
        info ??= requestInfo(request);
        const replayable = body.replayable ||
          (error instanceof RequestFailure &&
            (error.stage === "connect" || error.stage === "unsent"));
        decision = policy.onError(
          replayable === body.replayable
            ? info
            : { ...info, bodyReplayable: true },
          attempt,
          error,
          entry.budget,
        );
        if (decision === null) {
          throw attempt > 1 ? gaveUp(error, attempt, request.url) : error;
        }
      }
      if (result !== undefined) {
        discard(result);
        // A 408: the server is done with that connection.
        if (decision.freshConnection) {
          exchange.connection?.close("not-reusable");
        }
      }
      freshAfter = decision.freshConnection ? Connection.lastId : -1;
      this.#retries[decision.reason]++;
      policy.notify({
        attempt,
        nextAttempt: attempt + 1,
        reason: decision.reason,
        delay: decision.delay,
        method,
        url: request.url.href,
        status: result?.head.status,
        error,
      });
      if (decision.delay > 0) {
        await abortableDelay(decision.delay, request.signal);
      }
    }
  }

  #entry(url: URL): OriginEntry {
    const cached = this.#entries.get(url);
    if (cached !== undefined) return cached;
    const key = url.protocol + "//" + url.host;
    let entry = this.#origins.get(key);
    if (entry === undefined) {
      entry = {
        pool: new Pool(url, this.#poolSettings),
        budget: new RetryBudget({
          ratio: this.#policy.budgetRatio,
          minPerSecond: this.#policy.budgetMinPerSecond,
        }),
      };
      this.#origins.set(key, entry);
    }
    this.#entries.set(url, entry);
    return entry;
  }

  #toResponse(
    result: ExchangeResult,
    request: Prepared,
    redirected: boolean,
  ): Response {
    const { head } = result;
    let body = result.body as
      | Uint8Array<ArrayBuffer>
      | ReadableStream<Uint8Array>
      | null;
    if (NULL_BODY_STATUSES.has(head.status)) {
      discard(result);
      body = null;
    } else if (body !== null) {
      const encoding = head.contentEncoding;
      if (encoding !== undefined && request.method !== "HEAD") {
        const stream = body instanceof Uint8Array ? bytesStream(body) : body;
        body = decodeContent(stream, encoding, this.#maxDecodedBodySize);
      }
    }
    let response: Response;
    try {
      response = new FetchedResponse(
        body,
        { status: head.status, statusText: head.statusText },
        request.url.href,
        redirected,
      );
      // Appending is about twice as fast as passing `headers` in the init.
      const headers = response.headers;
      for (const [name, value] of head.headers) headers.append(name, value);
    } catch (error) {
      discard(result);
      throw new RequestFailure(
        `Request to ${request.url.origin} failed: malformed response: ${
          error instanceof Error ? error.message : String(error)
        }`,
        {
          stage: "response",
          origin: request.url.origin,
          reused: result.reused,
          cause: error,
        },
      );
    }
    return response;
  }

  /**
   * A snapshot of the pools: connections open, idle and busy, requests
   * queued, per origin; and totals since the client was created.
   *
   * @returns The statistics.
   *
   * @example Count connections
   * ```ts
   * import { createClient } from "@pooled/fetch";
   *
   * await using server = Deno.serve(
   *   { hostname: "127.0.0.1", port: 0, onListen() {} },
   *   () => new Response("ok"),
   * );
   * await using client = createClient();
   * for (let i = 0; i < 3; i++) {
   *   await (await client.fetch(`http://127.0.0.1:${server.addr.port}/`)).text();
   * }
   * const { totals } = client.stats();
   * console.log(totals.connectionsOpened, totals.requestsSent); // 1 3
   * ```
   */
  stats(): ClientStats {
    const origins = [...this.#origins.values()].map((entry) =>
      entry.pool.stats()
    );
    const totals: ClientTotals = {
      connectionsOpened: 0,
      requestsSent: 0,
      requestsOnReusedConnections: 0,
      reuseRatio: 0,
      requestsPipelined: 0,
      evictions: noEvictions(),
      retries: { ...this.#retries },
      retriesDenied: 0,
      queuedRequests: 0,
      queueWaitTotal: 0,
      queueWaitMax: 0,
    };
    for (const o of origins) {
      totals.connectionsOpened += o.connectionsOpened;
      totals.requestsSent += o.requestsSent;
      totals.requestsOnReusedConnections += o.requestsOnReusedConnections;
      totals.requestsPipelined += o.requestsPipelined;
      totals.queuedRequests += o.queuedRequests;
      totals.queueWaitTotal += o.queueWaitTotal;
      totals.queueWaitMax = Math.max(totals.queueWaitMax, o.queueWaitMax);
      for (
        const key of Object.keys(o.evictions) as (keyof typeof o.evictions)[]
      ) {
        totals.evictions[key] += o.evictions[key];
      }
    }
    for (const entry of this.#origins.values()) {
      totals.retriesDenied += entry.budget.refused;
    }
    totals.reuseRatio = totals.requestsSent === 0
      ? 0
      : totals.requestsOnReusedConnections / totals.requestsSent;
    return { origins, totals };
  }

  /**
   * Closes the client: new requests are rejected with a `TypeError`; queued
   * and in-flight ones finish; then every socket is closed.
   *
   * @returns Resolves when every connection is closed.
   *
   * @example Close when done
   * ```ts
   * import { createClient } from "@pooled/fetch";
   *
   * const client = createClient();
   * await client.close();
   * await client.fetch("http://127.0.0.1:1/").catch((e) => console.log(e.name)); // TypeError
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#origins.values()].map((e) => e.pool.close()));
  }

  /** Closes the client, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Creates a client with its own pools. Options are checked here, before any
 * I/O.
 *
 * @param options The client's options; every one has a default.
 * @returns The client.
 * @throws {TypeError} An option has the wrong type.
 * @throws {RangeError} An option is out of range.
 *
 * @example Keep-alive and pipelining
 * ```ts
 * import { createClient } from "@pooled/fetch";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("ok"),
 * );
 * await using client = createClient({ maxConnectionsPerOrigin: 2, pipelining: 4 });
 * const url = `http://127.0.0.1:${server.addr.port}/`;
 * const texts = await Promise.all(
 *   Array.from({ length: 8 }, async () => (await client.fetch(url)).text()),
 * );
 * console.log(texts.length, client.stats().totals.connectionsOpened <= 2); // 8 true
 * ```
 */
export function createClient(options?: ClientOptions): Client {
  return new Client(options);
}

/**
 * A `Response` that knows the URL it came from and whether it was redirected,
 * as one from the built-in fetch does (a constructed `Response` cannot be
 * given either). Getters on a subclass cost nothing per response, unlike
 * defining the properties on each one.
 */
class FetchedResponse extends Response {
  #url: string;
  #redirected: boolean;

  constructor(
    body: BodyInit | null,
    init: ResponseInit,
    url: string,
    redirected: boolean,
  ) {
    super(body, init);
    this.#url = url;
    this.#redirected = redirected;
  }

  override get url(): string {
    return this.#url;
  }

  override get redirected(): boolean {
    return this.#redirected;
  }

  override clone(): Response {
    const copy = super.clone();
    Object.defineProperties(copy, {
      url: { value: this.#url },
      redirected: { value: this.#redirected },
    });
    return copy;
  }
}

// ---- request preparation --------------------------------------------------

const NORMALIZED_METHODS: Record<string, string> = {
  delete: "DELETE",
  get: "GET",
  head: "HEAD",
  options: "OPTIONS",
  post: "POST",
  put: "PUT",
  patch: "PATCH",
};

/**
 * Parsed URL strings. The client never mutates a URL it parsed, so one
 * object can serve every request for the same string; bounded, and simply
 * emptied when full.
 */
const urlCache = new Map<string, URL>();
const URL_CACHE_SIZE = 1024;

function parseUrl(input: string): URL {
  let url = urlCache.get(input);
  if (url !== undefined) return url;
  try {
    url = new URL(input);
  } catch (error) {
    throw new TypeError(`Cannot fetch as the URL is invalid: ${input}`, {
      cause: error,
    });
  }
  if (urlCache.size >= URL_CACHE_SIZE) urlCache.clear();
  urlCache.set(input, url);
  return url;
}

/**
 * The encoded bytes of a plain GET (no caller headers) per URL: for a URL
 * fetched again and again, the request is the same every time.
 */
const plainGetCache = new WeakMap<URL, Uint8Array>();

function prepare(
  input: string | URL | Request,
  init: RequestInit | undefined,
): Prepared | Promise<Prepared> {
  let url: URL;
  let method = "GET";
  let headers: Headers = EMPTY_HEADERS;
  let bodyInit: BodyInit | null = null;
  let signal: AbortSignal | undefined;
  let redirect: RequestRedirect = "follow";
  if (input instanceof Request) {
    url = new URL(input.url);
    method = input.method;
    headers = new Headers(input.headers);
    bodyInit = input.body;
    signal = input.signal;
    redirect = input.redirect;
  } else if (typeof input === "string") {
    url = parseUrl(input);
  } else {
    try {
      url = new URL(input);
    } catch (error) {
      throw new TypeError(
        `Cannot fetch as the URL is invalid: ${String(input)}`,
        {
          cause: error,
        },
      );
    }
  }
  if (init !== undefined) {
    if (init.method !== undefined) {
      method = NORMALIZED_METHODS[init.method.toLowerCase()] ?? init.method;
    }
    if (init.headers !== undefined) headers = new Headers(init.headers);
    if (init.body !== undefined) bodyInit = init.body;
    if (init.signal !== undefined) signal = init.signal ?? undefined;
    if (init.redirect !== undefined) redirect = init.redirect;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new TypeError(
      `Cannot fetch ${url.href} as only http: and https: URLs are supported`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(
      `Cannot fetch ${url.origin} as the URL includes credentials: send them in an Authorization header`,
    );
  }
  if (method === "CONNECT" || method === "TRACK") {
    throw new TypeError(`Cannot fetch as the method ${method} is forbidden`);
  }
  if (bodyInit !== null && (method === "GET" || method === "HEAD")) {
    throw new TypeError(
      `Cannot fetch as a ${method} request cannot have a body`,
    );
  }
  if (redirect !== "follow" && redirect !== "manual" && redirect !== "error") {
    throw new TypeError(
      `Cannot fetch as redirect mode ${String(redirect)} is invalid`,
    );
  }
  const body = extractBody(bodyInit);
  if (body instanceof Promise) {
    return body.then((body) => ({
      method,
      url,
      headers,
      body,
      signal,
      redirect,
    }));
  }
  return { method, url, headers, body, signal, redirect };
}

/** The header fields to send: Host first, then the caller's, then defaults. */
function buildHeaders(request: Prepared): [string, string][] {
  const { headers, body, method } = request;
  const list: [string, string][] = [];
  let host = request.url.host;
  let accept = false;
  let acceptEncoding = false;
  let userAgent = false;
  let contentType = false;
  let contentLength: string | undefined;
  for (const [name, value] of headers === EMPTY_HEADERS ? NO_PAIRS : headers) {
    switch (name) {
      case "host":
        host = value;
        continue;
      case "content-length":
        contentLength = value;
        continue;
      case "transfer-encoding":
        throw new TypeError(
          "Cannot send request as the Transfer-Encoding header is set by the client: remove it",
        );
      case "accept":
        accept = true;
        break;
      case "accept-encoding":
        acceptEncoding = true;
        break;
      case "user-agent":
        userAgent = true;
        break;
      case "content-type":
        contentType = true;
        break;
    }
    list.push([name, value]);
  }
  list.unshift(["host", host]);
  if (!accept) list.push(["accept", "*/*"]);
  if (!acceptEncoding) list.push(["accept-encoding", ACCEPT_ENCODING]);
  if (!userAgent) list.push(["user-agent", USER_AGENT]);
  if (!contentType && body.contentType !== null) {
    list.push(["content-type", body.contentType]);
  }
  let length: string | undefined;
  if (body.bytes !== null) length = String(body.bytes.byteLength);
  else if (
    body.stream === null &&
    (method === "POST" || method === "PUT" || method === "PATCH")
  ) {
    length = "0";
  }
  if (contentLength !== undefined && contentLength !== length) {
    throw new TypeError(
      `Cannot send request as its Content-Length header (${contentLength}) contradicts its body (${
        body.stream !== null ? "a stream, sent chunked" : `${length ?? 0} bytes`
      })`,
    );
  }
  if (length !== undefined) list.push(["content-length", length]);
  else if (body.stream !== null) list.push(["transfer-encoding", "chunked"]);
  return list;
}

/**
 * The error for a request that failed on every attempt: the last failure,
 * saying how many attempts were made, with the same cause.
 */
function gaveUp(error: unknown, attempts: number, url: URL): unknown {
  if (error instanceof RequestFailure) {
    return new RequestFailure(
      `${error.message} (gave up after ${attempts} attempts)`,
      {
        stage: error.stage,
        origin: error.origin,
        reused: error.reused,
        cause: error.cause,
      },
    );
  }
  return exhaustedError(error, attempts, url.href);
}

function requestInfo(request: Prepared): RetryRequestInfo {
  return {
    method: request.method,
    url: request.url.href,
    headers: request.headers,
    bodyReplayable: request.body.replayable,
  };
}

const SENSITIVE_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
];

/** Rewrites `request` to follow a redirect (Fetch standard, HTTP-redirect fetch). */
function followRedirect(
  request: Prepared,
  status: number,
  location: string,
): void {
  let next: URL;
  try {
    next = new URL(location, request.url);
  } catch (error) {
    throw new TypeError(
      `Fetch to ${request.url.href} failed: invalid redirect location ${
        JSON.stringify(location)
      }`,
      { cause: error },
    );
  }
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    throw new TypeError(
      `Fetch to ${request.url.href} failed: redirect to unsupported scheme ${next.protocol}`,
    );
  }
  if (request.headers === EMPTY_HEADERS) request.headers = new Headers();
  if (
    ((status === 301 || status === 302) && request.method === "POST") ||
    (status === 303 && request.method !== "GET" && request.method !== "HEAD")
  ) {
    request.method = "GET";
    request.body = {
      bytes: null,
      stream: null,
      contentType: null,
      replayable: true,
    };
    for (const name of BODY_HEADERS) request.headers.delete(name);
  } else if (!request.body.replayable) {
    throw new TypeError(
      `Fetch to ${request.url.href} failed: cannot follow a ${status} redirect with a streamed body, which cannot be sent again`,
    );
  }
  if (next.origin !== request.url.origin) {
    for (const name of SENSITIVE_HEADERS) request.headers.delete(name);
  }
  request.url = next;
}

function findHeader(
  headers: [string, string][],
  name: string,
): string | undefined {
  for (const [key, value] of headers) {
    if (key.length === name.length && key.toLowerCase() === name) return value;
  }
  return undefined;
}

/** Drops a response the caller will not see; a streamed body is cancelled. */
/**
 * Drops a response the caller will not see. A streamed body is read to its
 * end in the background when it is small, so its connection stays usable,
 * and cancelled (closing the connection) past `DISCARD_LIMIT` bytes.
 */
function discard(result: ExchangeResult): void {
  if (result.body instanceof ReadableStream) drain(result.body);
}

const DISCARD_LIMIT = 64 * 1024;

async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > DISCARD_LIMIT) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The connection failed; it is closed already.
  }
}

function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}

// ---- option checks --------------------------------------------------------

function fail(name: string, expected: string, value: unknown): never {
  const message =
    `Cannot create client as '${name}' must be ${expected}: current value is ${
      typeof value === "string" ? JSON.stringify(value) : String(value)
    }`;
  throw typeof value === "number"
    ? new RangeError(message)
    : new TypeError(message);
}

function checkInteger(name: string, value: unknown, min: number): void {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    fail(
      name,
      min === 1 ? "a positive integer" : `an integer >= ${min}`,
      value,
    );
  }
}

/** A count: an integer >= min, or Infinity for no limit. */
function checkCount(name: string, value: unknown, min: number): void {
  if (value === Infinity) return;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    fail(name, `an integer >= ${min} or Infinity`, value);
  }
}

function checkDuration(
  name: string,
  value: unknown,
  allowInfinity: boolean,
): void {
  if (allowInfinity && value === Infinity) return;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    fail(
      name,
      allowInfinity
        ? "a positive number of milliseconds or Infinity"
        : "a positive number of milliseconds",
      value,
    );
  }
}

function checkTls(tls: unknown): void {
  if (typeof tls !== "object" || tls === null) fail("tls", "an object", tls);
  const { caCerts, cert, key } = tls as TlsOptions;
  if (
    caCerts !== undefined &&
    (!Array.isArray(caCerts) || caCerts.some((c) => typeof c !== "string"))
  ) {
    fail("tls.caCerts", "an array of PEM strings", caCerts);
  }
  if (cert !== undefined && typeof cert !== "string") {
    fail("tls.cert", "a PEM string", cert);
  }
  if (key !== undefined && typeof key !== "string") {
    fail("tls.key", "a PEM string", key);
  }
  if ((cert === undefined) !== (key === undefined)) {
    fail(
      cert === undefined ? "tls.cert" : "tls.key",
      "set together with " + (cert === undefined ? "'tls.key'" : "'tls.cert'"),
      cert === undefined ? cert : key,
    );
  }
}
