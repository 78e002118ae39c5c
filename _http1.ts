// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The HTTP/1.1 codec (RFC 9112): request heads to bytes, response bytes to
 * heads and body framing. It does no I/O: the connection feeds it the bytes it
 * read, split however the network split them, and it says how many it used.
 *
 * Response heads are found with `Uint8Array.prototype.indexOf`, decoded once
 * and split into lines; body bytes are never copied here, only sliced.
 *
 * @module
 */

import { HttpParseError } from "./errors.ts";

/** Limits the parser enforces; exceeding one is an {@linkcode HttpParseError}. */
export interface ParserLimits {
  /**
   * Bytes in a response head (status line and header lines, with CRLFs), any
   * empty lines before it included.
   */
  maxHeaderSize: number;
  /** Header fields in one response head. */
  maxHeaderCount: number;
  /** Bytes in a chunk-size line, extensions included, line end excluded. */
  maxChunkLineLength: number;
  /**
   * Bytes of trailer fields after the last chunk, with their line ends; the
   * final empty line is not counted.
   */
  maxTrailerSize: number;
}

/** The parser limits used when no option says otherwise. */
export const DEFAULT_PARSER_LIMITS: Readonly<ParserLimits> = Object.freeze({
  maxHeaderSize: 64 * 1024,
  maxHeaderCount: 256,
  maxChunkLineLength: 4096,
  maxTrailerSize: 16 * 1024,
});

/**
 * How the body of a response is delimited (RFC 9112 §6.3).
 *
 * - `none`: no body (HEAD, 1xx, 204, 304).
 * - `length`: exactly `length` bytes.
 * - `chunked`: the chunked transfer coding (§7.1).
 * - `close`: everything until the server closes the connection.
 */
export type BodyFraming = "none" | "length" | "chunked" | "close";

/** A parsed response head. */
export interface ResponseHead {
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and any later 1.x, §2.3). */
  minorVersion: number;
  /** The three-digit status code. */
  status: number;
  /** The reason phrase, possibly empty. */
  statusText: string;
  /** Header fields as `[name, value]` in the order received. */
  headers: [string, string][];
  /** Bytes of the head, terminating empty line included. */
  headLength: number;
  /** How the body is delimited. */
  framing: BodyFraming;
  /** Body bytes when `framing` is `length`, else 0. */
  contentLength: number;
  /**
   * Whether the connection may carry another request after this response's
   * body (§9.3): HTTP/1.1 without `Connection: close`, or HTTP/1.0 with
   * `Connection: keep-alive`, and a body that is self-delimited and framed
   * unambiguously.
   */
  keepAlive: boolean;
  /** `Keep-Alive: timeout=N` in milliseconds, if the server sent one. */
  keepAliveTimeout: number | undefined;
  /** `Keep-Alive: max=N`: requests the server still allows, if it said. */
  keepAliveMax: number | undefined;
  /** The Content-Encoding field value (fields joined by commas), if any. */
  contentEncoding: string | undefined;
}

const LF = 10;
const CR = 13;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_VALUE = /[\0\r\n]/;
const INVALID_TARGET = /[\0-\x20\x7f]/;
const NON_ASCII = /[^\0-\x7f]/;
const DIGITS = /^\d+$/;
const HEX = /^[0-9A-Fa-f]+$/;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });
const MAX_CONTENT_LENGTH_DIGITS = 15; // stays below Number.MAX_SAFE_INTEGER

/**
 * Decodes bytes as ISO-8859-1, one char per byte: header bytes are byte
 * strings in the Fetch standard, so obs-text survives unchanged.
 */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  // Heads are nearly always ASCII, where UTF-8 and Latin-1 agree and the
  // native UTF-8 decoder is ten times faster; anything else takes the exact
  // byte-per-char path (ignoreBOM keeps a leading BOM visible to the check).
  const ascii = utf8.decode(bytes.subarray(start, end));
  if (!NON_ASCII.test(ascii)) return ascii;
  let out = "";
  for (let i = start; i < end; i += 8192) {
    out += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[],
    );
  }
  return out;
}

