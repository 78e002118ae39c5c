// Copyright 2026 the pooled-fetch authors. MIT license.
// dial() and its helpers against scripted servers: direct TCP and TLS (ALPN,
// mTLS, certificate errors, timeouts), the `connect` dialer, HTTP proxies
// (absolute-form, CONNECT and every way a CONNECT fails), HTTPS proxies (TLS
// inside TLS through the loopback relay), SOCKS5 (address types, auth,
// every reply code), the relay itself, Unix sockets, and the permission
// limits, in child processes. Real proxies are in proxy_interop_test.ts.

import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { dial, type DialOptions, type DialTarget } from "../_dial.ts";
import { FetchError } from "../errors.ts";
import { ProxyRefusal, proxyRouter, type Route } from "../_proxy_env.ts";
import {
  acceptOwn,
  MAX_STRANGERS,
  openRelay,
  PrefixedConn,
} from "../_relay.ts";
import { socks5Connect } from "../_socks5.ts";
import { openTunnel } from "../_tunnel.ts";
import {
  type RawRequest,
  type RawServer,
  rawServer,
  response,
  type ServerConn,
} from "./_servers.ts";
import {
  HAS_IPV6_LOOPBACK,
  mtlsServer,
  PEM,
  type TlsRawServer,
  tlsRawServer,
} from "./_tls_servers.ts";
import { scriptedSocks5 } from "./_proxy_servers.ts";
import { runPromptable } from "./_prompt_child.ts";

const SECRET = "s3cret-Pw";
const TRUST = { caCerts: [PEM.ca] };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---- helpers -----------------------------------------------------------------

function target(url: string): DialTarget {
  const u = new URL(url);
  const https = u.protocol === "https:";
  return {
    protocol: u.protocol,
    hostname: u.hostname.replace(/^\[|\]$/g, ""),
    port: u.port === "" ? (https ? 443 : 80) : Number(u.port),
  };
}

function routeVia(proxy: unknown, url = "http://x/"): Route {
  return proxyRouter(proxy, { vars: {}, cgi: false }).routeFor(new URL(url));
}

const DIRECT = routeVia(false);

/** What a server answered to one request. */
interface Answer {
  status: number;
  body: string;
}

/**
 * Writes a GET for `path` (`Connection: keep-alive`) and reads one response
 * with a Content-Length body.
 */
async function get(
  conn: Deno.Conn,
  path: string,
  host: string,
  headers: string[] = [],
): Promise<Answer> {
  await conn.write(
    encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${
        headers.map((h) => `${h}\r\n`).join("")
      }\r\n`,
    ),
  );
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  // Bounded by the connection: it ends or the body completes.
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const length = /content-length:\s*(\d+)/i.exec(text.slice(0, end));
      const need = end + 4 + Number(length?.[1] ?? 0);
      if (text.length >= need) {
        return {
          status: Number(text.slice(9, 12)),
          body: text.slice(end + 4, need),
        };
      }
    }
    const n = await conn.read(buf);
    if (n === null) throw new Error(`EOF after ${JSON.stringify(text)}`);
    text += decoder.decode(buf.subarray(0, n));
  }
}

/** An http: and an https: Deno.serve on 127.0.0.1 answering `<kind> <path>`. */
function origins(): {
  http: Deno.HttpServer<Deno.NetAddr>;
  https: Deno.HttpServer<Deno.NetAddr>;
  httpUrl: string;
  httpsUrl: string;
  close(): Promise<void>;
} {
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) => new Response(`plain ${new URL(req.url).pathname}`),
  );
  const https = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      cert: PEM.serverCert,
      key: PEM.serverKey,
    },
    (req) => new Response(`tls ${new URL(req.url).pathname}`),
  );
  return {
    http,
    https,
    httpUrl: `http://127.0.0.1:${http.addr.port}`,
    httpsUrl: `https://127.0.0.1:${https.addr.port}`,
    async close() {
      await http.shutdown();
      await https.shutdown();
    },
  };
}

/** Copies bytes from `from` to `to` until either ends. */
async function copy(from: Deno.Conn, to: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    while (true) {
      const n = await from.read(buf);
      if (n === null) return;
      let written = 0;
      while (written < n) written += await to.write(buf.subarray(written, n));
    }
  } catch {
    // Closed.
  }
}

/** What a scripted HTTP proxy saw. */
interface ProxyLog {
  requests: RawRequest[];
}

/**
 * A scripted HTTP proxy (over TLS with `tls: true`): CONNECT gets `answer`
 * if given, else a real tunnel to the target; any other request is answered
 * by the proxy itself with `proxied <target>`.
 */
