// Copyright 2026 the pooled-fetch authors. MIT license.
// The retry rules of retry.ts, end to end through real loopback sockets:
// servers script exact bytes and count every request they receive (by an
// `x-request-id` header), so each test shows what reached the server, not
// only what the policy decided. The policy's own unit tests are in
// retry_test.ts.
//
// Timing: backoff waits use small real delays (`minDelay: 1, maxDelay: 5`).
// FakeTime is not used: the client arms connection, pool and backoff timers
// (some unref'd with `Deno.unrefTimer`) while real socket reads complete on
// the real event loop, and faked timers interleave badly with them. The one
// long wait (`Retry-After: 1`) is a real second.

import {
  assert,
  assertEquals,
  assertExists,
  assertGreater,
  assertGreaterOrEqual,
  assertInstanceOf,
  assertLess,
  assertLessOrEqual,
  assertMatch,
  assertNotEquals,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient, type RetryEvent } from "../mod.ts";
import { FetchError } from "../errors.ts";
import {
  latin1,
  type RawRequest,
  type RawServer,
  rawServer,
  response,
  ServerConn,
  waitFor,
} from "./_servers.ts";

const decoder = new TextDecoder();

/** One request as a test server received it. */
interface Seen {
  /** The server's number for the connection it came on, from 1. */
  conn: number;
  /** Its place among the requests of that connection, from 1. */
  nth: number;
  method: string;
  target: string;
  /** The `x-request-id` header. */
  id: string | undefined;
  /** The `idempotency-key` header. */
  key: string | undefined;
  body: string;
}

function record(req: RawRequest, conn: number, nth: number): Seen {
  return {
    conn,
    nth,
    method: req.method,
    target: req.target,
    id: req.header("x-request-id"),
    key: req.header("idempotency-key"),
    body: decoder.decode(req.body),
  };
}

/**
 * What a scripted server does with one request: the bytes to answer with, or
 * `null` to close the connection (a FIN: the request was read whole) without
 * answering, after whatever the script wrote itself.
 */
type Script = (
  seen: Seen,
  conn: ServerConn,
  total: number,
) => string | null | Promise<string | null>;

/** A raw server that records every request, then follows `script`. */
function scriptedServer(script: Script): RawServer & { seen: Seen[] } {
  const seen: Seen[] = [];
  const server = rawServer(async (conn) => {
    for (let nth = 1; nth <= 100; nth++) {
      const req = await conn.readRequest();
      if (req === null) return;
      const s = record(req, conn.id, nth);
      seen.push(s);
      const answer = await script(s, conn, seen.length);
      if (answer === null) return; // rawServer closes the connection.
      await conn.write(answer);
    }
  });
  return Object.assign(server, { seen });
}

/**
 * The keep-alive race, the FIN way: the first connection answers its first
 * request, then reads the second one whole and closes without answering.
 * Every later connection answers everything with `ok <id>`.
 */
function finRaceServer(): RawServer & { seen: Seen[] } {
  return scriptedServer((s) => {
    if (s.conn === 1 && s.nth === 2) return null;
    return response(`ok ${s.id}`);
  });
}

/**
 * The keep-alive race with unread bytes: the first connection answers its
 * first request, then reads only the first bytes of the second one (its head
 * start) and closes with the rest of it unread in the receive buffer. Every
 * later connection answers everything with `ok <id>`.
 *
 * Deno's `Conn.close()` calls `shutdown(SHUT_WR)` before `close(2)` (seen with
 * strace), so the client gets a FIN and then a reset: it reads EOF first. A
 * bare reset, with no FIN before it, needs a process that closes without
 * `shutdown`: see `pythonResetServer`.
 */
function resetRaceServer(): RawServer & { seen: Seen[] } {
  const seen: Seen[] = [];
  // rawServer closes the connection when this returns or throws; the test
  // asserts on what was seen.
  const server = rawServer(async (conn, socket) => {
    if (conn.id === 1) {
      const first = await conn.readRequest();
      if (first === null) return;
      seen.push(record(first, 1, 1));
      await conn.write(response("first"));
      // The next request is not read through `conn`, which would read it
      // whole: only its first bytes, straight from the socket.
      const buf = new Uint8Array(256);
      const n = await socket.read(buf);
      if (n === null) return;
      const text = latin1(buf.subarray(0, n));
      seen.push({
        conn: 1,
        nth: 2,
        method: text.slice(0, text.indexOf(" ")),
        target: text.split(" ")[1] ?? "",
        id: /\r\nx-request-id: *([^\r]*)\r\n/i.exec(text)?.[1],
        key: /\r\nidempotency-key: *([^\r]*)\r\n/i.exec(text)?.[1],
        body: "",
      });
      // Let the rest of the request land in the receive buffer, unread.
      await delay(20);
      return;
    }
    for (let nth = 1; nth <= 100; nth++) {
      const req = await conn.readRequest();
      if (req === null) return;
      const s = record(req, conn.id, nth);
      seen.push(s);
      await conn.write(response(`ok ${s.id}`));
    }
  });
  return Object.assign(server, { seen });
}

/** An origin nothing listens on: connecting to it is refused. */
function refusedOrigin(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return `http://127.0.0.1:${port}`;
}

