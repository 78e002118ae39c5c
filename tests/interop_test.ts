// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Interop against servers no one here wrote: Node's `http`, Python's
 * `http.server` (HTTP/1.0 and HTTP/1.1), `Deno.serve`, and nginx when it is
 * installed. Every response is compared with what the built-in `fetch` gets
 * for the same request: status, status text, body bytes, and the header
 * fields other than the volatile ones (Date, Keep-Alive, Connection).
 */

import {
  assert,
  assertEquals,
  assertFalse,
  assertGreater,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { type Client, createClient } from "../mod.ts";
import {
  findNginx,
  type InteropServer,
  pattern,
  startDeno,
  startNginx,
  startNode,
  startNodeResetter,
  startPython,
} from "./_interop_servers.ts";

const VOLATILE = new Set(["date", "keep-alive", "connection"]);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Seen {
  status: number;
  statusText: string;
  headers: [string, string][];
  body: Uint8Array;
  nullBody: boolean;
}

async function observe(res: Response): Promise<Seen> {
  const nullBody = res.body === null;
  const body = new Uint8Array(await res.arrayBuffer());
  return {
    status: res.status,
    statusText: res.statusText,
    headers: [...res.headers].filter(([name]) => !VOLATILE.has(name)),
    body,
    nullBody,
  };
}

/**
 * Sends the same request with the client and with the built-in `fetch`,
 * asserts they saw the same response, and returns what the client saw.
 */
async function compare(
  client: Client,
  builtin: Deno.HttpClient,
  url: string,
  init: RequestInit = {},
  { statusText = true } = {},
): Promise<Seen> {
  const ours = await observe(await client.fetch(url, init));
  const theirs = await observe(
    await fetch(url, { ...init, client: builtin } as RequestInit),
  );
  const what = `${init.method ?? "GET"} ${url}`;
  assertEquals(ours.status, theirs.status, `${what}: status`);
  if (statusText) {
    assertEquals(ours.statusText, theirs.statusText, `${what}: statusText`);
  }
  assertEquals(ours.headers, theirs.headers, `${what}: headers`);
  assertEquals(ours.nullBody, theirs.nullBody, `${what}: null body`);
  assertEquals(ours.body.byteLength, theirs.body.byteLength, `${what}: length`);
  assertEquals(ours.body, theirs.body, `${what}: body bytes`);
  return ours;
}

function header(seen: Seen, name: string): string | undefined {
  return seen.headers.find(([key]) => key === name)?.[1];
}

function text(seen: Seen): string {
  return decoder.decode(seen.body);
}

/** What a server can do, beyond the basics every one of them serves. */
interface Abilities {
  /** Greeting served at `/text`. */
  greeting: string;
  /** Size of `/length` (when the server ignores `?n=`), else undefined. */
  fixedLength?: number;
  /** Serves `/chunked` with Transfer-Encoding: chunked. */
  chunked: boolean;
  /** Serves `/close` delimited by the end of the connection. */
  close: boolean;
  /** Paths that serve `pattern(20000)` gzip-encoded. */
  gzip: string[];
  /** Keeps connections alive (and so may pipeline). */
  keepAlive: boolean;
  /** `/id` route shape: query (`/id?id=X&n=N`) or nginx's files (`/idX`). */
  idPath: (id: number) => { path: string; expected: string };
}

const queryId = (id: number) => ({
  path: `/id?id=${id}&n=${id * 37}`,
  expected: `id=${id};${pattern(id * 37)}`,
});

/** The interop steps every server goes through. */
async function interop(
  t: Deno.TestContext,
  server: InteropServer,
  can: Abilities,
): Promise<void> {
  const { origin } = server;
  using builtin = Deno.createHttpClient({});
  await using client = createClient();

  await t.step("GET with Content-Length", async () => {
    const seen = await compare(client, builtin, `${origin}/text`);
    assertEquals(seen.status, 200);
    assertEquals(text(seen), can.greeting);
    assertEquals(header(seen, "content-length"), String(seen.body.length));
  });

  await t.step("HEAD has no body", async () => {
    const seen = await compare(client, builtin, `${origin}/text`, {
      method: "HEAD",
    });
    assertEquals(seen.status, 200);
    assertEquals(seen.body.byteLength, 0);
    assertEquals(
      header(seen, "content-length"),
      String(encoder.encode(can.greeting).length),
    );
  });

  await t.step("POST echoes text, binary and large bodies", async () => {
    const binary = new Uint8Array(256 * 4).map((_, i) => i % 256);
    const large = encoder.encode(pattern(300_000));
    const bodies: [BodyInit, Uint8Array, string | null][] = [
      ["hello, world", encoder.encode("hello, world"), "text/plain"],
      [binary, binary, null],
      [large, large, "application/x-large"],
    ];
    for (const [body, expected, type] of bodies) {
      const headers = type === null ? undefined : { "content-type": type };
      const seen = await compare(client, builtin, `${origin}/echo`, {
        method: "POST",
        body,
        headers,
      });
      assertEquals(seen.status, 200);
      assertEquals(seen.body, expected);
    }
  });

  await t.step("Content-Length bodies, small and streamed", async () => {
    const sizes = can.fixedLength !== undefined
      ? [can.fixedLength]
      : [1, 1000, 65_536, 65_537, 200_000];
    for (const n of sizes) {
      const seen = await compare(client, builtin, `${origin}/length?n=${n}`);
      assertEquals(seen.status, 200);
      assertEquals(text(seen), pattern(n));
      assertEquals(header(seen, "content-length"), String(n));
    }
    if (can.fixedLength !== undefined) {
      const seen = await compare(client, builtin, `${origin}/large`);
      assertEquals(text(seen), pattern(200_000));
    }
  });

  if (can.chunked) {
    await t.step("chunked response", async () => {
      const seen = await compare(client, builtin, `${origin}/chunked`);
      assertEquals(seen.status, 200);
      assertEquals(header(seen, "transfer-encoding"), "chunked");
      let expected = "";
      for (let i = 0; i < 5; i++) {
        expected += `chunk ${i} ${pattern(100 * (i + 1))}\n`;
      }
      assertEquals(text(seen), expected + "end\n");
    });
  }

  if (can.close) {
    await t.step("close-delimited response", async () => {
      const seen = await compare(client, builtin, `${origin}/close`);
      assertEquals(seen.status, 200);
      assertEquals(header(seen, "content-length"), undefined);
      assertEquals(header(seen, "transfer-encoding"), undefined);
      assertEquals(text(seen), "close-delimited " + pattern(3000));
    });
  }

  if (can.gzip.length > 0) {
    await t.step("gzip-encoded response is decoded", async () => {
      for (const path of can.gzip) {
        const seen = await compare(client, builtin, `${origin}${path}`);
        assertEquals(seen.status, 200);
        assertEquals(header(seen, "content-encoding"), "gzip", path);
        assertEquals(text(seen), pattern(20000), path);
      }
    });
  }

  await t.step(
    "keep-alive: sequential requests share a connection",
    async () => {
      await using fresh = createClient();
      const before = await server.connections();
      const n = 6;
      for (let i = 0; i < n; i++) {
        const res = await fresh.fetch(`${origin}/text`);
        assertEquals(await res.text(), can.greeting);
      }
      // The POST is not pipelined, but it is sent on the kept-alive connection.
      const res = await fresh.fetch(`${origin}/echo`, {
        method: "POST",
        body: "after",
      });
      assertEquals(await res.text(), "after");
      const opened = (await server.connections()) - before;
      const { totals } = fresh.stats();
      assertEquals(totals.requestsSent, n + 1);
      if (can.keepAlive) {
        assertEquals(opened, 1, "connections the server accepted");
        assertEquals(totals.connectionsOpened, 1);
        assertEquals(totals.requestsOnReusedConnections, n);
      } else {
        // HTTP/1.0 without keep-alive: one connection per request, none reused.
        assertEquals(opened, n + 1, "connections the server accepted");
        assertEquals(totals.connectionsOpened, n + 1);
        assertEquals(totals.requestsOnReusedConnections, 0);
      }
    },
  );

  await t.step(
    "pipelining: concurrent GETs each get their own body",
    async () => {
      await using piped = createClient({
        pipelining: 4,
        maxConnectionsPerOrigin: 1,
      });
      // A first keep-alive response from an HTTP/1.1 server allows pipelining.
      await (await piped.fetch(`${origin}/text`)).arrayBuffer();
      const before = await server.connections();
      const ids = Array.from({ length: 24 }, (_, i) => i);
      const bodies = await Promise.all(ids.map(async (id) => {
        const { path } = can.idPath(id);
        const res = await piped.fetch(`${origin}${path}`);
        assertEquals(res.status, 200);
        return await res.text();
      }));
      for (const id of ids) {
        assertEquals(bodies[id], can.idPath(id).expected, `response ${id}`);
      }
      const { totals } = piped.stats();
      const opened = (await server.connections()) - before;
      // One of them, compared with the built-in fetch.
      const probe = can.idPath(7);
      const theirs = await fetch(`${origin}${probe.path}`, { client: builtin });
      assertEquals(await theirs.text(), probe.expected);
      if (can.keepAlive) {
        assertGreater(totals.requestsPipelined, 0, "requests pipelined");
        assertEquals(totals.connectionsOpened, 1);
        assertEquals(opened, 0, "no new connection for the pipelined GETs");
      } else {
        assertEquals(totals.requestsPipelined, 0);
        assertEquals(opened, ids.length);
      }
    },
  );

  await t.step("pipelining: POSTs and large bodies mixed in", async () => {
    await using piped = createClient({
      pipelining: 4,
      maxConnectionsPerOrigin: 2,
    });
    await (await piped.fetch(`${origin}/text`)).arrayBuffer();
    const large = can.fixedLength === undefined
      ? { path: "/length?n=150000", expected: pattern(150_000) }
      : { path: "/large", expected: pattern(200_000) };
    const jobs = Array.from({ length: 30 }, (_, i) => {
      if (i % 5 === 2) {
        const body = `post ${i} ${pattern(i * 11)}`;
        return {
          init: { method: "POST", body },
          path: "/echo",
          expected: body,
        };
      }
      if (i % 7 === 3) return { init: {}, ...large };
      return { init: {}, ...can.idPath(i) };
    });
    // Each body is read a little after its head arrives, in a scrambled
    // order, so large bodies sit unread in front of pipelined responses for
    // a while. (Not reading any body until every head is in would deadlock
    // a bounded pool: a large body holds its connection until it is read.)
    const responses: Response[] = [];
    const bodies = await Promise.all(jobs.map(async (job, i) => {
      const res = await piped.fetch(`${origin}${job.path}`, job.init);
      responses[i] = res;
      await delay(((i * 7) % 5) * 15);
      return await res.text();
    }));
    for (const [i, job] of jobs.entries()) {
      assertEquals(responses[i].status, 200, `request ${i}`);
      assertEquals(
        bodies[i].length,
        job.expected.length,
        `request ${i} length`,
      );
      assert(bodies[i] === job.expected, `request ${i} body`);
    }
  });
}

const TEST_OPTIONS = { sanitizeOps: true, sanitizeResources: true };

Deno.test({
  name: "Client.fetch() interoperates with Node's http server",
  ...TEST_OPTIONS,
  async fn(t) {
    await using server = await startNode();
    await interop(t, server, {
      greeting: "hello from node\n",
      chunked: true,
      close: true,
      gzip: ["/gzip", "/gzip-chunked"],
      keepAlive: true,
      idPath: queryId,
    });
    using builtin = Deno.createHttpClient({});
    await using client = createClient();
    await t.step("custom reason phrase is kept", async () => {
      // The built-in fetch replaces the reason phrase with the canonical one;
      // the client keeps what the server sent.
      const seen = await compare(
        client,
        builtin,
        `${server.origin}/missing`,
        {},
        { statusText: false },
      );
      assertEquals(seen.status, 404);
      assertEquals(seen.statusText, "Nope Not Here");
    });
    await t.step("204 has a null body", async () => {
      const seen = await compare(client, builtin, `${server.origin}/nocontent`);
      assertEquals(seen.status, 204);
      assert(seen.nullBody);
    });
  },
});

Deno.test({
  name: "Client.fetch() interoperates with Python's http.server (HTTP/1.0)",
  ...TEST_OPTIONS,
  async fn(t) {
    await using server = await startPython("HTTP/1.0");
    await interop(t, server, {
      greeting: "hello from python\n",
      chunked: false,
      // HTTP/1.0: a body without Content-Length ends with the connection.
      close: true,
      gzip: ["/gzip"],
      keepAlive: false,
      idPath: queryId,
    });
  },
});

Deno.test({
  name: "Client.fetch() interoperates with Python's http.server (HTTP/1.1)",
  ...TEST_OPTIONS,
  async fn(t) {
    await using server = await startPython("HTTP/1.1");
    await interop(t, server, {
      greeting: "hello from python\n",
      chunked: true,
      close: true,
      gzip: ["/gzip"],
      keepAlive: true,
      idPath: queryId,
    });
  },
});

Deno.test({
  name: "Client.fetch() interoperates with Deno.serve",
  ...TEST_OPTIONS,
  async fn(t) {
    await using server = startDeno();
    await interop(t, server, {
      greeting: "hello from deno\n",
      chunked: true,
      close: false,
      gzip: ["/gzip", "/gzip-chunked"],
      keepAlive: true,
      idPath: queryId,
    });
  },
});

let ipv6 = false;
try {
  Deno.listen({ hostname: "::1", port: 0 }).close();
  ipv6 = true;
} catch {
  // No IPv6 loopback here.
}

Deno.test({
  name: "Client.fetch() reaches Deno.serve on [::1]",
  ignore: !ipv6,
  ...TEST_OPTIONS,
  async fn() {
    await using server = Deno.serve(
      { hostname: "::1", port: 0, onListen() {} },
      (req) => new Response(`v6 ${new URL(req.url).pathname}`),
    );
    await using client = createClient();
    const url = `http://[::1]:${server.addr.port}`;
    for (let i = 0; i < 3; i++) {
      const res = await client.fetch(`${url}/p${i}`);
      assertEquals(await res.text(), `v6 /p${i}`);
    }
    const { origins, totals } = client.stats();
    assertEquals(totals.connectionsOpened, 1);
    assertStrictEquals(origins.length, 1);
    assertEquals(origins[0].origin, `http://[::1]:${server.addr.port}`);
  },
});

const nginx = findNginx();

Deno.test({
  name: "Client.fetch() interoperates with nginx",
  ignore: nginx === null,
  ...TEST_OPTIONS,
  async fn(t) {
    // nginx serves static files; POST /echo and /chunked go to an upstream.
    await using upstream = startDeno();
    await using server = await startNginx(nginx!, upstream);
    await interop(t, server, {
      greeting: "hello from nginx\n",
      fixedLength: 1000,
      chunked: true,
      close: false,
      gzip: ["/gzip"],
      keepAlive: true,
      idPath: (id) => ({
        path: `/id${id}`,
        expected: `id=${id};${pattern(id * 97)}`,
      }),
    });
    await t.step("conditional GET gets a 304 with no body", async () => {
      using builtin = Deno.createHttpClient({});
      await using client = createClient();
      const first = await compare(client, builtin, `${server.origin}/length`);
      const etag = header(first, "etag");
      assert(etag !== undefined, "nginx sends an ETag");
      const seen = await compare(client, builtin, `${server.origin}/length`, {
        headers: { "if-none-match": etag },
      });
      assertEquals(seen.status, 304);
      assert(seen.nullBody);
      // The connection is still good after a 304 (no body to skip).
      const after = await compare(client, builtin, `${server.origin}/text`);
      assertEquals(text(after), "hello from nginx\n");
      assertEquals(client.stats().totals.connectionsOpened, 1);
    });
    await t.step("range request gets a 206 with the slice", async () => {
      using builtin = Deno.createHttpClient({});
      await using client = createClient();
      const seen = await compare(client, builtin, `${server.origin}/large`, {
        headers: { range: "bytes=100000-100099" },
      });
      assertEquals(seen.status, 206);
      assertEquals(text(seen), pattern(200_000).slice(100_000, 100_100));
      assertEquals(header(seen, "content-range"), "bytes 100000-100099/200000");
    });
    await t.step("gzip on a static file is chunked", async () => {
      await using client = createClient();
      const res = await client.fetch(`${server.origin}/gzip`);
      assertEquals(res.headers.get("content-encoding"), "gzip");
      assertEquals(res.headers.get("transfer-encoding"), "chunked");
      assertFalse(res.headers.has("content-length"));
      assertEquals(await res.text(), pattern(20000));
    });
  },
});

// Only HEAD and the null body statuses have no body; an empty one is a body.
Deno.test({
  name:
    "Client.fetch() gives a 200 with Content-Length: 0 an empty body, not a null one",
  ...TEST_OPTIONS,
  async fn() {
    await using server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(""),
    );
    using builtin = Deno.createHttpClient({});
    await using client = createClient();
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const theirs = await fetch(url, { client: builtin });
    assertEquals(theirs.headers.get("content-length"), "0");
    assert(theirs.body !== null, "the built-in fetch gives a body");
    await theirs.body.cancel();
    const ours = await client.fetch(url);
    assertEquals(ours.status, 200);
    assert(ours.body !== null, "an empty body, not a null one");
    assertEquals((await ours.bytes()).byteLength, 0);
  },
});