function scriptedProxy(
  options: {
    tls?: boolean;
    answer?: (req: RawRequest, conn: ServerConn) => Promise<boolean> | boolean;
  } = {},
): (RawServer | TlsRawServer) & ProxyLog {
  const requests: RawRequest[] = [];
  const targets = new Set<Deno.Conn>();
  const handler = async (conn: ServerConn, socket: Deno.Conn) => {
    while (true) {
      const req = await conn.readRequest();
      if (req === null) return;
      requests.push(req);
      if (req.method !== "CONNECT") {
        await conn.write(response(`proxied ${req.target}`));
        continue;
      }
      if (options.answer !== undefined) {
        if (await options.answer(req, conn)) continue;
        return;
      }
      const [hostname, port] = [
        req.target.slice(0, req.target.lastIndexOf(":")).replace(
          /^\[|\]$/g,
          "",
        ),
        Number(req.target.slice(req.target.lastIndexOf(":") + 1)),
      ];
      const upstream = await Deno.connect({ hostname, port });
      targets.add(upstream);
      await conn.write("HTTP/1.1 200 Connection established\r\n\r\n");
      const copies = [copy(socket, upstream), copy(upstream, socket)];
      await Promise.race(copies);
      upstream.close();
      conn.close();
      await Promise.all(copies);
      targets.delete(upstream);
      return;
    }
  };
  const server = options.tls
    ? tlsRawServer(handler, { hostname: "127.0.0.1" })
    : rawServer(handler);
  const close = server.close;
  return Object.assign(server, {
    requests,
    async close() {
      for (const t of targets) {
        try {
          t.close();
        } catch {
          // Closed.
        }
      }
      await close();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  });
}

function options(route: Route, extra: Partial<DialOptions> = {}): DialOptions {
  return {
    route,
    signal: AbortSignal.timeout(5000),
    tls: TRUST,
    ...extra,
  };
}

/** Every message in `error` and its causes, joined. */
function messages(error: unknown): string {
  const parts: string[] = [];
  for (let e = error, i = 0; e instanceof Error && i < 10; i++) {
    parts.push(e.message);
    e = e.cause;
  }
  return parts.join(" <- ");
}

/** Asserts a connect-stage FetchError with `code`, and returns it. */
async function dialFails(
  url: string,
  dialOptions: DialOptions,
  code: string,
): Promise<FetchError> {
  const error = await assertRejects(
    () => dial(target(url), dialOptions),
    FetchError,
  );
  assertEquals(error.code, code, error.message);
  assertEquals(error.stage, "connect");
  assertEquals(error.name, "TypeError");
  assert(
    error.message.startsWith(`Fetch to ${originOfUrl(url)} failed: `),
    error.message,
  );
  assertFalse(messages(error).includes(SECRET), messages(error));
  return error;
}

function originOfUrl(url: string): string {
  const t = target(url);
  return `${t.protocol}//${
    t.hostname.includes(":") ? `[${t.hostname}]` : t.hostname
  }:${t.port}`;
}

// ---- direct --------------------------------------------------------------------

Deno.test("dial() opens TCP to an http: origin", async () => {
  const o = origins();
  try {
    const dialed = await dial(target(o.httpUrl), options(DIRECT));
    assertEquals(dialed.alpnProtocol, null);
    assertEquals(dialed.forwardProxy, undefined);
    assertEquals({ ...dialed.conn.remoteAddr }, {
      transport: "tcp",
      hostname: "127.0.0.1",
      port: o.http.addr.port,
    });
    assertEquals(await get(dialed.conn, "/a", "x"), {
      status: 200,
      body: "plain /a",
    });
    assertEquals(await get(dialed.conn, "/b", "x"), {
      status: 200,
      body: "plain /b",
    });
    dialed.conn.close();
    await dialed.closed;
  } finally {
    await o.close();
  }
});

Deno.test("dial() runs TLS for an https: origin with the caller's ALPN list", async () => {
  const o = origins();
  try {
    const h1 = await dial(target(o.httpsUrl), options(DIRECT));
    assertEquals(h1.alpnProtocol, "http/1.1");
    assertEquals(await get(h1.conn, "/a", "127.0.0.1"), {
      status: 200,
      body: "tls /a",
    });
    h1.conn.close();
    const h2 = await dial(
      target(o.httpsUrl),
      options(DIRECT, { alpnProtocols: ["h2", "http/1.1"] }),
    );
    assertEquals(h2.alpnProtocol, "h2");
    h2.conn.close();
    await Promise.all([h1.closed, h2.closed]);
  } finally {
    await o.close();
  }
});

Deno.test("dial() presents a client certificate on a direct connection (mTLS)", async () => {
  await using server = await mtlsServer();
  const dialed = await dial(
    target(server.origin),
    options(DIRECT, {
      tls: { caCerts: [PEM.ca], cert: PEM.clientCert, key: PEM.clientKey },
    }),
  );
  assertEquals(await get(dialed.conn, "/", "127.0.0.1"), {
    status: 200,
    body: "mtls pooled-fetch test client",
  });
  dialed.conn.close();
  assertEquals(server.peers, [{
    authorized: true,
    cn: "pooled-fetch test client",
  }]);
});

Deno.test("dial() reports an untrusted certificate as TLS_FAILED with the 'tls.caCerts' hint", async () => {
  await using server = tlsRawServer(async () => {}, {
    cert: PEM.untrustedCert,
    key: PEM.untrustedKey,
  });
  const error = await dialFails(server.origin, options(DIRECT), "TLS_FAILED");
  assertStringIncludes(
    error.message,
    `Fetch to ${server.origin} failed: could not connect (TLS certificate is not trusted (`,
  );
  assertStringIncludes(error.message, "pass the issuing CA in 'tls.caCerts'");
  assertInstanceOf(error.cause, Deno.errors.InvalidData);
});

Deno.test("dial() reports a refused connection as CONNECT_FAILED", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await dialFails(
    `http://127.0.0.1:${port}/`,
    options(DIRECT),
    "CONNECT_FAILED",
  );
  assertEquals(
    error.message,
    `Fetch to http://127.0.0.1:${port} failed: could not connect (connection refused)`,
  );
});

Deno.test("dial() turns a TimeoutError abort into CONNECT_TIMEOUT, and passes other reasons unchanged", async () => {
  // Accepts, never speaks TLS: the handshake waits forever.
  await using silent = rawServer(async (conn) => {
    await conn.waitForClose(10_000);
  });
  const url = `https://127.0.0.1:${silent.port}/`;
  const timeout = new DOMException(
    "Connecting timed out after connectTimeout (50 ms)",
    "TimeoutError",
  );
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeout), 50);
  const error = await dialFails(
    url,
    options(DIRECT, { signal: controller.signal }),
    "CONNECT_TIMEOUT",
  );
  clearTimeout(timer);
  assertEquals(
    error.message,
    `Fetch to https://127.0.0.1:${silent.port} failed: could not connect: timed out during the TLS handshake (Connecting timed out after connectTimeout (50 ms))`,
  );
  assertStrictEquals(error.cause, timeout);

  const reason = new DOMException("No queued request needs it", "AbortError");
  const other = new AbortController();
  const pending = dial(target(url), options(DIRECT, { signal: other.signal }));
  setTimeout(() => other.abort(reason), 20);
  assertStrictEquals(await pending.catch((e) => e), reason);
  // Deno closes a TLS connection only once its handshake is over, so the
  // silent server keeps its socket until it closes it itself (at the end).
});

// ---- the connect dialer ------------------------------------------------------

