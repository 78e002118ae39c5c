// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Every way a request can end, each followed by Deno's sanitizers: no timer,
 * op or resource of ours may outlive the request. The client is NOT closed
 * (closing would clean up and hide a leak): each test ends once the server
 * has closed its side and the pool shows nothing open, which is what a user's
 * `deno test` with a never-closed client goes through.
 */
import { assert, assertEquals, assertRejects } from "@std/assert";
import { delay } from "@std/async/delay";
import { type Client, createClient, FetchError } from "../mod.ts";
import {
  keepAliveHandler,
  largeBodyHandler,
  type RawServer,
  rawServer,
  response,
  waitFor,
} from "./_servers.ts";
import { PEM, tlsRawServer } from "./_tls_servers.ts";

/**
 * Closes the server's side, then waits until the client has noticed and
 * holds nothing open: no connection, none opening, none queued.
 */
async function serverGone(server: RawServer, client: Client): Promise<void> {
  await server.close();
  const settled = await waitFor(() =>
    client.stats().origins.every((o) =>
      o.open === 0 && o.connecting === 0 && o.queued === 0
    )
  );
  assert(settled, "the client kept a connection after the server closed it");
}

Deno.test("A request whose small body is read leaves nothing behind once the server closes", async () => {
  const server = rawServer(keepAliveHandler(() => response("hello")));
  const client = createClient();
  const res = await client.fetch(server.origin);
  assertEquals(await res.text(), "hello");
  assertEquals(client.stats().origins[0].idle, 1);
  await serverGone(server, client);
});

Deno.test("A request whose large body is read to its end leaves nothing behind", async () => {
  const server = rawServer(largeBodyHandler(3, () => response("x")));
  const client = createClient();
  const res = await client.fetch(`${server.origin}/large`);
  assertEquals((await res.arrayBuffer()).byteLength, 300_000);
  await serverGone(server, client);
});

Deno.test("A large body cancelled before back-pressure leaves nothing behind", async () => {
  const server = rawServer(largeBodyHandler(20, () => response("x")));
  const client = createClient();
  const res = await client.fetch(`${server.origin}/large`);
  await res.body!.cancel();
  await serverGone(server, client);
});

Deno.test("A large body cancelled while its connection waits for the reader leaves no timer", async () => {
  const server = rawServer(largeBodyHandler(50, () => response("x")));
  const client = createClient({ readAhead: 16 * 1024 });
  const res = await client.fetch(`${server.origin}/large`);
  const reader = res.body!.getReader();
  await reader.read();
  // Let the read-ahead fill: the connection then waits for the reader.
  await delay(50);
  await reader.cancel();
  await serverGone(server, client);
});

Deno.test("A large body never read ends in bodyTimeout and leaves nothing behind", async () => {
  const server = rawServer(largeBodyHandler(50, () => response("x")));
  const client = createClient({ readAhead: 16 * 1024, bodyTimeout: 100 });
  const res = await client.fetch(`${server.origin}/large`);
  const reader = res.body!.getReader();
  await delay(50);
  const error = await assertRejects(async () => {
    while (!(await reader.read()).done) {
      await delay(300); // Too slow: the body times out.
    }
  }, FetchError);
  assertEquals([error.stage, error.code], ["body", "BODY_TIMEOUT"]);
  await serverGone(server, client);
});

Deno.test("A request aborted while queued leaves nothing behind", async () => {
  const release = Promise.withResolvers<void>();
  const server = rawServer(keepAliveHandler(async (req) => {
    if (req.target === "/slow") await release.promise;
    return response(req.target);
  }));
  const client = createClient({ maxConnectionsPerOrigin: 1 });
  const slow = client.fetch(`${server.origin}/slow`);
  await waitFor(() => server.accepted === 1);
  const controller = new AbortController();
  const queued = client.fetch(`${server.origin}/queued`, {
    signal: controller.signal,
  });
  await waitFor(() => client.stats().origins[0].queued === 1);
  controller.abort(new Error("enough"));
  await assertRejects(() => queued, Error, "enough");
  release.resolve();
  assertEquals(await (await slow).text(), "/slow");
  await serverGone(server, client);
});

Deno.test("A request aborted while connecting (TLS handshake) leaves nothing behind", async () => {
  // A TCP server that accepts and never answers: the TLS handshake hangs.
  const server = rawServer(async (conn) => {
    await conn.readRequest().catch(() => null);
  });
  const client = createClient({ tls: { caCerts: [PEM.ca] } });
  const controller = new AbortController();
  const fetching = client.fetch(`https://127.0.0.1:${server.port}/`, {
    signal: controller.signal,
  });
  await waitFor(() => server.accepted === 1);
  controller.abort(new Error("stop connecting"));
  await assertRejects(() => fetching, Error, "stop connecting");
  await serverGone(server, client);
});

