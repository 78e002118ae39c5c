// Copyright 2026 the pooled-fetch authors. MIT license.
// Http2Session against HTTP/2 servers nobody here wrote: Node's http2 (TLS
// and h2c, in a child process), nghttpd (TLS and h2c), nginx with http2 on
// a TLS listener, and Deno.serve over TLS. Each runs the same matrix on one
// session: GET, HEAD, 204, redirect, gzip, POST/PUT/DELETE echo, a streamed
// upload, a 1 MiB body read slowly while another stream completes, 100
// concurrent streams, trailers, and an abort mid-body; then GOAWAY during a
// burst (Node, nginx) and REFUSED_STREAM (nghttpd). A case a server cannot
// produce is named in its step; a missing binary skips with a message.

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { FetchError } from "../errors.ts";
import { Http2Session } from "../_http2_session.ts";
import {
  bodyBytes,
  bodyText,
  FakeHost,
  makeExchange,
  sessionSettings,
  type TestRequestInit,
} from "./_http2_peer.ts";
import {
  BIG_SIZE,
  connectH2,
  findBinary,
  GZIP_SOURCE_SIZE,
  type H2Server,
  pattern,
  startDenoH2,
  startNghttpd,
  startNginxH2,
  startNodeH2,
} from "./_http2_servers.ts";
import type { DispatchResult } from "../_dispatch.ts";

/** What a server can be asked to do. */
interface Capabilities {
  greeting: string;
  nocontent: boolean;
  redirect: boolean;
  gzip: boolean;
  trailers: boolean;
  /** Methods whose body `/echo` sends back. */
  echo: string[];
}

interface Client {
  session: Http2Session;
  host: FakeHost;
  fetch(path: string, init?: TestRequestInit): Promise<DispatchResult>;
  close(): Promise<void>;
}

