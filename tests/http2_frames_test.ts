// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Tests of the HTTP/2 frame layer (RFC 9113 §4, §6) and field rules (§8.2,
 * §8.3): every encoder against exact bytes and the decoder, every check the
 * decoder makes (each with the input that breaks it), and hostile streams.
 */
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { Http2ProtocolError } from "../errors.ts";
import {
  CLIENT_PREFACE,
  DEFAULT_SETTINGS,
  encodeData,
  encodeDataHeader,
  encodeGoaway,
  encodeHeaders,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  ErrorCode,
  errorCodeName,
  Flag,
  FrameType,
  writeFrameHeader,
} from "../_http2_frames.ts";
import {
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
} from "../_http2_decoder.ts";
import {
  buildRequestFields,
  validateResponseFields,
  validateTrailerFields,
} from "../_http2_fields.ts";

// ---------------------------------------------------------------------------
// Helpers

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

/** A raw frame: header and payload, with no checks. */
function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: ArrayLike<number> = [],
): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, 9);
  return out;
}

function u32(value: number): number[] {
  return [
    value >>> 24,
    (value >>> 16) & 0xff,
    (value >>> 8) & 0xff,
    value & 0xff,
  ];
}

function setting(id: number, value: number): number[] {
  return [id >>> 8, id & 0xff, ...u32(value)];
}

/** The server preface every decoded stream starts with: an empty SETTINGS. */
const PREFACE = encodeSettings({});

interface Fed {
  /** Frames returned, with their views copied. */
  frames: Frame[];
  /** Stream errors, in order; decoding went on after each. */
  streamErrors: Http2ProtocolError[];
  /** The connection error that ended decoding, or `null`. */
  error: Http2ProtocolError | null;
  /** Bytes fed but not consumed. */
  pending: number;
}

/**
 * Feeds `chunks` to a decoder the way a session would: appending each to the
 * unread bytes, decoding until it needs more, going on after stream errors.
 */
function feed(
  chunks: Uint8Array[],
  options?: FrameDecoderOptions,
): Fed {
  const decoder = new FrameDecoder(options);
  const fed: Fed = { frames: [], streamErrors: [], error: null, pending: 0 };
  let buf: Uint8Array = new Uint8Array(0);
  let pos = 0;
  for (const chunk of chunks) {
    buf = concat([buf.subarray(pos), chunk]);
    pos = 0;
    // Each round consumes a frame or stops: at most one per 9 bytes.
    for (let rounds = 0; rounds <= buf.length / 9 + 1; rounds++) {
      let result: Frame | null;
      try {
        result = decoder.decode(buf, pos, buf.length);
      } catch (error) {
        assertInstanceOf(error, Http2ProtocolError);
        pos += decoder.consumed;
        if (error.streamId !== 0) {
          fed.streamErrors.push(error);
          continue;
        }
        fed.error = error;
        fed.pending = buf.length - pos;
        return fed;
      }
      pos += decoder.consumed;
      if (result === null) break;
      fed.frames.push(copyFrame(result));
    }
  }
  fed.pending = buf.length - pos;
  return fed;
}

function copyFrame(f: Frame): Frame {
  if (f.type === FrameType.DATA) return { ...f, data: f.data.slice() };
  if (f.type === FrameType.HEADERS) {
    return { ...f, headerBlock: f.headerBlock.slice() };
  }
  return { ...f };
}

/** Decodes frames after the preface, in one chunk; drops the preface. */
function decodeFrames(
  frames: Uint8Array[],
  options?: FrameDecoderOptions,
): Fed {
  const fed = feed([concat([PREFACE, ...frames])], options);
  if (fed.frames.length > 0) fed.frames.shift();
  return fed;
}

/** Asserts that decoding `frames` ends in this connection error. */
function assertConnectionError(
  frames: Uint8Array[],
  code: number,
  includes: string,
  options?: FrameDecoderOptions,
): void {
  const fed = decodeFrames(frames, options);
  assert(fed.error !== null, `expected a connection error (${includes})`);
  assertEquals(
    errorCodeName(fed.error.code),
    errorCodeName(code),
    fed.error.message,
  );
  assertEquals(fed.error.streamId, 0);
  assertStringIncludes(fed.error.message, includes);
}

/** Asserts that decoding `frames` yields exactly this stream error. */
function assertStreamError(
  frames: Uint8Array[],
  code: number,
  streamId: number,
  includes: string,
): Fed {
  const fed = decodeFrames(frames);
  assertEquals(fed.error, null);
  assertEquals(fed.streamErrors.length, 1);
  const [error] = fed.streamErrors;
  assertEquals(errorCodeName(error.code), errorCodeName(code), error.message);
  assertEquals(error.streamId, streamId);
  assertStringIncludes(error.message, includes);
  return fed;
}

const PING_DATA = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]);

// ---------------------------------------------------------------------------
// Encoders

