// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The vocabulary of the HTTP/2 frame layer (RFC 9113 §4, §6, §7) and its
 * encoders, for the client side of a connection: frame types, flags, error
 * codes, SETTINGS parameters with their initial values, and functions that
 * return frames ready to write. No I/O. Reading frames is
 * `_http2_decoder.ts`'s job; the rules for fields are `_http2_fields.ts`'s.
 *
 * Encoders check their arguments against what the frame format allows and
 * throw a RangeError otherwise. A body chunk can go out without being copied:
 * write {@linkcode encodeDataHeader}'s nine octets, then the chunk. Also
 * here: {@linkcode connectionError}, which the session's modules use for
 * connection errors.
 *
 * @example Send a request with a body, the body chunk uncopied
 * ```ts ignore
 * const block = hpackEncoder.encode(fields);
 * queue(encodeHeaders(1, block, false, peerMaxFrameSize));
 * queue(encodeDataHeader(1, chunk.byteLength, true));
 * queue(chunk);
 * ```
 *
 * @module
 */

import { Http2ProtocolError } from "./errors.ts";

// ---------------------------------------------------------------------------
// Constants

/** Frame types (RFC 9113 §6). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

/** Frame flags (RFC 9113 §6); each is defined for some frame types only. */
export const Flag = {
  /** DATA, HEADERS: the last frame the sender sends on the stream. */
  END_STREAM: 0x1,
  /** SETTINGS, PING: an acknowledgement. */
  ACK: 0x1,
  /** HEADERS, CONTINUATION: the header block ends in this frame. */
  END_HEADERS: 0x4,
  /** DATA, HEADERS: a Pad Length field and padding are present. */
  PADDED: 0x8,
  /** HEADERS: the deprecated priority fields are present (§6.2). */
  PRIORITY: 0x20,
} as const;

/** Error codes for RST_STREAM and GOAWAY (RFC 9113 §7). */
export const ErrorCode = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  FLOW_CONTROL_ERROR: 0x3,
  SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5,
  FRAME_SIZE_ERROR: 0x6,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa,
  ENHANCE_YOUR_CALM: 0xb,
  INADEQUATE_SECURITY: 0xc,
  HTTP_1_1_REQUIRED: 0xd,
} as const;

const ERROR_NAMES: readonly string[] = Object.keys(ErrorCode);

/**
 * The name of an RFC 9113 §7 error code, e.g. `"REFUSED_STREAM"`, or
 * `"UNKNOWN_ERROR_0x1f"` for a code the RFC does not define (which a receiver
 * must not treat specially, §7).
 */
export function errorCodeName(code: number): string {
  return code >= 0 && code < ERROR_NAMES.length
    ? ERROR_NAMES[code]
    : `UNKNOWN_ERROR_0x${code.toString(16)}`;
}

