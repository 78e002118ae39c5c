// Copyright 2026 the pooled-fetch authors. MIT license.
// The per-origin pool, seen from servers that count connections: reuse, the
// bound and its queue, idle and Keep-Alive lifetimes, liveness of idle
// connections, unread bodies, many origins, connect failures, and close().

import {
  assert,
  assertEquals,
  assertGreaterOrEqual,
  assertInstanceOf,
  assertLessOrEqual,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient, FetchError } from "../mod.ts";
import { NO_BODY } from "../_body.ts";
import type { DispatchRequest } from "../_dispatch.ts";
import { DEFAULT_PARSER_LIMITS } from "../_http1.ts";
import { Pool, type PoolSettings } from "../pool.ts";
import type { ConnectTarget } from "../options.ts";
import { proxyRouter } from "../_proxy_env.ts";
import {
  fetchTexts,
  keepAliveHandler,
  largeBodyHandler,
  type RawServer,
  rawServer,
  response,
  runWithMod,
  waitFor,
} from "./_servers.ts";

Deno.test("Pool reuses one idle keep-alive connection for sequential requests", async () => {
  await using server = rawServer(keepAliveHandler(() => response("ok")));
  await using client = createClient();
  for (let i = 0; i < 20; i++) {
    assertEquals(await (await client.fetch(server.origin)).text(), "ok");
  }
  assertEquals(server.accepted, 1);
  const { totals, origins } = client.stats();
  assertEquals(totals.connectionsOpened, 1);
  assertEquals(totals.requestsSent, 20);
  assertEquals(totals.requestsOnReusedConnections, 19);
  assertEquals(totals.reuseRatio, 19 / 20);
  assertEquals(origins[0].origin, server.origin);
  assertEquals(origins[0].idle, 1);
  assertEquals(origins[0].busy, 0);
});

Deno.test("Pool never opens more than maxConnectionsPerOrigin and completes every request", async () => {
  let open = 0;
  let peak = 0;
  await using server = rawServer(async (conn) => {
    open++;
    peak = Math.max(peak, open);
    try {
      await keepAliveHandler(async (req) => {
        await delay(2);
        return response(req.target);
      })(conn);
    } finally {
      open--;
    }
  });
  await using client = createClient({ maxConnectionsPerOrigin: 3 });
  const results = await fetchTexts(client, server.origin, 60);
  assertEquals(results, Array.from({ length: 60 }, (_, i) => `/${i}`));
  assertLessOrEqual(peak, 3);
  assertEquals(server.accepted, 3);
  const { totals } = client.stats();
  assertGreaterOrEqual(totals.queuedRequests, 57);
  assertGreaterOrEqual(totals.queueWaitMax, 0);
});

/**
 * A server whose every connection answers one request with `slow` after
 * `ms` milliseconds, then waits up to 2 s for the client to close it.
 */
function slowServer(ms: number): RawServer {
  return rawServer(async (conn) => {
    await conn.readRequest();
    await delay(ms);
    await conn.write(response("slow"));
    await conn.waitForClose(2000);
  });
}

Deno.test("Pool fails a request beyond maxQueue with a TypeError naming the origin and the limit", async () => {
  await using server = slowServer(200);
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    maxQueue: 1,
  });
  const first = client.fetch(server.origin);
  const second = client.fetch(server.origin).catch((e) => e);
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, server.origin);
  assertStringIncludes(error.message, "maxQueue 1");
  assertEquals(await (await first).text(), "slow");
  const secondResult = await second;
  if (secondResult instanceof Response) await secondResult.body?.cancel();
});

Deno.test("Pool fails a request that waits longer than queueTimeout", async () => {
  await using server = slowServer(300);
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    queueTimeout: 50,
    retry: false,
  });
  const first = client.fetch(server.origin);
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, "queueTimeout (50 ms)");
  assertStringIncludes(error.message, server.origin);
  assertEquals(await (await first).text(), "slow");
});

Deno.test("Pool closes a connection idle longer than idleTimeout", async () => {
  await using server = rawServer(keepAliveHandler(() => response("ok")));
  await using client = createClient({ idleTimeout: 100 });
  await (await client.fetch(server.origin)).text();
  assert(
    await server.conns[0].waitForClose(2000),
    "idle connection was not closed",
  );
  await (await client.fetch(server.origin)).text();
  assertEquals(server.accepted, 2);
  assertEquals(client.stats().totals.evictions.idleTimeout, 1);
});