Deno.test("CLIENT_PREFACE is the 24-octet client connection preface", () => {
  assertEquals(
    new TextDecoder().decode(CLIENT_PREFACE),
    "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  );
});

Deno.test("encodeSettings() writes the given settings in identifier order", () => {
  const bytes = encodeSettings({
    maxHeaderListSize: 65536,
    enablePush: 0,
    initialWindowSize: 1 << 20,
    maxConcurrentStreams: Infinity,
  });
  assertEquals(
    toHex(bytes),
    "000012040000000000" + "000200000000" + "000400100000" + "000600010000",
  );
  const fed = feed([bytes]);
  assertEquals(fed.frames, [{
    type: FrameType.SETTINGS,
    flags: 0,
    streamId: 0,
    ack: false,
    settings: {
      enablePush: 0,
      initialWindowSize: 1 << 20,
      maxHeaderListSize: 65536,
    },
  }]);
  assertEquals(toHex(encodeSettings({})), "000000040000000000");
});

Deno.test("encodeSettings() refuses values RFC 9113 §6.5.2 does not allow", () => {
  for (
    const bad of [
      { enablePush: 2 },
      { initialWindowSize: 2 ** 31 },
      { maxFrameSize: 16383 },
      { maxFrameSize: 2 ** 24 },
      { headerTableSize: -1 },
      { maxConcurrentStreams: 1.5 },
      { maxHeaderListSize: 2 ** 32 },
    ]
  ) {
    const error = assertThrows(() => encodeSettings(bad), RangeError);
    assertStringIncludes(error.message, `'${Object.keys(bad)[0]}' must be`);
  }
});

Deno.test("encodeSettingsAck() writes an empty SETTINGS frame with ACK", () => {
  assertEquals(toHex(encodeSettingsAck()), "000000040100000000");
  const fed = feed([PREFACE, encodeSettingsAck()]);
  assertEquals(fed.frames[1], {
    type: FrameType.SETTINGS,
    flags: Flag.ACK,
    streamId: 0,
    ack: true,
    settings: {},
  });
});

Deno.test("encodePing() writes PING and its ACK, and the decoder returns the data", () => {
  assertEquals(
    toHex(encodePing(PING_DATA)),
    "000008060000000000" + "0102030405060708",
  );
  const fed = decodeFrames([
    encodePing(PING_DATA),
    encodePing(PING_DATA, true),
  ]);
  assertEquals(fed.frames, [
    {
      type: FrameType.PING,
      flags: 0,
      streamId: 0,
      ack: false,
      data: PING_DATA,
    },
    {
      type: FrameType.PING,
      flags: Flag.ACK,
      streamId: 0,
      ack: true,
      data: PING_DATA,
    },
  ]);
  assertThrows(
    () => encodePing(new Uint8Array(7)),
    RangeError,
    "'data' must be 8 bytes long",
  );
});

Deno.test("encodeWindowUpdate() writes WINDOW_UPDATE for the connection and a stream", () => {
  assertEquals(
    toHex(encodeWindowUpdate(0, 65535)),
    "000004080000000000" + "0000ffff",
  );
  const fed = decodeFrames([
    encodeWindowUpdate(0, 2 ** 31 - 1),
    encodeWindowUpdate(5, 1),
  ]);
  assertEquals(fed.frames, [
    {
      type: FrameType.WINDOW_UPDATE,
      flags: 0,
      streamId: 0,
      increment: 2 ** 31 - 1,
    },
    { type: FrameType.WINDOW_UPDATE, flags: 0, streamId: 5, increment: 1 },
  ]);
  assertThrows(() => encodeWindowUpdate(1, 0), RangeError, "'increment'");
  assertThrows(() => encodeWindowUpdate(1, 2 ** 31), RangeError, "'increment'");
  assertThrows(() => encodeWindowUpdate(-1, 1), RangeError, "'streamId'");
});

Deno.test("encodeRstStream() writes RST_STREAM with its error code", () => {
  assertEquals(
    toHex(encodeRstStream(3, ErrorCode.CANCEL)),
    "000004030000000003" + "00000008",
  );
  const fed = decodeFrames([encodeRstStream(2 ** 31 - 1, 0xdeadbeef)]);
  assertEquals(fed.frames, [{
    type: FrameType.RST_STREAM,
    flags: 0,
    streamId: 2 ** 31 - 1,
    errorCode: 0xdeadbeef,
  }]);
  assertThrows(() => encodeRstStream(0, 0), RangeError, "from 1 to 2147483647");
  assertThrows(() => encodeRstStream(2 ** 31, 0), RangeError, "'streamId'");
});

Deno.test("encodeGoaway() writes GOAWAY with debug data, and the decoder copies it", () => {
  const debug = new TextEncoder().encode("bye");
  assertEquals(
    toHex(encodeGoaway(7, ErrorCode.ENHANCE_YOUR_CALM, debug)),
    "00000b070000000000" + "00000007" + "0000000b" + "627965",
  );
  const fed = decodeFrames([
    encodeGoaway(7, ErrorCode.ENHANCE_YOUR_CALM, debug),
  ]);
  assertEquals(fed.frames, [{
    type: FrameType.GOAWAY,
    flags: 0,
    streamId: 0,
    lastStreamId: 7,
    errorCode: ErrorCode.ENHANCE_YOUR_CALM,
    debugData: debug,
  }]);
  assertEquals(
    toHex(encodeGoaway(0, 0)),
    "000008070000000000" + "0000000000000000",
  );
});

Deno.test("encodeHeaders() writes one HEADERS frame for a block that fits", () => {
  const block = new Uint8Array([0x82, 0x86, 0x84]);
  assertEquals(
    toHex(encodeHeaders(1, block, true, 16384)),
    "000003010500000001828684",
  );
  assertEquals(
    toHex(encodeHeaders(3, new Uint8Array(0), false, 16384)),
    "000000010400000003",
  );
});

Deno.test("encodeHeaders() splits a large block into HEADERS and CONTINUATION frames", () => {
  const block = Uint8Array.from({ length: 40000 }, (_, i) => i & 0xff);
  const bytes = encodeHeaders(5, block, true, 16384);
  assertEquals(bytes.length, 40000 + 3 * 9);
  // HEADERS: END_STREAM, no END_HEADERS.
  assertEquals(toHex(bytes.subarray(0, 9)), "004000010100000005");
  // CONTINUATION, then the last CONTINUATION with END_HEADERS.
  assertEquals(toHex(bytes.subarray(16393, 16402)), "004000090000000005");
  assertEquals(toHex(bytes.subarray(32786, 32795)), "001c40090400000005");
  const fed = decodeFrames([bytes]);
  assertEquals(fed.frames, [{
    type: FrameType.HEADERS,
    flags: Flag.END_STREAM | Flag.END_HEADERS,
    streamId: 5,
    endStream: true,
    headerBlock: block,
  }]);
  assertThrows(
    () => encodeHeaders(5, block, true, 100),
    RangeError,
    "'maxFrameSize'",
  );
});

Deno.test("encodeDataHeader() and encodeData() write DATA frames", () => {
  assertEquals(toHex(encodeDataHeader(1, 5, true)), "000005000100000001");
  assertEquals(
    toHex(encodeData(3, new Uint8Array([9, 8]), false)),
    "0000020000000000030908",
  );
  const fed = decodeFrames([encodeData(3, new Uint8Array([9, 8]), true)]);
  assertEquals(fed.frames, [{
    type: FrameType.DATA,
    flags: Flag.END_STREAM,
    streamId: 3,
    endStream: true,
    data: new Uint8Array([9, 8]),
    length: 2,
  }]);
  assertThrows(
    () => encodeDataHeader(1, 2 ** 24, false),
    RangeError,
    "'length'",
  );
  assertThrows(() => encodeDataHeader(0, 1, false), RangeError, "'streamId'");
});

Deno.test("errorCodeName() names RFC 9113 §7 codes and marks unknown ones", () => {
  assertEquals(errorCodeName(0), "NO_ERROR");
  assertEquals(errorCodeName(ErrorCode.REFUSED_STREAM), "REFUSED_STREAM");
  assertEquals(errorCodeName(0xd), "HTTP_1_1_REQUIRED");
  assertEquals(errorCodeName(0x1f), "UNKNOWN_ERROR_0x1f");
});

Deno.test("DEFAULT_SETTINGS has the initial values of RFC 9113 §6.5.2", () => {
  assertEquals(DEFAULT_SETTINGS, {
    headerTableSize: 4096,
    enablePush: 1,
    maxConcurrentStreams: Infinity,
    initialWindowSize: 65535,
    maxFrameSize: 16384,
    maxHeaderListSize: Infinity,
  });
});

// ---------------------------------------------------------------------------
// FrameDecoder: streaming

Deno.test("FrameDecoder.decode() returns null until a frame is complete, then reports what it consumed", () => {
  const decoder = new FrameDecoder();
  const bytes = concat([
    PREFACE,
    encodePing(PING_DATA),
    encodeWindowUpdate(0, 10),
  ]);
  assertEquals(decoder.decode(bytes, 0, 5), null);
  assertEquals(decoder.consumed, 0);
  const settings = decoder.decode(bytes, 0, 9);
  assertEquals(settings?.type, FrameType.SETTINGS);
  assertEquals(decoder.consumed, 9);
  assertEquals(decoder.decode(bytes, 9, 9 + 16), null); // one byte short
  assertEquals(decoder.consumed, 0);
  assertEquals(decoder.decode(bytes, 9, bytes.length)?.type, FrameType.PING);
  assertEquals(decoder.consumed, 17);
  assertEquals(
    decoder.decode(bytes, 26, bytes.length)?.type,
    FrameType.WINDOW_UPDATE,
  );
  assertEquals(decoder.consumed, 13);
  assertEquals(decoder.decode(bytes, 39, bytes.length), null);
  assertEquals(decoder.consumed, 0);
});

Deno.test("FrameDecoder.decode() returns DATA as a view of the caller's buffer, without copying", () => {
  const bytes = concat([
    PREFACE,
    encodeData(1, new Uint8Array([1, 2, 3]), false),
  ]);
  const decoder = new FrameDecoder();
  decoder.decode(bytes, 0, bytes.length);
  const data = decoder.decode(bytes, 9, bytes.length);
  assert(data?.type === FrameType.DATA);
  assertEquals(data.data.buffer, bytes.buffer);
  assertEquals(data.data.byteOffset, 18);
  assertEquals(data.data.length, 3);
});

Deno.test("FrameDecoder.decode() requires the server preface to begin with SETTINGS", () => {
  const fed = feed([encodePing(PING_DATA)]);
  assertEquals(fed.error?.code, ErrorCode.PROTOCOL_ERROR);
  assertStringIncludes(fed.error!.message, "§3.4");
  assertEquals(
    feed([encodeSettingsAck()]).error?.code,
    ErrorCode.PROTOCOL_ERROR,
  );
  const lax = feed([encodePing(PING_DATA)], { requireSettingsFirst: false });
  assertEquals(lax.error, null);
  assertEquals(lax.frames.length, 1);
});

Deno.test("FrameDecoder.decode() rejects a frame over maxFrameSize from its header alone", () => {
  const header = new Uint8Array(9);
  writeFrameHeader(header, 0, 16385, FrameType.DATA, 0, 1);
  // Only the 9 header bytes: the payload is never waited for.
  assertConnectionError([header], ErrorCode.FRAME_SIZE_ERROR, "16385");
  const big = encodeData(1, new Uint8Array(16385), false);
  const fed = decodeFrames([big], { maxFrameSize: 16385 });
  assertEquals(fed.error, null);
  assertEquals(fed.frames.length, 1);
  // Unknown frame types are held to the limit too.
  writeFrameHeader(header, 0, 16385, 0xfa, 0, 0);
  assertConnectionError(
    [header],
    ErrorCode.FRAME_SIZE_ERROR,
    "SETTINGS_MAX_FRAME_SIZE",
  );
});

Deno.test("FrameDecoder ignores the reserved bit of the stream identifier", () => {
  const bytes = encodeWindowUpdate(1, 0x7fffffff);
  bytes[5] |= 0x80; // R bit of the stream id
  bytes[9] |= 0x80; // R bit of the increment
  const fed = decodeFrames([bytes]);
  assertEquals(fed.frames, [
    {
      type: FrameType.WINDOW_UPDATE,
      flags: 0,
      streamId: 1,
      increment: 0x7fffffff,
    },
  ]);
});

// ---------------------------------------------------------------------------
// FrameDecoder: stream identifiers

for (
  const [name, type, payload] of [
    ["DATA", FrameType.DATA, []],
    ["HEADERS", FrameType.HEADERS, []],
    ["PRIORITY", FrameType.PRIORITY, [0, 0, 0, 1, 16]],
    ["RST_STREAM", FrameType.RST_STREAM, u32(0)],
  ] as const
) {
  Deno.test(`FrameDecoder.decode() rejects ${name} on stream 0`, () => {
    assertConnectionError(
      [frame(type, Flag.END_HEADERS, 0, payload)],
      ErrorCode.PROTOCOL_ERROR,
      `${name} frame on stream 0`,
    );
  });
}

for (
  const [name, type, payload] of [
    ["SETTINGS", FrameType.SETTINGS, []],
    ["PING", FrameType.PING, [...PING_DATA]],
    ["GOAWAY", FrameType.GOAWAY, [...u32(0), ...u32(0)]],
  ] as const
) {
  Deno.test(`FrameDecoder.decode() rejects ${name} on a stream other than 0`, () => {
    assertConnectionError(
      [frame(type, 0, 1, payload)],
      ErrorCode.PROTOCOL_ERROR,
      `${name} frame on stream 1, not 0`,
    );
  });
}

// ---------------------------------------------------------------------------
// FrameDecoder: payload lengths

Deno.test("FrameDecoder.decode() rejects PING frames that are not 8 bytes", () => {
  for (const length of [0, 7, 9]) {
    assertConnectionError(
      [frame(FrameType.PING, 0, 0, new Uint8Array(length))],
      ErrorCode.FRAME_SIZE_ERROR,
      `PING frame of ${length} bytes`,
    );
  }
});

Deno.test("FrameDecoder.decode() rejects WINDOW_UPDATE and RST_STREAM frames that are not 4 bytes", () => {
  for (const length of [3, 5]) {
    assertConnectionError(
      [frame(FrameType.WINDOW_UPDATE, 0, 1, new Uint8Array(length).fill(1))],
      ErrorCode.FRAME_SIZE_ERROR,
      `WINDOW_UPDATE frame of ${length} bytes`,
    );
    assertConnectionError(
      [frame(FrameType.RST_STREAM, 0, 1, new Uint8Array(length))],
      ErrorCode.FRAME_SIZE_ERROR,
      `RST_STREAM frame of ${length} bytes`,
    );
  }
});

Deno.test("FrameDecoder.decode() treats a PRIORITY frame that is not 5 bytes as a stream error and goes on", () => {
  const fed = assertStreamError(
    [frame(FrameType.PRIORITY, 0, 3, [0, 0, 0, 1]), encodePing(PING_DATA)],
    ErrorCode.FRAME_SIZE_ERROR,
    3,
    "PRIORITY frame of 4 bytes",
  );
  assertEquals(fed.frames.map((f) => f.type), [FrameType.PING]);
  // A valid PRIORITY frame yields nothing.
  const ok = decodeFrames([frame(FrameType.PRIORITY, 0, 3, [0, 0, 0, 1, 16])]);
  assertEquals(ok.frames, []);
  assertEquals(ok.error, null);
  assertEquals(ok.pending, 0);
});

Deno.test("FrameDecoder.decode() treats a PRIORITY frame on its own stream as a stream error", () => {
  assertStreamError(
    [frame(FrameType.PRIORITY, 0, 3, [0x80, 0, 0, 3, 16])],
    ErrorCode.PROTOCOL_ERROR,
    3,
    "depend on itself",
  );
});

Deno.test("FrameDecoder.decode() rejects SETTINGS whose length is not a multiple of 6", () => {
  assertConnectionError(
    [frame(FrameType.SETTINGS, 0, 0, new Uint8Array(5))],
    ErrorCode.FRAME_SIZE_ERROR,
    "multiple of 6",
  );
});

Deno.test("FrameDecoder.decode() rejects a SETTINGS acknowledgement with a payload", () => {
  assertConnectionError(
    [frame(FrameType.SETTINGS, Flag.ACK, 0, setting(3, 100))],
    ErrorCode.FRAME_SIZE_ERROR,
    "acknowledgement",
  );
});

Deno.test("FrameDecoder.decode() rejects GOAWAY shorter than 8 bytes", () => {
  assertConnectionError(
    [frame(FrameType.GOAWAY, 0, 0, new Uint8Array(7))],
    ErrorCode.FRAME_SIZE_ERROR,
    "GOAWAY frame of 7 bytes",
  );
});

// ---------------------------------------------------------------------------
// FrameDecoder: padding and priority fields

Deno.test("FrameDecoder.decode() strips DATA padding and counts it for flow control", () => {
  // Pad Length 3, data "ab", 3 bytes of padding.
  const fed = decodeFrames([
    frame(FrameType.DATA, Flag.PADDED | Flag.END_STREAM, 1, [
      3,
      0x61,
      0x62,
      0,
      0,
      0,
    ]),
    frame(FrameType.DATA, Flag.PADDED, 1, [0]), // all padding, no data
  ]);
  assertEquals(fed.frames, [
    {
      type: FrameType.DATA,
      flags: Flag.PADDED | Flag.END_STREAM,
      streamId: 1,
      endStream: true,
      data: new Uint8Array([0x61, 0x62]),
      length: 6,
    },
    {
      type: FrameType.DATA,
      flags: Flag.PADDED,
      streamId: 1,
      endStream: false,
      data: new Uint8Array(0),
      length: 1,
    },
  ]);
});

Deno.test("FrameDecoder.decode() rejects DATA padding as long as the payload", () => {
  assertConnectionError(
    [frame(FrameType.DATA, Flag.PADDED, 1, [3, 0, 0])],
    ErrorCode.PROTOCOL_ERROR,
    "padding (3 bytes) does not fit its 3-byte payload",
  );
  assertConnectionError(
    [frame(FrameType.DATA, Flag.PADDED, 1, [])],
    ErrorCode.FRAME_SIZE_ERROR,
    "no Pad Length",
  );
});

Deno.test("FrameDecoder.decode() strips HEADERS padding and priority fields", () => {
  const fed = decodeFrames([
    frame(
      FrameType.HEADERS,
      Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS,
      5,
      [2, 0x80, 0, 0, 3, 200, 0x82, 0x84, 0, 0],
    ),
  ]);
  assertEquals(fed.frames, [{
    type: FrameType.HEADERS,
    flags: Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS,
    streamId: 5,
    endStream: false,
    headerBlock: new Uint8Array([0x82, 0x84]),
  }]);
});

Deno.test("FrameDecoder.decode() rejects HEADERS padding that exceeds the payload", () => {
  assertConnectionError(
    [frame(FrameType.HEADERS, Flag.PADDED | Flag.END_HEADERS, 1, [2, 0x82])],
    ErrorCode.PROTOCOL_ERROR,
    "padding (2 bytes)",
  );
  assertConnectionError(
    [frame(
      FrameType.HEADERS,
      Flag.PADDED | Flag.PRIORITY | Flag.END_HEADERS,
      1,
      [1, 0, 0, 0, 3, 9],
    )],
    ErrorCode.PROTOCOL_ERROR,
    "padding (1 bytes)",
  );
});

Deno.test("FrameDecoder.decode() rejects HEADERS too short for its priority fields", () => {
  assertConnectionError(
    [frame(FrameType.HEADERS, Flag.PRIORITY | Flag.END_HEADERS, 1, [
      0,
      0,
      0,
      3,
    ])],
    ErrorCode.FRAME_SIZE_ERROR,
    "too short",
  );
});

Deno.test("FrameDecoder.decode() rejects HEADERS that make a stream depend on itself", () => {
  assertConnectionError(
    [frame(FrameType.HEADERS, Flag.PRIORITY | Flag.END_HEADERS, 7, [
      0,
      0,
      0,
      7,
      16,
    ])],
    ErrorCode.PROTOCOL_ERROR,
    "depend on itself",
  );
});

// ---------------------------------------------------------------------------
// FrameDecoder: SETTINGS values

Deno.test("FrameDecoder.decode() keeps the last of repeated settings and drops unknown ones", () => {
  const fed = decodeFrames([
    frame(FrameType.SETTINGS, 0, 0, [
      ...setting(4, 100),
      ...setting(0x99, 7),
      ...setting(4, 2 ** 31 - 1),
      ...setting(1, 0),
      ...setting(5, 2 ** 24 - 1),
      ...setting(3, 0),
      ...setting(6, 2 ** 32 - 1),
      ...setting(2, 0),
    ]),
  ]);
  assertEquals(fed.frames, [{
    type: FrameType.SETTINGS,
    flags: 0,
    streamId: 0,
    ack: false,
    settings: {
      initialWindowSize: 2 ** 31 - 1,
      headerTableSize: 0,
      maxFrameSize: 2 ** 24 - 1,
      maxConcurrentStreams: 0,
      maxHeaderListSize: 2 ** 32 - 1,
      enablePush: 0,
    },
  }]);
});

Deno.test("FrameDecoder.decode() rejects SETTINGS_ENABLE_PUSH other than 0", () => {
  assertConnectionError(
    [frame(FrameType.SETTINGS, 0, 0, setting(2, 2))],
    ErrorCode.PROTOCOL_ERROR,
    "not 0 or 1",
  );
  assertConnectionError(
    [frame(FrameType.SETTINGS, 0, 0, setting(2, 1))],
    ErrorCode.PROTOCOL_ERROR,
    "SETTINGS_ENABLE_PUSH = 1",
  );
});

Deno.test("FrameDecoder.decode() rejects SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 as a flow-control error", () => {
  assertConnectionError(
    [frame(FrameType.SETTINGS, 0, 0, setting(4, 2 ** 31))],
    ErrorCode.FLOW_CONTROL_ERROR,
    "SETTINGS_INITIAL_WINDOW_SIZE",
  );
});

Deno.test("FrameDecoder.decode() rejects SETTINGS_MAX_FRAME_SIZE outside 2^14..2^24-1", () => {
  for (const value of [0, 16383, 2 ** 24]) {
    assertConnectionError(
      [frame(FrameType.SETTINGS, 0, 0, setting(5, value))],
      ErrorCode.PROTOCOL_ERROR,
      `SETTINGS_MAX_FRAME_SIZE of ${value}`,
    );
  }
  const ok = decodeFrames([frame(FrameType.SETTINGS, 0, 0, setting(5, 16384))]);
  assertEquals(ok.error, null);
});

Deno.test("FrameDecoder.decode() rejects a SETTINGS frame with a huge count of settings", () => {
  // 2730 settings: as many as a 16384-byte frame holds.
  const payload = new Uint8Array(2730 * 6);
  for (let i = 0; i < 2730; i++) payload.set(setting(3, i), i * 6);
  assertConnectionError(
    [frame(FrameType.SETTINGS, 0, 0, payload)],
    ErrorCode.ENHANCE_YOUR_CALM,
    "2730 settings",
  );
  // maxSettingsPerFrame itself is fine.
  const ok = decodeFrames([
    frame(FrameType.SETTINGS, 0, 0, payload.subarray(0, 32 * 6)),
  ]);
  assertEquals(ok.error, null);
  assertEquals(ok.frames[0], {
    type: FrameType.SETTINGS,
    flags: 0,
    streamId: 0,
    ack: false,
    settings: { maxConcurrentStreams: 31 },
  });
});

// ---------------------------------------------------------------------------
// FrameDecoder: WINDOW_UPDATE, PUSH_PROMISE, unknown types

Deno.test("FrameDecoder.decode() rejects a WINDOW_UPDATE of 0 on the connection", () => {
  assertConnectionError(
    [frame(FrameType.WINDOW_UPDATE, 0, 0, u32(0))],
    ErrorCode.PROTOCOL_ERROR,
    "increment of 0 on the connection",
  );
});

Deno.test("FrameDecoder.decode() treats a WINDOW_UPDATE of 0 on a stream as a stream error and goes on", () => {
  const fed = assertStreamError(
    [
      frame(FrameType.WINDOW_UPDATE, 0, 9, u32(0x80000000)),
      encodeRstStream(9, 0),
    ],
    ErrorCode.PROTOCOL_ERROR,
    9,
    "increment of 0 on stream 9",
  );
  assertEquals(fed.frames.map((f) => f.type), [FrameType.RST_STREAM]);
  assertEquals(fed.pending, 0);
});

Deno.test("FrameDecoder.decode() refuses PUSH_PROMISE", () => {
  assertConnectionError(
    [frame(FrameType.PUSH_PROMISE, Flag.END_HEADERS, 1, [...u32(2), 0x82])],
    ErrorCode.PROTOCOL_ERROR,
    "PUSH_PROMISE",
  );
});

Deno.test("FrameDecoder.decode() ignores frames of unknown types", () => {
  const fed = decodeFrames([
    frame(0x0a, 0xff, 0, [1, 2, 3]),
    frame(0xfe, 0, 77, new Uint8Array(100)),
    encodePing(PING_DATA),
  ]);
  assertEquals(fed.error, null);
  assertEquals(fed.frames.map((f) => f.type), [FrameType.PING]);
  assertEquals(fed.pending, 0);
});

// ---------------------------------------------------------------------------
// FrameDecoder: header blocks

function headersThenContinuations(
  streamId: number,
  fragments: number[][],
  endStream: boolean,
): Uint8Array[] {
  return fragments.map((fragment, i) => {
    const last = i === fragments.length - 1;
    let flags = last ? Flag.END_HEADERS : 0;
    if (i === 0 && endStream) flags |= Flag.END_STREAM;
    return frame(
      i === 0 ? FrameType.HEADERS : FrameType.CONTINUATION,
      flags,
      streamId,
      fragment,
    );
  });
}

Deno.test("FrameDecoder.decode() joins HEADERS and CONTINUATION frames into one header block", () => {
  const frames = headersThenContinuations(
    3,
    [[1, 2], [], [3], [4, 5, 6]],
    true,
  );
  for (const chunks of [[concat([PREFACE, ...frames])], [PREFACE, ...frames]]) {
    const fed = feed(chunks);
    assertEquals(fed.error, null);
    assertEquals(fed.frames.slice(1), [{
      type: FrameType.HEADERS,
      flags: Flag.END_STREAM | Flag.END_HEADERS,
      streamId: 3,
      endStream: true,
      headerBlock: new Uint8Array([1, 2, 3, 4, 5, 6]),
    }]);
  }
});

Deno.test("FrameDecoder.decode() rejects any frame but CONTINUATION inside a header block", () => {
  const [headers, continuation] = headersThenContinuations(
    3,
    [[1], [2]],
    false,
  );
  for (
    const intruder of [
      encodeData(3, new Uint8Array(1), false),
      encodePing(PING_DATA),
      frame(FrameType.PRIORITY, 0, 3, [0, 0, 0, 1, 16]),
      frame(0xfe, 0, 0, []), // even an unknown type (§6.10)
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 5, [2]), // another stream
    ]
  ) {
    // Only the intruder's header: the error does not wait for its payload.
    assertConnectionError(
      [headers, intruder.subarray(0, 9), continuation],
      ErrorCode.PROTOCOL_ERROR,
      "only CONTINUATION frames may follow",
    );
  }
});

