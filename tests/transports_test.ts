// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The client over every transport: explicit proxies (squid, microsocks,
 * nobody's code here), a scripted proxy for the faults, the environment,
 * a Unix socket, a custom dialer, and maxConnectionAge. dial() on its own is
 * tested in dial_test.ts and proxy_interop_test.ts.
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient, FetchError } from "../mod.ts";
import { keepAliveHandler, rawServer, response } from "./_servers.ts";
import { PEM } from "./_tls_servers.ts";
import {
  requireBinary,
  startMicrosocks,
  startSquid,
} from "./_proxy_servers.ts";

const squid = requireBinary("squid", "client through squid");
const openssl = squid === null
  ? null
  : requireBinary("openssl", "client through squid (password hash)");
const microsocks = requireBinary("microsocks", "client through microsocks");
const USER = { username: "alice", password: "s3cret-Pw" };

/**
 * Runs `code` in a child `deno run` (from stdin) after importing
 * `createClient`, with the given environment and permissions.
 */
async function runChild(
  code: string,
  options: { env?: Record<string, string>; permissions?: string[] } = {},
): Promise<{ success: boolean; stdout: string; stderr: string }> {
  const mod = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-check",
      "--quiet",
      "--no-prompt",
      ...(options.permissions ?? ["--allow-all"]),
      "-",
    ],
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(
      `import { createClient } from ${mod};\n${code}`,
    ),
  );
  await writer.close();
  const output = await child.output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** http and https origins on 127.0.0.1 that say what they saw. */
function origins() {
  const seen: { proxyAuth: boolean; auth: string | null }[] = [];
  const handler = (kind: string) => (req: Request) => {
    seen.push({
      proxyAuth: req.headers.has("proxy-authorization"),
      auth: req.headers.get("authorization"),
    });
    return new Response(`${kind} ${new URL(req.url).pathname}`);
  };
  const http = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    handler("plain"),
  );
  const https = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    cert: PEM.serverCert,
    key: PEM.serverKey,
  }, handler("tls"));
  return {
    http: `http://127.0.0.1:${http.addr.port}`,
    https: `https://127.0.0.1:${https.addr.port}`,
    seen,
    async [Symbol.asyncDispose]() {
      await http.shutdown();
      await https.shutdown();
    },
  };
}

async function texts(
  client: { fetch(url: string): Promise<Response> },
  urls: string[],
): Promise<string[]> {
  return await Promise.all(
    urls.map(async (u) => (await client.fetch(u)).text()),
  );
}

