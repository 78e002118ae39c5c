// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Servers that no one here wrote, for the interop tests: Node's `http`,
 * Python's `http.server` (HTTP/1.0 and HTTP/1.1), `Deno.serve`, and nginx
 * where it is installed. Each listens on loopback on a port the OS chose and
 * serves the same routes:
 *
 * - `/text`: a short text/plain body with Content-Length.
 * - `/length?n=N`: N bytes of a fixed pattern with Content-Length.
 * - `/chunked`: a body in several chunks (Transfer-Encoding: chunked).
 * - `/close`: a body delimited by closing the connection (where possible).
 * - `/gzip`: a gzip-encoded body with Content-Length.
 * - `/gzip-chunked`: a gzip-encoded body, chunked (where possible).
 * - `/echo` (POST): the request body back, with the request's Content-Type.
 * - `/id?id=X&n=N`: `id=X;` then N bytes of padding (for pipelining).
 * - `/conns`: how many connections the server has accepted, as text.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";
import { delay } from "@std/async/delay";
import { removeTempTree, writeTempTree } from "./_temp_tree.ts";
import { stopChild } from "./_child.ts";

/** A server under test. */
export interface InteropServer extends AsyncDisposable {
  /** What it is, for test names and messages. */
  name: string;
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /**
   * Connections the server accepted so far, not counting the ones these
   * calls opened to ask it.
   */
  connections(): Promise<number>;
  /** Stops the server (and its process). */
  close(): Promise<void>;
}

/** The byte pattern of `/length` and padding bodies: `i % 251` as a letter. */
export function pattern(n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}

const NODE_SCRIPT = String.raw`
const http = require("http");
const zlib = require("zlib");
let conns = 0;
function pattern(n) {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + (i % 26));
  return s;
}
const TEXT = "hello from node\n";
const BIG = pattern(20000);
const server = http.createServer((req, res) => {
  const url = new URL(req.url, "http://x");
  const parts = [];
  req.on("data", (c) => parts.push(c));
  req.on("end", () => {
    const body = Buffer.concat(parts);
    res.setHeader("x-server", "node");
    switch (url.pathname) {
      case "/text":
        res.setHeader("content-type", "text/plain; charset=utf-8");
        res.setHeader("content-length", Buffer.byteLength(TEXT));
        res.end(TEXT);
        return;
      case "/length": {
        const data = pattern(Number(url.searchParams.get("n") ?? "1000"));
        res.setHeader("content-type", "application/octet-stream");
        res.setHeader("content-length", data.length);
        res.end(data);
        return;
      }
      case "/chunked": {
        res.setHeader("content-type", "text/plain");
        let i = 0;
        const step = () => {
          if (i === 5) return res.end("end\n");
          res.write("chunk " + i++ + " " + pattern(100 * i) + "\n");
          setImmediate(step);
        };
        step();
        return;
      }
      case "/close": {
        // No length, no chunking: the body ends when the connection closes.
        res.useChunkedEncodingByDefault = false;
        res.shouldKeepAlive = false;
        res.setHeader("content-type", "text/plain");
        res.write("close-delimited ");
        setImmediate(() => res.end(pattern(3000)));
        return;
      }
      case "/gzip": {
        const data = zlib.gzipSync(BIG);
        res.setHeader("content-type", "text/plain");
        res.setHeader("content-encoding", "gzip");
        res.setHeader("content-length", data.length);
        res.end(data);
        return;
      }
      case "/gzip-chunked": {
        res.setHeader("content-type", "text/plain");
        res.setHeader("content-encoding", "gzip");
        const gz = zlib.createGzip();
        gz.pipe(res);
        gz.write(BIG.slice(0, 7000));
        setImmediate(() => gz.end(BIG.slice(7000)));
        return;
      }
      case "/echo":
        res.setHeader("content-type", req.headers["content-type"] ?? "application/octet-stream");
        res.setHeader("x-method", req.method);
        res.setHeader("content-length", body.length);
        res.end(body);
        return;
      case "/id": {
        const data = "id=" + url.searchParams.get("id") + ";" +
          pattern(Number(url.searchParams.get("n") ?? "0"));
        res.setHeader("content-type", "text/plain");
        if (Number(url.searchParams.get("n") ?? "0") % 2 === 0) {
          res.setHeader("content-length", Buffer.byteLength(data));
        }
        res.end(data);
        return;
      }
      case "/conns":
        res.setHeader("content-type", "text/plain");
        res.end(String(conns));
        return;
      case "/nocontent":
        res.statusCode = 204;
        res.end();
        return;
      default:
        res.statusCode = 404;
        res.statusMessage = "Nope Not Here";
        res.end("not found\n");
    }
  });
});
server.on("connection", () => conns++);
server.keepAliveTimeout = 5000;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(server.address().port + "\n");
});
`;

