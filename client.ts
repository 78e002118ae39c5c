// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The fetch layer: a `fetch` with the Fetch standard's surface over one
 * {@linkcode Pool} per origin. It turns `fetch` arguments into requests,
 * follows redirects, decodes bodies and builds the `Response`; each request
 * goes to its origin's pool through the attempt loop (`_attempts.ts`), which
 * retries as the {@linkcode RetryPolicy} says.
 *
 * @module
 */

import { type AttemptContext, sendWithRetries } from "./_attempts.ts";
import { decodeContent, discardBody } from "./_body.ts";
import { FetchedResponse } from "./_response.ts";
import type { DispatchResult } from "./_dispatch.ts";
import {
  type FetchRequest,
  prepareRequest,
  redirectRequest,
} from "./_request.ts";
import type { RetryBudget } from "./_retry_budget.ts";
import { invalidOption } from "./_validate.ts";
import { FetchError } from "./errors.ts";
import {
  type ClientOptions,
  type ClientSettings,
  type FetchInit,
  requestSettings,
  resolveOptions,
} from "./options.ts";
import { fetchLocal, isLocalScheme } from "./_local_urls.ts";
import { Pool } from "./pool.ts";
import type { RetryReason } from "./retry.ts";
import {
  type ClientStats,
  type ClientTotals,
  type EvictionStats,
  noEvictions,
  type OriginStats,
} from "./stats.ts";

export type { ClientOptions, FetchInit } from "./options.ts";

