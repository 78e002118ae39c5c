// Copyright 2026 the pooled-fetch authors. MIT license.
import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { HttpParseError } from "../errors.ts";
import {
  ChunkedDecoder,
  DEFAULT_PARSER_LIMITS,
  encodeChunk,
  encodeRequest,
  lastChunk,
  latin1,
  parseResponseHead,
  type ParserLimits,
  type RequestHead,
  type ResponseHead,
  validateRequestHead,
} from "../_http1.ts";
import {
  bytes,
  comparable,
  feed,
  type FeedOptions,
  type FeedResult,
  type Parsed,
} from "./_http1_feed.ts";

// ---------------------------------------------------------------------------
// The feeder (`_http1_feed.ts`) under every split of the input.

function text(body: number[]): string {
  return String.fromCharCode(...body);
}

/** All ways the tests split an input: whole, byte by byte, every 2 pieces. */
function* splits(length: number): Generator<number[]> {
  yield [];
  yield Array.from({ length: Math.max(0, length - 1) }, (_, i) => i + 1);
  for (let k = 1; k < length; k++) yield [k];
}

/**
 * Feeds `input` whole, byte by byte and in every 2-piece split, asserts all
 * give the same result, and returns the whole-input one.
 */
function feedAllSplits(
  input: string | Uint8Array,
  options?: FeedOptions,
): FeedResult {
  const data = typeof input === "string" ? bytes(input) : input;
  const whole = feed(data, [], options);
  for (const cuts of splits(data.length)) {
    assertEquals(
      comparable(feed(data, cuts, options)),
      comparable(whole),
      `split at ${cuts.length > 1 ? "every byte" : cuts.join(",")}`,
    );
  }
  return whole;
}

/** Parses one complete response (under every split) and returns it. */
function parseOk(input: string, options?: FeedOptions): Parsed {
  const result = feedAllSplits(input, options);
  if (result.error !== null) throw result.error;
  assertEquals(result.responses.length, 1);
  const [parsed] = result.responses;
  assert(parsed.complete, "response is complete");
  assertEquals(result.consumed, input.length);
  return parsed;
}

/** Asserts the input fails (under every split) and returns the error. */
function parseFails(input: string, options?: FeedOptions): HttpParseError {
  const result = feedAllSplits(input, options);
  assertInstanceOf(result.error, HttpParseError);
  assertInstanceOf(result.error, SyntaxError);
  return result.error;
}

function headOf(parsed: Parsed): ResponseHead {
  assert(parsed.head !== null);
  return parsed.head;
}

function limits(overrides: Partial<ParserLimits>): ParserLimits {
  return { ...DEFAULT_PARSER_LIMITS, ...overrides };
}

/** A head padded with an `X-Pad` field to exactly `size` bytes. */
function headOfSize(size: number, prefix = ""): string {
  const start = `${prefix}HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Pad: `;
  const pad = size - start.length - 4;
  assert(pad >= 0);
  return `${start}${"a".repeat(pad)}\r\n\r\n`;
}

// ---------------------------------------------------------------------------
// Status line

Deno.test("parseResponseHead() parses a status line with a reason phrase", () => {
  const head = headOf(parseOk("HTTP/1.1 404 Not Found Here\r\n\r\n", {
    methods: ["HEAD"],
  }));
  assertEquals(head.minorVersion, 1);
  assertEquals(head.status, 404);
  assertEquals(head.statusText, "Not Found Here");
  assertEquals(head.headers, []);
  assertEquals(head.headLength, 31);
});

Deno.test("parseResponseHead() accepts an empty reason phrase", () => {
  const head = headOf(parseOk("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n"));
  assertEquals(head.status, 200);
  assertEquals(head.statusText, "");
});

Deno.test("parseResponseHead() accepts a status line without a reason phrase", () => {
  const head = headOf(parseOk("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"));
  assertEquals(head.status, 200);
  assertEquals(head.statusText, "");
});

Deno.test("parseResponseHead() keeps obs-text and tabs in the reason phrase", () => {
  const head = headOf(
    parseOk("HTTP/1.1 200 Tr\xe8s\tbien\r\nContent-Length: 0\r\n\r\n"),
  );
  assertEquals(head.statusText, "Tr\xe8s\tbien");
});

Deno.test("parseResponseHead() reads HTTP/1.0, 1.1 and 1.2 as minor versions 0, 1 and 2", () => {
  for (const minor of [0, 1, 2]) {
    const head = headOf(
      parseOk(`HTTP/1.${minor} 200 OK\r\nContent-Length: 0\r\n\r\n`),
    );
    assertEquals(head.minorVersion, minor);
    // §2.3: a later 1.x is handled as 1.1, so it persists by default.
    assertEquals(head.keepAlive, minor >= 1);
  }
});

