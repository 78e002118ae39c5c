// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * `deno bench` for the HTTP/1.1 codec (`_http1.ts`) alone, without sockets:
 * parsing response heads, decoding chunked bodies, serialising requests.
 *
 * The built-in `fetch` has no codec of its own to call, so each group's
 * baseline is one whole built-in `fetch` of a 13-byte body over loopback
 * (server in its own process): it shows what fraction of a request's cost
 * the codec step is.
 *
 * Run: `deno bench --allow-net=127.0.0.1 --allow-read=. --allow-run
 * bench/codec_bench.ts`
 *
 * @module
 */

import {
  ChunkedDecoder,
  DEFAULT_PARSER_LIMITS,
  encodeChunk,
  encodeRequest,
  lastChunk,
  parseResponseHead,
  type RequestHead,
  validateRequestHead,
} from "../_http1.ts";
import { concat } from "../_body.ts";
import { ServerProcess } from "./_server_process.ts";

const server = await ServerProcess.start(false);
server.detach();
const smallUrl = `http://127.0.0.1:${server.port}/small`;

const encoder = new TextEncoder();

/** Sink that keeps results alive so the work is not optimised away. */
let sink = 0;

function baseline(group: string): void {
  Deno.bench({
    name: "fetch (built-in), whole request",
    group,
    baseline: true,
    async fn() {
      const res = await fetch(smallUrl);
      sink += (await res.arrayBuffer()).byteLength;
    },
  });
}

// Response heads: a minimal one, and a typical CDN/nginx one.
const SMALL_HEAD = encoder.encode(
  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!",
);
const TYPICAL_HEAD = encoder.encode(
  [
    "HTTP/1.1 200 OK",
    "Server: nginx/1.27.0",
    "Date: Wed, 26 Nov 2025 19:00:00 GMT",
    "Content-Type: application/json; charset=utf-8",
    "Content-Length: 1234",
    "Connection: keep-alive",
    "Keep-Alive: timeout=5, max=1000",
    "Cache-Control: private, max-age=0, must-revalidate",
    'ETag: "5f2b-1a2b3c4d5e6f"',
    "Vary: Accept-Encoding, Origin",
    "X-Request-Id: 3f1c0f0e-2b9d-4c1e-9a7e-0d6b8c5e4a21",
    "Strict-Transport-Security: max-age=63072000; includeSubDomains",
    "Set-Cookie: session=abcdef0123456789; Path=/; HttpOnly; Secure",
    "",
    "",
  ].join("\r\n"),
);

baseline("parse response head");
Deno.bench({
  name: "parseResponseHead, 2 fields",
  group: "parse response head",
  fn() {
    const h = parseResponseHead(
      SMALL_HEAD,
      0,
      SMALL_HEAD.length,
      "GET",
      DEFAULT_PARSER_LIMITS,
    );
    sink += h?.contentLength ?? 0;
  },
});
Deno.bench({
  name: "parseResponseHead, 12 fields",
  group: "parse response head",
  fn() {
    const h = parseResponseHead(
      TYPICAL_HEAD,
      0,
      TYPICAL_HEAD.length,
      "GET",
      DEFAULT_PARSER_LIMITS,
    );
    sink += h?.contentLength ?? 0;
  },
});

// A 64 KiB body in 16 chunks of 4 KiB, then the last chunk.
const CHUNKED_BODY = (() => {
  const parts = Array.from(
    { length: 16 },
    () => encodeChunk(new Uint8Array(4096).fill(0x61)),
  );
  parts.push(lastChunk());
  return concat(parts);
})();

baseline("chunked body");
Deno.bench({
  name: "ChunkedDecoder, 64 KiB in 16 chunks",
  group: "chunked body",
  fn() {
    const d = new ChunkedDecoder(DEFAULT_PARSER_LIMITS);
    let pos = 0;
    for (let i = 0; i < 1000 && !d.done; i++) {
      const n = d.decode(CHUNKED_BODY, pos, CHUNKED_BODY.length);
      if (n === 0) break;
      sink += d.data?.length ?? 0;
      pos += n;
    }
  },
});
Deno.bench({
  name: "encodeChunk, 16 x 4 KiB",
  group: "chunked body",
  fn() {
    const data = CHUNKED_BODY.subarray(0, 4096);
    for (let i = 0; i < 16; i++) sink += encodeChunk(data).length;
  },
});

const GET_HEAD: RequestHead = {
  method: "GET",
  target: "/api/v1/items?page=2&limit=50",
  headers: [
    ["Host", "api.example.com"],
    ["User-Agent", "pooled-fetch/0.1"],
    ["Accept", "application/json"],
    ["Accept-Encoding", "gzip, deflate, br"],
    ["Authorization", "Bearer 0123456789abcdef0123456789abcdef"],
  ],
};
const POST_HEAD: RequestHead = {
  method: "POST",
  target: "/echo",
  headers: [
    ["Host", "127.0.0.1:8080"],
    ["Content-Type", "application/json"],
    ["Content-Length", "1024"],
  ],
};
const POST_BODY = new Uint8Array(1024).fill(0x7b);

baseline("serialise request");
Deno.bench({
  name: "validate + encodeRequest, GET with 5 fields",
  group: "serialise request",
  fn() {
    validateRequestHead(GET_HEAD);
    sink += encodeRequest(GET_HEAD, null).length;
  },
});
Deno.bench({
  name: "validate + encodeRequest, POST with 1 KiB body",
  group: "serialise request",
  fn() {
    validateRequestHead(POST_HEAD);
    sink += encodeRequest(POST_HEAD, POST_BODY).length;
  },
});

globalThis.addEventListener("unload", () => {
  if (sink < 0) console.log(sink);
});
