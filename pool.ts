// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The per-origin connection pool: a bounded set of connections to one origin
 * (scheme, host, port), HTTP/1.1 connections or HTTP/2 sessions, a FIFO
 * queue of requests waiting for one, and the keep-alive lifecycle of each.
 *
 * RFC 9112 §9.4 asks a client to limit the connections it keeps open to one
 * server; the pool never has more than `maxConnections` open or opening.
 * A request takes, in this order: an HTTP/2 session with a free stream, the
 * idle HTTP/1.1 connection used most recently, a new connection while under
 * the bound, the connection with the fewest requests in flight below the
 * pipelining depth (when the request may be pipelined), or a place in the
 * queue. While the first connection to an origin that may speak HTTP/2 is
 * being opened, requests wait for its ALPN answer instead of each opening a
 * connection: an HTTP/2 session then carries them all.
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
import {
  Http2Session,
  type SessionHost,
  type SessionSettings,
} from "./_http2_session.ts";
import type { ProxyEndpoint, Route } from "./_proxy_env.ts";
import {
  type ConnectionTelemetry,
  NOOP_TELEMETRY,
  type PoolTelemetry,
} from "./_telemetry.ts";
import { WaitQueue } from "./_wait_queue.ts";
import { FetchError } from "./errors.ts";
import { type EvictionStats, noEvictions, type OriginStats } from "./stats.ts";

