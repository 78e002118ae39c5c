// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The per-origin connection pool: a bounded set of HTTP/1.1 connections to
 * one origin (scheme, host, port), a FIFO queue of requests waiting for one,
 * and the keep-alive lifecycle of each connection.
 *
 * RFC 9112 §9.4 asks a client to limit the connections it keeps open to one
 * server; the pool never has more than `maxConnections` open or opening.
 * A request takes, in this order: the idle connection used most recently, a
 * new connection while under the bound, the connection with the fewest
 * requests in flight below the pipelining depth (when the request may be
 * pipelined), or a place in the queue.
 *
 * Users reach the pool through {@linkcode https://jsr.io/@pooled/fetch/doc/~/createClient | createClient};
 * its statistics are {@linkcode OriginStats}.
 *
 * @module
 */

import {
  type CloseReason,
  Connection,
  type ConnectionHost,
  type ConnectionSettings,
} from "./_connection.ts";
import type {
  Dispatcher,
  DispatchOptions,
  DispatchRequest,
  DispatchResult,
} from "./_dispatch.ts";
import {
  dial,
  type DialTarget,
  type DialTlsOptions,
  type TransportSettings,
} from "./_dial.ts";
import {
  ClientDestroyed,
  Exchange,
  lastConnectionIdGiven,
} from "./_exchange.ts";
import { Http1RequestEncoder } from "./_http1_request.ts";
import type { ProxyEndpoint, Route } from "./_proxy_env.ts";
import {
  type ConnectionTelemetry,
  NOOP_TELEMETRY,
  type PoolTelemetry,
} from "./_telemetry.ts";
import { FetchError } from "./errors.ts";

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

/** Eviction counts, all zero. */
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
}

/** Settings of a pool; the client derives them from its options. */
export interface PoolSettings {
  /** Bound on open + opening connections. */
  maxConnections: number;
  /** Requests in flight per connection (1 = no pipelining). */
  pipelining: number;
  /** Milliseconds an idle connection is kept. */
  idleTimeout: number;
  /** Milliseconds to open a connection (TCP and TLS). */
  connectTimeout: number;
  /** Requests allowed to wait; more fail at once. */
  maxQueue: number;
  /** Milliseconds a request may wait in the queue. */
  queueTimeout: number;
  /** Milliseconds pipelining stays off after an origin broke it. */
  pipelinePenalty: number;
  /** Milliseconds after which a connection takes no new request. */
  maxConnectionAge: number;
  /** TLS settings, for https origins. */
  tls: DialTlsOptions;
  /** Routes (proxies, Unix sockets), the custom dialer, TCP keep-alive. */
  transport: TransportSettings;
  /** Settings for each connection. */
  connection: Omit<ConnectionSettings, "origin">;
  /**
   * Called each time the pool becomes empty: nothing open, opening or
   * queued. Its owner may then forget it once it has stayed so.
   */
  onEmpty?: (pool: Pool) => void;
  /**
   * Where the pool reports connections opened, active, idle and closed,
   * queue waits and evictions (OpenTelemetry metrics).
   *
   * @default {a no-op}
   */
  telemetry?: PoolTelemetry;
}

const NOOP_POOL_TELEMETRY: PoolTelemetry = NOOP_TELEMETRY.pool("");

/** Why a connect was abandoned when no failure is to be counted. */
const NOT_NEEDED = new DOMException(
  "No queued request needs this connection any more",
  "AbortError",
);
const CLIENT_CLOSED = new DOMException("The client was closed", "AbortError");

/** Margin kept below the server's `Keep-Alive: timeout`, in milliseconds. */
const KEEP_ALIVE_MARGIN = 1000;

/**
 * The connections and the queue for one origin.
 *
 * @example Usage
 * ```ts ignore
 * // Pools are made by the client, one per origin; use createClient().
 * ```
 */
