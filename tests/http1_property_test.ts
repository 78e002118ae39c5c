// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Property tests of the HTTP/1.1 codec: valid responses split at random
 * boundaries parse exactly like the unsplit ones; corrupted and random
 * streams end in the documented errors, never in another exception or a loop.
 */
import { assert, assertEquals } from "@std/assert";
import fc from "fast-check";
import { HttpParseError } from "../errors.ts";
import {
  ChunkedDecoder,
  DEFAULT_PARSER_LIMITS,
  type ParserLimits,
  type ResponseHead,
} from "../_http1.ts";
import { bytes, comparable, feed, type Parsed } from "./_http1_feed.ts";
import { concatBytes } from "./_servers.ts";

// The feeder that drives the codec the way the connection does is shared
// with http1_test.ts: see `_http1_feed.ts`.

function concat(parts: (string | Uint8Array)[]): Uint8Array {
  return concatBytes(parts.map((p) => typeof p === "string" ? bytes(p) : p));
}

// ---------------------------------------------------------------------------
// Arbitraries

const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789" +
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const FRAMING_NAMES = new Set([
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
]);

const tokenArb = fc.array(fc.constantFrom(...TOKEN_CHARS), {
  minLength: 1,
  maxLength: 12,
}).map((chars) => chars.join(""));
const nameArb = tokenArb.filter((n) => !FRAMING_NAMES.has(n.toLowerCase()));
/** field-vchar: VCHAR or obs-text. */
const vcharArb = fc.oneof(
  fc.integer({ min: 0x21, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
).map((c) => String.fromCharCode(c));
const wordArb = fc.array(vcharArb, { minLength: 1, maxLength: 8 })
  .map((chars) => chars.join(""));
const owsArb = fc.constantFrom("", " ", "\t", " \t ");
const eolArb = fc.constantFrom("\r\n", "\r\n", "\n");

interface Field {
  name: string;
  value: string;
  wire: string;
}

/** A field line (without its line end) and the field it should parse as. */
const fieldArb: fc.Arbitrary<Field> = fc.record({
  name: nameArb,
  words: fc.array(wordArb, { maxLength: 4 }),
  sep: fc.constantFrom(" ", "\t", "  "),
  pre: owsArb,
  post: owsArb,
  fold: fc.boolean(),
}).map(({ name, words, sep, pre, post, fold }) => {
  const value = words.join(sep);
  if (fold && words.length >= 2) {
    // obs-fold between the first two words reads as one space.
    const [first, ...rest] = words;
    return {
      name,
      value: `${first} ${rest.join(sep)}`,
      wire: `${name}:${pre}${first}\r\n\t${rest.join(sep)}${post}`,
    };
  }
  return { name, value, wire: `${name}:${pre}${value}${post}` };
});

const reasonArb = fc.option(
  fc.array(fc.oneof(vcharArb, fc.constantFrom(" ", "\t")), { maxLength: 12 })
    .map((chars) => chars.join("")),
);

const extArb = fc.array(
  fc.tuple(
    tokenArb,
    fc.option(
      fc.oneof(
        tokenArb,
        fc.array(
          vcharArb.filter((c) => c !== '"' && c !== "\\"),
          { maxLength: 6 },
        ).map((chars) => `"${chars.join("")}"`),
      ),
    ),
  ),
  { maxLength: 2 },
).map((exts) =>
  exts.map(([name, value]) => `;${name}${value === null ? "" : `=${value}`}`)
    .join("")
);

type Framing =
  | { kind: "length"; body: Uint8Array }
  | {
    kind: "chunked";
    chunks: { data: Uint8Array; ext: string; upper: boolean }[];
    lastExt: string;
    trailers: Field[];
  }
  | { kind: "close"; body: Uint8Array };

const lengthArb: fc.Arbitrary<Framing> = fc.record({
  kind: fc.constant("length" as const),
  body: fc.uint8Array({ maxLength: 64 }),
});
const chunkedArb: fc.Arbitrary<Framing> = fc.record({
  kind: fc.constant("chunked" as const),
  chunks: fc.array(
    fc.record({
      data: fc.uint8Array({ minLength: 1, maxLength: 40 }),
      ext: extArb,
      upper: fc.boolean(),
    }),
    { maxLength: 5 },
  ),
  lastExt: extArb,
  trailers: fc.array(fieldArb.filter((f) => !f.wire.includes("\r\n\t")), {
    maxLength: 3,
  }),
});
const closeArb: fc.Arbitrary<Framing> = fc.record({
  kind: fc.constant("close" as const),
  body: fc.uint8Array({ maxLength: 64 }),
});

interface ResponseSpec {
  method: "GET" | "HEAD";
  interim: { status: number; fields: Field[]; eol: string }[];
  minor: number;
  status: number;
  reason: string | null;
  fields: Field[];
  framingName: string;
  framingAt: number;
  framing: Framing;
  eol: string;
  leading: string;
}

function responseArb(framingArb: fc.Arbitrary<Framing>) {
  return fc.record({
    method: fc.constantFrom("GET", "GET", "GET", "HEAD") as fc.Arbitrary<
      "GET" | "HEAD"
    >,
    interim: fc.array(
      fc.record({
        status: fc.constantFrom(100, 102, 103, 150, 199),
        fields: fc.array(fieldArb, { maxLength: 2 }),
        eol: eolArb,
      }),
      { maxLength: 2 },
    ),
    minor: fc.constantFrom(0, 1, 1, 1, 2),
    status: fc.integer({ min: 200, max: 599 }).filter((s) =>
      s !== 204 && s !== 304
    ),
    reason: reasonArb,
    fields: fc.array(fieldArb, { maxLength: 6 }),
    framingName: fc.constantFrom("", "lower", "UPPER"),
    framingAt: fc.nat(),
    framing: framingArb,
    eol: eolArb,
    leading: fc.constantFrom("", "", "", "\r\n", "\n"),
  }) as fc.Arbitrary<ResponseSpec>;
}

function fieldName(name: string, style: string): string {
  return style === "lower"
    ? name.toLowerCase()
    : style === "UPPER"
    ? name.toUpperCase()
    : name;
}

/** The wire bytes of a response and the result the feeder should give. */
function build(spec: ResponseSpec): { wire: Uint8Array; expected: Parsed } {
  const { eol } = spec;
  const parts: (string | Uint8Array)[] = [spec.leading];
  for (const interim of spec.interim) {
    parts.push(`HTTP/1.1 ${interim.status} Info${interim.eol}`);
    for (const f of interim.fields) parts.push(`${f.wire}${interim.eol}`);
    parts.push(interim.eol);
  }
  // Empty lines before the first head count as part of it.
  const headStart = spec.interim.length === 0
    ? 0
    : parts.reduce((n, p) => n + p.length, 0);
  const fields = [...spec.fields];
  const framingField = (name: string, value: string): void => {
    const at = spec.framingAt % (fields.length + 1);
    fields.splice(at, 0, {
      name: fieldName(name, spec.framingName),
      value,
      wire: `${fieldName(name, spec.framingName)}: ${value}`,
    });
  };
  const { framing } = spec;
  if (framing.kind === "length") {
    framingField("Content-Length", String(framing.body.length));
  } else if (framing.kind === "chunked") {
    framingField("Transfer-Encoding", "chunked");
  }
  parts.push(
    `HTTP/1.${spec.minor} ${spec.status}${
      spec.reason === null ? "" : ` ${spec.reason}`
    }${eol}`,
  );
  for (const f of fields) parts.push(`${f.wire}${eol}`);
  parts.push(eol);
  const headLength = parts.reduce((n, p) => n + p.length, 0) - headStart;

  const head = spec.method !== "HEAD";
  let body: Uint8Array = new Uint8Array(0);
  let kind: ResponseHead["framing"] = "none";
  let contentLength = 0;
  if (head && framing.kind === "length") {
    body = framing.body;
    parts.push(body);
    kind = "length";
    contentLength = body.length;
  } else if (head && framing.kind === "chunked") {
    kind = "chunked";
    for (const chunk of framing.chunks) {
      const size = chunk.data.length.toString(16);
      parts.push(
        `${chunk.upper ? size.toUpperCase() : size}${chunk.ext}${eol}`,
        chunk.data,
        eol,
      );
    }
    parts.push(`0${framing.lastExt}${eol}`);
    for (const t of framing.trailers) parts.push(`${t.wire}${eol}`);
    parts.push(eol);
    body = concat(framing.chunks.map((c) => c.data));
  } else if (head && framing.kind === "close") {
    kind = "close";
    body = framing.body;
    parts.push(body);
  }
  const wire = concat(parts);
  const codingsOf = (list: { name: string; value: string }[]) => {
    const values = list.filter((f) =>
      f.name.toLowerCase() === "content-encoding"
    )
      .map((f) => f.value);
    return values.length === 0 ? undefined : values.join(",");
  };
  const keepAlive = kind !== "close" &&
    (spec.minor >= 1 && !(kind === "chunked" && spec.minor === 0));
  return {
    wire,
    expected: {
      interim: spec.interim.map((i) => i.status),
      head: {
        minorVersion: spec.minor,
        status: spec.status,
        statusText: spec.reason ?? "",
        headers: fields.map((f) => [f.name, f.value]),
        headLength,
        framing: kind,
        contentLength,
        keepAlive,
        keepAliveTimeout: undefined,
        keepAliveMax: undefined,
        contentEncoding: codingsOf(fields),
      },
      body: [...body],
      complete: true,
      end: wire.length,
    },
  };
}

/** Cut points in `(0, length)`, sorted and unique; sometimes every byte. */
function cutsArb(): fc.Arbitrary<(length: number) => number[]> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.nat(), { maxLength: 12 }) },
    { weight: 1, arbitrary: fc.constant(null) },
  ).map((raw) => (length: number): number[] => {
    if (length < 2) return [];
    if (raw === null) {
      return Array.from({ length: length - 1 }, (_, i) => i + 1);
    }
    return [...new Set(raw.map((n) => 1 + (n % (length - 1))))]
      .sort((a, b) => a - b);
  });
}

