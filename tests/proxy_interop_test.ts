// Copyright 2026 the pooled-fetch authors. MIT license.
// dial() against real proxies nobody here wrote, each started on a free
// loopback port with a minimal config and stopped at the end: tinyproxy and
// squid (absolute-form, CONNECT to a TLS origin, Basic authentication, and
// squid's HTTPS port for TLS inside TLS), microsocks (with and without
// user/password) and dante's danted (socks5 and socks5h, a connection
// refused by rule). A missing binary skips its tests with a message.

import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { dial, type DialedConnection } from "../_dial.ts";
import { FetchError } from "../errors.ts";
import { ProxyRefusal, proxyRouter } from "../_proxy_env.ts";
import { PEM } from "./_tls_servers.ts";
import {
  requireBinary,
  startDanted,
  startMicrosocks,
  startSquid,
  startTinyproxy,
} from "./_proxy_servers.ts";

const SECRET = "s3cret-Pw";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const tinyproxy = requireBinary("tinyproxy", "tinyproxy interop");
const squid = requireBinary("squid", "squid interop");
// squid's htpasswd file is made with `openssl passwd`.
const openssl = squid === null
  ? null
  : requireBinary("openssl", "squid interop (password hash)");
const microsocks = requireBinary("microsocks", "microsocks interop");
const danted = requireBinary("danted", "danted interop");

/** Origins on 127.0.0.1: http and https (test CA), answering `<kind> <path>`. */
function origins() {
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (req) =>
      new Response(`plain ${new URL(req.url).pathname}`, {
        headers: {
          "x-saw-proxy-auth": String(req.headers.has("proxy-authorization")),
        },
      }),
  );
  const https = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen() {},
      cert: PEM.serverCert,
      key: PEM.serverKey,
    },
    (req) =>
      new Response(`tls ${new URL(req.url).pathname}`, {
        headers: {
          "x-saw-proxy-auth": String(req.headers.has("proxy-authorization")),
        },
      }),
  );
  return {
    httpPort: http.addr.port,
    httpsPort: https.addr.port,
    async [Symbol.asyncDispose]() {
      await http.shutdown();
      await https.shutdown();
    },
  };
}

interface Answer {
  status: number;
  body: string;
  headers: string;
}

/** One request on `dialed.conn`, in absolute-form through a forward proxy. */
async function get(
  dialed: DialedConnection,
  url: string,
): Promise<Answer> {
  const u = new URL(url);
  const proxy = dialed.forwardProxy;
  const auth = proxy?.authorization();
  const head = `GET ${
    proxy ? u.href : u.pathname
  } HTTP/1.1\r\nHost: ${u.host}\r\n${
    auth ? `Proxy-Authorization: ${auth}\r\n` : ""
  }\r\n`;
  await dialed.conn.write(encoder.encode(head));
  let text = "";
  const buf = new Uint8Array(16 * 1024);
  // Bounded by the connection: it ends or the body completes.
  while (true) {
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1) {
      const head = text.slice(0, end);
      const length = /content-length:\s*(\d+)/i.exec(head);
      if (length === null && /transfer-encoding:\s*chunked/i.test(head)) {
        // Proxies' own error pages may be chunked: read to the last chunk.
        if (text.endsWith("\r\n0\r\n\r\n")) {
          return { status: Number(text.slice(9, 12)), body: "", headers: head };
        }
      } else {
        const need = end + 4 + Number(length?.[1] ?? 0);
        if (text.length >= need) {
          return {
            status: Number(text.slice(9, 12)),
            body: text.slice(end + 4, need),
            headers: head.toLowerCase(),
          };
        }
      }
    }
    const n = await dialed.conn.read(buf);
    if (n === null) throw new Error(`EOF after ${JSON.stringify(text)}`);
    text += decoder.decode(buf.subarray(0, n));
  }
}

function via(url: string) {
  return proxyRouter({ url }, { vars: {}, cgi: false }).routeFor(
    new URL("http://x/"),
  );
}

async function open(
  proxyUrl: string,
  url: string,
  alpnProtocols?: string[],
): Promise<DialedConnection> {
  const u = new URL(url);
  return await dial(
    {
      protocol: u.protocol,
      hostname: u.hostname,
      port: Number(u.port),
    },
    {
      route: via(proxyUrl),
      signal: AbortSignal.timeout(10_000),
      tls: { caCerts: [PEM.ca] },
      alpnProtocols,
    },
  );
}

