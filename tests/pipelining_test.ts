// Copyright 2026 the pooled-fetch authors. MIT license.
// HTTP/1.1 pipelining, from raw servers that record what arrived when: only
// replayable requests go behind unanswered ones, responses reach the right
// callers, failures mid-pipeline lose nothing and duplicate nothing that must
// not be, and an origin that breaks pipelining is moved to one at a time.

import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
  assertLessOrEqual,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient } from "../mod.ts";
import {
  fetchTexts,
  keepAliveHandler,
  largeBodyHandler,
  type RawRequest,
  rawServer,
  response,
  type ServerConn,
} from "./_servers.ts";

/** Reads requests until `count` are buffered or `ms` pass; returns them. */
async function readBurst(
  conn: ServerConn,
  count: number,
  ms: number,
): Promise<RawRequest[]> {
  const requests: RawRequest[] = [];
  const end = Date.now() + ms;
  while (requests.length < count && Date.now() < end) {
    const req = await conn.readRequest();
    if (req === null) break;
    requests.push(req);
    if (conn.buffered === 0 && requests.length < count) {
      // Give the client a moment to pipeline more behind it.
      await delay(5);
      if (conn.buffered === 0) break;
    }
  }
  return requests;
}

Deno.test("Client.fetch() with pipelining writes later requests before earlier responses are sent", async () => {
  const bursts: number[] = [];
  await using server = rawServer(async (conn) => {
    const warmup = await conn.readRequest();
    if (warmup === null) return;
    await conn.write(response("warm"));
    while (true) {
      const burst = await readBurst(conn, 4, 1000);
      if (burst.length === 0) return;
      bursts.push(burst.length);
      await conn.write(burst.map((r) => response(r.target)).join(""));
    }
  });
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    pipelining: 4,
  });
  assertEquals(await (await client.fetch(server.origin)).text(), "warm");
  const texts = await fetchTexts(client, server.origin, 4);
  assertEquals(texts, ["/0", "/1", "/2", "/3"]);
  // All four were read before any of their responses was written.
  assertEquals(bursts, [4]);
  // Issued in the same tick, they went out in one write.
  assertEquals(server.conns[0].reads.length, 2);
  assertEquals(server.accepted, 1);
  assertEquals(client.stats().totals.requestsPipelined, 3);
});

Deno.test("Client.fetch() pipelines only after a keep-alive response on the connection", async () => {
  const firstReadAlone: boolean[] = [];
  await using server = rawServer(async (conn) => {
    const first = await conn.readRequest();
    if (first === null) return;
    await delay(30);
    firstReadAlone.push(conn.buffered === 0);
    await conn.write(response(first.target));
    await keepAliveHandler((req) => response(req.target))(conn);
  });
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    pipelining: 8,
  });
  const texts = await fetchTexts(client, server.origin, 4);
  assertEquals(texts, ["/0", "/1", "/2", "/3"]);
  assertEquals(firstReadAlone, [true]);
});

Deno.test("Client.fetch() never writes a POST or a streamed body behind an unanswered request", async () => {
  const violations: string[] = [];
  const received: string[] = [];
  await using server = rawServer(async (conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      received.push(`${req.method} ${req.target}`);
      // Anything already buffered was written before this response.
      await delay(3);
      if (conn.buffered > 0) {
        const next = await conn.readRequest();
        if (next !== null) {
          received.push(`${next.method} ${next.target}`);
          if (next.method !== "GET") {
            violations.push(`${next.method} ${next.target}`);
          }
          if (req.method !== "GET") {
            violations.push(`behind ${req.method} ${req.target}`);
          }
          await conn.write(response(req.target) + response(next.target));
          continue;
        }
      }
      await conn.write(response(req.target));
    }
  });
  await using client = createClient({
    maxConnectionsPerOrigin: 2,
    pipelining: 4,
  });
  await (await client.fetch(server.origin)).text();
  const jobs = Array.from({ length: 60 }, async (_, i) => {
    const kind = i % 3;
    const init: RequestInit = kind === 0
      ? { method: "POST", body: `post ${i}` }
      : kind === 1
      ? { method: "PUT", body: new Blob([`stream ${i}`]).stream() }
      : {};
    const res = await client.fetch(`${server.origin}/${i}`, init);
    return await res.text();
  });
  const texts = await Promise.all(jobs);
  assertEquals(texts, Array.from({ length: 60 }, (_, i) => `/${i}`));
  assertEquals(violations, []);
  const posts = received.filter((r) => r.startsWith("POST"));
  assertEquals(posts.length, new Set(posts).size);
  assertEquals(posts.length, 20);
});

