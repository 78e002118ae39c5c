// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Tests of HPACK (RFC 7541): the Huffman code, the examples of Appendix C
 * with the dynamic table after each block, the encoder's choices, and the
 * decoder's answer to hostile blocks.
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
  HpackDecoder,
  type HpackDecoderOptions,
  HpackEncoder,
} from "../_hpack.ts";
import { STATIC_TABLE } from "../_hpack_table.ts";
import {
  HUFFMAN_BAD_PADDING,
  HUFFMAN_CODES,
  HUFFMAN_EOS,
  HUFFMAN_LENGTHS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "../_hpack_huffman.ts";

const COMPRESSION_ERROR = 0x9;
const PROTOCOL_ERROR = 0x1;

function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, "");
  const out = new Uint8Array(digits.length / 2);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
  }
  return out;
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Asserts that `fn` throws an Http2ProtocolError; returns it. */
function assertProtocolError(
  fn: () => unknown,
  code: number,
  streamId: number,
  includes?: string,
): Http2ProtocolError {
  const error = assertThrows(fn, Http2ProtocolError);
  assertEquals(error.code, code, error.message);
  assertEquals(error.streamId, streamId, error.message);
  assertInstanceOf(error, SyntaxError);
  if (includes !== undefined) assertStringIncludes(error.message, includes);
  return error;
}