/** SETTINGS parameter identifiers (RFC 9113 §6.5.2). */
export const SettingId = {
  HEADER_TABLE_SIZE: 0x1,
  ENABLE_PUSH: 0x2,
  MAX_CONCURRENT_STREAMS: 0x3,
  INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5,
  MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** The SETTINGS parameters of RFC 9113 §6.5.2, by name. */
export interface Http2Settings {
  /** SETTINGS_HEADER_TABLE_SIZE: octets of HPACK dynamic table the sender's decoder allows. */
  headerTableSize: number;
  /** SETTINGS_ENABLE_PUSH: 1 if the sender accepts server push, else 0. */
  enablePush: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS: streams the sender lets its peer open; `Infinity` when unlimited. */
  maxConcurrentStreams: number;
  /** SETTINGS_INITIAL_WINDOW_SIZE: the initial flow-control window of each stream, in octets. */
  initialWindowSize: number;
  /** SETTINGS_MAX_FRAME_SIZE: the largest frame payload the sender accepts, in octets. */
  maxFrameSize: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE: the largest field section the sender accepts (§6.5.2); `Infinity` when unlimited. */
  maxHeaderListSize: number;
}

/** The value of every setting before any SETTINGS frame (RFC 9113 §6.5.2). */
export const DEFAULT_SETTINGS: Readonly<Http2Settings> = Object.freeze({
  headerTableSize: 4096,
  enablePush: 1,
  maxConcurrentStreams: Infinity,
  initialWindowSize: 65535,
  maxFrameSize: 16384,
  maxHeaderListSize: Infinity,
});

/** Octets in a frame header (RFC 9113 §4.1). */
export const FRAME_HEADER_LENGTH = 9;
/** The smallest allowed SETTINGS_MAX_FRAME_SIZE, and its initial value. */
export const MIN_MAX_FRAME_SIZE = 16384;
/** The largest allowed SETTINGS_MAX_FRAME_SIZE: 2^24-1. */
export const MAX_MAX_FRAME_SIZE = 16777215;
/** The largest flow-control window and stream identifier: 2^31-1. */
export const MAX_WINDOW_SIZE = 2147483647;
/** The initial flow-control window of the connection and of each stream. */
export const DEFAULT_WINDOW_SIZE = 65535;

/**
 * The client connection preface (RFC 9113 §3.4), to be followed by a
 * SETTINGS frame. Shared: never modify it.
 */
export const CLIENT_PREFACE: Uint8Array = new TextEncoder().encode(
  "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
);

// Local copies of the constants the encoders use.
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const CONTINUATION = 0x9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const MAX_UINT32 = 0xffffffff;

/**
 * A connection error (RFC 9113 §5.4.1): the peer broke a rule that leaves the
 * whole connection in doubt. The session answers it with GOAWAY and closes.
 */
export function connectionError(
  message: string,
  code: number,
): Http2ProtocolError {
  return new Http2ProtocolError(message, code, 0);
}

// ---------------------------------------------------------------------------
// Encoders

/**
 * Writes a frame header (RFC 9113 §4.1) into `out` at `offset`. For callers
 * that lay several frames out in one buffer; the arguments are not checked.
 */
export function writeFrameHeader(
  out: Uint8Array,
  offset: number,
  length: number,
  type: number,
  flags: number,
  streamId: number,
): void {
  out[offset] = length >>> 16;
  out[offset + 1] = length >>> 8;
  out[offset + 2] = length;
  out[offset + 3] = type;
  out[offset + 4] = flags;
  writeUint32(out, offset + 5, streamId);
}

function writeUint32(out: Uint8Array, offset: number, value: number): void {
  out[offset] = value >>> 24;
  out[offset + 1] = value >>> 16;
  out[offset + 2] = value >>> 8;
  out[offset + 3] = value;
}

function rangeError(
  frame: string,
  name: string,
  requirement: string,
  value: unknown,
): RangeError {
  return new RangeError(
    `Cannot encode ${frame} as '${name}' must be ${requirement}: current value is ${value}`,
  );
}

function checkStreamId(frame: string, streamId: number, allowZero: boolean) {
  if (
    !(streamId <= MAX_WINDOW_SIZE && streamId >= (allowZero ? 0 : 1) &&
      Math.floor(streamId) === streamId)
  ) {
    throw rangeError(
      frame,
      "streamId",
      `an integer from ${allowZero ? 0 : 1} to ${MAX_WINDOW_SIZE}`,
      streamId,
    );
  }
}

function checkUint32(frame: string, name: string, value: number): void {
  if (!(value >= 0 && value <= MAX_UINT32 && Math.floor(value) === value)) {
    throw rangeError(frame, name, `an integer from 0 to ${MAX_UINT32}`, value);
  }
}

const SETTING_ORDER: readonly [keyof Http2Settings, number][] = [
  ["headerTableSize", 0x1],
  ["enablePush", 0x2],
  ["maxConcurrentStreams", 0x3],
  ["initialWindowSize", 0x4],
  ["maxFrameSize", 0x5],
  ["maxHeaderListSize", 0x6],
];

/**
 * Encodes a SETTINGS frame (RFC 9113 §6.5) with the given settings, in
 * identifier order. A setting that is `undefined` or `Infinity` is left out
 * (`Infinity` is the "unlimited" initial value of two of them).
 *
 * @throws {RangeError} A value is outside what §6.5.2 allows.
 */
export function encodeSettings(settings: Partial<Http2Settings>): Uint8Array {
  let count = 0;
  for (const [name] of SETTING_ORDER) {
    const value = settings[name];
    if (value === undefined || value === Infinity) continue;
    checkUint32("SETTINGS", name, value);
    if (name === "enablePush" && value > 1) {
      throw rangeError("SETTINGS", name, "0 or 1", value);
    }
    if (name === "initialWindowSize" && value > MAX_WINDOW_SIZE) {
      throw rangeError("SETTINGS", name, `at most ${MAX_WINDOW_SIZE}`, value);
    }
    if (
      name === "maxFrameSize" &&
      (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE)
    ) {
      throw rangeError(
        "SETTINGS",
        name,
        `from ${MIN_MAX_FRAME_SIZE} to ${MAX_MAX_FRAME_SIZE}`,
        value,
      );
    }
    count++;
  }
  const out = new Uint8Array(FRAME_HEADER_LENGTH + count * 6);
  writeFrameHeader(out, 0, count * 6, SETTINGS, 0, 0);
  let pos = FRAME_HEADER_LENGTH;
  for (const [name, id] of SETTING_ORDER) {
    const value = settings[name];
    if (value === undefined || value === Infinity) continue;
    out[pos] = id >>> 8;
    out[pos + 1] = id;
    writeUint32(out, pos + 2, value);
    pos += 6;
  }
  return out;
}

/** Encodes a SETTINGS frame with the ACK flag (RFC 9113 §6.5.3). */
export function encodeSettingsAck(): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_LENGTH);
  writeFrameHeader(out, 0, 0, SETTINGS, ACK, 0);
  return out;
}