Deno.test("Pool honours Keep-Alive: timeout with a margin, parameters in any order", async () => {
  // timeout=1 leaves nothing after the 1 s margin: never reuse.
  await using server = rawServer(
    keepAliveHandler(() =>
      response("ok", { headers: ["Keep-Alive: max=100, timeout=1"] })
    ),
  );
  await using client = createClient({ idleTimeout: 60_000 });
  await (await client.fetch(server.origin)).text();
  await (await client.fetch(server.origin)).text();
  assertEquals(server.accepted, 2);
  assertEquals(client.stats().totals.evictions.keepAliveTimeout, 1);
});

Deno.test("Pool closes a connection after the server's Keep-Alive: max", async () => {
  await using server = rawServer(async (conn) => {
    // The first response allows one more request; the second allows none.
    let left = 1;
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      await conn.write(
        response("ok", { headers: [`Keep-Alive: timeout=30, max=${left}`] }),
      );
      left--;
    }
  });
  await using client = createClient();
  for (let i = 0; i < 5; i++) await (await client.fetch(server.origin)).text();
  assertEquals(server.accepted, 3);
  assertEquals(client.stats().totals.evictions.maxRequests, 2);
});

Deno.test("Pool closes a connection after maxRequestsPerConnection", async () => {
  await using server = rawServer(keepAliveHandler(() => response("ok")));
  await using client = createClient({ maxRequestsPerConnection: 2 });
  for (let i = 0; i < 5; i++) await (await client.fetch(server.origin)).text();
  assertEquals(server.accepted, 3);
});

Deno.test("Pool discards an idle connection the server closed, and the next request does not fail", async () => {
  await using server = rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write(response("first"));
    // The first connection closes right after answering: the client's idle
    // connection is dead. Later ones stay open.
    if (conn.id > 1) await conn.waitForClose(5000);
  });
  await using client = createClient({ retry: false });
  assertEquals(await (await client.fetch(server.origin)).text(), "first");
  await waitFor(() => client.stats().origins[0].open === 0);
  assertEquals(await (await client.fetch(server.origin)).text(), "first");
  assertEquals(server.accepted, 2);
  const { totals } = client.stats();
  assertEquals(totals.evictions.serverClosed, 1);
  assertEquals(totals.retries.stale, 0);
});

Deno.test("Pool discards an idle connection that received unsolicited bytes (a 408)", async () => {
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req === null) return;
    await conn.write(response("first"));
    if (conn.id === 1) {
      await delay(30);
      await conn.write(
        "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
      );
      await conn.waitForClose(2000);
      return;
    }
    await keepAliveHandler(() => response("later"))(conn);
  });
  await using client = createClient({ retry: false });
  await (await client.fetch(server.origin)).text();
  await waitFor(() => client.stats().origins[0].open === 0);
  assertEquals(await (await client.fetch(server.origin)).text(), "first");
  assertEquals(server.accepted, 2);
  assertEquals(client.stats().totals.evictions.unsolicitedBytes, 1);
});

Deno.test("Pool gives back the connection of a small unread body", async () => {
  await using server = rawServer(
    keepAliveHandler(() => response("x".repeat(1000))),
  );
  await using client = createClient({ maxConnectionsPerOrigin: 1 });
  const unread: Response[] = [];
  for (let i = 0; i < 5; i++) unread.push(await client.fetch(server.origin));
  assertEquals(server.accepted, 1);
  for (const res of unread) assertEquals((await res.text()).length, 1000);
});

Deno.test("Pool gives back the connection of an unread chunked body that fits the read-ahead", async () => {
  await using server = rawServer(async (conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      await conn.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
      );
      await delay(5);
      await conn.write("4\r\nefgh\r\n0\r\n\r\n");
    }
  });
  await using client = createClient({ maxConnectionsPerOrigin: 1 });
  const first = await client.fetch(server.origin);
  const second = await client.fetch(server.origin);
  assertEquals(await second.text(), "abcdefgh");
  assertEquals(await first.text(), "abcdefgh");
  assertEquals(server.accepted, 1);
});

Deno.test("Pool does not deadlock on a large unread body: bodyTimeout frees the connection", async () => {
  await using server = rawServer(
    largeBodyHandler(100, () => response("small")),
  );
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    bodyTimeout: 200,
  });
  const large = await client.fetch(`${server.origin}/large`);
  const started = Date.now();
  assertEquals(
    await (await client.fetch(`${server.origin}/small`)).text(),
    "small",
  );
  assertGreaterOrEqual(Date.now() - started, 150);
  await assertRejects(() => large.arrayBuffer(), TypeError, "was not read");
});