/** An integer with an N-bit prefix (RFC 7541 §5.1), as bytes. */
function integer(value: number, bits: number, pattern: number): number[] {
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

/** A literal with a literal name and raw (not Huffman) strings. */
function literal(pattern: number, name: string, value: string): Uint8Array {
  const bits = pattern === 0x40 ? 6 : 4;
  return new Uint8Array([
    ...integer(0, bits, pattern),
    ...integer(name.length, 7, 0),
    ...bytesOf(name),
    ...integer(value.length, 7, 0),
    ...bytesOf(value),
  ]);
}

function decodeOne(
  block: Uint8Array,
  options?: HpackDecoderOptions,
): [string, string][] {
  return new HpackDecoder(options).decode(block, 1);
}

// ---------------------------------------------------------------------------
// Huffman code (§5.2, Appendix B)

Deno.test("HUFFMAN_CODES is a complete canonical prefix code of 257 symbols", () => {
  assertEquals(HUFFMAN_CODES.length, 257);
  assertEquals(HUFFMAN_LENGTHS.length, 257);
  // Kraft sum of exactly 1: complete, so every bit string decodes somewhere.
  let kraft = 0;
  for (const length of HUFFMAN_LENGTHS) kraft += 2 ** (30 - length);
  assertEquals(kraft, 2 ** 30);
  // Canonical: codes ordered by (length, symbol) count up.
  const order = [...Array(257).keys()].sort((a, b) =>
    HUFFMAN_LENGTHS[a] - HUFFMAN_LENGTHS[b] || a - b
  );
  let code = 0;
  for (let i = 0; i < order.length; i++) {
    if (i > 0) {
      code = (code + 1) *
        2 ** (HUFFMAN_LENGTHS[order[i]] - HUFFMAN_LENGTHS[order[i - 1]]);
    }
    assertEquals(HUFFMAN_CODES[order[i]], code, `symbol ${order[i]}`);
  }
});

Deno.test("HUFFMAN_CODES matches rows of RFC 7541 Appendix B", () => {
  const rows: [number, number, number][] = [
    [0, 0x1ff8, 13],
    [10, 0x3ffffffc, 30],
    [32, 0x14, 6],
    [48, 0x0, 5],
    [97, 0x3, 5],
    [127, 0xffffffc, 28],
    [200, 0x3ffffe2, 26],
    [255, 0x3ffffee, 26],
    [256, 0x3fffffff, 30],
  ];
  for (const [sym, code, length] of rows) {
    assertEquals([HUFFMAN_CODES[sym], HUFFMAN_LENGTHS[sym]], [code, length]);
  }
});

Deno.test("huffmanEncode() and huffmanDecode() round-trip every byte value", () => {
  let text = "";
  for (let i = 0; i < 256; i++) text += String.fromCharCode(i);
  text += text.split("").reverse().join("");
  const encoded = new Uint8Array(huffmanEncodedLength(text));
  assertEquals(huffmanEncode(text, encoded, 0), encoded.length);
  const out = new Uint8Array(huffmanMaxDecodedLength(encoded.length));
  const n = huffmanDecode(encoded, 0, encoded.length, out);
  assertEquals(n, text.length);
  assertEquals(String.fromCharCode(...out.subarray(0, n)), text);
});

Deno.test("huffmanEncode() writes the RFC 7541 C.4.1 coding of www.example.com", () => {
  const out = new Uint8Array(12);
  assertEquals(huffmanEncode("www.example.com", out, 0), 12);
  assertEquals(toHex(out), "f1e3c2e5f23a6ba0ab90f4ff");
});

Deno.test("huffmanDecode() rejects EOS and padding that is long or not all ones", () => {
  const out = new Uint8Array(16);
  const decode = (h: string) => {
    const src = hex(h);
    return huffmanDecode(src, 0, src.length, out);
  };
  assertEquals(decode("ffff fffc"), HUFFMAN_EOS); // 30 ones: EOS
  assertEquals(decode("00"), HUFFMAN_BAD_PADDING); // '0' then 000 padding
  assertEquals(decode("ff"), HUFFMAN_BAD_PADDING); // 8 bits of padding
  assertEquals(decode("1fff"), HUFFMAN_BAD_PADDING); // 'a' then 11 ones
  assertEquals(decode("07"), 1); // '0' then 111 padding
  assertEquals(out[0], 0x30);
  assertEquals(decode(""), 0);
});

// ---------------------------------------------------------------------------
// Integers (§5.1, C.1)

Deno.test("HpackDecoder.decode() reads prefixed integers as in RFC 7541 C.1", () => {
  // C.1.1 and C.1.2 as dynamic table size updates (a 5-bit prefix).
  const decoder = new HpackDecoder();
  assertEquals(decoder.decode(hex("2a"), 1), []);
  assertEquals(decoder.maxTableSize, 10);
  assertEquals(decoder.decode(hex("3f9a0a"), 1), []);
  assertEquals(decoder.maxTableSize, 1337);
});

Deno.test("HpackEncoder writes prefixed integers as in RFC 7541 C.1", () => {
  const encoder = new HpackEncoder();
  encoder.setPeerMaxTableSize(1337);
  // One size update, to 1337 (C.1.2).
  assertEquals(toHex(encoder.encode([])), "3f9a0a");
  encoder.setPeerMaxTableSize(10);
  assertEquals(toHex(encoder.encode([])), "2a");
});

// ---------------------------------------------------------------------------
// Appendix C examples

Deno.test("HpackDecoder.decode() decodes the field representations of RFC 7541 C.2", () => {
  // C.2.1 Literal with indexing.
  let decoder = new HpackDecoder();
  assertEquals(
    decoder.decode(
      hex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572"),
      1,
    ),
    [["custom-key", "custom-header"]],
  );
  assertEquals(decoder.dynamicTable(), [["custom-key", "custom-header"]]);
  assertEquals(decoder.tableSize, 55);
  // C.2.2 Literal without indexing.
  decoder = new HpackDecoder();
  assertEquals(
    decoder.decode(hex("040c 2f73 616d 706c 652f 7061 7468"), 1),
    [[":path", "/sample/path"]],
  );
  assertEquals(decoder.dynamicTable(), []);
  // C.2.3 Literal never indexed.
  decoder = new HpackDecoder();
  assertEquals(
    decoder.decode(hex("1008 7061 7373 776f 7264 0673 6563 7265 74"), 1),
    [["password", "secret"]],
  );
  assertEquals(decoder.dynamicTable(), []);
  // C.2.4 Indexed field.
  decoder = new HpackDecoder();
  assertEquals(decoder.decode(hex("82"), 1), [[":method", "GET"]]);
  assertEquals(decoder.tableSize, 0);
});

const REQUESTS: [string, string][][] = [
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
  ],
  [
    [":method", "GET"],
    [":scheme", "http"],
    [":path", "/"],
    [":authority", "www.example.com"],
    ["cache-control", "no-cache"],
  ],
  [
    [":method", "GET"],
    [":scheme", "https"],
    [":path", "/index.html"],
    [":authority", "www.example.com"],
    ["custom-key", "custom-value"],
  ],
];
const REQUEST_TABLES: [[string, string][], number][] = [
  [[[":authority", "www.example.com"]], 57],
  [[["cache-control", "no-cache"], [":authority", "www.example.com"]], 110],
  [
    [
      ["custom-key", "custom-value"],
      ["cache-control", "no-cache"],
      [":authority", "www.example.com"],
    ],
    164,
  ],
];
const C3 = [
  "8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
  "8286 84be 5808 6e6f 2d63 6163 6865",
  "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65",
];
const C4 = [
  "8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
  "8286 84be 5886 a8eb 1064 9cbf",
  "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf",
];

