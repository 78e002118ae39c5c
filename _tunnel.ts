// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * HTTP CONNECT (RFC 9110 §9.3.6): asks an HTTP proxy, over a connection to
 * it, for a tunnel to `host:port`, and reads its answer with the HTTP/1.1
 * codec. A 2xx opens the tunnel (RFC 9110 §15.3: any 2xx to CONNECT
 * switches the connection to tunnel mode, and has no body); anything else
 * is a {@linkcode FetchError} that names the proxy, never its credentials.
 *
 * @example Open a tunnel
 * ```ts ignore
 * const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
 * const { buffered } = await openTunnel(conn, {
 *   origin: "https://example.com:443",
 *   proxy,
 *   hostname: "example.com",
 *   port: 443,
 *   signal: AbortSignal.timeout(10_000),
 * });
 * // TLS to example.com over `conn`, starting with `buffered`.
 * ```
 *
 * @module
 */

import { DEFAULT_PARSER_LIMITS, parseResponseHead } from "./_http1.ts";
import { FetchError } from "./errors.ts";
import { bracketed, type ProxyEndpoint, ProxyRefusal } from "./_proxy_env.ts";
import { closeQuietly, onAbort, writeAll } from "./_relay.ts";

/** Options of {@linkcode openTunnel}. */
export interface TunnelOptions {
  /** The origin the tunnel is for (`scheme://host:port`), for errors. */
  origin: string;
  /** The proxy `conn` is connected to. */
  proxy: ProxyEndpoint;
  /** The host to tunnel to, IPv6 without brackets. */
  hostname: string;
  /** The port to tunnel to. */
  port: number;
  /** Aborts the exchange (`connectTimeout`); `conn` is closed then. */
  signal: AbortSignal;
  /**
   * Bytes the proxy's answer may take, head and empty lines before it.
   *
   * @default {65536}
   */
  maxHeaderSize?: number;
}

/** An open tunnel. */
export interface Tunnel {
  /** The connection, now a byte stream to the origin. */
  conn: Deno.Conn;
  /**
   * Bytes that arrived after the proxy's answer: the first bytes from the
   * origin. Usually empty; never dropped.
   */
  buffered: Uint8Array;
}

const encoder = new TextEncoder();
/** Interim (1xx) answers taken before the final one. */
const MAX_INTERIM = 8;

/**
 * Sends `CONNECT host:port HTTP/1.1` on `conn` (with `Host`, and
 * `Proxy-Authorization: Basic` when the proxy has credentials) and reads
 * the answer.
 *
 * @returns The tunnel, once the proxy answered 2xx.
 * @throws {FetchError} `PROXY_AUTH` on 407 (or 401) and `PROXY_FAILED` on
 * any other status, both with the status as `proxyStatus` and a
 * {@linkcode ProxyRefusal} cause (`retryable` for 502, 503 and 504);
 * `PROXY_FAILED` also on an answer that is not HTTP, or when the proxy
 * closes first. `conn` is closed.
 * @throws The signal's reason, unchanged, when it aborts first; `conn` is
 * closed.
 */
export async function openTunnel(
  conn: Deno.Conn,
  options: TunnelOptions,
): Promise<Tunnel> {
  const { origin, proxy, hostname, port, signal } = options;
  const maxHeaderSize = options.maxHeaderSize ??
    DEFAULT_PARSER_LIMITS.maxHeaderSize;
  const authority = `${bracketed(hostname)}:${port}`;
  try {
    signal.throwIfAborted();
    if (/[\s@/?#]/.test(hostname)) {
      throw new FetchError(
        `cannot ask proxy ${proxy.display} for a tunnel to an invalid host ${
          JSON.stringify(hostname)
        }`,
        { stage: "connect", code: "PROXY_FAILED", origin },
      );
    }
    using _ = onAbort(signal, () => conn.close());
    const authorization = proxy.authorization();
    await writeAll(
      conn,
      encoder.encode(
        `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n${
          authorization === undefined
            ? ""
            : `Proxy-Authorization: ${authorization}\r\n`
        }\r\n`,
      ),
    );
    const limits = { ...DEFAULT_PARSER_LIMITS, maxHeaderSize };
    let buf = new Uint8Array(4096);
    let end = 0;
    let interim = 0;
    // Bounded: the parser throws past maxHeaderSize, and interim answers
    // are counted.
    while (true) {
      let head;
      try {
        head = parseResponseHead(buf, 0, end, "CONNECT", limits);
      } catch (error) {
        throw new FetchError(
          `proxy ${proxy.display} sent an invalid answer to CONNECT (${
            (error as Error).message
          })`,
          { stage: "connect", code: "PROXY_FAILED", origin, cause: error },
        );
      }
      if (head !== null) {
        if (head.status < 200 && ++interim <= MAX_INTERIM) {
          // An interim answer: the final one follows.
          buf.copyWithin(0, head.headLength, end);
          end -= head.headLength;
          continue;
        }
        if (head.status >= 200 && head.status < 300) {
          return { conn, buffered: buf.slice(head.headLength, end) };
        }
        throw refusal(options, head.status, head.statusText);
      }
      if (end === buf.length) {
        const bigger = new Uint8Array(
          Math.min(buf.length * 2, maxHeaderSize + 4096),
        );
        bigger.set(buf.subarray(0, end));
        buf = bigger;
      }
      const n = await conn.read(buf.subarray(end));
      if (n === null) {
        throw new FetchError(
          `proxy ${proxy.display} closed the connection before it answered CONNECT ${authority}`,
          { stage: "connect", code: "PROXY_FAILED", origin },
        );
      }
      end += n;
    }
  } catch (error) {
    closeQuietly(conn);
    if (signal.aborted) throw signal.reason;
    throw error;
  }
}

/** The error for a final answer other than 2xx. */
function refusal(
  options: TunnelOptions,
  status: number,
  statusText: string,
): FetchError & { proxyStatus: number } {
  const { origin, proxy } = options;
  const answered = `proxy ${proxy.display} answered CONNECT with ${status}${
    statusText === "" ? "" : ` ${statusText.slice(0, 80)}`
  }`;
  // 407 is the status for this (RFC 9110 §15.5.8); some proxies (tinyproxy)
  // answer a CONNECT with wrong credentials with 401, which can only be
  // the proxy's own answer since no tunnel exists yet.
  if (status === 407 || status === 401) {
    const message = `${answered}: proxy authentication ${
      proxy.hasCredentials
        ? "failed (the proxy refused the credentials given)"
        : "is missing (no credentials were given for this proxy)"
    }`;
    return Object.assign(
      new FetchError(message, {
        stage: "connect",
        code: "PROXY_AUTH",
        origin,
        cause: new ProxyRefusal(message, {
          protocol: "http",
          status,
          retryable: false,
        }),
      }),
      { proxyStatus: status },
    );
  }
  const retryable = status === 502 || status === 503 || status === 504;
  const message = retryable
    ? `${answered}: the proxy could not reach the origin, and nothing was sent to it`
    : `${answered}: the proxy refused the tunnel`;
  // `proxyStatus` is what the retry policy reads (retry.ts isProxyOverload).
  return Object.assign(
    new FetchError(message, {
      stage: "connect",
      code: "PROXY_FAILED",
      origin,
      cause: new ProxyRefusal(message, { protocol: "http", status, retryable }),
    }),
    { proxyStatus: status },
  );
}
