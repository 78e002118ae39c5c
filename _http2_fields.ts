// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The rules for fields in HTTP/2 messages (RFC 9113 §8.2, §8.3), client
 * side: checks of the response and trailer sections a server sends, and the
 * field list of a request we send, pseudo-header fields first. No I/O and no
 * HPACK: fields come from `HpackDecoder` and go to `HpackEncoder`
 * (`_hpack.ts`).
 *
 * A broken rule in a response is a stream error (PROTOCOL_ERROR): the
 * response is malformed (§8.1.1), the connection goes on. A request that
 * cannot be expressed is a TypeError before anything is sent.
 *
 * @module
 */

import { ErrorCode } from "./_http2_frames.ts";
import { Http2ProtocolError } from "./errors.ts";

const PROTOCOL_ERROR = ErrorCode.PROTOCOL_ERROR;

/** A response's control data and fields, checked against RFC 9113 §8. */
export interface ResponseFields {
  /** The `:status` pseudo-header: a three-digit code from 100. */
  status: number;
  /** The regular fields, `[name, value]` in the order received. */
  headers: [string, string][];
}

// Lower-case tchar (RFC 9110 §5.6.2): what a field name may hold in HTTP/2.
const NAME_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") {
  NAME_CHARS[c.charCodeAt(0)] = 1;
}
const INVALID_VALUE = /[\0\r\n]/;
const NON_BYTE = /[^\0-\xff]/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const INVALID_TARGET = /[\0-\x20\x7f-\uffff]/;

/**
 * Connection-specific fields, which an HTTP/2 message must not carry
 * (RFC 9113 §8.2.2).
 */
const CONNECTION_SPECIFIC = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

function malformed(message: string, streamId: number): Http2ProtocolError {
  return new Http2ProtocolError(message, PROTOCOL_ERROR, streamId);
}

function isWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Checks one regular field of a response or trailer section (§8.2). */
function checkField(
  name: string,
  value: string,
  streamId: number,
  what: string,
): void {
  if (name.length === 0) {
    throw malformed(
      `${what} has a field with an empty name (RFC 9113 §8.2.1)`,
      streamId,
    );
  }
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHARS[c] === 0) {
      throw malformed(
        c >= 0x41 && c <= 0x5a
          ? `${what} field name ${
            JSON.stringify(name)
          } has an uppercase character (RFC 9113 §8.2.1)`
          : `${what} field name ${
            JSON.stringify(name)
          } has an invalid character (RFC 9113 §8.2.1)`,
        streamId,
      );
    }
  }
  if (CONNECTION_SPECIFIC.has(name)) {
    throw malformed(
      `${what} has the connection-specific field '${name}' (RFC 9113 §8.2.2)`,
      streamId,
    );
  }
  if (value.length === 0) return;
  if (INVALID_VALUE.test(value)) {
    throw malformed(
      `${what} field '${name}' has CR, LF or NUL in its value (RFC 9113 §8.2.1)`,
      streamId,
    );
  }
  if (
    isWhitespace(value.charCodeAt(0)) ||
    isWhitespace(value.charCodeAt(value.length - 1))
  ) {
    throw malformed(
      `${what} field '${name}' has a value with leading or trailing whitespace (RFC 9113 §8.2.1)`,
      streamId,
    );
  }
}

/**
 * Checks a decoded response field section and splits off its `:status`
 * (RFC 9113 §8.2, §8.3.2): pseudo-header fields first, `:status` alone among
 * them and exactly once, three digits; field names non-empty lower-case
 * tokens; no connection-specific fields; values without CR, LF or NUL and
 * without leading or trailing whitespace.
 *
 * @param fields The fields from {@linkcode HpackDecoder.decode}.
 * @param streamId The stream the fields arrived on.
 * @throws {Http2ProtocolError} A stream error (PROTOCOL_ERROR) naming the
 * broken rule: the response is malformed (§8.1.1).
 */