Deno.test("A request aborted while its body stream is being written leaves nothing behind", async () => {
  const server = rawServer(async (conn) => {
    await conn.readRequest().catch(() => null);
  });
  const client = createClient();
  const controller = new AbortController();
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new Uint8Array(10));
    },
    // Never ends: the write waits on it until the abort.
  });
  const fetching = client.fetch(server.origin, {
    method: "POST",
    body,
    signal: controller.signal,
  });
  await waitFor(() => server.conns[0]?.received.length > 0);
  controller.abort(new Error("stop writing"));
  await assertRejects(() => fetching, Error, "stop writing");
  await serverGone(server, client);
});

Deno.test("A request aborted while waiting for the head leaves nothing behind", async () => {
  const server = rawServer(async (conn) => {
    await conn.readRequest();
    await delay(5000, { signal: AbortSignal.timeout(1000) }).catch(() => {});
  });
  const client = createClient();
  const controller = new AbortController();
  const fetching = client.fetch(server.origin, { signal: controller.signal });
  await waitFor(() => server.conns[0]?.received.length > 0);
  controller.abort(new Error("stop waiting"));
  await assertRejects(() => fetching, Error, "stop waiting");
  await serverGone(server, client);
});

Deno.test("A request aborted while its body streams leaves nothing behind", async () => {
  const server = rawServer(largeBodyHandler(50, () => response("x")));
  const client = createClient({ readAhead: 16 * 1024 });
  const controller = new AbortController();
  const res = await client.fetch(`${server.origin}/large`, {
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  await reader.read();
  controller.abort(new Error("stop reading"));
  await assertRejects(
    async () => {
      while (!(await reader.read()).done) { /* drain */ }
    },
    Error,
    "stop reading",
  );
  await serverGone(server, client);
});

Deno.test("A request that ends in a malformed response leaves nothing behind", async () => {
  const server = rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write("HTTP/1.1 2x0 Broken\r\n\r\n");
  });
  const client = createClient();
  const error = await assertRejects(
    () => client.fetch(server.origin),
    FetchError,
  );
  assertEquals(error.code, "MALFORMED_RESPONSE");
  await serverGone(server, client);
});

Deno.test("A request that ends in headersTimeout leaves nothing behind", async () => {
  const server = rawServer(async (conn) => {
    await conn.readRequest();
    await delay(5000, { signal: AbortSignal.timeout(1000) }).catch(() => {});
  });
  const client = createClient({ headersTimeout: 50, retry: false });
  const error = await assertRejects(
    () => client.fetch(server.origin),
    FetchError,
  );
  assertEquals([error.stage, error.code], ["sent", "HEADERS_TIMEOUT"]);
  await serverGone(server, client);
});

Deno.test("A request to a server that refuses connections leaves nothing behind", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const client = createClient();
  const error = await assertRejects(
    () => client.fetch(`http://127.0.0.1:${port}/`),
    FetchError,
  );
  assertEquals([error.stage, error.code], ["connect", "CONNECT_FAILED"]);
  assertEquals(client.stats().origins[0].open, 0);
});

Deno.test("A request cut off by close({ signal }) leaves nothing behind", async () => {
  const server = rawServer(async (conn) => {
    await conn.readRequest();
    await delay(5000, { signal: AbortSignal.timeout(1000) }).catch(() => {});
  });
  const client = createClient();
  const fetching = client.fetch(server.origin);
  await waitFor(() => server.conns[0]?.received.length > 0);
  await client.close({ signal: AbortSignal.timeout(20) });
  const error = await assertRejects(() => fetching, FetchError);
  assertEquals(error.code, "CLIENT_CLOSED");
  await serverGone(server, client);
});

Deno.test("A request the server answers with Connection: close leaves nothing behind", async () => {
  const server = rawServer(
    keepAliveHandler(() => response("bye", { headers: ["Connection: close"] })),
  );
  const client = createClient();
  assertEquals(await (await client.fetch(server.origin)).text(), "bye");
  await waitFor(() => client.stats().origins[0].open === 0);
  await serverGone(server, client);
});

Deno.test("A pipelined batch read to its end leaves nothing behind", async () => {
  const server = rawServer(keepAliveHandler((req) => response(req.target)));
  const client = createClient({ maxConnectionsPerOrigin: 1, pipelining: 4 });
  await (await client.fetch(`${server.origin}/warm`)).text();
  const texts = await Promise.all(
    ["/a", "/b", "/c", "/d"].map(async (p) =>
      (await client.fetch(server.origin + p)).text()
    ),
  );
  assertEquals(texts, ["/a", "/b", "/c", "/d"]);
  await serverGone(server, client);
});

Deno.test("A TLS request read to its end leaves nothing behind", async () => {
  const server = tlsRawServer(keepAliveHandler(() => response("secure")));
  const client = createClient({ tls: { caCerts: [PEM.ca] } });
  assertEquals(await (await client.fetch(server.origin)).text(), "secure");
  await server.close();
  assert(
    await waitFor(() => client.stats().origins[0].open === 0),
    "the TLS connection stayed open",
  );
});
