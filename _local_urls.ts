// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * URLs that need no socket: `data:`, `blob:` and `file:`, answered the way
 * Deno's built-in `fetch` answers them (checked against Deno 2.9).
 *
 * - `data:` follows the Fetch standard's data: URL processor: the MIME type
 *   is parsed and serialised as MIME Sniffing §4.4 and §4.5 say, the body is
 *   percent-decoded and, after `;base64`, decoded with Infra's
 *   forgiving-base64. The response is `200 OK` with that `Content-Type` and
 *   nothing else. A URL the processor rejects (no comma, bad base64) is a
 *   `TypeError`. The method is not looked at, but `HEAD` gets no body.
 * - `blob:` goes to the built-in `fetch`, the one present when this module
 *   was loaded. Deno keeps the registry behind `URL.createObjectURL` to
 *   itself, and that `fetch` is the only way to read it; every other scheme
 *   is served here.
 * - `file:` is opened with `Deno.open`, so it needs read permission exactly
 *   where the built-in `fetch` needs it, and is refused with the same
 *   `Deno.errors.NotCapable`. Only `GET` is allowed. The response is `200 OK`
 *   without headers, its body streamed from the file in 64 KiB reads, and the
 *   file closed when the body ends, errors, is cancelled or the signal aborts.
 *   A missing file is a `TypeError`; a directory opens, and its body then
 *   fails with a `TypeError`. A URL with a host is a `URIError` on POSIX.
 *
 * An aborted signal rejects with its reason before anything else, and once
 * the response is out, aborting errors its body with that reason.
 *
 * @example
 * ```ts ignore
 * const res = await fetchLocal(new URL("data:;base64,aGk="), { method: "GET" });
 * res.headers.get("content-type"); // "text/plain;charset=US-ASCII"
 * await res.text(); // "hi"
 * ```
 *
 * @module
 */

import { FetchedResponse } from "./_response.ts";

/** What {@linkcode fetchLocal} needs of the request. */
export interface LocalFetchInit {
  /** The request method, already normalised (`GET`, not `get`). */
  method: string;
  /** Aborts the fetch, and the response body once it is out. */
  signal?: AbortSignal;
}

/** Captured at load, so a `globalThis.fetch` replaced by ours never loops. */
const builtinFetch: typeof globalThis.fetch = globalThis.fetch;

const FILE_CHUNK_SIZE = 64 * 1024;
const DEFAULT_DATA_MIME_TYPE = "text/plain;charset=US-ASCII";

/** Whether `url` is served by {@linkcode fetchLocal} rather than a socket. */
export function isLocalScheme(url: URL): boolean {
  const scheme = url.protocol;
  return scheme === "data:" || scheme === "blob:" || scheme === "file:";
}

/**
 * Fetches a `data:`, `blob:` or `file:` URL as the built-in `fetch` does.
 *
 * @throws The signal's reason, unchanged, if it has aborted.
 * @throws {TypeError} An invalid `data:` URL, a `file:` URL fetched with a
 * method other than `GET`, a file that cannot be opened.
 * @throws {Deno.errors.NotCapable} No read permission for the file.
 * @throws {URIError} A `file:` URL that names no local path.
 */
export function fetchLocal(
  url: URL,
  init: LocalFetchInit,
): Promise<Response> {
  const { method, signal } = init;
  try {
    signal?.throwIfAborted();
    switch (url.protocol) {
      case "data:":
        return Promise.resolve(fetchData(url, method, signal));
      case "blob:":
        return builtinFetch(url, { method, signal });
      case "file:":
        return fetchFile(url, method, signal);
    }
    throw new TypeError(
      `Fetch to ${url.protocol} URL failed: the scheme is not a local one`,
    );
  } catch (error) {
    return Promise.reject(error);
  }
}

/** The URL as a response gives it: serialised without its fragment. */
function hrefWithoutFragment(url: URL): string {
  const href = url.href;
  const hash = href.indexOf("#");
  return hash === -1 ? href : href.slice(0, hash);
}

// ---- data: ------------------------------------------------------------------

function fetchData(
  url: URL,
  method: string,
  signal: AbortSignal | undefined,
): Response {
  const href = hrefWithoutFragment(url);
  const { mimeType, body } = processDataUrl(href);
  return new FetchedResponse(
    method === "HEAD"
      ? null
      : new ReadableStream(new BytesSource(body, signal)),
    { status: 200, statusText: "OK", headers: { "content-type": mimeType } },
    href,
  );
}

/** The outcome of the data: URL processor: serialised MIME type and bytes. */
interface DataUrl {
  mimeType: string;
  body: Uint8Array;
}

const encoder = new TextEncoder();
const BASE64_SUFFIX = /; *base64$/i;