/** Settings of a pool; the client derives them from its options. */
export interface PoolSettings {
  /** Bound on open + opening connections (HTTP/2 sessions included). */
  maxConnections: number;
  /** Requests in flight per HTTP/1.1 connection (1 = no pipelining). */
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
  /** Whether HTTP/1.1 may be spoken. */
  http1: boolean;
  /** Whether HTTP/2 may be spoken (ALPN for https:, h2c if not http1). */
  http2: boolean;
  /** Our cap on streams per HTTP/2 session. */
  maxConcurrentStreams: number;
  /** Milliseconds of silence after which a session is PINGed before reuse. */
  pingAfterIdle: number;
  /** TLS settings, for https origins. */
  tls: DialTlsOptions;
  /** Routes (proxies, Unix sockets), the custom dialer, TCP keep-alive. */
  transport: TransportSettings;
  /** Settings for each HTTP/1.1 connection. */
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

/** The least each HTTP/2 stream reads ahead of the caller, in bytes. */
const H2_STREAM_WINDOW = 1024 * 1024;

/** Margin kept below the server's `Keep-Alive: timeout`, in milliseconds. */
const KEEP_ALIVE_MARGIN = 1000;

/** What the idle lifecycle needs of an HTTP/1.1 connection or a session. */
interface Carrier {
  readonly openedAt: number;
  idleSince: number;
  keepAliveTimeout?: number;
  close(reason: CloseReason): void;
}

/**
 * The connections and the queue for one origin: HTTP/1.1 connections
 * (kept alive, pipelined) and HTTP/2 sessions (many streams each) under one
 * bound.
 *
 * @example Usage
 * ```ts ignore
 * // Pools are made by the client, one per origin; use createClient().
 * ```
 */
export class Pool implements ConnectionHost, SessionHost, Dispatcher {
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
  #tasks = new Set<Promise<void>>();
  #connectionSettings: ConnectionSettings;
  #sessionSettings: SessionSettings;
  /** ALPN offered to an https: origin; undefined for cleartext. */
  #alpn: string[] | undefined;
  /** Whether cleartext connections speak HTTP/2 with prior knowledge. */
  #h2c: boolean;
  /** What the origin speaks, once a connection told. */
  #protocol: "http/1.1" | "h2" | "unknown" = "unknown";
  /** Open HTTP/1.1 connections, each with its telemetry handle. */
  #conns = new Map<Connection, ConnectionTelemetry>();
  /** Open HTTP/2 sessions, each with its telemetry handle. */
  #sessions = new Map<Http2Session, ConnectionTelemetry>();
  #telemetry: PoolTelemetry;
  #idle: Connection[] = [];
  #connecting = new Set<AbortController>();
  #queue: WaitQueue;
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
    const { http1, http2 } = settings;
    this.#alpn = !tls
      ? undefined
      : http1 && http2
      ? ["h2", "http/1.1"]
      : http2
      ? ["h2"]
      : ["http/1.1"];
    this.#h2c = !tls && !http1 && this.#forwardProxy === undefined;
    if (!http2 || (!tls && http1)) this.#protocol = "http/1.1";
    this.#encoder = new Http1RequestEncoder(this.#forwardProxy);
    this.#settings = settings;
    this.#telemetry = settings.telemetry ?? NOOP_POOL_TELEMETRY;
    this.#connectionSettings = { ...settings.connection, origin: this.origin };
    this.#sessionSettings = {
      origin: this.origin,
      scheme: tls ? "https" : "http",
      maxConcurrentStreams: settings.maxConcurrentStreams,
      maxHeaderListSize: settings.connection.limits.maxHeaderSize,
      readAhead: settings.connection.readAhead,
      // hyper (the built-in fetch) reads 2 MiB ahead per stream; a small
      // window costs a round trip per refill, and some servers (Deno.serve)
      // stall on each.
      streamWindow: Math.max(settings.connection.readAhead, H2_STREAM_WINDOW),
      pingAfterIdle: settings.pingAfterIdle,
    };
    this.#queue = new WaitQueue({
      queueTimeout: settings.queueTimeout,
      telemetry: this.#telemetry,
      aborted: () => {
        // Nobody else waits for a connection being opened: stop opening it.
        if (this.#connecting.size > this.#queue.length) {
          [...this.#connecting].pop()!.abort(NOT_NEEDED);
        }
      },
      timedOut: (exchange) =>
        exchange.fail(
          new FetchError(
            `the request waited longer than queueTimeout (${settings.queueTimeout} ms) for one of maxConnectionsPerOrigin ${settings.maxConnections} connections`,
            { stage: "unsent", code: "QUEUE_TIMEOUT", origin: this.origin },
          ),
        ),
    });
  }

  /** Whether the pool has nothing open, opening or queued. */
  get empty(): boolean {
    return this.#open === 0 && this.#connecting.size === 0 &&
      this.#queue.length === 0;
  }

  /** Connections and sessions open. */
  get #open(): number {
    return this.#conns.size + this.#sessions.size;
  }

  /** Whether one more connection may be opened. */
  get #underBound(): boolean {
    return this.#open + this.#connecting.size < this.#settings.maxConnections;
  }

  /**
   * Sends one attempt of `request` as soon as a connection can take it: an
   * HTTP/2 session with a free stream, an idle HTTP/1.1 connection, a new
   * connection, a pipelined one, or after waiting in the queue.
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
    if (this.#queue.length === 0 && exchange.freshAfter === -1) {
      const session = this.#sessions.size === 0 ? null : this.#takeSession(-1);
      if (session !== null) {
        this.#sendOnSession(session, exchange);
        return exchange.promise;
      }
      const conn = this.#takeIdle(-1) ??
        this.#takeForPipelining(exchange, true);
      if (conn !== null) {
        this.#send(conn, exchange);
        return exchange.promise;
      }
    }
    if (this.#queue.length >= this.#settings.maxQueue) {
      exchange.fail(
        new FetchError(
          `the queue is full (maxQueue ${this.#settings.maxQueue} requests waiting for one of maxConnectionsPerOrigin ${this.#settings.maxConnections} connections)`,
          { stage: "unsent", code: "QUEUE_FULL", origin: this.origin },
        ),
      );
      return exchange.promise;
    }
    this.#queue.push(exchange);
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
    const queue = this.#queue;
    while (queue.length > 0) {
      const head = queue.peek();
      const session = this.#sessions.size === 0
        ? null
        : this.#takeSession(head.freshAfter);
      if (session !== null) {
        this.#sendOnSession(session, queue.shift());
        continue;
      }
      const idle = this.#takeIdle(head.freshAfter);
      if (idle !== null) {
        this.#send(idle, queue.shift());
        continue;
      }
      // A connection being opened may bring an HTTP/2 session, which takes
      // many requests: until it told, a cold burst waits for it rather than
      // opening a connection per request.
      if (this.#connecting.size > 0 && this.#protocol !== "http/1.1") break;
      if (queue.length <= this.#connecting.size) break;
      if (this.#underBound) {
        this.#openConnection();
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
      this.#send(conn, queue.shift());
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

  #sendOnSession(session: Http2Session, exchange: Exchange): void {
    this.#stats.requestsSent++;
    if (session.requests > 0) this.#stats.requestsOnReusedConnections++;
    if (session.activeStreams === 0) this.#sessions.get(session)?.active();
    session.send(exchange);
  }

  /**
   * A session with a free stream (opened after `freshAfter`, when that is
   * not -1); one past `maxConnectionAge` is closed once its streams end.
   */
  #takeSession(freshAfter: number): Http2Session | null {
    const now = Date.now();
    for (const session of this.#sessions.keys()) {
      if (!session.accepting || session.id <= freshAfter) continue;
      if (this.#tooOld(session, now)) {
        session.close("max-age");
        continue;
      }
      if (session.capacity > 0) return session;
    }
    return null;
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
        conn.close(this.#expiryReason(conn));
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
    if (
      this.#pipelineBannedUntil !== 0 &&
      Date.now() < this.#pipelineBannedUntil
    ) {
      return null;
    }
    if (onlyWhenFull && this.#underBound) return null;
    let best: Connection | null = null;
    for (const conn of this.#conns.keys()) {
      const inFlight = conn.inFlight;
      if (
        inFlight > 0 && inFlight < this.#settings.pipelining &&
        conn.canPipeline && !this.#tooOld(conn)
      ) {
        // A connection about to write takes the request into that same
        // write; otherwise the least loaded one.
        if (conn.writePending) return conn;
        if (best === null || inFlight < best.inFlight) best = conn;
      }
    }
    return best;
  }

  /** When an idle connection or session expires (`Date.now()` time). */
  #expiry(carrier: Carrier): number {
    let due = carrier.idleSince + this.#settings.idleTimeout;
    if (carrier.keepAliveTimeout !== undefined) {
      due = Math.min(
        due,
        carrier.idleSince + carrier.keepAliveTimeout - KEEP_ALIVE_MARGIN,
      );
    }
    return Math.min(due, carrier.openedAt + this.#settings.maxConnectionAge);
  }

  /** Which limit expired an idle connection or session. */
  #expiryReason(carrier: Carrier): CloseReason {
    if (this.#tooOld(carrier)) return "max-age";
    return carrier.keepAliveTimeout !== undefined &&
        carrier.keepAliveTimeout - KEEP_ALIVE_MARGIN <
          this.#settings.idleTimeout
      ? "keep-alive-timeout"
      : "idle-timeout";
  }

  /**
   * Whether `carrier` is older than `maxConnectionAge`: it takes no new
   * request, so that a new connection resolves the name again.
   */
  #tooOld(carrier: Carrier, now?: number): boolean {
    const maxAge = this.#settings.maxConnectionAge;
    // Most clients set no age limit: no clock read per request for it.
    if (maxAge === Infinity) return false;
    return (now ?? Date.now()) - carrier.openedAt >= maxAge;
  }

  #openConnection(): void {
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
      alpnProtocols: this.#alpn,
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
        const h2 = dialed.alpnProtocol === "h2" || this.#h2c;
        if (!h2 && !this.#settings.http1) {
          dialed.conn.close();
          this.#stats.connectFailures++;
          this.#connectFailed(
            new FetchError(
              `the server does not speak HTTP/2 (ALPN chose ${
                dialed.alpnProtocol ?? "nothing"
              }) and 'http1' is false`,
              { stage: "connect", code: "CONNECT_FAILED", origin: this.origin },
            ),
          );
          return;
        }
        this.#stats.connectionsOpened++;
        this.#protocol = h2 ? "h2" : "http/1.1";
        if (h2) {
          const session = Http2Session.open(
            dialed.conn,
            this.#sessionSettings,
            this,
          );
          this.#track(session.finished);
          this.#sessions.set(
            session,
            this.#telemetry.connectionOpened("2", "idle"),
          );
          this.#drain();
          if (session.activeStreams === 0) this.#armIdleTimer(session);
          return;
        }
        const conn = Connection.open(
          dialed.conn,
          this.#connectionSettings,
          this,
        );
        this.#conns.set(conn, this.#telemetry.connectionOpened("1.1", "idle"));
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
   * Keeps a connection's background task (a relay's pump, a session's read
   * loop) until it ends, so that `close()` resolves only once nothing of
   * ours runs.
   */
  #track(task: Promise<void>): void {
    this.#tasks.add(task);
    task.finally(() => this.#tasks.delete(task));
  }

  /** Fails the request that waited longest, the one the connection was for. */
  #connectFailed(error: unknown): void {
    if (this.#queue.length > this.#connecting.size) {
      this.#queue.shift().fail(connectFailure(error, this.origin));
    }
    this.#drain();
    this.#checkEmpty();
  }

  // ---- ConnectionHost and SessionHost -------------------------------------

  /** A connection finished a response, or a session a stream. */
  released(carrier: Connection | Http2Session): void {
    if (carrier instanceof Http2Session) {
      this.#releasedSession(carrier);
      return;
    }
    const conn = carrier;
    if (conn.inFlight === 0) this.#conns.get(conn)?.idle();
    if (this.#tooOld(conn)) {
      conn.close("max-age");
      if (this.#queue.length > 0) this.#drain();
      return;
    }
    if (conn.inFlight === 0) {
      this.#idle.push(conn);
      this.#drain();
      if (conn.inFlight === 0) {
        if (this.#closing && this.#queue.length === 0) {
          conn.close("client-closed");
        } else {
          this.#armIdleTimer(conn);
        }
      }
    } else if (this.#queue.length > 0) {
      this.#drain();
    }
  }

  #releasedSession(session: Http2Session): void {
    if (this.#queue.length > 0) this.#drain();
    if (session.activeStreams > 0 || session.closed) return;
    this.#sessions.get(session)?.idle();
    if (this.#tooOld(session)) session.close("max-age");
    else if (this.#closing && this.#queue.length === 0) {
      session.close("client-closed");
    } else this.#armIdleTimer(session);
  }

  /** A session takes no new stream: serve the queue elsewhere. */
  goingAway(_session: Http2Session): void {
    this.#drain();
  }

  /** A connection or session closed; forget it, serve the queue elsewhere. */
  closed(
    carrier: Connection | Http2Session,
    reason: CloseReason,
    pipelineFailed = false,
  ): void {
    let wasIdle: boolean;
    if (carrier instanceof Http2Session) {
      wasIdle = carrier.activeStreams === 0;
      this.#sessions.get(carrier)?.closed();
      this.#sessions.delete(carrier);
    } else {
      this.#conns.get(carrier)?.closed();
      this.#conns.delete(carrier);
      const idleIndex = this.#idle.indexOf(carrier);
      wasIdle = idleIndex !== -1;
      if (wasIdle) this.#idle.splice(idleIndex, 1);
    }
    const evicted = evictionOf(reason, wasIdle);
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
    if (this.#idle.length === 0 && !this.#hasIdleSession()) {
      this.#disarmIdleTimer();
    }
    this.#drain();
    this.#checkEmpty();
  }

  #hasIdleSession(): boolean {
    for (const session of this.#sessions.keys()) {
      if (session.activeStreams === 0) return true;
    }
    return false;
  }

  // ---- idle timer --------------------------------------------------------

  /** Makes sure the idle timer fires by the time `carrier` expires. */
  #armIdleTimer(carrier: Carrier): void {
    const due = this.#expiry(carrier);
    if (due >= this.#idleTimerDue) return;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimerDue = due;
    const timer = setTimeout(this.#sweep, Math.max(0, due - Date.now()));
    Deno.unrefTimer(timer);
    this.#idleTimer = timer;
  }

  /** With nothing idle left, nothing is due: no timer may stay armed. */
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
    let next: Carrier | null = null;
    let nextAt = Infinity;
    const idle: Carrier[] = [...this.#idle];
    for (const session of this.#sessions.keys()) {
      if (session.activeStreams === 0 && !session.closed) idle.push(session);
    }
    for (const carrier of idle) {
      const expiry = this.#expiry(carrier);
      if (now >= expiry) {
        carrier.close(this.#expiryReason(carrier));
      } else if (expiry < nextAt) {
        nextAt = expiry;
        next = carrier;
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
    if (this.#queue.length > 0) return;
    for (const conn of this.#conns.keys()) {
      if (conn.inFlight === 0) conn.close("client-closed");
    }
    // A session closes once its streams end (GOAWAY, then the socket).
    for (const session of this.#sessions.keys()) session.close("client-closed");
    for (const controller of this.#connecting) {
      controller.abort(CLIENT_CLOSED);
    }
    if (this.#open === 0 && this.#connecting.size === 0) {
      this.#disarmIdleTimer();
      const resolve = this.#resolveClosed;
      this.#resolveClosed = null;
      if (resolve !== null) {
        // Relays and read loops stop once their socket closed: wait for them.
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
    while (this.#queue.length > 0) {
      this.#queue.shift().fail(
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
    for (const session of [...this.#sessions.keys()]) {
      session.destroy("client-closed", destroyed);
    }
    this.#closeIfDone();
  }

  /** A snapshot of this pool's statistics. */
  stats(): OriginStats {
    let idle = 0;
    let busy = 0;
    let streams = 0;
    for (const conn of this.#conns.keys()) {
      if (conn.inFlight === 0) idle++;
      else busy++;
    }
    for (const session of this.#sessions.keys()) {
      streams += session.activeStreams;
      if (session.activeStreams === 0) idle++;
      else busy++;
    }
    const s = this.#stats;
    const queue = this.#queue;
    return {
      origin: this.origin,
      route: this.route,
      protocol: this.#protocol,
      open: this.#open,
      idle,
      busy,
      sessions: this.#sessions.size,
      streams,
      connecting: this.#connecting.size,
      queued: queue.length,
      connectionsOpened: s.connectionsOpened,
      connectFailures: s.connectFailures,
      requestsSent: s.requestsSent,
      requestsOnReusedConnections: s.requestsOnReusedConnections,
      requestsPipelined: s.requestsPipelined,
      pipelining: this.#settings.pipelining > 1 &&
        Date.now() >= this.#pipelineBannedUntil,
      pipeliningSuspensions: s.pipeliningSuspensions,
      evictions: { ...s.evictions },
      queuedRequests: queue.waited,
      queueWaitTotal: queue.waitTotal,
      queueWaitMax: queue.waitMax,
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