/** The innermost `cause` of an error. */
function rootCause(error: unknown): unknown {
  let cur = error;
  for (let i = 0; i < 10; i++) {
    const next = (cur as { cause?: unknown })?.cause;
    if (next === undefined) return cur;
    cur = next;
  }
  return cur;
}

Deno.test({
  name: "Client.fetch() handles connection resets (RST) from a Node server",
  ...TEST_OPTIONS,
  async fn(t) {
    await using server = await startNodeResetter();
    const { origin } = server;
    const retry = { minDelay: 1, maxDelay: 10 };

    await t.step(
      "a GET reset before any response byte is sent again",
      async () => {
        await using client = createClient({ retry });
        const res = await client.fetch(`${origin}/reset-once?id=g1`);
        assertEquals(res.status, 200);
        assertEquals(
          await res.text(),
          "ok GET /reset-once?id=g1 after a reset",
        );
        assertEquals((await server.log()).seen["GET /reset-once?id=g1"], 2);
      },
    );

    await t.step("a GET reset every time fails after maxAttempts", async () => {
      await using client = createClient({
        retry: { ...retry, maxAttempts: 3 },
      });
      const error = await assertRejects(
        () => client.fetch(`${origin}/reset?id=g2`),
        TypeError,
        "after 3 attempts",
      );
      assertInstanceOf(rootCause(error), Deno.errors.ConnectionReset);
      assertEquals((await server.log()).seen["GET /reset?id=g2"], 3);
    });

    await t.step(
      "a POST reset after it was read is not sent again",
      async () => {
        await using client = createClient({ retry });
        const error = await assertRejects(
          () =>
            client.fetch(`${origin}/reset-once?id=p1`, {
              method: "POST",
              body: "pay once",
            }),
          TypeError,
        );
        assertInstanceOf(rootCause(error), Deno.errors.ConnectionReset);
        assertEquals((await server.log()).seen["POST /reset-once?id=p1"], 1);
      },
    );

    await t.step(
      "keep-alive race: a GET on a reset reused connection is replayed",
      async () => {
        await using client = createClient({ retry });
        const first = await client.fetch(`${origin}/ok-then-reset?id=k1`);
        assertEquals(await first.text(), "ok GET /ok-then-reset?id=k1");
        const res = await client.fetch(`${origin}/ok?id=k2`);
        assertEquals(await res.text(), "ok GET /ok?id=k2");
        assertEquals((await server.log()).seen["GET /ok?id=k2"], 1);
        const { totals } = client.stats();
        assertEquals(totals.connectionsOpened, 2);
        assertEquals(totals.retries.stale + totals.retries.unsent, 1);
      },
    );

    await t.step(
      "keep-alive race: a POST is replayed only with an Idempotency-Key",
      async () => {
        await using client = createClient({ retry });
        await (await client.fetch(`${origin}/ok-then-reset?id=k3`)).text();
        await assertRejects(
          () =>
            client.fetch(`${origin}/ok?id=p2`, { method: "POST", body: "x" }),
          TypeError,
        );
        // The server never read it: reset as it arrived.
        assertEquals((await server.log()).seen["POST /ok?id=p2"], undefined);
        await (await client.fetch(`${origin}/ok-then-reset?id=k4`)).text();
        const res = await client.fetch(`${origin}/ok?id=p3`, {
          method: "POST",
          body: "x",
          headers: { "idempotency-key": '"p3"' },
        });
        assertEquals(await res.text(), "ok POST /ok?id=p3");
        assertEquals((await server.log()).seen["POST /ok?id=p3"], 1);
      },
    );

    await t.step(
      "a reset in the middle of the head fails after retries",
      async () => {
        await using client = createClient({
          retry: { ...retry, maxAttempts: 2 },
        });
        await assertRejects(
          () => client.fetch(`${origin}/reset-mid-head?id=h1`),
          TypeError,
          "after 2 attempts",
        );
        assertEquals((await server.log()).seen["GET /reset-mid-head?id=h1"], 2);
        await assertRejects(
          () =>
            client.fetch(`${origin}/reset-mid-head?id=h2`, {
              method: "POST",
              body: "x",
            }),
          TypeError,
        );
        assertEquals(
          (await server.log()).seen["POST /reset-mid-head?id=h2"],
          1,
        );
      },
    );

    await t.step(
      "a reset in the middle of a streamed body errors the body",
      async () => {
        await using client = createClient({ retry });
        const res = await client.fetch(`${origin}/reset-mid-body?id=b1`);
        assertEquals(res.status, 200);
        await assertRejects(() => res.text(), TypeError);
        // The client is still good for the next request.
        const next = await client.fetch(`${origin}/ok?id=b2`);
        assertEquals(await next.text(), "ok GET /ok?id=b2");
      },
    );
  },
});