for (
  const [section, blocks, huffman] of [["C.3", C3, false], [
    "C.4",
    C4,
    true,
  ]] as const
) {
  Deno.test(`HpackDecoder.decode() decodes the requests of RFC 7541 ${section} with the table after each`, () => {
    const decoder = new HpackDecoder();
    for (let i = 0; i < 3; i++) {
      assertEquals(decoder.decode(hex(blocks[i]), 2 * i + 1), REQUESTS[i]);
      assertEquals(decoder.dynamicTable(), REQUEST_TABLES[i][0]);
      assertEquals(decoder.tableSize, REQUEST_TABLES[i][1]);
    }
  });

  Deno.test(`HpackEncoder.encode() writes the requests of RFC 7541 ${section} byte for byte`, () => {
    const encoder = new HpackEncoder({ huffman });
    for (let i = 0; i < 3; i++) {
      assertEquals(
        toHex(encoder.encode(REQUESTS[i])),
        blocks[i].replace(/ /g, ""),
      );
      assertEquals(encoder.dynamicTable(), REQUEST_TABLES[i][0]);
      assertEquals(encoder.tableSize, REQUEST_TABLES[i][1]);
    }
  });
}

const DATE1 = "Mon, 21 Oct 2013 20:13:21 GMT";
const DATE2 = "Mon, 21 Oct 2013 20:13:22 GMT";
const LOCATION = "https://www.example.com";
const COOKIE = "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1";
const RESPONSES: [string, string][][] = [
  [
    [":status", "302"],
    ["cache-control", "private"],
    ["date", DATE1],
    ["location", LOCATION],
  ],
  [
    [":status", "307"],
    ["cache-control", "private"],
    ["date", DATE1],
    ["location", LOCATION],
  ],
  [
    [":status", "200"],
    ["cache-control", "private"],
    ["date", DATE2],
    ["location", LOCATION],
    ["content-encoding", "gzip"],
    ["set-cookie", COOKIE],
  ],
];
const RESPONSE_TABLES: [[string, string][], number][] = [
  [[
    ["location", LOCATION],
    ["date", DATE1],
    ["cache-control", "private"],
    [":status", "302"],
  ], 222],
  [[
    [":status", "307"],
    ["location", LOCATION],
    ["date", DATE1],
    ["cache-control", "private"],
  ], 222],
  [
    [["set-cookie", COOKIE], ["content-encoding", "gzip"], ["date", DATE2]],
    215,
  ],
];
const C5 = [
  "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133" +
  "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70" +
  "6c65 2e63 6f6d",
  "4803 3330 37c1 c0bf",
  "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d" +
  "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049" +
  "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e" +
  "3d31",
];
const C6 = [
  "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6" +
  "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
  "4883 640e ffc1 c0bf",
  "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab" +
  "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f" +
  "9587 3160 65c0 03ed 4ee5 b106 3d50 07",
];

for (const [section, blocks] of [["C.5", C5], ["C.6", C6]] as const) {
  Deno.test(`HpackDecoder.decode() decodes the responses of RFC 7541 ${section}, evicting from a 256-byte table`, () => {
    const decoder = new HpackDecoder({ maxTableSize: 256 });
    for (let i = 0; i < 3; i++) {
      assertEquals(decoder.decode(hex(blocks[i]), 2 * i + 1), RESPONSES[i]);
      assertEquals(decoder.dynamicTable(), RESPONSE_TABLES[i][0]);
      assertEquals(decoder.tableSize, RESPONSE_TABLES[i][1]);
    }
  });
}

