// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Property tests of the HTTP/2 codec: HPACK round trips over many blocks
 * with the two dynamic tables in step, a model encoder's representations
 * decoded exactly, frame streams split at random decoding alike, and random
 * or corrupted bytes ending only in a result, a wait for more bytes, or an
 * Http2ProtocolError: never another exception, never a loop.
 *
 * Each property runs a stated number of cases (the constants below).
 */
import { assert, assertEquals, assertInstanceOf } from "@std/assert";
import fc from "fast-check";
import { Http2ProtocolError } from "../errors.ts";
import { HpackDecoder, HpackEncoder } from "../_hpack.ts";
import { STATIC_TABLE } from "../_hpack_table.ts";
import {
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "../_hpack_huffman.ts";
import {
  encodeData,
  encodeGoaway,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSettingsAck,
  encodeWindowUpdate,
  Flag,
  FrameType,
  type Http2Settings,
  writeFrameHeader,
} from "../_http2_frames.ts";
import {
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
} from "../_http2_decoder.ts";

/**
 * How large generated arrays and byte strings get: fast-check's default
 * ("small") keeps them to a few elements, too few to reach deep states.
 */
const SIZE = "medium";
/** Cases for each round-trip property. */
const ROUND_TRIP_RUNS = 500;
/** Cases for each random-split property. */
const SPLIT_RUNS = 500;
/** Cases for each random or corrupted input property. */
const FUZZ_RUNS = 2000;

// ---------------------------------------------------------------------------
// Helpers

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const part of parts) {
    out.set(part, pos);
    pos += part.length;
  }
  return out;
}

function bytesToString(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function stringToBytes(s: string): number[] {
  return Array.from(s, (c) => c.charCodeAt(0));
}

/** Splits `bytes` at the given cut points (any numbers; taken modulo). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  if (bytes.length < 2) return [bytes];
  const points = [...new Set(cuts.map((c) => 1 + (c % (bytes.length - 1))))]
    .sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    out.push(bytes.subarray(last, p));
    last = p;
  }
  out.push(bytes.subarray(last));
  return out;
}

interface Fed {
  frames: Frame[];
  streamErrors: Http2ProtocolError[];
  error: Http2ProtocolError | null;
  pending: number;
}

/**
 * Feeds chunks to a FrameDecoder as a session would (see
 * http2_frames_test.ts); any exception but Http2ProtocolError fails.
 */
function feed(chunks: Uint8Array[], options?: FrameDecoderOptions): Fed {
  const decoder = new FrameDecoder(options);
  const fed: Fed = { frames: [], streamErrors: [], error: null, pending: 0 };
  let buf: Uint8Array = new Uint8Array(0);
  let pos = 0;
  for (const chunk of chunks) {
    buf = concat([buf.subarray(pos), chunk]);
    pos = 0;
    while (true) {
      let result: Frame | null;
      try {
        result = decoder.decode(buf, pos, buf.length);
      } catch (error) {
        assertInstanceOf(error, Http2ProtocolError);
        if (error.streamId !== 0) {
          // A stream error consumed its frame, so decoding moves on.
          assert(decoder.consumed >= 9);
          pos += decoder.consumed;
          fed.streamErrors.push(error);
          continue;
        }
        fed.error = error;
        return fed;
      }
      const consumed = decoder.consumed;
      assert(consumed >= 0 && pos + consumed <= buf.length);
      pos += consumed;
      if (result === null) break;
      assert(consumed >= 9); // a frame returned is never free
      if (result.type === FrameType.DATA) {
        fed.frames.push({ ...result, data: result.data.slice() });
      } else if (result.type === FrameType.HEADERS) {
        fed.frames.push({ ...result, headerBlock: result.headerBlock.slice() });
      } else {
        fed.frames.push({ ...result });
      }
    }
  }
  fed.pending = buf.length - pos;
  return fed;
}

const PREFACE = encodeSettings({});

function frame(
  type: number,
  flags: number,
  streamId: number,
  payload: ArrayLike<number>,
): Uint8Array {
  const out = new Uint8Array(9 + payload.length);
  writeFrameHeader(out, 0, payload.length, type, flags, streamId);
  out.set(payload, 9);
  return out;
}

// ---------------------------------------------------------------------------
// Arbitraries: fields

/** A byte string (chars 0-255). */
const byteStringArb = (maxLength: number) =>
  fc.uint8Array({ maxLength, size: SIZE }).map(bytesToString);

const staticNames = [...new Set(STATIC_TABLE.map(([name]) => name))];
const staticFieldArb = fc.constantFrom(...STATIC_TABLE)
  .map(([n, v]) => [n, v] as [string, string]);

/** A small pool, so that fields repeat and hit the dynamic table. */
const POOL: [string, string][] = [
  [":authority", "api.example.com"],
  ["user-agent", "pooled-fetch/0.1"],
  ["x-request-kind", "poll"],
  ["accept", "application/json"],
  ["cookie", "session=abc123"],
  ["authorization", "Bearer token"],
  ["content-length", "42"],
  [":path", "/v1/items?page=2"],
];

const fieldArb: fc.Arbitrary<[string, string]> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...POOL) },
  { weight: 2, arbitrary: staticFieldArb },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constantFrom(...staticNames), byteStringArb(40)),
  },
  { weight: 3, arbitrary: fc.tuple(byteStringArb(20), byteStringArb(60)) },
  {
    weight: 1,
    arbitrary: fc.tuple(byteStringArb(10), byteStringArb(400)),
  },
);