export function validateResponseFields(
  fields: [string, string][],
  streamId: number,
): ResponseFields {
  let status = -1;
  let first = -1; // index of the first regular field
  for (let i = 0; i < fields.length; i++) {
    const [name, value] = fields[i];
    if (name.charCodeAt(0) !== 0x3a) {
      if (first === -1) first = i;
      checkField(name, value, streamId, "Response");
      continue;
    }
    if (first !== -1) {
      throw malformed(
        `Response has the pseudo-header field ${
          JSON.stringify(name)
        } after a regular field (RFC 9113 §8.3)`,
        streamId,
      );
    }
    if (name !== ":status") {
      throw malformed(
        `Response has the pseudo-header field ${
          JSON.stringify(name)
        }: only ':status' is allowed (RFC 9113 §8.3)`,
        streamId,
      );
    }
    if (status !== -1) {
      throw malformed(
        "Response has more than one ':status' (RFC 9113 §8.3.2)",
        streamId,
      );
    }
    status = parseStatus(value);
    if (status === -1) {
      throw malformed(
        `Response ':status' ${
          JSON.stringify(value)
        } is not a three-digit code (RFC 9113 §8.3.2)`,
        streamId,
      );
    }
  }
  if (status === -1) {
    throw malformed("Response has no ':status' (RFC 9113 §8.3.2)", streamId);
  }
  return { status, headers: first === -1 ? [] : fields.slice(first) };
}

function parseStatus(value: string): number {
  if (value.length !== 3) return -1;
  let status = 0;
  for (let i = 0; i < 3; i++) {
    const digit = value.charCodeAt(i) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    status = status * 10 + digit;
  }
  return status >= 100 ? status : -1;
}

/**
 * Checks a decoded trailer section (RFC 9113 §8.1): the rules of
 * {@linkcode validateResponseFields} for regular fields, and no pseudo-header
 * fields at all.
 *
 * @returns `fields`, unchanged.
 * @throws {Http2ProtocolError} A stream error (PROTOCOL_ERROR) naming the
 * broken rule.
 */
export function validateTrailerFields(
  fields: [string, string][],
  streamId: number,
): [string, string][] {
  for (const [name, value] of fields) {
    if (name.charCodeAt(0) === 0x3a) {
      throw malformed(
        `Trailers have the pseudo-header field ${
          JSON.stringify(name)
        } (RFC 9113 §8.1)`,
        streamId,
      );
    }
    checkField(name, value, streamId, "Trailer");
  }
  return fields;
}

/**
 * Builds the field list of a request (RFC 9113 §8.3.1): the pseudo-header
 * fields `:method`, `:scheme`, `:authority` and `:path`, then the caller's
 * fields with lower-cased names. `host` is dropped (`:authority` carries it),
 * as are the connection-specific fields (§8.2.2); `te` is kept only as
 * `te: trailers`. Leading and trailing whitespace is trimmed from values.
 *
 * @param authority The target's host and port, without userinfo.
 * @param path The path and query; `/` at least.
 * @param headers The caller's fields, e.g. a `Headers` object.
 * @throws {TypeError} The method is not a token, the authority or path is
 * empty or has a space or control character, a name is not a token, or a
 * value has CR, LF, NUL or a character above 0xFF. Nothing has been sent.
 */
export function buildRequestFields(
  method: string,
  scheme: string,
  authority: string,
  path: string,
  headers: Iterable<readonly [string, string]>,
): [string, string][] {
  if (!TOKEN.test(method)) {
    throw new TypeError(
      `Cannot send request as the method is not a valid token: ${
        JSON.stringify(method)
      }`,
    );
  }
  if (authority === "" || INVALID_TARGET.test(authority)) {
    throw new TypeError(
      `Cannot send request as the authority is empty or contains a space or control character: ${
        JSON.stringify(authority)
      }`,
    );
  }
  if (path === "" || INVALID_TARGET.test(path)) {
    throw new TypeError(
      `Cannot send request as the path is empty or contains a space or control character: ${
        JSON.stringify(path)
      }`,
    );
  }
  const fields: [string, string][] = [
    [":method", method],
    [":scheme", scheme],
    [":authority", authority],
    [":path", path],
  ];
  for (const [rawName, rawValue] of headers) {
    if (!TOKEN.test(rawName)) {
      throw new TypeError(
        `Cannot send request as header name ${
          JSON.stringify(rawName)
        } is not a valid token`,
      );
    }
    const name = rawName.toLowerCase();
    if (name === "host" || CONNECTION_SPECIFIC.has(name)) continue;
    if (INVALID_VALUE.test(rawValue) || NON_BYTE.test(rawValue)) {
      throw new TypeError(
        `Cannot send request as the value of header '${name}' contains CR, LF, NUL or a character above 0xFF`,
      );
    }
    const value = trimWhitespace(rawValue);
    if (name === "te") {
      // §8.2.2: TE may only say "trailers".
      if (value.toLowerCase() === "trailers") fields.push(["te", "trailers"]);
      continue;
    }
    fields.push([name, value]);
  }
  return fields;
}

function trimWhitespace(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isWhitespace(s.charCodeAt(a))) a++;
  while (b > a && isWhitespace(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}
