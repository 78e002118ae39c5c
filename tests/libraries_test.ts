// Copyright 2026 the pooled-fetch authors. MIT license.
// Drop-in: real HTTP libraries run twice against the same loopback server,
// once with the built-in fetch and once with ours, passed the way users pass
// it (`const { fetch } = client`, `new OpenAI({ fetch })`,
// `ky.create({ fetch })`). Each run gives what the library returned, what
// the server saw (requests, headers that matter, framing, parsed bodies),
// the hits per path and how event streams ended; the two must be equal.

import { assertEquals } from "@std/assert";
import Anthropic from "@anthropic-ai/sdk";
import axios, { AxiosError } from "axios";
import { ClientError, GraphQLClient } from "graphql-request";
import ky, { HTTPError } from "ky";
import { createFetch, FetchError } from "ofetch";
import OpenAI, { toFile } from "openai";
import wretch from "wretch";
import { retry as wretchRetry } from "wretch/middlewares";
import { createClient } from "../mod.ts";
import {
  type LibraryServer,
  libraryServer,
  type Route,
} from "./_library_servers.ts";
import { waitFor } from "./_servers.ts";

type Fetch = typeof globalThis.fetch;

/** One run's observations; the built-in run's must equal ours. */
interface Run<T> {
  result: T | { error: unknown };
  seen: unknown[];
  hits: number;
  streams: string[];
}

/**
 * Runs `scenario` against one server, first with the built-in fetch, then
 * with a new client's `fetch`, destructured as users do; closes the client
 * and the server, and asserts that both runs saw the same.
 */
async function bothWays<T>(
  routes: Record<string, Route>,
  scenario: (fetch: Fetch, base: string) => Promise<T>,
  describeError: (error: unknown) => unknown,
  after?: (server: LibraryServer) => Promise<void>,
): Promise<Run<T>> {
  await using server = libraryServer(routes);
  const run = async (fetch: Fetch): Promise<Run<T>> => {
    server.reset();
    let result: T | { error: unknown };
    try {
      result = await scenario(fetch, server.base);
    } catch (error) {
      result = { error: describeError(error) };
    }
    await after?.(server);
    return {
      result,
      seen: server.seen,
      hits: server.hits(),
      streams: server.streams,
    };
  };
  const builtin = await run(globalThis.fetch);
  await using client = createClient();
  const { fetch } = client;
  const ours = await run(fetch);
  assertEquals(ours, builtin);
  return ours;
}

/**
 * Waits (bounded) until the client has gone away from an event stream; not
 * at all when no request arrived.
 */
async function streamCancelled(
  server: { streams: string[]; hits(): number },
): Promise<void> {
  if (server.hits() > 0) await waitFor(() => server.streams.length > 0, 3000);
}

const json = (body: unknown, init?: ResponseInit) => Response.json(body, init);

const ITEMS: Route = (request) =>
  json(
    { items: [1, 2, 3], query: new URL(request.url).search },
    { headers: { "x-test-served": "items" } },
  );
const ECHO: Route = (_request, { seen }) =>
  json({ echoed: seen.body }, { status: 201 });
const UNAVAILABLE: Route = () =>
  json({ error: "try later" }, {
    status: 503,
    headers: { "retry-after-ms": "1" },
  });
const MISSING: Route = () => json({ error: "not here" }, { status: 404 });
const HANG: Route = (_request, { hang }) => hang();

/** A FormData with a text field and a file, as an upload form sends it. */
function uploadForm(): FormData {
  const form = new FormData();
  form.append("title", "report");
  form.append(
    "file",
    new File(["a,b\n1,2\n"], "report.csv", { type: "text/csv" }),
  );
  return form;
}

// ---- ky ----------------------------------------------------------------------

function kyError(error: unknown): unknown {
  if (error instanceof HTTPError) {
    return {
      name: error.name,
      status: error.response.status,
      data: error.data,
    };
  }
  return { name: (error as Error).name };
}