const fieldListArb = fc.array(fieldArb, { maxLength: 16, size: SIZE });

// ---------------------------------------------------------------------------
// HPACK properties

Deno.test(`HpackEncoder and HpackDecoder round-trip random field lists over many blocks, tables in step (${ROUND_TRIP_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 64, 256, 4096, 65536),
      fc.boolean(),
      fc.array(
        fc.record({
          resizes: fc.array(fc.integer({ min: 0, max: 4096 }), {
            maxLength: 2,
            size: SIZE,
          }),
          fields: fieldListArb,
        }),
        { minLength: 1, maxLength: 12, size: SIZE },
      ),
      (cap, huffman, blocks) => {
        const encoder = new HpackEncoder({ maxTableSize: cap, huffman });
        const decoder = new HpackDecoder({ maxHeaderListSize: 2 ** 32 });
        let streamId = 1;
        for (const { resizes, fields } of blocks) {
          for (const size of resizes) encoder.setPeerMaxTableSize(size);
          const block = encoder.encode(fields);
          assertEquals(decoder.decode(block, streamId), fields);
          assertEquals(decoder.dynamicTable(), encoder.dynamicTable());
          assertEquals(decoder.tableSize, encoder.tableSize);
          assert(encoder.tableSize <= Math.min(cap, 4096));
          streamId += 2;
        }
      },
    ),
    { numRuns: ROUND_TRIP_RUNS },
  );
});

/** One representation a model encoder may choose (RFC 7541 §6). */
type Representation =
  | { kind: "indexed"; pick: number }
  | {
    kind: "incremental" | "without" | "never";
    namePick: number | null;
    name: string;
    value: string;
    huffmanName: boolean;
    huffmanValue: boolean;
  };

const representationArb: fc.Arbitrary<Representation> = fc.oneof(
  fc.record({ kind: fc.constant("indexed" as const), pick: fc.nat() }),
  fc.record({
    kind: fc.constantFrom(
      "incremental" as const,
      "without" as const,
      "never" as const,
    ),
    namePick: fc.option(fc.nat(), { nil: null }),
    name: byteStringArb(12),
    value: byteStringArb(80),
    huffmanName: fc.boolean(),
    huffmanValue: fc.boolean(),
  }),
);

function integerBytes(value: number, bits: number, pattern: number): number[] {
  const max = (1 << bits) - 1;
  if (value < max) return [pattern | value];
  const out = [pattern | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function stringBytes(s: string, huffman: boolean): number[] {
  if (!huffman) return [...integerBytes(s.length, 7, 0), ...stringToBytes(s)];
  const coded = new Uint8Array(huffmanEncodedLength(s));
  huffmanEncode(s, coded, 0);
  return [...integerBytes(coded.length, 7, 0x80), ...coded];
}

/** A plain model of the decoder's dynamic table, newest first. */
class ModelTable {
  entries: [string, string][] = [];
  maxSize: number;
  constructor(maxSize: number) {
    this.maxSize = maxSize;
  }
  get size(): number {
    return this.entries.reduce((n, [a, b]) => n + a.length + b.length + 32, 0);
  }
  resize(maxSize: number): void {
    this.maxSize = maxSize;
    while (this.size > maxSize) this.entries.pop();
  }
  add(name: string, value: string): void {
    const size = name.length + value.length + 32;
    while (this.entries.length > 0 && this.size + size > this.maxSize) {
      this.entries.pop();
    }
    if (size <= this.maxSize) this.entries.unshift([name, value]);
  }
  get(index: number): [string, string] {
    return index <= 61
      ? [...STATIC_TABLE[index - 1]]
      : this.entries[index - 62];
  }
}

Deno.test(`HpackDecoder.decode() decodes every representation a model encoder writes, table included (${ROUND_TRIP_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          updates: fc.array(fc.integer({ min: 0, max: 4096 }), {
            maxLength: 2,
            size: SIZE,
          }),
          representations: fc.array(representationArb, {
            maxLength: 12,
            size: SIZE,
          }),
        }),
        { minLength: 1, maxLength: 8, size: SIZE },
      ),
      (blocks) => {
        const decoder = new HpackDecoder({ maxHeaderListSize: 2 ** 32 });
        const model = new ModelTable(4096);
        for (const { updates, representations } of blocks) {
          const bytes: number[] = [];
          const expected: [string, string][] = [];
          for (const size of updates) {
            bytes.push(...integerBytes(size, 5, 0x20));
            model.resize(size);
          }
          for (const r of representations) {
            const count = 61 + model.entries.length;
            if (r.kind === "indexed") {
              const index = 1 + (r.pick % count);
              bytes.push(...integerBytes(index, 7, 0x80));
              expected.push(model.get(index));
              continue;
            }
            const [bits, pattern] = r.kind === "incremental"
              ? [6, 0x40]
              : r.kind === "without"
              ? [4, 0x00]
              : [4, 0x10];
            let name = r.name;
            if (r.namePick !== null) {
              const index = 1 + (r.namePick % count);
              name = model.get(index)[0];
              bytes.push(...integerBytes(index, bits, pattern));
            } else {
              bytes.push(
                ...integerBytes(0, bits, pattern),
                ...stringBytes(name, r.huffmanName),
              );
            }
            bytes.push(...stringBytes(r.value, r.huffmanValue));
            expected.push([name, r.value]);
            if (r.kind === "incremental") model.add(name, r.value);
          }
          assertEquals(decoder.decode(new Uint8Array(bytes), 1), expected);
          assertEquals(decoder.dynamicTable(), model.entries);
          assertEquals(decoder.tableSize, model.size);
        }
      },
    ),
    { numRuns: ROUND_TRIP_RUNS },
  );
});