Deno.test("FrameDecoder.decode() rejects CONTINUATION without an open header block", () => {
  assertConnectionError(
    [frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [0x82])],
    ErrorCode.PROTOCOL_ERROR,
    "without an open header block",
  );
  // Also after a header block has ended.
  assertConnectionError(
    [
      ...headersThenContinuations(1, [[0x82]], false),
      frame(FrameType.CONTINUATION, Flag.END_HEADERS, 1, [0x82]),
    ],
    ErrorCode.PROTOCOL_ERROR,
    "without an open header block",
  );
});

Deno.test("FrameDecoder.decode() ends an endless CONTINUATION run at maxContinuationFrames", () => {
  const empty = frame(FrameType.CONTINUATION, 0, 1, []);
  const chunks = [PREFACE, frame(FrameType.HEADERS, 0, 1, [0x82])];
  for (let i = 0; i < 1000; i++) chunks.push(empty);
  const fed = feed(chunks);
  assertEquals(fed.error?.code, ErrorCode.ENHANCE_YOUR_CALM);
  assertStringIncludes(fed.error!.message, "maxContinuationFrames (32)");
  // 32 CONTINUATION frames are fine.
  const ok = decodeFrames(
    headersThenContinuations(1, Array.from({ length: 33 }, () => [1]), false),
  );
  assertEquals(ok.error, null);
  assert(ok.frames[0].type === FrameType.HEADERS);
  assertEquals(ok.frames[0].headerBlock.length, 33);
  const strict = decodeFrames(
    headersThenContinuations(1, [[1], [2], [3]], false),
    { maxContinuationFrames: 1 },
  );
  assertEquals(strict.error?.code, ErrorCode.ENHANCE_YOUR_CALM);
});

