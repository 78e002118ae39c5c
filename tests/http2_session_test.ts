// Copyright 2026 the pooled-fetch authors. MIT license.
// Http2Session against a scripted HTTP/2 server that writes exact frames:
// the preface and SETTINGS, request HEADERS and bodies under flow control,
// small and streamed responses, 1xx, trailers, HEAD, GOAWAY, RST_STREAM,
// PING, timeouts, the reset cap, and hostile peers (floods, endless
// CONTINUATION, window overflow, bad HPACK, frames on closed or idle
// streams).

import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { deadline } from "@std/async/deadline";
import { delay } from "@std/async/delay";
import { FetchError } from "../errors.ts";
import {
  encodeData,
  ErrorCode,
  Flag,
  FrameType,
  MAX_WINDOW_SIZE,
} from "../_http2_frames.ts";
import {
  Http2Session,
  Http2StreamReset,
  isEnhanceYourCalm,
  type SessionSettings,
} from "../_http2_session.ts";
import {
  bodyBytes,
  bodyText,
  concatBytes,
  FakeHost,
  type H2Peer,
  h2Peer,
  makeExchange,
  type PeerConn,
  type PeerFrame,
  rawFrame,
  sessionSettings,
  type TestRequestInit,
} from "./_http2_peer.ts";

// ---------------------------------------------------------------------------
// Harness

/** A scripted server whose connections the test drives itself. */
interface Scripted extends AsyncDisposable {
  server: H2Peer;
  /** The next connection accepted. */
  peer(): Promise<PeerConn>;
}

function scripted(): Scripted {
  const accepted: PeerConn[] = [];
  const waiting: ((peer: PeerConn) => void)[] = [];
  const server = h2Peer(async (peer) => {
    const next = waiting.shift();
    if (next !== undefined) next(peer);
    else accepted.push(peer);
    await peer.finished();
  });
  return {
    server,
    peer() {
      const ready = accepted.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise((resolve) => waiting.push(resolve));
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
}

interface Opened extends AsyncDisposable {
  session: Http2Session;
  host: FakeHost;
  peer: PeerConn;
  /** Sends a request on the session; resolves with its exchange's result. */
  fetch(
    path: string,
    init?: TestRequestInit,
  ): ReturnType<typeof makeExchange>["promise"];
}

/** Opens a session to `s` and does the server's side of the preface. */
async function open(
  s: Scripted,
  overrides: Partial<SessionSettings> = {},
  serverSettings: Parameters<PeerConn["handshake"]>[0] = {},
): Promise<Opened> {
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: s.server.port,
  });
  conn.setNoDelay(true); // as dial() does
  const host = new FakeHost();
  const session = Http2Session.open(
    conn,
    sessionSettings(s.server.origin, overrides),
    host,
  );
  const peer = await s.peer();
  await peer.handshake(serverSettings);
  return {
    session,
    host,
    peer,
    fetch(path, init) {
      const exchange = makeExchange(s.server.origin + path, init);
      session.send(exchange);
      // Failures are asserted later; never an unhandled rejection meanwhile.
      exchange.promise.catch(() => {});
      return exchange.promise;
    },
    async [Symbol.asyncDispose]() {
      session.destroy("client-closed", new Error("test over"));
      await session.finished;
    },
  };
}

function settingsOf(frame: PeerFrame): Map<number, number> {
  const out = new Map<number, number>();
  const view = new DataView(
    frame.payload.buffer,
    frame.payload.byteOffset,
    frame.payload.byteLength,
  );
  for (let i = 0; i + 6 <= frame.payload.byteLength; i += 6) {
    out.set(view.getUint16(i), view.getUint32(i + 2));
  }
  return out;
}

function u32(payload: Uint8Array, offset = 0): number {
  return new DataView(payload.buffer, payload.byteOffset).getUint32(offset) &
    0x7fffffff;
}

const isRst = (id: number) => (f: PeerFrame) =>
  f.type === FrameType.RST_STREAM && f.streamId === id;

const isGoaway = (f: PeerFrame) => f.type === FrameType.GOAWAY;

function goawayCode(frame: PeerFrame): number {
  return new DataView(frame.payload.buffer, frame.payload.byteOffset)
    .getUint32(4);
}

function rstCode(frame: PeerFrame): number {
  return new DataView(frame.payload.buffer, frame.payload.byteOffset)
    .getUint32(0);
}

function pattern(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 97 + (i % 26);
  return out;
}

async function assertFetchError(
  promise: Promise<unknown>,
  stage: FetchError["stage"],
  code: FetchError["code"],
): Promise<FetchError> {
  const error = await assertRejects(() => promise);
  assertInstanceOf(error, FetchError);
  assertEquals([error.stage, error.code], [stage, code], error.message);
  return error;
}

/**
 * Sends `bytes` on `streamId` as the server, as the client's stream window
 * allows (`window` to start with), taking the client's WINDOW_UPDATEs.
 * Returns the largest number of bytes ever sent ahead of a WINDOW_UPDATE.
 */
async function sendWithinWindow(
  peer: PeerConn,
  streamId: number,
  bytes: Uint8Array,
  window: number,
): Promise<void> {
  let offset = 0;
  while (offset < bytes.byteLength) {
    while (window <= 0) {
      const update = await peer.nextOf(FrameType.WINDOW_UPDATE, streamId);
      window += u32(update.payload);
    }
    const n = Math.min(window, 16384, bytes.byteLength - offset);
    const last = offset + n === bytes.byteLength;
    await peer.write(
      encodeData(streamId, bytes.subarray(offset, offset + n), last),
    );
    window -= n;
    offset += n;
  }
}

