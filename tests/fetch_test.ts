// Copyright 2026 the pooled-fetch authors. MIT license.
// Fetch semantics: inputs, bodies, responses, redirects, decoding, aborts and
// failures, against Deno.serve and raw servers on loopback.

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient, fetch } from "../mod.ts";
import { HttpParseError } from "../errors.ts";
import {
  keepAliveHandler,
  rawServer,
  response,
  runWithMod,
} from "./_servers.ts";

function serve(
  handler: (req: Request) => Response | Promise<Response>,
): Deno.HttpServer<Deno.NetAddr> & { base: string } {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler,
  );
  return Object.assign(server, {
    base: `http://127.0.0.1:${server.addr.port}`,
  });
}

Deno.test("createClient() rejects invalid options before any I/O", () => {
  const cases: [Record<string, unknown>, ErrorConstructor, string][] = [
    [
      { pipelining: 0 },
      RangeError,
      "Cannot create client as 'pipelining' must be a positive integer: current value is 0",
    ],
    [
      { maxConnectionsPerOrigin: 1.5 },
      RangeError,
      "Cannot create client as 'maxConnectionsPerOrigin' must be a positive integer: current value is 1.5",
    ],
    [
      { idleTimeout: -1 },
      RangeError,
      "Cannot create client as 'idleTimeout' must be a positive number of milliseconds up to 2147483647: current value is -1",
    ],
    [
      { headersTimeout: "5" },
      TypeError,
      `Cannot create client as 'headersTimeout' must be a positive number of milliseconds up to 2147483647, or Infinity: current value is "5"`,
    ],
    [
      { connectTimeout: NaN },
      RangeError,
      "Cannot create client as 'connectTimeout' must be a positive number of milliseconds up to 2147483647, or Infinity: current value is NaN",
    ],
    [
      { bodyTimeout: 0 },
      RangeError,
      "Cannot create client as 'bodyTimeout' must be a positive number of milliseconds up to 2147483647, or Infinity: current value is 0",
    ],
    [
      { maxHeaderSize: 10 },
      RangeError,
      "Cannot create client as 'maxHeaderSize' must be an integer >= 64: current value is 10",
    ],
    [
      { maxQueue: -1 },
      RangeError,
      "Cannot create client as 'maxQueue' must be an integer >= 0 or Infinity: current value is -1",
    ],
    [
      { tls: { caCerts: "pem" } },
      TypeError,
      `Cannot create client as 'tls.caCerts' must be an array of PEM strings: current value is "pem"`,
    ],
    [
      { tls: { cert: "pem" } },
      TypeError,
      "Cannot create client as 'tls.key' must be set together with 'tls.cert': current value is undefined",
    ],
  ];
  for (const [options, ErrorClass, message] of cases) {
    assertThrows(() => createClient(options), ErrorClass, message);
  }
});

Deno.test("Client.fetch() returns a real Response with status, headers, url and body", async () => {
  await using server = rawServer(
    keepAliveHandler(() =>
      "HTTP/1.1 201 Made\r\nX-Test: 1\r\nContent-Length: 5\r\n\r\nhello"
    ),
  );
  await using client = createClient();
  const res = await client.fetch(`${server.origin}/a?b=1`);
  assertInstanceOf(res, Response);
  assertEquals(res.status, 201);
  assertEquals(res.statusText, "Made");
  assertEquals(res.ok, true);
  assertEquals(res.headers.get("x-test"), "1");
  assertEquals(res.url, `${server.origin}/a?b=1`);
  assertEquals(res.redirected, false);
  assertEquals(await res.text(), "hello");
});

Deno.test("Client.fetch() sends the exact request bytes fetch would", async () => {
  const heads: string[] = [];
  await using server = rawServer(keepAliveHandler((req) => {
    heads.push(req.rawHead);
    return response("ok");
  }));
  await using client = createClient();
  await (await client.fetch(`${server.origin}/p%20q?x=1&y=%C3%A9`)).text();
  await (await client.fetch(`${server.origin}/post`, {
    method: "post",
    headers: { "X-Custom": "v", "User-Agent": "mine" },
    body: "abc",
  })).text();
  await (await client.fetch(`${server.origin}/empty`, { method: "PUT" }))
    .text();
  const host = `127.0.0.1:${server.port}`;
  assertEquals(
    heads[0],
    `GET /p%20q?x=1&y=%C3%A9 HTTP/1.1\r\nhost: ${host}\r\naccept: */*\r\n` +
      "accept-encoding: gzip, deflate, br\r\nuser-agent: pooled-fetch/0.1\r\n\r\n",
  );
  assertEquals(
    heads[1],
    `POST /post HTTP/1.1\r\nhost: ${host}\r\nuser-agent: mine\r\nx-custom: v\r\n` +
      "accept: */*\r\naccept-encoding: gzip, deflate, br\r\n" +
      "content-type: text/plain;charset=UTF-8\r\ncontent-length: 3\r\n\r\n",
  );
  assertStringIncludes(heads[2], "content-length: 0\r\n");
  assertEquals(server.accepted, 1);
});