/**
 * The Fetch standard's data: URL processor, from the URL serialised without
 * its fragment.
 *
 * @throws {TypeError} The URL has no comma, or its base64 body is invalid.
 */
function processDataUrl(href: string): DataUrl {
  // href starts with "data:" (the URL parser lowercases the scheme).
  const comma = href.indexOf(",", 5);
  if (comma === -1) {
    throw new TypeError(
      "Fetch to a data: URL failed: it has no comma after its MIME type",
    );
  }
  let mimeType = trimAsciiWhitespace(href.slice(5, comma));
  let body = percentDecode(encoder.encode(href.slice(comma + 1)));
  const suffix = BASE64_SUFFIX.exec(mimeType);
  if (suffix !== null) {
    const decoded = forgivingBase64Decode(body);
    if (decoded === null) {
      throw new TypeError(
        "Fetch to a data: URL failed: its body is not valid base64",
      );
    }
    body = decoded;
    mimeType = mimeType.slice(0, suffix.index);
  }
  if (mimeType.startsWith(";")) mimeType = "text/plain" + mimeType;
  return {
    mimeType: parseAndSerializeMimeType(mimeType) ?? DEFAULT_DATA_MIME_TYPE,
    body,
  };
}

/** Hands out one chunk of bytes; errors with the signal's reason on abort. */
class BytesSource implements UnderlyingDefaultSource<Uint8Array> {
  #bytes: Uint8Array | null;
  #signal: AbortSignal | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;

  constructor(bytes: Uint8Array, signal: AbortSignal | undefined) {
    this.#bytes = bytes.length === 0 ? null : bytes;
    this.#signal = signal;
  }

  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
    this.#signal?.addEventListener("abort", this, { once: true });
  }

  pull(controller: ReadableStreamDefaultController<Uint8Array>): void {
    if (this.#bytes !== null) {
      controller.enqueue(this.#bytes);
      this.#bytes = null;
      return;
    }
    // Pulled again: the chunk has been read, nothing is left to abort.
    this.#release();
    controller.close();
  }

  cancel(): void {
    this.#release();
  }

  /** The signal's abort listener. */
  handleEvent(): void {
    this.#controller?.error(this.#signal?.reason);
    this.#release();
  }

  #release(): void {
    this.#bytes = null;
    this.#signal?.removeEventListener("abort", this);
  }
}

// ---- codecs: percent-decoding, forgiving-base64, MIME types -----------------

/** Hex digit value by byte, -1 for a byte that is not one. */
const HEX_VALUE = new Int8Array(256).fill(-1);
/** Base64 alphabet value by byte, -1 outside it (Infra: forgiving-base64). */
const BASE64_VALUE = new Int8Array(256).fill(-1);
/** HTTP token code points (Fetch standard), by code point below 128. */
const TOKEN = new Uint8Array(128);
{
  const digits = "0123456789abcdef";
  for (let i = 0; i < 16; i++) {
    HEX_VALUE[digits.charCodeAt(i)] = i;
    HEX_VALUE[digits.toUpperCase().charCodeAt(i)] = i;
  }
  const alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (let i = 0; i < 64; i++) BASE64_VALUE[alphabet.charCodeAt(i)] = i;
  const tokens = "!#$%&'*+-.^_`|~0123456789" +
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (let i = 0; i < tokens.length; i++) TOKEN[tokens.charCodeAt(i)] = 1;
}

/**
 * Percent-decodes `bytes` in place (URL standard, percent-decode): `%` and
 * two hex digits become that byte, any other `%` stays as it is.
 */
function percentDecode(bytes: Uint8Array): Uint8Array {
  let read = bytes.indexOf(0x25);
  if (read === -1) return bytes;
  let write = read;
  const length = bytes.length;
  for (; read < length; read++) {
    let byte = bytes[read];
    if (byte === 0x25 && read + 2 < length) {
      const high = HEX_VALUE[bytes[read + 1]];
      const low = HEX_VALUE[bytes[read + 2]];
      if (high !== -1 && low !== -1) {
        byte = (high << 4) | low;
        read += 2;
      }
    }
    bytes[write++] = byte;
  }
  return bytes.subarray(0, write);
}

function isAsciiWhitespace(byte: number): boolean {
  // TAB, LF, FF, CR, SPACE.
  return byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0c ||
    byte === 0x0d;
}

/**
 * Infra's forgiving-base64 decode, in place: ASCII whitespace is ignored,
 * padding is optional, and the bits left over at the end are dropped.
 * Returns `null` for input it rejects.
 */