/**
 * Encodes a PING frame (RFC 9113 §6.7): with `ack`, the reply to a PING
 * received, which must echo its `data`.
 *
 * @param data The 8 octets of opaque data.
 * @throws {RangeError} `data` is not 8 octets.
 */
export function encodePing(data: Uint8Array, ack = false): Uint8Array {
  if (data.length !== 8) {
    throw rangeError("PING", "data", "8 bytes long", `${data.length} bytes`);
  }
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 8);
  writeFrameHeader(out, 0, 8, PING, ack ? ACK : 0, 0);
  out.set(data, FRAME_HEADER_LENGTH);
  return out;
}

/**
 * Encodes a WINDOW_UPDATE frame (RFC 9113 §6.9); stream 0 is the connection.
 *
 * @throws {RangeError} `streamId` or `increment` (1 to 2^31-1) is out of range.
 */
export function encodeWindowUpdate(
  streamId: number,
  increment: number,
): Uint8Array {
  checkStreamId("WINDOW_UPDATE", streamId, true);
  if (
    !(increment >= 1 && increment <= MAX_WINDOW_SIZE &&
      Math.floor(increment) === increment)
  ) {
    throw rangeError(
      "WINDOW_UPDATE",
      "increment",
      `an integer from 1 to ${MAX_WINDOW_SIZE}`,
      increment,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 4);
  writeFrameHeader(out, 0, 4, WINDOW_UPDATE, 0, streamId);
  writeUint32(out, FRAME_HEADER_LENGTH, increment);
  return out;
}

/**
 * Encodes a RST_STREAM frame (RFC 9113 §6.4).
 *
 * @param errorCode An {@linkcode ErrorCode}, e.g. `CANCEL` for an abort.
 * @throws {RangeError} `streamId` or `errorCode` is out of range.
 */
export function encodeRstStream(
  streamId: number,
  errorCode: number,
): Uint8Array {
  checkStreamId("RST_STREAM", streamId, false);
  checkUint32("RST_STREAM", "errorCode", errorCode);
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 4);
  writeFrameHeader(out, 0, 4, RST_STREAM, 0, streamId);
  writeUint32(out, FRAME_HEADER_LENGTH, errorCode);
  return out;
}

/**
 * Encodes a GOAWAY frame (RFC 9113 §6.8).
 *
 * @param lastStreamId The highest stream of the peer's that was processed
 * (0 for a client, which accepts no streams).
 * @param debugData Opaque diagnostic bytes, e.g. a short UTF-8 message.
 * @throws {RangeError} An argument is out of range.
 */