Deno.test("Client.fetch() accepts a string, a URL or a Request, and init overrides the Request", async () => {
  await using server = serve(async (req) =>
    new Response(
      `${req.method} ${new URL(req.url).pathname} ${
        req.headers.get("x-a")
      } ${await req
        .text()}`,
    )
  );
  await using client = createClient();
  assertEquals(
    await (await client.fetch(`${server.base}/s`)).text(),
    "GET /s null ",
  );
  assertEquals(
    await (await client.fetch(new URL("/u", server.base))).text(),
    "GET /u null ",
  );
  // A fresh Request each time: its body can be read only once.
  const putRequest = () =>
    new Request(`${server.base}/r`, {
      method: "PUT",
      headers: { "x-a": "from-request" },
      body: "body",
    });
  assertEquals(
    await (await client.fetch(putRequest())).text(),
    "PUT /r from-request body",
  );
  assertEquals(
    await (await client.fetch(putRequest(), {
      method: "POST",
      headers: { "x-a": "from-init" },
      body: "other",
    })).text(),
    "POST /r from-init other",
  );
});

Deno.test("Client.fetch() sends every body type with the Content-Type fetch gives it", async () => {
  await using server = serve(async (req) => {
    const type = req.headers.get("content-type") ?? "";
    const length = req.headers.get("content-length");
    const chunked = req.headers.get("transfer-encoding");
    if (type.startsWith("multipart/form-data")) {
      const form = await req.formData();
      return Response.json({ type: "multipart", a: form.get("a"), length });
    }
    return Response.json({ type, length, chunked, text: await req.text() });
  });
  await using client = createClient();
  const post = async (body: BodyInit) =>
    await (await client.fetch(server.base, { method: "POST", body })).json();
  assertEquals(await post("hé"), {
    type: "text/plain;charset=UTF-8",
    length: "3",
    chunked: null,
    text: "hé",
  });
  assertEquals(
    (await post(new TextEncoder().encode("xyz").buffer)).text,
    "xyz",
  );
  const view = new TextEncoder().encode("__view__").subarray(2, 6);
  assertEquals(await post(view), {
    type: "",
    length: "4",
    chunked: null,
    text: "view",
  });
  assertEquals(await post(new Blob(["blob"], { type: "text/x-blob" })), {
    type: "text/x-blob",
    length: "4",
    chunked: null,
    text: "blob",
  });
  assertEquals(await post(new URLSearchParams({ a: "1", b: "x y" })), {
    type: "application/x-www-form-urlencoded;charset=UTF-8",
    length: "9",
    chunked: null,
    text: "a=1&b=x+y",
  });
  const form = new FormData();
  form.set("a", "form value");
  const multipart = await post(form);
  assertEquals(multipart.type, "multipart");
  assertEquals(multipart.a, "form value");
  assert(Number(multipart.length) > 0);
  const stream = new Blob(["str", "eam"]).stream();
  assertEquals(await post(stream), {
    type: "",
    length: null,
    chunked: "chunked",
    text: "stream",
  });
});

Deno.test("Client.fetch() streams a large response body without buffering it whole", async () => {
  const size = 8 * 1024 * 1024;
  await using server = serve(() => new Response(new Uint8Array(size).fill(7)));
  await using client = createClient();
  const res = await client.fetch(server.base);
  let total = 0;
  let chunks = 0;
  for await (const chunk of res.body!) {
    total += chunk.byteLength;
    chunks++;
  }
  assertEquals(total, size);
  assert(chunks > 8, `expected a stream of many chunks, got ${chunks}`);
});

