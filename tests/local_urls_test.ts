// Copyright 2026 the pooled-fetch authors. MIT license.
// data:, blob: and file: URLs: fetchLocal() against the built-in fetch, case
// by case: the same status, statusText, headers, url, bytes and errors.

import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertThrows,
} from "@std/assert";
import { spy } from "@std/testing/mock";
import { fetchLocal, isLocalScheme } from "../_local_urls.ts";

/** What a fetch gave, in a form two fetches can be compared by. */
type Outcome =
  | {
    status: number;
    statusText: string;
    headers: [string, string][];
    url: string;
    /** The body's bytes, `null` for no body, or the error reading it. */
    body: number[] | null | string;
  }
  | { error: string };

/** An error by name; permission errors by message too (they must match). */
function describeError(error: unknown): string {
  if (!(error instanceof Error) && !(error instanceof DOMException)) {
    return `non-error ${String(error)}`;
  }
  return error instanceof Deno.errors.NotCapable
    ? `${error.name}: ${error.message}`
    : error.name;
}

async function outcome(fetching: () => Promise<Response>): Promise<Outcome> {
  let response: Response;
  try {
    response = await fetching();
  } catch (error) {
    return { error: describeError(error) };
  }
  let body: number[] | null | string = null;
  if (response.body !== null) {
    try {
      body = Array.from(new Uint8Array(await response.arrayBuffer()));
    } catch (error) {
      body = `body failed: ${describeError(error)}`;
    }
  }
  return {
    status: response.status,
    statusText: response.statusText,
    headers: [...response.headers],
    url: response.url,
    body,
  };
}

function ours(input: string, init: RequestInit = {}): Promise<Response> {
  return fetchLocal(new URL(input), {
    method: init.method ?? "GET",
    signal: init.signal ?? undefined,
  });
}

async function assertSameAsBuiltin(
  input: string,
  init?: RequestInit,
): Promise<Outcome> {
  const expected = await outcome(() => fetch(input, init));
  const actual = await outcome(() => ours(input, init));
  assertEquals(actual, expected);
  return actual;
}

// ---- data: -------------------------------------------------------------------

const DATA_URLS: string[] = [
  // Plain bodies: percent-decoding, the fragment, the query, the scheme's case.
  "data:,hello",
  "DATA:,hello",
  "data:,",
  "data:,a%20b%41",
  "data:,%E2%82%AC",
  "data:,€",
  "data:,%FF",
  "data:,%%32%30",
  "data:,x#fragment",
  "data:,a?b#c",
  "data:text/plain?x,y",
  "data:application/json,{%22a%22:1}",
  // MIME types: case, whitespace, parameters, quoting, failures.
  "data:text/plain,x",
  "data:TEXT/HTML;CHARSET=UTF-8;Foo=Bar,x",
  "data:  x/y  ,x",
  "data:text/plain ; charset = utf-8 ,x",
  "data:text/plain%20,x",
  "data:text/plain%0C,x",
  "data:x/y;,x",
  "data:;charset=utf-8,x",
  "data: ;charset=utf-8,x",
  "data:;,x",
  "data:;x=x;charset=x,X",
  "data:text/plain;charset=a;charset=b,x",
  "data:text/plain;charset=,x",
  "data:text/plain;charset,x",
  "data:text/plain;=x,x",
  "data:text/plain;;;a=b,x",
  "data:text/plain;a=b ;c=d,x",
  "data:text/plain;a= b,x",
  'data:text/plain;a="b c",x',
  'data:text/plain;a="bc,x',
  'data:text/plain;a="b"c;d=e,x',
  'data:text/plain;a="",x',
  'data:text/plain;a="b\\\\c",x',
  'data:text/plain;a="b\\",x',
  'data:x/y;a="\\a",x',
  'data:text/plain;a="x;y";b=c,x',
  'data:text/plain;a=",",X',
  'data:;CHARSET="X",X',
  "data:text/plain;a=%2C,X",
  "data:x/y;a=(b),x",
  "data:x/y;a=b=c,x",
  "data:text/plain;charset=é,x",
  "data:té/plain,x",
  "data:†/†,X",
  "data:application/vnd.api+json,x",
  "data:*/*,x",
  "data:foo,hello",
  "data:text/,x",
  "data:/plain,x",
  "data:text/pl@in,x",
  "data:x/y z,x",
  "data:x /y,x",
  "data:%00,%FF",
  // base64: the suffix, whitespace, padding, trailing bits, failures.
  "data:text/plain;base64,aGVsbG8=",
  "data:;base64,aGVsbG8",
  "data:image/png;base64,iVBORw0KGgo=",
  "data:TeXt/PlAiN;BaSe64,YQ==",
  "data: text/plain ; base64 ,aGk=",
  "data:text/plain; base64,aGk=",
  "data:text/plain;  base64,YQ==",
  "data:text/plain;%20base64,YQ==",
  "data:;%62ase64,WA",
  "data:%3Bbase64,WA",
  "data:;base 64,WA",
  "data:text/plain;base64=x,aGk=",
  "data:text/plain;base64;x=y,YQ==",
  "data:text/plain;x=y;base64,YQ==",
  "data:;base64;base64,YQ==",
  "data:x/x;base64;charset=x;base64,WA",
  "data:;base64;,WA",
  "data:;base64,",
  "data:;base64,a G k =",
  "data:;base64,aG%0Ck=",
  "data:;base64,aGk%3D",
  "data:;base64,YQ%3D%3D",
  "data:;base64,%20aGk",
  "data:;base64,aGk=%0A",
  "data:;base64,YR==",
  "data:;base64,YR",
  "data:;base64,YQ",
  "data:;base64,aGVsbA==",
  "data:;base64,aGVsbA",
  // Invalid: each is a TypeError.
  "data:hello",
  "data:text/plain;base64,a",
  "data:;base64,Y",
  "data:;base64,aGk==",
  "data:;base64,aGVsbA=",
  "data:;base64,aG=k",
  "data:;base64,====",
  "data:;base64,=",
  "data:;base64,ab-_",
  "data:;base64,aGk%FF",
];

