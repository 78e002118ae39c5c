// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * HTTP/2 through the client, against servers nobody here wrote: nginx with
 * `http2` on TLS, nghttpd, Node's `http2` (TLS and h2c) and `Deno.serve`
 * over TLS. The interop matrix HTTP/1.1 has (GET, HEAD, 204, redirect, gzip,
 * POST/PUT/DELETE echo, 1 MiB read slowly, 100 concurrent requests on one
 * connection, a trailer, an abort mid-body, GOAWAY during a burst), the
 * pool's rules (one session per origin, a cold burst waiting for ALPN, h2c
 * with `http1: false`), and the options. The session on its own is tested
 * in http2_session_test.ts.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { type Client, createClient, FetchError } from "../mod.ts";
import {
  BIG_SIZE,
  GZIP_SOURCE_SIZE,
  type H2Server,
  pattern,
  startDenoH2,
  startNghttpd,
  startNginxH2,
  startNodeH2,
} from "./_http2_servers.ts";
import { keepAliveHandler, response } from "./_servers.ts";
import { PEM, tlsRawServer } from "./_tls_servers.ts";

const TLS = { caCerts: [PEM.ca] };

/** What a server cannot produce, by name: those steps are skipped. */
interface Gaps {
  noContent?: boolean;
  redirect?: boolean;
  gzip?: boolean;
  deleteEcho?: boolean;
  trailers?: boolean;
}

/** Reads a body slowly, in small reads with pauses, and returns its size. */
async function readSlowly(res: Response): Promise<Uint8Array> {
  const reader = res.body!.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let i = 0; i < 10_000; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    size += value.byteLength;
    if (i % 8 === 0) await delay(1);
  }
  const out = new Uint8Array(size);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** The matrix, run through `client` against `server`. */
