// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A SOCKS5 client (RFC 1928) with username/password authentication
 * (RFC 1929), for the CONNECT command only: greeting and method selection
 * (§3), the request (§4) with an IPv4, IPv6 or domain address (§5), and the
 * reply (§6), every code of which becomes a clear {@linkcode FetchError}.
 *
 * `socks5://` resolves the host name here and sends the address;
 * `socks5h://` sends the name and lets the proxy resolve it. Local
 * resolution uses `node:dns` `lookup()`, which asks the system resolver
 * (getaddrinfo) and so honours `/etc/hosts`, as `Deno.connect` does;
 * `Deno.resolveDns` would ask DNS servers only.
 *
 * @example Connect through a SOCKS5 proxy
 * ```ts ignore
 * const conn = await Deno.connect({ hostname: proxy.hostname, port: proxy.port });
 * const { buffered } = await socks5Connect(conn, {
 *   origin: "http://example.com:80",
 *   proxy, // a ProxyEndpoint with protocol "socks5h"
 *   hostname: "example.com",
 *   port: 80,
 *   signal: AbortSignal.timeout(10_000),
 * });
 * ```
 *
 * @module
 */

import { FetchError, type FetchErrorCode } from "./errors.ts";
import { parseIp } from "./_no_proxy.ts";
import { type ProxyEndpoint, ProxyRefusal } from "./_proxy_env.ts";
import { closeQuietly, onAbort, raceSignal, writeAll } from "./_relay.ts";

/** How the destination was sent (RFC 1928 §5). */
export type Socks5AddressType = "ipv4" | "ipv6" | "domain";

/** Options of {@linkcode socks5Connect}. */
export interface Socks5Options {
  /** The origin the connection is for (`scheme://host:port`), for errors. */
  origin: string;
  /** The proxy `conn` is connected to; `socks5` or `socks5h`. */
  proxy: ProxyEndpoint;
  /** The destination host, IPv6 without brackets. */
  hostname: string;
  /** The destination port. */
  port: number;
  /** Aborts the handshake (`connectTimeout`); `conn` is closed then. */
  signal: AbortSignal;
  /**
   * Resolves a host name to an IP address, for `socks5://`.
   *
   * @default {resolveHostname}
   */
  resolve?: (hostname: string) => Promise<string>;
}

/** A connection through the proxy to the destination. */
export interface Socks5Connection {
  /** The connection, now a byte stream to the destination. */
  conn: Deno.Conn;
  /** Bytes that arrived after the reply; usually empty, never dropped. */
  buffered: Uint8Array;
  /** How the destination was sent to the proxy. */
  addressType: Socks5AddressType;
}

const VERSION = 0x05;
const NO_AUTH = 0x00;
const USER_PASS = 0x02;
const NO_ACCEPTABLE = 0xff;
const CMD_CONNECT = 0x01;
const ATYP_IPV4 = 0x01;
const ATYP_DOMAIN = 0x03;
const ATYP_IPV6 = 0x04;

/** RFC 1928 §6 reply codes, and whether a later attempt may succeed. */
const REPLIES: Record<number, [text: string, retryable: boolean]> = {
  0x01: ["general SOCKS server failure", true],
  0x02: ["connection not allowed by ruleset", false],
  0x03: ["network unreachable", true],
  0x04: ["host unreachable", true],
  0x05: ["connection refused", true],
  0x06: ["TTL expired", true],
  0x07: ["command not supported", false],
  0x08: ["address type not supported", false],
};

const encoder = new TextEncoder();

/**
 * Resolves `hostname` with the system resolver (`/etc/hosts` included) to
 * one IP address, the first the system prefers.
 */
export async function resolveHostname(hostname: string): Promise<string> {
  // Loaded on first use: Node compatibility costs every other client.
  const { lookup } = await import("node:dns/promises");
  const { address } = await lookup(hostname);
  return address;
}

/** Reads exact byte counts from a connection, keeping what it read past. */
class Reader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(512);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** The next `n` bytes (n <= 262), or null at EOF before them. */
  async take(n: number): Promise<Uint8Array | null> {
    // Bounded by the connection: each read adds bytes or ends.
    while (this.#end - this.#start < n) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      const read = await this.#conn.read(this.#buf.subarray(this.#end));
      if (read === null) return null;
      this.#end += read;
    }
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** What was read and not taken. */
  rest(): Uint8Array {
    return this.#buf.slice(this.#start, this.#end);
  }
}

/**
 * Runs the SOCKS5 handshake on `conn` for a CONNECT to `hostname:port`.
 *
 * @returns The connection to the destination, once the proxy replied 0x00.
 * @throws {FetchError} `PROXY_AUTH` when the proxy wants credentials that
 * were not given or refuses those given; `PROXY_FAILED` for any reply code
 * but success (with a {@linkcode ProxyRefusal} cause), for a proxy that is
 * not SOCKS5, or one that closes early; `CONNECT_FAILED` when the host name
 * does not resolve (`socks5://`). `conn` is closed.
 * @throws The signal's reason, unchanged, when it aborts first; `conn` is
 * closed.
 */
