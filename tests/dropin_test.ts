// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Our fetch where a `fetch` goes: bound methods, `Request` bodies sent as the
 * built-in fetch sends them, declared lengths held to, default timeouts,
 * per-request settings, local URLs, URL credentials.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { FakeTime } from "@std/testing/time";
import { createClient, fetch as defaultFetch, FetchError } from "../mod.ts";
import {
  keepAliveHandler,
  type RawRequest,
  rawServer,
  response,
  waitFor,
} from "./_servers.ts";

/** A keep-alive server that answers each request with what it received. */
function echoServer() {
  const seen: RawRequest[] = [];
  const server = rawServer(keepAliveHandler((req) => {
    seen.push(req);
    return response(new TextDecoder().decode(req.body));
  }));
  return Object.assign(server, { seen });
}

Deno.test("Client.fetch, close and stats work detached from their client", async () => {
  await using server = echoServer();
  const client = createClient();
  const { fetch, stats, close } = client;
  assertEquals(await (await fetch(server.origin)).text(), "");
  // ky calls fetch with its own options object as `this`.
  const asKy = await fetch.call({ prefixUrl: "x" } as never, server.origin);
  assertEquals(asKy.status, 200);
  await asKy.body?.cancel();
  const stored = { fetch: client.fetch };
  assertEquals((await stored.fetch(server.origin)).status, 200);
  assertEquals(stats().totals.requestsSent, 3);
  await close();
});

Deno.test("fetch() (the default client, never closed) leaves nothing behind once the server closes", async () => {
  const clientClosed = Promise.withResolvers<void>();
  const server = rawServer(async (conn, socket) => {
    await conn.readRequest();
    await conn.write(response("shared"));
    // Close our side, then wait until the client closes its own.
    await socket.closeWrite();
    const buf = new Uint8Array(16);
    while (await socket.read(buf).catch(() => null) !== null) {
      // Unsolicited bytes: keep reading until the client closes.
    }
    clientClosed.resolve();
  });
  const res = await defaultFetch(server.origin);
  assertEquals(await res.text(), "shared");
  await clientClosed.promise;
  await server.close();
});

Deno.test("Client.fetch() sends a Request's in-memory body with Content-Length, as the built-in fetch does", async (t) => {
  await using server = echoServer();
  await using client = createClient();
  const form = new FormData();
  form.append("field", "value");
  const bodies: [string, BodyInit][] = [
    ["a string (ky's and axios's JSON)", JSON.stringify({ hello: "world" })],
    ["bytes", new TextEncoder().encode("raw bytes")],
    ["a Blob", new Blob(["blob ", "parts"])],
    ["FormData", form],
    ["URLSearchParams", new URLSearchParams({ a: "1", b: "2" })],
  ];
  for (const [what, body] of bodies) {
    await t.step(what, async () => {
      const request = new Request(server.origin, { method: "POST", body });
      const expected = await new Request(server.origin, {
        method: "POST",
        body: what === "FormData" ? form : body,
      }).arrayBuffer();
      const res = await client.fetch(request);
      await res.text();
      const seen = server.seen.at(-1)!;
      assertEquals(
        seen.header("content-length"),
        String(expected.byteLength),
      );
      assertEquals(seen.header("transfer-encoding"), undefined);
      if (what !== "FormData") {
        assertEquals(seen.body, new Uint8Array(expected));
      }
    });
  }
});

Deno.test("Client.fetch() replays a Request's in-memory body after a stale connection", async () => {
  let conn1 = 0;
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req === null) return;
    if (conn.id === 1 && conn1++ === 0) {
      await conn.write(response("warm"));
      await conn.readRequest(); // The second request: closed unanswered.
      return;
    }
    await conn.write(response(new TextDecoder().decode(req.body)));
  });
  await using client = createClient();
  await (await client.fetch(server.origin)).text();
  const request = new Request(server.origin, {
    method: "PUT",
    body: "again",
  });
  assertEquals(await (await client.fetch(request)).text(), "again");
  assertEquals(client.stats().totals.retries.stale, 1);
});