Deno.test("dial() runs TLS over a dialer's non-TCP connection through the relay", async () => {
  const o = origins();
  try {
    const seen: { hostname: string; port: number; signal: boolean }[] = [];
    const dialed = await dial(
      target(o.httpsUrl),
      options(DIRECT, {
        alpnProtocols: ["h2", "http/1.1"],
        connect: async ({ hostname, port, signal }) => {
          seen.push({ hostname, port, signal: signal instanceof AbortSignal });
          // Not a Deno.TcpConn: Deno.startTls would refuse it.
          return new PrefixedConn(
            await Deno.connect({ hostname, port }),
            new Uint8Array(),
          );
        },
      }),
    );
    assertEquals(seen, [{
      hostname: "127.0.0.1",
      port: o.https.addr.port,
      signal: true,
    }]);
    assertEquals(dialed.alpnProtocol, "h2");
    dialed.conn.close();
    await dialed.closed;
    const h1 = await dial(
      target(o.httpsUrl),
      options(DIRECT, {
        connect: async ({ hostname, port }) =>
          new PrefixedConn(
            await Deno.connect({ hostname, port }),
            new Uint8Array(),
          ),
      }),
    );
    assertEquals(await get(h1.conn, "/relayed", "127.0.0.1"), {
      status: 200,
      body: "tls /relayed",
    });
    assertEquals(await get(h1.conn, "/again", "127.0.0.1"), {
      status: 200,
      body: "tls /again",
    });
    h1.conn.close();
    await h1.closed;
  } finally {
    await o.close();
  }
});

Deno.test("dial() runs TLS directly over a TcpConn from the dialer, and plain http: as is", async () => {
  const o = origins();
  try {
    const conns: Deno.Conn[] = [];
    const connect: DialOptions["connect"] = async (
      { hostname, port, signal },
    ) => {
      const conn = await Deno.connect({ hostname, port, signal });
      conns.push(conn);
      return conn;
    };
    const tls = await dial(target(o.httpsUrl), options(DIRECT, { connect }));
    assertEquals(await get(tls.conn, "/t", "127.0.0.1"), {
      status: 200,
      body: "tls /t",
    });
    tls.conn.close();
    const plain = await dial(target(o.httpUrl), options(DIRECT, { connect }));
    assertStrictEquals(plain.conn, conns[1]);
    assertEquals(await get(plain.conn, "/p", "x"), {
      status: 200,
      body: "plain /p",
    });
    plain.conn.close();
    await Promise.all([tls.closed, plain.closed]);
  } finally {
    await o.close();
  }
});

Deno.test("dial() reports a failing dialer, or one that returns no Deno.Conn, as CONNECT_FAILED", async () => {
  const boom = new Error("no route to the moon");
  const error = await dialFails(
    "http://moon.test/",
    options(DIRECT, { connect: () => Promise.reject(boom) }),
    "CONNECT_FAILED",
  );
  assertEquals(
    error.message,
    "Fetch to http://moon.test:80 failed: could not connect through the 'connect' dialer: the 'connect' dialer failed (no route to the moon)",
  );
  assertStrictEquals(error.cause, boom);
  const notConn = await dialFails(
    "http://moon.test/",
    options(DIRECT, {
      connect: () => Promise.resolve({} as unknown as Deno.Conn),
    }),
    "CONNECT_FAILED",
  );
  assertStringIncludes(
    notConn.message,
    "resolved to something that is not a Deno.Conn",
  );
});

Deno.test("dial() refuses a client certificate through a proxy, a Unix socket or the dialer, before any I/O", async () => {
  await using proxy = scriptedProxy();
  let dialerCalls = 0;
  const mtls = { caCerts: [PEM.ca], cert: PEM.clientCert, key: PEM.clientKey };
  const cases: [Route, Partial<DialOptions>, string][] = [
    [
      routeVia({ url: `http://bob:${SECRET}@127.0.0.1:${proxy.port}` }),
      {},
      `through proxy http://127.0.0.1:${proxy.port}`,
    ],
    [
      routeVia({ transport: "unix", path: "/nonexistent.sock" }),
      {},
      "over unix:/nonexistent.sock",
    ],
    [DIRECT, {
      connect: () => {
        dialerCalls++;
        return Promise.reject(new Error("unreachable"));
      },
    }, "over a connection from the 'connect' dialer"],
  ];
  for (const [route, extra, where] of cases) {
    const error = await dialFails(
      "https://origin.test/",
      options(route, { tls: mtls, ...extra }),
      "TLS_FAILED",
    );
    assertEquals(
      error.message,
      `Fetch to https://origin.test:443 failed: a client certificate ('tls.cert') cannot be presented ${where}: Deno.startTls, which runs TLS over an open connection, takes no client certificate, and Deno.connectTls, which does, only dials the host itself`,
    );
  }
  assertEquals(dialerCalls, 0);
  assertEquals(proxy.accepted, 0);
});

Deno.test("dial() rejects an unusable proxy from the environment as PROXY_FAILED", async () => {
  const route = proxyRouter(undefined, {
    vars: { https_proxy: `ftp://bob:${SECRET}@proxy` },
    cgi: false,
  }).routeFor(new URL("https://a.test/"));
  const error = await dialFails(
    "https://a.test/",
    options(route),
    "PROXY_FAILED",
  );
  assertEquals(
    error.message,
    "Fetch to https://a.test:443 failed: the environment's proxy setting is not usable: https_proxy must be an http:, https:, socks5: or socks5h: URL",
  );
});

// ---- HTTP proxies -------------------------------------------------------------

Deno.test("dial() hands back the proxy connection for an http: origin (absolute-form)", async () => {
  await using proxy = scriptedProxy();
  const route = routeVia({
    url: `http://bob:${SECRET}@127.0.0.1:${proxy.port}`,
  });
  const dialed = await dial(target("http://origin.test:8080/"), options(route));
  assert(dialed.forwardProxy !== undefined);
  assertEquals(dialed.forwardProxy.display, `http://127.0.0.1:${proxy.port}`);
  const auth = dialed.forwardProxy.authorization()!;
  assertEquals(auth, `Basic ${btoa(`bob:${SECRET}`)}`);
  assertEquals(
    await get(dialed.conn, "http://origin.test:8080/a?b", "origin.test:8080", [
      `Proxy-Authorization: ${auth}`,
    ]),
    { status: 200, body: "proxied http://origin.test:8080/a?b" },
  );
  // Kept alive: a second request on the same connection.
  assertEquals(
    (await get(dialed.conn, "http://origin.test:8080/c", "origin.test:8080"))
      .body,
    "proxied http://origin.test:8080/c",
  );
  dialed.conn.close();
  await dialed.closed;
  assertEquals(proxy.accepted, 1);
  assertEquals(proxy.requests[0].header("proxy-authorization"), auth);
  const anonymous = await dial(
    target("http://origin.test/"),
    options(routeVia({ url: `http://127.0.0.1:${proxy.port}` })),
  );
  assertEquals(anonymous.forwardProxy?.authorization(), undefined);
  anonymous.conn.close();
});