Deno.test({
  name:
    "createClient({ proxy }) sends http: through squid in absolute-form with credentials, and https: through pooled CONNECT tunnels",
  ignore: squid === null || openssl === null,
  async fn() {
    await using o = origins();
    const proxy = await startSquid(squid!, USER);
    try {
      await using client = createClient({
        proxy: {
          url: `http://127.0.0.1:${proxy.authPort}`,
          basicAuth: USER,
        },
        maxConnectionsPerOrigin: 2,
        pipelining: 4,
        tls: { caCerts: [PEM.ca] },
      });
      const paths = ["/a", "/b", "/c", "/d", "/e", "/f"];
      assertEquals(
        await texts(client, paths.map((p) => o.http + p)),
        paths.map((p) => `plain ${p}`),
      );
      assertEquals(
        await texts(client, paths.map((p) => o.https + p)),
        paths.map((p) => `tls ${p}`),
      );
      // Again: the tunnels and the proxy connections were kept.
      assertEquals(await texts(client, [o.https + "/g"]), ["tls /g"]);
      const stats = client.stats();
      for (const origin of stats.origins) {
        assertEquals(origin.route, `http://127.0.0.1:${proxy.authPort}`);
        assert(origin.connectionsOpened <= 2, JSON.stringify(origin));
      }
      const plain = stats.origins.find((s) => s.origin.startsWith("http:"))!;
      assertEquals(plain.requestsPipelined, 0, "pipelined to a proxy");
      assert(stats.totals.requestsOnReusedConnections > 0);
      // The credentials went to the proxy, never to the origin, and nowhere
      // else.
      assert(o.seen.every((s) => !s.proxyAuth && s.auth === null));
      assert(!JSON.stringify(stats).includes(USER.password));
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "createClient({ proxy }) returns a 407 squid gives a plain request, and fails a CONNECT it refuses with PROXY_AUTH, never retried",
  ignore: squid === null || openssl === null,
  async fn() {
    await using o = origins();
    const proxy = await startSquid(squid!, USER);
    try {
      await using client = createClient({
        proxy: { url: `http://127.0.0.1:${proxy.authPort}` },
        tls: { caCerts: [PEM.ca] },
        retry: { statusCodes: [502, 503, 504] },
      });
      const res = await client.fetch(`${o.http}/x`);
      assertEquals(res.status, 407);
      await res.body?.cancel();
      const error = await assertRejects(
        () => client.fetch(`${o.https}/x`),
        FetchError,
      );
      assertEquals([error.stage, error.code], ["connect", "PROXY_AUTH"]);
      assertStringIncludes(error.message, "407");
      const { totals } = client.stats();
      assertEquals(Object.values(totals.retries).reduce((a, b) => a + b), 0);
      assertEquals(o.seen.length, 0);
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name:
    "createClient({ proxy: socks5:// }) reaches http: and https: origins through microsocks with user and password",
  ignore: microsocks === null,
  async fn() {
    await using o = origins();
    const proxy = await startMicrosocks(microsocks!, USER);
    try {
      for (const scheme of ["socks5", "socks5h"]) {
        await using client = createClient({
          proxy: {
            url:
              `${scheme}://${USER.username}:${USER.password}@127.0.0.1:${proxy.port}`,
          },
          tls: { caCerts: [PEM.ca] },
        });
        assertEquals(await texts(client, [o.http + "/s", o.https + "/t"]), [
          "plain /s",
          "tls /t",
        ]);
        assertEquals(
          client.stats().origins.map((s) => s.route),
          [
            `${scheme}://127.0.0.1:${proxy.port}`,
            `${scheme}://127.0.0.1:${proxy.port}`,
          ],
        );
      }
    } finally {
      await proxy.close();
    }
  },
});

/** A proxy answering every CONNECT with `status`; counts them. */
function refusingProxy(status: number) {
  const connects: string[] = [];
  const server = rawServer(keepAliveHandler((req) => {
    connects.push(`${req.method} ${req.target}`);
    return response("no", { status });
  }));
  return Object.assign(server, { connects });
}

Deno.test("A CONNECT answered 503 is sent again with backoff, drawing on the retry budget; a 403 is not", async () => {
  for (const [status, attempts] of [[503, 3], [403, 1]] as const) {
    await using proxy = refusingProxy(status);
    await using client = createClient({
      proxy: { url: proxy.origin },
      retry: { minDelay: 1, maxDelay: 2 },
    });
    const error = await assertRejects(
      () => client.fetch("https://127.0.0.1:9/", { method: "POST", body: "x" }),
      FetchError,
    );
    assertEquals([error.stage, error.code], ["connect", "PROXY_FAILED"]);
    assertStringIncludes(error.message, String(status));
    assertEquals(proxy.connects, Array(attempts).fill("CONNECT 127.0.0.1:9"));
    assertEquals(client.stats().totals.retries.connect, attempts - 1);
  }
});

Deno.test("Proxies from the environment: HTTP_PROXY with NO_PROXY, and no prompt without env permission", async () => {
  await using proxy = rawServer(
    keepAliveHandler((req) => response(`proxied ${req.target}`)),
  );
  await using direct = rawServer(
    keepAliveHandler((req) => response(`direct ${req.target}`)),
  );
  const script = `
    const client = createClient();
    const a = await (await client.fetch("http://127.0.0.1:${direct.port}/a")).text();
    const b = await (await client.fetch("http://localhost:${direct.port}/b")).text();
    console.log(JSON.stringify({ a, b, routes: client.stats().origins.map((o) => o.route) }));
    await client.close();
  `;
  const env = {
    http_proxy: proxy.origin,
    NO_PROXY: "localhost",
  };
  const run = await runChild(script, { env });
  assert(run.success, run.stderr);
  assertEquals(JSON.parse(run.stdout), {
    a: `proxied http://127.0.0.1:${direct.port}/a`,
    b: "direct /b",
    routes: [proxy.origin, "direct"],
  });
  const denied = await runChild(script, {
    env,
    permissions: ["--allow-net", "--allow-read"],
  });
  assert(denied.success, denied.stderr);
  assertEquals(JSON.parse(denied.stdout).routes, ["direct", "direct"]);
  assert(!denied.stderr.includes("Granted"), denied.stderr);
});

Deno.test('createClient({ proxy: { transport: "unix" } }) sends every request to the socket, Host from the URL', async () => {
  const run = await runChild(
    `
    const dir = await Deno.makeTempDir();
    const path = dir + "/api.sock";
    const server = Deno.serve({ path, onListen() {} }, (req) =>
      new Response(req.headers.get("host") + " " + new URL(req.url).pathname));
    const client = createClient({ proxy: { transport: "unix", path }, pipelining: 2 });
    const texts = await Promise.all(["/a", "/b", "/c"].map(async (p) =>
      (await client.fetch("http://docker.invalid" + p)).text()));
    console.log(JSON.stringify({ texts, route: client.stats().origins[0].route, opened: client.stats().totals.connectionsOpened }));
    await client.close();
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  `,
  );
  assert(run.success, run.stderr);
  const out = JSON.parse(run.stdout);
  assertEquals(out.texts, [
    "docker.invalid /a",
    "docker.invalid /b",
    "docker.invalid /c",
  ]);
  assert(out.route.startsWith("unix:/"), out.route);
  assert(out.opened <= 3);
});

Deno.test("createClient({ connect }) dials through the caller's function, and refuses an object there", async () => {
  await using server = rawServer(keepAliveHandler(() => response("dialed")));
  const dialed: string[] = [];
  await using client = createClient({
    connect: ({ hostname, port, signal }) => {
      dialed.push(`${hostname}:${port}`);
      return Deno.connect({ hostname: "127.0.0.1", port: server.port, signal });
    },
  });
  assertEquals(
    await (await client.fetch("http://service.invalid:81/")).text(),
    "dialed",
  );
  assertEquals(dialed, ["service.invalid:81"]);
  const error = (() => {
    try {
      createClient({ connect: { socketPath: "/x" } as never });
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  assert(error instanceof TypeError);
  assertStringIncludes(
    error.message,
    "Cannot create client as 'connect' must be a function",
  );
  assertStringIncludes(error.message, 'transport: "unix"');
});

Deno.test("createClient() checks the transport options before any I/O", () => {
  const cases: [Record<string, unknown>, string][] = [
    [{ proxy: { url: "ftp://proxy:21" } }, "'proxy.url'"],
    [{ proxy: { url: "not a url" } }, "'proxy.url'"],
    [{ proxy: { transport: "unix", path: "relative.sock" } }, "'proxy.path'"],
    [{ tcpKeepAlive: "yes" }, "'tcpKeepAlive' must be a boolean"],
    [{ maxConnectionAge: 0 }, "'maxConnectionAge' must be a positive number"],
  ];
  for (const [options, message] of cases) {
    let thrown: unknown;
    try {
      createClient(options);
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof TypeError || thrown instanceof RangeError);
    assertStringIncludes((thrown as Error).message, message);
  }
  const secret = (() => {
    try {
      createClient({ proxy: { url: "gopher://me:hunter2@proxy:70" } });
    } catch (e) {
      return (e as Error).message;
    }
    return undefined;
  })();
  assert(secret !== undefined && !secret.includes("hunter2"), secret);
});

Deno.test("maxConnectionAge retires a connection: it takes no new request and closes once idle", async () => {
  await using server = rawServer(keepAliveHandler(() => response("ok")));
  await using client = createClient({ maxConnectionAge: 40 });
  assertEquals(await (await client.fetch(server.origin)).text(), "ok");
  await delay(60);
  assertEquals(await (await client.fetch(server.origin)).text(), "ok");
  const origin = client.stats().origins[0];
  assertEquals(origin.connectionsOpened, 2);
  assertEquals(origin.evictions.maxConnectionAge, 1);
  assertEquals(server.accepted, 2);
});