Deno.test("HpackEncoder.encode() keeps a 256-byte table in step with the decoder over the RFC 7541 C.5 responses", () => {
  for (const huffman of [false, true]) {
    const encoder = new HpackEncoder({ maxTableSize: 256, huffman });
    encoder.setPeerMaxTableSize(256);
    const decoder = new HpackDecoder({ maxTableSize: 256 });
    for (let round = 0; round < 3; round++) {
      for (const fields of RESPONSES) {
        assertEquals(decoder.decode(encoder.encode(fields), 1), fields);
        assertEquals(decoder.dynamicTable(), encoder.dynamicTable());
        assertEquals(decoder.tableSize, encoder.tableSize);
        assert(encoder.tableSize <= 256);
      }
    }
  }
});

// ---------------------------------------------------------------------------
// Encoder choices

Deno.test("HpackEncoder.encode() indexes :authority and user-agent so a repeat costs one byte each", () => {
  const encoder = new HpackEncoder();
  const fields: [string, string][] = [
    [":method", "GET"],
    [":scheme", "https"],
    [":authority", "api.example.com"],
    [":path", "/v1/items"],
    ["user-agent", "pooled-fetch/0.1"],
  ];
  const first = encoder.encode(fields);
  const second = encoder.encode(fields);
  assert(second.length < first.length);
  // :method, :scheme, :authority (dynamic), user-agent (dynamic): one byte
  // each; :path is a literal with its static name index.
  assertEquals(second[0], 0x82);
  assertEquals(second[1], 0x87);
  assertEquals(second[2], 0x80 | 63); // :authority, second newest
  assertEquals(second[second.length - 1], 0x80 | 62); // user-agent, newest
  assertEquals(encoder.dynamicTable(), [
    ["user-agent", "pooled-fetch/0.1"],
    [":authority", "api.example.com"],
  ]);
});

Deno.test("HpackEncoder.encode() sends authorization, cookie and proxy-authorization as never-indexed literals", () => {
  for (const name of ["authorization", "cookie", "proxy-authorization"]) {
    const encoder = new HpackEncoder();
    const decoder = new HpackDecoder();
    for (let i = 0; i < 2; i++) {
      const block = encoder.encode([[name, "secret-value-1234"]]);
      // 0001xxxx: literal never indexed, with the static name index.
      assertEquals(block[0] & 0xf0, 0x10, name);
      assertEquals(decoder.decode(block, 1), [[name, "secret-value-1234"]]);
    }
    assertEquals(encoder.dynamicTable(), []);
    assertEquals(decoder.dynamicTable(), []);
  }
});

Deno.test("HpackEncoder.encode() does not index :path or content-length", () => {
  const encoder = new HpackEncoder();
  encoder.encode([[":path", "/a"], ["content-length", "12"]]);
  const block = encoder.encode([[":path", "/a"], ["content-length", "12"]]);
  assertEquals(block[0] & 0xf0, 0x00); // literal without indexing
  assertEquals(encoder.dynamicTable(), []);
});

Deno.test("HpackEncoder.encode() Huffman-codes a literal only when that is shorter", () => {
  const encoder = new HpackEncoder();
  const plain = "\x01\x02\x03\x04"; // 28-bit codes: Huffman is longer
  const block = encoder.encode([["x-a", "aaaa"], ["x-b", plain]]);
  const decoder = new HpackDecoder();
  assertEquals(decoder.decode(block, 1), [["x-a", "aaaa"], ["x-b", plain]]);
  // x-a's value "aaaa" (5 bits a char): H bit set, 3 bytes.
  assertEquals(toHex(block.subarray(0, 6)), "4003782d6183");
  // x-b's value: H bit clear, length 4, then the raw bytes.
  assertEquals(toHex(block.subarray(block.length - 5)), "0401020304");
});