Deno.test("Client.fetch() rejects a GET or HEAD with a body, bad schemes and forbidden methods", async () => {
  await using client = createClient();
  await assertRejects(
    () => client.fetch("http://127.0.0.1:1/", { body: "x" }),
    TypeError,
    "GET request cannot have a body",
  );
  await assertRejects(
    () => client.fetch("ftp://127.0.0.1/"),
    TypeError,
    "its scheme is not supported: use http:, https:, data:, blob: or file:",
  );
  for (const method of ["CONNECT", "TRACE", "TRACK"]) {
    await assertRejects(
      () => client.fetch("http://127.0.0.1:1/", { method }),
      TypeError,
      `the method ${method} is forbidden`,
    );
  }
  await assertRejects(
    () => client.fetch("not a url"),
    TypeError,
    "URL is invalid",
  );
  await assertRejects(
    () =>
      client.fetch("http://127.0.0.1:1/", {
        method: "POST",
        body: "abc",
        headers: { "content-length": "10" },
      }),
    TypeError,
    "contradicts its body",
  );
});

Deno.test("Client.fetch() follows redirects and rewrites methods as fetch does", async () => {
  await using server = serve(async (req) => {
    const url = new URL(req.url);
    const to = url.searchParams.get("to");
    const status = Number(url.searchParams.get("status") ?? 302);
    if (to !== null) {
      return new Response(null, { status, headers: { location: to } });
    }
    return Response.json({
      method: req.method,
      body: await req.text(),
      type: req.headers.get("content-type"),
    });
  });
  await using client = createClient();
  const go = async (status: number, method: string) => {
    const res = await client.fetch(
      `${server.base}/r?status=${status}&to=/final`,
      { method, body: method === "GET" ? undefined : "payload" },
    );
    assertEquals(res.redirected, true);
    assertEquals(res.url, `${server.base}/final`);
    return await res.json();
  };
  assertEquals(await go(303, "PUT"), { method: "GET", body: "", type: null });
  assertEquals(await go(301, "POST"), { method: "GET", body: "", type: null });
  assertEquals(await go(302, "POST"), { method: "GET", body: "", type: null });
  assertEquals(await go(307, "POST"), {
    method: "POST",
    body: "payload",
    type: "text/plain;charset=UTF-8",
  });
  assertEquals(await go(308, "PUT"), {
    method: "PUT",
    body: "payload",
    type: "text/plain;charset=UTF-8",
  });
  assertEquals(await go(302, "GET"), { method: "GET", body: "", type: null });
});

Deno.test("Client.fetch() stops after 20 redirects, and honours manual and error modes", async () => {
  await using server = serve((req) => {
    const n = Number(new URL(req.url).searchParams.get("n"));
    if (n === 0) return new Response("done");
    return new Response(null, {
      status: 302,
      headers: { location: `/?n=${n - 1}` },
    });
  });
  await using client = createClient();
  const twenty = await client.fetch(`${server.base}/?n=20`);
  assertEquals(await twenty.text(), "done");
  await assertRejects(
    () => client.fetch(`${server.base}/?n=21`),
    TypeError,
    "more than 20 redirects",
  );
  const manual = await client.fetch(`${server.base}/?n=1`, {
    redirect: "manual",
  });
  assertEquals(manual.status, 302);
  assertEquals(manual.headers.get("location"), "/?n=0");
  assertEquals(manual.redirected, false);
  await manual.body?.cancel();
  await assertRejects(
    () => client.fetch(`${server.base}/?n=1`, { redirect: "error" }),
    TypeError,
    'redirect is "error"',
  );
});

Deno.test("Client.fetch() drops Authorization, Cookie and Proxy-Authorization on a cross-origin redirect only", async () => {
  await using target = serve((req) =>
    Response.json({
      authorization: req.headers.get("authorization"),
      cookie: req.headers.get("cookie"),
      proxy: req.headers.get("proxy-authorization"),
      other: req.headers.get("x-other"),
    })
  );
  await using origin = serve((req) => {
    const url = new URL(req.url);
    if (url.pathname === "/same") {
      return Response.json({
        authorization: req.headers.get("authorization"),
        cookie: req.headers.get("cookie"),
        proxy: req.headers.get("proxy-authorization"),
        other: req.headers.get("x-other"),
      });
    }
    const location = url.pathname === "/cross" ? `${target.base}/` : "/same";
    return new Response(null, { status: 302, headers: { location } });
  });
  await using client = createClient();
  const headers = {
    authorization: "Bearer secret",
    cookie: "a=b",
    "proxy-authorization": "Basic x",
    "x-other": "kept",
  };
  const cross = await client.fetch(`${origin.base}/cross`, { headers });
  assertEquals(await cross.json(), {
    authorization: null,
    cookie: null,
    proxy: null,
    other: "kept",
  });
  const same = await client.fetch(`${origin.base}/hop`, { headers });
  assertEquals(await same.json(), {
    authorization: "Bearer secret",
    cookie: "a=b",
    proxy: "Basic x",
    other: "kept",
  });
});