Deno.test("FrameDecoder.decode() rejects a header block over maxHeaderBlockSize", () => {
  const fragment = Array.from({ length: 16384 }, () => 0x82);
  const frames = headersThenContinuations(1, Array(9).fill(fragment), false);
  assertConnectionError(
    frames,
    ErrorCode.ENHANCE_YOUR_CALM,
    "maxHeaderBlockSize (131072)",
  );
  // A single HEADERS frame is held to the limit as well.
  assertConnectionError(
    headersThenContinuations(1, [[1, 2, 3]], false),
    ErrorCode.ENHANCE_YOUR_CALM,
    "maxHeaderBlockSize (2)",
    { maxHeaderBlockSize: 2 },
  );
  const ok = decodeFrames(
    headersThenContinuations(1, Array(8).fill(fragment), false),
  );
  assertEquals(ok.error, null);
});

Deno.test("FrameDecoder checks its options", () => {
  assertThrows(
    () => new FrameDecoder({ maxFrameSize: 1000 }),
    RangeError,
    "'maxFrameSize' must be an integer from 16384 to 16777215",
  );
  assertThrows(
    () => new FrameDecoder({ maxContinuationFrames: -1 }),
    RangeError,
  );
  assertThrows(
    // @ts-expect-error: a string where a number belongs
    () => new FrameDecoder({ maxHeaderBlockSize: "1" }),
    TypeError,
  );
});