Deno.test("parseResponseHead() rejects invalid status lines", () => {
  for (
    const line of [
      "HTTP/2 200 OK",
      "HTTP/2.0 200 OK",
      "HTTP/1.1 20 OK",
      "HTTP/1.1 2000 OK",
      "HTTP/1.1  200 OK",
      "HTTP/1.1 200\tOK",
      "HTTP/1.1 abc OK",
      "http/1.1 200 OK",
      "HTTP/1.1 200 O\rK",
      "HTTP/1.1",
      "ICY 200 OK",
    ]
  ) {
    const error = parseFails(`${line}\r\nContent-Length: 0\r\n\r\n`);
    assertStringIncludes(error.message, "status line", line);
  }
});

Deno.test("parseResponseHead() rejects a status code below 100", () => {
  const error = parseFails("HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n");
  assertStringIncludes(error.message, "Invalid status code 99");
});

Deno.test("parseResponseHead() returns 1xx heads with no body, which are skipped before the final one", () => {
  const input = "HTTP/1.1 100 Continue\r\n\r\n" +
    "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const parsed = parseOk(input);
  assertEquals(parsed.interim, [100, 103]);
  const head = headOf(parsed);
  assertEquals(head.status, 200);
  assertEquals(head.headers, [["Content-Length", "2"]]);
  assertEquals(text(parsed.body), "ok");

  const interim = parseResponseHead(
    bytes("HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\n"),
    0,
    47,
    "GET",
    DEFAULT_PARSER_LIMITS,
  );
  assertEquals(interim?.status, 103);
  assertEquals(interim?.framing, "none");
  assertEquals(interim?.headLength, 47);
});

// ---------------------------------------------------------------------------
// Header lines

Deno.test("parseResponseHead() keeps header fields in order with their case", () => {
  const head = headOf(parseOk(
    "HTTP/1.1 200 OK\r\nX-B: 1\r\nx-a: 2\r\nX-B: 3\r\nSet-Cookie: a=1\r\n" +
      "Content-Length: 0\r\n\r\n",
  ));
  assertEquals(head.headers, [
    ["X-B", "1"],
    ["x-a", "2"],
    ["X-B", "3"],
    ["Set-Cookie", "a=1"],
    ["Content-Length", "0"],
  ]);
});

Deno.test("parseResponseHead() strips only SP and HTAB around field values", () => {
  const head = headOf(parseOk(
    "HTTP/1.1 200 OK\r\nX-A: \t a b \t\r\nX-B:\xa0c\xa0\r\nX-C:\r\n" +
      "Content-Length: 0\r\n\r\n",
  ));
  assertEquals(head.headers.slice(0, 3), [
    ["X-A", "a b"],
    // 0xA0 is obs-text, not whitespace: it is part of the value.
    ["X-B", "\xa0c\xa0"],
    ["X-C", ""],
  ]);
});

Deno.test("parseResponseHead() replaces obs-fold with a space", () => {
  const head = headOf(parseOk(
    "HTTP/1.1 200 OK\r\nX-Folded: a\r\n  b\r\n\tc\r\nX-Empty:\r\n d\r\n" +
      "Content-Length: 0\r\n\r\n",
  ));
  assertEquals(head.headers, [
    ["X-Folded", "a b c"],
    ["X-Empty", "d"],
    ["Content-Length", "0"],
  ]);
});

Deno.test("parseResponseHead() reads framing fields after unfolding obs-fold", () => {
  const chunked = headOf(parseOk(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
  ));
  assertEquals(chunked.framing, "chunked");
  const close = headOf(parseOk(
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive,\r\n" +
      " close\r\n\r\n",
  ));
  assertFalse(close.keepAlive);
  const error = parseFails(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip,\r\n chunked\r\n\r\n",
  );
  assertStringIncludes(error.message, "Unsupported Transfer-Encoding");
});

Deno.test("parseResponseHead() rejects obs-fold before any field", () => {
  const error = parseFails("HTTP/1.1 200 OK\r\n folded\r\n\r\n");
  assertStringIncludes(error.message, "continuation");
});

Deno.test("parseResponseHead() accepts bare LF line endings", () => {
  const parsed = parseOk(
    "HTTP/1.1 200 OK\nX-A: 1\r\nTransfer-Encoding: chunked\n\n" +
      "3\nabc\n2;x=y\r\nde\n0\nX-T: 1\n\n",
  );
  const head = headOf(parsed);
  assertEquals(head.headers, [["X-A", "1"], ["Transfer-Encoding", "chunked"]]);
  assertEquals(head.headLength, 52);
  assertEquals(text(parsed.body), "abcde");
});