Deno.test("openTunnel() sends CONNECT with Host and Proxy-Authorization (RFC 9110 §9.3.6)", async () => {
  const o = origins();
  await using proxy = scriptedProxy();
  try {
    for (
      const [url, authority] of [
        [o.httpsUrl, `127.0.0.1:${o.https.addr.port}`],
        ["https://[::1]:8443/", "[::1]:8443"],
      ] as const
    ) {
      const route = routeVia({
        url: `http://127.0.0.1:${proxy.port}`,
        basicAuth: { username: "bob", password: SECRET },
      });
      const attempt = dial(target(url), options(route));
      if (url === o.httpsUrl) {
        const dialed = await attempt;
        dialed.conn.close();
        await dialed.closed;
      } else {
        await attempt.catch(() => {});
      }
      const req = proxy.requests.at(-1)!;
      assertEquals(
        req.rawHead,
        `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\nProxy-Authorization: Basic ${
          btoa(`bob:${SECRET}`)
        }\r\n\r\n`,
      );
    }
  } finally {
    await o.close();
  }
});

Deno.test("dial() tunnels to an https: origin through CONNECT and keeps the tunnel for several requests", async () => {
  const o = origins();
  await using proxy = scriptedProxy();
  try {
    const dialed = await dial(
      target(o.httpsUrl),
      options(routeVia({ url: `http://127.0.0.1:${proxy.port}` })),
    );
    assertEquals(dialed.forwardProxy, undefined);
    assertEquals(dialed.alpnProtocol, "http/1.1");
    for (const path of ["/one", "/two", "/three"]) {
      assertEquals(await get(dialed.conn, path, "127.0.0.1"), {
        status: 200,
        body: `tls ${path}`,
      });
    }
    dialed.conn.close();
    await dialed.closed;
    assertEquals(proxy.accepted, 1);
    // No credentials were given: none went out.
    assertEquals(proxy.requests[0].header("proxy-authorization"), undefined);
  } finally {
    await o.close();
  }
});

/** A proxy that answers CONNECT with `head` and closes. */
function refusingProxy(head: string): RawServer & ProxyLog {
  return scriptedProxy({
    answer: async (_, conn) => {
      await conn.write(head);
      return false;
    },
  }) as RawServer & ProxyLog;
}

Deno.test("dial() rejects a CONNECT refused with 403 as PROXY_FAILED, not retryable", async () => {
  await using proxy = refusingProxy(
    "HTTP/1.1 403 Forbidden\r\nContent-Length: 9\r\n\r\nforbidden",
  );
  const route = routeVia({
    url: `http://bob:${SECRET}@127.0.0.1:${proxy.port}`,
  });
  const error = await dialFails(
    "https://origin.test/",
    options(route),
    "PROXY_FAILED",
  );
  assertEquals(
    error.message,
    `Fetch to https://origin.test:443 failed: proxy http://127.0.0.1:${proxy.port} answered CONNECT with 403 Forbidden: the proxy refused the tunnel`,
  );
  assertInstanceOf(error.cause, ProxyRefusal);
  assertEquals(
    [error.cause.protocol, error.cause.status, error.cause.retryable],
    ["http", 403, false],
  );
});

Deno.test("dial() reports a 407 (or a proxy's 401) to CONNECT as PROXY_AUTH: missing without credentials, failed with them", async () => {
  await using proxy = refusingProxy(
    'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="x"\r\nContent-Length: 0\r\n\r\n',
  );
  const bare = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://127.0.0.1:${proxy.port}` })),
    "PROXY_AUTH",
  );
  assertEquals(
    bare.message,
    `Fetch to https://origin.test:443 failed: proxy http://127.0.0.1:${proxy.port} answered CONNECT with 407 Proxy Authentication Required: proxy authentication is missing (no credentials were given for this proxy)`,
  );
  const refused = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://bob:${SECRET}@127.0.0.1:${proxy.port}` })),
    "PROXY_AUTH",
  );
  assertEquals(
    refused.message,
    `Fetch to https://origin.test:443 failed: proxy http://127.0.0.1:${proxy.port} answered CONNECT with 407 Proxy Authentication Required: proxy authentication failed (the proxy refused the credentials given)`,
  );
  assertFalse(refused.message.includes("bob"));
  assertInstanceOf(refused.cause, ProxyRefusal);
  assertEquals(refused.cause.retryable, false);
  // tinyproxy answers a CONNECT with wrong credentials with 401.
  await using tiny = refusingProxy(
    "HTTP/1.0 401 Unauthorized\r\nConnection: close\r\n\r\n",
  );
  const wrong = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://bob:${SECRET}@127.0.0.1:${tiny.port}` })),
    "PROXY_AUTH",
  );
  assertStringIncludes(
    wrong.message,
    "401 Unauthorized: proxy authentication failed",
  );
});

Deno.test("dial() marks 502, 503 and 504 to CONNECT retryable: nothing reached the origin", async () => {
  for (
    const [status, text] of [
      [502, "Bad Gateway"],
      [503, "Service Unavailable"],
      [504, "Gateway Timeout"],
    ]
  ) {
    await using proxy = refusingProxy(
      `HTTP/1.1 ${status} ${text}\r\nContent-Length: 0\r\n\r\n`,
    );
    const error = await dialFails(
      "https://origin.test/",
      options(routeVia({ url: `http://127.0.0.1:${proxy.port}` })),
      "PROXY_FAILED",
    );
    assertEquals(
      error.message,
      `Fetch to https://origin.test:443 failed: proxy http://127.0.0.1:${proxy.port} answered CONNECT with ${status} ${text}: the proxy could not reach the origin, and nothing was sent to it`,
    );
    assertInstanceOf(error.cause, ProxyRefusal);
    assertEquals([error.cause.status, error.cause.retryable], [status, true]);
    // What the retry policy reads (retry.ts isProxyOverload).
    assertEquals(
      (error as FetchError & { proxyStatus: number }).proxyStatus,
      status,
    );
  }
});