// ---------------------------------------------------------------------------
// Response and trailer fields (§8.2, §8.3)

function assertMalformed(
  fields: [string, string][],
  includes: string,
  validate: (fields: [string, string][], streamId: number) => unknown =
    validateResponseFields,
): void {
  const error = assertThrows(() => validate(fields, 5), Http2ProtocolError);
  assertEquals(error.code, ErrorCode.PROTOCOL_ERROR);
  assertEquals(error.streamId, 5);
  assertStringIncludes(error.message, includes);
}

Deno.test("validateResponseFields() splits off :status and keeps the fields in order", () => {
  assertEquals(
    validateResponseFields([
      [":status", "200"],
      ["content-type", "text/plain"],
      ["x-empty", ""],
      ["set-cookie", "a=1"],
      ["set-cookie", "b=2"],
      ["te", "gzip"],
    ], 1),
    {
      status: 200,
      headers: [
        ["content-type", "text/plain"],
        ["x-empty", ""],
        ["set-cookie", "a=1"],
        ["set-cookie", "b=2"],
        ["te", "gzip"],
      ],
    },
  );
  assertEquals(validateResponseFields([[":status", "103"]], 1), {
    status: 103,
    headers: [],
  });
});

Deno.test("validateResponseFields() requires exactly one :status", () => {
  assertMalformed([["content-type", "x"]], "no ':status'");
  assertMalformed([], "no ':status'");
  assertMalformed(
    [[":status", "200"], [":status", "200"]],
    "more than one ':status'",
  );
});