Deno.test("parseResponseHead() skips empty lines before the status line", () => {
  for (const lead of ["\r\n", "\n", "\r\n\r\n\n"]) {
    const input = `${lead}HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx`;
    const parsed = parseOk(input);
    assertEquals(headOf(parsed).headLength, input.length - 1);
    assertEquals(text(parsed.body), "x");
  }
  assertStrictEquals(
    parseResponseHead(bytes("\r\n\r\n"), 0, 4, "GET", DEFAULT_PARSER_LIMITS),
    null,
  );
});

Deno.test("parseResponseHead() rejects invalid header names", () => {
  for (
    const line of [
      "X-A : b",
      " X-A: b",
      "X(A): b",
      'X"A: b',
      "X\xe9: b",
      ": b",
      "no colon",
    ]
  ) {
    const input = `HTTP/1.1 200 OK\r\nX-First: 1\r\n${line}\r\n\r\n`;
    if (line.startsWith(" ")) {
      // A leading space makes it obs-fold, which is allowed here.
      assertEquals(headOf(parseOk(input, { methods: ["HEAD"] })).headers, [
        ["X-First", "1 X-A: b"],
      ]);
      continue;
    }
    const error = parseFails(input);
    assertStringIncludes(error.message, "Invalid header", line);
  }
});

Deno.test("parseResponseHead() rejects NUL and CR in field values", () => {
  for (const value of ["a\0b", "a\rb", "a\r", "\0"]) {
    const error = parseFails(
      `HTTP/1.1 200 OK\r\nX-Bad: ${value}\r\nContent-Length: 0\r\n\r\n`,
    );
    assertStringIncludes(error.message, "Invalid value for header 'X-Bad'");
  }
  parseFails("HTTP/1.1 200 OK\r\nX-Bad: a\r\n b\0\r\n\r\n");
});

Deno.test("parseResponseHead() rejects more than maxHeaderCount fields", () => {
  const options = { limits: limits({ maxHeaderCount: 3 }) };
  const three = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n folded\r\n" +
    "Content-Length: 0\r\n\r\n";
  assertEquals(headOf(parseOk(three, options)).headers.length, 3);
  const error = parseFails(
    "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nC: 3\r\nContent-Length: 0\r\n\r\n",
    options,
  );
  assertStringIncludes(error.message, "maxHeaderCount (3)");
});

Deno.test("parseResponseHead() accepts a head of exactly maxHeaderSize bytes and rejects one byte more", () => {
  const options = { limits: limits({ maxHeaderSize: 100 }) };
  const exact = headOfSize(100);
  assertEquals(exact.length, 100);
  const parsed = parseOk(`${exact}ok`, options);
  assertEquals(headOf(parsed).headLength, 100);
  assertEquals(text(parsed.body), "ok");

  const error = parseFails(`${headOfSize(101)}ok`, options);
  assertStringIncludes(error.message, "maxHeaderSize (100 bytes)");
});

Deno.test("parseResponseHead() rejects an incomplete head once it reaches maxHeaderSize", () => {
  const lim = limits({ maxHeaderSize: 100 });
  const partial = bytes(`HTTP/1.1 200 OK\r\nX-Pad: ${"a".repeat(200)}`);
  assertStrictEquals(parseResponseHead(partial, 0, 99, "GET", lim), null);
  assertThrows(
    () => parseResponseHead(partial, 0, 100, "GET", lim),
    HttpParseError,
    "maxHeaderSize",
  );
  // The limit counts from `start`, not from the buffer's beginning.
  const offset = new Uint8Array(10 + partial.length);
  offset.set(partial, 10);
  assertStrictEquals(parseResponseHead(offset, 10, 109, "GET", lim), null);
  assertThrows(
    () => parseResponseHead(offset, 10, 110, "GET", lim),
    HttpParseError,
  );
});

Deno.test("parseResponseHead() counts leading empty lines against maxHeaderSize", () => {
  const options = { limits: limits({ maxHeaderSize: 100 }) };
  assertEquals(
    headOf(parseOk(`${headOfSize(100, "\r\n")}ok`, options)).headLength,
    100,
  );
  parseFails(`${headOfSize(101, "\r\n")}ok`, options);
  // An endless run of empty lines is an error, not a wait for ever.
  const flood = bytes("\r\n".repeat(60));
  assertThrows(
    () => parseResponseHead(flood, 0, 120, "GET", options.limits),
    HttpParseError,
    "maxHeaderSize",
  );
});