// ---------------------------------------------------------------------------
// Preface, requests, responses

Deno.test("Http2Session.open() writes the preface, SETTINGS and a connection WINDOW_UPDATE, and applies and ACKs the server's SETTINGS", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 32768, maxHeaderListSize: 9000 }, {
    maxConcurrentStreams: 7,
  });
  const { peer, session } = o;
  assert(peer.prefaceOk);
  const ours = settingsOf(peer.frames[0]);
  assertEquals(ours.get(0x2), 0, "ENABLE_PUSH 0");
  assertEquals(ours.get(0x4), 32768, "INITIAL_WINDOW_SIZE = readAhead");
  assertEquals(ours.get(0x6), 9000, "MAX_HEADER_LIST_SIZE");
  const update = await peer.nextOf(FrameType.WINDOW_UPDATE, 0);
  assertEquals(u32(update.payload), 16 * 1024 * 1024 - 65535);
  await peer.next((f) =>
    f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0
  );
  assertEquals(session.maxConcurrentStreams, 7);
  assertEquals(session.capacity, 7);
  assert(session.accepting);
  assertEquals(session.activeStreams, 0);
});

Deno.test("Http2Session.send() writes the pseudo-headers, drops connection-specific fields, and hands a small body over as bytes", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer, session, host } = o;
  const result = o.fetch("/path?q=1", {
    headers: [
      ["X-Custom", " value "],
      ["Connection", "keep-alive"],
      ["Keep-Alive", "timeout=5"],
      ["Transfer-Encoding", "chunked"],
      ["TE", "trailers"],
    ],
    host: "example.test:8443",
  });
  const req = await peer.request();
  assertEquals(req.streamId, 1);
  assert(req.endStream, "a GET without body ends the stream in its HEADERS");
  assertEquals(req.fields, [
    [":method", "GET"],
    [":scheme", "http"],
    [":authority", "example.test:8443"],
    [":path", "/path?q=1"],
    ["x-custom", "value"],
    ["te", "trailers"],
  ]);
  assertEquals(session.activeStreams, 1);
  await peer.reply(1, 200, "hello", [["content-length", "5"]]);
  const response = await result;
  assertEquals(response.status, 200);
  assertEquals(response.protocol, "2");
  assertEquals(response.statusText, "");
  assertInstanceOf(response.body, Uint8Array);
  assertEquals(await bodyText(response), "hello");
  assertEquals(response.headers, [["content-length", "5"]]);
  assertEquals(host.releasedCount, 1);
  assertEquals(session.activeStreams, 0);
  assertEquals(session.requests, 1);

  // The next request reuses the session on stream 3.
  const second = o.fetch("/two");
  const req2 = await peer.request();
  assertEquals(req2.streamId, 3);
  assertEquals(req2.get(":authority"), new URL(s.server.origin).host);
  await peer.reply(3, 404, "");
  const r2 = await second;
  assertEquals(r2.status, 404);
  assertEquals(r2.reused, true);
  assertEquals(await bodyText(r2), "");
});

Deno.test("Http2Session delivers a body without content-length as bytes when it ends in the same read, else as a stream", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const quick = o.fetch("/quick");
  await peer.request();
  await peer.write(
    peer.headersFrame(1, [[":status", "200"]]),
    encodeData(1, new TextEncoder().encode("ab"), false),
    encodeData(1, new TextEncoder().encode("cd"), true),
  );
  const r1 = await quick;
  assertInstanceOf(r1.body, Uint8Array);
  assertEquals(await bodyText(r1), "abcd");

  const slow = o.fetch("/slow");
  await peer.request();
  await peer.write(
    peer.headersFrame(3, [[":status", "200"], ["content-type", "text/plain"]]),
    encodeData(3, new TextEncoder().encode("first "), false),
  );
  const r2 = await slow;
  assertInstanceOf(r2.body, ReadableStream);
  const text = bodyText(r2);
  await delay(20);
  await peer.write(encodeData(3, new TextEncoder().encode("second"), true));
  assertEquals(await text, "first second");
  assertEquals(o.session.activeStreams, 0);
});

Deno.test("Http2Session skips 1xx responses and refuses 101 as malformed", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const first = o.fetch("/");
  await peer.request();
  await peer.respond(1, 100);
  await peer.respond(1, 103, [["link", "</a.css>; rel=preload"]]);
  await peer.reply(1, 200, "ok", [["content-length", "2"]]);
  const r = await first;
  assertEquals(r.status, 200);
  assertEquals(await bodyText(r), "ok");

  const second = o.fetch("/upgrade");
  await peer.request();
  await peer.respond(3, 101);
  const error = await assertFetchError(
    second,
    "response",
    "MALFORMED_RESPONSE",
  );
  assertStringIncludes(error.message, "101");
  const rst = await peer.next(isRst(3));
  assertEquals(rstCode(rst), ErrorCode.PROTOCOL_ERROR);
  assert(o.session.accepting, "a stream error leaves the session in use");
});

