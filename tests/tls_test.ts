// Copyright 2026 the pooled-fetch authors. MIT license.
// https origins: keep-alive reuse over one TLS connection (by IP, localhost
// and [::1]), http and https as separate origins, certificate checks (trust,
// host name), mutual TLS, ALPN, pipelining and stale-connection retries over
// TLS, and connectTimeout / abort during a TLS handshake that never ends.

import {
  assert,
  assertEquals,
  assertGreater,
  assertInstanceOf,
  assertLess,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { type Client, createClient, type TlsOptions } from "../mod.ts";
import { fetchTexts, keepAliveHandler, response, waitFor } from "./_servers.ts";
import {
  HAS_IPV6_LOOPBACK,
  mtlsServer,
  PEM,
  type TlsRawServer,
  tlsRawServer,
  type TlsRawServerOptions,
} from "./_tls_servers.ts";

const TRUST_CA = { caCerts: [PEM.ca] };
/** Trusts the test CA and presents the test client certificate. */
const WITH_CLIENT_CERT = {
  caCerts: [PEM.ca],
  cert: PEM.clientCert,
  key: PEM.clientKey,
};
const UNTRUSTED = { cert: PEM.untrustedCert, key: PEM.untrustedKey };
const WRONG_HOST = { cert: PEM.wrongHostCert, key: PEM.wrongHostKey };

/**
 * A TLS server that answers every request with `no`: for tests in which the
 * client must not get that far.
 */
function answeringNo(options?: TlsRawServerOptions): TlsRawServer {
  return tlsRawServer(keepAliveHandler(() => response("no")), options);
}

/** Fetches `url` and returns the TypeError the fetch rejects with. */
async function fetchFails(client: Client, url: string): Promise<TypeError> {
  return await assertRejects(() => client.fetch(url), TypeError);
}

/** The message of `error` and of every `cause` below it, joined. */
function messages(error: unknown): string {
  const parts: string[] = [];
  // Bounded: cause chains here are a few links long.
  for (let e = error, i = 0; e instanceof Error && i < 10; i++) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join(" <- ");
}

/** The innermost `cause` of `error`. */
function rootCause(error: unknown): unknown {
  let e = error;
  for (let i = 0; i < 10 && e instanceof Error && e.cause !== undefined; i++) {
    e = e.cause;
  }
  return e;
}

// ---- keep-alive reuse ----------------------------------------------------

async function assertSequentialReuse(
  hostname: string,
  urlHost: string,
): Promise<void> {
  await using server = tlsRawServer(
    keepAliveHandler((req) => response(`tls ${req.target}`)),
    { hostname },
  );
  await using client = createClient({ tls: TRUST_CA });
  const base = `https://${urlHost}:${server.port}`;
  for (let i = 0; i < 20; i++) {
    const res = await client.fetch(`${base}/${i}`);
    assertEquals(res.status, 200);
    assertEquals(await res.text(), `tls /${i}`);
  }
  assertEquals(server.accepted, 1);
  const { totals, origins } = client.stats();
  assertEquals(totals.connectionsOpened, 1);
  assertEquals(totals.requestsSent, 20);
  assertEquals(totals.requestsOnReusedConnections, 19);
  assertEquals(origins.length, 1);
  assertEquals(origins[0].origin, base);
  assertEquals(origins[0].idle, 1);
}

Deno.test("Client.fetch() reuses one TLS connection for sequential https requests", async () => {
  await assertSequentialReuse("127.0.0.1", "127.0.0.1");
});

Deno.test("Client.fetch() reuses one TLS connection for https://localhost", async () => {
  await assertSequentialReuse("127.0.0.1", "localhost");
});

Deno.test({
  name: "Client.fetch() reuses one TLS connection for https://[::1]",
  ignore: !HAS_IPV6_LOOPBACK,
  async fn() {
    await assertSequentialReuse("::1", "[::1]");
  },
});

// ---- origins -------------------------------------------------------------

Deno.test("Client.stats() keeps http and https on the same host and port as separate origins", async () => {
  await using server = tlsRawServer(keepAliveHandler(() => response("ok")));
  await using client = createClient({ tls: TRUST_CA, retry: false });
  const res = await client.fetch(`https://127.0.0.1:${server.port}/`);
  assertEquals(await res.text(), "ok");
  // Plain HTTP to a TLS server: the server cannot read it, so it fails.
  const error = await assertRejects(
    () => client.fetch(`http://127.0.0.1:${server.port}/`),
    TypeError,
  );
  assertStringIncludes(error.message, `http://127.0.0.1:${server.port}`);
  const origins = client.stats().origins.map((o) => o.origin).sort();
  assertEquals(origins, [
    `http://127.0.0.1:${server.port}`,
    `https://127.0.0.1:${server.port}`,
  ]);
  const https = client.stats().origins.find((o) =>
    o.origin.startsWith("https:")
  )!;
  assertEquals(https.connectionsOpened, 1);
  assertEquals(https.idle, 1);
  // The https connection was not touched by the failed http request.
  const again = await client.fetch(`https://127.0.0.1:${server.port}/`);
  assertEquals(await again.text(), "ok");
  assertEquals(client.stats().totals.requestsOnReusedConnections, 1);
});

// ---- certificate checks --------------------------------------------------

Deno.test("Client.fetch() refuses a server certificate from an untrusted issuer", async () => {
  await using server = answeringNo(UNTRUSTED);
  await using client = createClient({ tls: TRUST_CA });
  const error = await fetchFails(client, `${server.origin}/`);
  assertStringIncludes(error.message, "TLS certificate is not trusted");
  assertStringIncludes(error.message, "tls.caCerts");
  assertInstanceOf(error.cause, Deno.errors.InvalidData);
  assertStringIncludes(error.cause.message, "UnknownIssuer");
  assertEquals(client.stats().totals.connectionsOpened, 0);
  assertGreater(client.stats().origins[0].connectFailures, 0);
});

Deno.test("Client.fetch() does not trust the test CA without tls.caCerts", async () => {
  await using server = answeringNo();
  await using client = createClient();
  const error = await fetchFails(client, `${server.origin}/`);
  assertStringIncludes(error.message, "TLS certificate is not trusted");
  assertInstanceOf(error.cause, Deno.errors.InvalidData);
  assertEquals(client.stats().totals.connectionsOpened, 0);
});

Deno.test("Client.fetch() refuses a server certificate for another host name", async () => {
  await using server = answeringNo(WRONG_HOST);
  await using client = createClient({ tls: TRUST_CA });
  const error = await fetchFails(client, `${server.origin}/`);
  assertStringIncludes(
    error.message,
    "TLS certificate does not match the host name",
  );
  assertStringIncludes(error.message, "wrong.example");
  assertInstanceOf(error.cause, Deno.errors.InvalidData);
  assertEquals(client.stats().totals.connectionsOpened, 0);
});

Deno.test("Client.fetch() checks the host name it was given: localhost against a wrong-host certificate", async () => {
  await using server = answeringNo(WRONG_HOST);
  await using client = createClient({ tls: TRUST_CA });
  const error = await fetchFails(client, `https://localhost:${server.port}/`);
  assertStringIncludes(
    error.message,
    "TLS certificate does not match the host name",
  );
  assertStringIncludes(error.message, `"localhost"`);
});

// A certificate rejection is permanent: it must not be replayed as a
// failed connect would be.
Deno.test({
  name: "Client.fetch() does not retry a TLS certificate failure",
  async fn() {
    await using server = answeringNo(UNTRUSTED);
    await using client = createClient({ tls: TRUST_CA });
    const error = await fetchFails(client, `${server.origin}/`);
    assertInstanceOf(error.cause, Deno.errors.InvalidData);
    assertEquals(server.accepted, 1);
    assertEquals(client.stats().totals.retries.connect, 0);
    assertEquals(client.stats().origins[0].connectFailures, 1);
  },
});

// ---- mutual TLS ----------------------------------------------------------

Deno.test("Client.fetch() presents tls.cert and tls.key as a client certificate", async () => {
  await using server = await mtlsServer();
  await using client = createClient({ tls: WITH_CLIENT_CERT });
  for (let i = 0; i < 3; i++) {
    const res = await client.fetch(`${server.origin}/${i}`);
    assertEquals(res.status, 200);
    assertEquals(await res.text(), "mtls pooled-fetch test client");
  }
  assertEquals(server.peers, [
    { authorized: true, cn: "pooled-fetch test client" },
  ]);
  assertEquals(server.requests, 3);
  assertEquals(client.stats().totals.connectionsOpened, 1);
});

Deno.test("Client.fetch() fails with a TypeError when the server requires a client certificate and none is configured", async () => {
  await using server = await mtlsServer();
  await using client = createClient({ tls: TRUST_CA, retry: false });
  const error = await fetchFails(client, `${server.origin}/`);
  assertStringIncludes(messages(error), "CertificateRequired");
  assertEquals(server.requests, 0);
  assertEquals(server.peers, []);
  assert(await waitFor(() => server.clientErrors.length > 0));
});

// ---- ALPN ----------------------------------------------------------------

Deno.test("Client.fetch() offers ALPN http/1.1 and the server negotiates it", async () => {
  const negotiated: (string | null)[] = [];
  await using server = tlsRawServer(async (conn, tls) => {
    negotiated.push((await tls.handshake()).alpnProtocol);
    await keepAliveHandler(() => response("alpn"))(conn);
  }, { alpnProtocols: ["http/1.1"] });
  await using client = createClient({ tls: TRUST_CA });
  assertEquals(await (await client.fetch(`${server.origin}/`)).text(), "alpn");
  assertEquals(negotiated, ["http/1.1"]);
});

Deno.test("Client.fetch() fails with a TypeError when the server speaks only ALPN h2", async () => {
  await using server = answeringNo({ alpnProtocols: ["h2"] });
  await using client = createClient({ tls: TRUST_CA });
  const error = await fetchFails(client, `${server.origin}/`);
  assertStringIncludes(error.message, "TLS handshake failed");
  assertStringIncludes(messages(error), "NoApplicationProtocol");
  assertInstanceOf(rootCause(error), Deno.errors.InvalidData);
});

// ---- pipelining ----------------------------------------------------------

Deno.test("Client.fetch() pipelines idempotent requests over one TLS connection", async () => {
  let maxBehind = 0;
  // Bounded by the client: it closes the connection when the test ends.
  await using server = tlsRawServer(keepAliveHandler((req, conn) => {
    // Bytes already buffered once a request is read: the next request(s)
    // arrived before this response was written.
    if (conn.buffered > 0) maxBehind = Math.max(maxBehind, conn.buffered);
    return response(`piped ${req.target}`);
  }));
  await using client = createClient({
    tls: TRUST_CA,
    pipelining: 4,
    maxConnectionsPerOrigin: 1,
  });
  // Warm up: pipelining starts once the connection completed a keep-alive
  // response.
  assertEquals(
    await (await client.fetch(`${server.origin}/warm`)).text(),
    "piped /warm",
  );
  const texts = await fetchTexts(client, server.origin, 16);
  assertEquals(texts, Array.from({ length: 16 }, (_, i) => `piped /${i}`));
  assertEquals(server.accepted, 1);
  const { totals } = client.stats();
  assertEquals(totals.connectionsOpened, 1);
  assertEquals(totals.requestsSent, 17);
  assertGreater(totals.requestsPipelined, 0);
  assertGreater(maxBehind, 0);
});

// ---- retries -------------------------------------------------------------

/**
 * A TLS server whose first connection answers one request, then reads the
 * second and closes without answering; later connections answer everything.
 */
function closesOnSecondRequest() {
  const received: string[] = [];
  const server = tlsRawServer(async (conn) => {
    let n = 0;
    // Bounded by the client closing the connection.
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      received.push(`${conn.id} ${req.method} ${req.target}`);
      n++;
      if (conn.id === 1 && n === 2) return; // closed by tlsRawServer
      await conn.write(response(`${req.method} ${req.target}`));
    }
  });
  return { server, received };
}

