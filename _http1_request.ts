// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A dispatched request in HTTP/1.1 bytes (RFC 9112 §3): the request line,
 * `Host` first, the fields, then the framing (`Content-Length`, or
 * `Transfer-Encoding: chunked` for a stream of unknown length), and the body
 * when it is in hand, in one buffer so that a small request goes out in one
 * write. One encoder per pool: through a forward proxy the target is in
 * absolute-form (§3.2.2) and the proxy's credentials are added. The fields
 * were checked by the fetch layer (`validateRequestHead`).
 *
 * @module
 */

import type { DispatchRequest } from "./_dispatch.ts";
import { encodeRequest } from "./_http1.ts";

/** Encodes requests for one origin's connections. */
export class Http1RequestEncoder {
  #absoluteForm: boolean;
  #proxyAuthorization: string | undefined;
  /** Plain GETs (default fields only) by URL: always the same bytes. */
  #plainGets = new WeakMap<URL, Uint8Array>();

  /**
   * An encoder; `forwardProxy` when requests go to an HTTP proxy in
   * absolute-form, with its credentials.
   */
  constructor(forwardProxy?: { authorization(): string | undefined }) {
    this.#absoluteForm = forwardProxy !== undefined;
    this.#proxyAuthorization = forwardProxy?.authorization();
  }

  /** The request's bytes; a plain GET is encoded once per URL object. */
  encode(request: DispatchRequest): Uint8Array {
    const cacheable = request.plain && request.method === "GET";
    if (cacheable) {
      const cached = this.#plainGets.get(request.url);
      if (cached !== undefined) return cached;
    }
    const { method, url, body, contentLength } = request;
    // The absolute-form leaves out the fragment, like the origin-form.
    const target = this.#absoluteForm
      ? url.origin + url.pathname + url.search
      : url.pathname + url.search;
    const headers: (readonly [string, string])[] = [[
      "host",
      request.host ?? url.host,
    ]];
    for (const field of request.fields) headers.push(field);
    if (this.#proxyAuthorization !== undefined) {
      headers.push(["proxy-authorization", this.#proxyAuthorization]);
    }
    if (contentLength !== null) {
      headers.push(["content-length", String(contentLength)]);
    } else if (body.stream !== null) {
      headers.push(["transfer-encoding", "chunked"]);
    }
    const bytes = encodeRequest({ method, target, headers }, body.bytes);
    if (cacheable) this.#plainGets.set(url, bytes);
    return bytes;
  }
}