Deno.test(`huffmanEncode() and huffmanDecode() round-trip random byte strings (${FUZZ_RUNS} cases)`, () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300, size: SIZE }), (bytes) => {
      const s = bytesToString(bytes);
      const coded = new Uint8Array(huffmanEncodedLength(s));
      assertEquals(huffmanEncode(s, coded, 0), coded.length);
      const out = new Uint8Array(huffmanMaxDecodedLength(coded.length));
      const n = huffmanDecode(coded, 0, coded.length, out);
      assertEquals(out.subarray(0, n), bytes);
    }),
    { numRuns: FUZZ_RUNS },
  );
});

/** Decodes with `decoder`; passes only results and Http2ProtocolError. */
function decodeOrProtocolError(
  decoder: HpackDecoder,
  block: Uint8Array,
  streamId: number,
): "ok" | "stream" | "connection" {
  try {
    const fields = decoder.decode(block, streamId);
    for (const [name, value] of fields) {
      assertEquals(typeof name, "string");
      assertEquals(typeof value, "string");
    }
    return "ok";
  } catch (error) {
    assertInstanceOf(error, Http2ProtocolError);
    if (error.streamId === 0) {
      assertEquals(error.code, 0x9); // COMPRESSION_ERROR
      return "connection";
    }
    assertEquals(error.streamId, streamId);
    assertEquals(error.code, 0x1);
    return "stream";
  }
}

