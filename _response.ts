// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The `Response` every fetch of ours resolves to: a real `Response` (body,
 * headers, `clone()`, `instanceof Response`) that also knows its URL and
 * whether it was redirected, which a constructed `Response` cannot be given.
 *
 * @module
 */

/**
 * A `Response` that knows the URL it came from and whether it was redirected,
 * as one from the built-in fetch does (a constructed `Response` cannot be
 * given either). Getters on a subclass cost nothing per response, unlike
 * defining the properties on each one.
 */
export class FetchedResponse extends Response {
  #url: string;
  #redirected: boolean;

  /** A response for `url`; `redirected` when a redirect led to it. */
  constructor(
    body: BodyInit | null,
    init: ResponseInit,
    url: string,
    redirected = false,
  ) {
    super(body, init);
    this.#url = url;
    this.#redirected = redirected;
  }

  override get url(): string {
    return this.#url;
  }

  override get redirected(): boolean {
    return this.#redirected;
  }

  override clone(): Response {
    const copy = super.clone();
    Object.defineProperties(copy, {
      url: { value: this.#url },
      redirected: { value: this.#redirected },
    });
    return copy;
  }
}