/**
 * Finds the end of a response head in `buf[start:end]`: the index just past
 * the empty line. A bare LF is accepted as a line end (§2.2). Returns -1 when
 * the head is not complete yet.
 */
function findHeadEnd(buf: Uint8Array, start: number, end: number): number {
  let i = buf.indexOf(LF, start);
  while (i !== -1 && i < end) {
    // An empty line is "\n" right after the previous "\n", or "\r\n" there.
    const next = i + 1;
    if (next < end && buf[next] === LF) return next + 1;
    if (next + 1 < end && buf[next] === CR && buf[next + 1] === LF) {
      return next + 2;
    }
    i = buf.indexOf(LF, next);
  }
  return -1;
}

/**
 * Parses a response head from `buf[start:end]`.
 *
 * @param buf The bytes read so far.
 * @param start Where the head begins.
 * @param end Where the bytes read so far end.
 * @param method The request's method (HEAD responses have no body).
 * @param limits The parser limits.
 * @returns The head, or `null` when more bytes are needed.
 * @throws {HttpParseError} The bytes are not a valid response head, or break
 * a limit.
 */
export function parseResponseHead(
  buf: Uint8Array,
  start: number,
  end: number,
  method: string,
  limits: ParserLimits,
): ResponseHead | null {
  const origin = start;
  // Tolerate empty lines before the status line (§2.2).
  // They count against maxHeaderSize, so an endless run of them is an error.
  while (start < end && (buf[start] === CR || buf[start] === LF)) start++;
  const limitEnd = Math.min(end, origin + limits.maxHeaderSize);
  const headEnd = start === end ? -1 : findHeadEnd(buf, start, limitEnd);
  if (headEnd === -1) {
    if (end - origin >= limits.maxHeaderSize) {
      throw new HttpParseError(
        `Response head exceeds maxHeaderSize (${limits.maxHeaderSize} bytes)`,
      );
    }
    if (end - start >= 5 && !startsWithHttp(buf, start)) {
      throw new HttpParseError("Response does not start with 'HTTP/'");
    }
    return null;
  }
  const text = latin1(buf, start, headEnd);
  // The status line (§4): HTTP/1.x SP 3DIGIT [SP reason].
  let lineEnd = text.indexOf("\n");
  const statusLine = lineText(text, 0, lineEnd);
  if (
    !statusLine.startsWith("HTTP/1.") || !isDigit(statusLine, 7) ||
    statusLine.charCodeAt(8) !== 0x20 || !isDigit(statusLine, 9) ||
    !isDigit(statusLine, 10) || !isDigit(statusLine, 11) ||
    (statusLine.length > 12 && statusLine.charCodeAt(12) !== 0x20)
  ) {
    throw new HttpParseError(
      `Invalid status line: ${JSON.stringify(statusLine.slice(0, 80))}`,
    );
  }
  const minorVersion = statusLine.charCodeAt(7) - 0x30;
  const status = (statusLine.charCodeAt(9) - 0x30) * 100 +
    (statusLine.charCodeAt(10) - 0x30) * 10 + statusLine.charCodeAt(11) - 0x30;
  const statusText = statusLine.length > 13 ? statusLine.slice(13) : "";
  if (status < 100) {
    throw new HttpParseError(`Invalid status code ${status}`);
  }
  if (INVALID_VALUE.test(statusText)) {
    throw new HttpParseError(
      `Invalid status line: ${JSON.stringify(statusLine.slice(0, 80))}`,
    );
  }

  const headers: [string, string][] = [];
  let connection = "";
  let contentLengthValue: string | undefined;
  let transferEncoding: string | undefined;
  let contentEncoding: string | undefined;
  let keepAliveParams: string | undefined;
  // Field lines up to the empty line that ends the head.
  while (true) {
    const lineStart = lineEnd + 1;
    lineEnd = text.indexOf("\n", lineStart);
    const line = lineText(text, lineStart, lineEnd);
    if (line === "") break;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // obs-fold (§5.2): replace with a space and append to the previous.
      if (headers.length === 0) {
        throw new HttpParseError("Header continuation line without a field");
      }
      const prev = headers[headers.length - 1];
      const extra = trimOws(line);
      prev[1] = prev[1] === "" ? extra : `${prev[1]} ${extra}`;
      if (INVALID_VALUE.test(prev[1])) {
        throw new HttpParseError(`Invalid value for header '${prev[0]}'`);
      }
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) {
      throw new HttpParseError(
        `Invalid header line: ${JSON.stringify(line.slice(0, 80))}`,
      );
    }
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) {
      throw new HttpParseError(
        `Invalid header name: ${JSON.stringify(name.slice(0, 80))}`,
      );
    }
    const value = trimOws(line.slice(colon + 1));
    if (INVALID_VALUE.test(value)) {
      throw new HttpParseError(`Invalid value for header '${name}'`);
    }
    if (headers.length === limits.maxHeaderCount) {
      throw new HttpParseError(
        `Response has more than maxHeaderCount (${limits.maxHeaderCount}) header fields`,
      );
    }
    headers.push([name, value]);
  }

  // Read the framing fields only now, after obs-fold lines were appended.
  for (const [name, value] of headers) {
    switch (name.length) {
      case 10:
        if (name.toLowerCase() === "connection") {
          connection = connection === "" ? value : `${connection},${value}`;
        } else if (name.toLowerCase() === "keep-alive") {
          keepAliveParams = keepAliveParams === undefined
            ? value
            : `${keepAliveParams},${value}`;
        }
        break;
      case 14:
        if (name.toLowerCase() === "content-length") {
          contentLengthValue = contentLengthValue === undefined
            ? value
            : `${contentLengthValue},${value}`;
        }
        break;
      case 16:
        if (name.toLowerCase() === "content-encoding") {
          contentEncoding = contentEncoding === undefined
            ? value
            : `${contentEncoding},${value}`;
        }
        break;
      case 17:
        if (name.toLowerCase() === "transfer-encoding") {
          transferEncoding = transferEncoding === undefined
            ? value
            : `${transferEncoding},${value}`;
        }
        break;
    }
  }

  const connectionTokens = connection === ""
    ? []
    : connection.toLowerCase().split(",").map((t) => t.trim());
  let keepAlive = connectionTokens.includes("close")
    ? false
    : minorVersion >= 1 || connectionTokens.includes("keep-alive");

  // Message body length, RFC 9112 §6.3.
  let framing: BodyFraming;
  let contentLength = 0;
  if (
    method === "HEAD" || status < 200 || status === 204 || status === 304
  ) {
    framing = "none";
  } else if (transferEncoding !== undefined) {
    const codings = transferEncoding.toLowerCase().split(",").map((t) =>
      t.trim()
    ).filter((t) => t !== "");
    if (codings.length === 0 || codings[codings.length - 1] !== "chunked") {
      // §6.3 rule 4: not chunked last, so the body runs until close.
      framing = "close";
    } else if (codings.length > 1) {
      // Only "chunked" alone is supported: "gzip, chunked" would hand the
      // caller bytes it did not ask to decode.
      throw new HttpParseError(
        `Unsupported Transfer-Encoding: ${JSON.stringify(transferEncoding)}`,
      );
    } else {
      framing = "chunked";
    }
    // §6.1: both present is a sign of smuggling; never reuse the connection.
    if (contentLengthValue !== undefined || minorVersion === 0) {
      keepAlive = false;
    }
  } else if (contentLengthValue !== undefined) {
    contentLength = parseContentLength(contentLengthValue);
    framing = "length";
  } else {
    framing = "close";
  }
  if (framing === "close") keepAlive = false;

  let keepAliveTimeout: number | undefined;
  let keepAliveMax: number | undefined;
  if (keepAliveParams !== undefined) {
    for (const part of keepAliveParams.split(",")) {
      const eq = part.indexOf("=");
      if (eq === -1) continue;
      const key = part.slice(0, eq).trim().toLowerCase();
      const raw = part.slice(eq + 1).trim().replace(/^"(.*)"$/, "$1");
      if (!DIGITS.test(raw)) continue;
      if (key === "timeout") keepAliveTimeout = Number(raw) * 1000;
      else if (key === "max") keepAliveMax = Number(raw);
    }
  }

  return {
    minorVersion,
    status,
    statusText,
    headers,
    headLength: headEnd - origin,
    framing,
    contentLength,
    keepAlive,
    keepAliveTimeout,
    keepAliveMax,
    contentEncoding,
  };
}