Deno.test("ky: JSON GET with search params and hooks gives the same result with our fetch", async () => {
  await bothWays({ "/items": ITEMS }, async (fetch, base) => {
    const calls: string[] = [];
    const api = ky.create({
      prefix: base,
      fetch,
      hooks: {
        beforeRequest: [({ request }) => {
          calls.push("beforeRequest");
          request.headers.set("x-test-hook", "before");
        }],
        afterResponse: [({ response }) => {
          calls.push(`afterResponse ${response.headers.get("x-test-served")}`);
        }],
      },
    });
    const body = await api.get("items", {
      searchParams: { q: "a b", n: 2 },
    }).json();
    return { body, calls };
  }, kyError);
});

Deno.test("ky: JSON POST gives the same result, body framing included, with our fetch", async () => {
  await bothWays({ "/echo": ECHO }, async (fetch, base) => {
    const response = await ky.post(`${base}/echo`, {
      fetch,
      json: { name: "widget", tags: ["a", "b"] },
    });
    return { status: response.status, body: await response.json() };
  }, kyError);
});

Deno.test("ky: its own retries on 503 hit the server as often with our fetch", async () => {
  const run = await bothWays({ "/busy": UNAVAILABLE }, async (fetch, base) => {
    const retries: number[] = [];
    try {
      await ky.get(`${base}/busy`, {
        fetch,
        retry: { limit: 2, delay: () => 1 },
        hooks: {
          beforeRetry: [({ retryCount }) => void retries.push(retryCount)],
        },
      });
      return { retries };
    } catch (error) {
      return { retries, error: kyError(error) };
    }
  }, kyError);
  assertEquals(run.hits, 3);
});

Deno.test("ky: its timeout gives the same TimeoutError with our fetch", async () => {
  const run = await bothWays({ "/slow": HANG }, async (fetch, base) => {
    await ky.get(`${base}/slow`, { fetch, timeout: 150, retry: 0 });
  }, kyError);
  assertEquals(run.result, { error: { name: "TimeoutError" } });
});

Deno.test("ky: FormData and Blob uploads arrive the same with our fetch", async () => {
  await bothWays({ "/echo": ECHO }, async (fetch, base) => {
    const api = ky.create({ prefix: base, fetch });
    const form = await api.post("echo", { body: uploadForm() }).json();
    const blob = await api.post("echo", {
      body: new Blob(["raw bytes"], { type: "application/octet-stream" }),
    }).json();
    return { form, blob };
  }, kyError);
});

Deno.test("ky: an error status gives the same HTTPError with our fetch", async () => {
  const run = await bothWays({ "/missing": MISSING }, async (fetch, base) => {
    await ky.get(`${base}/missing`, { fetch }).json();
  }, kyError);
  assertEquals(run.result, {
    error: { name: "HTTPError", status: 404, data: { error: "not here" } },
  });
});

// ---- ofetch ------------------------------------------------------------------

function ofetchError(error: unknown): unknown {
  if (error instanceof FetchError) {
    return {
      name: error.name,
      status: error.status,
      data: error.data,
      cause: (error.cause as Error | undefined)?.name,
    };
  }
  return { name: (error as Error).name };
}

Deno.test("ofetch: JSON GET with query and hooks gives the same result with our fetch", async () => {
  await bothWays({ "/items": ITEMS }, async (fetch, base) => {
    const calls: string[] = [];
    const $fetch = createFetch({ fetch }).create({
      baseURL: base,
      onRequest({ options }) {
        calls.push("onRequest");
        options.headers.set("x-test-hook", "onRequest");
      },
      onResponse({ response }) {
        calls.push(`onResponse ${response.status}`);
      },
    });
    const body = await $fetch("/items", { query: { q: "a b", n: 2 } });
    return { body, calls };
  }, ofetchError);
});

