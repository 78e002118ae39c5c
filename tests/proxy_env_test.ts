// Copyright 2026 the pooled-fetch authors. MIT license.
// The `proxy` option and the environment (_proxy_env.ts): option checks and
// their messages, normalised routes and display strings, the precedence of
// the proxy variables (lower case first, httpoxy), NO_PROXY matching (Go's
// httpproxy rules with Deno's two differences), credentials never shown, and
// a child process without env permission that neither prompts nor throws.

import {
  assert,
  assertEquals,
  assertFalse,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { parseIp, parseNoProxy } from "../_no_proxy.ts";
import {
  parseProxyOption,
  ProxyEndpoint,
  type ProxyEnv,
  proxyRouter,
  readProxyEnv,
  redactUrl,
  type Route,
} from "../_proxy_env.ts";
import { parseTransportOptions } from "../_dial.ts";
import {
  HAS_TERMINAL,
  type PromptableRun,
  runPromptable,
} from "./_prompt_child.ts";

const SECRET = "s3cret-Pw";

function env(
  vars: ProxyEnv["vars"],
  cgi = false,
): ProxyEnv {
  return { vars, cgi };
}

function route(option: unknown, url: string, e?: ProxyEnv): Route {
  return proxyRouter(option, e ?? env({})).routeFor(new URL(url));
}

/** Every way a route may be shown: none may carry a credential. */
function assertNoSecret(value: unknown, secret = SECRET): void {
  for (
    const shown of [
      String(value),
      JSON.stringify(value),
      Deno.inspect(value, { depth: 10, showHidden: true }),
      value instanceof Error ? `${value.message} ${value.stack}` : "",
    ]
  ) {
    assertFalse(shown.includes(secret), `credential shown in: ${shown}`);
  }
}

// ---- option checks ---------------------------------------------------------

const BAD_OPTIONS: [unknown, typeof TypeError, string][] = [
  [
    42,
    TypeError,
    `Cannot create client as 'proxy' must be { url, basicAuth? }, { transport: "unix", path } or false: current value is 42`,
  ],
  [
    true,
    TypeError,
    `Cannot create client as 'proxy' must be { url, basicAuth? }, { transport: "unix", path } or false: current value is true`,
  ],
  [
    "http://proxy:3128",
    TypeError,
    `Cannot create client as 'proxy' must be { url, basicAuth? }, { transport: "unix", path } or false: current value is "http://proxy:3128"`,
  ],
  [
    { url: 3128 },
    TypeError,
    "Cannot create client as 'proxy.url' must be a string (an http:, https:, socks5: or socks5h: URL): current value is 3128",
  ],
  [
    { url: "not a url" },
    TypeError,
    `Cannot create client as 'proxy.url' must be a valid URL: current value is "not a url"`,
  ],
  [
    { url: `ftp://user:${SECRET}@proxy:21` },
    TypeError,
    `Cannot create client as 'proxy.url' must be an http:, https:, socks5: or socks5h: URL: current value is "ftp://***@proxy:21"`,
  ],
  [
    { url: `socks4://proxy:1080` },
    TypeError,
    `Cannot create client as 'proxy.url' must be an http:, https:, socks5: or socks5h: URL: current value is "socks4://proxy:1080"`,
  ],
  [
    { url: `http://user:${SECRET}@proxy:3128/proxy.pac` },
    TypeError,
    `Cannot create client as 'proxy.url' must be a URL without path, query or fragment: current value is "http://***@proxy:3128/proxy.pac"`,
  ],
  [
    { url: `http://user:${SECRET}%zz@proxy` },
    TypeError,
    `Cannot create client as 'proxy.url' must be a URL whose credentials are validly percent-encoded: current value is "http://***@proxy"`,
  ],
  [
    { url: "http://proxy", basicAuth: { username: "u" } },
    TypeError,
    "Cannot create client as 'proxy.basicAuth' must be { username: string, password: string }: current value is an object with username string and password undefined",
  ],
  [
    { url: "http://proxy", basicAuth: `u:${SECRET}` },
    TypeError,
    `Cannot create client as 'proxy.basicAuth' must be { username: string, password: string }: current value is a string`,
  ],
  [
    { url: "http://proxy", basicAuth: { username: "a:b", password: SECRET } },
    TypeError,
    "Cannot create client as 'proxy.basicAuth.username' must be free of ':' for Basic authentication (RFC 7617): current value is a name with ':'",
  ],
  [
    {
      url: "socks5://proxy",
      basicAuth: { username: "u".repeat(256), password: SECRET },
    },
    RangeError,
    "Cannot create client as 'proxy.basicAuth.username' must be 1 to 255 bytes long for a SOCKS5 proxy (RFC 1929): current value is 256 bytes long",
  ],
  [
    { url: `socks5h://u:${"p".repeat(300)}@proxy` },
    RangeError,
    "Cannot create client as 'proxy.url' must be a URL whose password is at most 255 bytes long for a SOCKS5 proxy (RFC 1929): current value is a URL whose password is 300 bytes long",
  ],
  [
    { transport: "tcp", path: "/run/x.sock" },
    TypeError,
    `Cannot create client as 'proxy.transport' must be "unix": current value is "tcp"`,
  ],
  [
    { transport: "unix" },
    TypeError,
    "Cannot create client as 'proxy.path' must be a non-empty string: current value is undefined",
  ],
  [
    { transport: "unix", path: "docker.sock" },
    TypeError,
    `Cannot create client as 'proxy.path' must be an absolute path: current value is "docker.sock"`,
  ],
  [
    { transport: "unix", path: "./run/docker.sock" },
    TypeError,
    `Cannot create client as 'proxy.path' must be an absolute path: current value is "./run/docker.sock"`,
  ],
];

Deno.test("parseProxyOption() rejects bad values with the option named", () => {
  for (const [value, ErrorClass, message] of BAD_OPTIONS) {
    const error = assertThrows(() => parseProxyOption(value), ErrorClass);
    assertEquals(error.constructor, ErrorClass);
    assertEquals(error.message, message);
    assertNoSecret(error);
  }
});

Deno.test("parseProxyOption() takes the shapes of Deno.createHttpClient", () => {
  assertEquals(parseProxyOption(undefined), { kind: "env" });
  assertEquals(parseProxyOption(false), { kind: "none" });
  assertEquals(
    parseProxyOption({ transport: "unix", path: "/run/docker.sock" }),
    { kind: "unix", path: "/run/docker.sock" },
  );
  const setting = parseProxyOption({ url: "http://proxy:3128" });
  assert(setting.kind === "proxy");
  assertInstanceOf(setting.proxy, ProxyEndpoint);
});

// ---- explicit proxies ------------------------------------------------------

const EXPLICIT: [option: unknown, display: string, extra?: {
  hostname?: string;
  port?: number;
  username?: string;
  password?: string;
}][] = [
  [{ url: "http://proxy:3128" }, "http://proxy:3128", { port: 3128 }],
  [{ url: "http://proxy/" }, "http://proxy:80", { port: 80 }],
  [{ url: "https://proxy.corp" }, "https://proxy.corp:443", { port: 443 }],
  [{ url: "socks5://proxy" }, "socks5://proxy:1080", { port: 1080 }],
  [{ url: "socks5h://PROXY:9050" }, "socks5h://proxy:9050", { port: 9050 }],
  [{ url: "http://[::1]:3128" }, "http://[::1]:3128", { hostname: "::1" }],
  [
    { url: `http://al%20ice:${SECRET}%40%3A%25@proxy:3128` },
    "http://proxy:3128",
    { username: "al ice", password: `${SECRET}@:%` },
  ],
  [
    {
      url: "http://urluser:urlpass@proxy:3128",
      basicAuth: { username: "bob", password: SECRET },
    },
    "http://proxy:3128",
    { username: "bob", password: SECRET },
  ],
  [
    { url: "socks5://proxy", basicAuth: { username: "ü", password: SECRET } },
    "socks5://proxy:1080",
    { username: "ü", password: SECRET },
  ],
];

Deno.test("proxyRouter() routes every URL through an explicit proxy", () => {
  // The environment is not consulted, NO_PROXY included.
  const noisy = env({ https_proxy: "http://other:1", no_proxy: "*" });
  for (const [option, display, extra = {}] of EXPLICIT) {
    for (const url of ["http://example.com/", "https://localhost:8443/"]) {
      const r = route(option, url, noisy);
      assert(r.kind === "proxy", display);
      assertEquals(r.display, display);
      assertEquals(r.source, "proxy");
      if (extra.hostname) assertEquals(r.proxy.hostname, extra.hostname);
      if (extra.port) assertEquals(r.proxy.port, extra.port);
      if (extra.username !== undefined) {
        assertEquals(r.proxy.credentials(), {
          username: extra.username,
          password: extra.password!,
        });
        assertNoSecret(r);
        assertNoSecret(r.proxy);
      } else {
        assertEquals(r.proxy.credentials(), undefined);
        assertEquals(r.proxy.authorization(), undefined);
      }
    }
  }
});

Deno.test("ProxyEndpoint.authorization() is Basic over UTF-8 (RFC 7617)", () => {
  const r = route(
    {
      url: "http://proxy",
      basicAuth: { username: "jürgen", password: "pä:ss" },
    },
    "http://x/",
  );
  assert(r.kind === "proxy");
  const value = r.proxy.authorization()!;
  assert(value.startsWith("Basic "));
  const bytes = Uint8Array.from(atob(value.slice(6)), (c) => c.charCodeAt(0));
  assertEquals(new TextDecoder().decode(bytes), "jürgen:pä:ss");
  assertEquals(
    route({ url: `http://Aladdin:open%20sesame@proxy` }, "http://x/").kind,
    "proxy",
  );
  const aladdin = route({ url: "http://Aladdin:open%20sesame@p" }, "http://x/");
  assert(aladdin.kind === "proxy");
  assertEquals(
    aladdin.proxy.authorization(),
    "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
  );
});

Deno.test("proxyRouter() sends everything to a Unix socket, or nothing through a proxy with false", () => {
  const proxied = env({ http_proxy: "http://p:1", https_proxy: "http://p:1" });
  for (const url of ["http://localhost/", "https://example.com/v1.45/info"]) {
    assertEquals(
      route({ transport: "unix", path: "/var/run/docker.sock" }, url, proxied),
      {
        kind: "unix",
        path: "/var/run/docker.sock",
        display: "unix:/var/run/docker.sock",
      },
    );
    assertEquals(route(false, url, proxied), {
      kind: "direct",
      display: "direct",
    });
  }
  assertFalse(proxyRouter(false, proxied).fromEnv);
  assert(proxyRouter(undefined, proxied).fromEnv);
});

// ---- the environment -------------------------------------------------------

/** [vars, cgi, url, expected display (source variable)]. */
const ENV_CASES: [ProxyEnv["vars"], boolean, string, string, string?][] = [
  [{}, false, "http://example.com/", "direct"],
  [
    { HTTP_PROXY: "http://up:1" },
    false,
    "http://example.com/",
    "http://up:1",
    "HTTP_PROXY",
  ],
  [{ HTTP_PROXY: "http://up:1" }, false, "https://example.com/", "direct"],
  [
    { http_proxy: "http://low:1", HTTP_PROXY: "http://up:1" },
    false,
    "http://example.com/",
    "http://low:1",
    "http_proxy",
  ],
  [
    { https_proxy: "http://low:2", HTTPS_PROXY: "http://up:2" },
    false,
    "https://example.com/",
    "http://low:2",
    "https_proxy",
  ],
  [
    { HTTPS_PROXY: "https://up:2" },
    false,
    "https://example.com/",
    "https://up:2",
    "HTTPS_PROXY",
  ],
  [
    { ALL_PROXY: "socks5://all:3" },
    false,
    "http://example.com/",
    "socks5://all:3",
    "ALL_PROXY",
  ],
  [
    { all_proxy: "socks5h://all:3" },
    false,
    "https://example.com/",
    "socks5h://all:3",
    "all_proxy",
  ],
  [
    { all_proxy: "socks5://all:3", HTTPS_PROXY: "http://up:2" },
    false,
    "https://example.com/",
    "http://up:2",
    "HTTPS_PROXY",
  ],
  [
    { all_proxy: "socks5://all:3", HTTPS_PROXY: "http://up:2" },
    false,
    "http://example.com/",
    "socks5://all:3",
    "all_proxy",
  ],
  // httpoxy: a CGI request sets HTTP_PROXY from its Proxy header.
  [{ HTTP_PROXY: "http://evil:1" }, true, "http://example.com/", "direct"],
  [
    { HTTP_PROXY: "http://evil:1", ALL_PROXY: "http://all:3" },
    true,
    "http://example.com/",
    "http://all:3",
    "ALL_PROXY",
  ],
  [
    { http_proxy: "http://low:1" },
    true,
    "http://example.com/",
    "http://low:1",
    "http_proxy",
  ],
  [
    { HTTPS_PROXY: "http://up:2" },
    true,
    "https://example.com/",
    "http://up:2",
    "HTTPS_PROXY",
  ],
  // Go and curl take host:port as an http: proxy.
  [
    { https_proxy: "proxy.corp:3128" },
    false,
    "https://a.test/",
    "http://proxy.corp:3128",
    "https_proxy",
  ],
  [
    { https_proxy: " proxy.corp:3128 " },
    false,
    "https://a.test/",
    "http://proxy.corp:3128",
    "https_proxy",
  ],
  [
    { https_proxy: "ftp://proxy.corp" },
    false,
    "https://a.test/",
    "invalid https_proxy",
  ],
  [{ https_proxy: "http://" }, false, "https://a.test/", "invalid https_proxy"],
  // NO_PROXY applies to every proxy variable, even an unusable one.
  [
    { https_proxy: "ftp://proxy.corp", no_proxy: "a.test" },
    false,
    "https://a.test/",
    "direct",
  ],
  [
    { http_proxy: "http://p:1", NO_PROXY: "example.com" },
    false,
    "http://www.example.com/",
    "direct",
  ],
  [
    {
      http_proxy: "http://p:1",
      no_proxy: "other.com",
      NO_PROXY: "example.com",
    },
    false,
    "http://www.example.com/",
    "http://p:1",
    "http_proxy",
  ],
  // Loopback goes through the proxy unless NO_PROXY says otherwise.
  [
    { http_proxy: "http://p:1" },
    false,
    "http://localhost:8080/",
    "http://p:1",
    "http_proxy",
  ],
  [
    { http_proxy: "http://p:1" },
    false,
    "http://127.0.0.1/",
    "http://p:1",
    "http_proxy",
  ],
  [
    { https_proxy: "http://p:1" },
    false,
    "https://[::1]/",
    "http://p:1",
    "https_proxy",
  ],
  [
    { http_proxy: "http://p:1", no_proxy: "localhost,127.0.0.0/8,::1" },
    false,
    "http://localhost:8080/",
    "direct",
  ],
  [
    { http_proxy: "http://p:1", no_proxy: "127.0.0.0/8" },
    false,
    "http://127.0.0.2/",
    "direct",
  ],
  [
    { https_proxy: "http://p:1", no_proxy: "::1" },
    false,
    "https://[::1]:8443/",
    "direct",
  ],
];

Deno.test("proxyRouter() picks the environment's proxy variable as Go does, lower case first", () => {
  for (const [vars, cgi, url, display, source] of ENV_CASES) {
    const r = route(undefined, url, env(vars, cgi));
    const label = `${JSON.stringify(vars)} cgi=${cgi} ${url}`;
    assertEquals(r.display, display, label);
    if (source !== undefined) {
      assert(r.kind === "proxy", label);
      assertEquals(r.source, source, label);
    }
  }
});

Deno.test("proxyRouter() says which variable is unusable, without its value", () => {
  const r = route(
    undefined,
    "https://a.test/",
    env({ HTTPS_PROXY: `ftp://user:${SECRET}@proxy` }),
  );
  assertEquals(r, {
    kind: "invalid",
    display: "invalid HTTPS_PROXY",
    reason: "HTTPS_PROXY must be an http:, https:, socks5: or socks5h: URL",
  });
  const long = route(
    undefined,
    "https://a.test/",
    env({ ALL_PROXY: `socks5://${"u".repeat(300)}:${SECRET}@proxy` }),
  );
  assert(long.kind === "invalid");
  assertStringIncludes(
    long.reason,
    "ALL_PROXY must be a URL whose username is 1 to 255 bytes long",
  );
  assertNoSecret(long);
});

Deno.test("proxyRouter() never shows credentials from the environment", () => {
  const r = route(
    undefined,
    "https://a.test/",
    env({ https_proxy: `http://bob:${SECRET}@proxy.corp:3128` }),
  );
  assert(r.kind === "proxy");
  assertEquals(r.display, "http://proxy.corp:3128");
  assertEquals(r.proxy.credentials(), { username: "bob", password: SECRET });
  assertNoSecret(r);
  assertNoSecret(r.proxy);
  assertNoSecret({ routes: [r, r.proxy] });
  assertEquals(JSON.stringify(r.proxy), `"http://proxy.corp:3128"`);
  assertEquals(`${r.proxy}`, "http://proxy.corp:3128");
});

Deno.test("redactUrl() hides everything up to the last '@'", () => {
  assertEquals(redactUrl(`http://u:${SECRET}@h:1/x`), "http://***@h:1/x");
  assertEquals(redactUrl(`http://u:p@${SECRET}@h`), "http://***@h");
  assertEquals(redactUrl(`u:${SECRET}@h:1`), "***@h:1");
  assertEquals(redactUrl(`http:/u:${SECRET}@h`), "***@h");
  assertEquals(redactUrl("http://h:1/"), "http://h:1/");
});

// ---- NO_PROXY --------------------------------------------------------------

/** [NO_PROXY, URL, bypasses the proxy]. */
const NO_PROXY_CASES: [string, string, boolean][] = [
  ["", "http://example.com/", false],
  [" , ,", "http://example.com/", false],
  ["*", "http://anything.test:1234/", true],
  ["a.test,*", "http://b.test/", true],
  // A domain matches itself and its subdomains, with or without a dot.
  ["example.com", "http://example.com/", true],
  ["example.com", "http://www.example.com/", true],
  ["example.com", "http://a.b.example.com/", true],
  ["example.com", "http://notexample.com/", false],
  ["example.com", "http://example.com.evil.test/", false],
  ["www.example.com", "http://example.com/", false],
  [".example.com", "http://www.example.com/", true],
  // Go: ".example.com" skips example.com itself; Deno's fetch: it matches.
  [".example.com", "http://example.com/", true],
  ["*.example.com", "http://example.com/", true],
  ["*.example.com", "http://a.example.com/", true],
  ["EXAMPLE.Com", "http://www.example.COM/", true],
  ["  a.test , example.com  ", "http://example.com/", true],
  // host:port entries match that port only (the URL's default port counts).
  ["example.com:8080", "http://example.com:8080/", true],
  ["example.com:8080", "http://example.com/", false],
  ["example.com:443", "https://example.com/", true],
  ["example.com:80", "https://example.com/", false],
  // IP addresses, IPv6 with or without brackets, CIDR blocks.
  ["192.168.1.10", "http://192.168.1.10/", true],
  ["192.168.1.10", "http://192.168.1.11/", false],
  ["192.168.1.10:8080", "http://192.168.1.10:8080/", true],
  ["192.168.1.10:8080", "http://192.168.1.10/", false],
  ["10.0.0.0/8", "http://10.20.30.40/", true],
  ["10.0.0.0/8", "http://11.0.0.1/", false],
  ["192.168.0.0/23", "http://192.168.1.255/", true],
  ["192.168.0.0/23", "http://192.168.2.0/", false],
  ["0.0.0.0/0", "http://8.8.8.8/", true],
  ["10.0.0.0/33", "http://10.0.0.1/", false],
  ["::1", "http://[::1]/", true],
  ["[::1]", "http://[::1]/", true],
  ["[::1]:8080", "http://[::1]:8080/", true],
  ["[::1]:8080", "http://[::1]/", false],
  ["2001:db8::/32", "http://[2001:db8:1::5]/", true],
  ["2001:db8::/32", "http://[2001:db9::5]/", false],
  ["2001:DB8:0:0:0:0:0:1", "http://[2001:db8::1]/", true],
  ["fe80::/10", "http://10.0.0.1/", false],
  // An IPv4-mapped IPv6 address is its IPv4 address.
  ["10.0.0.0/8", "http://[::ffff:10.0.0.1]/", true],
  ["::ffff:10.0.0.1", "http://10.0.0.1/", true],
  // Names are matched as written, never resolved.
  ["localhost", "http://localhost/", true],
  ["localhost", "http://127.0.0.1/", false],
  ["127.0.0.1", "http://localhost/", false],
  ["127.0.0.0/8", "http://localhost/", false],
  // Internationalised names compare as the URL carries them (punycode).
  ["bücher.example", "http://xn--bcher-kva.example/", true],
  ["xn--bcher-kva.example", "http://bücher.example/", true],
  // Entries that are neither are ignored.
  [":8080", "http://example.com:8080/", false],
  ["[::1", "http://[::1]/", false],
];

Deno.test("parseNoProxy() matches hosts by Go's httpproxy rules, with Deno's two differences", () => {
  for (const [value, url, expected] of NO_PROXY_CASES) {
    const u = new URL(url);
    const port = u.port === ""
      ? (u.protocol === "https:" ? 443 : 80)
      : Number(u.port);
    assertEquals(
      parseNoProxy(value).matches(u.hostname, port),
      expected,
      `NO_PROXY=${JSON.stringify(value)} ${url}`,
    );
  }
});

Deno.test("parseIp() reads IPv4 as Go's ParseIP does, and IPv6 in every spelling", () => {
  assertEquals(parseIp("1.2.3.4"), Uint8Array.of(1, 2, 3, 4));
  assertEquals(parseIp("01.2.3.4"), null);
  assertEquals(parseIp("1.2.3"), null);
  assertEquals(parseIp("256.1.1.1"), null);
  assertEquals(parseIp("::"), new Uint8Array(16));
  assertEquals(parseIp("::1"), Uint8Array.of(...new Uint8Array(15), 1));
  assertEquals(parseIp("1::"), Uint8Array.of(0, 1, ...new Uint8Array(14)));
  assertEquals(parseIp("::ffff:1.2.3.4"), Uint8Array.of(1, 2, 3, 4));
  assertEquals(parseIp("64:ff9b::1.2.3.4")?.length, 16);
  assertEquals(parseIp("1:2:3:4:5:6:7:8")?.length, 16);
  assertEquals(parseIp("1:2:3:4:5:6:7:8:9"), null);
  assertEquals(parseIp("1::2::3"), null);
  assertEquals(parseIp("fe80::1%eth0"), null);
  assertEquals(parseIp("example.com"), null);
});

// ---- reading the environment ---------------------------------------------

const VARS = [
  "http_proxy",
  "HTTP_PROXY",
  "https_proxy",
  "HTTPS_PROXY",
  "all_proxy",
  "ALL_PROXY",
  "no_proxy",
  "NO_PROXY",
  "REQUEST_METHOD",
];

Deno.test("readProxyEnv() reads the proxy variables that are set and not empty", () => {
  const saved = new Map(VARS.map((name) => [name, Deno.env.get(name)]));
  try {
    for (const name of VARS) Deno.env.delete(name);
    Deno.env.set("https_proxy", `http://bob:${SECRET}@proxy:3128`);
    Deno.env.set("HTTP_PROXY", "http://up:1");
    Deno.env.set("NO_PROXY", "internal.test");
    Deno.env.set("all_proxy", "");
    assertEquals(readProxyEnv(), {
      vars: {
        HTTP_PROXY: "http://up:1",
        https_proxy: `http://bob:${SECRET}@proxy:3128`,
        NO_PROXY: "internal.test",
      },
      cgi: false,
    });
    Deno.env.set("REQUEST_METHOD", "GET");
    assertEquals(readProxyEnv().cgi, true);
    const router = proxyRouter(undefined);
    assertEquals(router.routeFor(new URL("http://a.test/")).display, "direct");
    assertEquals(
      router.routeFor(new URL("https://a.test/")).display,
      "http://proxy:3128",
    );
    assertEquals(
      router.routeFor(new URL("https://x.internal.test/")).display,
      "direct",
    );
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) Deno.env.delete(name);
      else Deno.env.set(name, value);
    }
  }
});