Deno.test("Client.fetch() streams a trickling Request body from its first bytes, without waiting for the end", async () => {
  const firstArrived = Promise.withResolvers<void>();
  await using server = rawServer(
    keepAliveHandler((req) => response(new TextDecoder().decode(req.body))),
  );
  await using client = createClient();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode("first,"));
    },
    async pull(controller) {
      // Only once the server has the first bytes does the rest come.
      await firstArrived.promise;
      controller.enqueue(new TextEncoder().encode("then the rest"));
      controller.close();
    },
  });
  const request = new Request(server.origin, {
    method: "POST",
    body,
    duplex: "half",
  } as RequestInit);
  const sent = client.fetch(request);
  assert(
    await waitFor(() => server.conns[0]?.received.includes("first,"), 3000),
    "the first bytes were held back",
  );
  firstArrived.resolve();
  assertEquals(await (await sent).text(), "first,then the rest");
  assertStringIncludes(server.conns[0].received, "transfer-encoding: chunked");
});

Deno.test("Client.fetch() sends a declared Content-Length for a stream and holds the stream to it", async () => {
  await using server = echoServer();
  await using client = createClient();
  const stream = (...parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) {
          controller.enqueue(new TextEncoder().encode(part));
        }
        controller.close();
      },
    });
  const ok = await client.fetch(server.origin, {
    method: "POST",
    body: stream("ab", "cde"),
    headers: { "content-length": "5" },
  });
  assertEquals(await ok.text(), "abcde");
  const seen = server.seen.at(-1)!;
  assertEquals(seen.header("content-length"), "5");
  assertEquals(seen.header("transfer-encoding"), undefined);
  for (
    const [parts, what] of [[["abc"], "ended after 3"], [
      ["abc", "def"],
      "longer",
    ]] as const
  ) {
    const error = await assertRejects(
      () =>
        client.fetch(server.origin, {
          method: "POST",
          body: stream(...parts),
          headers: { "content-length": "5" },
        }),
      FetchError,
    );
    assertEquals([error.stage, error.code], ["sent", "REQUEST_BODY"]);
    assertStringIncludes(error.message, what);
  }
  // Each failed request took its connection down with it: nothing the
  // server read after it could be taken for a request of its own.
  assertEquals(server.seen.length, 1);
});

Deno.test("createClient() waits 300 s for a head and for body progress by default", async () => {
  using time = new FakeTime();
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req?.target === "/body") {
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc");
    }
    await conn.readRequest().catch(() => null);
  });
  await using client = createClient({ retry: false });
  const head = client.fetch(`${server.origin}/head`).catch((e) => e);
  await waitForReal(() => server.conns[0]?.received.length > 0);
  await time.tickAsync(299_999);
  let settled = false;
  head.then(() => settled = true);
  await time.tickAsync(0);
  assertEquals(settled, false);
  await time.tickAsync(1);
  const error = await head;
  assertInstanceOf(error, FetchError);
  assertEquals(error.code, "HEADERS_TIMEOUT");
  assertStringIncludes(error.message, "headersTimeout (300000 ms)");

  const res = await client.fetch(`${server.origin}/body`);
  const reading = res.arrayBuffer().catch((e) => e);
  await time.tickAsync(300_000);
  const bodyError = await reading;
  assertInstanceOf(bodyError, FetchError);
  assertEquals(bodyError.code, "BODY_TIMEOUT");
  assertStringIncludes(bodyError.message, "bodyTimeout (300000 ms)");
});

/** Polls with real time while FakeTime is active (it does not fake I/O). */
async function waitForReal(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) {
    await new Promise((resolve) => queueMicrotask(() => resolve(undefined)));
    await Deno.stdout.write(new Uint8Array(0));
  }
  assert(condition(), "the server never saw the request");
}

Deno.test("Client.fetch() takes headersTimeout, bodyTimeout and retry per request", async () => {
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req?.target === "/busy") {
      await conn.write(response("busy", { status: 503 }));
      return;
    }
    await conn.readRequest().catch(() => null);
  });
  await using client = createClient({
    retry: { statusCodes: [503], minDelay: 1, maxDelay: 1 },
  });
  const error = await assertRejects(
    () => client.fetch(server.origin, { headersTimeout: 30, retry: false }),
    FetchError,
  );
  assertEquals(error.code, "HEADERS_TIMEOUT");
  assertStringIncludes(error.message, "headersTimeout (30 ms)");
  const busy = await client.fetch(`${server.origin}/busy`, { retry: false });
  assertEquals(busy.status, 503);
  await busy.body?.cancel();
  assertEquals(client.stats().totals.retries.status, 0);
  await assertRejects(
    () => client.fetch(server.origin, { bodyTimeout: -1 }),
    RangeError,
    "Cannot fetch as 'bodyTimeout' must be a positive number of milliseconds",
  );
  await assertRejects(
    () => client.fetch(server.origin, { retry: { maxAttempts: 0 } }),
    RangeError,
    "Cannot fetch as 'retry.maxAttempts' must be a positive integer: current value is 0",
  );
});