Deno.test("Client.fetch() hands every pipelined caller its own response under mixed sizes", async () => {
  await using server = rawServer(async (conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      const id = Number(req.target.slice(1));
      const body = `<${id}>` + "x".repeat((id * 7919) % 150_000) + `</${id}>`;
      if (id % 2 === 0) {
        await conn.write(response(body));
      } else {
        // Chunked, in two chunks, split across writes.
        const half = body.length >> 1;
        await conn.write(
          `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${
            half.toString(16)
          }\r\n${body.slice(0, half)}\r\n`,
        );
        await conn.write(
          `${(body.length - half).toString(16)}\r\n${
            body.slice(half)
          }\r\n0\r\n\r\n`,
        );
      }
    }
  });
  await using client = createClient({
    maxConnectionsPerOrigin: 2,
    pipelining: 8,
  });
  const ids = Array.from({ length: 300 }, (_, i) => i);
  const texts = await Promise.all(
    ids.map(async (id) =>
      (await client.fetch(`${server.origin}/${id}`)).text()
    ),
  );
  for (const id of ids) {
    const text = texts[id];
    assert(
      text.startsWith(`<${id}>`) && text.endsWith(`</${id}>`),
      `caller ${id} got the wrong body`,
    );
    assertEquals(text.length, `<${id}></${id}>`.length + (id * 7919) % 150_000);
  }
  assertLessOrEqual(server.accepted, 2);
  assertGreater(client.stats().totals.requestsPipelined, 0);
});

Deno.test("Client.fetch() replays unanswered idempotent requests when a server closes mid-pipeline", async () => {
  const counts = new Map<string, number>();
  await using server = rawServer(async (conn) => {
    let answered = 0;
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      counts.set(req.target, (counts.get(req.target) ?? 0) + 1);
      if (conn.id === 1 && answered === 3 && conn.buffered > 0) {
        // Requests are in flight behind this one: drop them all.
        return;
      }
      await delay(conn.id === 1 ? 10 : 0);
      await conn.write(response(req.target));
      answered++;
    }
  });
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    pipelining: 6,
  });
  await (await client.fetch(`${server.origin}/warm`)).text();
  const texts = await fetchTexts(client, server.origin, 8);
  assertEquals(texts, Array.from({ length: 8 }, (_, i) => `/${i}`));
  assertGreaterOrEqual(server.accepted, 2);
  const stats = client.stats();
  assertGreater(stats.totals.retries.stale, 0);
  // Pipelining is suspended for the origin that broke it.
  assertFalse(stats.origins[0].pipelining);
  assertEquals(stats.origins[0].pipeliningSuspensions, 1);
});

Deno.test("Client.fetch() moves requests behind a Connection: close response to another connection", async () => {
  await using server = rawServer(async (conn) => {
    const first = await conn.readRequest();
    if (first === null) return;
    await conn.write(response(first.target));
    if (conn.id === 1) {
      const burst = await readBurst(conn, 4, 1000);
      if (burst.length === 0) return;
      // Answer the first with Connection: close and ignore the rest.
      await conn.write(
        response(burst[0].target, { headers: ["Connection: close"] }),
      );
      return;
    }
    await keepAliveHandler((req) => response(req.target))(conn);
  });
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    pipelining: 4,
  });
  await (await client.fetch(`${server.origin}/warm`)).text();
  const texts = await fetchTexts(client, server.origin, 4);
  assertEquals(texts, ["/0", "/1", "/2", "/3"]);
  assertEquals(server.accepted, 2);
});

Deno.test("Client.fetch() moves requests stalled behind an unread pipelined body elsewhere", async () => {
  await using server = rawServer(
    largeBodyHandler(40, (req) => response(req.target)),
  );
  await using client = createClient({
    maxConnectionsPerOrigin: 2,
    pipelining: 4,
    bodyTimeout: 5000,
  });
  await (await client.fetch(`${server.origin}/warm`)).text();
  const largePromise = client.fetch(`${server.origin}/large`);
  const behind = Array.from(
    { length: 3 },
    (_, i) => client.fetch(`${server.origin}/${i}`),
  );
  const large = await largePromise;
  const started = Date.now();
  const texts = await Promise.all(behind.map(async (p) => (await p).text()));
  assertEquals(texts, ["/0", "/1", "/2"]);
  assertLessOrEqual(Date.now() - started, 3000);
  // They had been pipelined behind the large body, then moved.
  const { totals } = client.stats();
  assertGreater(totals.requestsPipelined, 0);
  assertGreater(totals.retries.stale, 0);
  await large.body!.cancel();
});

Deno.test("Client.fetch() does not pipeline to an HTTP/1.0 server", async () => {
  let pipelined = 0;
  await using server = rawServer(keepAliveHandler(async (req, conn) => {
    await delay(3);
    if (conn.buffered > 0) pipelined++;
    return `HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: ${req.target.length}\r\n\r\n${req.target}`;
  }));
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    pipelining: 4,
  });
  const texts = await fetchTexts(client, server.origin, 6);
  assertEquals(texts, Array.from({ length: 6 }, (_, i) => `/${i}`));
  assertEquals(pipelined, 0);
  assertEquals(server.accepted, 1);
});
