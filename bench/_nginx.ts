// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * nginx as a benchmark server: this script writes a config of its own and the
 * files to serve into a new temporary directory, runs nginx on it (one
 * process, `daemon off`, `master_process off`, no root needed) and speaks the
 * same stdin/stdout control protocol as `bench/_server.ts`, so
 * `bench/_server_process.ts` drives either.
 *
 * Routes (the bodies and headers of `bench/_payloads.ts`), all static files,
 * so nginx sends its stock fields (`Server`, `Date`, `Content-Type`,
 * `Content-Length`, `Last-Modified`, `Connection`, `ETag`, `Accept-Ranges`):
 * - `GET /small`: 13 bytes, `text/plain`.
 * - `GET /64k`: 65,536 bytes, `application/octet-stream`.
 * - `GET /api`: 1 KiB of JSON and seven more fields set with `add_header`,
 *   `X-Request-Id` being nginx's `$request_id`.
 * - Any of these with a `close` query parameter (`/small?close`) is answered
 *   with `Connection: close` and its connection closed, as by our server.
 * - `GET /__stats`: nginx's `stub_status`, which this script reads to count
 *   the connections nginx accepted (its own queries left out). TLS
 *   connections that resumed a session are counted from a log that has a
 *   line for each of them and nothing else.
 *
 * Keep-alive never ends a connection mid-run (`keepalive_requests` 10^8,
 * which nginx applies to HTTP/2 too, `keepalive_timeout` 10 min). With
 * `--tls`, two more listeners speak TLS with `tests/fixtures/server.pem`:
 * one HTTP/1.1 only, and one with `http2`, where ALPN offers `h2` and
 * `http/1.1` and the client picks. The protocol of every connection to the
 * latter is read from a log with one line per connection (at its first
 * request): `$server_protocol`, `HTTP/2.0` or `HTTP/1.1`.
 *
 * Usage: `deno run --allow-net=127.0.0.1 --allow-read=<tmp>
 * --allow-write=<tmp> --allow-run=<nginx> bench/_nginx.ts <nginx> <tmp>
 * [--tls]`. It prints `{"port":n,"tlsPort":m,"h2Port":k}`, then answers
 * `stats` and `reset` on stdin like `bench/_server.ts`. When its stdin
 * closes (the driver exited, however it exited), or on SIGINT or SIGTERM, it
 * stops nginx and removes the directory.
 *
 * @module
 */

import {
  API_BYTES,
  API_HEADERS,
  apiBody,
  BIG_BYTES,
  SMALL_BODY,
} from "./_payloads.ts";
import {
  answerCommands,
  askOverHttp,
  freePort,
  printLine,
  runInTempDir,
  stopProcess,
  waitForPorts,
} from "./_control.ts";

/** Ports and paths of one nginx config. */
export interface NginxConfigOptions {
  /** The directory holding `www/`, logs, pid and temp files. */
  dir: string;
  /** Plain HTTP port on 127.0.0.1. */
  port: number;
  /**
   * TLS ports on 127.0.0.1, with the certificate and key to use: `port`
   * speaks HTTP/1.1 only, `h2Port` offers `h2` too.
   */
  tls?: { port: number; h2Port: number; cert: string; key: string };
}

/**
 * The nginx config for the benchmark, as text.
 *
 * @param options Ports and paths.
 * @returns The config file's text.
 */
export function nginxConfig(options: NginxConfigOptions): string {
  const { dir, port, tls } = options;
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
    .map((name) => `  ${name}_temp_path ${dir}/${name};`).join("\n");
  const addHeaders = API_HEADERS.map(([name, value]) =>
    `      add_header ${name} ${
      name === "X-Request-Id" ? "$request_id" : JSON.stringify(value)
    };`
  ).join("\n");
  return `# Written by bench/_nginx.ts for one benchmark run.
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
${tls ? "" : "  access_log off;\n"}${temp}
  types { text/plain txt; application/json json; }
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 600s;
  keepalive_requests 100000000;
  open_file_cache max=64 inactive=600s;
  open_file_cache_valid 600s;
${
    tls
      ? `  ssl_certificate ${tls.cert};
  ssl_certificate_key ${tls.key};
  # The only access log: one two-byte line per TLS connection that resumed
  # a session (at its first request), for the driver's count.
  map "$ssl_session_reused:$connection_requests" $resumed_first {
    "r:1" 1;
    default 0;
  }
  log_format resumed "r";
  access_log ${dir}/resumed.log resumed if=$resumed_first;
  # One line per connection to the h2 port (at its first request): the
  # protocol it speaks, "HTTP/2.0" or "HTTP/1.1".
  map "$server_port:$connection_requests" $h2_port_first {
    "${tls.h2Port}:1" 1;
    default 0;
  }
  log_format protocol "$server_protocol";
  access_log ${dir}/protocols.log protocol if=$h2_port_first;
`
      : ""
  }  server {
    listen 127.0.0.1:${port};
${
    tls
      ? `    listen 127.0.0.1:${tls.port} ssl;
    listen 127.0.0.1:${tls.h2Port} ssl http2;
`
      : ""
  }    root ${dir}/www;
    # A 'close' query parameter: the same file, then the connection closes.
    if ($args ~ "(^|&)close(=|&|$)") { rewrite ^(.*)$ /_close$1 last; }
    location = /small { default_type text/plain; }
    location = /64k { }
    location = /api {
      default_type application/json;
${addHeaders}
    }
    location ^~ /_close/ {
      internal;
      keepalive_timeout 0;
      default_type text/plain;
      alias ${dir}/www/;
    }
    location = /__stats { stub_status; }
  }
}
`;
}