Deno.test("Pool frees the connection at once when a large body is cancelled", async () => {
  await using server = rawServer(
    largeBodyHandler(100, () => response("small")),
  );
  await using client = createClient({ maxConnectionsPerOrigin: 1 });
  const large = await client.fetch(`${server.origin}/large`);
  await large.body!.cancel();
  assertEquals(
    await (await client.fetch(`${server.origin}/small`)).text(),
    "small",
  );
  assertEquals(server.accepted, 2);
});

Deno.test("Pool keeps origins apart: a stalled origin never delays another", async () => {
  await using stalled = rawServer(async (conn) => {
    await conn.readRequest();
    await conn.waitForClose(5000);
  });
  await using fast = rawServer(keepAliveHandler(() => response("fast")));
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    headersTimeout: 2000,
    retry: false,
  });
  const hung = client.fetch(stalled.origin).catch((e) => e);
  const started = Date.now();
  for (let i = 0; i < 5; i++) {
    assertEquals(await (await client.fetch(fast.origin)).text(), "fast");
  }
  assertLessOrEqual(Date.now() - started, 1000);
  assertEquals(client.stats().origins.length, 2);
  stalled.conns[0].close();
  assertInstanceOf(await hung, TypeError);
});

function poolSettings(
  connect: (target: ConnectTarget) => Promise<Deno.Conn>,
  overrides: Partial<PoolSettings> = {},
): PoolSettings {
  return {
    maxConnections: 1,
    pipelining: 1,
    idleTimeout: 4000,
    connectTimeout: 100,
    maxQueue: Infinity,
    queueTimeout: Infinity,
    pipelinePenalty: 60_000,
    maxConnectionAge: Infinity,
    http1: true,
    http2: false,
    maxConcurrentStreams: 100,
    pingAfterIdle: 2000,
    tls: {},
    transport: { router: proxyRouter(false), connect, tcpKeepAlive: true },
    connection: {
      limits: DEFAULT_PARSER_LIMITS,
      readAhead: 65536,
      maxRequests: Infinity,
    },
    ...overrides,
  };
}

function get(pool: Pool, origin: string, path: string) {
  const request: DispatchRequest = {
    method: "GET",
    url: new URL(path, origin),
    fields: [],
    host: undefined,
    body: NO_BODY,
    contentLength: null,
    plain: false,
  };
  return pool.dispatch(request, {
    signal: undefined,
    pipelinable: true,
    freshConnection: false,
    headersTimeout: 5000,
    bodyTimeout: 5000,
  });
}

Deno.test("Pool bounds connecting by connectTimeout, failing only the request that needed it", async () => {
  await using server = rawServer(
    keepAliveHandler((req) => response(req.target)),
  );
  let attempts = 0;
  const pool = new Pool(
    new URL(server.origin),
    poolSettings(({ hostname, port, signal }) => {
      attempts++;
      if (attempts === 1) {
        // A connect that never completes until the pool gives up on it.
        return new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason), {
            once: true,
          });
        });
      }
      return Deno.connect({ hostname, port, signal });
    }),
  );
  const first = get(pool, server.origin, "/1");
  const second = get(pool, server.origin, "/2");
  const error = await first.catch((e) => e);
  assertInstanceOf(error, FetchError);
  assertEquals([error.stage, error.code], ["connect", "CONNECT_TIMEOUT"]);
  assertStringIncludes(error.message, "connectTimeout (100 ms)");
  const result = await second;
  assertEquals(new TextDecoder().decode(result.body as Uint8Array), "/2");
  assertEquals(pool.stats().connectFailures, 1);
  await pool.close();
});

Deno.test("Client.close() rejects new requests, lets in-flight ones finish and closes every socket", async () => {
  await using server = rawServer(keepAliveHandler(async () => {
    await delay(50);
    return response("done");
  }));
  const client = createClient({ maxConnectionsPerOrigin: 2 });
  const inflight = Array.from({ length: 4 }, () => client.fetch(server.origin));
  await delay(10);
  const closing = client.close();
  await assertRejects(
    () => client.fetch(server.origin),
    TypeError,
    "client is closed",
  );
  for (const res of await Promise.all(inflight)) {
    assertEquals(await res.text(), "done");
  }
  await closing;
  assert(await waitFor(() => server.open === 0), "sockets were left open");
  assertEquals(client.stats().origins[0].open, 0);
});

