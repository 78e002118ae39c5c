// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * HTTP/2 servers that no one here wrote, for the session interop tests:
 * Node's `http2` (a child `node` process, TLS and h2c), nghttpd (Debian's
 * nghttp2-server, TLS or h2c), nginx with `http2` on a TLS listener, and
 * `Deno.serve` over TLS (which negotiates h2). Each listens on loopback and
 * serves what it can of these routes:
 *
 * - `/text`: a short text/plain body with content-length.
 * - `/big`: 1 MiB of a fixed pattern (`pattern()`).
 * - `/echo` (POST, PUT, DELETE): the request body back, `x-method` set.
 * - `/nocontent`: 204. `/redirect`: 302 to `/text`.
 * - `/gzip`: 20000 pattern bytes, gzip-encoded (when asked for).
 * - `/trailers`: a body followed by the trailer `x-trailer: yes`.
 *
 * A server whose binary is missing is `null`, for the test to skip with a
 * visible message.
 *
 * @module
 */

import { delay } from "@std/async/delay";
import { PEM } from "./_tls_servers.ts";
import { removeTempTree, writeTempTree } from "./_temp_tree.ts";
import { stopChild } from "./_child.ts";

/** A running HTTP/2 server. */
export interface H2Server extends AsyncDisposable {
  name: string;
  /** `https://127.0.0.1:<port>` or `http://…` (h2c). */
  origin: string;
  port: number;
  tls: boolean;
  close(): Promise<void>;
}

/** The byte pattern of `/big`: `i % 26` as a lowercase letter. */
export function pattern(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = 97 + (i % 26);
  return out;
}

export const BIG_SIZE = 1024 * 1024;
export const GZIP_SOURCE_SIZE = 20000;

const fixturePath = (name: string) =>
  new URL(`./fixtures/${name}`, import.meta.url).pathname;