Deno.test("parseTransportOptions() checks connect, tcpKeepAlive and tls.cert with a proxy", () => {
  const noEnv = env({});
  assertEquals(
    assertThrows(
      () =>
        parseTransportOptions(
          { connect: { socketPath: "/x", timeout: 1 } },
          noEnv,
        ),
      TypeError,
    ).message,
    `Cannot create client as 'connect' must be a function (target: { hostname, port, signal }) => Promise<Deno.Conn>; for a Unix socket use 'proxy: { transport: "unix", path }', for a time limit 'connectTimeout': current value is an object with keys socketPath, timeout`,
  );
  assertEquals(
    assertThrows(
      () => parseTransportOptions({ tcpKeepAlive: "yes" }, noEnv),
      TypeError,
    )
      .message,
    `Cannot create client as 'tcpKeepAlive' must be a boolean: current value is "yes"`,
  );
  for (
    const [option, over] of [
      [{ proxy: { url: `http://u:${SECRET}@p:1` } }, "'proxy'"],
      [{ proxy: { transport: "unix", path: "/x.sock" } }, "'proxy'"],
      [{ connect: () => Promise.reject(new Error()) }, "'connect'"],
    ] as const
  ) {
    const error = assertThrows(
      () => parseTransportOptions({ ...option, tls: { cert: "PEM" } }, noEnv),
      TypeError,
    );
    assertEquals(
      error.message,
      `Cannot create client as 'tls.cert' must be unset when ${over} is given, as TLS over such a connection uses Deno.startTls, which takes no client certificate: current value is a client certificate`,
    );
    assertNoSecret(error);
  }
  // From the environment, the route is only known per URL: dial() says so.
  const settings = parseTransportOptions(
    { tls: { cert: "PEM" } },
    env({ https_proxy: "http://p:1" }),
  );
  assertEquals(settings.tcpKeepAlive, true);
  assertEquals(settings.connect, undefined);
  assertEquals(
    settings.router.routeFor(new URL("https://a.test/")).display,
    "http://p:1",
  );
  assertEquals(
    parseTransportOptions({ proxy: false, tls: { cert: "PEM" } }, noEnv).router
      .fromEnv,
    false,
  );
});