/** Options of {@linkcode Client.close}. */
export interface CloseOptions {
  /**
   * Bounds the wait: when it aborts, whatever is still queued or in flight
   * fails at once with a {@linkcode FetchError} (`CLIENT_CLOSED`), and every
   * socket is closed. `AbortSignal.timeout(5000)` gives in-flight requests
   * five seconds; an aborted signal ends everything now.
   *
   * @default {undefined} (wait for every request to finish)
   */
  signal?: AbortSignal;
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const MAX_REDIRECTS = 20;

/** One origin's pool and retry budget. */
interface OriginEntry {
  key: string;
  pool: Pool;
  budget: RetryBudget;
  /** Set once the entry was dropped: a cached lookup must make a new one. */
  forgotten: boolean;
}

/** Counters of forgotten origins, kept so that totals keep counting. */
type ForgottenTotals = Omit<
  ClientTotals,
  "reuseRatio" | "retries" | "queueWaitMax"
>;

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
  /** Pools that became empty, oldest first, to forget once idle long enough. */
  #emptied: OriginEntry[] = [];
  #settings: ClientSettings;
  #closed = false;
  #retries: Record<RetryReason, number> = {
    connect: 0,
    unsent: 0,
    stale: 0,
    network: 0,
    status: 0,
  };
  #forgotten: ForgottenTotals = {
    connectionsOpened: 0,
    requestsSent: 0,
    requestsOnReusedConnections: 0,
    requestsPipelined: 0,
    evictions: noEvictions(),
    retriesDenied: 0,
    queuedRequests: 0,
    queueWaitTotal: 0,
  };
  #queueWaitMax = 0;

  /** Use {@linkcode createClient}. */
  constructor(options: ClientOptions = {}) {
    this.#settings = resolveOptions(options);
    // Bound, so that `const { fetch } = client`, `{ fetch: client.fetch }`
    // and a library calling it with its own `this` all work.
    this.fetch = this.fetch.bind(this);
    this.close = this.close.bind(this);
    this.stats = this.stats.bind(this);
  }

  /**
   * Fetches a resource like the web `fetch`: `http:` and `https:` through
   * this client's pool for the URL's origin; `data:`, `blob:` and `file:`
   * as the built-in `fetch` serves them. Bound to its client: it can be
   * passed around as a plain function.
   *
   * @param input The URL, or a `Request` whose method, headers, body, signal
   * and redirect mode are used.
   * @param init Overrides for the request, as for the web `fetch`, plus
   * per-request `headersTimeout`, `bodyTimeout` and `retry`
   * ({@linkcode FetchInit}).
   * @returns The response, once its head has arrived (and its body, when
   * that is small and already in hand).
   * @throws {FetchError} On a network failure (a `TypeError`; its `stage`,
   * `code` and `cause` say what happened) or a closed client.
   * @throws {TypeError} An invalid request, before anything is sent.
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
    init?: FetchInit,
  ): Promise<Response> {
    const settings = requestSettings(init, this.#settings);
    const prepared = prepareRequest(
      input,
      init,
      this.#settings.pool.connection.readAhead,
    );
    const request = prepared instanceof Promise ? await prepared : prepared;
    if (this.#closed) throw closedError(request.url);
    request.signal?.throwIfAborted();
    if (isLocalScheme(request.url)) {
      return fetchLocal(request.url, request);
    }
    const { policy } = settings;
    if (policy.idempotencyKey) {
      request.headers ??= new Headers();
      if (policy.applyIdempotencyKey(request.method, request.headers)) {
        request.plain = false;
        request.fields = [...request.fields, [
          "idempotency-key",
          request.headers.get("idempotency-key")!,
        ]];
      }
    }
    let entry = this.#entry(request.url);
    // One context for the whole fetch: each redirect hop changes the origin
    // (pool and budget), and `sent` numbers the requests across hops.
    const context: AttemptContext = {
      dispatcher: entry.pool,
      policy,
      budget: entry.budget,
      retries: this.#retries,
      headersTimeout: settings.headersTimeout,
      bodyTimeout: settings.bodyTimeout,
      telemetry: this.#settings.telemetry,
      sent: 0,
    };
    let redirected = false;
    for (let redirects = 0;; redirects++) {
      const result = await sendWithRetries(request, context);
      const { status } = result;
      if (!REDIRECT_STATUSES.has(status) || request.redirect === "manual") {
        return this.#toResponse(result, request, redirected);
      }
      const location = findHeader(result.headers, "location");
      if (location === undefined) {
        return this.#toResponse(result, request, redirected);
      }
      discardBody(result.body);
      if (request.redirect === "error") {
        throw new TypeError(
          `Fetch to ${request.url.origin} failed: redirected (${status}) while redirect is "error"`,
        );
      }
      if (redirects === MAX_REDIRECTS) {
        throw new TypeError(
          `Fetch to ${request.url.origin} failed: more than ${MAX_REDIRECTS} redirects`,
        );
      }
      redirectRequest(request, status, location);
      redirected = true;
      entry = this.#entry(request.url);
      context.dispatcher = entry.pool;
      context.budget = entry.budget;
    }
  }

  #entry(url: URL): OriginEntry {
    const cached = this.#entries.get(url);
    if (cached !== undefined && !cached.forgotten) return cached;
    const key = url.protocol + "//" + url.host;
    let entry = this.#origins.get(key);
    if (entry === undefined) {
      this.#forgetIdleOrigins();
      const { policy } = this.#settings;
      const newEntry: OriginEntry = {
        key,
        pool: new Pool(url, {
          ...this.#settings.pool,
          onEmpty: () => this.#emptied.push(newEntry),
          telemetry: this.#settings.telemetry.pool(key),
        }),
        budget: policy.createBudget(),
        forgotten: false,
      };
      entry = newEntry;
      this.#origins.set(key, entry);
    }
    this.#entries.set(url, entry);
    return entry;
  }

  /**
   * Drops the origins whose pool has been empty for `idleTimeout`, so that
   * a client that meets many origins does not keep a pool for each. Runs
   * when a new origin is met and on `stats()`; needs no timer.
   */
  #forgetIdleOrigins(): void {
    const before = Date.now() - this.#settings.pool.idleTimeout;
    let i = 0;
    for (; i < this.#emptied.length; i++) {
      const entry = this.#emptied[i];
      const since = entry.pool.emptySince;
      if (since > before) break;
      if (since === 0 || entry.forgotten) continue; // In use again.
      entry.forgotten = true;
      this.#origins.delete(entry.key);
      this.#keepTotals(entry);
    }
    if (i > 0) this.#emptied.splice(0, i);
  }

  #keepTotals(entry: OriginEntry): void {
    const o = entry.pool.stats();
    addOrigin(this.#forgotten, o);
    this.#queueWaitMax = Math.max(this.#queueWaitMax, o.queueWaitMax);
    this.#forgotten.retriesDenied += entry.budget.refused;
  }

  #toResponse(
    result: DispatchResult,
    request: FetchRequest,
    redirected: boolean,
  ): Response {
    const { status } = result;
    let body = result.body as
      | Uint8Array<ArrayBuffer>
      | ReadableStream<Uint8Array>
      | null;
    if (NULL_BODY_STATUSES.has(status)) {
      discardBody(body);
      body = null;
    } else if (body !== null) {
      const encoding = result.contentEncoding;
      if (encoding !== undefined && request.method !== "HEAD") {
        const stream = body instanceof Uint8Array ? bytesStream(body) : body;
        body = decodeContent(
          stream,
          encoding,
          this.#settings.maxDecodedBodySize,
        );
      }
    }
    let response: Response;
    try {
      response = new FetchedResponse(
        body,
        { status, statusText: result.statusText },
        request.url.href,
        redirected,
      );
      // Appending is about twice as fast as passing `headers` in the init.
      const headers = response.headers;
      for (const [name, value] of result.headers) headers.append(name, value);
    } catch (error) {
      discardBody(body);
      throw new FetchError(
        `malformed response: ${
          error instanceof Error ? error.message : String(error)
        }`,
        {
          stage: "response",
          code: "MALFORMED_RESPONSE",
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
    this.#forgetIdleOrigins();
    const origins = [...this.#origins.values()].map((entry) =>
      entry.pool.stats()
    );
    const f = this.#forgotten;
    const totals: ClientTotals = {
      connectionsOpened: f.connectionsOpened,
      requestsSent: f.requestsSent,
      requestsOnReusedConnections: f.requestsOnReusedConnections,
      reuseRatio: 0,
      requestsPipelined: f.requestsPipelined,
      evictions: { ...f.evictions },
      retries: { ...this.#retries },
      retriesDenied: f.retriesDenied,
      queuedRequests: f.queuedRequests,
      queueWaitTotal: f.queueWaitTotal,
      queueWaitMax: this.#queueWaitMax,
    };
    for (const o of origins) {
      addOrigin(totals, o);
      totals.queueWaitMax = Math.max(totals.queueWaitMax, o.queueWaitMax);
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
   * Closes the client: new requests are rejected with a
   * {@linkcode FetchError} (`CLIENT_CLOSED`); queued and in-flight ones
   * finish; then every socket is closed. With a `signal`, the wait is
   * bounded: when it aborts, whatever is left fails at once and every socket
   * is closed.
   *
   * @param options How long to wait, as a signal.
   * @returns Resolves when every connection is closed.
   *
   * @example Close when done, giving stragglers a second
   * ```ts
   * import { createClient } from "@pooled/fetch";
   *
   * const client = createClient();
   * await client.close({ signal: AbortSignal.timeout(1000) });
   * await client.fetch("http://127.0.0.1:1/").catch((e) => console.log(e.code)); // CLIENT_CLOSED
   * ```
   */
  async close(options: CloseOptions = {}): Promise<void> {
    if (typeof options !== "object" || options === null) {
      invalidOption("options", "an object", options, "close client", true);
    }
    const { signal } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      invalidOption("signal", "an AbortSignal", signal, "close client", true);
    }
    this.#closed = true;
    const pools = [...this.#origins.values()].map((entry) => entry.pool);
    const closed = Promise.all(pools.map((pool) => pool.close()));
    if (signal === undefined) {
      await closed;
      return;
    }
    const destroy = () => {
      for (const pool of pools) pool.destroy();
    };
    if (signal.aborted) destroy();
    else signal.addEventListener("abort", destroy, { once: true });
    try {
      await closed;
    } finally {
      signal.removeEventListener("abort", destroy);
    }
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

function closedError(url: URL): FetchError {
  return new FetchError("the client is closed", {
    stage: "unsent",
    code: "CLIENT_CLOSED",
    origin: url.origin,
  });
}

/** Adds one origin's counters to running totals. */
function addOrigin(into: ForgottenTotals, o: OriginStats): void {
  into.connectionsOpened += o.connectionsOpened;
  into.requestsSent += o.requestsSent;
  into.requestsOnReusedConnections += o.requestsOnReusedConnections;
  into.requestsPipelined += o.requestsPipelined;
  into.queuedRequests += o.queuedRequests;
  into.queueWaitTotal += o.queueWaitTotal;
  for (const key of Object.keys(o.evictions) as (keyof EvictionStats)[]) {
    into.evictions[key] += o.evictions[key];
  }
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

function bytesStream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes);
      controller.close();
    },
  });
}