const limitsArb: fc.Arbitrary<ParserLimits> = fc.record({
  maxHeaderSize: fc.integer({ min: 16, max: 1024 }),
  maxHeaderCount: fc.integer({ min: 1, max: 12 }),
  maxChunkLineLength: fc.integer({ min: 4, max: 64 }),
  maxTrailerSize: fc.integer({ min: 0, max: 64 }),
});

/** Mutations: flip a bit, insert, delete or replace a byte. */
const mutationsArb = fc.array(
  fc.record({
    op: fc.constantFrom("flip", "insert", "delete", "replace"),
    at: fc.nat(),
    bit: fc.integer({ min: 0, max: 7 }),
    byte: fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(...bytes("\r\n\0:; \t0fF9")),
    ),
  }),
  { minLength: 1, maxLength: 4 },
);

function mutate(
  input: Uint8Array,
  mutations: { op: string; at: number; bit: number; byte: number }[],
): Uint8Array {
  const out = [...input];
  for (const { op, at, bit, byte } of mutations) {
    const i = at % (out.length + 1);
    if (op === "insert") out.splice(i, 0, byte);
    else if (i === out.length) continue;
    else if (op === "delete") out.splice(i, 1);
    else if (op === "flip") out[i] ^= 1 << bit;
    else out[i] = byte;
  }
  return Uint8Array.from(out);
}