Deno.test("Client supports await using and closes its sockets on scope exit", async () => {
  await using server = rawServer(keepAliveHandler(() => response("ok")));
  {
    await using client = createClient();
    await (await client.fetch(server.origin)).text();
  }
  assert(await waitFor(() => server.open === 0), "socket was left open");
});

Deno.test("Client with idle pooled sockets and no close() lets the process exit", async () => {
  await using server = rawServer(keepAliveHandler(() => response("bye")));
  const output = await runWithMod(
    ["createClient"],
    `
    const client = createClient({ idleTimeout: 60000 });
    const res = await client.fetch(${JSON.stringify(server.origin)});
    console.log(await res.text());
  `,
  );
  assertEquals(output.stdout.trim(), "bye");
  assert(output.success, output.stderr);
  assertLessOrEqual(output.elapsed, 3000);
});

Deno.test("Client forgets an origin whose pool stayed empty for idleTimeout, and its totals keep counting", async () => {
  const servers = [0, 1, 2].map(() =>
    rawServer(keepAliveHandler(() => response("ok")))
  );
  await using client = createClient({ idleTimeout: 50 });
  for (const server of servers) {
    await (await client.fetch(server.origin)).text();
  }
  assertEquals(client.stats().origins.length, 3);
  // Idle connections close after 50 ms; the empty pools are forgotten 50 ms
  // after that, the next time the client looks.
  assert(
    await waitFor(() => client.stats().origins.length === 0, 2000),
    "empty pools were kept",
  );
  let { totals } = client.stats();
  assertEquals([totals.connectionsOpened, totals.requestsSent], [3, 3]);
  assertEquals(totals.evictions.idleTimeout, 3);
  await (await client.fetch(servers[0].origin)).text();
  ({ totals } = client.stats());
  assertEquals(client.stats().origins.length, 1);
  assertEquals([totals.connectionsOpened, totals.requestsSent], [4, 4]);
  for (const server of servers) await server.close();
});

Deno.test("Client keeps an origin whose pool is in use, however long", async () => {
  await using server = rawServer(keepAliveHandler(async () => {
    await delay(150);
    return response("slow");
  }));
  await using other = rawServer(keepAliveHandler(() => response("ok")));
  await using client = createClient({ idleTimeout: 20 });
  const slow = client.fetch(server.origin);
  await delay(60);
  // Meeting a new origin runs the forgetting; the busy one stays.
  await (await client.fetch(other.origin)).text();
  assertEquals(await (await slow).text(), "slow");
  assert(
    client.stats().origins.some((o) => o.origin.endsWith(`:${server.port}`)),
  );
});

Deno.test("Client.close({ signal }) fails what is left when the signal aborts, and closes every socket", async () => {
  const hold = Promise.withResolvers<void>();
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req?.target === "/stream") {
      await conn.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
      );
    }
    await hold.promise;
  });
  const client = createClient({ maxConnectionsPerOrigin: 2 });
  const res = await client.fetch(`${server.origin}/stream`);
  const inflight = client.fetch(`${server.origin}/held`);
  const queued = client.fetch(`${server.origin}/queued`);
  await waitFor(() => client.stats().origins[0].queued === 1);
  const closing = client.close({ signal: AbortSignal.timeout(30) });
  await assertRejects(
    () => client.fetch(server.origin),
    FetchError,
    "the client is closed",
  );
  await closing;
  const held = await assertRejects(() => inflight, FetchError);
  assertEquals([held.stage, held.code], ["sent", "CLIENT_CLOSED"]);
  const waiting = await assertRejects(() => queued, FetchError);
  assertEquals([waiting.stage, waiting.code], ["unsent", "CLIENT_CLOSED"]);
  const body = await assertRejects(() => res.text(), FetchError);
  assertEquals([body.stage, body.code], ["body", "CLIENT_CLOSED"]);
  assertEquals(client.stats().origins[0].open, 0);
  hold.resolve();
});

Deno.test("Client.close() checks its options", async () => {
  const client = createClient();
  await assertRejects(
    () => client.close({ signal: "soon" as unknown as AbortSignal }),
    TypeError,
    `Cannot close client as 'signal' must be an AbortSignal: current value is "soon"`,
  );
  await client.close({ signal: AbortSignal.abort() });
});