for (const input of DATA_URLS) {
  Deno.test(
    `fetchLocal() answers ${JSON.stringify(input)} as the built-in fetch does`,
    async () => {
      await assertSameAsBuiltin(input);
    },
  );
}

Deno.test("fetchLocal() gives a data: URL no body for HEAD, as the built-in fetch does", async () => {
  const result = await assertSameAsBuiltin("data:,hello", { method: "HEAD" });
  assert("body" in result && result.body === null);
});

Deno.test("fetchLocal() ignores the method of a data: URL but HEAD, as the built-in fetch does", async () => {
  await assertSameAsBuiltin("data:,hello", { method: "POST", body: "x" });
  await assertSameAsBuiltin("data:;base64,aGk=", { method: "PUT" });
  await assertSameAsBuiltin("data:hello", { method: "DELETE" });
});

// The built-in fetch of Deno 2.9 repeats the bytes before a "%" that starts no
// escape ("data:,a%20b%zz" gives "a bb%zz"): its data-url crate has the bug
// reported as servo/rust-url#795. We keep the Fetch standard's bytes, which
// matter for SVG written as "data:image/svg+xml,...width='100%'...".
Deno.test("fetchLocal() keeps a % that starts no escape as it is (Fetch standard)", async () => {
  const cases: [string, string][] = [
    ["data:,a%20b%zz%41", "a b%zzA"],
    ["data:,100%", "100%"],
    ["data:,ab%2%3B", "ab%2;"],
    [
      "data:image/svg+xml,<rect width='100%' fill='%23000'/>",
      "<rect width='100%' fill='#000'/>",
    ],
  ];
  for (const [input, expected] of cases) {
    const response = await ours(input);
    assertEquals(await response.text(), expected, input);
  }
});

Deno.test("fetchLocal() decodes a large base64 data: URL as the built-in fetch does", async () => {
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 7919) % 256);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  const input = `data:application/octet-stream;base64,${btoa(binary)}`;
  const result = await assertSameAsBuiltin(input);
  assert("body" in result && Array.isArray(result.body));
  assertEquals(new Uint8Array(result.body), bytes);
});

// ---- file: -------------------------------------------------------------------

const FIXTURE = new URL("./fixtures/README.md", import.meta.url).href;
const FIXTURES_DIR = new URL("./fixtures/", import.meta.url).href;
const MISSING = new URL("./fixtures/no-such-file.txt", import.meta.url).href;
/** The directory above the repository: outside `--allow-read=.`. */
const OUTSIDE = new URL("../../", import.meta.url).href;

Deno.test("fetchLocal() serves a file as the built-in fetch does", async () => {
  const result = await assertSameAsBuiltin(FIXTURE);
  assert("status" in result && result.status === 200);
  assertEquals(result.headers, []);
  assertEquals(
    new Uint8Array(result.body as number[]),
    await Deno.readFile(new URL(FIXTURE)),
  );
  await assertSameAsBuiltin(`${FIXTURE}#fragment`);
  await assertSameAsBuiltin(`${FIXTURE}?query=1`);
  await assertSameAsBuiltin(FIXTURE.replace("README", "READ%4DE"));
});