Deno.test("ofetch: JSON POST gives the same result with our fetch", async () => {
  await bothWays({ "/echo": ECHO }, async (fetch, base) => {
    const $fetch = createFetch({ fetch });
    return await $fetch(`${base}/echo`, {
      method: "POST",
      body: { name: "widget", count: 2 },
    });
  }, ofetchError);
});

Deno.test("ofetch: its own retries on 503 hit the server as often with our fetch", async () => {
  const run = await bothWays({ "/busy": UNAVAILABLE }, async (fetch, base) => {
    const $fetch = createFetch({ fetch });
    await $fetch(`${base}/busy`, { retry: 2 });
  }, ofetchError);
  assertEquals(run.hits, 3);
});

Deno.test("ofetch: its timeout gives the same FetchError with our fetch", async () => {
  // ofetch would retry a GET once, but the retry reuses the aborted signal.
  const run = await bothWays({ "/slow": HANG }, async (fetch, base) => {
    const $fetch = createFetch({ fetch });
    await $fetch(`${base}/slow`, { timeout: 150 });
  }, ofetchError);
  const { error } = run.result as { error: { name: string; cause: string } };
  assertEquals([error.name, error.cause], ["FetchError", "TimeoutError"]);
  assertEquals(run.hits, 1);
});

Deno.test("ofetch: an error status gives the same FetchError with our fetch", async () => {
  await bothWays({ "/missing": MISSING }, async (fetch, base) => {
    const $fetch = createFetch({ fetch });
    await $fetch(`${base}/missing`);
  }, ofetchError);
});

// ---- openai ------------------------------------------------------------------

function openaiError(error: unknown): unknown {
  if (error instanceof OpenAI.APIError) {
    return {
      name: error.constructor.name,
      status: error.status,
      error: error.error,
    };
  }
  return { name: (error as Error).constructor.name };
}

const COMPLETION = {
  id: "chatcmpl-1",
  object: "chat.completion",
  created: 1,
  model: "test-model",
  choices: [{
    index: 0,
    message: { role: "assistant", content: "Hello!" },
    finish_reason: "stop",
  }],
};

function chunk(content: string): string {
  return `data: ${
    JSON.stringify({
      id: "chatcmpl-1",
      object: "chat.completion.chunk",
      created: 1,
      model: "test-model",
      choices: [{ index: 0, delta: { content }, finish_reason: null }],
    })
  }\n\n`;
}

function openai(fetch: Fetch, base: string, maxRetries = 2): OpenAI {
  return new OpenAI({
    apiKey: "sk-test",
    baseURL: `${base}/v1`,
    fetch,
    maxRetries,
  });
}

Deno.test("openai: a chat completion gives the same result with our fetch", async () => {
  await bothWays({
    "/v1/chat/completions": () => json(COMPLETION),
  }, async (fetch, base) => {
    const completion = await openai(fetch, base).chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "Hi" }],
    });
    return completion.choices[0].message;
  }, openaiError);
});

Deno.test("openai: its own retries on 503 hit the server as often with our fetch", async () => {
  const run = await bothWays({
    "/v1/chat/completions": UNAVAILABLE,
  }, async (fetch, base) => {
    await openai(fetch, base).chat.completions.create({
      model: "test-model",
      messages: [{ role: "user", content: "Hi" }],
    });
  }, openaiError);
  assertEquals(run.hits, 3);
});

Deno.test("openai: an error status gives the same APIError with our fetch", async () => {
  await bothWays({
    "/v1/chat/completions": () =>
      json({ error: { message: "bad model", type: "invalid_request_error" } }, {
        status: 400,
      }),
  }, async (fetch, base) => {
    await openai(fetch, base).chat.completions.create({
      model: "nope",
      messages: [{ role: "user", content: "Hi" }],
    });
  }, openaiError);
});

