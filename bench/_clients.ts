// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The HTTP clients the benchmarks compare, behind one small interface. Each
 * client's library is imported only when that client is opened, so a worker
 * process that measures one client does not pay for the others' code.
 *
 * @module
 */

/** Which client to measure. */
export type ClientKind = "pooled" | "fetch" | "fetch-client" | "undici";

/** How to open a {@linkcode BenchClient}. */
export interface ClientSpec {
  /** The client library. */
  kind: ClientKind;
  /**
   * Connections per origin: pooled-fetch's `maxConnectionsPerOrigin`,
   * undici's `connections`, `poolMaxIdlePerHost` for `fetch-client`. Ignored
   * by the plain built-in `fetch`.
   */
  connections?: number;
  /** Requests in flight per connection (pooled-fetch and undici). @default {1} */
  pipelining?: number;
  /** PEM CA certificate to trust, for TLS workloads. */
  caCert?: string;
}

/** What a workload sends. */
export interface RequestSpec {
  /** Absolute URL. */
  url: string;
  /** Request method. @default {"GET"} */
  method?: string;
  /** Request body, sent with a `Content-Length`. */
  body?: Uint8Array<ArrayBuffer>;
}

/** A client under measurement. */
export interface BenchClient {
  /**
   * Sends one request and consumes the whole response body.
   *
   * @returns The response status and body length in bytes.
   */
  request(): Promise<{ status: number; bytes: number }>;
  /** Connections the client says it opened, when it can tell. */
  connectionsOpened(): number | undefined;
  /** Releases the client's connections. */
  close(): Promise<void>;
}

/**
 * Opens a client that sends `req` on every call to `request()`.
 *
 * @param spec Which client, and how to configure it.
 * @param req The request to send.
 * @returns The client.
 */
export async function openClient(
  spec: ClientSpec,
  req: RequestSpec,
): Promise<BenchClient> {
  const { kind, connections = 16, pipelining = 1, caCert } = spec;
  const { url, method = "GET", body } = req;
  switch (kind) {
    case "pooled": {
      const { createClient } = await import("../mod.ts");
      const client = createClient({
        maxConnectionsPerOrigin: connections,
        pipelining,
        ...(caCert ? { tls: { caCerts: [caCert] } } : {}),
      });
      return {
        async request() {
          const res = await client.fetch(url, { method, body });
          const buf = await res.arrayBuffer();
          return { status: res.status, bytes: buf.byteLength };
        },
        connectionsOpened: () => client.stats().totals.connectionsOpened,
        close: () => client.close(),
      };
    }
    case "fetch": {
      // The plain global fetch. For TLS the worker runs with `--cert`.
      return {
        async request() {
          const res = await fetch(url, { method, body });
          const buf = await res.arrayBuffer();
          return { status: res.status, bytes: buf.byteLength };
        },
        connectionsOpened: () => undefined,
        close: () => Promise.resolve(),
      };
    }
    case "fetch-client": {
      const client = Deno.createHttpClient({
        poolMaxIdlePerHost: connections,
        http2: false,
        ...(caCert ? { caCerts: [caCert] } : {}),
      });
      return {
        async request() {
          const res = await fetch(url, { method, body, client });
          const buf = await res.arrayBuffer();
          return { status: res.status, bytes: buf.byteLength };
        },
        connectionsOpened: () => undefined,
        close: () => Promise.resolve(client.close()),
      };
    }
    case "undici": {
      const { Pool } = await import("undici");
      const u = new URL(url);
      const pool = new Pool(u.origin, {
        connections,
        pipelining,
        ...(caCert ? { connect: { ca: caCert } } : {}),
      });
      const path = u.pathname + u.search;
      const m = method as "GET" | "POST";
      return {
        async request() {
          const res = await pool.request({ path, method: m, body });
          const buf = await res.body.arrayBuffer();
          return { status: res.statusCode, bytes: buf.byteLength };
        },
        connectionsOpened: () => undefined,
        close: () => pool.close(),
      };
    }
    default:
      throw new TypeError(`Cannot open client as 'kind' is unknown: ${kind}`);
  }
}