function forgivingBase64Decode(bytes: Uint8Array): Uint8Array | null {
  let length = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (!isAsciiWhitespace(byte)) bytes[length++] = byte;
  }
  if (length % 4 === 0 && length > 0 && bytes[length - 1] === 0x3d) {
    length -= bytes[length - 2] === 0x3d ? 2 : 1;
  }
  if (length % 4 === 1) return null;
  // Each 4 letters give 3 bytes, so writing never overtakes reading.
  let write = 0;
  let buffer = 0;
  let bits = 0;
  for (let read = 0; read < length; read++) {
    const value = BASE64_VALUE[bytes[read]];
    if (value === -1) return null;
    buffer = (buffer << 6) | value;
    bits += 6;
    if (bits === 24) {
      bytes[write++] = buffer >> 16;
      bytes[write++] = (buffer >> 8) & 0xff;
      bytes[write++] = buffer & 0xff;
      buffer = 0;
      bits = 0;
    }
  }
  if (bits === 12) {
    bytes[write++] = buffer >> 4;
  } else if (bits === 18) {
    bytes[write++] = buffer >> 10;
    bytes[write++] = (buffer >> 2) & 0xff;
  }
  return bytes.subarray(0, write);
}

function isHttpWhitespace(code: number): boolean {
  // LF, CR, TAB, SPACE.
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

function trimAsciiWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isAsciiWhitespace(text.charCodeAt(start))) start++;
  while (end > start && isAsciiWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(start, end);
}

function trimTrailingHttpWhitespace(text: string): string {
  let end = text.length;
  while (end > 0 && isHttpWhitespace(text.charCodeAt(end - 1))) end--;
  return text.slice(0, end);
}

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 128 || TOKEN[code] === 0) return false;
  }
  return true;
}

/** HTTP quoted-string token code points: TAB, SPACE to `~`, U+0080 to U+00FF. */
function isQuotedStringText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f || code > 0xff) {
      return false;
    }
  }
  return true;
}

/**
 * Parses a MIME type (MIME Sniffing §4.4) and serialises the record at once
 * (§4.5): type and subtype lowercased, parameter names lowercased, the first
 * of a repeated name kept, values quoted when they are not tokens. Returns
 * `null` when the type or subtype is not a token.
 */
function parseAndSerializeMimeType(input: string): string | null {
  // §4.4: leading and trailing HTTP whitespace, then type "/" subtype.
  let end = input.length;
  let position = 0;
  while (position < end && isHttpWhitespace(input.charCodeAt(position))) {
    position++;
  }
  while (end > position && isHttpWhitespace(input.charCodeAt(end - 1))) end--;
  const slash = input.indexOf("/", position);
  if (slash === -1 || slash >= end) return null;
  const type = input.slice(position, slash);
  if (!isToken(type)) return null;
  position = slash + 1;
  let semicolon = input.indexOf(";", position);
  if (semicolon === -1 || semicolon > end) semicolon = end;
  const subtype = trimTrailingHttpWhitespace(input.slice(position, semicolon));
  if (!isToken(subtype)) return null;
  position = semicolon;

  let serialized = `${type}/${subtype}`.toLowerCase();
  let names: string[] | undefined;
  while (position < end) {
    position++; // past ";"
    while (position < end && isHttpWhitespace(input.charCodeAt(position))) {
      position++;
    }
    const nameStart = position;
    while (position < end) {
      const code = input.charCodeAt(position);
      if (code === 0x3b || code === 0x3d) break; // ";" or "="
      position++;
    }
    const name = input.slice(nameStart, position).toLowerCase();
    if (position < end) {
      if (input.charCodeAt(position) === 0x3b) continue;
      position++; // past "="
    }
    if (position >= end) break;
    let value: string;
    if (input.charCodeAt(position) === 0x22) {
      [value, position] = collectQuotedString(input, position, end);
      // Whatever follows the closing quote, up to the next ";", is dropped.
      const next = input.indexOf(";", position);
      position = next === -1 || next > end ? end : next;
    } else {
      let next = input.indexOf(";", position);
      if (next === -1 || next > end) next = end;
      value = trimTrailingHttpWhitespace(input.slice(position, next));
      position = next;
      if (value === "") continue;
    }
    if (
      isToken(name) && isQuotedStringText(value) &&
      !(names ??= []).includes(name)
    ) {
      names.push(name);
      serialized += `;${name}=${serializeParameterValue(value)}`;
    }
  }
  return serialized;
}

/**
 * Collects an HTTP quoted string, extracting its value (Fetch standard):
 * `\` takes the next code point as it is; an unterminated string runs to
 * `end`. Returns the value and the position after it.
 */