Deno.test("Http2Session checks trailers, drops them, and fails a stream whose trailers carry a pseudo-header", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const good = o.fetch("/trailers");
  await peer.request();
  await peer.write(
    peer.headersFrame(1, [[":status", "200"], ["trailer", "x-checksum"]]),
    encodeData(1, new TextEncoder().encode("body"), false),
    peer.headersFrame(1, [["x-checksum", "abc"]], true),
  );
  const r = await good;
  assertEquals(await bodyText(r), "body");
  assertFalse(r.headers.some(([name]) => name === "x-checksum"));

  const bad = o.fetch("/bad-trailers");
  await peer.request();
  await peer.write(
    peer.headersFrame(3, [[":status", "200"], ["content-length", "4"]]),
    encodeData(3, new TextEncoder().encode("body"), false),
    peer.headersFrame(3, [[":status", "200"]], true),
  );
  await assertFetchError(bad, "response", "MALFORMED_RESPONSE");
  assertEquals(rstCode(await peer.next(isRst(3))), ErrorCode.PROTOCOL_ERROR);
});

Deno.test("Http2Session hands a HEAD response over without body and drops the DATA a server sends anyway", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 16384 });
  const { peer, session } = o;
  const head = o.fetch("/", { method: "HEAD" });
  await peer.request();
  // As Deno.serve does: a body in reply to HEAD, larger than the window.
  await peer.write(
    peer.headersFrame(1, [[":status", "200"], ["content-length", "40000"]]),
  );
  const r = await head;
  assertEquals(r.status, 200);
  assertEquals(r.body, null);
  await sendWithinWindow(peer, 1, pattern(40000), 16384);
  // The stream ends; the session serves the next request.
  const next = o.fetch("/next");
  const req = await peer.request();
  await peer.reply(req.streamId, 200, "next");
  assertEquals(await bodyText(await next), "next");
  assertEquals(session.activeStreams, 0);
  assertFalse(peer.has(isRst(1)), "the HEAD stream was not reset");
});

Deno.test("Http2Session fails a response whose body does not match its content-length", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const short = o.fetch("/short");
  await peer.request();
  await peer.write(
    peer.headersFrame(1, [[":status", "200"], ["content-length", "10"]]),
    encodeData(1, new TextEncoder().encode("12345"), true),
  );
  await assertFetchError(short, "response", "MALFORMED_RESPONSE");
  const early = o.fetch("/data-first");
  await peer.request();
  await peer.write(encodeData(3, new TextEncoder().encode("x"), true));
  await assertFetchError(early, "sent", "MALFORMED_RESPONSE");
  assert(o.session.accepting);
});

// ---------------------------------------------------------------------------
// Flow control and concurrency

Deno.test("Http2Session holds a 1 MiB body back with its stream window while another stream on the session completes", async () => {
  await using s = scripted();
  const readAhead = 16384;
  await using o = await open(s, { readAhead });
  const { peer, session } = o;
  const big = pattern(1024 * 1024);
  const bigResult = o.fetch("/big");
  await peer.request();
  await peer.respond(1, 200, [["content-length", String(big.byteLength)]]);
  const sending = sendWithinWindow(peer, 1, big, readAhead);
  const response = await bigResult;
  assertInstanceOf(response.body, ReadableStream);
  // Nobody reads: no WINDOW_UPDATE for stream 1 comes, the server is stuck
  // after one window, and another stream completes meanwhile.
  const small = o.fetch("/small");
  const req = await peer.request();
  assertEquals(req.streamId, 3);
  await peer.reply(3, 200, "small", [["content-length", "5"]]);
  assertEquals(await bodyText(await small), "small");
  assertFalse(
    peer.has((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1),
  );
  assertEquals(session.activeStreams, 1);
  // Read slowly: each read lets the server send a little more.
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let reads = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    if (++reads % 16 === 0) await delay(1);
  }
  await sending;
  assertEquals(concatBytes(parts), big);
  assertEquals(session.activeStreams, 0);
});

Deno.test("Http2Session splits a request body by the server's windows and frame size and waits for WINDOW_UPDATE", async () => {
  await using s = scripted();
  await using o = await open(s, {}, { initialWindowSize: 10000 });
  const { peer } = o;
  // Let the client see the window first.
  await peer.next((f) =>
    f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0
  );
  const body = pattern(100_000);
  const result = o.fetch("/upload", { method: "POST", body });
  const req = await peer.request();
  assertEquals(req.get("content-length"), "100000");
  assertFalse(req.endStream);
  const received: Uint8Array[] = [];
  let total = 0;
  while (total < body.byteLength) {
    const frame = await peer.nextOf(FrameType.DATA, 1);
    assert(frame.payload.byteLength <= 10000);
    received.push(frame.payload);
    total += frame.payload.byteLength;
    if (total % 10000 === 0 && total < body.byteLength) {
      // The window is used up: nothing more until we open it.
      await delay(10);
      const more = peer.frames.filter((f) =>
        f.type === FrameType.DATA && f.streamId === 1
      ).length;
      assertEquals(more, received.length, "the client waits for window");
      await peer.windowUpdate(1, 10000);
      await peer.windowUpdate(0, 10000);
    }
  }
  assertEquals(concatBytes(received), body);
  await peer.reply(1, 200, "stored");
  assertEquals(await bodyText(await result), "stored");
});