Deno.test("fetchLocal() fails on a missing file as the built-in fetch does", async () => {
  const result = await assertSameAsBuiltin(MISSING);
  assertEquals(result, { error: "TypeError" });
});

Deno.test("fetchLocal() opens a directory and fails its body as the built-in fetch does", async () => {
  for (const input of [FIXTURES_DIR, FIXTURES_DIR.slice(0, -1)]) {
    const result = await assertSameAsBuiltin(input);
    assert("status" in result && result.status === 200);
    assertEquals(result.body, "body failed: TypeError");
  }
});

Deno.test("fetchLocal() fetches a file only with GET, as the built-in fetch does", async () => {
  for (const method of ["HEAD", "POST", "OPTIONS"]) {
    const result = await assertSameAsBuiltin(FIXTURE, { method });
    assertEquals(result, { error: "TypeError" });
  }
});

Deno.test({
  name:
    "fetchLocal() refuses a file URL with a host as the built-in fetch does",
  ignore: Deno.build.os === "windows",
  async fn() {
    const result = await assertSameAsBuiltin("file://example.com/etc/hosts");
    assertEquals(result, { error: "URIError" });
  },
});

Deno.test("fetchLocal() needs read permission where the built-in fetch needs it", async () => {
  const result = await assertSameAsBuiltin(OUTSIDE);
  const path = new URL(OUTSIDE).pathname;
  const { state } = await Deno.permissions.query({ name: "read", path });
  if (state !== "granted") {
    assert("error" in result && result.error.startsWith("NotCapable: "));
  }
});

/**
 * Runs `run` with `Deno.open` watched, then checks that every file it opened
 * is closed: Deno 2.9 runs its resource sanitizer only when asked
 * (`--sanitize-resources`), and this check holds without it.
 */
async function assertFilesClosed(run: () => Promise<void>): Promise<void> {
  using open = spy(Deno, "open");
  await run();
  assert(open.calls.length > 0, "Deno.open() was called");
  for (const call of open.calls) {
    const file = await (call.returned as Promise<Deno.FsFile>).catch(() =>
      null
    );
    if (file !== null) {
      assertThrows(() => file.statSync(), Deno.errors.BadResource);
    }
  }
}

Deno.test("fetchLocal() closes the file when its body is read to the end", async () => {
  await assertFilesClosed(async () => {
    await (await ours(FIXTURE)).arrayBuffer();
  });
});

Deno.test("fetchLocal() closes the file when its body is cancelled", async () => {
  await assertFilesClosed(async () => {
    await (await ours(FIXTURE)).body!.cancel();
  });
  await assertFilesClosed(async () => {
    const reader = (await ours(FIXTURE)).body!.getReader();
    const first = await reader.read();
    assert(!first.done && first.value.length > 0);
    await reader.cancel();
  });
});

Deno.test("fetchLocal() closes the file when the signal aborts", async () => {
  await assertFilesClosed(async () => {
    const controller = new AbortController();
    const response = await ours(FIXTURE, { signal: controller.signal });
    controller.abort();
    await assertRejects(() => response.arrayBuffer(), DOMException);
  });
  await assertFilesClosed(async () => {
    // Aborted while Deno.open() is under way.
    const controller = new AbortController();
    const fetching = ours(FIXTURE, { signal: controller.signal });
    controller.abort();
    await assertRejects(() => fetching, DOMException);
  });
});

Deno.test("fetchLocal() closes the file when its body fails", async () => {
  await assertFilesClosed(async () => {
    const response = await ours(FIXTURES_DIR);
    await assertRejects(() => response.arrayBuffer(), TypeError);
  });
});

Deno.test({
  name:
    "fetchLocal() streams a file and closes it on cancel, as the built-in fetch streams it",
  ignore: Deno.build.os !== "linux",
  async fn() {
    // /dev/zero never ends: only a body read as it is pulled can answer. It
    // lies outside --allow-read=., so the check runs in a child process
    // (`deno eval` has every permission), which also counts its open files.
    const code = `
      import { fetchLocal } from ${
      JSON.stringify(import.meta.resolve("../_local_urls.ts"))
    };
      const openFiles = () => Array.from(Deno.readDirSync("/proc/self/fd")).length;
      async function probe(fetching) {
        const before = openFiles();
        const response = await fetching();
        const reader = response.body.getReader();
        let bytes = 0;
        for (let i = 0; i < 3; i++) bytes += (await reader.read()).value.length;
        const during = openFiles() - before;
        await reader.cancel();
        return {
          status: response.status,
          headers: [...response.headers],
          streamed: bytes > 0,
          during,
          after: openFiles() - before,
        };
      }
      const builtin = await probe(() => fetch("file:///dev/zero"));
      const ours = await probe(() =>
        fetchLocal(new URL("file:///dev/zero"), { method: "GET" })
      );
      console.log(JSON.stringify({ builtin, ours }));
    `;
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--ext=js", code],
      stdin: "null",
    }).output();
    const stderr = new TextDecoder().decode(output.stderr);
    assertEquals(output.code, 0, stderr);
    const { builtin, ours } = JSON.parse(
      new TextDecoder().decode(output.stdout),
    );
    assertEquals(
      { status: ours.status, headers: ours.headers, streamed: ours.streamed },
      {
        status: builtin.status,
        headers: builtin.headers,
        streamed: builtin.streamed,
      },
    );
    assertEquals(ours.during, 1, "one file open while the body is read");
    assertEquals(
      ours.after,
      0,
      "the file is closed once the body is cancelled",
    );
  },
});