Deno.test("parseResponseHead() detects a non-HTTP response from its fifth byte", () => {
  const ssh = bytes("SSH-2.0-OpenSSH_9.6\r\n");
  const lim = DEFAULT_PARSER_LIMITS;
  for (let end = 1; end < 5; end++) {
    assertStrictEquals(parseResponseHead(ssh, 0, end, "GET", lim), null);
  }
  for (let end = 5; end <= ssh.length; end++) {
    assertThrows(
      () => parseResponseHead(ssh, 0, end, "GET", lim),
      HttpParseError,
      "does not start with 'HTTP/'",
    );
  }
  // After leading empty lines too.
  assertThrows(
    () => parseResponseHead(bytes("\r\nSSH-2"), 0, 7, "GET", lim),
    HttpParseError,
  );
  // A valid prefix waits for more.
  const valid = bytes("HTTP/1.1 2");
  assertStrictEquals(parseResponseHead(valid, 0, 10, "GET", lim), null);
  // A complete garbage head fails on its status line.
  const error = parseFails("FOO BAR\r\n\r\n");
  assertStringIncludes(error.message, "Invalid status line");
  parseFails("SSH-2.0-OpenSSH_9.6\r\n");
});

// ---------------------------------------------------------------------------
// Message body length, RFC 9112 §6.3

Deno.test("parseResponseHead() gives a HEAD response no body whatever its framing fields", () => {
  const input = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const result = feedAllSplits(input, { methods: ["HEAD", "HEAD", "GET"] });
  assertEquals(result.error, null);
  const [a, b, c] = result.responses;
  assertEquals(headOf(a).framing, "none");
  assertEquals(headOf(a).contentLength, 0);
  assertEquals(a.end, 38);
  assertEquals(headOf(b).framing, "none");
  assertEquals(b.end, 85);
  assertEquals(headOf(c).framing, "length");
  assertEquals(text(c.body), "ok");
  assertEquals(result.consumed, input.length);
});

Deno.test("parseResponseHead() gives 204 and 304 responses no body", () => {
  const input = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n" +
    "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n" +
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  const result = feedAllSplits(input, { methods: ["GET", "GET", "GET"] });
  assertEquals(result.error, null);
  const [a, b, c] = result.responses;
  assertEquals(headOf(a).framing, "none");
  assertEquals(headOf(b).framing, "none");
  assert(headOf(a).keepAlive && headOf(b).keepAlive);
  assertEquals(text(c.body), "ok");
  assertEquals(result.consumed, input.length);
});