async function client(server: H2Server): Promise<Client> {
  const conn = await connectH2(server);
  const host = new FakeHost();
  const session = Http2Session.open(
    conn,
    sessionSettings(server.origin, { readAhead: 64 * 1024 }),
    host,
  );
  return {
    session,
    host,
    fetch(path, init) {
      const exchange = makeExchange(server.origin + path, init);
      session.send(exchange);
      exchange.promise.catch(() => {});
      return exchange.promise;
    },
    async close() {
      if (session.activeStreams === 0) session.close("client-closed");
      else session.destroy("client-closed", new Error("test over"));
      await session.finished;
    },
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function matrix(
  t: Deno.TestContext,
  server: H2Server,
  caps: Capabilities,
): Promise<void> {
  const c = await client(server);
  try {
    await t.step(`${server.name}: GET`, async () => {
      const r = await c.fetch("/text");
      assertEquals(r.status, 200);
      assertEquals(r.protocol, "2");
      assertInstanceOf(r.body, Uint8Array, "a small body arrives as bytes");
      assertEquals(await bodyText(r), caps.greeting);
    });

    await t.step(`${server.name}: HEAD`, async () => {
      const r = await c.fetch("/text", { method: "HEAD" });
      assertEquals(r.status, 200);
      assertEquals(r.body, null);
      // Whatever DATA followed is dropped; the session goes on.
      assertEquals(await bodyText(await c.fetch("/text")), caps.greeting);
    });

    await t.step({
      name: `${server.name}: 204${caps.nocontent ? "" : " (cannot produce)"}`,
      ignore: !caps.nocontent,
      fn: async () => {
        const r = await c.fetch("/nocontent");
        assertEquals(r.status, 204);
        assertEquals((await bodyBytes(r)).byteLength, 0);
      },
    });

    await t.step({
      name: `${server.name}: redirect${
        caps.redirect ? "" : " (cannot produce)"
      }`,
      ignore: !caps.redirect,
      fn: async () => {
        const r = await c.fetch("/redirect");
        assertEquals(r.status, 302);
        const location = r.headers.find(([n]) => n === "location")?.[1];
        assert(location?.endsWith("/text"), `location ${location}`);
        await bodyBytes(r);
      },
    });

    await t.step({
      name: `${server.name}: gzip${caps.gzip ? "" : " (cannot produce)"}`,
      ignore: !caps.gzip,
      fn: async () => {
        const r = await c.fetch("/gzip", {
          headers: [["accept-encoding", "gzip"]],
        });
        assertEquals(r.contentEncoding, "gzip");
        const encoded = await bodyBytes(r);
        const decoded = new Uint8Array(
          await new Response(
            new Blob([encoded.slice()]).stream().pipeThrough(
              new DecompressionStream("gzip"),
            ),
          ).arrayBuffer(),
        );
        assert(equalBytes(decoded, pattern(GZIP_SOURCE_SIZE)));
      },
    });

    await t.step(`${server.name}: ${caps.echo.join("/")} echo`, async () => {
      for (const method of caps.echo) {
        const body = pattern(3000 + method.length);
        const r = await c.fetch("/echo", { method, body });
        assertEquals(r.status, 200, method);
        assert(equalBytes(await bodyBytes(r), body), method);
      }
      // A streamed upload of unknown length, over several DATA frames.
      const chunks = [pattern(40000), pattern(50000), pattern(10)];
      const r = await c.fetch("/echo", {
        method: "POST",
        body: ReadableStream.from(chunks),
      });
      const echoed = await bodyBytes(r);
      assertEquals(echoed.byteLength, 90010);
    });

    await t.step(
      `${server.name}: 1 MiB read slowly while another stream completes`,
      async () => {
        const big = await c.fetch("/big");
        assertEquals(big.status, 200);
        assertInstanceOf(big.body, ReadableStream);
        // Unread, the big body holds only its window; others go on.
        await delay(20);
        assertEquals(await bodyText(await c.fetch("/text")), caps.greeting);
        const reader = big.body.getReader();
        let received = 0;
        let reads = 0;
        const expected = pattern(BIG_SIZE);
        let same = true;
        while (true) {
          const { done, value } = await reader.read();
          if (done) break;
          same &&= equalBytes(
            value,
            expected.subarray(received, received + value.byteLength),
          );
          received += value.byteLength;
          if (++reads % 8 === 0) await delay(1);
        }
        assertEquals(received, BIG_SIZE);
        assert(same, "the body is the pattern");
      },
    );

    await t.step(`${server.name}: 100 concurrent streams`, async () => {
      const before = c.session.requests;
      const results = await Promise.all(
        Array.from({ length: 100 }, () => c.fetch("/text")),
      );
      for (const r of results) assertEquals(await bodyText(r), caps.greeting);
      assertEquals(c.session.requests, before + 100);
      assertEquals(c.session.activeStreams, 0);
    });

    await t.step({
      name: `${server.name}: trailers${
        caps.trailers ? "" : " (cannot produce)"
      }`,
      ignore: !caps.trailers,
      fn: async () => {
        const r = await c.fetch("/trailers");
        assertEquals(r.status, 200);
        const text = await bodyText(r);
        assert(text.length > 0);
        assert(!r.headers.some(([n]) => n === "x-trailer"));
      },
    });

    await t.step(`${server.name}: abort mid-body`, async () => {
      const controller = new AbortController();
      const r = await c.fetch("/big", { signal: controller.signal });
      const reader = (r.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      const reason = new DOMException("enough", "AbortError");
      controller.abort(reason);
      let error: unknown;
      try {
        while (!(await reader.read()).done) {
          // Whatever was queued before the abort.
        }
      } catch (e) {
        error = e;
      }
      assertEquals(error, reason);
      assert(c.session.accepting, "the session stays in use");
      assertEquals(await bodyText(await c.fetch("/text")), caps.greeting);
    });

    assertEquals(c.host.closedReason, null);
  } finally {
    await c.close();
  }
}

const NODE = findBinary("node");
const NGHTTPD = findBinary("nghttpd");
const NGINX = findBinary("nginx");
if (NODE === null) {
  console.warn("node is not installed: skipping its HTTP/2 tests");
}
if (NGHTTPD === null) {
  console.warn("nghttpd (nghttp2-server) is not installed: skipping its tests");
}
if (NGINX === null) {
  console.warn("nginx is not installed: skipping its HTTP/2 tests");
}

Deno.test({
  name: "Http2Session interoperates with Node's http2 (TLS and h2c)",
  ignore: NODE === null,
  async fn(t) {
    const servers = await startNodeH2();
    const { tls, h2c } = servers!;
    try {
      const caps: Capabilities = {
        greeting: "hello from node\n",
        nocontent: true,
        redirect: true,
        gzip: true,
        trailers: true,
        echo: ["POST", "PUT", "DELETE"],
      };
      await matrix(t, tls, caps);
      await matrix(t, h2c, caps);

      await t.step("node http2: GOAWAY during a burst", async () => {
        const c = await client(h2c);
        try {
          const results = await Promise.allSettled(
            Array.from({ length: 5 }, (_, i) => c.fetch(`/burst?i=${i}`)),
          );
          const texts: string[] = [];
          const refused: FetchError[] = [];
          for (const result of results) {
            if (result.status === "fulfilled") {
              texts.push(await bodyText(result.value));
            } else {
              assertInstanceOf(result.reason, FetchError);
              refused.push(result.reason);
            }
          }
          assertEquals(texts, ["burst 1", "burst 3"]);
          assertEquals(refused.length, 3);
          for (const error of refused) {
            assertEquals(error.stage, "unsent");
            assertEquals(error.code, "STREAM_REFUSED");
            assertStringIncludes(error.message, "GOAWAY");
          }
          assertEquals(c.host.goingAwayCount, 1);
          await c.host.whenClosed();
        } finally {
          await c.close();
        }
      });
    } finally {
      await tls.close();
      await h2c.close();
    }
  },
});

Deno.test({
  name: "Http2Session interoperates with nghttpd (TLS and h2c)",
  ignore: NGHTTPD === null,
  async fn(t) {
    const caps: Capabilities = {
      greeting: "hello from nghttpd\n",
      nocontent: false,
      redirect: false,
      gzip: false,
      trailers: true, // --trailer: every body is followed by one
      echo: ["POST", "PUT"],
    };
    for (const tls of [true, false]) {
      const server = await startNghttpd({ tls });
      try {
        await matrix(t, server!, caps);
      } finally {
        await server!.close();
      }
    }

    await t.step(
      "nghttpd -m 2: streams past its limit, sent before its SETTINGS, are refused and replayable",
      async () => {
        const server = await startNghttpd({
          tls: false,
          maxConcurrentStreams: 2,
        });
        const c = await client(server!);
        try {
          // Sent at once, before the server's SETTINGS can arrive: the
          // session assumes 100 streams.
          const results = await Promise.allSettled(
            Array.from({ length: 6 }, () => c.fetch("/text")),
          );
          let ok = 0;
          for (const result of results) {
            if (result.status === "fulfilled") {
              assertEquals(await bodyText(result.value), caps.greeting);
              ok++;
            } else {
              assertInstanceOf(result.reason, FetchError);
              assertEquals(result.reason.stage, "unsent");
              assertEquals(result.reason.code, "STREAM_REFUSED");
            }
          }
          assert(ok >= 2, `${ok} answered`);
          assertEquals(c.session.maxConcurrentStreams, 2);
          assert(
            c.session.accepting,
            "REFUSED_STREAM leaves the session in use",
          );
          assertEquals(await bodyText(await c.fetch("/text")), caps.greeting);
        } finally {
          await c.close();
          await server!.close();
        }
      },
    );
  },
});

Deno.test({
  name: "Http2Session interoperates with nginx (http2 on TLS)",
  ignore: NGINX === null,
  async fn(t) {
    const server = await startNginxH2();
    try {
      await matrix(t, server!, {
        greeting: "hello from nginx\n",
        nocontent: true,
        redirect: true,
        gzip: true,
        trailers: true,
        echo: ["POST", "PUT", "DELETE"],
      });
    } finally {
      await server!.close();
    }

    await t.step(
      "nginx keepalive_requests 3: GOAWAY during a burst refuses the streams above its last id",
      async () => {
        const limited = await startNginxH2(3);
        const c = await client(limited!);
        try {
          const results = await Promise.allSettled(
            Array.from({ length: 6 }, () => c.fetch("/text")),
          );
          let ok = 0;
          for (const result of results) {
            if (result.status === "fulfilled") {
              assertEquals(await bodyText(result.value), "hello from nginx\n");
              ok++;
            } else {
              assertInstanceOf(result.reason, FetchError);
              assertEquals(result.reason.stage, "unsent");
              assertEquals(result.reason.code, "STREAM_REFUSED");
            }
          }
          assertEquals(ok, 3);
          assertEquals(c.host.goingAwayCount, 1);
          await c.host.whenClosed();
          assertEquals(c.host.closedReason, "server-closed");
        } finally {
          await c.close();
          await limited!.close();
        }
      },
    );
  },
});

Deno.test("Http2Session interoperates with Deno.serve over TLS (h2 by ALPN)", async (t) => {
  await using server = startDenoH2();
  await matrix(t, server, {
    greeting: "hello from deno\n",
    nocontent: true,
    redirect: true,
    gzip: true,
    trailers: false, // Deno.serve cannot send trailers
    echo: ["POST", "PUT", "DELETE"],
  });
});