Deno.test("Http2Session streams a request body held to its declared length, and resets a body that runs short", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const chunks = [pattern(5000), pattern(7000)];
  const ok = o.fetch("/stream", {
    method: "PUT",
    body: ReadableStream.from(chunks),
    contentLength: 12000,
  });
  const req = await peer.request();
  assertEquals(req.get("content-length"), "12000");
  assertEquals(await peer.body(1), concatBytes(chunks));
  await peer.reply(1, 201, "");
  assertEquals((await ok).status, 201);

  const short = o.fetch("/short", {
    method: "PUT",
    body: ReadableStream.from([pattern(10)]),
    contentLength: 20,
  });
  await peer.request();
  const error = await assertFetchError(short, "sent", "REQUEST_BODY");
  assertStringIncludes(error.message, "Content-Length");
  assertEquals(rstCode(await peer.next(isRst(3))), ErrorCode.CANCEL);
  // The session goes on.
  const after = o.fetch("/after");
  const again = await peer.request();
  await peer.reply(again.streamId, 200, "fine");
  assertEquals(await bodyText(await after), "fine");
});

Deno.test("Http2Session carries 100 concurrent streams on one connection", async () => {
  await using s = scripted();
  await using o = await open(s, { maxConcurrentStreams: 100 }, {
    maxConcurrentStreams: 100,
  });
  const { peer, session } = o;
  const results = Array.from({ length: 100 }, (_, i) => o.fetch(`/n/${i}`));
  assertEquals(session.activeStreams, 100);
  assertEquals(session.capacity, 0);
  const requests = [];
  for (let i = 0; i < 100; i++) requests.push(await peer.request());
  // Answer in reverse order: no head-of-line blocking.
  for (const req of requests.reverse()) {
    await peer.reply(req.streamId, 200, req.get(":path")!);
  }
  const texts = await Promise.all(results.map(async (r) => bodyText(await r)));
  assertEquals(texts, Array.from({ length: 100 }, (_, i) => `/n/${i}`));
  assertEquals(session.activeStreams, 0);
  assertEquals(session.capacity, 100);
});

Deno.test("Http2Session keeps streams beyond the server's SETTINGS_MAX_CONCURRENT_STREAMS waiting until one ends", async () => {
  await using s = scripted();
  await using o = await open(s, {}, { maxConcurrentStreams: 2 });
  const { peer, session } = o;
  await peer.next((f) =>
    f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0
  );
  assertEquals(session.capacity, 2);
  const results = [o.fetch("/a"), o.fetch("/b"), o.fetch("/c")];
  const a = await peer.request();
  await peer.request();
  await delay(20);
  assertEquals(
    peer.frames.filter((f) => f.type === FrameType.HEADERS).length,
    2,
  );
  await peer.reply(a.streamId, 200, "a");
  const c = await peer.request();
  assertEquals(c.get(":path"), "/c");
  await peer.reply(3, 200, "b");
  await peer.reply(c.streamId, 200, "c");
  assertEquals(
    await Promise.all(results.map(async (r) => bodyText(await r))),
    ["a", "b", "c"],
  );
});

// ---------------------------------------------------------------------------
// GOAWAY, RST_STREAM, aborts

Deno.test("Http2Session fails streams above a GOAWAY's last-stream-id as unsent STREAM_REFUSED and finishes the ones below", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer, session, host } = o;
  const results = Array.from({ length: 5 }, (_, i) => o.fetch(`/burst/${i}`));
  for (let i = 0; i < 5; i++) await peer.request();
  await peer.goaway(3, ErrorCode.NO_ERROR, "restarting");
  for (const result of results.slice(2)) {
    const error = await assertFetchError(result, "unsent", "STREAM_REFUSED");
    assertInstanceOf(error.cause, Http2StreamReset);
    assertFalse(isEnhanceYourCalm(error));
    assertStringIncludes(error.message, "last stream 3");
  }
  assertEquals(host.goingAwayCount, 1);
  assertFalse(session.accepting);
  assertEquals(session.capacity, 0);
  // The ones at or below the last id complete; then the session closes.
  await peer.reply(1, 200, "one");
  await peer.reply(3, 200, "three");
  assertEquals(await bodyText(await results[0]), "one");
  assertEquals(await bodyText(await results[1]), "three");
  await host.whenClosed();
  assertEquals(host.closedReason, "server-closed");
  // A late send fails as unsent, for the pool to place elsewhere.
  await assertFetchError(o.fetch("/late"), "unsent", "CONNECTION_CLOSED");
});

Deno.test("Http2Session marks streams refused by GOAWAY(ENHANCE_YOUR_CALM) so the retry policy backs off", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const result = o.fetch("/");
  await peer.request();
  await peer.goaway(0, ErrorCode.ENHANCE_YOUR_CALM);
  const error = await assertFetchError(result, "unsent", "STREAM_REFUSED");
  assert(isEnhanceYourCalm(error));
  assertEquals((error.cause as Http2StreamReset).calm, true);
});

Deno.test("Http2Session fails a stream reset with REFUSED_STREAM as unsent STREAM_REFUSED and keeps serving", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const refused = o.fetch("/", { method: "POST", body: pattern(10) });
  await peer.request();
  await peer.rst(1, ErrorCode.REFUSED_STREAM);
  const error = await assertFetchError(refused, "unsent", "STREAM_REFUSED");
  assertFalse(isEnhanceYourCalm(error));
  const next = o.fetch("/next");
  await peer.request();
  await peer.reply(3, 200, "ok");
  assertEquals(await bodyText(await next), "ok");
});