function idHeader(id: string, extra: Record<string, string> = {}): {
  headers: Record<string, string>;
} {
  return { headers: { "x-request-id": id, ...extra } };
}

/** The POST of an order, with `x-request-id: post` and `extra` headers. */
function postOrder(extra: Record<string, string> = {}): RequestInit {
  return { method: "POST", ...idHeader("post", extra), body: "order" };
}

function ids(seen: Seen[]): (string | undefined)[] {
  return seen.map((s) => s.id);
}

/** Fast backoff for tests, plus an `onRetry` that records every event. */
/** Short backoff, status retries on as a caller turns them on, events kept. */
function fastRetry(
  events: RetryEvent[],
  extra: Record<string, unknown> = {},
) {
  return {
    minDelay: 1,
    maxDelay: 5,
    statusCodes: [429, 502, 503, 504],
    onRetry: (event: RetryEvent) => {
      events.push(event);
    },
    ...extra,
  };
}

// ---- case 1: nothing was written -------------------------------------------

Deno.test("Client.fetch() replays a refused connect at once for any method and gives up after maxAttempts with a TypeError saying how many", async () => {
  const origin = refusedOrigin();
  for (const method of ["GET", "POST"]) {
    const events: RetryEvent[] = [];
    await using client = createClient({
      retry: fastRetry(events, { maxAttempts: 4 }),
    });
    const error = await assertRejects(
      () =>
        client.fetch(`${origin}/x`, {
          method,
          body: method === "POST" ? "payload" : undefined,
        }),
      TypeError,
    );
    assertStringIncludes(error.message, "4 attempts");
    assertStringIncludes(error.message, origin);
    assertInstanceOf(error, FetchError);
    assertEquals(error.stage, "connect");
    assertInstanceOf(error.cause, Deno.errors.ConnectionRefused);
    assertEquals(
      events.map((e) => [e.attempt, e.nextAttempt, e.reason, e.delay]),
      [[1, 2, "connect", 0], [2, 3, "connect", 0], [3, 4, "connect", 0]],
    );
    for (const event of events) {
      assertEquals(event.method, method);
      assertInstanceOf(event.error, FetchError);
    }
    const { totals, origins } = client.stats();
    assertEquals(origins[0].connectFailures, 4);
    assertEquals(totals.retries.connect, 3);
    assertEquals(totals.retriesDenied, 0);
  }
});

Deno.test("Client.fetch() with retry: false still replays a refused connect, for 3 attempts in all", async () => {
  const origin = refusedOrigin();
  await using client = createClient({ retry: false });
  const error = await assertRejects(
    () => client.fetch(origin, { method: "POST", body: "x" }),
    TypeError,
  );
  assertStringIncludes(error.message, "3 attempts");
  const { totals, origins } = client.stats();
  assertEquals(origins[0].connectFailures, 3);
  assertEquals(totals.retries.connect, 2);
});

Deno.test("Client.fetch() with retry.maxAttempts 1 still replays a refused connect, as retry: false does", async () => {
  const origin = refusedOrigin();
  for (const retry of [false, { maxAttempts: 1 }] as const) {
    const events: RetryEvent[] = [];
    await using client = createClient({
      retry: retry === false ? false : fastRetry(events, retry),
    });
    const error = await assertRejects(() => client.fetch(origin), FetchError);
    assertEquals([error.stage, error.code, error.attempts], [
      "connect",
      "CONNECT_FAILED",
      3,
    ]);
    assertStringIncludes(error.message, "(gave up after 3 attempts)");
    assertEquals(client.stats().origins[0].connectFailures, 3);
  }
});

Deno.test("Client.fetch() replays a refused connect even when the retry budget is empty", async () => {
  const origin = refusedOrigin();
  const events: RetryEvent[] = [];
  await using client = createClient({
    retry: fastRetry(events, { budgetRatio: 0, budgetMinPerSecond: 0 }),
  });
  await assertRejects(() => client.fetch(origin), TypeError, "3 attempts");
  assertEquals(events.map((e) => e.reason), ["connect", "connect"]);
  const { totals, origins } = client.stats();
  assertEquals(origins[0].connectFailures, 3);
  assertEquals(totals.retriesDenied, 0);
});

// ---- case 2: the keep-alive race -------------------------------------------

Deno.test("Client.fetch() replays GET, PUT and DELETE at once on a new connection when a kept-alive connection is closed under them (FIN)", async () => {
  for (const method of ["GET", "PUT", "DELETE"]) {
    await using server = finRaceServer();
    const events: RetryEvent[] = [];
    await using client = createClient({ retry: fastRetry(events) });
    const warm = await client.fetch(server.origin, idHeader("warm"));
    assertEquals(await warm.text(), "ok warm");
    const res = await client.fetch(`${server.origin}/race`, {
      method,
      ...idHeader("race"),
      body: method === "PUT" ? "put body" : undefined,
    });
    assertEquals(res.status, 200);
    assertEquals(await res.text(), "ok race");
    assertEquals(ids(server.seen), ["warm", "race", "race"], method);
    assertEquals(server.seen.map((s) => s.conn), [1, 1, 2]);
    assertEquals(server.seen.map((s) => s.method), ["GET", method, method]);
    if (method === "PUT") {
      assertEquals(server.seen[1].body, "put body");
      assertEquals(server.seen[2].body, "put body");
    }
    assertEquals(server.accepted, 2);
    assertEquals(events.length, 1);
    const [event] = events;
    assertEquals(event.reason, "stale");
    assertEquals(event.delay, 0);
    assertEquals(event.attempt, 1);
    assertEquals(event.nextAttempt, 2);
    assertEquals(event.method, method);
    assertEquals(event.url, `${server.origin}/race`);
    assertEquals(event.status, undefined);
    assertInstanceOf(event.error, FetchError);
    assertEquals(event.error.stage, "sent");
    assertEquals(event.error.reused, true);
    assertInstanceOf(event.error.cause, Deno.errors.UnexpectedEof);
    const { totals } = client.stats();
    assertEquals(totals.retries.stale, 1);
    assertEquals(totals.retries.network, 0);
    assertEquals(totals.connectionsOpened, 2);
  }
});