Deno.test("openai: its timeout, retried, gives the same with our fetch", async () => {
  const run = await bothWays({
    "/v1/chat/completions": HANG,
  }, async (fetch, base) => {
    await openai(fetch, base, 1).chat.completions.create(
      { model: "test-model", messages: [{ role: "user", content: "Hi" }] },
      { timeout: 150 },
    );
  }, openaiError);
  const { error } = run.result as { error: { name: string } };
  assertEquals(error.name, "APIConnectionTimeoutError");
  assertEquals(run.hits, 2);
});

Deno.test("openai: a streamed completion aborted mid-stream gives the same with our fetch", async () => {
  const run = await bothWays(
    {
      "/v1/chat/completions": (_request, { sse }) =>
        sse([chunk("Hel"), chunk("lo"), chunk(" world")]),
    },
    async (fetch, base) => {
      const stream = await openai(fetch, base).chat.completions.create({
        model: "test-model",
        messages: [{ role: "user", content: "Hi" }],
        stream: true,
      });
      const parts: string[] = [];
      for await (const event of stream) {
        parts.push(event.choices[0].delta.content ?? "");
        if (parts.length === 2) break; // aborts the request
      }
      return parts;
    },
    openaiError,
    streamCancelled,
  );
  assertEquals(run.result, ["Hel", "lo"]);
  assertEquals(run.streams, ["cancelled"]);
});

Deno.test("openai: a file upload (multipart with a Blob) arrives the same with our fetch", async () => {
  await bothWays({
    "/v1/files": (_request, { seen }) =>
      json({
        id: "file-1",
        object: "file",
        bytes: 1,
        created_at: 1,
        filename: "data.jsonl",
        purpose: "fine-tune",
        status: "processed",
        received: seen.body,
      }),
  }, async (fetch, base) => {
    const file = await openai(fetch, base).files.create({
      file: await toFile(
        new Blob(['{"prompt":"a"}\n'], { type: "application/jsonl" }),
        "data.jsonl",
      ),
      purpose: "fine-tune",
    });
    return file.id;
  }, openaiError);
});

// ---- @anthropic-ai/sdk -------------------------------------------------------

function anthropicError(error: unknown): unknown {
  if (error instanceof Anthropic.APIError) {
    return {
      name: error.constructor.name,
      status: error.status,
      error: error.error,
    };
  }
  return { name: (error as Error).constructor.name };
}

const MESSAGE = {
  id: "msg_1",
  type: "message",
  role: "assistant",
  model: "test-model",
  content: [{ type: "text", text: "Hello!" }],
  stop_reason: "end_turn",
  stop_sequence: null,
  usage: { input_tokens: 1, output_tokens: 2 },
};