Deno.test("Http2Session errors a body reset mid-stream with CONNECTION_CLOSED at stage body, and keeps serving", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 16384 });
  const { peer } = o;
  const result = o.fetch("/big");
  await peer.request();
  await peer.respond(1, 200, [["content-length", "100000"]]);
  await peer.data(1, pattern(10000));
  const response = await result;
  assertInstanceOf(response.body, ReadableStream);
  await peer.rst(1, ErrorCode.INTERNAL_ERROR);
  const error = await assertFetchError(
    bodyBytes(response),
    "body",
    "CONNECTION_CLOSED",
  );
  assertStringIncludes(error.message, "INTERNAL_ERROR");
  const next = o.fetch("/next");
  await peer.request();
  await peer.reply(3, 200, "ok");
  assertEquals(await bodyText(await next), "ok");
});

Deno.test("Http2Session answers an abort mid-body with RST_STREAM(CANCEL) and keeps the session in use", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 16384 });
  const { peer, session } = o;
  const controller = new AbortController();
  const result = o.fetch("/big", { signal: controller.signal });
  await peer.request();
  await peer.respond(1, 200, [["content-length", "100000"]]);
  await peer.data(1, pattern(8000));
  const response = await result;
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  const reason = new DOMException("stop", "AbortError");
  controller.abort(reason);
  assertEquals(await reader.read().catch((e) => e), reason);
  assertEquals(rstCode(await peer.next(isRst(1))), ErrorCode.CANCEL);
  assert(session.accepting);
  // Frames the server had in flight for the reset stream are dropped.
  await peer.data(1, pattern(100));
  const next = o.fetch("/next");
  await peer.request();
  await peer.reply(3, 200, "ok");
  assertEquals(await bodyText(await next), "ok");

  // An abort before the response: the promise rejects with the reason.
  const early = new AbortController();
  const pending = o.fetch("/pending", { signal: early.signal });
  await peer.request();
  early.abort(reason);
  assertEquals(await pending.catch((e) => e), reason);
  assertEquals(rstCode(await peer.next(isRst(5))), ErrorCode.CANCEL);
  // A cancelled body resets its stream too.
  const third = o.fetch("/third");
  await peer.request();
  await peer.respond(7, 200);
  await peer.data(7, pattern(100));
  const r3 = await third;
  await (r3.body as ReadableStream).cancel();
  assertEquals(rstCode(await peer.next(isRst(7))), ErrorCode.CANCEL);
  assertEquals(session.activeStreams, 0);
});

Deno.test("Http2Session stops resetting past its RST_STREAM cap and closes gracefully instead", async () => {
  await using s = scripted();
  await using o = await open(s, { resetBurst: 2, resetRate: 0.001 });
  const { peer, session, host } = o;
  const controllers = [0, 1, 2].map(() => new AbortController());
  const results = controllers.map((c, i) =>
    o.fetch(`/${i}`, { signal: c.signal }).catch((e) => e)
  );
  for (let i = 0; i < 3; i++) await peer.request();
  for (const c of controllers) c.abort(new DOMException("stop", "AbortError"));
  await Promise.all(results);
  assertEquals(host.goingAwayCount, 1);
  assertFalse(session.accepting);
  const goaway = await peer.next(isGoaway);
  assertEquals(goawayCode(goaway), ErrorCode.NO_ERROR);
  assertEquals(
    peer.frames.filter((f) => f.type === FrameType.RST_STREAM).length,
    2,
  );
  await host.whenClosed();
  assertEquals(host.closedReason, "aborted");
  assert(await peer.waitEnd());
});

Deno.test("Http2Session fails a stream with HEADERS_TIMEOUT, resets it, and keeps serving", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer, session } = o;
  const slow = o.fetch("/slow", { headersTimeout: 50 });
  await peer.request();
  const error = await assertFetchError(slow, "sent", "HEADERS_TIMEOUT");
  assertStringIncludes(error.message, "headersTimeout (50 ms)");
  assertEquals(rstCode(await peer.next(isRst(1))), ErrorCode.CANCEL);
  assert(session.accepting);
  const next = o.fetch("/next");
  await peer.request();
  await peer.reply(3, 200, "ok");
  assertEquals(await bodyText(await next), "ok");
});

Deno.test("Http2Session fails a body that stalls with BODY_TIMEOUT at stage body", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 1024 });
  const { peer } = o;
  const result = o.fetch("/stall", { bodyTimeout: 50 });
  await peer.request();
  await peer.respond(1, 200, [["content-length", "5000"]]);
  await peer.data(1, pattern(10));
  const response = await result;
  await assertFetchError(bodyBytes(response), "body", "BODY_TIMEOUT");
  assertEquals(rstCode(await peer.next(isRst(1))), ErrorCode.CANCEL);
});

// ---------------------------------------------------------------------------
// PING