function startsWithHttp(buf: Uint8Array, start: number): boolean {
  // "HTTP/"
  return buf[start] === 0x48 && buf[start + 1] === 0x54 &&
    buf[start + 2] === 0x54 && buf[start + 3] === 0x50 &&
    buf[start + 4] === 0x2f;
}

/** Strips optional whitespace (SP / HTAB only, RFC 9110 §5.6.3). */
function trimOws(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) === 0x20 || s.charCodeAt(a) === 0x09)) a++;
  while (
    b > a && (s.charCodeAt(b - 1) === 0x20 || s.charCodeAt(b - 1) === 0x09)
  ) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** The line of `text` from `start` to the LF at `lf`, without its CR. */
function lineText(text: string, start: number, lf: number): string {
  const end = lf > start && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
  return text.slice(start, end);
}

function isDigit(text: string, index: number): boolean {
  const code = text.charCodeAt(index);
  return code >= 0x30 && code <= 0x39;
}

function trimCr(line: string): string {
  return line.charCodeAt(line.length - 1) === CR ? line.slice(0, -1) : line;
}

/**
 * Parses a Content-Length field value; a list of identical values is accepted
 * as one (§6.3 rule 5), differing values are an error.
 */
function parseContentLength(value: string): number {
  // The common case, one plain number: no split, no regex.
  if (value.length <= MAX_CONTENT_LENGTH_DIGITS) {
    let n = 0;
    let i = 0;
    for (; i < value.length; i++) {
      const digit = value.charCodeAt(i) - 0x30;
      if (digit < 0 || digit > 9) break;
      n = n * 10 + digit;
    }
    if (i === value.length && i > 0) return n;
  }
  let result: string | undefined;
  for (const part of value.split(",")) {
    const digits = part.trim();
    if (!DIGITS.test(digits) || digits.length > MAX_CONTENT_LENGTH_DIGITS) {
      throw new HttpParseError(
        `Invalid Content-Length: ${JSON.stringify(value.slice(0, 80))}`,
      );
    }
    if (result !== undefined && Number(result) !== Number(digits)) {
      throw new HttpParseError(
        `Conflicting Content-Length values: ${
          JSON.stringify(value.slice(0, 80))
        }`,
      );
    }
    result = digits;
  }
  return Number(result);
}