/** nginx's `accepts` counter, asked over a connection of its own. */
async function acceptsCount(port: number): Promise<number> {
  const text = await askOverHttp(
    port,
    "GET /__stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
  );
  // "server accepts handled requests\n 12 12 40"
  const m = /accepts handled requests\s+(\d+)/.exec(text);
  if (!m) throw new Error(`Unexpected stub_status answer: ${text}`);
  return Number(m[1]);
}

/** nginx running in its directory. */
interface Running {
  child: Deno.ChildProcess;
  port: number;
  tlsPort: number | undefined;
  h2Port: number | undefined;
}

async function startNginx(
  nginx: string,
  dir: string,
  tls: boolean,
): Promise<Running> {
  const fixtures = new URL("../tests/fixtures/", import.meta.url).pathname;
  let lastError = "";
  // A port found free may be taken before nginx binds it: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = freePort();
    const tlsPort = tls ? freePort() : undefined;
    const h2Port = tls ? freePort() : undefined;
    await Deno.writeTextFile(
      `${dir}/nginx.conf`,
      nginxConfig({
        dir,
        port,
        ...(tlsPort && h2Port
          ? {
            tls: {
              port: tlsPort,
              h2Port,
              cert: `${fixtures}server.pem`,
              key: `${fixtures}server-key.pem`,
            },
          }
          : {}),
      }),
    );
    const child = new Deno.Command(nginx, {
      args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const ports = [port, tlsPort, h2Port].filter((p) => p !== undefined);
    if (await waitForPorts(child, ports)) {
      return { child, port, tlsPort, h2Port };
    }
    await stopNginx(child);
    try {
      lastError = await Deno.readTextFile(`${dir}/error.log`);
    } catch {
      lastError = "(no error log)";
    }
  }
  throw new Error(`nginx did not start: ${lastError.trim()}`);
}

function stopNginx(child: Deno.ChildProcess): Promise<void> {
  return stopProcess(child, 3000);
}

async function main(): Promise<void> {
  const [nginx, tmp] = Deno.args;
  if (!nginx || !tmp) {
    throw new TypeError("Usage: _nginx.ts <nginx> <tmp dir> [--tls]");
  }
  const tls = Deno.args.includes("--tls");
  let running: Running | undefined;
  await runInTempDir(
    tmp,
    "pooled_fetch_bench_nginx_",
    async (dir) => {
      await Deno.mkdir(`${dir}/www`);
      await Deno.writeTextFile(`${dir}/www/small`, SMALL_BODY);
      await Deno.writeFile(
        `${dir}/www/64k`,
        new Uint8Array(BIG_BYTES).fill(0x61),
      );
      const api = apiBody();
      if (api.length !== API_BYTES) throw new Error("Bad /api body");
      await Deno.writeTextFile(`${dir}/www/api`, api);
      running = await startNginx(nginx, dir, tls);
      const { port, tlsPort, h2Port } = running;
      printLine({ port, tlsPort, h2Port });
      await answerCommands(await counters(dir, port, tls));
    },
    async () => {
      if (running) await stopNginx(running.child);
    },
  );
}

/**
 * The answer to `stats` and `reset`: connections accepted, TLS sessions
 * resumed and protocols spoken since the last reset, read from nginx's
 * counter and logs in `dir`.
 */
async function counters(
  dir: string,
  port: number,
  tls: boolean,
): Promise<(command: "stats" | "reset") => Promise<unknown>> {
  // Connections of the rows since the last reset: each answer of nginx's
  // accept counter, less the connection that asked and the ones before.
  let last = await acceptsCount(port);
  let counted = 0;
  const count = async () => {
    const accepts = await acceptsCount(port);
    counted += accepts - last - 1;
    last = accepts;
    return counted;
  };
  // Lines of "r\n", as they are at the last reset.
  let resumedBase = 0;
  const resumedLines = async () => {
    try {
      return (await Deno.stat(`${dir}/resumed.log`)).size / 2;
    } catch {
      return 0;
    }
  };
  // Lines of the protocol log, as they are at the last reset.
  let protocolsBase = 0;
  const protocolLines = async () => {
    try {
      const text = await Deno.readTextFile(`${dir}/protocols.log`);
      return text.split("\n").slice(0, -1);
    } catch {
      return [];
    }
  };
  return async (command) => {
    const connections = await count();
    const lines = await resumedLines();
    const tlsResumed = tls ? lines - resumedBase : null;
    const spoken = await protocolLines();
    const protocols: Record<string, number> = { "h2": 0, "http/1.1": 0 };
    for (const line of spoken.slice(protocolsBase)) {
      const name = line === "HTTP/2.0"
        ? "h2"
        : line === "HTTP/1.1"
        ? "http/1.1"
        : line;
      protocols[name] = (protocols[name] ?? 0) + 1;
    }
    if (command === "reset") {
      counted = 0;
      resumedBase = lines;
      protocolsBase = spoken.length;
    }
    return { connections, tlsResumed, ...(tls ? { protocols } : {}) };
  };
}

if (import.meta.main) await main();
