// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A loopback server for tests/libraries_test.ts, where real HTTP libraries
 * run once with the built-in fetch and once with ours. It routes by path,
 * counts the hits on each path, notes what each request carried (method,
 * query, the headers that matter, framing, parsed body), plays scripted
 * server-sent events and notes whether the client went away mid-stream, and
 * can hold a request unanswered until the server closes.
 *
 * @module
 */

/** What the server saw of one request. */
export interface SeenRequest {
  /** The request method. */
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** The headers a library sets on purpose (see {@linkcode NOTED_HEADERS}). */
  headers: Record<string, string>;
  /** How the body was framed: `"length"`, `"chunked"` or `"none"`. */
  framing: "length" | "chunked" | "none";
  /**
   * The body: JSON parsed, a form as `[name, value]` pairs (files as
   * `{ file, type, text }`), other text as it is, `null` when empty.
   */
  body: unknown;
}

/** What a route handler gets besides the request. */
export interface RouteContext {
  /** This request's number on its path, from 1. */
  hit: number;
  /** What the server noted of the request (its body already read). */
  seen: SeenRequest;
  /** Never answers; resolves to a 504 when the server closes. */
  hang(): Promise<Response>;
  /**
   * A `text/event-stream` response that sends `events` at once and then
   * stays open until the client goes away (noted as `"cancelled"` in
   * {@linkcode LibraryServer.streams}) or the server closes.
   */
  sse(events: string[]): Response;
}

/** A route: answers one path. */
export type Route = (
  request: Request,
  context: RouteContext,
) => Response | Promise<Response>;

/** A running {@linkcode libraryServer}. */
export interface LibraryServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly base: string;
  /** Requests seen since the last {@linkcode LibraryServer.reset}. */
  readonly seen: SeenRequest[];
  /** How each event stream ended: `"cancelled"` by the client so far. */
  readonly streams: string[];
  /** Hits on `path` (all paths when omitted) since the last reset. */
  hits(path?: string): number;
  /** Forgets what was seen, for the next run against the same server. */
  reset(): void;
  /** Answers what hangs, ends open streams, and shuts the server down. */
  close(): Promise<void>;
}

/** Request headers worth comparing; the rest differ by client on purpose. */
export const NOTED_HEADERS: readonly string[] = [
  "accept",
  "authorization",
  "content-type",
  "x-api-key",
  "anthropic-version",
];

const encoder = new TextEncoder();

/** Starts a server on 127.0.0.1 with `routes` keyed by path. */
export function libraryServer(routes: Record<string, Route>): LibraryServer {
  let seen: SeenRequest[] = [];
  let streams: string[] = [];
  let hitsByPath = new Map<string, number>();
  const { promise: released, resolve: release } = Promise.withResolvers<
    void
  >();
  const openStreams = new Set<ReadableStreamDefaultController<Uint8Array>>();

  const context = (hit: number, request: SeenRequest): RouteContext => ({
    hit,
    seen: request,
    hang: () => released.then(() => new Response("closing", { status: 504 })),
    sse(events) {
      let controller: ReadableStreamDefaultController<Uint8Array>;
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          controller = c;
          openStreams.add(c);
          for (const event of events) c.enqueue(encoder.encode(event));
        },
        cancel() {
          openStreams.delete(controller);
          streams.push("cancelled");
        },
      });
      return new Response(body, {
        headers: {
          "content-type": "text/event-stream",
          "cache-control": "no-cache",
        },
      });
    },
  });

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const url = new URL(request.url);
      const hit = (hitsByPath.get(url.pathname) ?? 0) + 1;
      hitsByPath.set(url.pathname, hit);
      const noted = await note(request, url);
      seen.push(noted);
      const route = routes[url.pathname];
      if (route === undefined) {
        return Response.json({ error: "no such route" }, { status: 404 });
      }
      return await route(request, context(hit, noted));
    },
  );

  return {
    base: `http://127.0.0.1:${server.addr.port}`,
    get seen() {
      return seen;
    },
    get streams() {
      return streams;
    },
    hits(path) {
      if (path !== undefined) return hitsByPath.get(path) ?? 0;
      let total = 0;
      for (const count of hitsByPath.values()) total += count;
      return total;
    },
    reset() {
      seen = [];
      streams = [];
      hitsByPath = new Map();
    },
    async close() {
      release();
      for (const controller of openStreams) controller.close();
      openStreams.clear();
      await server.shutdown();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
}

async function note(request: Request, url: URL): Promise<SeenRequest> {
  const headers: Record<string, string> = {};
  for (const name of NOTED_HEADERS) {
    let value = request.headers.get(name);
    if (value === null) continue;
    // A multipart boundary is random: keep the type only.
    if (value.startsWith("multipart/form-data")) value = "multipart/form-data";
    headers[name] = value;
  }
  for (const [name, value] of request.headers) {
    if (name.startsWith("x-test-")) headers[name] = value;
  }
  const framing = request.headers.has("content-length")
    ? "length"
    : request.headers.get("transfer-encoding")?.includes("chunked")
    ? "chunked"
    : "none";
  return {
    method: request.method,
    path: url.pathname + url.search,
    headers,
    framing,
    body: await readBody(request),
  };
}

async function readBody(request: Request): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (
    type.startsWith("multipart/form-data") ||
    type.startsWith("application/x-www-form-urlencoded")
  ) {
    const form = await request.formData();
    const entries: [string, unknown][] = [];
    for (const [name, value] of form) {
      entries.push([
        name,
        typeof value === "string"
          ? value
          : { file: value.name, type: value.type, text: await value.text() },
      ]);
    }
    return entries;
  }
  const text = await request.text();
  if (text === "") return null;
  if (type.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}