// ---- blob: -------------------------------------------------------------------

Deno.test("fetchLocal() resolves blob: URLs as the built-in fetch does", async () => {
  const typed = URL.createObjectURL(
    new Blob(["hello blob"], { type: "Text/Plain;Charset=UTF-8" }),
  );
  const untyped = URL.createObjectURL(new Blob([new Uint8Array([0, 1, 2])]));
  try {
    const result = await assertSameAsBuiltin(typed);
    assertEquals(
      result,
      {
        status: 200,
        statusText: "OK",
        headers: [
          ["content-length", "10"],
          ["content-type", "text/plain;charset=utf-8"],
        ],
        url: typed,
        body: Array.from(new TextEncoder().encode("hello blob")),
      },
    );
    await assertSameAsBuiltin(untyped);
    await assertSameAsBuiltin(`${typed}#fragment`);
    await assertSameAsBuiltin(`${typed}?query`);
    assertEquals(await assertSameAsBuiltin(typed, { method: "HEAD" }), {
      error: "TypeError",
    });
    assertEquals(await assertSameAsBuiltin("blob:null/no-such-blob"), {
      error: "TypeError",
    });
  } finally {
    URL.revokeObjectURL(typed);
    URL.revokeObjectURL(untyped);
  }
  assertEquals(await assertSameAsBuiltin(typed), { error: "TypeError" });
});

// ---- every scheme: aborts ----------------------------------------------------

Deno.test("fetchLocal() rejects with the reason of an aborted signal, as the built-in fetch does", async () => {
  const blob = URL.createObjectURL(new Blob(["x"]));
  try {
    for (const input of [FIXTURE, MISSING, "data:,x", "data:x", blob]) {
      const reason = new Error("stop");
      const signal = AbortSignal.abort(reason);
      assertEquals(await assertSameAsBuiltin(input, { signal }), {
        error: "Error",
      });
      const error = await ours(input, { signal }).catch((error) => error);
      assert(error === reason, input);
      assertEquals(
        await assertSameAsBuiltin(input, { signal: AbortSignal.abort() }),
        { error: "AbortError" },
      );
    }
  } finally {
    URL.revokeObjectURL(blob);
  }
});

Deno.test("fetchLocal() errors an unread body with the abort reason, as the built-in fetch does", async () => {
  const blob = URL.createObjectURL(new Blob(["hello"]));
  try {
    for (const input of [FIXTURE, "data:,hello", blob]) {
      for (const fetching of [fetch, ours]) {
        const controller = new AbortController();
        const response = await fetching(input, { signal: controller.signal });
        const reason = new Error("stop");
        controller.abort(reason);
        const error = await response.text().catch((error) => error);
        assert(error === reason, `${fetching.name}: ${input}`);
      }
    }
  } finally {
    URL.revokeObjectURL(blob);
  }
});

Deno.test("fetchLocal() leaves a body read to its end alone when the signal aborts later", async () => {
  const controller = new AbortController();
  const response = await ours(FIXTURE, { signal: controller.signal });
  const text = await response.text();
  controller.abort();
  assertEquals(text, await Deno.readTextFile(new URL(FIXTURE)));
});

// ---- isLocalScheme -----------------------------------------------------------

Deno.test("isLocalScheme() is true for data:, blob: and file: only", () => {
  for (const input of ["data:,x", "blob:null/x", "file:///x", "DATA:,x"]) {
    assert(isLocalScheme(new URL(input)), input);
  }
  for (const input of ["http://x/", "https://x/", "ftp://x/", "about:blank"]) {
    assert(!isLocalScheme(new URL(input)), input);
  }
});

Deno.test("fetchLocal() keeps url on a clone", async () => {
  const response = await ours("data:,x#y");
  const copy = response.clone();
  assertEquals(copy.url, "data:,x");
  assertInstanceOf(copy, Response);
  assertEquals(await copy.text(), await response.text());
});