Deno.test("Http2Session sends PING before a stream on a session idle past pingAfterIdle, and sends the stream on its ACK", async () => {
  await using s = scripted();
  await using o = await open(s, { pingAfterIdle: 30 });
  const { peer } = o;
  await delay(60);
  const result = o.fetch("/after-idle");
  const ping = await peer.nextOf(FrameType.PING);
  assertEquals(ping.flags & Flag.ACK, 0);
  await delay(20);
  assertFalse(peer.has((f) => f.type === FrameType.HEADERS), "held");
  await peer.ping(ping.payload, true);
  const req = await peer.request();
  await peer.reply(req.streamId, 200, "alive");
  assertEquals(await bodyText(await result), "alive");
  // Traffic was just seen: the next request goes without PING.
  const again = o.fetch("/again");
  const req2 = await peer.request();
  await peer.reply(req2.streamId, 200, "x");
  await again;
  assertEquals(peer.frames.filter((f) => f.type === FrameType.PING).length, 1);
});

Deno.test("Http2Session destroys a session whose PING is never answered and fails the held requests as unsent", async () => {
  await using s = scripted();
  await using o = await open(s, { pingAfterIdle: 20, pingTimeout: 100 });
  const { peer, host } = o;
  await delay(50);
  const results = [
    o.fetch("/a"),
    o.fetch("/b", { method: "POST", body: pattern(3) }),
  ];
  await peer.nextOf(FrameType.PING);
  for (const result of results) {
    const error = await assertFetchError(result, "unsent", "CONNECTION_CLOSED");
    assert(error.reused, "replayed on a fresh connection");
    assertStringIncludes(error.message, "PING");
  }
  await host.whenClosed();
  assertEquals(host.closedReason, "error");
  assertFalse(peer.has((f) => f.type === FrameType.HEADERS));
});

Deno.test("Http2Session answers the server's PING", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);
  await peer.ping(data);
  const ack = await peer.nextOf(FrameType.PING);
  assertEquals(ack.flags & Flag.ACK, Flag.ACK);
  assertEquals(ack.payload, data);
});

// ---------------------------------------------------------------------------
// Closing

Deno.test("Http2Session.close() waits for active streams, then sends GOAWAY(NO_ERROR) and closes", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer, session, host } = o;
  const result = o.fetch("/");
  await peer.request();
  session.close("client-closed");
  assertFalse(session.accepting);
  assertEquals(host.closedReason, null);
  await peer.reply(1, 200, "done");
  assertEquals(await bodyText(await result), "done");
  await host.whenClosed();
  assertEquals(host.closedReason, "client-closed");
  assertEquals(goawayCode(await peer.next(isGoaway)), ErrorCode.NO_ERROR);
  assert(await peer.waitEnd());
  await session.finished;
});

Deno.test("Http2Session.destroy() fails streams in flight with the error given", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer, session, host } = o;
  const result = o.fetch("/");
  await peer.request();
  session.destroy("error", new Deno.errors.ConnectionReset("gone"));
  await assertFetchError(result, "sent", "CONNECTION_CLOSED");
  assertEquals(host.closedReason, "error");
  await session.finished;
});

Deno.test("Http2Session fails in-flight streams when the server closes the connection", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer, host } = o;
  const before = o.fetch("/before");
  await peer.request();
  const during = o.fetch("/during");
  await peer.request();
  await peer.respond(3, 200, [["content-length", "100000"]]);
  await peer.data(3, pattern(100));
  const response = await during;
  peer.close();
  const error = await assertFetchError(before, "sent", "CONNECTION_CLOSED");
  assertStringIncludes(error.message, "before sending a response");
  await assertFetchError(bodyBytes(response), "body", "CONNECTION_CLOSED");
  await host.whenClosed();
  assertEquals(host.closedReason, "server-closed");
});

// ---------------------------------------------------------------------------
// Hostile servers

async function expectConnectionError(
  o: Opened,
  result: Promise<unknown>,
  code: number,
  stage: FetchError["stage"] = "sent",
): Promise<FetchError> {
  const error = await assertFetchError(result, stage, "MALFORMED_RESPONSE");
  const goaway = await o.peer.next(isGoaway);
  assertEquals(goawayCode(goaway), code);
  await o.host.whenClosed();
  assertEquals(o.host.closedReason, "error");
  assert(await o.peer.waitEnd());
  return error;
}

Deno.test("Http2Session answers a SETTINGS flood with GOAWAY(ENHANCE_YOUR_CALM)", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  const flood = rawFrame(FrameType.SETTINGS, 0, 0);
  await o.peer.write(...Array.from({ length: 2000 }, () => flood)).catch(
    () => {},
  );
  const error = await expectConnectionError(
    o,
    result,
    ErrorCode.ENHANCE_YOUR_CALM,
  );
  assertStringIncludes(error.message, "flood");
});

Deno.test("Http2Session answers a PING flood with GOAWAY(ENHANCE_YOUR_CALM)", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  const ping = rawFrame(FrameType.PING, 0, 0, new Uint8Array(8));
  await o.peer.write(...Array.from({ length: 3000 }, () => ping)).catch(
    () => {},
  );
  await expectConnectionError(o, result, ErrorCode.ENHANCE_YOUR_CALM);
});

Deno.test("Http2Session answers a flood of empty DATA frames with GOAWAY(ENHANCE_YOUR_CALM)", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  await o.peer.respond(1, 200);
  const response = await result;
  const empty = rawFrame(FrameType.DATA, 0, 1);
  await o.peer.write(...Array.from({ length: 3000 }, () => empty)).catch(
    () => {},
  );
  await assertFetchError(bodyBytes(response), "body", "MALFORMED_RESPONSE");
  assertEquals(
    goawayCode(await o.peer.next(isGoaway)),
    ErrorCode.ENHANCE_YOUR_CALM,
  );
});