/** Where a binary is (on the PATH or in /usr/sbin), or null. */
export function findBinary(name: string): string | null {
  try {
    const out = new Deno.Command("sh", {
      args: [
        "-c",
        `command -v ${name} || { test -x /usr/sbin/${name} && echo /usr/sbin/${name}; }`,
      ],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const path = new TextDecoder().decode(out.stdout).trim();
    return out.success && path !== "" ? path : null;
  } catch {
    return null;
  }
}

/** A free loopback port: bind port 0, read it, release it. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Connects to `port` until it accepts, or `exited` settles; true if up. */
async function waitListening(
  port: number,
  exited: Promise<unknown>,
): Promise<boolean> {
  let gone = false;
  exited.then(() => gone = true, () => gone = true);
  for (let i = 0; i < 100 && !gone; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return true;
    } catch {
      await delay(30);
    }
  }
  return false;
}

async function drainText(stream: ReadableStream<Uint8Array>): Promise<string> {
  return await new Response(stream).text().catch(() => "");
}

// ---------------------------------------------------------------------------
// Node

const NODE_SCRIPT = String.raw`
const http2 = require("http2");
const zlib = require("zlib");
const fs = require("fs");
const [certPath, keyPath] = process.argv.slice(1);
function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = 97 + (i % 26);
  return b;
}
const TEXT = "hello from node\n";
const BIG = pattern(1024 * 1024);
const GZ = zlib.gzipSync(pattern(20000));
const bursts = new Map();
function handler(stream, headers) {
  stream.on("error", () => {});
  const url = new URL(headers[":path"], "http://x");
  const method = headers[":method"];
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("end", () => {
    const body = Buffer.concat(chunks);
    switch (url.pathname) {
      case "/text":
        stream.respond({ ":status": 200, "content-type": "text/plain", "content-length": TEXT.length });
        stream.end(method === "HEAD" ? undefined : TEXT);
        return;
      case "/big":
        stream.respond({ ":status": 200, "content-length": BIG.length });
        stream.end(BIG);
        return;
      case "/echo":
        stream.respond({ ":status": 200, "x-method": method, "content-length": body.length });
        stream.end(body);
        return;
      case "/nocontent":
        stream.respond({ ":status": 204 }, { endStream: true });
        return;
      case "/redirect":
        stream.respond({ ":status": 302, location: "/text" }, { endStream: true });
        return;
      case "/gzip":
        stream.respond({ ":status": 200, "content-encoding": "gzip", "content-length": GZ.length });
        stream.end(GZ);
        return;
      case "/trailers":
        stream.respond({ ":status": 200 }, { waitForTrailers: true });
        stream.on("wantTrailers", () => stream.sendTrailers({ "x-trailer": "yes" }));
        stream.end("with trailers");
        return;
      case "/burst": {
        // Hold the first 5 streams of a session, then GOAWAY with the
        // second one as the last processed; answer the first two.
        const session = stream.session;
        const held = bursts.get(session) ?? [];
        bursts.set(session, held);
        held.push(stream);
        if (held.length === 5) {
          const last = held[1].id;
          session.goaway(0, last);
          for (const s of held) {
            if (s.id <= last) {
              s.respond({ ":status": 200 });
              s.end("burst " + s.id);
            } else {
              s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
            }
          }
        }
        return;
      }
      default:
        stream.respond({ ":status": 404 });
        stream.end("not found\n");
    }
  });
}
const secure = http2.createSecureServer({ cert: fs.readFileSync(certPath), key: fs.readFileSync(keyPath) });
const plain = http2.createServer();
for (const server of [secure, plain]) {
  server.on("stream", handler);
  server.on("sessionError", () => {});
  server.on("session", (s) => s.on("error", () => {}));
}
let ready = 0;
const done = () => {
  if (++ready === 2) {
    process.stdout.write(JSON.stringify({ tls: secure.address().port, h2c: plain.address().port }) + "\n");
  }
};
secure.listen(0, "127.0.0.1", done);
plain.listen(0, "127.0.0.1", done);
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
`;

/** Node's http2 in a child process: a TLS server and an h2c server. */
export async function startNodeH2(): Promise<
  { tls: H2Server; h2c: H2Server } | null
> {
  const node = findBinary("node");
  if (node === null) return null;
  const child = new Deno.Command(node, {
    args: [
      "-e",
      NODE_SCRIPT,
      fixturePath("server.pem"),
      fixturePath("server-key.pem"),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = drainText(child.stderr);
  let first = "";
  while (!first.includes("\n")) {
    const { done, value } = await lines.read();
    if (done) break;
    first += value;
  }
  const restOfStdout = (async () => {
    while (!(await lines.read()).done) {
      // Drain.
    }
  })();
  let stopped: Promise<void> | null = null;
  const stop = () =>
    stopped ??= (async () => {
      await child.stdin.close().catch(() => {});
      await stopChild(child);
      await restOfStdout;
      await stderr;
    })();
  if (!first.includes("\n")) {
    await stop();
    throw new Error(`node did not start: ${await stderr}`);
  }
  const ports = JSON.parse(first) as { tls: number; h2c: number };
  let open = 2;
  const make = (tls: boolean): H2Server => {
    const port = tls ? ports.tls : ports.h2c;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      if (--open === 0) await stop();
    };
    return {
      name: `node http2 ${tls ? "TLS" : "h2c"}`,
      origin: `${tls ? "https" : "http"}://127.0.0.1:${port}`,
      port,
      tls,
      close,
      [Symbol.asyncDispose]: close,
    };
  };
  return { tls: make(true), h2c: make(false) };
}

// ---------------------------------------------------------------------------
// nghttpd

/** Options of {@linkcode startNghttpd}. */
export interface NghttpdOptions {
  tls: boolean;
  /** `-m`: the server's SETTINGS_MAX_CONCURRENT_STREAMS. */
  maxConcurrentStreams?: number;
}

/**
 * nghttpd serving a temporary directory (`/text`, `/big`, and `/echo`
 * through `--echo-upload`), every body followed by the trailer
 * `x-trailer: yes`.
 */
export async function startNghttpd(
  options: NghttpdOptions,
): Promise<H2Server | null> {
  const nghttpd = findBinary("nghttpd");
  if (nghttpd === null) return null;
  const text = "hello from nghttpd\n";
  let big = "";
  const bytes = pattern(BIG_SIZE);
  for (let i = 0; i < bytes.length; i += 8192) {
    big += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  const dir = await writeTempTree(
    {
      "www/text": text,
      "www/big": big,
      "www/echo": "",
      "www/trailers": "with trailers\n",
    },
    { prefix: "pooled_fetch_nghttpd_" },
  );
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const args = [
      "-a",
      "127.0.0.1",
      "-d",
      `${dir}/www`,
      "--echo-upload",
      "--trailer",
      "x-trailer: yes",
      "-m",
      String(options.maxConcurrentStreams ?? 100),
    ];
    if (!options.tls) args.push("--no-tls");
    args.push(String(port));
    if (options.tls) {
      args.push(fixturePath("server-key.pem"), fixturePath("server.pem"));
    }
    const child = new Deno.Command(nghttpd, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = drainText(child.stderr);
    if (await waitListening(port, child.status)) {
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await stopChild(child);
        await stderr;
        await removeTempTree(dir);
      };
      return {
        name: `nghttpd ${options.tls ? "TLS" : "h2c"}`,
        origin: `${options.tls ? "https" : "http"}://127.0.0.1:${port}`,
        port,
        tls: options.tls,
        close,
        [Symbol.asyncDispose]: close,
      };
    }
    await stopChild(child);
    await stderr;
  }
  await removeTempTree(dir);
  throw new Error("nghttpd did not start");
}

// ---------------------------------------------------------------------------
// nginx

/**
 * nginx with `http2` on a TLS listener: static files, `return 204` and
 * `302`, gzip, `add_trailer`, and `/echo` proxied to an HTTP/1.1
 * `Deno.serve` in this process. `keepaliveRequests` makes it send GOAWAY
 * after that many streams.
 */
export async function startNginxH2(
  keepaliveRequests = 1000,
): Promise<H2Server | null> {
  const nginx = findBinary("nginx");
  if (nginx === null) return null;
  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req) => {
      const body = new Uint8Array(await req.arrayBuffer());
      return new Response(body, { headers: { "x-method": req.method } });
    },
  );
  let big = "";
  const bytes = pattern(BIG_SIZE);
  for (let i = 0; i < bytes.length; i += 8192) {
    big += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  const dir = await writeTempTree(
    {
      "www/text": "hello from nginx\n",
      "www/big": big,
      "www/gzip.txt": new TextDecoder().decode(pattern(GZIP_SOURCE_SIZE)),
    },
    { prefix: "pooled_fetch_nginx_h2_" },
  );
  const temps = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `${name}_temp_path ${dir}/${name};`).join("\n  ");
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
  access_log off;
  ${temps}
  default_type application/octet-stream;
  server_tokens off;
  keepalive_requests ${keepaliveRequests};
  gzip on;
  gzip_min_length 20;
  gzip_types text/plain;
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${fixturePath("server.pem")};
    ssl_certificate_key ${fixturePath("server-key.pem")};
    root ${dir}/www;
    location = /text { default_type text/plain; gzip off; }
    location = /big { gzip off; }
    location = /gzip { default_type text/plain; try_files /gzip.txt =404; }
    location = /nocontent { return 204; }
    location = /redirect { return 302 /text; }
    location = /trailers {
      default_type text/plain;
      gzip off;
      add_trailer x-trailer yes;
      try_files /text =404;
    }
    location = /echo {
      proxy_pass http://127.0.0.1:${upstream.addr.port};
      proxy_http_version 1.1;
    }
  }
}
`;
    await writeTempTree({ "nginx.conf": config }, { dir });
    const child = new Deno.Command(nginx, {
      args: ["-c", `${dir}/nginx.conf`, "-p", dir, "-e", `${dir}/error.log`],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = drainText(child.stderr);
    if (await waitListening(port, child.status)) {
      let closed = false;
      const close = async () => {
        if (closed) return;
        closed = true;
        await stopChild(child);
        await stderr;
        await upstream.shutdown();
        await removeTempTree(dir);
      };
      return {
        name: "nginx TLS",
        origin: `https://127.0.0.1:${port}`,
        port,
        tls: true,
        close,
        [Symbol.asyncDispose]: close,
      };
    }
    await stopChild(child);
    await stderr;
  }
  await upstream.shutdown();
  await removeTempTree(dir);
  throw new Error("nginx did not start");
}