Deno.test("validateResponseFields() requires :status to be three digits", () => {
  for (const status of ["20", "2000", "abc", "2x0", "099", " 200", ""]) {
    assertMalformed([[":status", status]], "not a three-digit code");
  }
});

Deno.test("validateResponseFields() allows no pseudo-header but :status", () => {
  for (
    const name of [
      ":path",
      ":method",
      ":authority",
      ":scheme",
      ":protocol",
      ":Status",
      ":",
    ]
  ) {
    assertMalformed(
      [[":status", "200"], [name, "x"]],
      "only ':status' is allowed",
    );
  }
});

Deno.test("validateResponseFields() requires pseudo-headers before regular fields", () => {
  assertMalformed(
    [["server", "x"], [":status", "200"]],
    "after a regular field",
  );
});

Deno.test("validateResponseFields() rejects uppercase field names", () => {
  assertMalformed([[":status", "200"], ["Content-Type", "x"]], "uppercase");
});

Deno.test("validateResponseFields() rejects empty and invalid field names", () => {
  assertMalformed([[":status", "200"], ["", "x"]], "empty name");
  for (const name of ["a b", "a:b", "a\0b", "caf\xe9", "a\x7f", "{x}", "a/b"]) {
    assertMalformed([[":status", "200"], [name, "x"]], "invalid character");
  }
});