Deno.test(`HpackDecoder.decode() ends random blocks in fields or an Http2ProtocolError (${FUZZ_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 200, size: SIZE }), {
        minLength: 1,
        maxLength: 4,
        size: SIZE,
      }),
      fc.constantFrom(0, 100, 4096),
      fc.constantFrom(50, 65536),
      (blocks, maxTableSize, maxHeaderListSize) => {
        const decoder = new HpackDecoder({
          maxTableSize,
          maxHeaderListSize,
          maxStringLength: 150,
        });
        for (const block of blocks) {
          if (decodeOrProtocolError(decoder, block, 3) === "connection") break;
        }
      },
    ),
    { numRuns: FUZZ_RUNS },
  );
});

Deno.test(`HpackDecoder.decode() ends corrupted valid blocks in fields or an Http2ProtocolError (${FUZZ_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      fc.array(fieldListArb, { minLength: 1, maxLength: 4, size: SIZE }),
      fc.array(
        fc.record({ block: fc.nat(), at: fc.nat(), byte: fc.nat(255) }),
        { minLength: 1, maxLength: 4, size: SIZE },
      ),
      (lists, flips) => {
        const encoder = new HpackEncoder();
        // Copies: encode() returns a view of its own buffer.
        const blocks = lists.map((fields) => encoder.encode(fields).slice());
        for (const { block, at, byte } of flips) {
          const target = blocks[block % blocks.length];
          if (target.length > 0) target[at % target.length] = byte;
        }
        const decoder = new HpackDecoder({ maxHeaderListSize: 2000 });
        for (const block of blocks) {
          if (decodeOrProtocolError(decoder, block, 5) === "connection") break;
        }
      },
    ),
    { numRuns: FUZZ_RUNS },
  );
});

// ---------------------------------------------------------------------------
// Frame properties

/** A frame's bytes (one or more frames on the wire) and what it decodes to. */
interface WireFrame {
  bytes: Uint8Array;
  expected: Frame | null;
}

const streamIdArb = fc.integer({ min: 1, max: 2 ** 31 - 1 });

const dataArb: fc.Arbitrary<WireFrame> = fc.record({
  streamId: streamIdArb,
  data: fc.uint8Array({ maxLength: 300, size: SIZE }),
  pad: fc.option(fc.nat(40), { nil: null }),
  endStream: fc.boolean(),
}).map(({ streamId, data, pad, endStream }) => {
  let flags = endStream ? Flag.END_STREAM : 0;
  let bytes: Uint8Array;
  if (pad === null) {
    bytes = encodeData(streamId, data, endStream);
  } else {
    flags |= Flag.PADDED;
    bytes = frame(FrameType.DATA, flags, streamId, [
      pad,
      ...data,
      ...new Uint8Array(pad),
    ]);
  }
  return {
    bytes,
    expected: {
      type: FrameType.DATA,
      flags,
      streamId,
      endStream,
      data,
      length: bytes.length - 9,
    },
  };
});