/**
 * Two requests, on one connection (absolute-form kept alive, or a CONNECT
 * tunnel), or one connection each where the proxy closes after each answer.
 */
async function assertTwoRequests(
  proxyUrl: string,
  url: string,
  kind: string,
  keepAlive = true,
) {
  let dialed: DialedConnection | undefined;
  try {
    for (const path of ["/one", "/two"]) {
      if (dialed === undefined || !keepAlive) {
        dialed?.conn.close();
        await dialed?.closed;
        dialed = await open(proxyUrl, url);
      }
      const answer = await get(dialed, `${url}${path}`);
      assertEquals(
        [answer.status, answer.body],
        [200, `${kind} ${path}`],
        proxyUrl,
      );
      // Credentials stay on the hop to the proxy, never reach the origin.
      assertStringIncludes(answer.headers, "x-saw-proxy-auth: false");
    }
  } finally {
    dialed?.conn.close();
    await dialed?.closed;
  }
}

async function assertProxyAuth(
  proxyUrl: string,
  origin: string,
  missing: boolean,
) {
  const error = await assertRejects(() => open(proxyUrl, origin), FetchError);
  assertEquals(error.code, "PROXY_AUTH");
  assertStringIncludes(
    error.message,
    missing ? "proxy authentication is missing" : "proxy authentication failed",
  );
  assertFalse(error.message.includes(SECRET));
  assertInstanceOf(error.cause, ProxyRefusal);
  // tinyproxy answers wrong credentials with 401, squid with 407.
  assert([401, 407].includes(error.cause.status), error.message);
  assertFalse(error.cause.retryable);
}

Deno.test({
  name:
    "dial() works through tinyproxy: absolute-form and CONNECT, with and without Basic auth",
  ignore: tinyproxy === null,
  async fn() {
    await using o = origins();
    const http = `http://127.0.0.1:${o.httpPort}`;
    const https = `https://127.0.0.1:${o.httpsPort}`;
    {
      await using proxy = await startTinyproxy(tinyproxy!);
      const url = `http://127.0.0.1:${proxy.port}`;
      // tinyproxy closes the client connection after each forwarded answer.
      await assertTwoRequests(url, http, "plain", false);
      await assertTwoRequests(url, https, "tls");
    }
    {
      // tinyproxy's config takes only simple passwords.
      await using proxy = await startTinyproxy(tinyproxy!, {
        username: "alice",
        password: "pw123SECRET",
      });
      const url = `http://alice:pw123SECRET@127.0.0.1:${proxy.port}`;
      await assertTwoRequests(url, http, "plain", false);
      await assertTwoRequests(url, https, "tls");
      // A plain request the proxy answers itself comes back as that answer.
      const anonymous = await open(`http://127.0.0.1:${proxy.port}`, http);
      assertEquals((await get(anonymous, `${http}/x`)).status, 407);
      anonymous.conn.close();
      await assertProxyAuth(`http://127.0.0.1:${proxy.port}`, https, true);
      await assertProxyAuth(
        `http://alice:wrong@127.0.0.1:${proxy.port}`,
        https,
        false,
      );
    }
  },
});

