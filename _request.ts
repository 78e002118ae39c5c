// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Fetch requests in the fetch layer's shape: built from what `fetch` takes
 * (`input`, `init`), given their header fields (the caller's, then the
 * defaults), and rewritten to follow a redirect (Fetch standard, "HTTP-redirect
 * fetch").
 *
 * @module
 */

import {
  ACCEPT_ENCODING,
  collectBody,
  extractBody,
  NO_BODY,
  type RequestBody,
} from "./_body.ts";
import type { AttemptRequest } from "./_attempts.ts";
import { validateRequestHead } from "./_http1.ts";

const encoder = new TextEncoder();

/** The User-Agent sent when the caller set none. */
export const USER_AGENT = "pooled-fetch/0.1";

/** A request in the fetch layer; rewritten in place by redirects. */
export interface FetchRequest extends AttemptRequest {
  method: string;
  url: URL;
  /** The caller's headers; `null` when there are none. */
  headers: Headers | null;
  body: RequestBody;
  signal: AbortSignal | undefined;
  redirect: RequestRedirect;
  fields: readonly (readonly [string, string])[];
  host: string | undefined;
  contentLength: number | null;
  plain: boolean;
}

/** The fields of a request without headers of its own or a typed body. */
const DEFAULT_FIELDS: readonly (readonly [string, string])[] = Object.freeze([
  Object.freeze(["accept", "*/*"] as const),
  Object.freeze(["accept-encoding", ACCEPT_ENCODING] as const),
  Object.freeze(["user-agent", USER_AGENT] as const),
]);

const NORMALIZED_METHODS: Record<string, string> = {
  delete: "DELETE",
  get: "GET",
  head: "HEAD",
  options: "OPTIONS",
  post: "POST",
  put: "PUT",
  patch: "PATCH",
};

/**
 * Parsed URL strings. The fetch layer never mutates a URL it parsed, so one
 * object serves every request for the same string, and transports may key
 * caches on it; bounded, and simply emptied when full.
 */
const urlCache = new Map<string, URL>();
const URL_CACHE_SIZE = 1024;

function parseUrl(input: string | URL): URL {
  if (typeof input === "string") {
    const cached = urlCache.get(input);
    if (cached !== undefined) return cached;
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch (error) {
    throw new TypeError(
      `Cannot fetch as the URL is invalid: ${String(input)}`,
      {
        cause: error,
      },
    );
  }
  if (typeof input === "string") {
    if (urlCache.size >= URL_CACHE_SIZE) urlCache.clear();
    urlCache.set(input, url);
  }
  return url;
}

/**
 * Builds the request `fetch(input, init)` describes, checking it as the
 * Fetch standard does. Synchronous unless the body must be read first (a
 * Blob, FormData, the body of a `Request`). `data:`, `blob:` and `file:`
 * URLs pass through: the fetch layer serves them without a socket.
 *
 * Credentials in the URL become `Authorization: Basic` (unless the caller
 * set an `Authorization` of their own), as in the built-in fetch, and leave
 * the URL the request is sent to.
 *
 * @param limit Bytes of a `Request`'s body read ahead to find whether it is
 * complete in memory (see {@linkcode collectBody}).
 * @throws {TypeError} The request is invalid; the message says why.
 */
export function prepareRequest(
  input: string | URL | Request,
  init: RequestInit | undefined,
  limit: number,
): FetchRequest | Promise<FetchRequest> {
  let url: URL;
  let method = "GET";
  let headers: Headers | null = null;
  let bodyInit: BodyInit | null = null;
  let requestBody: ReadableStream<Uint8Array> | null = null;
  let signal: AbortSignal | undefined;
  let redirect: RequestRedirect = "follow";
  if (input instanceof Request) {
    url = parseUrl(input.url);
    method = input.method;
    headers = new Headers(input.headers);
    if (input.bodyUsed) {
      throw new TypeError(
        "Cannot fetch as the Request's body was already read: pass a fresh Request",
      );
    }
    requestBody = input.body;
    signal = input.signal;
    redirect = input.redirect;
  } else {
    url = parseUrl(input);
  }
  if (init !== undefined) {
    if (init.method !== undefined) {
      method = NORMALIZED_METHODS[init.method.toLowerCase()] ??
        checkMethod(init.method);
    }
    if (init.headers !== undefined) headers = new Headers(init.headers);
    if (init.body !== undefined) {
      bodyInit = init.body;
      requestBody = null;
    }
    if (init.signal !== undefined) signal = init.signal ?? undefined;
    if (init.redirect !== undefined) redirect = init.redirect;
  }
  const scheme = url.protocol;
  if (
    scheme !== "http:" && scheme !== "https:" && scheme !== "data:" &&
    scheme !== "blob:" && scheme !== "file:"
  ) {
    throw new TypeError(
      `Cannot fetch ${url.href} as its scheme is not supported: use http:, https:, data:, blob: or file:`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    headers = credentialsToHeader(url, headers);
    url = withoutCredentials(url);
  }
  if (method === "CONNECT" || method === "TRACK" || method === "TRACE") {
    throw new TypeError(`Cannot fetch as the method ${method} is forbidden`);
  }
  if (
    (bodyInit !== null || requestBody !== null) &&
    (method === "GET" || method === "HEAD")
  ) {
    throw new TypeError(
      `Cannot fetch as a ${method} request cannot have a body`,
    );
  }
  if (redirect !== "follow" && redirect !== "manual" && redirect !== "error") {
    throw new TypeError(
      `Cannot fetch as redirect mode ${String(redirect)} is invalid`,
    );
  }
  const body = requestBody !== null
    ? collectBody(requestBody, limit)
    : extractBody(bodyInit);
  const request: FetchRequest = {
    method,
    url,
    headers,
    body: NO_BODY,
    signal,
    redirect,
    fields: DEFAULT_FIELDS,
    host: undefined,
    contentLength: null,
    plain: true,
  };
  if (body instanceof Promise) {
    return body.then((body) => {
      request.body = body;
      return withFields(request);
    });
  }
  request.body = body;
  return withFields(request);
}

/** A method that is a token (RFC 9110 §9.1), else a `TypeError`. */
function checkMethod(method: string): string {
  validateRequestHead({ method, target: "/", headers: [] });
  return method;
}

/**
 * `Authorization: Basic` from the URL's userinfo, percent-decoded, unless
 * the caller set an `Authorization` field: theirs wins.
 */
function credentialsToHeader(url: URL, headers: Headers | null): Headers {
  const out = headers ?? new Headers();
  if (!out.has("authorization")) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const token = btoa(
      String.fromCharCode(...encoder.encode(`${user}:${password}`)),
    );
    out.set("authorization", `Basic ${token}`);
  }
  return out;
}

function withoutCredentials(url: URL): URL {
  const bare = new URL(url);
  bare.username = "";
  bare.password = "";
  return bare;
}

/**
 * Sets the fields, `host` and `contentLength` of `request` from its headers
 * and body: the caller's fields in their order, then `accept`,
 * `accept-encoding`, `user-agent` and `content-type` where the caller set
 * none. Call again after the headers or body change.
 *
 * @throws {TypeError} The caller set `Transfer-Encoding`, or a
 * `Content-Length` that contradicts the body.
 */
export function withFields(request: FetchRequest): FetchRequest {
  const { headers, body, method } = request;
  let declared: string | undefined;
  if (headers === null && body.contentType === null) {
    request.fields = DEFAULT_FIELDS;
    request.host = undefined;
    request.plain = true;
  } else {
    const fields: [string, string][] = [];
    let host: string | undefined;
    let accept = false;
    let acceptEncoding = false;
    let userAgent = false;
    let contentType = false;
    if (headers !== null) {
      for (const [name, value] of headers) {
        switch (name) {
          case "host":
            host = value;
            continue;
          case "content-length":
            declared = value;
            continue;
          case "transfer-encoding":
            throw new TypeError(
              "Cannot send request as the Transfer-Encoding header is set by the client: remove it",
            );
          case "accept":
            accept = true;
            break;
          case "accept-encoding":
            acceptEncoding = true;
            break;
          case "user-agent":
            userAgent = true;
            break;
          case "content-type":
            contentType = true;
            break;
        }
        fields.push([name, value]);
      }
    }
    if (!accept) fields.push(["accept", "*/*"]);
    if (!acceptEncoding) fields.push(["accept-encoding", ACCEPT_ENCODING]);
    if (!userAgent) fields.push(["user-agent", USER_AGENT]);
    if (!contentType && body.contentType !== null) {
      fields.push(["content-type", body.contentType]);
    }
    // Headers already refuses bad names and values; this also checks the
    // method and the target, so that no transport can be made to smuggle.
    validateRequestHead({
      method,
      target: request.url.pathname + request.url.search,
      headers: fields,
    });
    request.fields = fields;
    request.host = host;
    request.plain = false;
  }
  let length: number | null = null;
  if (body.bytes !== null) length = body.bytes.byteLength;
  else if (body.stream !== null) {
    // A length the caller declares for a stream is sent, and the stream is
    // held to it exactly; none: the stream goes chunked.
    if (declared !== undefined) {
      if (!/^\d{1,15}$/.test(declared)) {
        throw new TypeError(
          `Cannot send request as its Content-Length header is not a length: ${
            JSON.stringify(declared)
          }`,
        );
      }
      length = Number(declared);
    }
  } else if (method === "POST" || method === "PUT" || method === "PATCH") {
    length = 0;
  }
  if (declared !== undefined && Number(declared) !== length) {
    throw new TypeError(
      `Cannot send request as its Content-Length header (${declared}) contradicts its body (${
        length ?? 0
      } bytes)`,
    );
  }
  request.contentLength = length;
  return request;
}

const SENSITIVE_HEADERS = ["authorization", "cookie", "proxy-authorization"];
const BODY_HEADERS = [
  "content-type",
  "content-length",
  "content-encoding",
  "content-language",
  "content-location",
];

/**
 * Rewrites `request` to follow a redirect to `location` (Fetch standard,
 * HTTP-redirect fetch): 303, and 301/302 after a POST, become a GET without
 * body; credentials are dropped on a cross-origin redirect.
 *
 * @throws {TypeError} The location is invalid, not http(s), or the body is
 * a stream that cannot be sent again.
 */
export function redirectRequest(
  request: FetchRequest,
  status: number,
  location: string,
): void {
  let next: URL;
  try {
    next = new URL(location, request.url);
  } catch (error) {
    throw new TypeError(
      `Fetch to ${request.url.origin} failed: invalid redirect location ${
        JSON.stringify(location)
      }`,
      { cause: error },
    );
  }
  if (next.protocol !== "http:" && next.protocol !== "https:") {
    throw new TypeError(
      `Fetch to ${request.url.origin} failed: redirect to unsupported scheme ${next.protocol}`,
    );
  }
  const headers = request.headers ?? new Headers();
  if (
    ((status === 301 || status === 302) && request.method === "POST") ||
    (status === 303 && request.method !== "GET" && request.method !== "HEAD")
  ) {
    request.method = "GET";
    request.body = NO_BODY;
    for (const name of BODY_HEADERS) headers.delete(name);
  } else if (!request.body.replayable) {
    throw new TypeError(
      `Fetch to ${request.url.origin} failed: cannot follow a ${status} redirect with a streamed body, which cannot be sent again`,
    );
  }
  if (next.origin !== request.url.origin) {
    for (const name of SENSITIVE_HEADERS) headers.delete(name);
  }
  request.headers = headers;
  request.url = next;
  withFields(request);
}
