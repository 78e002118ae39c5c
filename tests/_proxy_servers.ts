// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Proxies for the transport tests: real ones nobody here wrote (tinyproxy,
 * squid, microsocks, dante's danted), each started with a minimal config in
 * a temporary directory on a free loopback port and stopped at the end, and
 * a scripted SOCKS5 server that records what it was asked and answers with
 * the reply code a test chooses.
 *
 * The tests run without `--allow-write`, so config files are written (and
 * removed) by a child `deno eval` with its own permissions.
 *
 * @module
 */

import { PEM } from "./_tls_servers.ts";
import { removeTempTree, writeTempTree } from "./_temp_tree.ts";
import { stopChild } from "./_child.ts";

/** A proxy process under test. */
export interface ProxyProcess extends AsyncDisposable {
  /** What it is, for messages. */
  name: string;
  /** The port it listens on (plain HTTP or SOCKS5). */
  port: number;
  /** Stops the process, waits for it, removes its files. */
  close(): Promise<void>;
  /** What it wrote to stdout and stderr so far (after close: all of it). */
  output(): string;
}

/** Where `name` is installed, or null. */
export function findBinary(name: string): string | null {
  for (
    const dir of ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"]
  ) {
    try {
      if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
    } catch {
      // Not there (or not readable: --allow-read covers only the repo).
    }
  }
  try {
    const out = new Deno.Command("which", {
      args: [name],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const path = new TextDecoder().decode(out.stdout).trim();
    return out.success && path !== "" ? path : null;
  } catch {
    return null;
  }
}

const reported = new Set<string>();

/**
 * The binary, or null after printing why the tests that need it are
 * skipped, once per name.
 */
export function requireBinary(name: string, what: string): string | null {
  const path = findBinary(name);
  if (path === null && !reported.has(name)) {
    reported.add(name);
    console.warn(
      `%cSKIPPED: ${what}: '${name}' is not installed (apt-get install ${
        name === "danted" ? "dante-server" : name
      })`,
      "color: yellow",
    );
  }
  return path;
}

/** A free loopback port: bind port 0, read it, release it. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Collects a child's output as text. */
function collect(stream: ReadableStream<Uint8Array>): {
  text: () => string;
  done: Promise<void>;
} {
  let text = "";
  const done = (async () => {
    const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
    // Bounded by the child: its pipe ends when it exits.
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      text += value;
    }
  })();
  return { text: () => text, done };
}

/**
 * Starts `binary` with `args(dir, port)` once its files are written, and
 * waits until `port` accepts a connection. A port found free may be taken
 * before the proxy binds it, so a few ports are tried.
 */
async function startProcess(
  name: string,
  binary: string,
  files: (port: number) => Record<string, string>,
  args: (dir: string, port: number) => string[],
): Promise<ProxyProcess> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    const dir = await writeTempTree(files(port), {
      prefix: "pooled_fetch_proxy_",
      shared: true,
    });
    const child = new Deno.Command(binary, {
      args: args(dir, port).map((a) => a.replaceAll("$DIR", dir)),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stdout = collect(child.stdout);
    const stderr = collect(child.stderr);
    const output = () => stdout.text() + stderr.text();
    let stopped: Promise<void> | undefined;
    const stop = () => {
      stopped ??= (async () => {
        await stopChild(child, 3000);
        await Promise.all([stdout.done, stderr.done]);
        await removeTempTree(dir);
      })();
      return stopped;
    };
    let exited = false;
    child.status.then(() => exited = true);
    let ready = false;
    for (let i = 0; i < 100 && !ready && !exited; i++) {
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conn.close();
        ready = true;
      } catch {
        await sleep(50);
      }
    }
    if (ready) {
      return {
        name,
        port,
        close: stop,
        output,
        [Symbol.asyncDispose]: stop,
      };
    }
    await stop();
    lastError = new Error(`${name} did not start: ${output()}`);
  }
  throw lastError;
}

/** Credentials a proxy requires. */
export interface ProxyUser {
  /** User name. */
  username: string;
  /** Password. */
  password: string;
}

/**
 * tinyproxy on 127.0.0.1, in the foreground, allowing CONNECT to any port,
 * with Basic authentication when `user` is given (tinyproxy's config
 * syntax takes only simple passwords).
 */
export function startTinyproxy(
  binary: string,
  user?: ProxyUser,
): Promise<ProxyProcess> {
  return startProcess(
    "tinyproxy",
    binary,
    (port) => ({
      "tinyproxy.conf": [
        "User nobody",
        "Group nogroup",
        `Port ${port}`,
        "Listen 127.0.0.1",
        "Timeout 30",
        "LogLevel Connect",
        "MaxClients 32",
        "Allow 127.0.0.1",
        "DisableViaHeader Yes",
        ...(user === undefined
          ? []
          : [`BasicAuth ${user.username} ${user.password}`]),
        "",
      ].join("\n"),
    }),
    () => ["-d", "-c", "$DIR/tinyproxy.conf"],
  );
}

