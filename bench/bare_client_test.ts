// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The bench's ceiling client must be right before its figures mean anything:
 * heads and bodies split across reads, responses back to back, sockets the
 * server closes.
 *
 * @module
 */

import { BareClient, ResponseHead } from "./_bare_client.ts";

// No @std imports: `deno task check` type-checks bench/, and must pass on a
// machine that cannot reach JSR.
function assertEquals(actual: unknown, expected: unknown, msg = ""): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`Expected ${e}, got ${a}${msg && `: ${msg}`}`);
}

async function assertRejects(
  fn: () => Promise<unknown>,
  includes: string,
): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    if (!message.includes(includes)) {
      throw new Error(`Expected a rejection with "${includes}": ${message}`);
    }
    return;
  }
  throw new Error("Expected a rejection");
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function response(body: string, id: string, extra = ""): string {
  return `HTTP/1.1 200 OK\r\nServer: t\r\ncontent-TYPE: text/plain\r\n` +
    `X-Request-Id:  ${id} \r\n${extra}Content-Length: ${body.length}\r\n\r\n${body}`;
}

/**
 * A loopback server that reads `perConn` requests on each connection, then
 * lets `answer` write the responses; counts connections.
 */
function scriptedServer(
  perConn: number,
  answer: (conn: Deno.Conn, index: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let connections = 0;
  const handlers: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      const index = connections++;
      conn.setNoDelay(true);
      handlers.push((async () => {
        try {
          const buf = new Uint8Array(4096);
          let text = "";
          for (let i = 0; i < 100; i++) {
            if (text.split("\r\n\r\n").length - 1 >= perConn) break;
            const n = await conn.read(buf);
            if (n === null) return;
            text += decoder.decode(buf.subarray(0, n));
          }
          await answer(conn, index);
        } finally {
          conn.close();
        }
      })());
    }
  })();
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/x`,
    connections: () => connections,
    async close() {
      listener.close();
      await loop;
      await Promise.all(handlers);
    },
  };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

Deno.test("ResponseHead.parse() waits for a head cut anywhere", () => {
  const bytes = encoder.encode(
    response("hello", "abc", "Connection: close\r\n"),
  );
  const bodyAt = bytes.length - 5;
  const head = new ResponseHead();
  for (let cut = 0; cut < bodyAt; cut++) {
    assertEquals(head.parse(bytes, 0, cut), -1, `cut at ${cut}`);
  }
  assertEquals(head.parse(bytes, 0, bodyAt), bodyAt);
  assertEquals(head.status, 200);
  assertEquals(head.contentLength, 5);
  assertEquals(head.contentType, "text/plain");
  assertEquals(head.requestId, "abc");
  assertEquals(head.close, true);
});

Deno.test("BareClient delivers pipelined responses that arrive in one write", async () => {
  const server = scriptedServer(3, async (conn) => {
    await writeAll(
      conn,
      encoder.encode(
        response("one", "1") + response("", "2") + response("three!", "3"),
      ),
    );
  });
  const client = new BareClient({
    url: server.url,
    connections: 1,
    pipelining: 3,
  });
  try {
    const got = await Promise.all([
      client.request(),
      client.request(),
      client.request(),
    ]);
    assertEquals(
      got.map((r) => [r.status, r.requestId, decoder.decode(r.body)]),
      [[200, "1", "one"], [200, "2", ""], [200, "3", "three!"]],
    );
    assertEquals(client.connectionsOpened, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("BareClient reads heads and bodies split across reads", async () => {
  const big = "b".repeat(100_000);
  const bytes = encoder.encode(response(big, "big") + response("tail", "t"));
  const server = scriptedServer(2, async (conn) => {
    // The head in pieces, then the body in pieces, then the next response.
    for (const [from, to] of [[0, 7], [7, 40], [40, 90], [90, 30_000]]) {
      await writeAll(conn, bytes.subarray(from, to));
      await new Promise((r) => setTimeout(r, 5));
    }
    await writeAll(conn, bytes.subarray(30_000));
  });
  const client = new BareClient({
    url: server.url,
    connections: 1,
    pipelining: 2,
  });
  try {
    const [a, b] = await Promise.all([client.request(), client.request()]);
    assertEquals(a.body.length, 100_000);
    assertEquals(a.body.buffer.byteLength, 100_000);
    assertEquals(decoder.decode(a.body), big);
    assertEquals(a.requestId, "big");
    assertEquals(decoder.decode(b.body), "tail");
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("BareClient opens a new connection after Connection: close", async () => {
  const server = scriptedServer(1, async (conn) => {
    await writeAll(
      conn,
      encoder.encode(response("bye", "c", "Connection: close\r\n")),
    );
  });
  const client = new BareClient({ url: server.url, connections: 1 });
  try {
    for (let i = 0; i < 3; i++) {
      assertEquals(decoder.decode((await client.request()).body), "bye");
    }
    assertEquals(client.connectionsOpened, 3);
    assertEquals(server.connections(), 3);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("BareClient fails a request whose connection closes before the response", async () => {
  const server = scriptedServer(1, async () => {});
  const client = new BareClient({ url: server.url, connections: 1 });
  try {
    await assertRejects(() => client.request(), "closed");
  } finally {
    await client.close();
    await server.close();
  }
});