const PYTHON_SCRIPT = String.raw`
import gzip, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
from urllib.parse import urlsplit, parse_qs

PROTO = sys.argv[1]
conns = 0
lock = threading.Lock()

def pattern(n):
    return "".join(chr(97 + (i % 26)) for i in range(n))

TEXT = b"hello from python\n"
BIG = pattern(20000).encode()
GZ = gzip.compress(BIG, mtime=0)

class H(BaseHTTPRequestHandler):
    protocol_version = PROTO
    server_version = "InteropPython/1"
    sys_version = ""

    def setup(self):
        global conns
        with lock:
            conns += 1
        super().setup()

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=(), length=True):
        self.send_response(status)
        self.send_header("X-Server", "python")
        for k, v in headers:
            self.send_header(k, v)
        if length:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        p = u.path
        if p == "/text":
            self.send(200, TEXT, [("Content-Type", "text/plain; charset=utf-8")])
        elif p == "/length":
            n = int(q.get("n", ["1000"])[0])
            self.send(200, pattern(n).encode(), [("Content-Type", "application/octet-stream")])
        elif p == "/chunked" and PROTO == "HTTP/1.1":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if self.command != "HEAD":
                for i in range(5):
                    data = ("chunk %d %s\n" % (i, pattern(100 * (i + 1)))).encode()
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                self.wfile.write(b"4\r\nend\n\r\n0\r\n\r\n")
        elif p == "/close":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command != "HEAD":
                self.wfile.write(b"close-delimited ")
                self.wfile.write(pattern(3000).encode())
        elif p == "/gzip":
            self.send(200, GZ, [("Content-Type", "text/plain"), ("Content-Encoding", "gzip")])
        elif p == "/id":
            n = int(q.get("n", ["0"])[0])
            data = ("id=%s;%s" % (q.get("id", [""])[0], pattern(n))).encode()
            self.send(200, data, [("Content-Type", "text/plain")])
        elif p == "/conns":
            with lock:
                n = conns
            self.send(200, str(n).encode(), [("Content-Type", "text/plain")])
        else:
            self.send(404, b"not found\n", [("Content-Type", "text/plain")])

    do_HEAD = do_GET

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n) if n > 0 else b""
        if urlsplit(self.path).path == "/echo":
            self.send(200, body, [
                ("Content-Type", self.headers.get("Content-Type", "application/octet-stream")),
                ("X-Method", "POST"),
            ])
        else:
            self.send(404, b"not found\n", [("Content-Type", "text/plain")])

class S(ThreadingHTTPServer):
    daemon_threads = True

srv = S(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.serve_forever()
`;

