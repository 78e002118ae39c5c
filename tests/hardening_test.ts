// Copyright 2026 the pooled-fetch authors. MIT license.
// Hostile servers and hostile inputs: smuggling and injection refused before
// a byte is sent, bytes beyond a response's framing never read as the next
// response, and every parser limit enforced at its edge through the client.

import {
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient } from "../mod.ts";
import { HttpParseError } from "../errors.ts";
import { keepAliveHandler, rawServer, response } from "./_servers.ts";

Deno.test("Client.fetch() refuses CR, LF or NUL in the method, target or headers before sending a byte", async () => {
  await using server = rawServer(keepAliveHandler(() => response("x")));
  await using client = createClient();
  const bad: [string, RequestInit][] = [
    ["method with CRLF", { method: "GET /evil HTTP/1.1\r\nX: y" }],
    ["method with a space", { method: "GE T" }],
    ["method with NUL", { method: "GET\0" }],
    ["empty method", { method: "" }],
  ];
  for (const [what, init] of bad) {
    await assertRejects(
      () => client.fetch(server.origin, init),
      TypeError,
      undefined,
      what,
    );
  }
  // Header values and names are checked by Headers itself, before we see them.
  await assertRejects(
    () =>
      client.fetch(server.origin, { headers: { "x-a": "1\r\nInjected: yes" } }),
    TypeError,
  );
  await assertRejects(
    () => client.fetch(server.origin, { headers: { "bad name": "1" } }),
    TypeError,
  );
  await assertRejects(
    () => client.fetch(server.origin, { headers: [["x-nul", "a\0b"]] }),
    TypeError,
  );
  // A URL cannot carry raw spaces or CRLF into the target: the URL parser
  // percent-encodes them.
  const seen: string[] = [];
  await using echo = rawServer(keepAliveHandler((req) => {
    seen.push(req.line);
    return response("ok");
  }));
  await (await client.fetch(`${echo.origin}/a b?c=d\r\ne`)).text();
  // (and drops CR and LF altogether).
  assertEquals(seen, ["GET /a%20b?c=de HTTP/1.1"]);
  assertEquals(server.accepted, 0);
});

Deno.test("Client.fetch() refuses a Content-Length or Transfer-Encoding from the caller that contradicts the body", async () => {
  await using server = rawServer(keepAliveHandler(() => response("x")));
  await using client = createClient();
  await assertRejects(
    () =>
      client.fetch(server.origin, {
        method: "POST",
        body: "12345",
        headers: { "content-length": "3" },
      }),
    TypeError,
    "contradicts its body",
  );
  await assertRejects(
    () =>
      client.fetch(server.origin, {
        method: "POST",
        body: "12345",
        headers: { "transfer-encoding": "chunked" },
      }),
    TypeError,
    "Transfer-Encoding",
  );
  // A matching one is fine.
  const res = await client.fetch(server.origin, {
    method: "POST",
    body: "12345",
    headers: { "content-length": "5" },
  });
  assertEquals(await res.text(), "x");
  assertEquals(server.accepted, 1);
});

Deno.test("Client.fetch() never reads bytes beyond a response's framing as the next response", async () => {
  await using server = rawServer(async (conn) => {
    const req = await conn.readRequest();
    if (req === null) return;
    if (conn.id === 1) {
      // A response followed by a smuggled one nobody asked for.
      await conn.write(
        response("first") +
          "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nsmuggled",
      );
      await conn.waitForClose(2000);
      return;
    }
    await conn.write(response("second"));
    await conn.waitForClose(2000);
  });
  await using client = createClient({ retry: false });
  assertEquals(await (await client.fetch(server.origin)).text(), "first");
  await delay(20);
  assertEquals(await (await client.fetch(server.origin)).text(), "second");
  assertEquals(server.accepted, 2);
});

Deno.test("Client.fetch() enforces maxHeaderCount at its edge", async () => {
  const fields = (n: number) =>
    Array.from({ length: n }, (_, i) => `X-F${i}: v`);
  await using server = rawServer(keepAliveHandler((req) =>
    // Content-Length itself counts as one field.
    response("ok", { headers: fields(Number(req.target.slice(1)) - 1) })
  ));
  await using client = createClient({ maxHeaderCount: 10, retry: false });
  assertEquals(await (await client.fetch(`${server.origin}/10`)).text(), "ok");
  const error = await client.fetch(`${server.origin}/11`).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertInstanceOf(error.cause, HttpParseError);
  assertStringIncludes(error.message, "maxHeaderCount");
});

Deno.test("Client.fetch() enforces maxHeaderSize at its edge", async () => {
  // A head of exactly `size` bytes: status line, one padding field, CL, CRLF.
  const head = (size: number) => {
    const fixed =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: \r\n\r\n".length;
    return `HTTP/1.1 200 OK\r\nX-Pad: ${
      "p".repeat(size - fixed)
    }\r\nContent-Length: 2\r\n\r\nok`;
  };
  await using server = rawServer(
    keepAliveHandler((req) => head(Number(req.target.slice(1)))),
  );
  await using client = createClient({ maxHeaderSize: 1024, retry: false });
  assertEquals(
    await (await client.fetch(`${server.origin}/1024`)).text(),
    "ok",
  );
  const error = await client.fetch(`${server.origin}/1025`).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, "maxHeaderSize");
});

Deno.test("Client.fetch() enforces maxChunkLineLength and refuses an overflowing chunk size", async () => {
  await using server = rawServer(keepAliveHandler((req) => {
    const ext = ";e=" + "x".repeat(Number(req.target.slice(1)) - 4);
    if (req.target === "/huge") {
      return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n";
    }
    // The line is "2" + ext: exactly the requested length before CRLF.
    return `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2${ext}\r\nok\r\n0\r\n\r\n`;
  }));
  await using client = createClient({ maxChunkLineLength: 64, retry: false });
  assertEquals(await (await client.fetch(`${server.origin}/64`)).text(), "ok");
  const long = await client.fetch(`${server.origin}/65`).catch((e) => e);
  assertInstanceOf(long, TypeError);
  assertStringIncludes(long.message, "maxChunkLineLength");
  const huge = await client.fetch(`${server.origin}/huge`).catch((e) => e);
  assertInstanceOf(huge, TypeError);
  assertStringIncludes(huge.message, "Invalid chunk size");
});

Deno.test("Client.fetch() enforces maxTrailerSize at its edge", async () => {
  await using server = rawServer(keepAliveHandler((req) => {
    // One trailer field line of exactly n bytes, CRLF included.
    const n = Number(req.target.slice(1));
    const field = `X-T: ${"t".repeat(n - 7)}\r\n`;
    return `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n${field}\r\n`;
  }));
  await using client = createClient({ maxTrailerSize: 100, retry: false });
  assertEquals(await (await client.fetch(`${server.origin}/100`)).text(), "ok");
  const error = await client.fetch(`${server.origin}/101`).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, "maxTrailerSize");
});

Deno.test("Client.fetch() fails, never hangs, on a server that sends garbage", async () => {
  await using server = rawServer(async (conn) => {
    await conn.readRequest();
    await conn.write("SSH-2.0-OpenSSH_9.0\r\n");
    await conn.waitForClose(2000);
  });
  await using client = createClient({ retry: false });
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertInstanceOf(error.cause, HttpParseError);
});