const headersArb: fc.Arbitrary<WireFrame> = fc.record({
  streamId: streamIdArb,
  block: fc.uint8Array({ maxLength: 300, size: SIZE }),
  cuts: fc.array(fc.nat(), { maxLength: 4, size: SIZE }),
  pad: fc.option(fc.nat(20), { nil: null }),
  priority: fc.boolean(),
  endStream: fc.boolean(),
}).map(({ streamId, block, cuts, pad, priority, endStream }) => {
  const fragments = block.length < 2 ? [block] : split(block, cuts);
  let flags = endStream ? Flag.END_STREAM : 0;
  if (fragments.length === 1) flags |= Flag.END_HEADERS;
  const first: number[] = [];
  if (pad !== null) {
    flags |= Flag.PADDED;
    first.push(pad);
  }
  if (priority) {
    flags |= Flag.PRIORITY;
    first.push(0x80, 0, 0, streamId === 1 ? 2 : 1, 255);
  }
  first.push(...fragments[0], ...new Uint8Array(pad ?? 0));
  const frames = [frame(FrameType.HEADERS, flags, streamId, first)];
  for (let i = 1; i < fragments.length; i++) {
    const last = i === fragments.length - 1;
    frames.push(
      frame(
        FrameType.CONTINUATION,
        last ? Flag.END_HEADERS : 0,
        streamId,
        fragments[i],
      ),
    );
  }
  return {
    bytes: concat(frames),
    expected: {
      type: FrameType.HEADERS,
      flags: flags | Flag.END_HEADERS,
      streamId,
      endStream,
      headerBlock: block,
    },
  };
});

const settingsArb: fc.Arbitrary<WireFrame> = fc.record({
  headerTableSize: fc.nat(2 ** 32 - 1),
  enablePush: fc.constant(0),
  maxConcurrentStreams: fc.nat(2 ** 32 - 1),
  initialWindowSize: fc.nat(2 ** 31 - 1),
  maxFrameSize: fc.integer({ min: 2 ** 14, max: 2 ** 24 - 1 }),
  maxHeaderListSize: fc.nat(2 ** 32 - 1),
}, { requiredKeys: [] }).map((settings: Partial<Http2Settings>) => ({
  bytes: encodeSettings(settings),
  expected: {
    type: FrameType.SETTINGS,
    flags: 0,
    streamId: 0,
    ack: false,
    settings,
  },
}));

const controlArb: fc.Arbitrary<WireFrame> = fc.oneof(
  fc.constant({
    bytes: encodeSettingsAck(),
    expected: {
      type: FrameType.SETTINGS,
      flags: Flag.ACK,
      streamId: 0,
      ack: true,
      settings: {},
    },
  }),
  fc.tuple(
    fc.uint8Array({ minLength: 8, maxLength: 8, size: SIZE }),
    fc.boolean(),
  ).map((
    [data, ack],
  ) => ({
    bytes: encodePing(data, ack),
    expected: {
      type: FrameType.PING,
      flags: ack ? Flag.ACK : 0,
      streamId: 0,
      ack,
      data,
    },
  })),
  fc.tuple(fc.nat(2 ** 31 - 1), fc.integer({ min: 1, max: 2 ** 31 - 1 })).map((
    [streamId, increment],
  ) => ({
    bytes: encodeWindowUpdate(streamId, increment),
    expected: { type: FrameType.WINDOW_UPDATE, flags: 0, streamId, increment },
  })),
  fc.tuple(streamIdArb, fc.nat(2 ** 32 - 1)).map(([streamId, errorCode]) => ({
    bytes: encodeRstStream(streamId, errorCode),
    expected: { type: FrameType.RST_STREAM, flags: 0, streamId, errorCode },
  })),
  fc.tuple(
    fc.nat(2 ** 31 - 1),
    fc.nat(2 ** 32 - 1),
    fc.uint8Array({ maxLength: 30, size: SIZE }),
  ).map(([lastStreamId, errorCode, debugData]) => ({
    bytes: encodeGoaway(lastStreamId, errorCode, debugData),
    expected: {
      type: FrameType.GOAWAY,
      flags: 0,
      streamId: 0,
      lastStreamId,
      errorCode,
      debugData,
    },
  })),
  // Dropped by the decoder: PRIORITY and unknown types.
  streamIdArb.map((streamId) => ({
    bytes: frame(FrameType.PRIORITY, 0, streamId, [
      0,
      0,
      0,
      streamId === 1 ? 2 : 1,
      16,
    ]),
    expected: null,
  })),
  fc.tuple(
    fc.integer({ min: 0x0a, max: 0xff }),
    fc.nat(255),
    fc.nat(2 ** 31 - 1),
    fc.uint8Array({ maxLength: 40, size: SIZE }),
  ).map(([type, flags, streamId, payload]) => ({
    bytes: frame(type, flags, streamId, payload),
    expected: null,
  })),
);

