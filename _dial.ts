// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Opens the connection for one origin along its route and hands back a
 * `Deno.Conn` ready for HTTP: direct TCP, a custom dialer (`connect`), a
 * Unix socket, an HTTP or HTTPS proxy (absolute-form for `http:` origins,
 * a CONNECT tunnel for `https:` ones), or SOCKS5. For `https:` origins TLS
 * is always ours, on top of whatever carries it, with SNI and name checks
 * for the origin's host, `tls.caCerts`, and the ALPN list the caller gives.
 *
 * ## Which bound applies to proxied connections
 *
 * `maxConnectionsPerOrigin` bounds connections per origin, whatever the
 * route. A CONNECT tunnel or a SOCKS5 connection carries one origin by
 * construction. For `http:` origins through an HTTP proxy, where requests
 * go in absolute-form on the connection to the proxy itself, the pool still
 * keeps that connection in the origin's pool and sends only that origin's
 * requests on it: the queue, keep-alive and statistics stay per origin, and
 * a proxy serving N origins sees up to N × `maxConnectionsPerOrigin`
 * connections from one client. Those connections are kept alive but never
 * pipelined: the peer is the proxy, whose pipelining is not the origin's.
 * Go's `Transport` shares them per proxy instead (its connection key drops
 * the target for `http:` through an HTTP proxy); per origin keeps one
 * bound, one queue and one set of statistics per origin whatever the route,
 * at the cost of more connections to a proxy that serves many origins.
 *
 * ## What Deno's TLS can and cannot do here
 *
 * `Deno.startTls` takes only a TCP connection Deno made, and no client
 * certificate; `Deno.connectTls` takes a client certificate but dials the
 * host itself. So:
 * - TLS inside a TLS connection to an HTTPS proxy, over a Unix socket, or
 *   over a connection from the `connect` dialer runs over a loopback relay
 *   (`_relay.ts`), which needs `--allow-net=127.0.0.1`;
 * - a client certificate (mTLS) works direct only. Through a proxy, over a
 *   Unix socket or over the dialer's connection the dial fails with
 *   `TLS_FAILED` saying so; {@linkcode parseTransportOptions} rejects an
 *   explicit proxy or dialer with `tls.cert` when the client is created.
 *   Nothing falls back to a connection without the certificate;
 * - connections from `Deno.connectTls` (direct mTLS) expose no
 *   `setKeepAlive`, so they go without TCP keep-alive probes.
 *
 * @module
 */

import { FetchError, type FetchErrorCode } from "./errors.ts";
import {
  bracketed,
  type ProxyEndpoint,
  type ProxyEnv,
  type ProxyRouter,
  proxyRouter,
  type Route,
} from "./_proxy_env.ts";
import {
  closeQuietly,
  onAbort,
  openRelay,
  PrefixedConn,
  raceSignal,
} from "./_relay.ts";
import { socks5Connect } from "./_socks5.ts";
import { openTunnel } from "./_tunnel.ts";

/** Where a custom dialer connects: the origin, or the proxy on the route. */
export interface DialerTarget {
  /** Host name or IP address, IPv6 without brackets. */
  hostname: string;
  /** TCP port. */
  port: number;
  /** Aborts the dial (`connectTimeout`, or the connection is not needed). */
  signal: AbortSignal;
}

/**
 * A custom dialer, as `ClientOptions.connect`: opens the byte stream to a
 * host, like Go's `DialContext`. TLS for `https:` is still ours, on top.
 */
export type Dialer = (target: DialerTarget) => Promise<Deno.Conn>;

/** TLS settings of a dial (the client's `tls` option). */
export interface DialTlsOptions {
  /**
   * PEM certificates to trust in addition to the system's root store; they
   * are trusted for HTTPS proxies too.
   *
   * @default {[]}
   */
  caCerts?: string[];
  /** PEM client certificate chain for mutual TLS; requires `key`. */
  cert?: string;
  /** PEM private key of the client certificate; requires `cert`. */
  key?: string;
}