/** Runs `cmd` with `args`; resolves once it printed its port on a line. */
async function spawnWithPort(
  name: string,
  cmd: string,
  args: string[],
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await reader.cancel().catch(() => {});
    await child.status;
  };
  let text = "";
  const firstLine = (async () => {
    while (!text.includes("\n")) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`${name} exited before printing its port`);
      text += value;
    }
  })();
  try {
    await deadline(firstLine, 10_000);
  } catch (error) {
    await stop();
    // After a timeout, stop() ends the read: let it settle.
    await firstLine.catch(() => {});
    if (error instanceof DOMException && error.name === "TimeoutError") {
      throw new Error(`${name} printed no port within 10 s`, { cause: error });
    }
    throw error;
  }
  const port = Number(text.trim().split("\n")[0]);
  if (!Number.isInteger(port) || port <= 0) {
    await stop();
    throw new Error(`${name} printed no port: ${JSON.stringify(text)}`);
  }
  return { port, stop };
}

const NODE_RESET_SCRIPT = String.raw`
const net = require("net");
// Times each request (method and target) was read, for /log.
const seen = {};
let conns = 0;
const CRLF = "\r\n";
const server = net.createServer((socket) => {
  conns++;
  let buf = Buffer.alloc(0);
  let resetNext = false;
  socket.on("error", () => {});
  socket.on("data", (data) => {
    if (resetNext) {
      // The keep-alive race: the connection dies as a request arrives,
      // unread.
      socket.resetAndDestroy();
      return;
    }
    buf = Buffer.concat([buf, data]);
    while (true) {
      const end = buf.indexOf(CRLF + CRLF);
      if (end === -1) return;
      const head = buf.subarray(0, end).toString("latin1");
      const match = /content-length: *(\d+)/i.exec(head);
      const length = match ? Number(match[1]) : 0;
      if (buf.length < end + 4 + length) return;
      buf = buf.subarray(end + 4 + length);
      const [method, target] = head.split(" ");
      const key = method + " " + target;
      seen[key] = (seen[key] ?? 0) + 1;
      const path = target.split("?")[0];
      const ok = (body) => socket.write(
        "HTTP/1.1 200 OK" + CRLF + "content-type: text/plain" + CRLF +
          "content-length: " + Buffer.byteLength(body) + CRLF + CRLF + body,
      );
      if (path === "/log") {
        ok(JSON.stringify({ seen, conns }));
      } else if (path === "/ok") {
        ok("ok " + key);
      } else if (path === "/ok-then-reset") {
        // Answer, then reset the connection when the next request comes.
        ok("ok " + key);
        resetNext = true;
        return;
      } else if (path === "/reset-once" && seen[key] > 1) {
        ok("ok " + key + " after a reset");
      } else if (path === "/reset" || path === "/reset-once") {
        // Read the request, then reset: no response byte.
        socket.resetAndDestroy();
        return;
      } else if (path === "/reset-mid-head") {
        socket.write("HTTP/1.1 200 OK" + CRLF + "content-type: te");
        setTimeout(() => socket.resetAndDestroy(), 20);
        return;
      } else if (path === "/reset-mid-body") {
        // A body larger than the client's read-ahead, so it streams; reset
        // a third of the way in.
        socket.write(
          "HTTP/1.1 200 OK" + CRLF + "content-type: text/plain" + CRLF +
            "content-length: 300000" + CRLF + CRLF,
        );
        socket.write("x".repeat(100000));
        setTimeout(() => socket.resetAndDestroy(), 50);
        return;
      } else {
        ok("unknown " + key);
      }
    }
  });
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(server.address().port + "\n");
});
`;

/** A Node TCP server that resets connections (RST) on cue. */
export interface ResetServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  origin: string;
  /** Times each request (`METHOD target`) was read, and connections. */
  log(): Promise<{ seen: Record<string, number>; conns: number }>;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a Node TCP server that speaks just enough HTTP/1.1 and resets
 * connections with `socket.resetAndDestroy()` (a real RST, which a Deno
 * server cannot send): `/reset` (after reading the request),
 * `/reset-once` (the first time a target is seen), `/ok-then-reset`
 * (answers, then resets when the next request arrives on the connection),
 * `/reset-mid-head`, `/reset-mid-body`, `/ok`, and `/log`.
 */