function collectQuotedString(
  input: string,
  position: number,
  end: number,
): [string, number] {
  let value = "";
  position++; // past the opening quote
  while (position < end) {
    const code = input.charCodeAt(position);
    if (code === 0x22) return [value, position + 1];
    if (code === 0x5c) {
      position++;
      if (position >= end) return [value + "\\", position];
    }
    value += input[position];
    position++;
  }
  return [value, position];
}

function serializeParameterValue(value: string): string {
  if (isToken(value)) return value;
  return `"${value.replace(/["\\]/g, "\\$&")}"`;
}

// ---- file: -------------------------------------------------------------------

async function fetchFile(
  url: URL,
  method: string,
  signal: AbortSignal | undefined,
): Promise<Response> {
  const href = hrefWithoutFragment(url);
  if (method !== "GET") {
    throw new TypeError(
      `Fetch to ${href} failed: a file can only be fetched with GET, not ${method}`,
    );
  }
  const file = await openFile(href, fileUrlToPath(url), signal);
  return new FetchedResponse(
    new ReadableStream(new FileSource(file, href, signal)),
    { status: 200, statusText: "OK" },
    href,
  );
}

const fileUrlError = (url: URL) =>
  new URIError(`Fetch to ${url.href} failed: the URL names no local file`);

/**
 * The local path a `file:` URL names: its path percent-decoded as UTF-8 (a
 * byte that is not UTF-8 becomes U+FFFD). On POSIX the URL must have no host;
 * on Windows a host names a UNC share, and otherwise the path must start
 * with a drive letter.
 */
function fileUrlToPath(url: URL): string {
  const path = new TextDecoder().decode(
    percentDecode(encoder.encode(url.pathname)),
  );
  if (Deno.build.os !== "windows") {
    if (url.hostname !== "") throw fileUrlError(url);
    return path;
  }
  const windowsPath = path.replaceAll("/", "\\");
  if (url.hostname !== "") return `\\\\${url.hostname}${windowsPath}`;
  // "\C:\dir" or "\C|\dir".
  if (!/^\\[A-Za-z][:|](\\|$)/.test(windowsPath)) throw fileUrlError(url);
  return `${windowsPath[1]}:${windowsPath.slice(3) || "\\"}`;
}

/**
 * Opens `path` for reading. `Deno.open` checks read permission as the
 * built-in fetch does and throws the same `NotCapable`, which is passed on;
 * any other failure becomes a `TypeError`. An abort while the open is under
 * way rejects at once, and the file is closed when it arrives.
 */
async function openFile(
  href: string,
  path: string,
  signal: AbortSignal | undefined,
): Promise<Deno.FsFile> {
  const opening = Deno.open(path);
  let onAbort: (() => void) | undefined;
  try {
    if (signal === undefined) return await opening;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    return await Promise.race([opening, aborted]);
  } catch (error) {
    if (signal?.aborted) {
      opening.then((file) => file.close(), () => {});
      throw signal.reason;
    }
    if (error instanceof Deno.errors.NotCapable) throw error;
    throw new TypeError(`Fetch to ${href} failed: the file cannot be opened`, {
      cause: error,
    });
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Streams a file into the bytes the reader offers, and closes it when the
 * body ends, fails, is cancelled or the signal aborts.
 */
class FileSource implements UnderlyingByteSource {
  readonly type = "bytes";
  readonly autoAllocateChunkSize = FILE_CHUNK_SIZE;
  #file: Deno.FsFile;
  #href: string;
  #signal: AbortSignal | undefined;
  #controller: ReadableByteStreamController | undefined;
  #closed = false;

  constructor(file: Deno.FsFile, href: string, signal?: AbortSignal) {
    this.#file = file;
    this.#href = href;
    this.#signal = signal;
  }

  start(controller: ReadableByteStreamController): void {
    this.#controller = controller;
    this.#signal?.addEventListener("abort", this, { once: true });
  }

  async pull(controller: ReadableByteStreamController): Promise<void> {
    // autoAllocateChunkSize guarantees a BYOB request for every pull.
    const request = controller.byobRequest!;
    let read: number | null;
    try {
      read = await this.#file.read(request.view as Uint8Array);
    } catch (error) {
      if (this.#closed) return;
      this.#close();
      controller.error(
        new TypeError(
          `Fetch to ${this.#href} failed: the file cannot be read`,
          {
            cause: error,
          },
        ),
      );
      return;
    }
    if (this.#closed) return; // cancelled or aborted during the read
    if (read === null) {
      this.#close();
      controller.close();
      request.respond(0);
    } else {
      request.respond(read);
    }
  }

  cancel(): void {
    this.#close();
  }

  /** The signal's abort listener. */
  handleEvent(): void {
    if (this.#closed) return;
    this.#close();
    this.#controller?.error(this.#signal?.reason);
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#signal?.removeEventListener("abort", this);
    this.#file.close();
  }
}