function event(type: string, data: Record<string, unknown>): string {
  return `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
}

function anthropic(fetch: Fetch, base: string): Anthropic {
  return new Anthropic({
    apiKey: "sk-ant-test",
    baseURL: base,
    fetch,
    maxRetries: 2,
  });
}

const ASK = {
  model: "test-model",
  max_tokens: 64,
  messages: [{ role: "user" as const, content: "Hi" }],
};

Deno.test("anthropic: a message gives the same result with our fetch", async () => {
  await bothWays(
    { "/v1/messages": () => json(MESSAGE) },
    async (fetch, base) => {
      const message = await anthropic(fetch, base).messages.create(ASK);
      return message.content;
    },
    anthropicError,
  );
});

Deno.test("anthropic: its own retries on 503 hit the server as often with our fetch", async () => {
  const run = await bothWays(
    { "/v1/messages": UNAVAILABLE },
    async (fetch, base) => {
      await anthropic(fetch, base).messages.create(ASK);
    },
    anthropicError,
  );
  assertEquals(run.hits, 3);
});

Deno.test("anthropic: an error status gives the same APIError with our fetch", async () => {
  await bothWays({
    "/v1/messages": () =>
      json({
        type: "error",
        error: { type: "invalid_request_error", message: "bad" },
      }, { status: 400 }),
  }, async (fetch, base) => {
    await anthropic(fetch, base).messages.create(ASK);
  }, anthropicError);
});

Deno.test("anthropic: a streamed message aborted mid-stream gives the same with our fetch", async () => {
  const run = await bothWays(
    {
      "/v1/messages": (_request, { sse }) =>
        sse([
          event("message_start", { message: { ...MESSAGE, content: [] } }),
          event("content_block_start", {
            index: 0,
            content_block: { type: "text", text: "" },
          }),
          event("content_block_delta", {
            index: 0,
            delta: { type: "text_delta", text: "Hel" },
          }),
          event("content_block_delta", {
            index: 0,
            delta: { type: "text_delta", text: "lo" },
          }),
        ]),
    },
    async (fetch, base) => {
      const stream = await anthropic(fetch, base).messages.create({
        ...ASK,
        stream: true,
      });
      const texts: string[] = [];
      for await (const event of stream) {
        if (
          event.type === "content_block_delta" &&
          event.delta.type === "text_delta"
        ) {
          texts.push(event.delta.text);
          if (texts.length === 2) stream.controller.abort();
        }
      }
      return texts;
    },
    anthropicError,
    streamCancelled,
  );
  assertEquals(run.result, ["Hel", "lo"]);
  assertEquals(run.streams, ["cancelled"]);
});

// ---- graphql-request ---------------------------------------------------------

function graphqlError(error: unknown): unknown {
  if (error instanceof ClientError) {
    return {
      name: error.name,
      status: error.response.status,
      errors: error.response.errors,
    };
  }
  return { name: (error as Error).name };
}

const GRAPHQL: Route = (_request, { seen }) => {
  const query = seen.method === "GET"
    ? new URL(seen.path, "http://x").searchParams.get("query")
    : (seen.body as { query: string }).query;
  if (query?.includes("broken")) {
    return json({ errors: [{ message: "Cannot query field broken" }] });
  }
  return json({ data: { user: { id: "1", name: "Ada" } } });
};

Deno.test("graphql-request: queries by POST and GET, with middleware, give the same with our fetch", async () => {
  await bothWays({ "/graphql": GRAPHQL }, async (fetch, base) => {
    const calls: string[] = [];
    const options = {
      fetch,
      requestMiddleware: <T extends { headers?: HeadersInit }>(request: T) => {
        calls.push("request");
        return {
          ...request,
          headers: { ...request.headers, "x-test-mw": "1" },
        };
      },
      responseMiddleware: () => void calls.push("response"),
    };
    const query = "query User($id: ID!) { user(id: $id) { id name } }";
    const post = await new GraphQLClient(`${base}/graphql`, options)
      .request(query, { id: "1" });
    const get = await new GraphQLClient(`${base}/graphql`, {
      ...options,
      method: "GET",
    }).request(query, { id: "1" });
    return { post, get, calls };
  }, graphqlError);
});

Deno.test("graphql-request: GraphQL errors give the same ClientError with our fetch", async () => {
  await bothWays({ "/graphql": GRAPHQL }, async (fetch, base) => {
    await new GraphQLClient(`${base}/graphql`, { fetch }).request(
      "{ broken }",
    );
  }, graphqlError);
});

// ---- wretch ------------------------------------------------------------------

function wretchError(error: unknown): unknown {
  const e = error as { name: string; status?: number; message: string };
  return { name: e.name, status: e.status, message: e.message };
}

Deno.test("wretch: JSON GET and POST give the same result with our fetch", async () => {
  await bothWays(
    { "/items": ITEMS, "/echo": ECHO },
    async (fetch, base) => {
      const api = wretch(base).fetchPolyfill(fetch).headers({
        "x-test-client": "wretch",
      });
      const items = await api.get("/items?q=a%20b&n=2").json();
      const echoed = await api.url("/echo").post({ name: "widget" }).json();
      return { items, echoed };
    },
    wretchError,
  );
});

Deno.test("wretch: a Blob upload arrives the same with our fetch", async () => {
  await bothWays({ "/echo": ECHO }, async (fetch, base) => {
    return await wretch(`${base}/echo`).fetchPolyfill(fetch)
      .content("text/plain")
      .body(new Blob(["blob body"]))
      .post()
      .json();
  }, wretchError);
});

Deno.test("wretch: its retry middleware on 503 hits the server as often with our fetch", async () => {
  const run = await bothWays({ "/busy": UNAVAILABLE }, async (fetch, base) => {
    await wretch(`${base}/busy`).fetchPolyfill(fetch)
      .middlewares([wretchRetry({
        delayTimer: 1,
        maxAttempts: 3,
        resolveWithLatestResponse: true,
        // The middleware drops the responses it retries without reading them.
        onRetry: ({ response }) => void response?.body?.cancel(),
      })])
      .get()
      .res()
      .catch(async (error) => {
        await error.response?.body?.cancel();
        throw error;
      });
  }, wretchError);
  assertEquals(run.hits, 4); // the first try and maxAttempts retries
});

Deno.test("wretch: an error status reaches the same catcher with our fetch", async () => {
  await bothWays({ "/missing": MISSING }, async (fetch, base) => {
    return await wretch(`${base}/missing`).fetchPolyfill(fetch)
      .get()
      .notFound((error) => ({ caught: error.status, body: error.message }))
      .json();
  }, wretchError);
});

// ---- axios (fetch adapter) -----------------------------------------------------

function axiosError(error: unknown): unknown {
  if (error instanceof AxiosError) {
    return {
      name: error.name,
      code: error.code,
      status: error.response?.status,
      data: error.response?.data,
    };
  }
  return { name: (error as Error).name };
}

function axiosFor(fetch: Fetch, base: string) {
  return axios.create({ baseURL: base, adapter: "fetch", env: { fetch } });
}

Deno.test("axios (fetch adapter): GET with params and interceptors gives the same with our fetch", async () => {
  await bothWays({ "/items": ITEMS }, async (fetch, base) => {
    const api = axiosFor(fetch, base);
    const calls: string[] = [];
    api.interceptors.request.use((config) => {
      calls.push("request");
      config.headers.set("x-test-interceptor", "1");
      return config;
    });
    api.interceptors.response.use((response) => {
      calls.push(`response ${response.status}`);
      return response;
    });
    const response = await api.get("/items", { params: { q: "a b", n: 2 } });
    return {
      status: response.status,
      data: response.data,
      served: response.headers["x-test-served"],
      calls,
    };
  }, axiosError);
});

Deno.test("axios (fetch adapter): JSON POST and FormData upload arrive the same with our fetch", async () => {
  await bothWays({ "/echo": ECHO }, async (fetch, base) => {
    const api = axiosFor(fetch, base);
    const posted = await api.post("/echo", { name: "widget", count: 2 });
    // Without this header axios 1.21 labels the multipart body
    // application/x-www-form-urlencoded in Deno, whichever fetch sends it.
    const uploaded = await api.post("/echo", uploadForm(), {
      headers: { "Content-Type": "multipart/form-data" },
    });
    return { posted: posted.data, uploaded: uploaded.data };
  }, axiosError);
});

Deno.test("axios (fetch adapter): its timeout gives the same AxiosError with our fetch", async () => {
  const run = await bothWays({ "/slow": HANG }, async (fetch, base) => {
    await axiosFor(fetch, base).get("/slow", { timeout: 150 });
  }, axiosError);
  assertEquals(
    (run.result as { error: { code: string } }).error.code,
    "ETIMEDOUT",
  );
});

Deno.test("axios (fetch adapter): an error status gives the same AxiosError with our fetch", async () => {
  await bothWays({ "/missing": MISSING }, async (fetch, base) => {
    await axiosFor(fetch, base).get("/missing");
  }, axiosError);
});