Deno.test("dial() fails when the proxy closes before it answers, or mid-tunnel", async () => {
  await using silent = scriptedProxy({ answer: () => false });
  const early = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://127.0.0.1:${silent.port}` })),
    "PROXY_FAILED",
  );
  assertEquals(
    early.message,
    `Fetch to https://origin.test:443 failed: proxy http://127.0.0.1:${silent.port} closed the connection before it answered CONNECT origin.test:443`,
  );
  // 200, then the proxy drops the tunnel during the TLS handshake.
  await using dropping = refusingProxy(
    "HTTP/1.1 200 Connection established\r\n\r\n",
  );
  const mid = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://127.0.0.1:${dropping.port}` })),
    "CONNECT_FAILED",
  );
  assertStringIncludes(
    mid.message,
    `Fetch to https://origin.test:443 failed: could not connect through proxy http://127.0.0.1:${dropping.port}: the TLS handshake failed (`,
  );
});

Deno.test("dial() hands over a tunnel whose later close by the proxy ends the connection's reads", async () => {
  const o = origins();
  const proxy = scriptedProxy();
  try {
    const dialed = await dial(
      target(o.httpsUrl),
      options(routeVia({ url: `http://127.0.0.1:${proxy.port}` })),
    );
    assertEquals(
      (await get(dialed.conn, "/first", "127.0.0.1")).body,
      "tls /first",
    );
    // The proxy goes away mid-tunnel (both of its sockets closed).
    await proxy.close();
    await assertRejects(() => get(dialed.conn, "/second", "127.0.0.1"));
    dialed.conn.close();
    await dialed.closed;
  } finally {
    await proxy.close();
    await o.close();
  }
});

Deno.test("dial() bounds a slow CONNECT answer by the signal", async () => {
  let answered = false;
  await using slow = scriptedProxy({
    answer: async (_, conn) => {
      answered = await conn.waitForClose(5000);
      return false;
    },
  });
  const timeout = new DOMException("connectTimeout (100 ms)", "TimeoutError");
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeout), 100);
  const error = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://127.0.0.1:${slow.port}` }), {
      signal: controller.signal,
    }),
    "CONNECT_TIMEOUT",
  );
  clearTimeout(timer);
  assertEquals(
    error.message,
    `Fetch to https://origin.test:443 failed: could not connect through proxy http://127.0.0.1:${slow.port}: timed out during the CONNECT request (connectTimeout (100 ms))`,
  );
  await slow.close();
  assert(answered, "the proxy saw the connection closed");
});

Deno.test("openTunnel() keeps the bytes that follow the 2xx head, and skips 1xx answers", async () => {
  await using proxy = scriptedProxy({
    answer: async (_, conn) => {
      await conn.write(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 Connection established\r\nVia: 1.1 test\r\n\r\nfirst bytes",
      );
      await conn.waitForClose();
      return false;
    },
  });
  const route = routeVia({ url: `http://127.0.0.1:${proxy.port}` });
  assert(route.kind === "proxy");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const tunnel = await openTunnel(conn, {
    origin: "https://origin.test:443",
    proxy: route.proxy,
    hostname: "origin.test",
    port: 443,
    signal: AbortSignal.timeout(5000),
  });
  assertStrictEquals(tunnel.conn, conn);
  // The head and what followed may arrive in one read or several.
  let first = decoder.decode(tunnel.buffered);
  const buf = new Uint8Array(64);
  while (first.length < "first bytes".length) {
    const n = await conn.read(buf);
    if (n === null) break;
    first += decoder.decode(buf.subarray(0, n));
  }
  assertEquals(first, "first bytes");
  conn.close();
});

Deno.test("dial() rejects an answer to CONNECT that is not HTTP", async () => {
  await using proxy = refusingProxy("SSH-2.0-OpenSSH_9.2\r\n\r\n");
  const error = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `http://127.0.0.1:${proxy.port}` })),
    "PROXY_FAILED",
  );
  assertStringIncludes(
    error.message,
    `proxy http://127.0.0.1:${proxy.port} sent an invalid answer to CONNECT (`,
  );
});

// ---- HTTPS proxies -------------------------------------------------------------

Deno.test("dial() speaks TLS to an HTTPS proxy, and TLS to the origin inside it through the relay", async () => {
  const o = origins();
  await using proxy = scriptedProxy({ tls: true });
  try {
    const route = routeVia({ url: `https://localhost:${proxy.port}` });
    const plain = await dial(target(`${o.httpUrl}/`), options(route));
    assertEquals(
      plain.forwardProxy?.display,
      `https://localhost:${proxy.port}`,
    );
    assertEquals(await get(plain.conn, `${o.httpUrl}/abs`, "x"), {
      status: 200,
      body: `proxied ${o.httpUrl}/abs`,
    });
    plain.conn.close();
    await plain.closed;

    const tls = await dial(
      target(o.httpsUrl),
      options(route, { alpnProtocols: ["h2", "http/1.1"] }),
    );
    assertEquals(tls.alpnProtocol, "h2");
    tls.conn.close();
    await tls.closed;
    const h1 = await dial(target(o.httpsUrl), options(route));
    for (const path of ["/in", "/side"]) {
      assertEquals(await get(h1.conn, path, "127.0.0.1"), {
        status: 200,
        body: `tls ${path}`,
      });
    }
    h1.conn.close();
    await h1.closed;
  } finally {
    await o.close();
  }
});

Deno.test("dial() names the proxy when its certificate is not trusted", async () => {
  await using proxy = scriptedProxy({ tls: true });
  const error = await dialFails(
    "https://origin.test/",
    options(routeVia({ url: `https://localhost:${proxy.port}` }), { tls: {} }),
    "TLS_FAILED",
  );
  assertStringIncludes(
    error.message,
    `Fetch to https://origin.test:443 failed: could not connect through proxy https://localhost:${proxy.port}: the TLS handshake with the proxy failed (TLS certificate is not trusted (`,
  );
});

