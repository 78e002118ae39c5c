// Copyright 2026 the pooled-fetch authors. MIT license.
// Pipelining is suspended for an origin only for the server's doing: a body
// the caller cancels, or a retried response the client drops, must not turn
// it off. (Found by the soak against a server that never closes.)

import { assert, assertEquals } from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient } from "../mod.ts";
import { rawServer, response } from "./_servers.ts";

/** Keep-alive server: `/large` streams 1 MB slowly, `/busy` answers a 503
 * with a chunked body in two parts the first time, then 200. */
function pipelineServer() {
  let busy = 0;
  return rawServer(async (conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      if (req.target === "/large") {
        await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
        try {
          for (let i = 0; i < 100; i++) {
            await conn.write(new Uint8Array(10_000));
            await delay(2);
          }
        } catch {
          return; // The client closed the connection.
        }
      } else if (req.target === "/busy" && busy++ === 0) {
        await conn.write(
          "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\n" +
            "Transfer-Encoding: chunked\r\n\r\n5\r\nbusy.\r\n",
        );
        await delay(20);
        await conn.write("5\r\n try \r\n0\r\n\r\n");
      } else {
        await conn.write(response(req.target));
      }
    }
  });
}

Deno.test("Client.fetch() keeps pipelining on after the caller cancels a pipelined response's body", async () => {
  await using server = pipelineServer();
  await using client = createClient({
    pipelining: 4,
    maxConnectionsPerOrigin: 1,
  });
  await (await client.fetch(`${server.origin}/warm`)).text();
  const large = client.fetch(`${server.origin}/large`);
  const behind = ["/b", "/c"].map((path) =>
    client.fetch(`${server.origin}${path}`)
  );
  await (await large).body!.cancel();
  const texts = await Promise.all(behind.map(async (p) => (await p).text()));
  assertEquals(texts, ["/b", "/c"]);
  const origin = client.stats().origins[0];
  assertEquals(origin.pipeliningSuspensions, 0);
  assert(origin.pipelining, "pipelining was suspended");
});

Deno.test("Client.fetch() keeps pipelining on after retrying a 503 whose body was still arriving", async () => {
  await using server = pipelineServer();
  await using client = createClient({
    pipelining: 4,
    maxConnectionsPerOrigin: 1,
    retry: { minDelay: 1, maxDelay: 10, statusCodes: [503] },
  });
  await (await client.fetch(`${server.origin}/warm`)).text();
  const texts = await Promise.all(
    ["/busy", "/b", "/c"].map(async (path) =>
      (await client.fetch(`${server.origin}${path}`)).text()
    ),
  );
  assertEquals(texts, ["/busy", "/b", "/c"]);
  const { origins, totals } = client.stats();
  assertEquals(totals.retries.status, 1);
  assertEquals(origins[0].pipeliningSuspensions, 0);
  // The dropped 503's small body was read to its end: no new connection.
  assertEquals(server.accepted, 1);
});