Deno.test({
  name:
    "dial() works through squid: absolute-form, CONNECT, Basic auth from the URL, and an HTTPS proxy",
  ignore: squid === null || openssl === null,
  async fn() {
    await using o = origins();
    const http = `http://127.0.0.1:${o.httpPort}`;
    const https = `https://127.0.0.1:${o.httpsPort}`;
    const password = `p@ss:w rd%${SECRET}`;
    await using proxy = await startSquid(squid!, { username: "bob", password });
    const open_ = `http://127.0.0.1:${proxy.port}`;
    await assertTwoRequests(open_, http, "plain");
    await assertTwoRequests(open_, https, "tls");
    // Credentials percent-encoded in the URL are decoded before use.
    const authed = `http://bob:${
      encodeURIComponent(password)
    }@127.0.0.1:${proxy.authPort}`;
    await assertTwoRequests(authed, http, "plain");
    await assertTwoRequests(authed, https, "tls");
    await assertProxyAuth(`http://127.0.0.1:${proxy.authPort}`, https, true);
    await assertProxyAuth(
      `http://bob:nope${SECRET}@127.0.0.1:${proxy.authPort}`,
      https,
      false,
    );
    const anonymous = await open(`http://127.0.0.1:${proxy.authPort}`, http);
    assertEquals((await get(anonymous, `${http}/x`)).status, 407);
    anonymous.conn.close();
    // TLS to squid itself, then plain requests or TLS to the origin inside.
    const tlsProxy = `https://localhost:${proxy.httpsPort}`;
    await assertTwoRequests(tlsProxy, http, "plain");
    await assertTwoRequests(tlsProxy, https, "tls");
    const h2 = await open(tlsProxy, https, ["h2", "http/1.1"]);
    assertEquals(h2.alpnProtocol, "h2");
    h2.conn.close();
    await h2.closed;
    // Nothing listens there: squid answers 503, which may be retried.
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const deadPort = closed.addr.port;
    closed.close();
    const error = await assertRejects(
      () => open(open_, `https://127.0.0.1:${deadPort}`),
      FetchError,
    );
    assertEquals(error.code, "PROXY_FAILED");
    assertInstanceOf(error.cause, ProxyRefusal);
    assert(error.cause.retryable, error.message);
    assertStringIncludes(error.message, "the proxy could not reach the origin");
  },
});

Deno.test({
  name: "dial() works through microsocks, with and without user/password",
  ignore: microsocks === null,
  async fn() {
    await using o = origins();
    const http = `http://127.0.0.1:${o.httpPort}`;
    const https = `https://127.0.0.1:${o.httpsPort}`;
    {
      await using proxy = await startMicrosocks(microsocks!);
      for (const scheme of ["socks5", "socks5h"]) {
        const url = `${scheme}://127.0.0.1:${proxy.port}`;
        await assertTwoRequests(url, http, "plain");
        await assertTwoRequests(url, https, "tls");
        await assertTwoRequests(url, `http://localhost:${o.httpPort}`, "plain");
      }
    }
    {
      const password = `x:y@z %${SECRET}`;
      await using proxy = await startMicrosocks(microsocks!, {
        username: "carol",
        password,
      });
      const url = `socks5://carol:${
        encodeURIComponent(password)
      }@127.0.0.1:${proxy.port}`;
      await assertTwoRequests(url, http, "plain");
      await assertTwoRequests(url, https, "tls");
      for (
        const [bad, code] of [
          [`socks5://carol:wrong@127.0.0.1:${proxy.port}`, "PROXY_AUTH"],
          [`socks5://127.0.0.1:${proxy.port}`, "PROXY_AUTH"],
        ] as const
      ) {
        const error = await assertRejects(() => open(bad, https), FetchError);
        assertEquals(error.code, code, error.message);
        assertFalse(error.message.includes(SECRET));
      }
    }
  },
});

// danted's user/password method checks the system's password database (or
// PAM): testing it would mean adding a system account. microsocks covers
// RFC 1929 against a real server above.
Deno.test({
  name:
    "dial() works through danted for socks5 and socks5h, and reports a connection its rules refuse",
  ignore: danted === null,
  async fn() {
    await using o = origins();
    const blocked = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      await using proxy = await startDanted(danted!, blocked.addr.port);
      for (const scheme of ["socks5", "socks5h"]) {
        const url = `${scheme}://127.0.0.1:${proxy.port}`;
        await assertTwoRequests(url, `http://127.0.0.1:${o.httpPort}`, "plain");
        await assertTwoRequests(url, `https://127.0.0.1:${o.httpsPort}`, "tls");
        await assertTwoRequests(url, `http://localhost:${o.httpPort}`, "plain");
      }
      const error = await assertRejects(
        () =>
          open(
            `socks5://127.0.0.1:${proxy.port}`,
            `http://127.0.0.1:${blocked.addr.port}`,
          ),
        FetchError,
      );
      assertEquals(error.code, "PROXY_FAILED");
      assertStringIncludes(
        error.message,
        "connection not allowed by ruleset (reply 0x02)",
      );
      assertInstanceOf(error.cause, ProxyRefusal);
      assertFalse(error.cause.retryable);
    } finally {
      blocked.close();
    }
  },
});