export async function socks5Connect(
  conn: Deno.Conn,
  options: Socks5Options,
): Promise<Socks5Connection> {
  const { origin, proxy, hostname, port, signal } = options;
  const fail = (
    message: string,
    code: FetchErrorCode = "PROXY_FAILED",
    cause?: unknown,
  ): FetchError =>
    new FetchError(`SOCKS5 proxy ${proxy.display} ${message}`, {
      stage: "connect",
      code,
      origin,
      cause,
    });
  try {
    signal.throwIfAborted();
    using _ = onAbort(signal, () => conn.close());
    const reader = new Reader(conn);
    const expect = async (n: number, step: string): Promise<Uint8Array> => {
      const bytes = await reader.take(n);
      if (bytes === null) {
        throw fail(`closed the connection during ${step}`);
      }
      return bytes;
    };

    // §3: version, methods offered; the answer picks one.
    const credentials = proxy.credentials();
    await writeAll(
      conn,
      credentials === undefined
        ? Uint8Array.of(VERSION, 1, NO_AUTH)
        : Uint8Array.of(VERSION, 2, NO_AUTH, USER_PASS),
    );
    const [version, method] = await expect(2, "method selection");
    if (version !== VERSION) {
      throw fail(`is not a SOCKS5 proxy (it answered version ${version})`);
    }
    if (method === USER_PASS && credentials !== undefined) {
      // RFC 1929 §2: VER 0x01, ULEN, UNAME, PLEN, PASSWD.
      const user = encoder.encode(credentials.username);
      const pass = encoder.encode(credentials.password);
      const request = new Uint8Array(3 + user.length + pass.length);
      request[0] = 0x01;
      request[1] = user.length;
      request.set(user, 2);
      request[2 + user.length] = pass.length;
      request.set(pass, 3 + user.length);
      await writeAll(conn, request);
      request.fill(0);
      const [, status] = await expect(2, "authentication");
      if (status !== 0x00) {
        const message =
          "refused the user name and password: proxy authentication failed";
        throw fail(
          message,
          "PROXY_AUTH",
          new ProxyRefusal(message, {
            protocol: "socks5",
            status: 0,
            retryable: false,
          }),
        );
      }
    } else if (method === NO_ACCEPTABLE) {
      const message = credentials === undefined
        ? "requires authentication: proxy authentication is missing (no credentials were given for this proxy)"
        : "accepts none of the methods offered (no authentication, username/password)";
      throw fail(
        message,
        credentials === undefined ? "PROXY_AUTH" : "PROXY_FAILED",
        new ProxyRefusal(message, {
          protocol: "socks5",
          status: 0,
          retryable: false,
        }),
      );
    } else if (method !== NO_AUTH) {
      throw fail(
        `chose authentication method ${method}, which was not offered`,
      );
    }

    // §4: VER, CMD, RSV, ATYP, DST.ADDR, DST.PORT.
    let address = hostname;
    if (proxy.protocol === "socks5" && parseIp(hostname) === null) {
      try {
        address = await raceSignal(
          (options.resolve ?? resolveHostname)(hostname),
          signal,
          () => {},
        );
      } catch (error) {
        if (signal.aborted) throw error;
        throw new FetchError(
          `could not resolve ${hostname} for SOCKS5 proxy ${proxy.display} (${
            error instanceof Error ? error.message : String(error)
          })`,
          { stage: "connect", code: "CONNECT_FAILED", origin, cause: error },
        );
      }
    }
    const ip = parseIp(address);
    let addressType: Socks5AddressType;
    let dst: Uint8Array;
    if (ip !== null && ip.length === 4) {
      addressType = "ipv4";
      dst = Uint8Array.of(ATYP_IPV4, ...ip);
    } else if (ip !== null) {
      addressType = "ipv6";
      dst = Uint8Array.of(ATYP_IPV6, ...ip);
    } else {
      const name = encoder.encode(address);
      if (name.length === 0 || name.length > 255) {
        throw fail(
          `cannot be sent a host name of ${name.length} bytes (1 to 255)`,
        );
      }
      addressType = "domain";
      dst = Uint8Array.of(ATYP_DOMAIN, name.length, ...name);
    }
    const request = new Uint8Array(3 + dst.length + 2);
    request.set([VERSION, CMD_CONNECT, 0x00]);
    request.set(dst, 3);
    request[3 + dst.length] = port >> 8;
    request[4 + dst.length] = port & 0xff;
    await writeAll(conn, request);

    // §6: VER, REP, RSV, ATYP, BND.ADDR, BND.PORT.
    const [replyVersion, reply, , boundType] = await expect(4, "the reply");
    if (replyVersion !== VERSION) {
      throw fail(`is not a SOCKS5 proxy (it replied version ${replyVersion})`);
    }
    if (reply !== 0x00) {
      const [text, retryable] = REPLIES[reply] ?? ["unknown reply", false];
      const message = `could not connect to ${
        hostname.includes(":") ? `[${hostname}]` : hostname
      }:${port}: ${text} (reply 0x${reply.toString(16).padStart(2, "0")})`;
      throw fail(
        message,
        "PROXY_FAILED",
        new ProxyRefusal(message, {
          protocol: "socks5",
          status: reply,
          retryable,
        }),
      );
    }
    const boundLength = boundType === ATYP_IPV4
      ? 4
      : boundType === ATYP_IPV6
      ? 16
      : boundType === ATYP_DOMAIN
      ? (await expect(1, "the reply"))[0]
      : -1;
    if (boundLength === -1) {
      throw fail(`replied with an unknown address type ${boundType}`);
    }
    await expect(boundLength + 2, "the reply");
    return { conn, buffered: reader.rest(), addressType };
  } catch (error) {
    closeQuietly(conn);
    if (signal.aborted) throw signal.reason;
    throw error;
  }
}