Deno.test("Http2Session answers an endless CONTINUATION sequence with GOAWAY(ENHANCE_YOUR_CALM)", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  // HEADERS without END_HEADERS, then CONTINUATION frames forever.
  const frames = [rawFrame(FrameType.HEADERS, 0, 1, new Uint8Array([0x88]))];
  const continuation = rawFrame(
    FrameType.CONTINUATION,
    0,
    1,
    new Uint8Array(10),
  );
  for (let i = 0; i < 1000; i++) frames.push(continuation);
  await o.peer.write(...frames).catch(() => {});
  await expectConnectionError(o, result, ErrorCode.ENHANCE_YOUR_CALM);
});

Deno.test("Http2Session answers a connection window overflow with GOAWAY(FLOW_CONTROL_ERROR)", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  await o.peer.windowUpdate(0, MAX_WINDOW_SIZE);
  await expectConnectionError(o, result, ErrorCode.FLOW_CONTROL_ERROR);
});

Deno.test("Http2Session resets a stream whose window overflows, and one that gets more DATA than its window", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 16384 });
  const { peer } = o;
  const first = o.fetch("/", { method: "POST", body: pattern(10) });
  await peer.request();
  await peer.windowUpdate(1, MAX_WINDOW_SIZE);
  await assertFetchError(first, "sent", "MALFORMED_RESPONSE");
  assertEquals(
    rstCode(await peer.next(isRst(1))),
    ErrorCode.FLOW_CONTROL_ERROR,
  );

  const second = o.fetch("/flood");
  await peer.request();
  await peer.respond(3, 200, [["content-length", "100000"]]);
  const response = await second;
  // Ignore the window: 16384 is all the stream may take unread.
  await peer.data(3, pattern(20000));
  // Read only after the reset: a reader would have opened the window.
  assertEquals(
    rstCode(await peer.next(isRst(3))),
    ErrorCode.FLOW_CONTROL_ERROR,
  );
  await assertFetchError(bodyBytes(response), "body", "MALFORMED_RESPONSE");
  assert(o.session.accepting);
});

Deno.test("Http2Session answers a bad HPACK index with GOAWAY(COMPRESSION_ERROR)", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  // Indexed field 100: beyond the static table, and the dynamic one is empty.
  await o.peer.write(
    rawFrame(
      FrameType.HEADERS,
      Flag.END_HEADERS | Flag.END_STREAM,
      1,
      new Uint8Array([0x88, 0xff, 0x25]),
    ),
  );
  const error = await expectConnectionError(
    o,
    result,
    ErrorCode.COMPRESSION_ERROR,
    "response",
  );
  assertStringIncludes(error.message, "COMPRESSION_ERROR");
});

Deno.test("Http2Session drops frames on closed streams and treats frames on never-opened streams as a connection error", async () => {
  await using s = scripted();
  await using o = await open(s);
  const { peer } = o;
  const first = o.fetch("/");
  await peer.request();
  await peer.reply(1, 200, "ok");
  await first;
  // Stream 1 is closed: these are dropped.
  await peer.write(
    encodeData(1, pattern(10), false),
    rawFrame(FrameType.RST_STREAM, 0, 1, new Uint8Array(4)),
    rawFrame(FrameType.WINDOW_UPDATE, 0, 1, new Uint8Array([0, 0, 1, 0])),
    peer.headersFrame(1, [[":status", "200"]], true),
  );
  const second = o.fetch("/second");
  await peer.request();
  await peer.reply(3, 200, "still fine");
  assertEquals(await bodyText(await second), "still fine");
  // Stream 99 was never opened.
  const third = o.fetch("/third");
  await peer.request();
  await peer.write(encodeData(99, pattern(1), true));
  await expectConnectionError(o, third, ErrorCode.PROTOCOL_ERROR);
});

Deno.test("Http2Session treats a server stream (push is off) as a connection error", async () => {
  await using s = scripted();
  await using o = await open(s);
  const result = o.fetch("/");
  await o.peer.request();
  await o.peer.write(o.peer.headersFrame(2, [[":status", "200"]], true));
  await expectConnectionError(o, result, ErrorCode.PROTOCOL_ERROR);
});

// ---------------------------------------------------------------------------
// Limits and fairness

Deno.test("Http2Session lets another stream's frames in while it writes a large body in hand", async () => {
  await using s = scripted();
  await using o = await open(s, {}, { initialWindowSize: MAX_WINDOW_SIZE });
  const { peer } = o;
  await peer.next((f) =>
    f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0
  );
  await peer.windowUpdate(0, 64 * 1024 * 1024);
  await delay(10);
  const body = pattern(4 * 1024 * 1024);
  const upload = o.fetch("/upload", { method: "POST", body });
  const small = o.fetch("/small");
  const first = await peer.request();
  const second = await peer.request();
  assertEquals([first.streamId, second.streamId], [1, 3]);
  const received = await peer.body(1);
  assertEquals(received.byteLength, body.byteLength);
  assertEquals(received, body);
  const headersAt = peer.frames.findIndex((f) =>
    f.type === FrameType.HEADERS && f.streamId === 3
  );
  const lastDataAt = peer.frames.findLastIndex((f) =>
    f.type === FrameType.DATA && f.streamId === 1
  );
  assert(headersAt < lastDataAt, "the GET did not wait for the whole upload");
  await peer.reply(3, 200, "small");
  await peer.reply(1, 200, "stored");
  assertEquals(await bodyText(await small), "small");
  assertEquals(await bodyText(await upload), "stored");
});