async function compress(
  data: string,
  format: CompressionFormat,
): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([data]).stream().pipeThrough(
    new CompressionStream(format) as unknown as ReadableWritablePair<
      Uint8Array,
      Uint8Array
    >,
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("Client.fetch() decodes gzip, deflate and br bodies and sends Accept-Encoding", async () => {
  const text = "compressed ".repeat(1000);
  const gzip = await compress(text, "gzip");
  const deflate = await compress(text, "deflate");
  const br = await compress(text, "brotli" as CompressionFormat);
  const seen: (string | null)[] = [];
  await using server = serve((req) => {
    seen.push(req.headers.get("accept-encoding"));
    const coding = new URL(req.url).pathname.slice(1);
    const body = coding === "gzip" ? gzip : coding === "deflate" ? deflate : br;
    return new Response(body, { headers: { "content-encoding": coding } });
  });
  await using client = createClient();
  for (const coding of ["gzip", "deflate", "br"]) {
    const res = await client.fetch(`${server.base}/${coding}`);
    assertEquals(res.headers.get("content-encoding"), coding);
    assertEquals(await res.text(), text);
  }
  assertEquals(seen, [
    "gzip, deflate, br",
    "gzip, deflate, br",
    "gzip, deflate, br",
  ]);
  const own = await client.fetch(`${server.base}/gzip`, {
    headers: { "accept-encoding": "gzip" },
  });
  assertEquals(await own.text(), text);
  assertEquals(seen[3], "gzip");
});

Deno.test("Client.fetch() errors a body that decodes beyond maxDecodedBodySize", async () => {
  const bomb = await compress("\0".repeat(1024 * 1024), "gzip");
  await using server = serve(() =>
    new Response(bomb, { headers: { "content-encoding": "gzip" } })
  );
  await using client = createClient({ maxDecodedBodySize: 64 * 1024 });
  const res = await client.fetch(server.base);
  await assertRejects(() => res.arrayBuffer(), TypeError, "decompression bomb");
});

Deno.test("Client.fetch() rejects with the signal's reason when aborted before sending", async () => {
  await using server = rawServer(keepAliveHandler(() => response("x")));
  await using client = createClient();
  const reason = new Error("stop");
  await assertRejects(
    () => client.fetch(server.origin, { signal: AbortSignal.abort(reason) }),
    Error,
    "stop",
  );
  assertEquals(server.accepted, 0);
});

Deno.test("Client.fetch() rejects with the signal's reason while waiting for headers, and destroys the connection", async () => {
  let served = 0;
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req?.target === "/hang") {
      await conn.waitForClose(5000);
      return;
    }
    served++;
    await conn.write(response("fine"));
    await conn.waitForClose(5000);
  });
  await using client = createClient();
  const controller = new AbortController();
  const reason = new DOMException("user gave up", "AbortError");
  const pending = client.fetch(`${server.origin}/hang`, {
    signal: controller.signal,
  });
  await delay(50);
  controller.abort(reason);
  const error = await pending.catch((e) => e);
  assertEquals(error, reason);
  // The aborted connection is gone: the next request needs a new one.
  assertEquals(
    await (await client.fetch(`${server.origin}/ok`)).text(),
    "fine",
  );
  assertEquals(server.accepted, 2);
  assertEquals(served, 1);
});

Deno.test("Client.fetch() errors the body with the signal's reason while reading it", async () => {
  await using server = rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
    await conn.write(new Uint8Array(100_000));
    await conn.waitForClose(5000);
  });
  await using client = createClient();
  const controller = new AbortController();
  const res = await client.fetch(server.origin, { signal: controller.signal });
  const reader = res.body!.getReader();
  await reader.read();
  const reason = new Error("enough");
  controller.abort(reason);
  const error = await (async () => {
    while (true) {
      const { done } = await reader.read();
      if (done) return null;
    }
  })().catch((e) => e);
  assertEquals(error, reason);
  assert(
    await server.conns[0].waitForClose(2000),
    "the connection was not closed",
  );
});

