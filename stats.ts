// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The shapes of `client.stats()`: per-origin pool statistics and totals
 * since the client was created.
 *
 * @module
 */

import type { RetryReason } from "./retry.ts";

/** Why idle connections were evicted, with counts. */
export interface EvictionStats {
  /** Idle longer than `idleTimeout`. */
  idleTimeout: number;
  /** Idle up to the server's `Keep-Alive: timeout`, less a safety margin. */
  keepAliveTimeout: number;
  /** Carried `maxRequestsPerConnection` or the server's `Keep-Alive: max`. */
  maxRequests: number;
  /** Closed by the server while idle (EOF or reset). */
  serverClosed: number;
  /** Bytes arrived on an idle connection (a 408, or garbage). */
  unsolicitedBytes: number;
  /** Older than `maxConnectionAge`. */
  maxConnectionAge: number;
}

/** Eviction counts, all zero (internal: for the pool and the client). */
export function noEvictions(): EvictionStats {
  return {
    idleTimeout: 0,
    keepAliveTimeout: 0,
    maxRequests: 0,
    serverClosed: 0,
    unsolicitedBytes: 0,
    maxConnectionAge: 0,
  };
}

/** Statistics of one origin's pool. Counts are since the pool was created. */
export interface OriginStats {
  /** `scheme://host:port`. */
  origin: string;
  /**
   * How the origin is reached: `direct`, the proxy URL without credentials
   * (`http://proxy:3128`), or `unix:<path>`. `direct` also when the
   * environment names a proxy that this process may not read.
   */
  route: string;
  /** Connections open now (idle or busy), not counting ones connecting. */
  open: number;
  /** Open connections with nothing in flight. */
  idle: number;
  /** Open connections with at least one request in flight. */
  busy: number;
  /** Connections being opened now. */
  connecting: number;
  /** Requests waiting for a connection now. */
  queued: number;
  /** Connections opened successfully. */
  connectionsOpened: number;
  /** Connection attempts that failed. */
  connectFailures: number;
  /** Requests written to a connection (every attempt counts). */
  requestsSent: number;
  /** Requests written to a connection that had carried one before. */
  requestsOnReusedConnections: number;
  /** Requests written behind another one still unanswered. */
  requestsPipelined: number;
  /** Whether pipelining to this origin is currently allowed. */
  pipelining: boolean;
  /** Times pipelining to this origin was suspended after a failure. */
  pipeliningSuspensions: number;
  /** Idle connections closed, by reason. */
  evictions: EvictionStats;
  /** Requests that waited in the queue. */
  queuedRequests: number;
  /** Total milliseconds requests spent in the queue. */
  queueWaitTotal: number;
  /** Longest time a request spent in the queue, in milliseconds. */
  queueWaitMax: number;
  /**
   * The protocol of the origin's connections: `"http/1.1"`, `"h2"`, or
   * `"unknown"` before the first connection told.
   */
  protocol: "http/1.1" | "h2" | "unknown";
  /** HTTP/2 sessions open now (counted in `open` too). */
  sessions: number;
  /** HTTP/2 streams in flight now, over every session. */
  streams: number;
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