Deno.test("validateResponseFields() rejects connection-specific fields", () => {
  for (
    const name of [
      "connection",
      "keep-alive",
      "proxy-connection",
      "transfer-encoding",
      "upgrade",
    ]
  ) {
    assertMalformed(
      [[":status", "200"], [name, "x"]],
      `connection-specific field '${name}'`,
    );
  }
});

Deno.test("validateResponseFields() rejects values with CR, LF or NUL", () => {
  for (const value of ["a\rb", "a\nb", "a\0b", "\r\n"]) {
    assertMalformed([[":status", "200"], ["x-a", value]], "CR, LF or NUL");
  }
});

Deno.test("validateResponseFields() rejects values with leading or trailing whitespace", () => {
  for (const value of [" a", "a ", "\ta", "a\t", " "]) {
    assertMalformed(
      [[":status", "200"], ["x-a", value]],
      "leading or trailing whitespace",
    );
  }
  // Inner whitespace and obs-text are fine.
  assertEquals(
    validateResponseFields([[":status", "200"], ["x-a", "a \t b\xff"]], 1)
      .headers,
    [["x-a", "a \t b\xff"]],
  );
});

Deno.test("validateTrailerFields() accepts regular fields and rejects pseudo-headers", () => {
  const trailers: [string, string][] = [["grpc-status", "0"], [
    "x-checksum",
    "abc",
  ]];
  assertEquals(validateTrailerFields(trailers, 1), trailers);
  assertEquals(validateTrailerFields([], 1), []);
  assertMalformed(
    [[":status", "200"]],
    "Trailers have the pseudo-header",
    validateTrailerFields,
  );
  assertMalformed(
    [["x-a", "1"], [":path", "/"]],
    "pseudo-header",
    validateTrailerFields,
  );
});