export class Pool implements ConnectionHost, Dispatcher {
  /** `scheme://host:port`. */
  readonly origin: string;
  /** The route's display string, for stats. */
  readonly route: string;
  #target: DialTarget;
  #route: Route;
  /**
   * The proxy, when requests go to an HTTP(S) proxy in absolute-form (an
   * `http:` origin through it): they carry its credentials, and are never
   * pipelined, since the peer is the proxy, not the origin.
   */
  #forwardProxy: ProxyEndpoint | undefined;
  #settings: PoolSettings;
  /** Connections' background tasks (relays) still running, by connection. */
  #dialed = new WeakMap<Connection, Promise<void>>();
  #tasks = new Set<Promise<void>>();
  #connectionSettings: ConnectionSettings;
  /** Open connections, each with the handle its state changes go to. */
  #conns = new Map<Connection, ConnectionTelemetry>();
  #telemetry: PoolTelemetry;
  #idle: Connection[] = [];
  #connecting = new Set<AbortController>();
  #queue: Exchange[] = [];
  #queueHead = 0;
  #closing = false;
  #draining = false;
  #closed: Promise<void> | null = null;
  #resolveClosed: (() => void) | null = null;
  #pipelineBannedUntil = 0;
  #encoder: Http1RequestEncoder;
  /** When the pool last became empty (`Date.now()`), or 0 while in use. */
  emptySince = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  #idleTimerDue = Infinity;
  #stats = {
    connectionsOpened: 0,
    connectFailures: 0,
    requestsSent: 0,
    requestsOnReusedConnections: 0,
    requestsPipelined: 0,
    pipeliningSuspensions: 0,
    queuedRequests: 0,
    queueWaitTotal: 0,
    queueWaitMax: 0,
    evictions: noEvictions(),
  };

  /** Creates the pool for `url`'s origin. */
  constructor(url: URL, settings: PoolSettings) {
    const tls = url.protocol === "https:";
    const port = url.port === "" ? (tls ? 443 : 80) : Number(url.port);
    this.origin = `${url.protocol}//${url.hostname}:${port}`;
    const hostname = url.hostname.startsWith("[")
      ? url.hostname.slice(1, -1)
      : url.hostname;
    this.#target = { protocol: url.protocol, hostname, port };
    this.#route = settings.transport.router.routeFor(url);
    this.route = this.#route.display;
    const proxy = this.#route.kind === "proxy" ? this.#route.proxy : undefined;
    if (
      !tls && proxy !== undefined &&
      (proxy.protocol === "http" || proxy.protocol === "https")
    ) {
      this.#forwardProxy = proxy;
      settings = { ...settings, pipelining: 1 };
    }
    this.#encoder = new Http1RequestEncoder(this.#forwardProxy);
    this.#settings = settings;
    this.#telemetry = settings.telemetry ?? NOOP_POOL_TELEMETRY;
    this.#connectionSettings = {
      ...settings.connection,
      origin: this.origin,
    };
  }

  /** Whether the pool has nothing open, opening or queued. */
  get empty(): boolean {
    return this.#conns.size === 0 && this.#connecting.size === 0 &&
      this.#queueLength === 0;
  }

  get #queueLength(): number {
    return this.#queue.length - this.#queueHead;
  }

  /**
   * Sends one attempt of `request` on a connection as soon as one can take
   * it: an idle one, a new one, a pipelined one, or after waiting in the
   * queue.
   */
  dispatch(
    request: DispatchRequest,
    options: DispatchOptions,
  ): Promise<DispatchResult> {
    if (this.#closing) return Promise.reject(this.#closedError());
    const exchange = new Exchange(
      request,
      options.pipelinable,
      options.signal,
      options.headersTimeout,
      options.bodyTimeout,
      options.freshConnection ? lastConnectionIdGiven() : -1,
    );
    this.emptySince = 0;
    if (this.#queueLength === 0 && exchange.freshAfter === -1) {
      const conn = this.#takeIdle(-1) ??
        this.#takeForPipelining(exchange, true);
      if (conn !== null) {
        this.#send(conn, exchange);
        return exchange.promise;
      }
    }
    if (this.#queueLength >= this.#settings.maxQueue) {
      exchange.fail(
        new FetchError(
          `the queue is full (maxQueue ${this.#settings.maxQueue} requests waiting for one of maxConnectionsPerOrigin ${this.#settings.maxConnections} connections)`,
          { stage: "unsent", code: "QUEUE_FULL", origin: this.origin },
        ),
      );
      return exchange.promise;
    }
    this.#enqueue(exchange);
    this.#drain();
    return exchange.promise;
  }

  #closedError(): FetchError {
    return new FetchError("the client is closed", {
      stage: "unsent",
      code: "CLIENT_CLOSED",
      origin: this.origin,
    });
  }

  #enqueue(exchange: Exchange): void {
    this.#queue.push(exchange);
    exchange.queuedAt = Date.now();
    this.#stats.queuedRequests++;
    this.#telemetry.queued();
    if (exchange.signal !== undefined) {
      exchange.onAbort = () => {
        if (this.#dequeue(exchange)) {
          exchange.fail(exchange.signal!.reason);
          // Nobody else waits for a connection being opened: stop opening it.
          if (this.#connecting.size > this.#queueLength) {
            const last = [...this.#connecting].pop()!;
            last.abort(NOT_NEEDED);
          }
        }
      };
    }
    if (this.#settings.queueTimeout !== Infinity) {
      const timer = setTimeout(() => {
        if (this.#dequeue(exchange)) {
          exchange.fail(
            new FetchError(
              `the request waited longer than queueTimeout (${this.#settings.queueTimeout} ms) for one of maxConnectionsPerOrigin ${this.#settings.maxConnections} connections`,
              { stage: "unsent", code: "QUEUE_TIMEOUT", origin: this.origin },
            ),
          );
        }
      }, this.#settings.queueTimeout);
      Deno.unrefTimer(timer);
      exchange.promise.then(
        () => clearTimeout(timer),
        () => clearTimeout(timer),
      );
    }
  }

  /** Removes `exchange` from the queue; false when it was not queued. */
  #dequeue(exchange: Exchange): boolean {
    const index = this.#queue.indexOf(exchange, this.#queueHead);
    if (index === -1) return false;
    this.#queue.splice(index, 1);
    this.#telemetry.dequeued(Date.now() - exchange.queuedAt);
    return true;
  }

  #shift(): Exchange {
    const exchange = this.#queue[this.#queueHead];
    this.#queueHead++;
    if (this.#queueHead > 64 && this.#queueHead * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#queueHead);
      this.#queueHead = 0;
    }
    const waited = Date.now() - exchange.queuedAt;
    exchange.queueWait = waited;
    this.#stats.queueWaitTotal += waited;
    if (waited > this.#stats.queueWaitMax) this.#stats.queueWaitMax = waited;
    this.#telemetry.dequeued(waited);
    return exchange;
  }

  /** Gives queued requests to connections, and opens connections for them. */
  #drain(): void {
    // Closing a connection below calls back into closed(), which drains:
    // one loop at a time.
    if (this.#draining) return;
    this.#draining = true;
    try {
      this.#drainLoop();
    } finally {
      this.#draining = false;
    }
    if (this.#closing) this.#closeIfDone();
  }

  #drainLoop(): void {
    while (this.#queueLength > 0) {
      const head = this.#queue[this.#queueHead];
      const idle = this.#takeIdle(head.freshAfter);
      if (idle !== null) {
        this.#send(idle, this.#shift());
        continue;
      }
      const waiting = this.#queueLength;
      if (waiting <= this.#connecting.size) break;
      if (
        this.#conns.size + this.#connecting.size < this.#settings.maxConnections
      ) {
        this.#open();
        continue;
      }
      if (head.freshAfter !== -1) {
        // At the bound, and the request must not go on a kept-alive
        // connection (its sibling just died under it): make room by closing
        // the least recently used idle one, whose liveness is in doubt too.
        const sibling = this.#idle.shift();
        if (sibling === undefined) break;
        sibling.close("not-reusable");
        continue;
      }
      const conn = this.#takeForPipelining(head, false);
      if (conn === null) break;
      this.#send(conn, this.#shift());
    }
  }

  #send(conn: Connection, exchange: Exchange): void {
    this.#stats.requestsSent++;
    if (conn.requests > 0) this.#stats.requestsOnReusedConnections++;
    if (conn.inFlight > 0) this.#stats.requestsPipelined++;
    else this.#conns.get(conn)?.active();
    exchange.bytes = this.#encoder.encode(exchange.request);
    conn.send(exchange);
  }

  /**
   * The most recently used idle connection that is still good, or null.
   * With `freshAfter` other than -1, only one opened after that connection.
   */
  #takeIdle(freshAfter: number): Connection | null {
    const now = Date.now();
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const conn = this.#idle[i];
      if (!conn.accepting || conn.inFlight > 0) {
        this.#idle.splice(i, 1);
        continue;
      }
      if (now >= this.#expiry(conn)) {
        this.#idle.splice(i, 1);
        this.#evict(conn, this.#expiryReason(conn));
        continue;
      }
      if (conn.id <= freshAfter) continue;
      this.#idle.splice(i, 1);
      return conn;
    }
    return null;
  }

  /**
   * A busy connection that may take `exchange` pipelined: the one with the
   * fewest requests in flight below the depth. With `onlyWhenFull`, only
   * when no new connection may be opened (a new one is preferred).
   */
  #takeForPipelining(
    exchange: Exchange,
    onlyWhenFull: boolean,
  ): Connection | null {
    if (
      this.#settings.pipelining <= 1 || !exchange.pipelinable ||
      exchange.stream !== null
    ) {
      return null;
    }
    const now = Date.now();
    if (now < this.#pipelineBannedUntil) return null;
    if (
      onlyWhenFull &&
      this.#conns.size + this.#connecting.size < this.#settings.maxConnections
    ) {
      return null;
    }
    let best: Connection | null = null;
    for (const conn of this.#conns.keys()) {
      const inFlight = conn.inFlight;
      if (
        inFlight > 0 && inFlight < this.#settings.pipelining &&
        conn.canPipeline && !this.#tooOld(conn, now)
      ) {
        // A connection about to write takes the request into that same
        // write; otherwise the least loaded one.
        if (conn.writePending) return conn;
        if (best === null || inFlight < best.inFlight) best = conn;
      }
    }
    return best;
  }

  /** When an idle connection expires (`Date.now()` time). */
  #expiry(conn: Connection): number {
    let due = conn.idleSince + this.#settings.idleTimeout;
    if (conn.keepAliveTimeout !== undefined) {
      due = Math.min(
        due,
        conn.idleSince + conn.keepAliveTimeout - KEEP_ALIVE_MARGIN,
      );
    }
    return Math.min(due, conn.openedAt + this.#settings.maxConnectionAge);
  }

  /** Which limit expired an idle connection. */
  #expiryReason(conn: Connection): CloseReason {
    if (this.#tooOld(conn, Date.now())) return "max-age";
    return conn.keepAliveTimeout !== undefined &&
        conn.keepAliveTimeout - KEEP_ALIVE_MARGIN < this.#settings.idleTimeout
      ? "keep-alive-timeout"
      : "idle-timeout";
  }

  /**
   * Whether `conn` is older than `maxConnectionAge`: it takes no new
   * request, so that a new connection resolves the name again.
   */
  #tooOld(conn: Connection, now: number): boolean {
    return now - conn.openedAt >= this.#settings.maxConnectionAge;
  }

  #evict(conn: Connection, reason: CloseReason): void {
    conn.close(reason);
  }

  #open(): void {
    const controller = new AbortController();
    this.#connecting.add(controller);
    const timeout = setTimeout(() => {
      controller.abort(
        new DOMException(
          `timed out after connectTimeout (${this.#settings.connectTimeout} ms)`,
          "TimeoutError",
        ),
      );
    }, this.#settings.connectTimeout);
    const { transport, tls, connection } = this.#settings;
    dial(this.#target, {
      route: this.#route,
      signal: controller.signal,
      tls,
      tcpKeepAlive: transport.tcpKeepAlive,
      connect: transport.connect,
      maxHeaderSize: connection.limits.maxHeaderSize,
    }).then(
      (dialed) => {
        clearTimeout(timeout);
        this.#connecting.delete(controller);
        this.#track(dialed.closed);
        if (controller.signal.aborted) {
          dialed.conn.close();
          this.#drain();
          return;
        }
        const conn = Connection.open(
          dialed.conn,
          this.#connectionSettings,
          this,
        );
        this.#conns.set(conn, this.#telemetry.connectionOpened("1.1", "idle"));
        this.#stats.connectionsOpened++;
        this.#idle.push(conn);
        this.#drain();
        if (conn.inFlight === 0) this.#armIdleTimer(conn);
      },
      (error) => {
        clearTimeout(timeout);
        this.#connecting.delete(controller);
        if (error !== NOT_NEEDED && error !== CLIENT_CLOSED) {
          this.#stats.connectFailures++;
        }
        this.#connectFailed(error);
      },
    );
  }

  /**
   * Keeps a connection's background task (a relay's pump) until it ends,
   * so that `close()` resolves only once nothing of ours runs.
   */
  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /** Fails the request that waited longest, the one the connection was for. */
  #connectFailed(error: unknown): void {
    if (this.#queueLength > this.#connecting.size) {
      this.#shift().fail(connectFailure(error, this.origin));
    }
    this.#drain();
    this.#checkEmpty();
  }

  // ---- ConnectionHost ----------------------------------------------------

  /** A connection finished a response and can take more. */
  released(conn: Connection): void {
    if (conn.inFlight === 0) this.#conns.get(conn)?.idle();
    if (this.#tooOld(conn, Date.now())) {
      conn.close("max-age");
      if (this.#queueLength > 0) this.#drain();
      return;
    }
    if (conn.inFlight === 0) {
      this.#idle.push(conn);
      this.#drain();
      if (conn.inFlight === 0) {
        if (this.#closing && this.#queueLength === 0) {
          conn.close("client-closed");
        } else {
          this.#armIdleTimer(conn);
        }
      }
    } else if (this.#queueLength > 0) {
      this.#drain();
    }
  }

  /** A connection closed; forget it and serve the queue elsewhere. */
  closed(conn: Connection, reason: CloseReason, pipelineFailed: boolean): void {
    this.#conns.get(conn)?.closed();
    this.#conns.delete(conn);
    const idleIndex = this.#idle.indexOf(conn);
    if (idleIndex !== -1) this.#idle.splice(idleIndex, 1);
    const evicted = evictionOf(reason, idleIndex !== -1);
    if (evicted !== undefined) {
      this.#stats.evictions[evicted]++;
      this.#telemetry.evicted(evicted);
    }
    if (pipelineFailed && this.#settings.pipelining > 1) {
      if (Date.now() >= this.#pipelineBannedUntil) {
        this.#stats.pipeliningSuspensions++;
      }
      this.#pipelineBannedUntil = Date.now() + this.#settings.pipelinePenalty;
    }
    if (this.#idle.length === 0) this.#disarmIdleTimer();
    this.#drain();
    this.#checkEmpty();
  }

  // ---- idle timer --------------------------------------------------------

  /** Makes sure the idle timer fires by the time `conn` expires. */
  #armIdleTimer(conn: Connection): void {
    const due = this.#expiry(conn);
    if (due >= this.#idleTimerDue) return;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimerDue = due;
    const timer = setTimeout(this.#sweep, Math.max(0, due - Date.now()));
    Deno.unrefTimer(timer);
    this.#idleTimer = timer;
  }

  /** With no idle connection left, nothing is due: no timer may stay armed. */
  #disarmIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    this.#idleTimerDue = Infinity;
  }

  /** Tells the owner when nothing is open, opening or queued any more. */
  #checkEmpty(): void {
    if (this.emptySince === 0 && this.empty && !this.#closing) {
      this.emptySince = Date.now();
      this.#settings.onEmpty?.(this);
    }
  }

  #sweep = (): void => {
    this.#idleTimer = undefined;
    this.#idleTimerDue = Infinity;
    const now = Date.now();
    let next: Connection | null = null;
    let nextAt = Infinity;
    for (const conn of [...this.#idle]) {
      const expiry = this.#expiry(conn);
      if (now >= expiry) {
        this.#evict(conn, this.#expiryReason(conn));
      } else if (expiry < nextAt) {
        nextAt = expiry;
        next = conn;
      }
    }
    if (next !== null) this.#armIdleTimer(next);
  };

  // ---- lifecycle ---------------------------------------------------------

  /**
   * Stops taking new requests, lets queued and in-flight ones finish, then
   * closes every connection. Resolves when all are closed.
   */
  close(): Promise<void> {
    if (this.#closed !== null) return this.#closed;
    this.#closing = true;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    for (const conn of [...this.#idle]) conn.close("client-closed");
    this.#idle = [];
    this.#closeIfDone();
    return this.#closed;
  }

  #closeIfDone(): void {
    if (this.#queueLength > 0) return;
    for (const conn of this.#conns.keys()) {
      if (conn.inFlight === 0) conn.close("client-closed");
    }
    for (const controller of this.#connecting) {
      controller.abort(CLIENT_CLOSED);
    }
    if (this.#conns.size === 0 && this.#connecting.size === 0) {
      this.#disarmIdleTimer();
      const resolve = this.#resolveClosed;
      this.#resolveClosed = null;
      if (resolve !== null) {
        // Relays stop once their connection closed: wait for them too.
        Promise.all(this.#tasks).then(() => resolve());
      }
    }
  }

  /**
   * Ends everything at once: queued requests fail, connections being opened
   * are abandoned, and every connection is closed, failing what it carries
   * with `CLIENT_CLOSED`. Used when `close({ signal })` is aborted.
   */
  destroy(): void {
    this.#closing = true;
    const destroyed = new ClientDestroyed();
    while (this.#queueLength > 0) {
      this.#shift().fail(
        new FetchError(destroyed.message, {
          stage: "unsent",
          code: "CLIENT_CLOSED",
          origin: this.origin,
          cause: destroyed,
        }),
      );
    }
    for (const controller of this.#connecting) controller.abort(CLIENT_CLOSED);
    for (const conn of [...this.#conns.keys()]) {
      conn.destroy("client-closed", destroyed);
    }
    this.#closeIfDone();
  }

  /** A snapshot of this pool's statistics. */
  stats(): OriginStats {
    let idle = 0;
    let busy = 0;
    for (const conn of this.#conns.keys()) {
      if (conn.inFlight === 0) idle++;
      else busy++;
    }
    const s = this.#stats;
    return {
      origin: this.origin,
      route: this.route,
      open: this.#conns.size,
      idle,
      busy,
      connecting: this.#connecting.size,
      queued: this.#queueLength,
      connectionsOpened: s.connectionsOpened,
      connectFailures: s.connectFailures,
      requestsSent: s.requestsSent,
      requestsOnReusedConnections: s.requestsOnReusedConnections,
      requestsPipelined: s.requestsPipelined,
      pipelining: this.#settings.pipelining > 1 &&
        Date.now() >= this.#pipelineBannedUntil,
      pipeliningSuspensions: s.pipeliningSuspensions,
      evictions: { ...s.evictions },
      queuedRequests: s.queuedRequests,
      queueWaitTotal: s.queueWaitTotal,
      queueWaitMax: s.queueWaitMax,
    };
  }
}

/**
 * The eviction a close counts as, if any: the idle limits, the server's
 * `Keep-Alive: max`, and the server closing a connection while it was idle.
 */
function evictionOf(
  reason: CloseReason,
  wasIdle: boolean,
): keyof EvictionStats | undefined {
  switch (reason) {
    case "idle-timeout":
      return "idleTimeout";
    case "keep-alive-timeout":
      return "keepAliveTimeout";
    case "max-requests":
      return "maxRequests";
    case "server-closed":
      return wasIdle ? "serverClosed" : undefined;
    case "unsolicited-bytes":
      return "unsolicitedBytes";
    case "max-age":
      return "maxConnectionAge";
    default:
      return undefined;
  }
}

/**
 * The failure of a request whose connection could not be opened. `dial()`
 * classifies its own failures; anything else (a reason it passed through)
 * is a plain connect failure.
 */
function connectFailure(error: unknown, origin: string): FetchError {
  if (error instanceof FetchError) return error;
  return new FetchError(
    `could not connect (${
      error instanceof Error ? error.message : String(error)
    })`,
    { stage: "connect", code: "CONNECT_FAILED", origin, cause: error },
  );
}