const wireFramesArb = fc.array(
  fc.oneof(dataArb, headersArb, settingsArb, controlArb),
  { maxLength: 20, size: SIZE },
);

Deno.test(`FrameDecoder.decode() decodes a frame stream split at random points like the unsplit one (${SPLIT_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      wireFramesArb,
      fc.array(fc.nat(), { maxLength: 30, size: SIZE }),
      (wire, cuts) => {
        const bytes = concat([PREFACE, ...wire.map((w) => w.bytes)]);
        const expected = wire.map((w) => w.expected).filter((f) => f !== null);
        const whole = feed([bytes]);
        assertEquals(whole.error, null);
        assertEquals(whole.streamErrors, []);
        assertEquals(whole.pending, 0);
        assertEquals(whole.frames.slice(1), expected);
        const pieces = feed(split(bytes, cuts));
        assertEquals(pieces, whole);
        const bytewise = feed(split(bytes, [...bytes.keys()]));
        assertEquals(bytewise, whole);
      },
    ),
    { numRuns: SPLIT_RUNS },
  );
});

/**
 * Frames with random types (known and not), flags, small stream ids and
 * short random payloads: past the frame-size check, into every type's rules.
 */
const randomFramesArb = fc.array(
  fc.tuple(
    fc.nat(12),
    fc.nat(255),
    fc.nat(5),
    fc.uint8Array({ maxLength: 40, size: SIZE }),
  ).map(([type, flags, streamId, payload]) =>
    frame(type, flags, streamId, payload)
  ),
  { maxLength: 12, size: SIZE },
).map(concat);

Deno.test(`FrameDecoder.decode() ends random bytes in frames, a wait or an Http2ProtocolError (${FUZZ_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.oneof(fc.uint8Array({ maxLength: 600, size: SIZE }), randomFramesArb),
      fc.array(fc.nat(), { maxLength: 8, size: SIZE }),
      (withPreface, random, cuts) => {
        const bytes = withPreface ? concat([PREFACE, random]) : random;
        const options = { requireSettingsFirst: withPreface };
        const whole = feed([bytes], options);
        const pieces = feed(split(bytes, cuts), options);
        assertEquals(pieces.frames, whole.frames);
        assertEquals(pieces.error?.message, whole.error?.message);
      },
    ),
    { numRuns: FUZZ_RUNS },
  );
});

Deno.test(`FrameDecoder.decode() ends corrupted frame streams in frames, a wait or an Http2ProtocolError (${FUZZ_RUNS} cases)`, () => {
  fc.assert(
    fc.property(
      wireFramesArb,
      fc.array(fc.record({ at: fc.nat(), byte: fc.nat(255) }), {
        minLength: 1,
        maxLength: 6,
        size: SIZE,
      }),
      fc.array(fc.nat(), { maxLength: 8, size: SIZE }),
      (wire, flips, cuts) => {
        const bytes = concat([PREFACE, ...wire.map((w) => w.bytes)]);
        for (const { at, byte } of flips) bytes[at % bytes.length] = byte;
        const options = { maxHeaderBlockSize: 400, maxContinuationFrames: 3 };
        const whole = feed([bytes], options);
        const pieces = feed(split(bytes, cuts), options);
        assertEquals(pieces.frames, whole.frames);
        assertEquals(pieces.streamErrors, whole.streamErrors);
        assertEquals(pieces.error?.message, whole.error?.message);
      },
    ),
    { numRuns: FUZZ_RUNS },
  );
});