const enum ChunkState {
  Size,
  Data,
  DataEnd,
  Trailers,
  Done,
}

/**
 * Decodes the chunked transfer coding (RFC 9112 §7.1) incrementally.
 * Extensions are ignored; trailer fields are checked and counted against the
 * limit, then dropped.
 *
 * Call {@linkcode ChunkedDecoder.decode} with the unread bytes; it consumes
 * what it can and returns the count. When it found chunk data, `data` holds
 * that slice of the caller's buffer (valid until the buffer is reused).
 */
export class ChunkedDecoder {
  /** The chunk data found by the last call, or `null`. */
  data: Uint8Array | null = null;
  #state: ChunkState = ChunkState.Size;
  #remaining = 0;
  #trailerBytes = 0;
  #limits: ParserLimits;

  /** Creates a decoder that enforces `limits`. */
  constructor(limits: ParserLimits) {
    this.#limits = limits;
  }

  /** Whether the last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.#state === ChunkState.Done;
  }

  /**
   * Consumes bytes from `buf[start:end]`.
   *
   * @returns How many bytes were consumed; 0 means more bytes are needed.
   * @throws {HttpParseError} The bytes are not valid chunked coding.
   */
  decode(buf: Uint8Array, start: number, end: number): number {
    this.data = null;
    let pos = start;
    while (pos < end) {
      switch (this.#state) {
        case ChunkState.Size: {
          const lf = buf.indexOf(LF, pos);
          if (lf === -1 || lf >= end) {
            // One more byte may be the CR of a line at the limit.
            if (end - pos > this.#limits.maxChunkLineLength + 1) {
              throw new HttpParseError(
                "Chunk-size line exceeds maxChunkLineLength",
              );
            }
            return pos - start;
          }
          const lineLength = lf - pos -
            (lf > pos && buf[lf - 1] === CR ? 1 : 0);
          if (lineLength > this.#limits.maxChunkLineLength) {
            throw new HttpParseError(
              "Chunk-size line exceeds maxChunkLineLength",
            );
          }
          const line = trimCr(latin1(buf, pos, lf));
          const semi = line.indexOf(";");
          const sizeText = (semi === -1 ? line : line.slice(0, semi)).trim();
          // 12 hex digits is 256 TiB: more is an overflow attempt.
          if (!HEX.test(sizeText) || sizeText.length > 12) {
            throw new HttpParseError(
              `Invalid chunk size: ${JSON.stringify(sizeText.slice(0, 20))}`,
            );
          }
          if (INVALID_VALUE.test(line)) {
            throw new HttpParseError("Invalid character in a chunk extension");
          }
          const size = parseInt(sizeText, 16);
          pos = lf + 1;
          if (size === 0) {
            this.#state = ChunkState.Trailers;
          } else {
            this.#remaining = size;
            this.#state = ChunkState.Data;
          }
          break;
        }
        case ChunkState.Data: {
          const n = Math.min(this.#remaining, end - pos);
          this.data = buf.subarray(pos, pos + n);
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = ChunkState.DataEnd;
          return pos + n - start;
        }
        case ChunkState.DataEnd: {
          if (buf[pos] === LF) {
            pos += 1;
          } else if (buf[pos] === CR) {
            if (pos + 1 >= end) return pos - start;
            if (buf[pos + 1] !== LF) {
              throw new HttpParseError("Chunk data is not followed by CRLF");
            }
            pos += 2;
          } else {
            throw new HttpParseError("Chunk data is longer than its size");
          }
          this.#state = ChunkState.Size;
          break;
        }
        case ChunkState.Trailers: {
          const lf = buf.indexOf(LF, pos);
          if (lf === -1 || lf >= end) {
            // A lone CR may begin the final empty line, which is not counted.
            const pending = end - pos;
            if (
              !(pending === 1 && buf[pos] === CR) &&
              this.#trailerBytes + pending > this.#limits.maxTrailerSize
            ) {
              throw new HttpParseError(
                "Trailer section exceeds maxTrailerSize",
              );
            }
            return pos - start;
          }
          if (lf === pos || (lf === pos + 1 && buf[pos] === CR)) {
            this.#state = ChunkState.Done;
            return lf + 1 - start;
          }
          // Field lines count with their line ends; the final CRLF does not.
          this.#trailerBytes += lf + 1 - pos;
          if (this.#trailerBytes > this.#limits.maxTrailerSize) {
            throw new HttpParseError("Trailer section exceeds maxTrailerSize");
          }
          const line = trimCr(latin1(buf, pos, lf));
          pos = lf + 1;
          const colon = line.indexOf(":");
          if (colon <= 0 || !TOKEN.test(line.slice(0, colon))) {
            throw new HttpParseError(
              `Invalid trailer line: ${JSON.stringify(line.slice(0, 80))}`,
            );
          }
          if (INVALID_VALUE.test(line)) {
            throw new HttpParseError("Invalid character in a trailer field");
          }
          break;
        }
        case ChunkState.Done:
          return pos - start;
      }
    }
    return pos - start;
  }
}

/** A request head ready to be serialised. */
export interface RequestHead {
  /** The method token, e.g. `GET`. */
  method: string;
  /** The origin-form target: path and query, e.g. `/a?b=1`. */
  target: string;
  /** Header fields, `Host` included, in the order to send them. */
  headers: Iterable<readonly [string, string]>;
}

/**
 * Checks a request head for anything that would let it smuggle a second
 * message: an invalid method token, a target with spaces or control
 * characters, a header name that is not a token, or CR, LF or NUL in a value.
 *
 * @throws {TypeError} Naming the offending part; nothing has been sent.
 */
export function validateRequestHead(head: RequestHead): void {
  if (!TOKEN.test(head.method)) {
    throw new TypeError(
      `Cannot send request as the method is not a valid token: ${
        JSON.stringify(head.method)
      }`,
    );
  }
  if (head.target === "" || INVALID_TARGET.test(head.target)) {
    throw new TypeError(
      `Cannot send request as the target contains a space or control character: ${
        JSON.stringify(head.target)
      }`,
    );
  }
  for (const [name, value] of head.headers) {
    if (!TOKEN.test(name)) {
      throw new TypeError(
        `Cannot send request as header name ${
          JSON.stringify(name)
        } is not a valid token`,
      );
    }
    if (INVALID_VALUE.test(value)) {
      throw new TypeError(
        `Cannot send request as the value of header '${name}' contains CR, LF or NUL`,
      );
    }
  }
}

const encoder = new TextEncoder();

/**
 * Serialises a request head, and appends `body` when given, into one new
 * buffer, so that a small request goes out in one write. Header values are
 * byte strings: each char becomes one byte. Call
 * {@linkcode validateRequestHead} first.
 *
 * @returns The bytes to write.
 */
export function encodeRequest(
  head: RequestHead,
  body: Uint8Array | null,
): Uint8Array {
  let text = `${head.method} ${head.target} HTTP/1.1\r\n`;
  for (const [name, value] of head.headers) {
    text += `${name}: ${value}\r\n`;
  }
  text += "\r\n";
  const bodyLength = body === null ? 0 : body.byteLength;
  if (!NON_ASCII.test(text)) {
    const out = new Uint8Array(text.length + bodyLength);
    encoder.encodeInto(text, out);
    if (body !== null) out.set(body, text.length);
    return out;
  }
  const out = new Uint8Array(text.length + bodyLength);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) {
      throw new TypeError(
        "Cannot send request as a header contains a character outside ISO-8859-1",
      );
    }
    out[i] = code;
  }
  if (body !== null) out.set(body, text.length);
  return out;
}

const CHUNK_END = encoder.encode("\r\n");

/**
 * Frames one chunk of a streamed request body in the chunked transfer coding
 * (§7.1): size line, data, CRLF, in one buffer. An empty chunk is skipped
 * (it would end the body); call {@linkcode lastChunk} for that.
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.byteLength === 0) return new Uint8Array(0);
  const sizeLine = `${data.byteLength.toString(16)}\r\n`;
  const out = new Uint8Array(sizeLine.length + data.byteLength + 2);
  encoder.encodeInto(sizeLine, out);
  out.set(data, sizeLine.length);
  out.set(CHUNK_END, sizeLine.length + data.byteLength);
  return out;
}

/** The last chunk and the empty trailer section that end a chunked body. */
export function lastChunk(): Uint8Array {
  return encoder.encode("0\r\n\r\n");
}