// ---- SOCKS5 ------------------------------------------------------------------

Deno.test("socks5Connect() resolves names here for socks5 and sends them for socks5h", async () => {
  const o = origins();
  await using socks = scriptedSocks5();
  try {
    const port = o.http.addr.port;
    const cases: [string, string, number, string][] = [
      ["socks5", `http://localhost:${port}/`, 0x01, "127.0.0.1"],
      ["socks5h", `http://localhost:${port}/`, 0x03, "localhost"],
      ["socks5", `http://127.0.0.1:${port}/`, 0x01, "127.0.0.1"],
      ["socks5h", `http://127.0.0.1:${port}/`, 0x01, "127.0.0.1"],
    ];
    if (HAS_IPV6_LOOPBACK) {
      cases.push(["socks5h", "http://[::1]:9/", 0x04, "0:0:0:0:0:0:0:1"]);
    }
    for (const [scheme, url, atyp, host] of cases) {
      const route = routeVia({ url: `${scheme}://127.0.0.1:${socks.port}` });
      const attempt = dial(target(url), options(route));
      if (atyp !== 0x04) {
        const dialed = await attempt;
        assertEquals(dialed.forwardProxy, undefined);
        assertEquals(await get(dialed.conn, "/s", "x"), {
          status: 200,
          body: "plain /s",
        });
        dialed.conn.close();
      } else {
        await attempt.catch(() => {}); // nothing listens on [::1]:9
      }
      const req = socks.requests.at(-1)!;
      assertEquals([req.atyp, req.host, req.port], [
        atyp,
        host,
        target(url).port,
      ], `${scheme} ${url}`);
      assertEquals(req.methods, [0x00]);
    }
  } finally {
    await o.close();
  }
});

Deno.test("socks5Connect() authenticates with user and password (RFC 1929)", async () => {
  const o = origins();
  await using socks = scriptedSocks5({
    user: { username: "carol", password: SECRET },
  });
  try {
    const good = await dial(
      target(o.httpsUrl),
      options(
        routeVia({ url: `socks5://carol:${SECRET}@127.0.0.1:${socks.port}` }),
      ),
    );
    assertEquals(await get(good.conn, "/auth", "127.0.0.1"), {
      status: 200,
      body: "tls /auth",
    });
    good.conn.close();
    assertEquals(socks.requests[0].methods, [0x00, 0x02]);
    assertEquals(socks.requests[0].auth, {
      username: "carol",
      password: SECRET,
    });

    const wrong = await dialFails(
      o.httpsUrl,
      options(routeVia({ url: `socks5://carol:nope@127.0.0.1:${socks.port}` })),
      "PROXY_AUTH",
    );
    assertEquals(
      wrong.message,
      `Fetch to ${o.httpsUrl} failed: SOCKS5 proxy socks5://127.0.0.1:${socks.port} refused the user name and password: proxy authentication failed`,
    );
    assertInstanceOf(wrong.cause, ProxyRefusal);
    assertEquals(wrong.cause.retryable, false);
  } finally {
    await o.close();
  }
  await using demanding = scriptedSocks5({ forceMethod: 0xff });
  const missing = await dialFails(
    "http://origin.test/",
    options(routeVia({ url: `socks5h://127.0.0.1:${demanding.port}` })),
    "PROXY_AUTH",
  );
  assertEquals(
    missing.message,
    `Fetch to http://origin.test:80 failed: SOCKS5 proxy socks5h://127.0.0.1:${demanding.port} requires authentication: proxy authentication is missing (no credentials were given for this proxy)`,
  );
});

Deno.test("socks5Connect() turns every reply code into a clear FetchError", async () => {
  const expected: [number, string, boolean][] = [
    [0x01, "general SOCKS server failure", true],
    [0x02, "connection not allowed by ruleset", false],
    [0x03, "network unreachable", true],
    [0x04, "host unreachable", true],
    [0x05, "connection refused", true],
    [0x06, "TTL expired", true],
    [0x07, "command not supported", false],
    [0x08, "address type not supported", false],
    [0x09, "unknown reply", false],
    [0xff, "unknown reply", false],
  ];
  for (const [reply, text, retryable] of expected) {
    await using socks = scriptedSocks5({ reply });
    const error = await dialFails(
      "https://origin.test:8443/",
      options(routeVia({ url: `socks5h://127.0.0.1:${socks.port}` })),
      "PROXY_FAILED",
    );
    assertEquals(
      error.message,
      `Fetch to https://origin.test:8443 failed: SOCKS5 proxy socks5h://127.0.0.1:${socks.port} could not connect to origin.test:8443: ${text} (reply 0x${
        reply.toString(16).padStart(2, "0")
      })`,
    );
    assertInstanceOf(error.cause, ProxyRefusal);
    assertEquals(
      [error.cause.protocol, error.cause.status, error.cause.retryable],
      ["socks5", reply, retryable],
    );
  }
});

Deno.test("socks5Connect() keeps bytes that follow the reply", async () => {
  const o = origins();
  await using socks = scriptedSocks5({ extra: encoder.encode("EARLY") });
  try {
    const dialed = await dial(
      target(o.httpUrl),
      options(routeVia({ url: `socks5://127.0.0.1:${socks.port}` })),
    );
    const buf = new Uint8Array(64);
    let text = "";
    while (text.length < 5) {
      const n = await dialed.conn.read(buf);
      assert(n !== null);
      text += decoder.decode(buf.subarray(0, n));
    }
    assertEquals(text, "EARLY");
    dialed.conn.close();
  } finally {
    await o.close();
  }
});