/**
 * Byte strings of up to `maxLength` bytes, each byte drawn from `alphabet`
 * `weight` times as often as from all 256 values.
 */
function mostlyFromArb(
  alphabet: string,
  weight: number,
  maxLength: number,
): fc.Arbitrary<Uint8Array> {
  return fc.array(
    fc.oneof(
      { weight, arbitrary: fc.constantFrom(...bytes(alphabet)) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
    ),
    { maxLength },
  ).map((b) => Uint8Array.from(b));
}

/** Bytes that look enough like HTTP to get past the first checks. */
const httpishBytesArb = mostlyFromArb("\r\n\r\n:; \t0aF9HTP/1.", 3, 200);

const PREFIXES = [
  "",
  "HTTP/1.1 ",
  "HTTP/1.1 200 OK\r\n",
  "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
  "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\n",
];

// ---------------------------------------------------------------------------
// Properties

const validArb = responseArb(fc.oneof(lengthArb, chunkedArb, closeArb));

Deno.test("parseResponseHead() and ChunkedDecoder parse a valid response split at random boundaries like the unsplit one", () => {
  fc.assert(
    fc.property(validArb, cutsArb(), (spec, cutsFor) => {
      const { wire, expected } = build(spec);
      const whole = feed(wire, [], { methods: [spec.method] });
      assertEquals(whole, {
        responses: [expected],
        consumed: wire.length,
        error: null,
      });
      const split = feed(wire, cutsFor(wire.length), {
        methods: [spec.method],
      });
      assertEquals(split, whole);
    }),
    { numRuns: 300 },
  );
});

Deno.test("parseResponseHead() and ChunkedDecoder parse pipelined responses back to back with exact consumed counts", () => {
  const sequenceArb = fc.tuple(
    fc.array(responseArb(fc.oneof(lengthArb, chunkedArb)), {
      minLength: 2,
      maxLength: 5,
    }),
    fc.option(responseArb(closeArb)),
  ).map(([specs, last]) => last === null ? specs : [...specs, last]);
  fc.assert(
    fc.property(sequenceArb, cutsArb(), (specs, cutsFor) => {
      const built = specs.map(build);
      const wire = concat(built.map((b) => b.wire));
      let offset = 0;
      const expected = built.map((b) => {
        offset += b.wire.length;
        return { ...b.expected, end: offset };
      });
      const methods = specs.map((s) => s.method);
      const whole = feed(wire, [], { methods });
      assertEquals(whole, {
        responses: expected,
        consumed: wire.length,
        error: null,
      });
      assertEquals(feed(wire, cutsFor(wire.length), { methods }), whole);
    }),
    { numRuns: 150 },
  );
});

Deno.test("parseResponseHead() and ChunkedDecoder end corrupted responses in a result, a wait or an HttpParseError, alike for every split", () => {
  fc.assert(
    fc.property(
      validArb,
      mutationsArb,
      fc.option(limitsArb, { freq: 3 }),
      cutsArb(),
      (spec, mutations, limits, cutsFor) => {
        const wire = mutate(build(spec).wire, mutations);
        const lim = limits ?? DEFAULT_PARSER_LIMITS;
        const methods = [spec.method, "GET"];
        const whole = feed(wire, [], { methods, limits: lim });
        const split = feed(wire, cutsFor(wire.length), {
          methods,
          limits: lim,
        });
        assertEquals(comparable(split), comparable(whole));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("parseResponseHead() and ChunkedDecoder end random byte streams in a result, a wait or an HttpParseError", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...PREFIXES),
      fc.oneof(httpishBytesArb, fc.uint8Array({ maxLength: 200 })),
      fc.option(limitsArb, { freq: 2 }),
      cutsArb(),
      (prefix, tail, limits, cutsFor) => {
        const wire = concat([prefix, tail]);
        const lim = limits ?? DEFAULT_PARSER_LIMITS;
        const whole = feed(wire, [], { methods: ["GET", "GET"], limits: lim });
        const split = feed(wire, cutsFor(wire.length), {
          methods: ["GET", "GET"],
          limits: lim,
        });
        assertEquals(comparable(split), comparable(whole));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("ChunkedDecoder.decode() ends random chunked bodies in data, a wait or an HttpParseError", () => {
  const chunkishArb = mostlyFromArb("0123456789aF\r\n;=: ", 4, 300);
  fc.assert(
    fc.property(chunkishArb, limitsArb, (input, limits) => {
      const decoder = new ChunkedDecoder(limits);
      let pos = 0;
      let calls = 0;
      try {
        while (!decoder.done && pos < input.length) {
          assert(++calls <= input.length + 1, "decode() loop ends");
          const used = decoder.decode(input, pos, input.length);
          assert(used >= 0 && pos + used <= input.length);
          if (decoder.data !== null) {
            assert(decoder.data.length > 0 && decoder.data.length <= used);
          }
          if (used === 0) break;
          pos += used;
        }
      } catch (error) {
        if (!(error instanceof HttpParseError)) throw error;
      }
    }),
    { numRuns: 500 },
  );
});