Deno.test("Client.fetch() rejects with a TypeError naming the origin when the connection is refused", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await using client = createClient({ retry: false });
  const error = await client.fetch(`http://127.0.0.1:${port}/`).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, `http://127.0.0.1:${port}`);
  assertStringIncludes(error.message, "connection refused");
  assertInstanceOf(error.cause, Deno.errors.ConnectionRefused);
});

Deno.test("Client.fetch() rejects with a TypeError when the server closes before responding", async () => {
  await using server = rawServer(async (conn) => {
    await conn.readRequest();
  });
  await using client = createClient({ retry: false });
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, server.origin);
  assertStringIncludes(error.message, "before sending a response");
  assertInstanceOf(error.cause, Deno.errors.UnexpectedEof);
});

Deno.test("Client.fetch() rejects with a TypeError whose cause is the parse error for a malformed response", async () => {
  await using server = rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n");
  });
  await using client = createClient({ retry: false });
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, "malformed response");
  assertInstanceOf(error.cause, HttpParseError);
});

Deno.test("Client.fetch() rejects after headersTimeout and errors the body after bodyTimeout", async () => {
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req?.target === "/small") {
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    } else if (req?.target === "/large") {
      await conn.write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\nabc");
    }
    await conn.waitForClose(3000);
  });
  await using client = createClient({
    headersTimeout: 100,
    bodyTimeout: 100,
    retry: false,
  });
  const error = await client.fetch(`${server.origin}/head`).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertEquals((error.cause as Error).name, "TimeoutError");
  assertStringIncludes(error.message, "headersTimeout");
  // A small body is gathered before the Response is handed over: the
  // timeout rejects the fetch itself.
  const small = await client.fetch(`${server.origin}/small`).catch((e) => e);
  assertInstanceOf(small, TypeError);
  assertStringIncludes(small.message, "bodyTimeout");
  const res = await client.fetch(`${server.origin}/large`);
  const bodyError = await res.text().catch((e) => e);
  assertInstanceOf(bodyError, TypeError);
  assertStringIncludes(
    String(
      (bodyError.cause as Error | undefined)?.message ?? bodyError.message,
    ),
    "bodyTimeout",
  );
});

Deno.test("Client.fetch() gives no body for HEAD, 204 and 304 even with a Content-Length", async () => {
  await using server = rawServer(keepAliveHandler((req) => {
    if (req.target === "/204") {
      return "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
    }
    if (req.target === "/304") {
      return "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n";
    }
    return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
  }));
  await using client = createClient();
  const head = await client.fetch(server.origin, { method: "HEAD" });
  assertEquals(head.headers.get("content-length"), "5");
  assertEquals(await head.text(), "");
  const noContent = await client.fetch(`${server.origin}/204`);
  assertEquals(noContent.body, null);
  const notModified = await client.fetch(`${server.origin}/304`);
  assertEquals(notModified.status, 304);
  assertEquals(notModified.body, null);
  assertEquals(server.accepted, 1);
});

Deno.test("fetch() uses a shared default client whose idle sockets let the process exit", async () => {
  await using server = serve(() => new Response("bye"));
  const output = await runWithMod(
    ["fetch"],
    `
    const res = await fetch(${JSON.stringify(server.base)});
    console.log(await res.text());
  `,
  );
  assertEquals(output.stderr, "");
  assertEquals(output.stdout.trim(), "bye");
  assert(output.success);
  assert(
    output.elapsed < 3000,
    `the process took ${output.elapsed} ms to exit`,
  );
});

Deno.test("fetch() works like the built-in fetch for a simple GET", async () => {
  await using server = serve(() => new Response("same"));
  const ours = await fetch(server.base);
  const theirs = await globalThis.fetch(server.base);
  assertEquals(ours.status, theirs.status);
  assertEquals(await ours.text(), await theirs.text());
});

Deno.test("Response.clone() of a fetched response keeps its url and redirected", async () => {
  await using server = serve((req) =>
    new URL(req.url).pathname === "/from"
      ? new Response(null, { status: 302, headers: { location: "/to" } })
      : new Response("body")
  );
  await using client = createClient();
  const res = await client.fetch(`${server.base}/from`);
  const copy = res.clone();
  assertEquals([copy.url, copy.redirected], [`${server.base}/to`, true]);
  assertEquals([res.url, res.redirected], [`${server.base}/to`, true]);
  assertEquals(await copy.text(), "body");
  assertEquals(await res.text(), "body");
});