Deno.test("Client.fetch() replays a PUT at once on a new connection when a kept-alive connection is closed under it with the request unread (FIN, then RST)", async () => {
  for (
    const [method, extra] of [
      ["PUT", {}],
      ["POST", { "idempotency-key": '"k-reset"' }],
    ] as const
  ) {
    await using server = resetRaceServer();
    const events: RetryEvent[] = [];
    await using client = createClient({ retry: fastRetry(events) });
    const warm = await client.fetch(server.origin, idHeader("warm"));
    assertEquals(await warm.text(), "first");
    // 64 KiB the server leaves unread, so its close is a reset.
    const body = "x".repeat(64 * 1024);
    const res = await client.fetch(server.origin, {
      method,
      ...idHeader("race", extra),
      body,
    });
    assertEquals(await res.text(), "ok race");
    assertEquals(ids(server.seen), ["warm", "race", "race"], method);
    assertEquals(server.seen.map((s) => s.method), ["GET", method, method]);
    assertEquals(server.seen[2].body, body);
    assertEquals(server.seen[2].conn, 2);
    assertEquals(server.accepted, 2);
    assertEquals(events.map((e) => [e.reason, e.delay]), [["stale", 0]]);
    const error = events[0].error;
    assertInstanceOf(error, FetchError);
    assertEquals([error.stage, error.reused], ["sent", true]);
    // EOF (the FIN came first), or the reset.
    assert(
      error.cause instanceof Deno.errors.UnexpectedEof ||
        error.cause instanceof Deno.errors.ConnectionReset,
      `unexpected cause: ${error.cause}`,
    );
    assertEquals(client.stats().totals.retries.stale, 1);
  }
});

/**
 * A server in a `python3` child process, for a bare reset: Python's
 * `socket.close()` does not call `shutdown`, so closing with unread bytes
 * sends a RST with no FIN before it. Connection 1 answers its first request,
 * reads 256 bytes of the second and closes; connection 2 answers `ok` and
 * closes. It prints its port, then one line per request it saw; every socket
 * operation times out after 5 s, so it always exits.
 */
const PYTHON_RESET_SERVER = `
import re, socket, sys, time
def say(*parts):
    print(*parts, flush=True)
def head(s):
    buf = b""
    while b"\\r\\n\\r\\n" not in buf:
        data = s.recv(65536)
        if not data:
            return None, b""
        buf += data
    i = buf.index(b"\\r\\n\\r\\n") + 4
    return buf[:i], buf[i:]
def rid(data):
    m = re.search(rb"x-request-id: *([^\\r]*)", data, re.I)
    return m.group(1).decode() if m else "-"
l = socket.socket()
l.settimeout(5)
l.bind(("127.0.0.1", 0))
l.listen()
say(l.getsockname()[1])
s, _ = l.accept()
s.settimeout(5)
h, _ = head(s)
say("seen", 1, h.split(b" ")[0].decode(), rid(h))
s.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nfirst")
data = s.recv(256)
say("seen", 1, data.split(b" ")[0].decode(), rid(data))
time.sleep(0.02)
s.close()
s, _ = l.accept()
s.settimeout(5)
h, rest = head(s)
m = re.search(rb"content-length: *(\\d+)", h, re.I)
n = int(m.group(1)) if m else 0
while len(rest) < n:
    rest += s.recv(65536)
say("seen", 2, h.split(b" ")[0].decode(), rid(h), len(rest))
s.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 7\\r\\nConnection: close\\r\\n\\r\\nok race")
while s.recv(65536):
    pass
s.close()
l.close()
`;