Deno.test("socks5Connect() reports a name that does not resolve, and a proxy that is not SOCKS5", async () => {
  await using socks = scriptedSocks5();
  const error = await dialFails(
    "http://nowhere.invalid/",
    options(routeVia({ url: `socks5://127.0.0.1:${socks.port}` }), {
      resolve: () =>
        Promise.reject(new Error("getaddrinfo ENOTFOUND nowhere.invalid")),
    }),
    "CONNECT_FAILED",
  );
  assertEquals(
    error.message,
    `Fetch to http://nowhere.invalid:80 failed: could not resolve nowhere.invalid for SOCKS5 proxy socks5://127.0.0.1:${socks.port} (getaddrinfo ENOTFOUND nowhere.invalid)`,
  );
  await using http = rawServer(async (conn) => {
    await conn.write("HTTP/1.1 400 Bad Request\r\n\r\n");
  });
  const notSocks = await dialFails(
    "http://origin.test/",
    options(routeVia({ url: `socks5h://127.0.0.1:${http.port}` })),
    "PROXY_FAILED",
  );
  assertEquals(
    notSocks.message,
    `Fetch to http://origin.test:80 failed: SOCKS5 proxy socks5h://127.0.0.1:${http.port} is not a SOCKS5 proxy (it answered version 72)`,
  );
});

Deno.test("socks5Connect() is abortable, closing the connection", async () => {
  await using quiet = rawServer(async (conn) => {
    await conn.waitForClose(5000);
  });
  const route = routeVia({ url: `socks5h://127.0.0.1:${quiet.port}` });
  assert(route.kind === "proxy");
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: quiet.port });
  const controller = new AbortController();
  const reason = new Error("stop");
  setTimeout(() => controller.abort(reason), 30);
  const error = await socks5Connect(conn, {
    origin: "http://origin.test:80",
    proxy: route.proxy,
    hostname: "origin.test",
    port: 80,
    signal: controller.signal,
  }).catch((e) => e);
  assertStrictEquals(error, reason);
  assert(await quiet.conns[0].waitForClose(), "closed on abort");
});

// ---- the relay ---------------------------------------------------------------

Deno.test("openRelay() stops listening once it holds its own connection, and delivers initial bytes first", async () => {
  await using far = rawServer(async (conn) => {
    await conn.write("from the far end");
    await conn.waitForClose();
  });
  const tunnel = await Deno.connect({ hostname: "127.0.0.1", port: far.port });
  const relay = await openRelay(tunnel, {
    signal: AbortSignal.timeout(5000),
    initial: encoder.encode("buffered|"),
  });
  // Our socket's peer is the relay's listening port: nothing listens there now.
  const relayPort = relay.conn.remoteAddr.port;
  await assertRejects(
    () => Deno.connect({ hostname: "127.0.0.1", port: relayPort }),
    Deno.errors.ConnectionRefused,
  );
  let text = "";
  const buf = new Uint8Array(64);
  while (text.length < "buffered|from the far end".length) {
    const n = await relay.conn.read(buf);
    assert(n !== null);
    text += decoder.decode(buf.subarray(0, n));
  }
  assertEquals(text, "buffered|from the far end");
  await relay.conn.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  relay.conn.close();
  await relay.done;
  assert(
    await far.conns[0].waitForClose(),
    "closing our end closes the tunnel",
  );
});

Deno.test("acceptOwn() takes only the connection from our own socket and closes the others", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  // Another local process gets there first.
  const stranger = await Deno.connect({ hostname: "127.0.0.1", port });
  const ours = await Deno.connect({ hostname: "127.0.0.1", port });
  const theirs = await acceptOwn(listener, ours.localAddr);
  listener.close();
  assertEquals(theirs.remoteAddr.port, ours.localAddr.port);
  assertEquals(
    await stranger.read(new Uint8Array(8)),
    null,
    "the stranger is closed",
  );
  await ours.write(encoder.encode("mine"));
  const buf = new Uint8Array(8);
  assertEquals(
    decoder.decode(buf.subarray(0, (await theirs.read(buf))!)),
    "mine",
  );
  for (const c of [stranger, ours, theirs]) c.close();

  // Only strangers: it gives up rather than accept forever.
  const crowded = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const strangers = await Promise.all(
    Array.from(
      { length: MAX_STRANGERS },
      () => Deno.connect({ hostname: "127.0.0.1", port: crowded.addr.port }),
    ),
  );
  const absent = { transport: "tcp", hostname: "127.0.0.1", port: 1 } as const;
  await assertRejects(
    () => acceptOwn(crowded, absent),
    Deno.errors.ConnectionAborted,
    `the loopback relay refused ${MAX_STRANGERS} connections from other local processes`,
  );
  crowded.close();
  for (const c of strangers) c.close();
});

Deno.test("openRelay() passes the far end's close on to our end", async () => {
  await using far = rawServer(async (conn) => {
    await conn.write("bye");
  });
  const tunnel = await Deno.connect({ hostname: "127.0.0.1", port: far.port });
  const relay = await openRelay(tunnel, { signal: AbortSignal.timeout(5000) });
  const buf = new Uint8Array(64);
  let text = "";
  // Bounded by the relay: it ends after "bye".
  while (true) {
    const n = await relay.conn.read(buf);
    if (n === null) break;
    text += decoder.decode(buf.subarray(0, n));
  }
  assertEquals(text, "bye");
  relay.conn.close();
  await relay.done;
});

// ---- child processes: Unix sockets, permissions --------------------------------

function resultOf(output: string): unknown {
  const line = output.split(/\r?\n/).find((l) => l.startsWith("RESULT "));
  assert(line !== undefined, `no result in: ${output}`);
  return JSON.parse(line.slice("RESULT ".length));
}

const DIAL_MODULE = new URL("../_dial.ts", import.meta.url).href;
const RELAY_MODULE = new URL("../_relay.ts", import.meta.url).href;
const PROXY_ENV_MODULE = new URL("../_proxy_env.ts", import.meta.url).href;