export async function startNodeResetter(): Promise<ResetServer> {
  const { port, stop } = await spawnWithPort("node", "node", [
    "-e",
    NODE_RESET_SCRIPT,
  ]);
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    async log() {
      using http = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
      const res = await fetch(`${origin}/log`, { client: http });
      return await res.json();
    },
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Asks a server's `/conns` route, over a fresh connection of Deno's fetch. */
async function askConns(origin: string): Promise<number> {
  using http = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const res = await fetch(`${origin}/conns`, { client: http });
  return Number(await res.text());
}

/**
 * A server in a child process (`cmd args`) that prints its port and answers
 * `/conns` with how many connections it accepted. `connections()` leaves out
 * the connections its own `/conns` requests opened.
 */
async function startCounted(
  name: string,
  cmd: string,
  args: string[],
): Promise<InteropServer> {
  const { port, stop } = await spawnWithPort(cmd, cmd, args);
  const origin = `http://127.0.0.1:${port}`;
  // The /conns request opens a connection of its own; don't count it.
  let asked = 0;
  return {
    name,
    origin,
    async connections() {
      const n = await askConns(origin) - asked;
      asked++;
      return n - 1;
    },
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Node's `http` server, spawned with `node -e`. */
export function startNode(): Promise<InteropServer> {
  return startCounted("node", "node", ["-e", NODE_SCRIPT]);
}

/** Python's `http.server`, speaking `protocol` (`HTTP/1.0` or `HTTP/1.1`). */
export function startPython(
  protocol: "HTTP/1.0" | "HTTP/1.1",
): Promise<InteropServer> {
  return startCounted(`python ${protocol}`, "python3", [
    "-u",
    "-c",
    PYTHON_SCRIPT,
    protocol,
  ]);
}

/** A `Deno.serve` server in this process. */
export function startDeno(): InteropServer {
  const ports = new Set<number>();
  const big = pattern(20000);
  const encoder = new TextEncoder();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (req, info) => {
      const url = new URL(req.url);
      if (url.pathname !== "/conns") ports.add(info.remoteAddr.port);
      const body = new Uint8Array(await req.arrayBuffer());
      const headers = new Headers({ "x-server": "deno" });
      switch (url.pathname) {
        case "/text":
          headers.set("content-type", "text/plain; charset=utf-8");
          return new Response("hello from deno\n", { headers });
        case "/length":
          headers.set("content-type", "application/octet-stream");
          return new Response(
            pattern(Number(url.searchParams.get("n") ?? "1000")),
            { headers },
          );
        case "/chunked": {
          headers.set("content-type", "text/plain");
          let i = 0;
          const stream = new ReadableStream<Uint8Array>({
            async pull(controller) {
              await delay(1);
              if (i === 5) {
                controller.enqueue(encoder.encode("end\n"));
                controller.close();
                return;
              }
              controller.enqueue(
                encoder.encode(`chunk ${i++} ${pattern(100 * i)}\n`),
              );
            },
          });
          return new Response(stream, { headers });
        }
        case "/gzip": {
          headers.set("content-type", "text/plain");
          headers.set("content-encoding", "gzip");
          const gz = await new Response(
            new Blob([big]).stream().pipeThrough(
              new CompressionStream("gzip"),
            ),
          ).arrayBuffer();
          return new Response(gz, { headers });
        }
        case "/gzip-chunked": {
          headers.set("content-type", "text/plain");
          headers.set("content-encoding", "gzip");
          return new Response(
            new Blob([big]).stream().pipeThrough(
              new CompressionStream("gzip"),
            ),
            { headers },
          );
        }
        case "/echo":
          headers.set(
            "content-type",
            req.headers.get("content-type") ?? "application/octet-stream",
          );
          headers.set("x-method", req.method);
          return new Response(body, { headers });
        case "/id":
          headers.set("content-type", "text/plain");
          return new Response(
            `id=${url.searchParams.get("id")};${
              pattern(Number(url.searchParams.get("n") ?? "0"))
            }`,
            { headers },
          );
        case "/conns":
          headers.set("content-type", "text/plain");
          return new Response(String(ports.size), { headers });
        default:
          headers.set("content-type", "text/plain");
          return new Response("not found\n", { status: 404, headers });
      }
    },
  );
  const origin = `http://127.0.0.1:${server.addr.port}`;
  const stop = async () => {
    await server.shutdown();
  };
  return {
    name: "Deno.serve",
    origin,
    connections: () => Promise.resolve(ports.size),
    close: stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Where nginx is, or `null` when it is not installed. */
export function findNginx(): string | null {
  for (const path of ["/usr/sbin/nginx", "/usr/local/sbin/nginx"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // Not there.
    }
  }
  try {
    const out = new Deno.Command("which", {
      args: ["nginx"],
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
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * nginx with a generated config in a temporary directory: static files with
 * `gzip on`, `keepalive_timeout`, and `/echo` and `/chunked` proxied to
 * `upstream` (a {@linkcode startDeno} server in this process).
 */
export async function startNginx(
  nginx: string,
  upstream: InteropServer,
): Promise<InteropServer> {
  const files: Record<string, string> = {
    "www/text": "hello from nginx\n",
    "www/length": pattern(1000),
    "www/big.txt": pattern(20000),
    "www/large": pattern(200_000),
  };
  for (let i = 0; i < 32; i++) {
    files[`www/id${i}`] = `id=${i};${pattern(i * 97)}`;
  }
  // The tests run without --allow-write: a child process with its own
  // permissions makes the directory (and removes it).
  const dir = await writeTempTree(files, { prefix: "pooled_fetch_nginx_" });
  const root = `${dir}/www`;
  const tempPaths = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `${name}_temp_path ${dir}/${name};`).join("\n  ");
  let lastError: unknown;
  // The port is found free then released; another process may take it in
  // between, so try a few.
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
  ${tempPaths}
  default_type application/octet-stream;
  types { text/plain txt; }
  server_tokens off;
  keepalive_timeout 5s 5;
  keepalive_requests 1000;
  gzip on;
  gzip_min_length 20;
  gzip_types text/plain;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location = /text { default_type "text/plain"; }
    location = /length { default_type "application/octet-stream"; gzip off; }
    location = /large { default_type "application/octet-stream"; gzip off; }
    location = /gzip { default_type "text/plain"; try_files /big.txt =404; }
    location ~ ^/id { default_type "text/plain"; gzip off; }
    location = /conns { default_type "text/plain"; return 200 "$connection"; }
    location = /echo {
      proxy_pass ${upstream.origin};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
    location = /chunked {
      proxy_pass ${upstream.origin};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
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
    const stderr = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    const stderrText = (async () => {
      let text = "";
      while (true) {
        const { done, value } = await stderr.read();
        if (done) return text;
        text += value;
      }
    })();
    const stop = async () => {
      await stopChild(child);
      await stderrText;
    };
    // Ready when it accepts a connection, or failed when it exits.
    let ready = false;
    const exited = child.status.then(() => true);
    for (let i = 0; i < 100 && !ready; i++) {
      if (await deadline(exited, 50).catch(() => false)) break;
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        ready = true;
      } catch {
        // Not yet.
      }
    }
    if (ready) {
      const origin = `http://127.0.0.1:${port}`;
      let asked = 0;
      const close = async () => {
        await stop();
        await removeTempTree(dir);
      };
      return {
        name: "nginx",
        origin,
        // `$connection` is the serial number of the connection that asks,
        // counted from 1 by the (only) worker over client and upstream
        // connections alike. Before it came the readiness probe, the earlier
        // asks, and the connections to the upstream.
        async connections() {
          const serial = await askConns(origin);
          const toUpstream = await upstream.connections();
          return serial - 1 - 1 - asked++ - toUpstream;
        },
        close,
        [Symbol.asyncDispose]: close,
      };
    }
    await stop();
    lastError = new Error(`nginx did not start: ${await stderrText}`);
  }
  await removeTempTree(dir);
  throw lastError;
}