// ---- a process without env permission --------------------------------------

/** What a child process printed, and whether it asked for a permission. */

const ENV_CHILD = (moduleUrl: string) => `
import { proxyRouter, readProxyEnv } from ${JSON.stringify(moduleUrl)};
const env = readProxyEnv();
const router = proxyRouter(undefined, env);
console.log("RESULT " + JSON.stringify({
  vars: Object.keys(env.vars).sort(),
  cgi: env.cgi,
  http: router.routeFor(new URL("http://example.com/")).display,
  https: router.routeFor(new URL("https://example.com/")).display,
}));
`;

const PROXY_ENV_VARS = {
  HTTP_PROXY: `http://bob:${SECRET}@proxy.corp:3128`,
  HTTPS_PROXY: `http://bob:${SECRET}@proxy.corp:3128`,
  ALL_PROXY: "socks5://proxy.corp:1080",
  NO_PROXY: "internal.test",
};

function resultOf(run: PromptableRun): Record<string, unknown> {
  const line = run.output.split(/\r?\n/).find((l) => l.startsWith("RESULT "));
  assert(line !== undefined, `no result in: ${run.output}`);
  return JSON.parse(line.slice("RESULT ".length));
}

Deno.test("readProxyEnv() without env permission neither prompts nor throws: the route is direct", async () => {
  const moduleUrl = new URL("../_proxy_env.ts", import.meta.url).href;
  if (!HAS_TERMINAL) {
    console.warn(
      "%cscript(1) is not installed: the child runs without a terminal",
      "color: yellow",
    );
  } else {
    // The check is only worth something if a prompt would be seen: a plain
    // Deno.env.get() on the same terminal prompts.
    const control = await runPromptable(
      [],
      `console.log(Deno.env.get("HTTP_PROXY"));`,
      PROXY_ENV_VARS,
    );
    assert(control.prompted, `the control did not prompt: ${control.output}`);
  }
  const run = await runPromptable(
    ["--allow-read"],
    ENV_CHILD(moduleUrl),
    PROXY_ENV_VARS,
  );
  assertFalse(run.prompted, run.output);
  assert(run.success, run.output);
  assertEquals(resultOf(run), {
    vars: [],
    cgi: true,
    http: "direct",
    https: "direct",
  });
  assertFalse(run.output.includes(SECRET));
});