Deno.test("HpackEncoder.setPeerMaxTableSize() sends the smallest size and then the final one", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  decoder.decode(encoder.encode([["x-one", "1"], ["x-two", "2"]]), 1);
  assertEquals(encoder.dynamicTable().length, 2);
  encoder.setPeerMaxTableSize(0);
  encoder.setPeerMaxTableSize(2048);
  const block = encoder.encode([["x-three", "3"]]);
  // 0x20: size update to 0; 0x3f e1 0f: size update to 2048.
  assertEquals(toHex(block.subarray(0, 4)), "203fe10f");
  assertEquals(decoder.decode(block, 3), [["x-three", "3"]]);
  assertEquals(decoder.maxTableSize, 2048);
  assertEquals(encoder.maxTableSize, 2048);
  assertEquals(decoder.dynamicTable(), [["x-three", "3"]]);
  assertEquals(encoder.dynamicTable(), [["x-three", "3"]]);
});

Deno.test("HpackEncoder keeps to its own maxTableSize above the peer's setting", () => {
  const encoder = new HpackEncoder({ maxTableSize: 100 });
  encoder.setPeerMaxTableSize(65536);
  const block = encoder.encode([["x-a", "1"]]);
  assertEquals(toHex(block.subarray(0, 3)), "3f4540"); // size update to 100
  const decoder = new HpackDecoder();
  decoder.decode(block, 1);
  assertEquals(decoder.maxTableSize, 100);
  // A zero-size table turns indexing off.
  const off = new HpackEncoder({ maxTableSize: 0 });
  assertEquals(toHex(off.encode([["x-a", "1"]])), "200003782d61" + "0131");
  assertEquals(off.dynamicTable(), []);
});

Deno.test("HpackEncoder.encode() throws a TypeError for a char above 0xFF and leaves its table as it was", () => {
  const encoder = new HpackEncoder();
  const decoder = new HpackDecoder();
  decoder.decode(encoder.encode([["x-a", "1"]]), 1);
  const error = assertThrows(
    () => encoder.encode([["x-b", "2"], ["x-c", "snow\u2603man"]]),
    TypeError,
  );
  assertStringIncludes(error.message, "x-c");
  assertEquals(encoder.dynamicTable(), [["x-a", "1"]]);
  // The decoder never saw the failed block; the tables are still in step.
  const fields: [string, string][] = [["x-a", "1"], ["x-b", "2"]];
  assertEquals(decoder.decode(encoder.encode(fields), 3), fields);
  assertEquals(decoder.dynamicTable(), encoder.dynamicTable());
});

Deno.test("HpackEncoder.encode() keeps bytes 0x80-0xFF as single octets", () => {
  const encoder = new HpackEncoder();
  const value = "caf\xe9 \xff\x80";
  const decoder = new HpackDecoder();
  assertEquals(decoder.decode(encoder.encode([["x-latin1", value]]), 1), [
    ["x-latin1", value],
  ]);
});

Deno.test("HpackEncoder.encode() indexes a static name-only entry for an empty value", () => {
  const encoder = new HpackEncoder();
  assertEquals(
    toHex(encoder.encode([["accept-charset", ""], [":authority", ""]])),
    "8f81",
  );
});

Deno.test("HpackEncoder.setPeerMaxTableSize() refuses a size that is not a 32-bit integer", () => {
  const encoder = new HpackEncoder();
  for (const size of [-1, 2 ** 32, NaN, 1.5]) {
    assertThrows(() => encoder.setPeerMaxTableSize(size), RangeError, "'size'");
  }
});

Deno.test("STATIC_TABLE has the 61 entries of RFC 7541 Appendix A", () => {
  assertEquals(STATIC_TABLE.length, 61);
  assertEquals(STATIC_TABLE[0], [":authority", ""]);
  assertEquals(STATIC_TABLE[15], ["accept-encoding", "gzip, deflate"]);
  assertEquals(STATIC_TABLE[60], ["www-authenticate", ""]);
});

// ---------------------------------------------------------------------------
// Hostile blocks