Deno.test("Client.fetch() serves data:, blob: and file: URLs as the built-in fetch does", async () => {
  await using client = createClient();
  for (
    const url of [
      "data:,Hello%2C%20World!",
      "data:text/plain;base64,SGVsbG8=",
      "data:application/json;charset=utf-8,%7B%7D",
    ]
  ) {
    const ours = await client.fetch(url);
    const theirs = await fetch(url);
    assertEquals(ours.status, theirs.status);
    assertEquals(
      ours.headers.get("content-type"),
      theirs.headers.get("content-type"),
    );
    assertEquals(await ours.text(), await theirs.text());
  }
  const blobUrl = URL.createObjectURL(new Blob(["from a blob"]));
  try {
    assertEquals(await (await client.fetch(blobUrl)).text(), "from a blob");
  } finally {
    URL.revokeObjectURL(blobUrl);
  }
  const file = new URL("./fixtures/ca.pem", import.meta.url);
  assertEquals(
    await (await client.fetch(file)).text(),
    await Deno.readTextFile(file),
  );
});

Deno.test("Client.fetch() refuses a redirect to data:, blob: or file:", async () => {
  const blobUrl = URL.createObjectURL(new Blob(["secret"]));
  const targets = ["file:///etc/passwd", "data:,gotcha", blobUrl];
  await using server = rawServer(keepAliveHandler((req) =>
    response("", {
      status: 302,
      headers: [`Location: ${targets[Number(req.target.slice(1))]}`],
    })
  ));
  await using client = createClient();
  try {
    for (const [i, target] of targets.entries()) {
      const error = await assertRejects(
        () => client.fetch(`${server.origin}/${i}`),
        TypeError,
      );
      assertStringIncludes(
        error.message,
        `redirect to unsupported scheme ${new URL(target).protocol}`,
      );
    }
  } finally {
    URL.revokeObjectURL(blobUrl);
  }
});

Deno.test("Client.fetch() turns URL credentials into Authorization: Basic, and never shows them", async () => {
  await using other = echoServer();
  await using server = rawServer(
    keepAliveHandler((req) =>
      req.target === "/away"
        ? response("", { status: 302, headers: [`Location: ${other.origin}/`] })
        : response(req.header("authorization") ?? "none")
    ),
  );
  await using client = createClient({ retry: false });
  const withCredentials = (path: string) =>
    server.origin.replace("http://", "http://us%20er:p%40ss@") + path;
  const res = await client.fetch(withCredentials("/"));
  assertEquals(await res.text(), `Basic ${btoa("us er:p@ss")}`);
  assertEquals(
    await (await client.fetch(withCredentials("/"), {
      headers: { authorization: "Bearer mine" },
    })).text(),
    "Bearer mine",
  );
  // Dropped on a cross-origin redirect.
  await (await client.fetch(withCredentials("/away"))).text();
  assertEquals(other.seen.at(-1)!.header("authorization"), undefined);
  // Never in stats or errors.
  assert(!JSON.stringify(client.stats()).includes("p%40ss"));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const error = await assertRejects(
    () => client.fetch(`http://user:secret@127.0.0.1:${port}/`),
    FetchError,
  );
  assert(!error.message.includes("secret"), error.message);
  assertEquals(error.origin, `http://127.0.0.1:${port}`);
});

Deno.test("Client.fetch() leaves alone a retry count a library passes through as init (ofetch)", async () => {
  await using server = echoServer();
  await using client = createClient();
  const init = { retry: 2, timeout: 1000 } as unknown as RequestInit;
  assertEquals((await client.fetch(server.origin, init)).status, 200);
});