/** A squid with its three ports. */
export interface Squid extends ProxyProcess {
  /** Plain HTTP port that requires Basic authentication. */
  authPort: number;
  /** HTTPS port (TLS to the proxy, test CA's server certificate), open. */
  httpsPort: number;
}

/**
 * squid on 127.0.0.1: `port` open, `authPort` requiring Basic credentials
 * checked by squid's own `basic_ncsa_auth` helper against an htpasswd file
 * (hash made with `openssl passwd -apr1`), `httpsPort` speaking TLS with
 * the test server certificate. No cache; logs in the temporary directory.
 */
export async function startSquid(
  binary: string,
  user: ProxyUser,
): Promise<Squid> {
  const hash = await new Deno.Command("openssl", {
    args: ["passwd", "-apr1", "-stdin"],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const writer = hash.stdin.getWriter();
  await writer.write(new TextEncoder().encode(user.password + "\n"));
  await writer.close();
  const hashed = new TextDecoder().decode((await hash.output()).stdout).trim();
  const authPort = freePort();
  const httpsPort = freePort();
  const helper =
    ["/usr/lib/squid/basic_ncsa_auth", "/usr/lib64/squid/basic_ncsa_auth"]
      .find((p) => {
        try {
          return Deno.statSync(p).isFile;
        } catch {
          return false;
        }
      }) ?? "/usr/lib/squid/basic_ncsa_auth";
  const proc = await startProcess(
    "squid",
    binary,
    (port) => ({
      "passwd": `${user.username}:${hashed}\n`,
      "server.pem": PEM.serverCert,
      "server-key.pem": PEM.serverKey,
      "squid.conf": [
        `http_port 127.0.0.1:${port} name=open`,
        `http_port 127.0.0.1:${authPort} name=auth`,
        `https_port 127.0.0.1:${httpsPort} name=tls tls-cert=$DIR/server.pem tls-key=$DIR/server-key.pem`,
        "pid_filename $DIR/squid.pid",
        "cache_log $DIR/cache.log",
        "access_log stdio:$DIR/access.log",
        "cache deny all",
        "cache_mem 8 MB",
        "coredump_dir $DIR",
        "cache_effective_user proxy",
        "shutdown_lifetime 0 seconds",
        "pinger_enable off",
        "via off",
        `auth_param basic program ${helper} $DIR/passwd`,
        "auth_param basic children 1 startup=1 idle=1",
        "auth_param basic realm pooled-fetch",
        "acl authed proxy_auth REQUIRED",
        "acl auth_port myportname auth",
        "acl loopback src 127.0.0.1",
        "http_access allow loopback auth_port authed",
        "http_access deny auth_port",
        "http_access allow loopback",
        "http_access deny all",
        "",
      ].join("\n"),
    }),
    // A service name of its own: squids share their /dev/shm segments by
    // name, so two at once (or one left by a killed run) would collide.
    (dir) => [
      "-N",
      "-n",
      `pf${dir.split("/").pop()!.replace(/[^A-Za-z0-9]/g, "").slice(-20)}`,
      "-f",
      `${dir}/squid.conf`,
    ],
  );
  return { ...proc, authPort, httpsPort };
}

/** microsocks on 127.0.0.1, with user/password when `user` is given. */
export function startMicrosocks(
  binary: string,
  user?: ProxyUser,
): Promise<ProxyProcess> {
  return startProcess(
    "microsocks",
    binary,
    () => ({}),
    (_, port) => [
      "-i",
      "127.0.0.1",
      "-p",
      String(port),
      ...(user === undefined ? [] : ["-u", user.username, "-P", user.password]),
    ],
  );
}

/**
 * danted on 127.0.0.1 without authentication (its user/password method
 * checks the system's password database, which a test must not touch),
 * refusing connections to `blockedPort` by rule.
 */
export function startDanted(
  binary: string,
  blockedPort: number,
): Promise<ProxyProcess> {
  return startProcess(
    "danted",
    binary,
    (port) => ({
      "danted.conf": [
        "logoutput: stderr",
        `internal: 127.0.0.1 port = ${port}`,
        "external: 127.0.0.1",
        "socksmethod: none",
        "clientmethod: none",
        "user.privileged: root",
        "user.unprivileged: nobody",
        "client pass { from: 127.0.0.0/8 to: 0.0.0.0/0 }",
        `socks block { from: 0.0.0.0/0 to: 127.0.0.1/32 port = ${blockedPort} command: connect }`,
        "socks pass { from: 127.0.0.0/8 to: 0.0.0.0/0 command: connect }",
        "",
      ].join("\n"),
    }),
    (dir) => ["-f", `${dir}/danted.conf`, "-p", `${dir}/danted.pid`, "-N", "1"],
  );
}

// ---- a scripted SOCKS5 server ------------------------------------------------

/** What the scripted SOCKS5 server was asked, per connection. */
export interface SocksRequest {
  /** Methods offered in the greeting. */
  methods: number[];
  /** Credentials sent (RFC 1929), if any. */
  auth?: { username: string; password: string };
  /** Address type of the request (1 IPv4, 3 domain, 4 IPv6). */
  atyp?: number;
  /** The address as text (dotted, IPv6 hex groups, or the name). */
  host?: string;
  /** The port. */
  port?: number;
}

/** Options of {@linkcode scriptedSocks5}. */
export interface ScriptedSocksOptions {
  /** Require this user/password (method 0x02); else no authentication. */
  user?: ProxyUser;
  /** Reply code to send (0 connects to the destination and relays). */
  reply?: number;
  /** Method to choose regardless of the offer (e.g. 0xff). */
  forceMethod?: number;
  /** Bytes to send right after a successful reply, before any relaying. */
  extra?: Uint8Array;
}

/** A scripted SOCKS5 server. */
export interface ScriptedSocks extends AsyncDisposable {
  /** Port on 127.0.0.1. */
  port: number;
  /** One entry per connection. */
  requests: SocksRequest[];
  /** Stops listening, closes every connection, waits for handlers. */
  close(): Promise<void>;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) throw new Error("EOF");
    got += read;
  }
  return out;
}