Deno.test("HpackDecoder.decode() rejects index 0 and indexes past the tables", () => {
  assertProtocolError(() => decodeOne(hex("80")), COMPRESSION_ERROR, 0, "0");
  assertProtocolError(() => decodeOne(hex("be")), COMPRESSION_ERROR, 0, "62");
  // A literal whose name index is past the tables.
  assertProtocolError(
    () => decodeOne(hex("7f00 0161")),
    COMPRESSION_ERROR,
    0,
    "past",
  );
  // Index 62 is fine once an entry exists.
  const decoder = new HpackDecoder();
  decoder.decode(hex("4003 782d 6101 31"), 1);
  assertEquals(decoder.decode(hex("be"), 3), [["x-a", "1"]]);
  assertProtocolError(() => decoder.decode(hex("bf"), 5), COMPRESSION_ERROR, 0);
});

Deno.test("HpackDecoder.decode() rejects a table size update above the advertised size", () => {
  // 4097 > 4096: 3f e2 1f.
  assertProtocolError(
    () => decodeOne(hex("3fe21f")),
    COMPRESSION_ERROR,
    0,
    "4097",
  );
  assertProtocolError(
    () => decodeOne(hex("3fe1 01"), { maxTableSize: 100 }),
    COMPRESSION_ERROR,
    0,
    "exceeds",
  );
  // Exactly the limit is fine.
  const decoder = new HpackDecoder({ maxTableSize: 100 });
  decoder.decode(hex("3f45"), 1);
  assertEquals(decoder.maxTableSize, 100);
});

Deno.test("HpackDecoder.decode() rejects a table size update after a field", () => {
  assertProtocolError(
    () => decodeOne(hex("8220")),
    COMPRESSION_ERROR,
    0,
    "after",
  );
  // Two updates at the start are fine (smallest, then final).
  const decoder = new HpackDecoder();
  assertEquals(decoder.decode(hex("20 3fe10f 82"), 1), [[":method", "GET"]]);
});

Deno.test("HpackDecoder.decode() rejects an integer that overflows", () => {
  // An index with five continuation octets.
  assertProtocolError(
    () => decodeOne(hex("ff ffffffff0f")),
    COMPRESSION_ERROR,
    0,
    "integer",
  );
  // A string length of about 2^32.
  assertProtocolError(
    () => decodeOne(hex("00 7f ffffffff0f")),
    COMPRESSION_ERROR,
    0,
  );
  // Four continuation octets still decode (index 2^28 is then past the table).
  assertProtocolError(
    () => decodeOne(hex("ff ffffff7f")),
    COMPRESSION_ERROR,
    0,
    "past",
  );
});

Deno.test("HpackDecoder.decode() rejects blocks that end inside a representation", () => {
  const cases: [string, string][] = [
    ["ff", "ends inside an integer"],
    ["ff80", "ends inside an integer"],
    ["40", "ends inside a representation"], // no name string
    ["41", "ends inside a representation"], // no value string
    ["4003 6162", "ends inside a string literal"],
    ["0003 616263 05", "ends inside a string literal"],
    ["41 85ff", "ends inside a string literal"],
  ];
  for (const [block, message] of cases) {
    assertProtocolError(
      () => decodeOne(hex(block)),
      COMPRESSION_ERROR,
      0,
      message,
    );
  }
});

Deno.test("HpackDecoder.decode() rejects a string literal over maxStringLength", () => {
  const block = hex("0003 616263 05 6162636465");
  assertEquals(decodeOne(block, { maxStringLength: 5 }), [["abc", "abcde"]]);
  assertProtocolError(
    () => decodeOne(block, { maxStringLength: 4 }),
    COMPRESSION_ERROR,
    0,
    "maxStringLength",
  );
});

Deno.test("HpackDecoder.decode() rejects Huffman strings with EOS or bad padding", () => {
  // Literal without indexing, name "a" raw, value Huffman-coded.
  assertProtocolError(
    () => decodeOne(hex("00 0161 84 ffff fffc")),
    COMPRESSION_ERROR,
    0,
    "EOS",
  );
  assertProtocolError(
    () => decodeOne(hex("00 0161 81 00")),
    COMPRESSION_ERROR,
    0,
    "padding",
  );
  assertProtocolError(
    () => decodeOne(hex("00 0161 82 1fff")),
    COMPRESSION_ERROR,
    0,
    "padding",
  );
  assertEquals(decodeOne(hex("00 0161 81 07")), [["a", "0"]]);
});

