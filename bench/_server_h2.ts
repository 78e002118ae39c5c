// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The HTTP/2 listener of the benchmark server: `Deno.serve` over TLS, which
 * offers `h2` and `http/1.1` by ALPN and lets the client pick, serving the
 * same routes and bodies as `bench/_server.ts` (`/small`, `/64k`, `/api`;
 * see `bench/_payloads.ts`).
 *
 * `Deno.serve` tells a handler neither the protocol of a request nor when a
 * connection opens, so the listener works both out from what it sees:
 * - a connection is its client's address and port, counted when its first
 *   request arrives (a port reused by a later connection before the next
 *   reset would be counted once: keep-alive rows do not churn);
 * - the protocol of a connection is the one its first request shows: an
 *   HTTP/1.1 request always carries `Host` (RFC 9112 §3.2, and pooled-fetch
 *   and the built-in fetch both send it), while over HTTP/2 the authority
 *   travels in `:authority` and neither client sends `Host` (RFC 9113
 *   §8.3.1). A request without `Host` thus came over h2.
 *
 * The driver also checks pooled-fetch's rows from the client's side (its
 * `stats()` say which protocol it spoke).
 *
 * @module
 */

import { API_HEADERS, apiBody, BIG_BYTES, SMALL_BODY } from "./_payloads.ts";

const encoder = new TextEncoder();

/** The protocols a connection can be counted under. */
export type ListenerProtocol = "h2" | "http/1.1";

/** The running HTTP/2 listener. */
export interface H2Listener {
  /** Its TLS port on 127.0.0.1. */
  port: number;
  /** Connections that carried a request since the last reset. */
  connections(): number;
  /** Those connections, by the protocol of their first request. */
  protocols(): Record<ListenerProtocol, number>;
  /** Forgets the connections seen so far. */
  reset(): void;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const SMALL = encoder.encode(SMALL_BODY);
const BIG = new Uint8Array(BIG_BYTES).fill(0x61);
const API = encoder.encode(apiBody());
const HEX = "0123456789abcdef";

/**
 * Starts `Deno.serve` over TLS on 127.0.0.1, on a free port.
 *
 * @param tls The certificate and key, PEM.
 * @returns The listener, once it listens.
 */
export function startH2Listener(
  tls: { cert: string; key: string },
): Promise<H2Listener> {
  // Remote port -> whether its first request carried `Host`.
  let seen = new Map<number, boolean>();
  const modified = new Date().toUTCString();
  const etag = `"${Math.floor(Date.now() / 1000).toString(16)}-${
    API.length.toString(16)
  }"`;
  const prefix = Array.from(
    crypto.getRandomValues(new Uint8Array(8)),
    (b) => HEX[b >> 4]! + HEX[b & 15]!,
  ).join("");
  let nextId = 0;
  // The /api fields in nginx's order, less `Connection` (not allowed in
  // HTTP/2; RFC 9113 §8.2.2) and `Date`/`Content-Length`, which Deno.serve
  // adds itself.
  const apiFields = (): [string, string][] => [
    ["server", "pooled-fetch-bench"],
    ["content-type", "application/json"],
    ["last-modified", modified],
    ["etag", etag],
    ...API_HEADERS.map(([name, value]): [string, string] => [
      name.toLowerCase(),
      name === "X-Request-Id"
        ? prefix + (nextId++).toString(16).padStart(16, "0")
        : value,
    ]),
    ["accept-ranges", "bytes"],
  ];
  const text = { "content-type": "text/plain" };
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: tls.cert,
      key: tls.key,
      // Stdout is the control channel: no "Listening on" line.
      onListen(addr) {
        resolve({
          port: addr.port,
          connections: () => seen.size,
          protocols: () => {
            let h1 = 0;
            for (const host of seen.values()) if (host) h1++;
            return { "h2": seen.size - h1, "http/1.1": h1 };
          },
          reset: () => seen = new Map(),
          close: () => server.shutdown(),
        });
      },
    }, (req, info) => {
      const port = (info.remoteAddr as Deno.NetAddr).port;
      if (!seen.has(port)) seen.set(port, req.headers.has("host"));
      // `https://127.0.0.1:<port>/path?query`: the path starts at the first
      // `/` after the scheme's.
      const url = req.url;
      const start = url.indexOf("/", 8);
      const q = url.indexOf("?", start);
      const path = q < 0 ? url.slice(start) : url.slice(start, q);
      if (req.method === "GET") {
        if (path === "/small") return new Response(SMALL, { headers: text });
        if (path === "/64k") return new Response(BIG, { headers: text });
        if (path === "/api") {
          return new Response(API, { headers: apiFields() });
        }
      }
      return new Response("Not Found", { status: 404, headers: text });
    });
  });
}
