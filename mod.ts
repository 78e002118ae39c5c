// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * pooled-fetch: a Deno-native HTTP/1.1 client that speaks the wire itself
 * over `Deno.connect` / `Deno.connectTls`, behind the `fetch` you know.
 *
 * What it adds over the built-in `fetch`:
 * - a bounded socket pool per origin (RFC 9112 §9.4) with a FIFO queue,
 *   keep-alive that follows the server's `Keep-Alive` header, and idle
 *   connections checked for liveness before reuse;
 * - HTTP/1.1 pipelining (`pipelining: N`), only for requests that may be
 *   sent twice;
 * - retries that know which requests may be sent again: a POST is never
 *   sent twice unless it carries an `Idempotency-Key`;
 * - statistics: connections opened, reuse, queue waits, evictions, retries;
 * - OpenTelemetry traces and metrics, when Deno's `OTEL_DENO=true` or an SDK
 *   registered through `@opentelemetry/api` is active: a client span per
 *   request sent, with `traceparent` injected, and the pool's metrics
 *   (`telemetry: false` turns them off).
 *
 * @example Fetch with the shared default client
 * ```ts
 * import { fetch } from "@pooled/fetch";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hello"),
 * );
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(await res.text()); // hello
 * ```
 *
 * @example A client of your own
 * ```ts
 * import { createClient } from "@pooled/fetch";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hello"),
 * );
 * await using client = createClient({
 *   maxConnectionsPerOrigin: 4,
 *   pipelining: 8,
 *   retry: { maxAttempts: 3 },
 * });
 * const res = await client.fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(res.status); // 200
 * await res.body?.cancel();
 * ```
 *
 * @module
 */

import { Client, type FetchInit } from "./client.ts";

export {
  Client,
  type ClientOptions,
  type CloseOptions,
  createClient,
  type FetchInit,
} from "./client.ts";
export {
  FetchError,
  type FetchErrorCode,
  type FetchErrorInit,
  type FetchErrorStage,
} from "./errors.ts";
export type {
  ClientStats,
  ClientTotals,
  EvictionStats,
  OriginStats,
} from "./stats.ts";
export type { ConnectTarget, ProxyOption, TlsOptions } from "./options.ts";
export type { RetryEvent, RetryOptions, RetryReason } from "./retry.ts";

let defaultClient: Client | undefined;

/**
 * Fetches a resource like the web `fetch`, through a client shared by the
 * whole process and created on first use with the default options. Its idle
 * connections never keep the process alive.
 *
 * @param input The URL, or a `Request`.
 * @param init Overrides for the request, as for the web `fetch`.
 * @returns The response.
 * @throws {FetchError} On a network failure (a `TypeError`); its `stage`,
 * `code` and `cause` say what happened.
 * @throws The signal's reason, unchanged, when the request's signal aborts.
 *
 * @example GET text
 * ```ts
 * import { fetch } from "@pooled/fetch";
 *
 * await using server = Deno.serve(
 *   { hostname: "127.0.0.1", port: 0, onListen() {} },
 *   () => new Response("hi"),
 * );
 * const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
 * console.log(res.status, await res.text()); // 200 hi
 * ```
 */
export function fetch(
  input: string | URL | Request,
  init?: FetchInit,
): Promise<Response> {
  defaultClient ??= new Client();
  return defaultClient.fetch(input, init);
}