const HAS_PYTHON = (() => {
  try {
    return new Deno.Command("python3", {
      args: ["-c", ""],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "Client.fetch() replays a PUT at once on a new connection when a kept-alive connection is reset under it (bare RST)",
  ignore: !HAS_PYTHON,
  async fn() {
    const child = new Deno.Command("python3", {
      args: ["-c", PYTHON_RESET_SERVER],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let out = "";
    try {
      while (!out.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) break;
        out += value;
      }
      const port = Number.parseInt(out);
      assert(port > 0, `python3 server did not start: ${out}`);
      const origin = `http://127.0.0.1:${port}`;
      const events: RetryEvent[] = [];
      await using client = createClient({ retry: fastRetry(events) });
      const warm = await client.fetch(origin, idHeader("warm"));
      assertEquals(await warm.text(), "first");
      const res = await client.fetch(origin, {
        method: "PUT",
        ...idHeader("race"),
        body: "x".repeat(64 * 1024),
      });
      assertEquals(await res.text(), "ok race");
      assertEquals(events.map((e) => [e.reason, e.delay]), [["stale", 0]]);
      const error = events[0].error;
      assertInstanceOf(error, FetchError);
      assertEquals([error.stage, error.reused], ["sent", true]);
      assertInstanceOf(error.cause, Deno.errors.ConnectionReset);
      assertEquals(client.stats().totals.retries.stale, 1);
      assertEquals(client.stats().totals.connectionsOpened, 2);
    } finally {
      for (;;) {
        const { value, done } = await lines.read();
        if (done) break;
        out += value;
      }
      await child.status;
    }
    assertEquals(out.trim().split("\n").slice(1), [
      "seen 1 GET warm",
      "seen 1 PUT race",
      `seen 2 PUT race ${64 * 1024}`,
    ]);
  },
});

Deno.test("Client.fetch() with retry: false does not replay the keep-alive race", async () => {
  await using server = finRaceServer();
  await using client = createClient({ retry: false });
  await (await client.fetch(server.origin, idHeader("warm"))).text();
  const error = await assertRejects(
    () => client.fetch(server.origin, idHeader("race")),
    TypeError,
  );
  assertInstanceOf(error, FetchError);
  assertEquals([error.stage, error.reused], ["sent", true]);
  assertEquals(ids(server.seen), ["warm", "race"]);
  assertEquals(server.accepted, 1);
  assertEquals(client.stats().totals.retries.stale, 0);
});

Deno.test("Client.fetch() replays as stale a pipelined request the server closed the connection on without answering", async () => {
  // Connection 1 answers two requests, then reads the third and closes.
  await using server = scriptedServer((s) =>
    s.conn === 1 && s.nth === 3 ? null : response(`ok ${s.id}`)
  );
  const events: RetryEvent[] = [];
  await using client = createClient({
    maxConnectionsPerOrigin: 1,
    pipelining: 2,
    retry: fastRetry(events),
  });
  await (await client.fetch(server.origin, idHeader("warm"))).text();
  const texts = await Promise.all(
    ["a", "b"].map(async (id) =>
      (await client.fetch(server.origin, idHeader(id))).text()
    ),
  );
  assertEquals(texts, ["ok a", "ok b"]);
  assertEquals(ids(server.seen), ["warm", "a", "b", "b"]);
  assertEquals(server.seen.map((s) => s.conn), [1, 1, 1, 2]);
  assertEquals(events.map((e) => [e.reason, e.delay]), [["stale", 0]]);
  assertEquals(client.stats().totals.requestsPipelined, 1);
});

Deno.test({
  name:
    "Client.fetch() replays the keep-alive race on a new connection, not on an idle sibling",
  async fn() {
    await using server = scriptedServer(async (s) => {
      if (s.conn <= 2 && s.nth === 2) return null;
      // Hold the first answers so that two connections are opened.
      if (s.nth === 1) await delay(20);
      return response(`ok ${s.id}`);
    });
    const events: RetryEvent[] = [];
    await using client = createClient({
      retry: fastRetry(events, { maxAttempts: 2 }),
    });
    await Promise.all(
      ["w1", "w2"].map(async (id) =>
        (await client.fetch(server.origin, idHeader(id))).text()
      ),
    );
    assertEquals(client.stats().origins[0].idle, 2);
    const res = await client.fetch(server.origin, idHeader("race"));
    assertEquals(await res.text(), "ok race");
    assertEquals(events.map((e) => e.reason), ["stale"]);
    const race = server.seen.filter((s) => s.id === "race");
    assertEquals(race.length, 2);
    assertEquals(race[1].conn, 3);
    assertEquals(server.accepted, 3);
  },
});

Deno.test("Client.fetch() never replays a POST without Idempotency-Key after the keep-alive race: the server received it once", async () => {
  await using server = finRaceServer();
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  await (await client.fetch(server.origin, idHeader("warm"))).text();
  const error = await assertRejects(
    () => client.fetch(server.origin, postOrder()),
    TypeError,
  );
  assertInstanceOf(error, FetchError);
  assertEquals([error.stage, error.reused], ["sent", true]);
  assertEquals(ids(server.seen), ["warm", "post"]);
  assertEquals(server.accepted, 1);
  assertEquals(events, []);
  assertEquals(client.stats().totals.retries.stale, 0);
});

Deno.test("Client.fetch() replays a POST with an Idempotency-Key after the keep-alive race, with the same key", async () => {
  for (const header of ["idempotency-key", "x-idempotency-key"]) {
    await using server = finRaceServer();
    const events: RetryEvent[] = [];
    await using client = createClient({ retry: fastRetry(events) });
    await (await client.fetch(server.origin, idHeader("warm"))).text();
    const res = await client.fetch(
      server.origin,
      postOrder({ [header]: '"order-42"' }),
    );
    assertEquals(await res.text(), "ok post");
    assertEquals(ids(server.seen), ["warm", "post", "post"], header);
    assertEquals(server.seen.map((s) => s.body), ["", "order", "order"]);
    assertEquals(server.accepted, 2);
    assertEquals(events.map((e) => e.reason), ["stale"]);
  }
});

Deno.test("Client.fetch() with retry.idempotencyKey gives a POST a key and replays it after the keep-alive race", async () => {
  await using server = finRaceServer();
  const events: RetryEvent[] = [];
  await using client = createClient({
    retry: fastRetry(events, { idempotencyKey: true }),
  });
  await (await client.fetch(server.origin, idHeader("warm"))).text();
  const res = await client.fetch(server.origin, postOrder());
  assertEquals(await res.text(), "ok post");
  assertEquals(ids(server.seen), ["warm", "post", "post"]);
  assertEquals(server.seen[0].key, undefined); // A GET gets no key.
  const key = server.seen[1].key;
  assertExists(key);
  assertMatch(key, /^"[0-9a-f-]{36}"$/);
  assertEquals(server.seen[2].key, key);
  assertEquals(events.map((e) => e.reason), ["stale"]);
});

// ---- case 3: written on a fresh connection, or response under way ----------

/**
 * POSTs an order to a new `scriptedServer(script)` that fails it, and asserts
 * it failed with a FetchError and was not retried: the server received it
 * once and onRetry was never called. Returns the failure and how many
 * connections the server accepted.
 */
async function assertPostNotRetried(
  script: Script,
): Promise<{ error: FetchError; accepted: number }> {
  await using server = scriptedServer(script);
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const error = await assertRejects(
    () => client.fetch(server.origin, postOrder()),
    TypeError,
  );
  assertInstanceOf(error, FetchError);
  await delay(20);
  assertEquals(ids(server.seen), ["post"]);
  assertEquals(events, []);
  return { error, accepted: server.accepted };
}

Deno.test("Client.fetch() retries a GET with backoff when a fresh connection closes after reading it, and never a POST", async () => {
  await using server = scriptedServer((s) =>
    s.conn === 1 ? null : response(`ok ${s.id}`)
  );
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const res = await client.fetch(server.origin, idHeader("get"));
  assertEquals(await res.text(), "ok get");
  assertEquals(ids(server.seen), ["get", "get"]);
  assertEquals(server.seen.map((s) => s.conn), [1, 2]);
  assertEquals(events.length, 1);
  assertEquals(events[0].reason, "network");
  assertGreaterOrEqual(events[0].delay, 1);
  assertLessOrEqual(events[0].delay, 5);
  const error = events[0].error;
  assertInstanceOf(error, FetchError);
  assertEquals([error.stage, error.reused], ["sent", false]);
  assertEquals(client.stats().totals.retries.network, 1);

  const post = await assertPostNotRetried(() => null);
  assertEquals([post.error.stage, post.error.reused], ["sent", false]);
  assertEquals(post.accepted, 1);
});

Deno.test("Client.fetch() gives up after maxAttempts when every fresh connection closes unanswered, saying how many attempts", async () => {
  await using server = scriptedServer(() => null);
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const error = await assertRejects(
    () => client.fetch(server.origin, idHeader("get")),
    TypeError,
  );
  assertStringIncludes(error.message, "3 attempts");
  assertEquals(ids(server.seen), ["get", "get", "get"]);
  assertEquals(server.accepted, 3);
  assertEquals(events.map((e) => [e.attempt, e.reason]), [
    [1, "network"],
    [2, "network"],
  ]);
  for (const event of events) assertGreater(event.delay, 0);
});

Deno.test("Client.fetch() retries a GET whose response head was cut off, and never a POST", async () => {
  const halfHead: Script = async (s, conn) => {
    if (s.conn !== 1) return response(`ok ${s.id}`);
    await conn.write("HTTP/1.1 200 OK\r\nContent-Le");
    return null;
  };
  await using server = scriptedServer(halfHead);
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const res = await client.fetch(server.origin, idHeader("get"));
  assertEquals(await res.text(), "ok get");
  assertEquals(ids(server.seen), ["get", "get"]);
  assertEquals(events.map((e) => e.reason), ["network"]);
  assertGreater(events[0].delay, 0);
  const error = events[0].error;
  assertInstanceOf(error, FetchError);
  assertEquals(error.stage, "response");

  const post = await assertPostNotRetried(halfHead);
  assertEquals(post.error.stage, "response");
});

Deno.test("Client.fetch() never sends again a request whose response broke HTTP/1.1, and closes that connection", async (t) => {
  const broken: [string, string, Record<string, number>][] = [
    [
      "a bad status line",
      "HTTP/1.1 2x0 Broken\r\nContent-Length: 0\r\n\r\n",
      {},
    ],
    [
      "an invalid chunk size",
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
      {},
    ],
    [
      "conflicting Content-Length values",
      "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      {},
    ],
    [
      "a head over maxHeaderSize",
      `HTTP/1.1 200 OK\r\nX-Big: ${
        "x".repeat(4096)
      }\r\nContent-Length: 0\r\n\r\n`,
      { maxHeaderSize: 1024 },
    ],
  ];
  for (const [what, bytes, options] of broken) {
    await t.step(what, async () => {
      await using server = scriptedServer(() => bytes);
      const events: RetryEvent[] = [];
      await using client = createClient({
        ...options,
        retry: fastRetry(events, { maxAttempts: 5 }),
      });
      const error = await assertRejects(
        () => client.fetch(server.origin, idHeader("get")),
        FetchError,
      );
      assertEquals([error.stage, error.code], [
        "response",
        "MALFORMED_RESPONSE",
      ]);
      assertStringIncludes(error.message, "malformed response");
      assertEquals(events, []);
      assertEquals(ids(server.seen), ["get"]);
      assert(
        await waitFor(() => client.stats().origins[0].open === 0),
        "the connection that broke HTTP/1.1 was kept",
      );
    });
  }
});

Deno.test("Client.fetch() retries a headers timeout with backoff, not as stale, even on a reused connection", async () => {
  // Connection 1 answers its first request and stalls on the second.
  await using server = scriptedServer(async (s, conn) => {
    if (s.conn === 1 && s.nth === 2) {
      await conn.waitForClose(2000);
      return null;
    }
    return response(`ok ${s.id}`);
  });
  const events: RetryEvent[] = [];
  await using client = createClient({
    headersTimeout: 100,
    retry: fastRetry(events),
  });
  await (await client.fetch(server.origin, idHeader("warm"))).text();
  const res = await client.fetch(server.origin, idHeader("slow"));
  assertEquals(await res.text(), "ok slow");
  assertEquals(ids(server.seen), ["warm", "slow", "slow"]);
  assertEquals(server.seen.map((s) => s.conn), [1, 1, 2]);
  assertEquals(events.map((e) => e.reason), ["network"]);
  assertGreater(events[0].delay, 0);
  const error = events[0].error;
  assertInstanceOf(error, FetchError);
  assertEquals([error.stage, error.reused], ["sent", false]);
  assertInstanceOf(error.cause, DOMException);
  assertEquals(error.cause.name, "TimeoutError");
});

// ---- status retries ---------------------------------------------------------

Deno.test("Client.fetch() sends a request again at once on a new connection after a 408, with the same body", async () => {
  // The 408 comes without `Connection: close`: the client must drop the
  // connection itself.
  await using server = scriptedServer((s) =>
    s.conn === 1 ? response("timeout", { status: 408 }) : response(`ok ${s.id}`)
  );
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const res = await client.fetch(server.origin, {
    method: "PUT",
    ...idHeader("put"),
    body: "payload",
  });
  assertEquals(res.status, 200);
  assertEquals(await res.text(), "ok put");
  assertEquals(ids(server.seen), ["put", "put"]);
  assertEquals(server.seen.map((s) => s.conn), [1, 2]);
  assertEquals(server.seen.map((s) => s.body), ["payload", "payload"]);
  assertEquals(server.accepted, 2);
  assertEquals(
    events.map((e) => [e.reason, e.status, e.delay]),
    [["status", 408, 0]],
  );
  assertEquals(client.stats().totals.retries.status, 1);
});

Deno.test("Client.fetch() waits Retry-After: 0 after a 503 and Retry-After: 1 after a 429", async () => {
  for (const [status, retryAfter, delay] of [[503, 0, 0], [429, 1, 1000]]) {
    await using server = scriptedServer((s) =>
      s.nth === 1 && s.conn === 1
        ? response("busy", {
          status,
          headers: [`Retry-After: ${retryAfter}`],
        })
        : response(`ok ${s.id}`)
    );
    const events: RetryEvent[] = [];
    await using client = createClient({ retry: fastRetry(events) });
    const started = Date.now();
    const res = await client.fetch(server.origin, idHeader("get"));
    const elapsed = Date.now() - started;
    assertEquals(await res.text(), "ok get");
    assertEquals(ids(server.seen), ["get", "get"]);
    assertEquals(
      events.map((e) => [e.reason, e.status, e.delay]),
      [["status", status, delay]],
    );
    // maxDelay (5 ms) does not cut a Retry-After short.
    if (delay > 0) assertGreaterOrEqual(elapsed, delay - 50);
  }
});

Deno.test("Client.fetch() returns a 429 whose Retry-After is longer than maxRetryAfter", async () => {
  await using server = scriptedServer(() =>
    response("slow down", { status: 429, headers: ["Retry-After: 1"] })
  );
  const events: RetryEvent[] = [];
  await using client = createClient({
    retry: fastRetry(events, { maxRetryAfter: 500 }),
  });
  const started = Date.now();
  const res = await client.fetch(server.origin, idHeader("get"));
  assertLess(Date.now() - started, 500);
  assertEquals(res.status, 429);
  assertEquals(res.headers.get("retry-after"), "1");
  assertEquals(await res.text(), "slow down");
  assertEquals(ids(server.seen), ["get"]);
  assertEquals(events, []);
});

Deno.test("Client.fetch() backs off after a 503 without Retry-After", async () => {
  await using server = scriptedServer((s, _conn, total) =>
    total === 1 ? response("busy", { status: 503 }) : response(`ok ${s.id}`)
  );
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const res = await client.fetch(server.origin, idHeader("get"));
  assertEquals(await res.text(), "ok get");
  assertEquals(ids(server.seen), ["get", "get"]);
  assertEquals(events.map((e) => [e.reason, e.status]), [["status", 503]]);
  assertGreaterOrEqual(events[0].delay, 1);
  assertLessOrEqual(events[0].delay, 2); // min(maxDelay, minDelay * 2 ** 1)
});

Deno.test("Client.fetch() retries a 500 only when retry.statusCodes lists it", async () => {
  const script: Script = (s, _conn, total) =>
    total === 1 ? response("oops", { status: 500 }) : response(`ok ${s.id}`);

  await using plainServer = scriptedServer(script);
  await using plain = createClient({ retry: fastRetry([]) });
  const res = await plain.fetch(plainServer.origin, idHeader("default"));
  assertEquals(res.status, 500);
  assertEquals(await res.text(), "oops");
  assertEquals(ids(plainServer.seen), ["default"]);

  await using server = scriptedServer(script);
  const events: RetryEvent[] = [];
  await using client = createClient({
    retry: fastRetry(events, { statusCodes: [500] }),
  });
  const retried = await client.fetch(server.origin, idHeader("custom"));
  assertEquals(retried.status, 200);
  assertEquals(await retried.text(), "ok custom");
  assertEquals(ids(server.seen), ["custom", "custom"]);
  assertEquals(events.map((e) => e.status), [500]);

  // A status left out of the custom list is no longer retried.
  await using busyServer = scriptedServer(() =>
    response("busy", { status: 503 })
  );
  const busy = await client.fetch(busyServer.origin, idHeader("busy"));
  assertEquals(busy.status, 503);
  await busy.body?.cancel();
  assertEquals(ids(busyServer.seen), ["busy"]);
});

Deno.test("Client.fetch() returns a 503 to a POST without Idempotency-Key as it is", async () => {
  await using server = scriptedServer(() =>
    response("busy", { status: 503, headers: ["Retry-After: 0"] })
  );
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const res = await client.fetch(server.origin, postOrder());
  assertEquals(res.status, 503);
  assertEquals(await res.text(), "busy");
  assertEquals(ids(server.seen), ["post"]);
  assertEquals(events, []);
});

Deno.test("Client.fetch() returns the last attempt's response once maxAttempts are used up", async () => {
  await using server = scriptedServer((_s, _conn, total) =>
    response(`busy ${total}`, { status: 503 })
  );
  const events: RetryEvent[] = [];
  await using client = createClient({
    retry: fastRetry(events, { maxAttempts: 4 }),
  });
  const res = await client.fetch(server.origin, idHeader("get"));
  assertEquals(res.status, 503);
  assertEquals(await res.text(), "busy 4");
  assertEquals(ids(server.seen), ["get", "get", "get", "get"]);
  assertEquals(events.map((e) => e.attempt), [1, 2, 3]);
  assertEquals(client.stats().totals.retries.status, 3);
});

// ---- streamed bodies ----------------------------------------------------------

function streamOf(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  return new ReadableStream({
    start(controller) {
      controller.enqueue(bytes);
      controller.close();
    },
  });
}

Deno.test("Client.fetch() does not replay a ReadableStream body once writing began", async () => {
  // On a fresh connection (case 3) and after the keep-alive race (case 2).
  for (const race of [false, true]) {
    await using server = scriptedServer((s) =>
      (race ? s.conn === 1 && s.nth === 2 : s.conn === 1)
        ? null
        : response(`ok ${s.id}`)
    );
    const events: RetryEvent[] = [];
    await using client = createClient({ retry: fastRetry(events) });
    if (race) {
      await (await client.fetch(server.origin, idHeader("warm"))).text();
    }
    const error = await assertRejects(
      () =>
        client.fetch(server.origin, {
          method: "PUT",
          ...idHeader("stream"),
          body: streamOf("streamed"),
        }),
      TypeError,
    );
    assertInstanceOf(error, FetchError);
    assertEquals([error.stage, error.reused], ["sent", race]);
    await delay(20);
    const streamed = server.seen.filter((s) => s.id === "stream");
    assertEquals(streamed.length, 1);
    assertEquals(streamed[0].body, "streamed");
    assertEquals(events, []);
  }
});

Deno.test("Client.fetch() replays a ReadableStream body after a refused connect, since none of it was read", async () => {
  const origin = refusedOrigin();
  const { hostname, port } = new URL(origin);
  let listener: Deno.Listener | undefined;
  let served: Promise<Seen | undefined> | undefined;
  const events: RetryEvent[] = [];
  await using client = createClient({
    retry: {
      onRetry: (event) => {
        events.push(event);
        if (listener !== undefined) return;
        // Start listening before the replay, which goes at once.
        listener = Deno.listen({ hostname, port: Number(port) });
        const accepted = listener.accept();
        served = (async () => {
          const conn = new ServerConn(await accepted, 1);
          try {
            const req = await conn.readRequest();
            if (req === null) return undefined;
            await conn.write(
              response(`ok ${req.header("x-request-id")}`, {
                headers: ["Connection: close"],
              }),
            );
            return record(req, 1, 1);
          } finally {
            conn.close();
          }
        })();
      },
    },
  });
  try {
    const res = await client.fetch(origin, {
      method: "PUT",
      ...idHeader("stream"),
      body: streamOf("streamed"),
    });
    assertEquals(await res.text(), "ok stream");
    assertEquals(events.map((e) => [e.reason, e.delay]), [["connect", 0]]);
    const seen = await served;
    assertEquals(seen?.body, "streamed");
    assertEquals(seen?.method, "PUT");
  } finally {
    listener?.close();
    await served?.catch(() => {});
  }
});

// ---- the retry budget -----------------------------------------------------------

Deno.test("Client.fetch() stops retrying when the per-origin retry budget is spent", async () => {
  // Every connection is closed unanswered after its request was read: each
  // failure is case 3 (fresh connection), which draws on the budget.
  await using server = scriptedServer(() => null);
  const events: RetryEvent[] = [];
  const ratio = 0.1;
  const requests = 20;
  await using client = createClient({
    retry: fastRetry(events, { budgetRatio: ratio, budgetMinPerSecond: 0 }),
  });
  for (let i = 0; i < requests; i++) {
    await assertRejects(
      () => client.fetch(server.origin, idHeader(`r${i}`)),
      TypeError,
    );
  }
  const { totals } = client.stats();
  assertGreater(totals.retriesDenied, 0);
  // Without a budget each request would take 3 attempts (60 in all).
  assertLessOrEqual(server.seen.length, requests * (1 + ratio) + 0);
  assertEquals(server.seen.length, requests + totals.retries.network);
  assertEquals(totals.retries.network, events.length);
  assertLessOrEqual(totals.retries.network, Math.floor(requests * ratio));
  // Every request reached the server at least once.
  assertEquals(new Set(ids(server.seen)).size, requests);
});

// ---- abort ----------------------------------------------------------------------

Deno.test("Client.fetch() rejects with the signal's reason, unchanged, when aborted during the backoff wait, and sends nothing more", async () => {
  for (const failure of ["status", "network"]) {
    await using server = scriptedServer(() =>
      failure === "status" ? response("busy", { status: 503 }) : null
    );
    const controller = new AbortController();
    const reason = new Error(`stop ${failure}`);
    const events: RetryEvent[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    await using client = createClient({
      retry: {
        minDelay: 2000,
        maxDelay: 2000,
        statusCodes: [503],
        onRetry: (event) => {
          events.push(event);
          // Abort in the middle of the 2-second wait.
          timer = setTimeout(() => controller.abort(reason), 30);
        },
      },
    });
    const started = Date.now();
    const error = await assertRejects(() =>
      client.fetch(server.origin, {
        ...idHeader("get"),
        signal: controller.signal,
      })
    );
    clearTimeout(timer);
    assertStrictEquals(error, reason);
    assertLess(Date.now() - started, 1000);
    assertEquals(events.map((e) => [e.reason, e.delay]), [[failure, 2000]]);
    await delay(50);
    assertEquals(ids(server.seen), ["get"], failure);
  }
});

// ---- onRetry --------------------------------------------------------------------

Deno.test("Client.fetch() tells onRetry the attempt, next attempt, reason, delay, method, URL and status or error", async () => {
  // 1st attempt: a 503 on a fresh connection; 2nd (the same connection, now
  // reused): read and closed unanswered; 3rd, on a new connection: a 200.
  await using server = scriptedServer((s) => {
    if (s.conn === 1 && s.nth === 1) return response("busy", { status: 503 });
    if (s.conn === 1) return null;
    return response(`ok ${s.id}`);
  });
  const events: RetryEvent[] = [];
  await using client = createClient({ retry: fastRetry(events) });
  const url = `${server.origin}/items?q=1`;
  const res = await client.fetch(url, { method: "DELETE", ...idHeader("d") });
  assertEquals(await res.text(), "ok d");
  assertEquals(server.seen.map((s) => [s.conn, s.target]), [
    [1, "/items?q=1"],
    [1, "/items?q=1"],
    [2, "/items?q=1"],
  ]);
  assertEquals(events.length, 2);
  const [status, stale] = events;
  assertEquals(status.attempt, 1);
  assertEquals(status.nextAttempt, 2);
  assertEquals(status.reason, "status");
  assertEquals(status.status, 503);
  assertEquals(status.error, undefined);
  assertGreaterOrEqual(status.delay, 1);
  assertLessOrEqual(status.delay, 2);
  assertEquals(status.method, "DELETE");
  assertEquals(status.url, url);
  assertEquals(stale.attempt, 2);
  assertEquals(stale.nextAttempt, 3);
  assertEquals(stale.reason, "stale");
  assertEquals(stale.delay, 0);
  assertEquals(stale.status, undefined);
  assertInstanceOf(stale.error, TypeError);
  assertEquals(stale.method, "DELETE");
  assertEquals(stale.url, url);
  const { retries } = client.stats().totals;
  assertEquals([retries.status, retries.stale], [1, 1]);
});

Deno.test("Client.fetch() rejects with what onRetry throws and sends nothing more", async () => {
  await using server = scriptedServer(() =>
    response("busy", { status: 503, headers: ["Retry-After: 0"] })
  );
  const thrown = new Error("no more");
  await using client = createClient({
    retry: {
      statusCodes: [503],
      onRetry: () => {
        throw thrown;
      },
    },
  });
  const error = await assertRejects(() =>
    client.fetch(server.origin, idHeader("get"))
  );
  assertStrictEquals(error, thrown);
  await delay(20);
  assertEquals(ids(server.seen), ["get"]);
  assertNotEquals(server.accepted, 0);
});