Deno.test("dial() without permission for 127.0.0.1 refuses the relay clearly, and never prompts", async () => {
  const o = origins();
  try {
    const run = await runPromptable(
      ["--allow-net=localhost"],
      `
import { dial } from ${JSON.stringify(DIAL_MODULE)};
import { PrefixedConn } from ${JSON.stringify(RELAY_MODULE)};
try {
  await dial({ protocol: "https:", hostname: "localhost", port: ${o.https.addr.port} }, {
    route: { kind: "direct", display: "direct" },
    signal: AbortSignal.timeout(5000),
    connect: async ({ hostname, port }) =>
      new PrefixedConn(await Deno.connect({ hostname, port }), new Uint8Array()),
  });
  console.log("RESULT " + JSON.stringify("connected"));
} catch (error) {
  console.log("RESULT " + JSON.stringify([error.code, error.message]));
}
`,
    );
    assertFalse(run.prompted, run.output);
    assertEquals(resultOf(run.output), [
      "CONNECT_FAILED",
      `Fetch to https://localhost:${o.https.addr.port} failed: could not connect through the 'connect' dialer: TLS over this connection runs through a loopback relay, as Deno.startTls takes only a TCP connection, and a loopback relay needs permission to listen on and connect to 127.0.0.1 (--allow-net=127.0.0.1)`,
    ]);
  } finally {
    await o.close();
  }
});

Deno.test("dial() through the relay leaves an unref'd idle connection that does not keep the process alive", async () => {
  const o = origins();
  try {
    const run = await runPromptable(
      ["--allow-net=127.0.0.1", "--allow-read"],
      `
import { dial } from ${JSON.stringify(DIAL_MODULE)};
import { PrefixedConn } from ${JSON.stringify(RELAY_MODULE)};
const ca = ${JSON.stringify(PEM.ca)};
const dialed = await dial({ protocol: "https:", hostname: "127.0.0.1", port: ${o.https.addr.port} }, {
  route: { kind: "direct", display: "direct" },
  signal: AbortSignal.timeout(5000),
  tls: { caCerts: [ca] },
  connect: async ({ hostname, port }) =>
    new PrefixedConn(await Deno.connect({ hostname, port }), new Uint8Array()),
});
await dialed.conn.write(new TextEncoder().encode("GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"));
const n = await dialed.conn.read(new Uint8Array(4096));
console.log("RESULT " + JSON.stringify(n !== null && n > 0));
// Idle, as the pool leaves it: a read pending, unref'd.
dialed.conn.unref();
dialed.conn.read(new Uint8Array(16)).catch(() => {});
`,
    );
    assertFalse(run.prompted, run.output);
    assertFalse(run.output.includes("<killed after 30 s>"), run.output);
    assert(run.success, run.output);
    assertEquals(resultOf(run.output), true);
  } finally {
    await o.close();
  }
});

Deno.test("dial() reaches a Unix socket for every URL, with TLS over it for https:", async () => {
  // Listening on and connecting to a Unix socket needs --allow-write, which
  // the test task does not grant: a child with it does the work.
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--quiet",
      `
import * as nodeTls from "node:tls";
import { dial } from ${JSON.stringify(DIAL_MODULE)};
import { proxyRouter } from ${JSON.stringify(PROXY_ENV_MODULE)};
const PEM = ${
        JSON.stringify({ ca: PEM.ca, cert: PEM.serverCert, key: PEM.serverKey })
      };
const dir = await Deno.makeTempDir({ prefix: "pooled_fetch_unix_" });
const results = [];
let dialerCalls = 0;
const connect = () => { dialerCalls++; return Promise.reject(new Error("not for unix")); };
async function get(conn, path, host) {
  await conn.write(new TextEncoder().encode("GET " + path + " HTTP/1.1\\r\\nHost: " + host + "\\r\\n\\r\\n"));
  let text = "";
  const buf = new Uint8Array(4096);
  while (!/\\r\\n\\r\\n[^]*$/.test(text) || !text.endsWith(path)) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  return text.split("\\r\\n")[0] + " " + text.slice(text.indexOf("\\r\\n\\r\\n") + 4);
}
const plainPath = dir + "/plain.sock";
const server = Deno.serve({ path: plainPath, onListen() {} }, (req) =>
  new Response("unix " + req.headers.get("host") + " " + new URL(req.url).pathname));
const router = proxyRouter({ transport: "unix", path: plainPath });
for (const url of ["http://localhost/v1/info", "http://docker.test:2375/containers"]) {
  const u = new URL(url);
  const dialed = await dial({ protocol: u.protocol, hostname: u.hostname, port: Number(u.port || 80) },
    { route: router.routeFor(u), signal: AbortSignal.timeout(5000), connect });
  results.push([router.routeFor(u).display, await get(dialed.conn, u.pathname, u.host)]);
  dialed.conn.close();
  await dialed.closed;
}
await server.shutdown();
const tlsPath = dir + "/tls.sock";
const tlsServer = nodeTls.createServer({ cert: PEM.cert, key: PEM.key, ALPNProtocols: ["http/1.1"] }, (socket) => {
  socket.on("error", () => {});
  socket.on("data", () => socket.write("HTTP/1.1 200 OK\\r\\nContent-Length: 10\\r\\n\\r\\ntls /unix!"));
});
await new Promise((resolve) => tlsServer.listen(tlsPath, resolve));
const tlsRouter = proxyRouter({ transport: "unix", path: tlsPath });
const dialed = await dial({ protocol: "https:", hostname: "localhost", port: 443 },
  { route: tlsRouter.routeFor(new URL("https://localhost/")), signal: AbortSignal.timeout(5000), tls: { caCerts: [PEM.ca] }, connect });
results.push([dialed.alpnProtocol, await get(dialed.conn, "/unix!", "localhost")]);
dialed.conn.close();
await dialed.closed;
await new Promise((resolve) => tlsServer.close(resolve));
await Deno.remove(dir, { recursive: true });
console.log("RESULT " + JSON.stringify({ results, dialerCalls }));
`,
    ],
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = decoder.decode(child.stdout) + decoder.decode(child.stderr);
  assert(child.success, output);
  const result = resultOf(output) as {
    results: string[][];
    dialerCalls: number;
  };
  assertEquals(result.dialerCalls, 0);
  assertEquals(result.results[0][1], "HTTP/1.1 200 OK unix localhost /v1/info");
  assertEquals(
    result.results[1][1],
    "HTTP/1.1 200 OK unix docker.test:2375 /containers",
  );
  assert(
    result.results[0][0].startsWith("unix:/") &&
      result.results[0][0].endsWith("/plain.sock"),
  );
  assertEquals(result.results[2], ["http/1.1", "HTTP/1.1 200 OK tls /unix!"]);
});