/** The origin to connect to. */
export interface DialTarget {
  /** `"http:"` or `"https:"`. */
  protocol: string;
  /** Host name or IP address, IPv6 without brackets. */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** Options of {@linkcode dial}. */
export interface DialOptions {
  /** The route, from {@linkcode ProxyRouter.routeFor}. */
  route: Route;
  /**
   * Aborts the dial. A `TimeoutError` reason (`connectTimeout`) becomes a
   * `FetchError` with code `CONNECT_TIMEOUT`; any other reason rejects the
   * dial unchanged.
   */
  signal: AbortSignal;
  /**
   * TLS settings for `https:` origins and HTTPS proxies.
   *
   * @default {{}}
   */
  tls?: DialTlsOptions;
  /**
   * ALPN protocols offered to an `https:` origin, in order of preference.
   *
   * @default {["http/1.1"]}
   */
  alpnProtocols?: string[];
  /**
   * Whether TCP sockets we open get keep-alive probes.
   *
   * @default {true}
   */
  tcpKeepAlive?: boolean;
  /** Opens the first hop instead of `Deno.connect`; not for Unix sockets. */
  connect?: Dialer;
  /**
   * Bytes a proxy's answer to CONNECT may take.
   *
   * @default {65536}
   */
  maxHeaderSize?: number;
  /** Resolves names for `socks5://` proxies; replaceable for tests. */
  resolve?: (hostname: string) => Promise<string>;
}

/** A connection ready for HTTP. */
export interface DialedConnection {
  /** The connection: TLS to the origin for `https:`, else plain bytes. */
  conn: Deno.Conn;
  /** The ALPN protocol the origin chose, or null (none, or not TLS). */
  alpnProtocol: string | null;
  /**
   * For an `http:` origin through an HTTP(S) proxy: the proxy. Requests
   * then use the absolute-form target (RFC 9112 §3.2.2) and carry
   * `Proxy-Authorization: <proxy.authorization()>` when that is defined;
   * they must not be pipelined. Undefined otherwise.
   */
  forwardProxy: ProxyEndpoint | undefined;
  /**
   * Settles when every background task of the connection has ended (a
   * loopback relay's pump), which happens once `conn` is closed. Already
   * settled when there are none.
   */
  closed: Promise<void>;
}

/** The client options that choose transports. */
export interface TransportOptions {
  /** `ClientOptions.proxy`. */
  proxy?: unknown;
  /** `ClientOptions.connect`. */
  connect?: unknown;
  /** `ClientOptions.tcpKeepAlive`. */
  tcpKeepAlive?: unknown;
  /** `ClientOptions.tls`, for the client-certificate check. */
  tls?: { cert?: unknown } | undefined;
}

/** The transport options, checked. */
export interface TransportSettings {
  /** Chooses each origin's route. */
  router: ProxyRouter;
  /** The custom dialer, if any. */
  connect: Dialer | undefined;
  /** Whether TCP sockets get keep-alive probes. */
  tcpKeepAlive: boolean;
}

/**
 * Checks the transport options of `createClient` and reads the environment
 * when `proxy` is unset (never throwing or prompting for that).
 *
 * @throws {TypeError} `proxy` is malformed (see `_proxy_env.ts`), `connect`
 * is not a function, `tcpKeepAlive` is not a boolean, or `tls.cert` is
 * combined with an explicit proxy, a Unix socket or `connect`.
 * @throws {RangeError} SOCKS5 credentials over 255 bytes.
 */
export function parseTransportOptions(
  options: TransportOptions,
  env?: ProxyEnv,
): TransportSettings {
  const { proxy, connect, tcpKeepAlive = true, tls } = options;
  if (connect !== undefined && typeof connect !== "function") {
    const shown = typeof connect === "object" && connect !== null
      ? `an object with keys ${Object.keys(connect).join(", ") || "(none)"}`
      : typeof connect === "string"
      ? JSON.stringify(connect)
      : String(connect);
    throw new TypeError(
      `Cannot create client as 'connect' must be a function (target: { hostname, port, signal }) => Promise<Deno.Conn>; for a Unix socket use 'proxy: { transport: "unix", path }', for a time limit 'connectTimeout': current value is ${shown}`,
    );
  }
  if (typeof tcpKeepAlive !== "boolean") {
    throw new TypeError(
      `Cannot create client as 'tcpKeepAlive' must be a boolean: current value is ${
        typeof tcpKeepAlive === "string"
          ? JSON.stringify(tcpKeepAlive)
          : String(tcpKeepAlive)
      }`,
    );
  }
  const router = proxyRouter(proxy, env);
  if (tls?.cert !== undefined) {
    const over = connect !== undefined
      ? "'connect'"
      : router.fromEnv || proxy === false
      ? undefined
      : "'proxy'";
    if (over !== undefined) {
      throw new TypeError(
        `Cannot create client as 'tls.cert' must be unset when ${over} is given, as TLS over such a connection uses Deno.startTls, which takes no client certificate: current value is a client certificate`,
      );
    }
  }
  return {
    router,
    connect: connect as Dialer | undefined,
    tcpKeepAlive,
  };
}

/**
 * Why a dial along `route` cannot be made safely, or undefined when it can:
 * a client certificate for an `https:` origin anywhere but direct over a
 * socket Deno opens.
 */
export function unsupportedDial(
  route: Route,
  https: boolean,
  options: { clientCertificate: boolean; dialer: boolean },
): string | undefined {
  if (!https || !options.clientCertificate) return undefined;
  let where: string;
  if (route.kind === "proxy") where = `through proxy ${route.proxy.display}`;
  else if (route.kind === "unix") where = `over ${route.display}`;
  else if (options.dialer) {
    where = "over a connection from the 'connect' dialer";
  } else return undefined;
  return `a client certificate ('tls.cert') cannot be presented ${where}: Deno.startTls, which runs TLS over an open connection, takes no client certificate, and Deno.connectTls, which does, only dials the host itself`;
}

/** `scheme://host:port` of a target. */
export function originOf(target: DialTarget): string {
  return `${target.protocol}//${bracketed(target.hostname)}:${target.port}`;
}

/** Whether `conn` is a TCP connection made by Deno, which startTls takes. */
function isDenoTcpConn(conn: Deno.Conn): conn is Deno.TcpConn {
  return conn.constructor?.name === "TcpConn" &&
    conn.remoteAddr?.transport === "tcp";
}

/** What the dial was doing when it failed; for messages. */
type Step =
  | "first-hop"
  | "tls-proxy"
  | "tunnel"
  | "socks"
  | "relay"
  | "tls";

const STEP_TEXT: Record<Step, string> = {
  "first-hop": "the TCP connection",
  "tls-proxy": "the TLS handshake with the proxy",
  tunnel: "the CONNECT request",
  socks: "the SOCKS5 handshake",
  relay: "starting the loopback relay",
  tls: "the TLS handshake",
};

/**
 * Opens a connection to `target` along `options.route`.
 *
 * @returns The connection, ready for HTTP.
 * @throws {FetchError} With stage `"connect"`: `CONNECT_FAILED`,
 * `CONNECT_TIMEOUT` (the signal's reason was a `TimeoutError`),
 * `TLS_FAILED`, `PROXY_FAILED` or `PROXY_AUTH`. Everything opened is
 * closed.
 * @throws The signal's reason, unchanged, when it aborts with anything but
 * a `TimeoutError`.
 */
export async function dial(
  target: DialTarget,
  options: DialOptions,
): Promise<DialedConnection> {
  const { route, signal } = options;
  const origin = originOf(target);
  const https = target.protocol === "https:";
  const tls = options.tls ?? {};
  const alpnProtocols = options.alpnProtocols ?? ["http/1.1"];
  const keepAlive = options.tcpKeepAlive ?? true;
  const dialer = route.kind === "unix" ? undefined : options.connect;
  const fail = (message: string, code: FetchErrorCode, cause?: unknown) =>
    new FetchError(message, { stage: "connect", code, origin, cause });

  if (route.kind === "invalid") {
    throw fail(
      `the environment's proxy setting is not usable: ${route.reason}`,
      "PROXY_FAILED",
    );
  }
  const unsupported = unsupportedDial(route, https, {
    clientCertificate: tls.cert !== undefined,
    dialer: dialer !== undefined,
  });
  if (unsupported !== undefined) throw fail(unsupported, "TLS_FAILED");
  if (https && (tls.cert === undefined) !== (tls.key === undefined)) {
    throw fail(
      "a client certificate needs both 'tls.cert' and 'tls.key'",
      "TLS_FAILED",
    );
  }

  const via = route.kind === "proxy"
    ? ` through proxy ${route.proxy.display}`
    : route.kind === "unix"
    ? ` over ${route.display}`
    : dialer !== undefined
    ? " through the 'connect' dialer"
    : "";
  const opened: Deno.Conn[] = [];
  const background: Promise<void>[] = [];
  let step: Step = "first-hop";

  /** Opens TCP (or the dialer's connection) to `hostname:port`. */
  const firstHop = async (
    hostname: string,
    port: number,
  ): Promise<Deno.Conn> => {
    step = "first-hop";
    if (dialer !== undefined) {
      let conn: Deno.Conn;
      try {
        conn = await raceSignal(
          Promise.resolve().then(() => dialer({ hostname, port, signal })),
          signal,
          closeQuietly,
        );
      } catch (error) {
        if (signal.aborted) throw error;
        throw fail(
          `could not connect${via}: the 'connect' dialer failed (${
            messageOf(error)
          })`,
          "CONNECT_FAILED",
          error,
        );
      }
      if (
        typeof conn?.read !== "function" || typeof conn.write !== "function" ||
        typeof conn.close !== "function"
      ) {
        throw fail(
          `could not connect${via}: the 'connect' dialer resolved to something that is not a Deno.Conn`,
          "CONNECT_FAILED",
        );
      }
      opened.push(conn);
      return conn;
    }
    const tcp = await Deno.connect({ hostname, port, signal });
    opened.push(tcp);
    // Small requests and pipelined writes must not wait for ACKs (Nagle).
    tcp.setNoDelay(true);
    if (keepAlive) tcp.setKeepAlive(true);
    return tcp;
  };

  /** Runs TLS as a client over `conn`, through a relay when it must. */
  const startTls = async (
    conn: Deno.Conn,
    hostname: string,
    alpn: string[],
    buffered: Uint8Array | undefined,
    tlsStep: Step,
  ): Promise<{ conn: Deno.TlsConn; alpnProtocol: string | null }> => {
    let tcp: Deno.TcpConn;
    if (
      isDenoTcpConn(conn) && (buffered === undefined || buffered.length === 0)
    ) {
      tcp = conn;
    } else {
      step = "relay";
      const relay = await openRelay(conn, { signal, initial: buffered });
      opened.push(relay.conn);
      background.push(relay.done);
      tcp = relay.conn;
    }
    step = tlsStep;
    const tlsConn = await Deno.startTls(tcp, {
      hostname,
      caCerts: tls.caCerts,
      alpnProtocols: alpn,
    });
    opened.push(tlsConn);
    using _ = onAbort(signal, () => tlsConn.close());
    const info = await tlsConn.handshake();
    return { conn: tlsConn, alpnProtocol: info.alpnProtocol };
  };

  const done = (
    conn: Deno.Conn,
    alpnProtocol: string | null,
    forwardProxy?: ProxyEndpoint,
  ): DialedConnection => ({
    conn,
    alpnProtocol,
    forwardProxy,
    closed: background.length === 0
      ? Promise.resolve()
      : Promise.all(background).then(() => {}),
  });

  /**
   * The origin's connection over `conn`, whose peer already sent `buffered`:
   * as it is, or TLS for `https:`.
   */
  const toOrigin = async (
    conn: Deno.Conn,
    buffered?: Uint8Array,
  ): Promise<DialedConnection> => {
    if (!https) {
      return done(
        buffered === undefined || buffered.length === 0
          ? conn
          : new PrefixedConn(conn, buffered),
        null,
      );
    }
    const secured = await startTls(
      conn,
      target.hostname,
      alpnProtocols,
      buffered,
      "tls",
    );
    return done(secured.conn, secured.alpnProtocol);
  };

  try {
    signal.throwIfAborted();
    switch (route.kind) {
      case "direct": {
        if (https && tls.cert !== undefined && tls.key !== undefined) {
          // Only connectTls presents a client certificate. It takes no
          // signal: race it, and close a connection that arrives too late.
          const conn = await raceSignal(
            Deno.connectTls({
              hostname: target.hostname,
              port: target.port,
              caCerts: tls.caCerts,
              alpnProtocols,
              cert: tls.cert,
              key: tls.key,
            }),
            signal,
            closeQuietly,
          );
          opened.push(conn);
          step = "tls";
          using _ = onAbort(signal, () => conn.close());
          const info = await conn.handshake();
          return done(conn, info.alpnProtocol);
        }
        return await toOrigin(await firstHop(target.hostname, target.port));
      }
      case "unix": {
        const conn = await raceSignal(
          Deno.connect({ transport: "unix", path: route.path }),
          signal,
          closeQuietly,
        );
        opened.push(conn);
        return await toOrigin(conn);
      }
      case "proxy": {
        const { proxy } = route;
        let hop = await firstHop(proxy.hostname, proxy.port);
        if (proxy.protocol === "socks5" || proxy.protocol === "socks5h") {
          step = "socks";
          const socks = await socks5Connect(hop, {
            origin,
            proxy,
            hostname: target.hostname,
            port: target.port,
            signal,
            resolve: options.resolve,
          });
          return await toOrigin(socks.conn, socks.buffered);
        }
        if (proxy.protocol === "https") {
          // The proxy's own TLS: its name, the same CAs; HTTP/1.1 inside.
          hop = (await startTls(
            hop,
            proxy.hostname,
            ["http/1.1"],
            undefined,
            "tls-proxy",
          )).conn;
        }
        // http: origins go in absolute-form on the proxy connection itself.
        if (!https) return done(hop, null, proxy);
        step = "tunnel";
        const tunnel = await openTunnel(hop, {
          origin,
          proxy,
          hostname: target.hostname,
          port: target.port,
          signal,
          maxHeaderSize: options.maxHeaderSize,
        });
        return await toOrigin(tunnel.conn, tunnel.buffered);
      }
    }
  } catch (error) {
    for (let i = opened.length - 1; i >= 0; i--) closeQuietly(opened[i]);
    if (signal.aborted) {
      const reason = signal.reason;
      if (reason instanceof DOMException && reason.name === "TimeoutError") {
        const during = step !== "first-hop"
          ? STEP_TEXT[step]
          : dialer !== undefined
          ? "the 'connect' dialer"
          : route.kind === "proxy"
          ? "the TCP connection to the proxy"
          : route.kind === "unix"
          ? "the connection to the socket"
          : STEP_TEXT[step];
        throw fail(
          `could not connect${via}: timed out during ${during} (${reason.message})`,
          "CONNECT_TIMEOUT",
          reason,
        );
      }
      throw reason;
    }
    if (error instanceof FetchError) throw error;
    throw describeFailure(error, step, route, via, fail);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The failure for an error of Deno's, in the voice of the pool's messages. */
function describeFailure(
  error: unknown,
  step: Step,
  route: Route,
  via: string,
  fail: (message: string, code: FetchErrorCode, cause?: unknown) => FetchError,
): FetchError {
  if (error instanceof Deno.errors.InvalidData) {
    // rustls reports certificate problems as InvalidData from the handshake.
    const what = describeTlsError(error);
    return fail(
      step === "tls-proxy"
        ? `could not connect${via}: the TLS handshake with the proxy failed (${what})`
        : `could not connect${via} (${what})`,
      "TLS_FAILED",
      error,
    );
  }
  if (error instanceof Deno.errors.NotCapable && step === "relay") {
    return fail(
      `could not connect${via}: TLS over this connection runs through a loopback relay, as Deno.startTls takes only a TCP connection, and ${error.message}`,
      "CONNECT_FAILED",
      error,
    );
  }
  const where = step === "first-hop"
    ? route.kind === "proxy"
      ? `could not connect to proxy ${route.proxy.display}`
      : route.kind === "unix"
      ? `could not connect to ${route.display}`
      : `could not connect${via}`
    : `could not connect${via}: ${STEP_TEXT[step]} failed`;
  const what = error instanceof Deno.errors.ConnectionRefused
    ? "connection refused"
    : messageOf(error);
  return fail(`${where} (${what})`, "CONNECT_FAILED", error);
}

/** Says what a TLS handshake error means, with a hint where one helps. */
export function describeTlsError(error: Error): string {
  if (error.message.includes("UnknownIssuer")) {
    return `TLS certificate is not trusted (${error.message}): pass the issuing CA in 'tls.caCerts'`;
  }
  if (error.message.includes("not valid for name")) {
    return `TLS certificate does not match the host name (${error.message})`;
  }
  return `TLS handshake failed (${error.message})`;
}
