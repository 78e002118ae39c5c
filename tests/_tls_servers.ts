// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * TLS test servers on loopback: a raw `Deno.listenTls` server whose handler
 * scripts the exact bytes it sends (the {@linkcode ServerConn} of
 * `_servers.ts`, over a `Deno.TlsConn`), an mTLS server on `node:tls` (which,
 * unlike `Deno.listenTls`, can require a client certificate), and the PEM
 * fixtures. Ports are always 0 (chosen by the OS).
 *
 * @module
 */

import * as nodeTls from "node:tls";
import type { Socket } from "node:net";
import { ServerConn } from "./_servers.ts";

function fixture(name: string): string {
  return Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));
}

/** The test PEM files (see `fixtures/README.md`). */
export const PEM = {
  ca: fixture("ca.pem"),
  serverCert: fixture("server.pem"),
  serverKey: fixture("server-key.pem"),
  wrongHostCert: fixture("wrong-host.pem"),
  wrongHostKey: fixture("wrong-host-key.pem"),
  untrustedCert: fixture("untrusted.pem"),
  untrustedKey: fixture("untrusted-key.pem"),
  clientCert: fixture("client.pem"),
  clientKey: fixture("client-key.pem"),
} as const;

/** Whether this host can listen on the IPv6 loopback address. */
export const HAS_IPV6_LOOPBACK: boolean = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

/** Options of {@linkcode tlsRawServer}. */
export interface TlsRawServerOptions {
  /** Address to listen on. @default {"127.0.0.1"} */
  hostname?: string;
  /** PEM certificate chain. @default {PEM.serverCert} */
  cert?: string;
  /** PEM private key. @default {PEM.serverKey} */
  key?: string;
  /** ALPN protocols the server accepts. @default {undefined} (no ALPN) */
  alpnProtocols?: string[];
}

/** A raw TLS server that runs a handler for each accepted connection. */
export interface TlsRawServer extends AsyncDisposable {
  /** The port it listens on. */
  port: number;
  /** `https://<host>:<port>`, with IPv6 hosts in brackets. */
  origin: string;
  /** Connections accepted so far (TCP accepts; handshakes may fail later). */
  readonly accepted: number;
  /** Every connection accepted, in order. */
  conns: ServerConn[];
  /** Stops listening, closes every connection, waits for the handlers. */
  close(): Promise<void>;
}

/**
 * Starts a raw TLS server. `handler` scripts one connection; the connection is
 * closed when it returns. The handshake happens on the first read or write, or
 * when the handler calls `tls.handshake()`.
 */
export function tlsRawServer(
  handler: (conn: ServerConn, tls: Deno.TlsConn) => Promise<void>,
  options: TlsRawServerOptions = {},
): TlsRawServer {
  const {
    hostname = "127.0.0.1",
    cert = PEM.serverCert,
    key = PEM.serverKey,
    alpnProtocols,
  } = options;
  const listener = Deno.listenTls({
    hostname,
    port: 0,
    cert,
    key,
    ...(alpnProtocols === undefined ? {} : { alpnProtocols }),
  });
  const port = listener.addr.port;
  const conns: ServerConn[] = [];
  const tasks: Promise<void>[] = [];
  let closing = false;
  const accepting = (async () => {
    // Bounded by the listener: accept() rejects once it is closed.
    while (!closing) {
      let tls: Deno.TlsConn;
      try {
        tls = await listener.accept();
      } catch {
        if (closing) return;
        continue;
      }
      const conn = new ServerConn(tls, conns.length + 1);
      conns.push(conn);
      tasks.push((async () => {
        try {
          await handler(conn, tls);
        } catch {
          // A failing handler (or handshake) is the test's business.
        } finally {
          conn.close();
        }
      })());
    }
  })();
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  const server: TlsRawServer = {
    port,
    origin: `https://${host}:${port}`,
    get accepted() {
      return conns.length;
    },
    conns,
    async close() {
      closing = true;
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of conns) conn.close();
      await accepting;
      await Promise.allSettled(tasks);
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}

/** What the mTLS server saw of one connection that completed its handshake. */
export interface PeerInfo {
  /** Whether the client certificate was verified against the CA. */
  authorized: boolean;
  /** The client certificate's subject CN, if it sent one. */
  cn: string | undefined;
}

/** An HTTP/1.1 server on `node:tls` that requires a client certificate. */
export interface MtlsServer extends AsyncDisposable {
  /** The port it listens on. */
  port: number;
  /** `https://127.0.0.1:<port>`. */
  origin: string;
  /** One entry per connection that completed the handshake. */
  peers: PeerInfo[];
  /** Handshakes the server refused (`tlsClientError`). */
  clientErrors: Error[];
  /** Requests answered, all connections together. */
  readonly requests: number;
  /** Stops listening and destroys every socket. */
  close(): Promise<void>;
}

/**
 * Starts a `node:tls` server on 127.0.0.1 with `requestCert` and
 * `rejectUnauthorized`, trusting only the test CA. It answers each request
 * head (no request bodies) with `200 OK` and the body `mtls <CN>`, keep-alive.
 */
export async function mtlsServer(): Promise<MtlsServer> {
  const peers: PeerInfo[] = [];
  const clientErrors: Error[] = [];
  const sockets = new Set<Socket>();
  let requests = 0;
  const server = nodeTls.createServer({
    cert: PEM.serverCert,
    key: PEM.serverKey,
    ca: [PEM.ca],
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    const peer = socket.getPeerCertificate();
    const cn = peer?.subject?.CN;
    peers.push({
      authorized: socket.authorized,
      cn: Array.isArray(cn) ? cn[0] : cn,
    });
    let buffered = "";
    socket.on("data", (data: Uint8Array) => {
      buffered += new TextDecoder("latin1").decode(data);
      // Bounded by the data received: each pass consumes one head.
      let end = buffered.indexOf("\r\n\r\n");
      while (end !== -1) {
        buffered = buffered.slice(end + 4);
        requests++;
        const body = `mtls ${peers.at(-1)?.cn}`;
        socket.write(
          `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        );
        end = buffered.indexOf("\r\n\r\n");
      }
    });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
  });
  server.on("tlsClientError", (error: Error) => clientErrors.push(error));
  await new Promise<void>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve())
  );
  const port = (server.address() as { port: number }).port;
  const mtls: MtlsServer = {
    port,
    origin: `https://127.0.0.1:${port}`,
    peers,
    clientErrors,
    get requests() {
      return requests;
    },
    async close() {
      const closed = new Promise<void>((resolve) =>
        server.close(() => resolve())
      );
      for (const socket of sockets) socket.destroy();
      await closed;
    },
    [Symbol.asyncDispose]() {
      return mtls.close();
    },
  };
  return mtls;
}