Deno.test("readProxyEnv() reads only the variables --allow-env names", async () => {
  const moduleUrl = new URL("../_proxy_env.ts", import.meta.url).href;
  // REQUEST_METHOD unreadable: the process may be CGI, so HTTP_PROXY is not used.
  const narrow = await runPromptable(
    ["--allow-read", "--allow-env=HTTPS_PROXY,HTTP_PROXY"],
    ENV_CHILD(moduleUrl),
    PROXY_ENV_VARS,
  );
  assertFalse(narrow.prompted, narrow.output);
  assertEquals(resultOf(narrow), {
    vars: ["HTTPS_PROXY", "HTTP_PROXY"],
    cgi: true,
    http: "direct",
    https: "http://proxy.corp:3128",
  });
  const withCgiCheck = await runPromptable(
    ["--allow-read", "--allow-env=HTTP_PROXY,REQUEST_METHOD"],
    ENV_CHILD(moduleUrl),
    PROXY_ENV_VARS,
  );
  assertFalse(withCgiCheck.prompted, withCgiCheck.output);
  assertEquals(resultOf(withCgiCheck), {
    vars: ["HTTP_PROXY"],
    cgi: false,
    http: "http://proxy.corp:3128",
    https: "direct",
  });
  assertFalse(
    narrow.output.includes(SECRET) || withCgiCheck.output.includes(SECRET),
  );
});