// ---------------------------------------------------------------------------
// Deno.serve

/** `Deno.serve` over TLS in this process; it negotiates h2 by ALPN. */
export function startDenoH2(): H2Server {
  const big = pattern(BIG_SIZE);
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      cert: PEM.serverCert,
      key: PEM.serverKey,
      onListen() {},
    },
    async (req) => {
      const url = new URL(req.url);
      switch (url.pathname) {
        case "/text":
          return new Response("hello from deno\n", {
            headers: { "content-type": "text/plain" },
          });
        case "/big":
          return new Response(big);
        case "/echo": {
          const body = new Uint8Array(await req.arrayBuffer());
          return new Response(body, { headers: { "x-method": req.method } });
        }
        case "/nocontent":
          return new Response(null, { status: 204 });
        case "/redirect":
          return new Response(null, {
            status: 302,
            headers: { location: "/text" },
          });
        case "/gzip":
          return new Response(
            new Blob([pattern(GZIP_SOURCE_SIZE)]).stream().pipeThrough(
              new CompressionStream("gzip"),
            ),
            { headers: { "content-encoding": "gzip" } },
          );
        default:
          return new Response("not found\n", { status: 404 });
      }
    },
  );
  const port = server.addr.port;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.shutdown();
  };
  return {
    name: "Deno.serve TLS",
    origin: `https://127.0.0.1:${port}`,
    port,
    tls: true,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * Connects to `server` as the pool's dialer would: TLS with ALPN `h2` (and
 * the test CA), or plain TCP for h2c; no Nagle delay.
 */
export async function connectH2(server: H2Server): Promise<Deno.Conn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  tcp.setNoDelay(true);
  if (!server.tls) return tcp;
  const tls = await Deno.startTls(tcp, {
    hostname: "127.0.0.1",
    caCerts: [PEM.ca],
    alpnProtocols: ["h2"],
  });
  const info = await tls.handshake();
  if (info.alpnProtocol !== "h2") {
    tls.close();
    throw new Error(`${server.name} chose ALPN ${info.alpnProtocol}, not h2`);
  }
  return tls;
}