export function encodeGoaway(
  lastStreamId: number,
  errorCode: number,
  debugData?: Uint8Array,
): Uint8Array {
  checkStreamId("GOAWAY", lastStreamId, true);
  checkUint32("GOAWAY", "errorCode", errorCode);
  const extra = debugData === undefined ? 0 : debugData.length;
  const out = new Uint8Array(FRAME_HEADER_LENGTH + 8 + extra);
  writeFrameHeader(out, 0, 8 + extra, GOAWAY, 0, 0);
  writeUint32(out, FRAME_HEADER_LENGTH, lastStreamId);
  writeUint32(out, FRAME_HEADER_LENGTH + 4, errorCode);
  if (debugData !== undefined) out.set(debugData, FRAME_HEADER_LENGTH + 8);
  return out;
}

/**
 * Encodes a header block (from {@linkcode HpackEncoder}) as one HEADERS frame
 * followed by as many CONTINUATION frames as the peer's frame size requires
 * (RFC 9113 §4.3, §6.2, §6.10), in one buffer, so that no other frame can be
 * written between them. No padding, no priority.
 *
 * @param block The encoded header block.
 * @param endStream Whether the stream ends with this block (no body follows,
 * or these are trailers).
 * @param maxFrameSize The peer's SETTINGS_MAX_FRAME_SIZE.
 * @throws {RangeError} `streamId` or `maxFrameSize` is out of range.
 */
export function encodeHeaders(
  streamId: number,
  block: Uint8Array,
  endStream: boolean,
  maxFrameSize: number,
): Uint8Array {
  checkStreamId("HEADERS", streamId, false);
  if (
    !(maxFrameSize >= MIN_MAX_FRAME_SIZE && maxFrameSize <= MAX_MAX_FRAME_SIZE)
  ) {
    throw rangeError(
      "HEADERS",
      "maxFrameSize",
      `from ${MIN_MAX_FRAME_SIZE} to ${MAX_MAX_FRAME_SIZE}`,
      maxFrameSize,
    );
  }
  const frames = block.length === 0
    ? 1
    : Math.ceil(block.length / maxFrameSize);
  const out = new Uint8Array(block.length + frames * FRAME_HEADER_LENGTH);
  let pos = 0;
  let offset = 0;
  for (let i = 0; i < frames; i++) {
    const length = Math.min(maxFrameSize, block.length - offset);
    const last = i === frames - 1;
    let flags = last ? END_HEADERS : 0;
    if (i === 0 && endStream) flags |= END_STREAM;
    writeFrameHeader(
      out,
      pos,
      length,
      i === 0 ? HEADERS : CONTINUATION,
      flags,
      streamId,
    );
    out.set(block.subarray(offset, offset + length), pos + FRAME_HEADER_LENGTH);
    pos += FRAME_HEADER_LENGTH + length;
    offset += length;
  }
  return out;
}

/**
 * Encodes the 9-octet header of a DATA frame (RFC 9113 §6.1) whose payload of
 * `length` octets the caller writes next, so a body chunk is sent without
 * being copied. `length` must fit the peer's SETTINGS_MAX_FRAME_SIZE and the
 * flow-control windows; only the frame format's limit is checked here.
 *
 * @throws {RangeError} `streamId` or `length` (0 to 2^24-1) is out of range.
 */
export function encodeDataHeader(
  streamId: number,
  length: number,
  endStream: boolean,
): Uint8Array {
  checkStreamId("DATA", streamId, false);
  if (
    !(length >= 0 && length <= MAX_MAX_FRAME_SIZE &&
      Math.floor(length) === length)
  ) {
    throw rangeError(
      "DATA",
      "length",
      `an integer from 0 to ${MAX_MAX_FRAME_SIZE}`,
      length,
    );
  }
  const out = new Uint8Array(FRAME_HEADER_LENGTH);
  writeFrameHeader(out, 0, length, DATA, endStream ? END_STREAM : 0, streamId);
  return out;
}

/**
 * Encodes a DATA frame (RFC 9113 §6.1), header and payload in one new buffer:
 * for small payloads, where one write beats saving a copy. See
 * {@linkcode encodeDataHeader} for the limits.
 *
 * @throws {RangeError} `streamId` or the length of `data` is out of range.
 */
export function encodeData(
  streamId: number,
  data: Uint8Array,
  endStream: boolean,
): Uint8Array {
  const header = encodeDataHeader(streamId, data.length, endStream);
  const out = new Uint8Array(FRAME_HEADER_LENGTH + data.length);
  out.set(header);
  out.set(data, FRAME_HEADER_LENGTH);
  return out;
}