Deno.test("Client.fetch() replays a GET on a new TLS connection when the kept-alive one closes under it", async () => {
  const { server, received } = closesOnSecondRequest();
  await using _server = server;
  await using client = createClient({ tls: TRUST_CA });
  assertEquals(
    await (await client.fetch(`${server.origin}/a`)).text(),
    "GET /a",
  );
  const res = await client.fetch(`${server.origin}/b`);
  assertEquals(await res.text(), "GET /b");
  assertEquals(received, ["1 GET /a", "1 GET /b", "2 GET /b"]);
  const { totals } = client.stats();
  assertEquals(totals.retries.stale, 1);
  assertEquals(totals.connectionsOpened, 2);
  assertEquals(server.accepted, 2);
});

Deno.test("Client.fetch() does not replay a POST when the kept-alive TLS connection closes under it", async () => {
  const { server, received } = closesOnSecondRequest();
  await using _server = server;
  await using client = createClient({ tls: TRUST_CA });
  assertEquals(
    await (await client.fetch(`${server.origin}/a`)).text(),
    "GET /a",
  );
  const error = await assertRejects(
    () => client.fetch(`${server.origin}/p`, { method: "POST", body: "x" }),
    TypeError,
  );
  assertNotEquals(error.message, "");
  assertEquals(received.filter((r) => r.includes("POST")), ["1 POST /p"]);
  const { totals } = client.stats();
  assertEquals(totals.retries.stale, 0);
  assertEquals(totals.retries.network, 0);
  assertEquals(totals.requestsSent, 2);
});