Deno.test("Http2Session resets an upload that stalls after its response arrived", async () => {
  await using s = scripted();
  await using o = await open(s, {}, { initialWindowSize: 100 });
  const { peer, session } = o;
  await peer.next((f) =>
    f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0
  );
  const result = o.fetch("/early", {
    method: "POST",
    body: pattern(1000),
    bodyTimeout: 50,
  });
  await peer.request();
  // Answer at once, and never open the window for the rest of the body.
  await peer.reply(1, 413, "too large");
  const response = await result;
  assertEquals(response.status, 413);
  assertEquals(await bodyText(response), "too large");
  assertEquals(session.activeStreams, 1, "the upload still holds the stream");
  assertEquals(rstCode(await peer.next(isRst(1))), ErrorCode.CANCEL);
  assertEquals(session.activeStreams, 0);
});

Deno.test("Http2Session fails waiting requests as refused when the server allows no stream", async () => {
  await using s = scripted();
  await using o = await open(s, {}, { maxConcurrentStreams: 0 });
  const { peer, session } = o;
  await peer.next((f) =>
    f.type === FrameType.SETTINGS && (f.flags & Flag.ACK) !== 0
  );
  assertEquals(session.capacity, 0);
  const error = await assertFetchError(
    o.fetch("/"),
    "unsent",
    "STREAM_REFUSED",
  );
  assertStringIncludes(error.message, "SETTINGS_MAX_CONCURRENT_STREAMS 0");
  assertFalse(peer.has((f) => f.type === FrameType.HEADERS));
});

Deno.test("Http2Session fails a response head over maxHeaderListSize and keeps the session", async () => {
  await using s = scripted();
  await using o = await open(s, { maxHeaderListSize: 1000 });
  const { peer } = o;
  const big = o.fetch("/big-head");
  await peer.request();
  await peer.respond(1, 200, [["x-big", "v".repeat(2000)]], true);
  await assertFetchError(big, "response", "MALFORMED_RESPONSE");
  assertEquals(rstCode(await peer.next(isRst(1))), ErrorCode.PROTOCOL_ERROR);
  const next = o.fetch("/next");
  await peer.request();
  await peer.reply(3, 200, "ok");
  assertEquals(await bodyText(await next), "ok");
});

Deno.test("Http2Session gives back the window that padding used", async () => {
  await using s = scripted();
  await using o = await open(s, { readAhead: 1024 });
  const { peer } = o;
  const result = o.fetch("/padded");
  await peer.request();
  await peer.respond(1, 200, [["content-length", "100"]]);
  // Ten frames of 10 bytes, each padded to 251: 2510 bytes against a
  // 1024-byte window, sent only as the window allows.
  let window = 1024;
  for (let i = 0; i < 10; i++) {
    const payload = new Uint8Array(251);
    payload[0] = 240; // Pad Length
    payload.set(pattern(10), 1);
    while (window < payload.byteLength) {
      const update = await peer.nextOf(FrameType.WINDOW_UPDATE, 1);
      window += u32(update.payload);
    }
    await peer.write(
      rawFrame(
        FrameType.DATA,
        Flag.PADDED | (i === 9 ? Flag.END_STREAM : 0),
        1,
        payload,
      ),
    );
    window -= payload.byteLength;
  }
  const response = await result;
  assertEquals((await bodyBytes(response)).byteLength, 100);
});

Deno.test("Http2Session leaves no timer and no ref'd socket behind once idle, so a process can exit", async () => {
  await using s = scripted();
  const mod = (path: string) => new URL(path, import.meta.url).href;
  const origin = s.server.origin;
  // The child opens a session, completes one request (with timeouts armed),
  // then neither closes the session nor the socket: it must exit anyway.
  const code = `
    import { Http2Session } from "${mod("../_http2_session.ts")}";
    import { Exchange } from "${mod("../_exchange.ts")}";
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: ${s.server.port} });
    const session = Http2Session.open(conn, {
      origin: "${origin}", scheme: "http", maxConcurrentStreams: 100,
      maxHeaderListSize: 65536, readAhead: 65536, pingAfterIdle: 60000,
    }, { released() {}, closed() {}, goingAway() {} });
    const exchange = new Exchange({
      method: "GET", url: new URL("${origin}/"), fields: [], host: undefined,
      body: { bytes: null, stream: null, contentType: null, replayable: true },
      contentLength: null, plain: true,
    }, true, undefined, 60000, 60000, -1);
    session.send(exchange);
    const result = await exchange.promise;
    console.log("status", result.status, session.activeStreams);
  `;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", "--quiet", code],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  }).spawn();
  const output = child.output();
  try {
    const peer = await s.peer();
    await peer.handshake();
    const req = await peer.request();
    await peer.reply(req.streamId, 200, "ok");
    const out = await deadline(output, 10_000);
    const stdout = new TextDecoder().decode(out.stdout);
    assert(out.success, new TextDecoder().decode(out.stderr));
    assertStringIncludes(stdout, "status 200 0");
  } finally {
    try {
      child.kill();
    } catch {
      // Exited.
    }
    await output.catch(() => {});
  }
});
