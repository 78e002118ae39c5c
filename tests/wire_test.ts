// Copyright 2026 the pooled-fetch authors. MIT license.
// The wire through the whole client: every body framing of RFC 9112 §6.3,
// delivered whole, in small pieces and byte by byte, and the persistence
// rules of §9.3 seen from the server's side (which connection served what).

import {
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
} from "@std/assert";
import { createClient } from "../mod.ts";
import { HttpParseError } from "../errors.ts";
import { rawServer, type ServerConn } from "./_servers.ts";

const FRAMINGS: Record<
  string,
  { wire: string; body: string; reusable: boolean }
> = {
  "content-length": {
    wire: "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
    body: "hello world",
    reusable: true,
  },
  "chunked with extensions and trailers": {
    wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: yes\r\n\r\n",
    body: "hello world",
    reusable: true,
  },
  "interim 100 and 103 before the final response": {
    wire:
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    body: "ok",
    reusable: true,
  },
  "close-delimited": {
    wire: "HTTP/1.1 200 OK\r\n\r\nuntil the end",
    body: "until the end",
    reusable: false,
  },
  "both Transfer-Encoding and Content-Length": {
    wire:
      "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabc\r\n0\r\n\r\n",
    body: "abc",
    reusable: false,
  },
  "HTTP/1.0 without keep-alive": {
    wire: "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc",
    body: "abc",
    reusable: false,
  },
  "HTTP/1.0 with keep-alive": {
    wire:
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
    body: "abc",
    reusable: true,
  },
  "Connection: close": {
    wire:
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nabc",
    body: "abc",
    reusable: false,
  },
  "bare LF line ends": {
    wire: "HTTP/1.1 200 OK\nContent-Length: 3\n\nabc",
    body: "abc",
    reusable: true,
  },
};

/** Serves `wire` for every request, written in pieces of `size` bytes. */
function framingServer(wire: string, size: number, closeAfter: boolean) {
  return rawServer(async (conn: ServerConn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      await conn.writeSplit(wire, size);
      if (closeAfter) return;
    }
  });
}

for (const [name, { wire, body, reusable }] of Object.entries(FRAMINGS)) {
  for (const size of [wire.length, 7, 1]) {
    const how = size === wire.length
      ? "whole"
      : size === 1
      ? "byte by byte"
      : `in ${size}-byte pieces`;
    Deno.test(`Client.fetch() reads a ${name} response delivered ${how}`, async () => {
      await using server = framingServer(wire, size, !reusable);
      await using client = createClient();
      for (let i = 0; i < 2; i++) {
        const res = await client.fetch(server.origin);
        assertEquals(res.status, 200);
        assertEquals(await res.text(), body);
      }
      // One connection for both requests exactly when the response allows reuse.
      assertEquals(server.accepted, reusable ? 1 : 2);
    });
  }
}

Deno.test("Client.fetch() reads a large chunked body split across many reads", async () => {
  const chunk = "x".repeat(1000);
  let wire = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (let i = 0; i < 200; i++) wire += `3e8\r\n${chunk}\r\n`;
  wire += "0\r\n\r\n";
  await using server = framingServer(wire, 4093, false);
  await using client = createClient();
  const text = await (await client.fetch(server.origin)).text();
  assertEquals(text.length, 200_000);
  assertEquals(await (await client.fetch(server.origin)).text(), text);
  assertEquals(server.accepted, 1);
});

Deno.test("Client.fetch() rejects conflicting Content-Length values as malformed", async () => {
  await using server = framingServer(
    "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
    64,
    true,
  );
  await using client = createClient({ retry: false });
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertInstanceOf(error.cause, HttpParseError);
  assertStringIncludes(error.message, "Conflicting Content-Length");
});

Deno.test("Client.fetch() accepts identical duplicate Content-Length values", async () => {
  await using server = framingServer(
    "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
    64,
    false,
  );
  await using client = createClient();
  assertEquals(await (await client.fetch(server.origin)).text(), "abc");
});

Deno.test("Client.fetch() fails a response whose head exceeds maxHeaderSize, never hangs", async () => {
  const big = "X-Big: " + "a".repeat(2000) + "\r\n";
  await using server = framingServer(
    `HTTP/1.1 200 OK\r\n${big.repeat(4)}Content-Length: 0\r\n\r\n`,
    1000,
    true,
  );
  await using client = createClient({ maxHeaderSize: 4096, retry: false });
  const error = await client.fetch(server.origin).catch((e) => e);
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, "maxHeaderSize");
});

Deno.test("Client.fetch() fails a chunked body cut short by EOF", async () => {
  await using server = framingServer(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel",
    64,
    true,
  );
  await using client = createClient({ retry: false });
  const res = await client.fetch(server.origin).catch((e) => e);
  // The head arrived and part of the body: the body errors.
  const error = res instanceof Response
    ? await res.text().catch((e) => e)
    : res;
  assertInstanceOf(error, TypeError);
  assertStringIncludes(error.message, "in the middle of the response");
});