async function writeAllTo(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/** Copies `from` into `to` until EOF or an error. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) break;
      await writeAllTo(to, buf.subarray(0, n));
    }
  } catch {
    // Closed.
  }
}

/**
 * A SOCKS5 server on 127.0.0.1 written for the tests: it records each
 * greeting, credentials and request, then answers `reply`; on success it
 * connects to the destination (a name resolved by `Deno.connect`) and
 * relays bytes both ways.
 */
export function scriptedSocks5(
  options: ScriptedSocksOptions = {},
): ScriptedSocks {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const requests: SocksRequest[] = [];
  const conns = new Set<Deno.Conn>();
  const tasks: Promise<void>[] = [];
  const decoder = new TextDecoder();
  const handle = async (conn: Deno.Conn) => {
    const request: SocksRequest = { methods: [] };
    requests.push(request);
    const [, count] = await readExactly(conn, 2);
    request.methods = [...await readExactly(conn, count)];
    const method = options.forceMethod ??
      (options.user === undefined ? 0x00 : 0x02);
    await writeAllTo(conn, Uint8Array.of(0x05, method));
    if (method === 0xff) return;
    if (method === 0x02) {
      const [, ulen] = await readExactly(conn, 2);
      const username = decoder.decode(await readExactly(conn, ulen));
      const [plen] = await readExactly(conn, 1);
      const password = decoder.decode(await readExactly(conn, plen));
      request.auth = { username, password };
      const ok = username === options.user?.username &&
        password === options.user?.password;
      await writeAllTo(conn, Uint8Array.of(0x01, ok ? 0x00 : 0x01));
      if (!ok) return;
    }
    const [, , , atyp] = await readExactly(conn, 4);
    request.atyp = atyp;
    if (atyp === 0x01) {
      request.host = [...await readExactly(conn, 4)].join(".");
    } else if (atyp === 0x04) {
      const b = await readExactly(conn, 16);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) {
        groups.push(((b[i] << 8) | b[i + 1]).toString(16));
      }
      request.host = groups.join(":");
    } else {
      const [len] = await readExactly(conn, 1);
      request.host = decoder.decode(await readExactly(conn, len));
    }
    const [hi, lo] = await readExactly(conn, 2);
    request.port = (hi << 8) | lo;
    const reply = options.reply ?? 0x00;
    let target: Deno.Conn | undefined;
    if (reply === 0x00) {
      try {
        target = await Deno.connect({
          hostname: request.host,
          port: request.port,
        });
      } catch {
        await writeAllTo(
          conn,
          Uint8Array.of(0x05, 0x05, 0, 1, 0, 0, 0, 0, 0, 0),
        );
        return;
      }
      conns.add(target);
    }
    // Bound address: a domain, to exercise the variable-length reply.
    const bound = new TextEncoder().encode("bound.test");
    await writeAllTo(
      conn,
      Uint8Array.of(0x05, reply, 0, 0x03, bound.length, ...bound, 0x04, 0x38),
    );
    if (target === undefined) return;
    if (options.extra !== undefined) await writeAllTo(conn, options.extra);
    const copies = [copy(conn, target), copy(target, conn)];
    await Promise.race(copies);
    for (const c of [conn, target]) {
      try {
        c.close();
      } catch {
        // Closed.
      }
    }
    await Promise.all(copies);
    conns.delete(target);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      tasks.push((async () => {
        try {
          await handle(conn);
        } catch {
          // The client went away; the test asserts on what it saw.
        } finally {
          try {
            conn.close();
          } catch {
            // Closed.
          }
          conns.delete(conn);
        }
      })());
    }
  })();
  const server: ScriptedSocks = {
    port: listener.addr.port,
    requests,
    async close() {
      try {
        listener.close();
      } catch {
        // Closed.
      }
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed.
        }
      }
      await accepting.catch(() => {});
      await Promise.allSettled(tasks);
    },
    [Symbol.asyncDispose]() {
      return server.close();
    },
  };
  return server;
}