async function matrix(
  t: Deno.TestContext,
  client: Client,
  server: H2Server,
  gaps: Gaps,
): Promise<void> {
  const url = (path: string) => server.origin + path;
  const skip = (why: boolean | undefined) =>
    why ? ` (skipped: ${server.name} cannot produce it)` : "";
  await t.step(`${server.name}: GET`, async () => {
    const res = await client.fetch(url("/text"));
    assertEquals(res.status, 200);
    assert((await res.text()).length > 0);
  });
  await t.step(`${server.name}: HEAD`, async () => {
    const res = await client.fetch(url("/text"), { method: "HEAD" });
    assertEquals(res.status, 200);
    assertEquals(res.body, null);
  });
  await t.step(
    `${server.name}: 204${skip(gaps.noContent)}`,
    async () => {
      if (gaps.noContent) return;
      const res = await client.fetch(url("/nocontent"));
      assertEquals([res.status, res.body], [204, null]);
    },
  );
  await t.step(
    `${server.name}: redirect${skip(gaps.redirect)}`,
    async () => {
      if (gaps.redirect) return;
      const res = await client.fetch(url("/redirect"));
      assertEquals([res.status, res.redirected], [200, true]);
      await res.text();
    },
  );
  await t.step(`${server.name}: gzip${skip(gaps.gzip)}`, async () => {
    if (gaps.gzip) return;
    const res = await client.fetch(url("/gzip"));
    assertEquals(
      new Uint8Array(await res.arrayBuffer()),
      pattern(GZIP_SOURCE_SIZE),
    );
  });
  for (const method of ["POST", "PUT", "DELETE"]) {
    const gap = method === "DELETE" && gaps.deleteEcho;
    await t.step(`${server.name}: ${method} echo${skip(gap)}`, async () => {
      if (gap) return;
      const body = `payload for ${method}`;
      const res = await client.fetch(url("/echo"), { method, body });
      assertEquals(await res.text(), body);
    });
  }
  await t.step(`${server.name}: 1 MiB read slowly`, async () => {
    const res = await client.fetch(url("/big"));
    assertEquals(await readSlowly(res), pattern(BIG_SIZE));
  });
  await t.step(`${server.name}: 100 concurrent requests`, async () => {
    const texts = await Promise.all(
      Array.from(
        { length: 100 },
        async () => (await client.fetch(url("/text"))).text(),
      ),
    );
    assertEquals(new Set(texts).size, 1);
  });
  await t.step(
    `${server.name}: a trailer${skip(gaps.trailers)}`,
    async () => {
      if (gaps.trailers) return;
      const res = await client.fetch(url("/trailers"));
      assertEquals(res.status, 200);
      assert((await res.arrayBuffer()).byteLength > 0);
    },
  );
  await t.step(`${server.name}: an abort mid-body`, async () => {
    const controller = new AbortController();
    const res = await client.fetch(url("/big"), { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const reason = new Error("enough");
    controller.abort(reason);
    const error = await assertRejects(async () => {
      while (!(await reader.read()).done) { /* until the abort lands */ }
    });
    assertEquals(error, reason);
    // The session still serves.
    assertEquals((await client.fetch(url("/text"))).status, 200);
  });
  const origin = client.stats().origins.find((o) =>
    o.origin === new URL(server.origin).origin.replace(
        /^(https?:\/\/[^:/]+)$/,
        `$1:${server.port}`,
      ) || o.origin.endsWith(`:${server.port}`)
  )!;
  assertEquals(origin.protocol, "h2");
  assertEquals(origin.connectionsOpened, 1, JSON.stringify(origin));
}

Deno.test("Client.fetch() speaks HTTP/2 to Deno.serve over TLS", async (t) => {
  await using server = startDenoH2();
  await using client = createClient({ http2: true, tls: TLS });
  await matrix(t, client, server, { trailers: true });
});

Deno.test("Client.fetch() speaks HTTP/2 to Node's http2, over TLS and h2c", async (t) => {
  const node = await startNodeH2();
  if (node === null) {
    console.warn("%cSKIPPED: node is not installed", "color: yellow");
    return;
  }
  await using _tls = node.tls;
  await using _h2c = node.h2c;
  {
    await using client = createClient({ http2: true, tls: TLS });
    await matrix(t, client, node.tls, {});
  }
  {
    await using client = createClient({ http1: false });
    await matrix(t, client, node.h2c, {});
  }
});

Deno.test("Client.fetch() speaks HTTP/2 to nghttpd", async (t) => {
  const server = await startNghttpd({ tls: true });
  if (server === null) {
    console.warn("%cSKIPPED: nghttpd is not installed", "color: yellow");
    return;
  }
  await using _server = server;
  await using client = createClient({ http2: true, tls: TLS });
  await matrix(t, client, server, {
    noContent: true,
    redirect: true,
    gzip: true,
    deleteEcho: true,
  });
});

Deno.test("Client.fetch() speaks HTTP/2 to nginx, and replays a burst's streams above its GOAWAY", async (t) => {
  const server = await startNginxH2();
  if (server === null) {
    console.warn("%cSKIPPED: nginx is not installed", "color: yellow");
    return;
  }
  await using _server = server;
  {
    await using client = createClient({ http2: true, tls: TLS });
    await matrix(t, client, server, {});
  }
  const limited = await startNginxH2(3);
  await using _limited = limited!;
  await using client = createClient({ http2: true, tls: TLS });
  const texts = await Promise.all(
    Array.from(
      { length: 20 },
      async () => (await client.fetch(limited!.origin + "/text")).text(),
    ),
  );
  assertEquals(texts.length, 20);
  const { origins, totals } = client.stats();
  assert(origins[0].connectionsOpened >= 7, JSON.stringify(origins[0]));
  assert(totals.retries.unsent > 0, JSON.stringify(totals.retries));
});

Deno.test("A cold burst of 100 requests to an HTTP/2 origin opens one connection", async () => {
  await using server = startDenoH2();
  await using client = createClient({ http2: true, tls: TLS });
  const statuses = await Promise.all(
    Array.from({ length: 100 }, async () => {
      const res = await client.fetch(server.origin + "/text");
      await res.body?.cancel();
      return res.status;
    }),
  );
  assertEquals(statuses, Array(100).fill(200));
  const [origin] = client.stats().origins;
  assertEquals([origin.protocol, origin.connectionsOpened], ["h2", 1]);
});

Deno.test("A second HTTP/2 session opens only when the first one's streams are taken", async () => {
  // Each response holds its stream open until released.
  const release = Promise.withResolvers<void>();
  await using server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: PEM.serverCert,
    key: PEM.serverKey,
  }, () =>
    new Response(
      new ReadableStream({
        async start(controller) {
          controller.enqueue(new TextEncoder().encode("held"));
          await release.promise;
          controller.close();
        },
      }),
    ));
  const origin = `https://127.0.0.1:${server.addr.port}`;
  await using client = createClient({
    http2: true,
    tls: TLS,
    maxConcurrentStreams: 4,
    maxConnectionsPerOrigin: 2,
  });
  const first = await Promise.all(
    Array.from({ length: 4 }, () => client.fetch(origin)),
  );
  assertEquals(client.stats().origins[0].sessions, 1);
  const second = await Promise.all(
    Array.from({ length: 4 }, () => client.fetch(origin)),
  );
  const stats = client.stats().origins[0];
  assertEquals([stats.sessions, stats.streams], [2, 8]);
  release.resolve();
  const texts = await Promise.all(
    [...first, ...second].map((res) => res.text()),
  );
  assertEquals(texts, Array(8).fill("held"));
});

Deno.test("With http2 on, an https: origin that picks http/1.1 by ALPN gets HTTP/1.1; with http1: false it is refused", async () => {
  await using server = tlsRawServer(keepAliveHandler(() => response("h1")), {
    alpnProtocols: ["http/1.1"],
  });
  {
    await using client = createClient({ http2: true, tls: TLS });
    assertEquals(await (await client.fetch(server.origin)).text(), "h1");
    assertEquals(client.stats().origins[0].protocol, "http/1.1");
  }
  await using client = createClient({ http1: false, tls: TLS });
  // The server's TLS stack refuses the handshake: no protocol in common.
  const error = await assertRejects(
    () => client.fetch(server.origin),
    FetchError,
  );
  assertEquals([error.stage, error.code], ["connect", "TLS_FAILED"]);
  assertStringIncludes(error.message, "NoApplicationProtocol");
});

Deno.test("createClient() checks the HTTP/2 options", () => {
  assertThrows(
    () => createClient({ http1: false, http2: false }),
    RangeError,
    "'http1' and 'http2' cannot both be false",
  );
  assertThrows(
    () => createClient({ maxConcurrentStreams: 0 }),
    RangeError,
    "'maxConcurrentStreams' must be a positive integer",
  );
  assertThrows(
    () => createClient({ http2: "yes" as never }),
    TypeError,
    "'http2' must be a boolean",
  );
});