Deno.test("parseResponseHead() frames a body by Content-Length", () => {
  const parsed = parseOk(
    "HTTP/1.1 200 OK\r\ncontent-LENGTH: 11\r\n\r\nhello world",
  );
  const head = headOf(parsed);
  assertEquals(head.framing, "length");
  assertEquals(head.contentLength, 11);
  assert(head.keepAlive);
  assertEquals(text(parsed.body), "hello world");
  // An empty body is still a body (only HEAD, 1xx, 204 and 304 have none).
  const empty = headOf(parseOk("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  assertEquals(empty.framing, "length");
  assertEquals(empty.contentLength, 0);
});

Deno.test("parseResponseHead() accepts identical duplicate Content-Length values", () => {
  for (
    const fields of [
      "Content-Length: 5\r\nContent-Length: 5",
      "Content-Length: 5, 5",
      "Content-Length: 5,5,05",
    ]
  ) {
    const parsed = parseOk(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\nhello`);
    assertEquals(headOf(parsed).contentLength, 5);
    assertEquals(text(parsed.body), "hello");
  }
});

Deno.test("parseResponseHead() rejects differing Content-Length values", () => {
  for (
    const fields of [
      "Content-Length: 5\r\nContent-Length: 6",
      "Content-Length: 5, 6",
    ]
  ) {
    const error = parseFails(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\nhello`);
    assertStringIncludes(error.message, "Conflicting Content-Length");
  }
});

Deno.test("parseResponseHead() rejects an invalid Content-Length", () => {
  for (
    const value of [
      "-1",
      "abc",
      "1e3",
      "+5",
      "0x10",
      "5 5",
      "5,",
      "",
      "1".repeat(16),
      "99999999999999999999999",
    ]
  ) {
    const error = parseFails(
      `HTTP/1.1 200 OK\r\nContent-Length: ${value}\r\n\r\n`,
    );
    assertStringIncludes(error.message, "Invalid Content-Length", value);
  }
  // 15 digits is the most it accepts.
  const head = headOf(
    feedAllSplits("HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n")
      .responses[0],
  );
  assertEquals(head.contentLength, 999999999999999);
});

Deno.test("parseResponseHead() frames a chunked body with extensions and trailers", () => {
  const parsed = parseOk(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n" +
      '5;name=value;q="a;b"\r\nhello\r\n' +
      "9 ; x\r\n, chunked\r\n" +
      "1\r\n!\r\n" +
      "0;last\r\nX-Trailer: 1\r\nX-Other: two\r\n\r\n",
  );
  const head = headOf(parsed);
  assertEquals(head.framing, "chunked");
  assert(head.keepAlive);
  assertEquals(text(parsed.body), "hello, chunked!");
  // Trailer fields are checked, then dropped.
  assertEquals(head.headers, [["Transfer-Encoding", "Chunked"]]);
});

Deno.test("parseResponseHead() lets chunked win over Content-Length and ends the connection", () => {
  const parsed = parseOk(
    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n" +
      "3\r\nabc\r\n0\r\n\r\n",
  );
  const head = headOf(parsed);
  assertEquals(head.framing, "chunked");
  assertEquals(head.contentLength, 0);
  assertFalse(head.keepAlive);
  assertEquals(text(parsed.body), "abc");
});

Deno.test("parseResponseHead() ends the connection after chunked HTTP/1.0", () => {
  const head = headOf(parseOk(
    "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  ));
  assertEquals(head.framing, "chunked");
  assertFalse(head.keepAlive);
});

Deno.test("parseResponseHead() reads until close when chunked is not the last coding", () => {
  for (const coding of ["gzip", "chunked, gzip", "identity", ""]) {
    const parsed = parseOk(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: ${coding}\r\nContent-Length: 2\r\n\r\n` +
        "0\r\n\r\nrest",
    );
    const head = headOf(parsed);
    assertEquals(head.framing, "close", coding);
    assertFalse(head.keepAlive);
    assertEquals(text(parsed.body), "0\r\n\r\nrest");
  }
});

Deno.test("parseResponseHead() rejects codings before chunked as unsupported", () => {
  for (
    const fields of [
      "Transfer-Encoding: gzip, chunked",
      "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked",
      "Transfer-Encoding: chunked, chunked",
    ]
  ) {
    const error = parseFails(`HTTP/1.1 200 OK\r\n${fields}\r\n\r\n0\r\n\r\n`);
    assertStringIncludes(error.message, "Unsupported Transfer-Encoding");
  }
});

Deno.test("parseResponseHead() reads until close without framing fields", () => {
  const parsed = parseOk("HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\nall of this");
  const head = headOf(parsed);
  assertEquals(head.framing, "close");
  assertFalse(head.keepAlive);
  assertEquals(text(parsed.body), "all of this");
  // Only EOF ends it.
  const unfinished = feed(bytes("HTTP/1.1 200 OK\r\n\r\nab"), []);
  assert(unfinished.responses[0].complete);
});

// ---------------------------------------------------------------------------
// Persistence, RFC 9112 §9.3

Deno.test("parseResponseHead() closes HTTP/1.0 by default and keeps it with Connection: keep-alive", () => {
  const cases: [string, boolean][] = [
    ["HTTP/1.0 200 OK\r\n", false],
    ["HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", true],
    ["HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\n", true],
    ["HTTP/1.0 200 OK\r\nConnection: close, keep-alive\r\n", false],
    ["HTTP/1.1 200 OK\r\n", true],
    ["HTTP/1.1 200 OK\r\nConnection: close\r\n", false],
    ["HTTP/1.1 200 OK\r\nConnection: CLOSE\r\n", false],
    ["HTTP/1.1 200 OK\r\nConnection: Upgrade, close\r\n", false],
    ["HTTP/1.1 200 OK\r\nConnection: upgrade\r\nConnection: close\r\n", false],
    ["HTTP/1.1 200 OK\r\nConnection: closed, x-close\r\n", true],
  ];
  for (const [head, keepAlive] of cases) {
    assertEquals(
      headOf(parseOk(`${head}Content-Length: 1\r\n\r\nx`)).keepAlive,
      keepAlive,
      head,
    );
  }
});

Deno.test("parseResponseHead() reads Keep-Alive timeout and max in any order", () => {
  const cases: [string, number | undefined, number | undefined][] = [
    ["timeout=5, max=100", 5000, 100],
    ["max=100, timeout=5", 5000, 100],
    ['timeout="5", max="100"', 5000, 100],
    ["Timeout = 5 , MAX = 100", 5000, 100],
    ["timeout=5", 5000, undefined],
    ["foo, timeout=abc, max=-1, bar=2, timeout=3", 3000, undefined],
    ["timeout=1.5, max=", undefined, undefined],
    ["", undefined, undefined],
  ];
  for (const [value, timeout, max] of cases) {
    const head = headOf(parseOk(
      `HTTP/1.1 200 OK\r\nKeep-Alive: ${value}\r\nContent-Length: 0\r\n\r\n`,
    ));
    assertEquals(head.keepAliveTimeout, timeout, value);
    assertEquals(head.keepAliveMax, max, value);
  }
  const none = headOf(parseOk("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  assertStrictEquals(none.keepAliveTimeout, undefined);
  assertStrictEquals(none.keepAliveMax, undefined);
});

Deno.test("parseResponseHead() combines several Keep-Alive fields", () => {
  const head = headOf(parseOk(
    "HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nkeep-alive: max=9\r\n" +
      "Content-Length: 0\r\n\r\n",
  ));
  assertEquals(head.keepAliveTimeout, 5000);
  assertEquals(head.keepAliveMax, 9);
});

// ---------------------------------------------------------------------------
// Chunked coding, RFC 9112 §7.1

/** Runs a decoder over `input` in one call per consumed step. */
function decodeAll(input: string, lim = DEFAULT_PARSER_LIMITS): string {
  const buf = bytes(input);
  const decoder = new ChunkedDecoder(lim);
  let pos = 0;
  let out = "";
  while (!decoder.done) {
    const used = decoder.decode(buf, pos, buf.length);
    if (decoder.data !== null) {
      out += latin1(decoder.data, 0, decoder.data.length);
    }
    if (used === 0) break;
    pos += used;
  }
  assert(decoder.done, "decoder is done");
  assertEquals(pos, buf.length);
  return out;
}

Deno.test("ChunkedDecoder.decode() accepts at most 12 hex digits in a chunk size", () => {
  const decoder = new ChunkedDecoder(DEFAULT_PARSER_LIMITS);
  assertEquals(decoder.decode(bytes("ffffffffffff\r\n"), 0, 14), 14);
  assertFalse(decoder.done);
  for (const size of ["fffffffffffff", "1000000000000", "0000000000005"]) {
    assertThrows(
      () =>
        new ChunkedDecoder(DEFAULT_PARSER_LIMITS).decode(
          bytes(`${size}\r\n`),
          0,
          15,
        ),
      HttpParseError,
      "Invalid chunk size",
    );
  }
  parseFails(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
  );
});

Deno.test("ChunkedDecoder.decode() rejects an invalid chunk size", () => {
  for (const size of ["", "g", "-1", "0x5", "5 5", ";ext"]) {
    const error = parseFails(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${size}\r\nhello\r\n0\r\n\r\n`,
    );
    assertStringIncludes(error.message, "Invalid chunk size", size);
  }
  parseFails(
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;a=\0\r\nhello\r\n0\r\n\r\n",
  );
});

Deno.test("ChunkedDecoder.decode() accepts a chunk-size line of exactly maxChunkLineLength bytes", () => {
  const lim = limits({ maxChunkLineLength: 16 });
  // The line before its CRLF.
  const exact = "5;abcdefghijklmn";
  assertEquals(exact.length, 16);
  const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const eol of ["\r\n", "\n"]) {
    const parsed = parseOk(`${prefix}${exact}${eol}hello\r\n0\r\n\r\n`, {
      limits: lim,
    });
    assertEquals(text(parsed.body), "hello");
  }
  const error = parseFails(`${prefix}5;abcdefghijklmno\r\nhello\r\n0\r\n\r\n`, {
    limits: lim,
  });
  assertStringIncludes(error.message, "maxChunkLineLength");

  // Incomplete: 17 bytes without LF wait for more (the 17th may be the CR),
  // 18 fail.
  const long = bytes("5;abcdefghijklmnopqrstuvwxyz");
  assertEquals(new ChunkedDecoder(lim).decode(long, 0, 17), 0);
  assertThrows(
    () => new ChunkedDecoder(lim).decode(long, 0, 18),
    HttpParseError,
    "maxChunkLineLength",
  );
});

Deno.test("ChunkedDecoder.decode() rejects chunk data not followed by CRLF", () => {
  const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  const longer = parseFails(`${prefix}5\r\nhello!\r\n0\r\n\r\n`);
  assertStringIncludes(longer.message, "longer than its size");
  const bareCr = parseFails(`${prefix}5\r\nhello\rX0\r\n\r\n`);
  assertStringIncludes(bareCr.message, "not followed by CRLF");
});

Deno.test("ChunkedDecoder.decode() accepts trailers of exactly maxTrailerSize bytes", () => {
  const lim = limits({ maxTrailerSize: 20 });
  const prefix =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
  // Field lines with their CRLFs; the final CRLF is not counted.
  const exact = "X-A: 1\r\nX-Pad: 123\r\n";
  assertEquals(exact.length, 20);
  assertEquals(
    text(parseOk(`${prefix}${exact}\r\n`, { limits: lim }).body),
    "ok",
  );
  const error = parseFails(`${prefix}X-A: 1\r\nX-Pad: 1234\r\n\r\n`, {
    limits: lim,
  });
  assertStringIncludes(error.message, "maxTrailerSize");
  // An incomplete field over the limit fails before its line ends.
  assertThrows(
    () =>
      new ChunkedDecoder(lim).decode(bytes(`0\r\n${"X".repeat(21)}`), 0, 24),
    HttpParseError,
    "maxTrailerSize",
  );
});

Deno.test("ChunkedDecoder.decode() with maxTrailerSize 0 accepts a body without trailers", () => {
  const lim = limits({ maxTrailerSize: 0 });
  const prefix =
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n";
  assertEquals(text(parseOk(`${prefix}\r\n`, { limits: lim }).body), "ok");
  assertEquals(text(parseOk(`${prefix}\n`, { limits: lim }).body), "ok");
  parseFails(`${prefix}X: 1\r\n\r\n`, { limits: lim });
});

Deno.test("ChunkedDecoder.decode() rejects invalid trailer lines", () => {
  const prefix = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
  for (const line of ["no colon", ": v", "X Y: v", " X: v", "\rX: v"]) {
    const error = parseFails(`${prefix}${line}\r\n\r\n`);
    assertStringIncludes(error.message, "Invalid trailer line", line);
  }
  const nul = parseFails(`${prefix}X: a\0b\r\n\r\n`);
  assertStringIncludes(nul.message, "Invalid character in a trailer field");
});

Deno.test("ChunkedDecoder.decode() returns chunk data as a view of the caller's buffer", () => {
  const buf = bytes("5\r\nhello\r\n0\r\n\r\n");
  const decoder = new ChunkedDecoder(DEFAULT_PARSER_LIMITS);
  assertEquals(decoder.decode(buf, 0, buf.length), 8);
  assert(decoder.data !== null);
  assertStrictEquals(decoder.data.buffer, buf.buffer);
  assertEquals(decoder.data.byteOffset, 3);
  assertEquals(latin1(decoder.data, 0, 5), "hello");
  assertEquals(decoder.decode(buf, 8, buf.length), 7);
  assertStrictEquals(decoder.data, null);
  assert(decoder.done);
});

Deno.test("ChunkedDecoder.decode() stops at the end of the body and consumes nothing once done", () => {
  const buf = bytes("1\r\na\r\n0\r\n\r\nHTTP/1.1 200 OK\r\n");
  const decoder = new ChunkedDecoder(DEFAULT_PARSER_LIMITS);
  let pos = 0;
  while (!decoder.done) pos += decoder.decode(buf, pos, buf.length);
  assertEquals(pos, 11);
  assertEquals(decoder.decode(buf, pos, buf.length), 0);
  assertEquals(decodeAll("1\r\na\r\n0\r\n\r\n"), "a");
});

// ---------------------------------------------------------------------------
// Pipelining

Deno.test("parseResponseHead() and ChunkedDecoder parse pipelined responses with exact offsets", () => {
  const a = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
  const b = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n" +
    "Transfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nX: 1\r\n\r\n";
  const c = "\r\nHTTP/1.1 204 No Content\r\n\r\n";
  const d = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nf";
  const result = feedAllSplits(a + b + c + d, {
    methods: ["GET", "GET", "GET", "GET"],
  });
  assertEquals(result.error, null);
  assertEquals(result.responses.map((r) => r.end), [
    a.length,
    a.length + b.length,
    a.length + b.length + c.length,
    a.length + b.length + c.length + d.length,
  ]);
  assertEquals(result.responses.map((r) => text(r.body)), [
    "abc",
    "de",
    "",
    "f",
  ]);
  assertEquals(result.responses[1].interim, [100]);
  assertEquals(result.consumed, (a + b + c + d).length);
});

// ---------------------------------------------------------------------------
// Serialisation

const REQUEST: RequestHead = {
  method: "GET",
  target: "/a?b",
  headers: [["host", "x"]],
};

Deno.test("validateRequestHead() accepts a valid head", () => {
  validateRequestHead(REQUEST);
  validateRequestHead({
    method: "M-SEARCH",
    target: "*",
    headers: [["X-Latin", "caf\xe9"], ["X-Empty", ""], ["X-Tab", "a\tb"]],
  });
});

Deno.test("validateRequestHead() rejects CR, LF and NUL in header values", () => {
  for (const value of ["a\rb", "a\nb", "a\0b", "x\r\nX-Injected: 1", "\r\n"]) {
    assertThrows(
      () => validateRequestHead({ ...REQUEST, headers: [["X-Bad", value]] }),
      TypeError,
      "Cannot send request as the value of header 'X-Bad' contains CR, LF or NUL",
    );
  }
});

Deno.test("validateRequestHead() rejects invalid header names", () => {
  for (const name of ["", "X Y", "X:Y", "Host\r\n", "X\xe9", "X(Y)", "X\0"]) {
    assertThrows(
      () => validateRequestHead({ ...REQUEST, headers: [[name, "v"]] }),
      TypeError,
      "is not a valid token",
    );
  }
});

Deno.test("validateRequestHead() rejects invalid method tokens", () => {
  for (const method of ["GE T", "GET\r\n", "", "GET\0", "G\xc9T", "GET /"]) {
    assertThrows(
      () => validateRequestHead({ ...REQUEST, method }),
      TypeError,
      "Cannot send request as the method is not a valid token",
    );
  }
});

Deno.test("validateRequestHead() rejects targets with spaces or control characters", () => {
  for (
    const target of [
      "",
      "/a b",
      "/a\tb",
      "/a\r\nX: y",
      "/a\nb",
      "/a\x7f",
      "/a\0",
      "/a\x01",
    ]
  ) {
    assertThrows(
      () => validateRequestHead({ ...REQUEST, target }),
      TypeError,
      "Cannot send request as the target contains a space or control character",
    );
  }
});

Deno.test("encodeRequest() produces the exact request bytes", () => {
  assertEquals(
    latin1(encodeRequest(REQUEST, null), 0, 30),
    "GET /a?b HTTP/1.1\r\nhost: x\r\n\r\n",
  );
  assertEquals(encodeRequest(REQUEST, null).length, 30);
  const withBody = encodeRequest({
    method: "POST",
    target: "/",
    headers: [["host", "x"], ["content-length", "3"]],
  }, new Uint8Array([0, 1, 255]));
  assertEquals(
    withBody,
    new Uint8Array([
      ...bytes("POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\n\r\n"),
      0,
      1,
      255,
    ]),
  );
});

Deno.test("encodeRequest() maps Latin-1 header characters to single bytes", () => {
  const out = encodeRequest({
    method: "GET",
    target: "/",
    headers: [["host", "x"], ["x-name", "caf\xe9 \xff"]],
  }, new Uint8Array([7]));
  assertEquals(
    out,
    new Uint8Array([
      ...bytes("GET / HTTP/1.1\r\nhost: x\r\nx-name: caf"),
      0xe9,
      0x20,
      0xff,
      ...bytes("\r\n\r\n"),
      7,
    ]),
  );
});

Deno.test("encodeRequest() rejects characters above U+00FF", () => {
  for (const value of ["\u20ac", "\u65e5\u672c", "\u0100", "\u{1f600}"]) {
    assertThrows(
      () => encodeRequest({ ...REQUEST, headers: [["x-bad", value]] }, null),
      TypeError,
      "outside ISO-8859-1",
    );
  }
});

Deno.test("encodeChunk() frames one chunk with a lowercase hex size", () => {
  assertEquals(
    latin1(encodeChunk(bytes("hello")), 0, 10),
    "5\r\nhello\r\n",
  );
  assertEquals(encodeChunk(bytes("hello")).length, 10);
  const big = encodeChunk(new Uint8Array(255).fill(0x61));
  assertEquals(latin1(big, 0, 4), "ff\r\n");
  assertEquals(big.length, 4 + 255 + 2);
  assertEquals(latin1(big, 259, 261), "\r\n");
  assertEquals(latin1(encodeChunk(new Uint8Array(4096)), 0, 6), "1000\r\n");
});

Deno.test("encodeChunk() gives no bytes for empty data instead of ending the body", () => {
  assertEquals(encodeChunk(new Uint8Array(0)).length, 0);
});

Deno.test("lastChunk() is the last chunk and an empty trailer section", () => {
  assertEquals(lastChunk(), bytes("0\r\n\r\n"));
  lastChunk()[0] = 0;
  assertEquals(lastChunk(), bytes("0\r\n\r\n"));
});

Deno.test("encodeChunk() and lastChunk() round-trip through ChunkedDecoder", () => {
  const parts = ["a", "bc", "x".repeat(300), ""];
  const wire = [...parts.map((p) => encodeChunk(bytes(p))), lastChunk()]
    .map((b) => latin1(b, 0, b.length)).join("");
  assertEquals(decodeAll(wire), parts.join(""));
});

Deno.test("latin1() decodes one char per byte, past its 8192-byte batches", () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  const decoded = latin1(all, 0, 256);
  assertEquals(decoded.length, 256);
  for (let i = 0; i < 256; i++) assertEquals(decoded.charCodeAt(i), i);
  assertEquals(latin1(all, 65, 68), "ABC");
  const big = Uint8Array.from({ length: 20000 }, (_, i) => i % 251);
  const long = latin1(big, 3, 20000);
  assertEquals(long.length, 19997);
  assertEquals(long.charCodeAt(8192), 8195 % 251);
  assertEquals(long.charCodeAt(19996), 19999 % 251);
});

Deno.test("DEFAULT_PARSER_LIMITS are frozen safe defaults", () => {
  assertEquals(DEFAULT_PARSER_LIMITS, {
    maxHeaderSize: 65536,
    maxHeaderCount: 256,
    maxChunkLineLength: 4096,
    maxTrailerSize: 16384,
  });
  assert(Object.isFrozen(DEFAULT_PARSER_LIMITS));
});
