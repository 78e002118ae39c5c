// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * TEMPORARY stand-in for `../mod.ts` with the same contract, built on the
 * built-in fetch, so the bench driver can be developed before the library
 * exists. Delete once `mod.ts` lands.
 *
 * @module
 */

/** Stand-in client options. */
export interface ClientOptions {
  /** Connections per origin. */
  maxConnectionsPerOrigin?: number;
  /** Requests in flight per connection. */
  pipelining?: number;
  /** TLS settings. */
  tls?: { caCerts?: string[] };
}

/** Stand-in client. */
export interface Client {
  /** Fetches. */
  fetch(input: string | URL, init?: RequestInit): Promise<Response>;
  /** Statistics. */
  stats(): { totals: { connectionsOpened: number } };
  /** Closes. */
  close(): Promise<void>;
}

/**
 * Creates a stand-in client.
 *
 * @param options Options.
 * @returns A client.
 */
export function createClient(options: ClientOptions = {}): Client {
  const http = Deno.createHttpClient({
    poolMaxIdlePerHost: options.maxConnectionsPerOrigin ?? 16,
    http2: false,
    caCerts: options.tls?.caCerts ?? [],
  });
  return {
    fetch: (input, init) => fetch(input, { ...init, client: http }),
    stats: () => ({ totals: { connectionsOpened: 0 } }),
    close: () => Promise.resolve(http.close()),
  };
}