// ---- handshake timeouts and aborts ---------------------------------------

/** A TCP server that accepts and never answers (a TLS handshake hangs). */
function silentTcpServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })();
  return {
    port: listener.addr.port,
    get accepted() {
      return conns.length;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

/**
 * Fetches with `tls` and a connectTimeout of 200 ms from a server that never
 * answers the handshake; asserts the fetch fails in time, naming the timeout,
 * and opened no connection. Returns how many connections the server accepted.
 */
async function assertHandshakeTimesOut(tls: TlsOptions): Promise<number> {
  await using server = silentTcpServer();
  await using client = createClient({ tls, connectTimeout: 200, retry: false });
  const start = Date.now();
  const error = await fetchFails(client, `https://127.0.0.1:${server.port}/`);
  const elapsed = Date.now() - start;
  assertStringIncludes(error.message, "connectTimeout (200 ms)");
  assertInstanceOf(error.cause, DOMException);
  assertEquals(error.cause.name, "TimeoutError");
  // Each of the (at most 3) unsent attempts is bounded by connectTimeout.
  assertLess(elapsed, 1500);
  assertEquals(client.stats().totals.connectionsOpened, 0);
  return server.accepted;
}

Deno.test("Client.fetch() bounds a TLS handshake that never completes by connectTimeout", async () => {
  assertGreater(await assertHandshakeTimesOut(TRUST_CA), 0);
});

Deno.test("Client.fetch() bounds a TLS handshake with a client certificate by connectTimeout", async () => {
  await assertHandshakeTimesOut(WITH_CLIENT_CERT);
});

/**
 * Aborts a fetch with `tls` while its handshake hangs; asserts it rejects with
 * the signal's reason and leaves nothing connecting or opened.
 */
async function assertHandshakeAborts(tls: TlsOptions): Promise<void> {
  await using server = silentTcpServer();
  await using client = createClient({ tls });
  const controller = new AbortController();
  const reason = new Error("stop the handshake");
  const pending = client.fetch(`https://127.0.0.1:${server.port}/`, {
    signal: controller.signal,
  });
  assert(await waitFor(() => server.accepted === 1));
  controller.abort(reason);
  const error = await pending.then(() => null, (e: unknown) => e);
  assertStrictEquals(error, reason);
  assert(await waitFor(() => client.stats().origins[0].connecting === 0));
  assertEquals(client.stats().totals.connectionsOpened, 0);
}

Deno.test("Client.fetch() rejects with the signal's reason when aborted during a TLS handshake", async () => {
  await assertHandshakeAborts(TRUST_CA);
});

Deno.test("Client.fetch() rejects with the signal's reason when aborted during a TLS handshake with a client certificate", async () => {
  await assertHandshakeAborts(WITH_CLIENT_CERT);
});