Deno.test("HpackDecoder.decode() stops building fields past maxHeaderListSize and throws a stream error", () => {
  const encoder = new HpackEncoder();
  const big = "v".repeat(100);
  const fields: [string, string][] = [];
  for (let i = 0; i < 10; i++) fields.push([`x-${i}`, big]);
  const block = encoder.encode(fields);
  const decoder = new HpackDecoder({ maxHeaderListSize: 500 });
  assertProtocolError(
    () => decoder.decode(block, 7),
    PROTOCOL_ERROR,
    7,
    "maxHeaderListSize",
  );
  // The table still took every indexed literal, so the next block, which
  // refers to them, decodes.
  assertEquals(decoder.dynamicTable(), encoder.dynamicTable());
  assertEquals(
    decoder.decode(encoder.encode([["x-9", big], ["x-0", big]]), 9),
    [["x-9", big], ["x-0", big]],
  );
});

Deno.test("HpackDecoder.decode() does not decode literals it will not keep once over maxHeaderListSize", () => {
  // The first field (34 octets) fits a 40-octet list, the second does not;
  // the third literal (not indexed) has a Huffman value with bad padding.
  // Only a decoder that still decoded it would report a COMPRESSION_ERROR.
  const block = hex("00 0161 0162 00 0163 0164 00 0165 81 00");
  assertProtocolError(
    () => decodeOne(block, { maxHeaderListSize: 40 }),
    PROTOCOL_ERROR,
    1,
  );
  assertProtocolError(() => decodeOne(block), COMPRESSION_ERROR, 0);
});

Deno.test("HpackDecoder.decode() still rejects bad indexes once over maxHeaderListSize", () => {
  // The first field overflows a 10-octet list; the index 0 and the index past
  // the table that follow are still connection errors.
  for (const tail of ["80", "bf", "0f30 0161"]) {
    assertProtocolError(
      () => decodeOne(hex(`00 0161 0162 ${tail}`), { maxHeaderListSize: 10 }),
      COMPRESSION_ERROR,
      0,
    );
  }
  assertProtocolError(
    () => decodeOne(hex("00 0161 0162 82"), { maxHeaderListSize: 10 }),
    PROTOCOL_ERROR,
    1,
  );
});

Deno.test("HpackDecoder.decode() bounds a list that repeats one large entry (an HPACK bomb)", () => {
  // One 3998-octet entry, then 1000 one-byte references to it: 4 MB of list.
  const head = literal(0x40, "x-bomb", "x".repeat(3960));
  const block = new Uint8Array(head.length + 1000);
  block.set(head);
  block.fill(0x80 | 62, head.length);
  assertProtocolError(
    () => decodeOne(block),
    PROTOCOL_ERROR,
    1,
    "maxHeaderListSize",
  );
});

Deno.test("HpackDecoder.decode() empties the table for an entry larger than the table", () => {
  const decoder = new HpackDecoder({ maxTableSize: 64 });
  decoder.decode(hex("4003 782d 6101 31"), 1); // x-a: 1, 36 octets
  assertEquals(decoder.tableSize, 36);
  const block = literal(0x40, "x-b", "y".repeat(40));
  assertEquals(decoder.decode(block, 3), [["x-b", "y".repeat(40)]]);
  assertEquals(decoder.dynamicTable(), []);
  assertEquals(decoder.tableSize, 0);
});

Deno.test("HpackDecoder and HpackEncoder check their options", () => {
  assertThrows(() => new HpackDecoder({ maxTableSize: -1 }), RangeError);
  assertThrows(() => new HpackDecoder({ maxHeaderListSize: 1.5 }), RangeError);
  assertThrows(
    // @ts-expect-error: a string where a number belongs
    () => new HpackDecoder({ maxStringLength: "10" }),
    TypeError,
  );
  const error = assertThrows(
    () => new HpackEncoder({ maxTableSize: NaN }),
    RangeError,
  );
  assertStringIncludes(error.message, "'maxTableSize' must be");
});