Deno.test("validateTrailerFields() applies the rules for names and values", () => {
  assertMalformed([["Grpc-Status", "0"]], "uppercase", validateTrailerFields);
  assertMalformed(
    [["transfer-encoding", "chunked"]],
    "connection-specific",
    validateTrailerFields,
  );
  assertMalformed([["x-a", "1\n2"]], "CR, LF or NUL", validateTrailerFields);
  assertMalformed([["x-a", "1 "]], "whitespace", validateTrailerFields);
  assertMalformed([["", "1"]], "empty name", validateTrailerFields);
});

// ---------------------------------------------------------------------------
// Request fields (§8.3.1)

Deno.test("buildRequestFields() puts the pseudo-headers first and lower-cases names", () => {
  assertEquals(
    buildRequestFields("GET", "https", "example.com:8443", "/a?b=1", [
      ["Accept", "*/*"],
      ["User-Agent", "pooled-fetch"],
      ["X-Trim", "  padded \t"],
    ]),
    [
      [":method", "GET"],
      [":scheme", "https"],
      [":authority", "example.com:8443"],
      [":path", "/a?b=1"],
      ["accept", "*/*"],
      ["user-agent", "pooled-fetch"],
      ["x-trim", "padded"],
    ],
  );
});

Deno.test("buildRequestFields() drops host and connection-specific fields", () => {
  const fields = buildRequestFields(
    "POST",
    "http",
    "h",
    "/",
    new Headers([
      ["Host", "other"],
      ["Connection", "keep-alive"],
      ["Keep-Alive", "timeout=5"],
      ["Proxy-Connection", "keep-alive"],
      ["Transfer-Encoding", "chunked"],
      ["Upgrade", "h2c"],
      ["content-type", "text/plain"],
    ]),
  );
  assertEquals(fields.slice(4), [["content-type", "text/plain"]]);
});

Deno.test("buildRequestFields() keeps te only as 'te: trailers'", () => {
  assertEquals(
    buildRequestFields("GET", "https", "h", "/", [["TE", " Trailers "]]).slice(
      4,
    ),
    [["te", "trailers"]],
  );
  assertEquals(
    buildRequestFields("GET", "https", "h", "/", [["te", "gzip"]]).slice(4),
    [],
  );
  assertEquals(
    buildRequestFields("GET", "https", "h", "/", [["te", "trailers, gzip"]])
      .slice(4),
    [],
  );
});

Deno.test("buildRequestFields() throws a TypeError for what cannot be sent", () => {
  const cases: [string, string, string, [string, string][], string][] = [
    ["GE T", "h", "/", [], "method"],
    ["GET", "", "/", [], "authority"],
    ["GET", "h h", "/", [], "authority"],
    ["GET", "h", "", [], "path"],
    ["GET", "h", "/a b", [], "path"],
    ["GET", "h", "/a\r\n", [], "path"],
    ["GET", "h", "/", [["bad name", "x"]], "header name"],
    ["GET", "h", "/", [[":path", "x"]], "header name"],
    ["GET", "h", "/", [["x-a", "1\r\nx-b: 2"]], "CR, LF, NUL"],
    ["GET", "h", "/", [["x-a", "\u2603"]], "above 0xFF"],
  ];
  for (const [method, authority, path, headers, includes] of cases) {
    const error = assertThrows(
      () => buildRequestFields(method, "https", authority, path, headers),
      TypeError,
    );
    assertStringIncludes(error.message, includes);
    assertStringIncludes(error.message, "Cannot send request as");
  }
});
