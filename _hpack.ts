// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * HPACK, the field compression of HTTP/2 (RFC 7541): a decoder for the header
 * blocks a server sends and an encoder for the ones we send, each with its
 * dynamic table. No I/O; HEADERS frames (`_http2_frames.ts`,
 * `_http2_decoder.ts`) carry the blocks. The static table is in
 * `_hpack_table.ts`, the Huffman code in `_hpack_huffman.ts`.
 *
 * Strings are byte strings: each octet is one char (0-255), as header values
 * are in the Fetch standard, so table sizes count chars.
 *
 * An HPACK error is always a connection error (COMPRESSION_ERROR): once a
 * block is lost the two dynamic tables disagree. The one exception is a
 * header list over the decoder's `maxHeaderListSize`: the block is still
 * read to the end to keep the table in step, but no more fields are built,
 * and the result is a stream error.
 *
 * @example Round-trip a request's fields
 * ```ts ignore
 * const encoder = new HpackEncoder();
 * const decoder = new HpackDecoder();
 * const block = encoder.encode([[":method", "GET"], [":path", "/"]]);
 * decoder.decode(block, 1); // [[":method", "GET"], [":path", "/"]]
 * ```
 *
 * @module
 */

import { Http2ProtocolError } from "./errors.ts";
import {
  HUFFMAN_EOS,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
  huffmanMaxDecodedLength,
} from "./_hpack_huffman.ts";
import {
  ENTRY_OVERHEAD,
  INITIAL_TABLE_SIZE,
  STATIC_LENGTH,
  STATIC_TABLE,
} from "./_hpack_table.ts";

const PROTOCOL_ERROR = 0x1;
const COMPRESSION_ERROR = 0x9;

function compressionError(message: string): Http2ProtocolError {
  return new Http2ProtocolError(message, COMPRESSION_ERROR, 0);
}

/** Decodes bytes as ISO-8859-1, one char per byte, without per-byte concatenation. */
function latin1(bytes: Uint8Array, start: number, end: number): string {
  switch (end - start) {
    case 0:
      return "";
    case 1:
      return String.fromCharCode(bytes[start]);
    case 2:
      return String.fromCharCode(bytes[start], bytes[start + 1]);
  }
  if (end - start <= 8192) {
    return String.fromCharCode.apply(
      null,
      bytes.subarray(start, end) as unknown as number[],
    );
  }
  let out = "";
  for (let i = start; i < end; i += 8192) {
    out += String.fromCharCode.apply(
      null,
      bytes.subarray(i, Math.min(end, i + 8192)) as unknown as number[],
    );
  }
  return out;
}

function checkOption(
  owner: string,
  name: string,
  value: number,
  max: number,
): void {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot create ${owner} as '${name}' must be a number: current value is ${value}`,
    );
  }
  if (!(value >= 0 && value <= max && Math.floor(value) === value)) {
    throw new RangeError(
      `Cannot create ${owner} as '${name}' must be an integer from 0 to ${max}: current value is ${value}`,
    );
  }
}

// The largest integer the decoder accepts: a prefix and four continuation
// octets (RFC 7541 §5.1 lets a decoder limit both value and length).
const MAX_INTEGER_SHIFT = 21;
/** Upper bound of table sizes and other size options. */
const MAX_SIZE_OPTION = 2 ** 28;

// ---------------------------------------------------------------------------
// Decoder

/** Limits of {@linkcode HpackDecoder}; every one has a safe default. */
export interface HpackDecoderOptions {
  /**
   * The SETTINGS_HEADER_TABLE_SIZE we advertise: the largest dynamic table,
   * in octets, the server may ask for (RFC 7541 §4.2). A size update above
   * it is a COMPRESSION_ERROR. Values other than 4096 must be in the SETTINGS
   * of the connection preface, so that the server's first block starts with
   * a size update.
   *
   * @default {4096}
   */
  maxTableSize?: number;
  /**
   * The largest header list, in octets: names and values plus 32 per field
   * (RFC 9113 §6.5.2, SETTINGS_MAX_HEADER_LIST_SIZE). Past it, no more
   * fields are built; the block is read to its end for the table's sake,
   * then {@linkcode HpackDecoder.decode} throws a stream error.
   *
   * @default {65536}
   */
  maxHeaderListSize?: number;
  /**
   * The longest string literal, in octets as sent (Huffman-coded or not).
   * Longer is a COMPRESSION_ERROR.
   *
   * @default {65536}
   */
  maxStringLength?: number;
}

/**
 * Decodes HPACK header blocks (RFC 7541 §3), one per HEADERS frame, in the
 * order they arrive on the connection.
 */
export class HpackDecoder {
  #limit: number;
  #maxListSize: number;
  #maxStringLength: number;
  // The dynamic table: a ring of entries, newest at #head - 1.
  #names: string[] = [];
  #values: string[] = [];
  #mask = -1;
  #head = 0;
  #count = 0;
  #size = 0;
  #maxSize: number;
  // Where decode() is in the current block.
  #pos = 0;
  #scratch = new Uint8Array(256);

  /**
   * Creates a decoder with an empty dynamic table.
   *
   * @throws {TypeError | RangeError} An option is not a number, or is out of
   * range.
   */
  constructor(options: HpackDecoderOptions = {}) {
    const {
      maxTableSize = INITIAL_TABLE_SIZE,
      maxHeaderListSize = 64 * 1024,
      maxStringLength = 64 * 1024,
    } = options;
    const owner = "HPACK decoder";
    checkOption(owner, "maxTableSize", maxTableSize, MAX_SIZE_OPTION);
    checkOption(owner, "maxHeaderListSize", maxHeaderListSize, 2 ** 32);
    checkOption(owner, "maxStringLength", maxStringLength, MAX_SIZE_OPTION);
    this.#limit = maxTableSize;
    this.#maxSize = maxTableSize;
    this.#maxListSize = maxHeaderListSize;
    this.#maxStringLength = maxStringLength;
  }

  /** The dynamic table's size in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.#size;
  }

  /** The dynamic table's current maximum size, as the server last set it. */
  get maxTableSize(): number {
    return this.#maxSize;
  }

  /** The dynamic table's entries, newest first (for tests and debugging). */
  dynamicTable(): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i < this.#count; i++) {
      const at = (this.#head - 1 - i) & this.#mask;
      out.push([this.#names[at], this.#values[at]]);
    }
    return out;
  }

  /**
   * Decodes one complete header block.
   *
   * @param block The header block, e.g. {@linkcode HeadersFrame.headerBlock}.
   * @param streamId The stream it belongs to, for a stream error.
   * @returns The fields, `[name, value]` in order.
   * @throws {Http2ProtocolError} A connection error (COMPRESSION_ERROR) for a
   * malformed block; a stream error (PROTOCOL_ERROR) on `streamId` for a
   * header list over `maxHeaderListSize`, after the table was updated.
   */
  decode(block: Uint8Array, streamId: number): [string, string][] {
    const end = block.length;
    const fields: [string, string][] = [];
    let listSize = 0;
    let overflow = false;
    this.#pos = 0;
    // Dynamic table size updates come first in a block (§4.2).
    while (this.#pos < end && (block[this.#pos] & 0xe0) === 0x20) {
      const size = this.#integer(block, 0x1f);
      if (size > this.#limit) {
        throw compressionError(
          `HPACK dynamic table size update to ${size} exceeds the advertised SETTINGS_HEADER_TABLE_SIZE (${this.#limit}) (RFC 7541 §6.3)`,
        );
      }
      this.#maxSize = size;
      this.#evict(0);
    }
    while (this.#pos < end) {
      const first = block[this.#pos];
      let name: string;
      let value: string;
      if (first & 0x80) {
        // Indexed field (§6.1).
        const index = this.#integer(block, 0x7f);
        if (overflow) {
          this.#checkIndex(index);
          continue;
        }
        if (index <= STATIC_LENGTH) {
          if (index === 0) {
            throw compressionError("HPACK index 0 (RFC 7541 §6.1)");
          }
          const entry = STATIC_TABLE[index - 1];
          name = entry[0];
          value = entry[1];
        } else {
          const at = this.#dynamicPosition(index);
          name = this.#names[at];
          value = this.#values[at];
        }
      } else if (first & 0x40) {
        // Literal with incremental indexing (§6.2.1): always decoded, since
        // the table needs it.
        name = this.#name(block, 0x3f);
        value = this.#string(block);
        this.#insert(name, value);
        if (overflow) continue;
      } else if (first & 0x20) {
        throw compressionError(
          "HPACK dynamic table size update after a field representation (RFC 7541 §4.2)",
        );
      } else {
        // Literal without indexing or never indexed (§6.2.2, §6.2.3).
        if (overflow) {
          const index = this.#integer(block, 0x0f);
          if (index === 0) this.#skipString(block);
          else this.#checkIndex(index);
          this.#skipString(block);
          continue;
        }
        name = this.#name(block, 0x0f);
        value = this.#string(block);
      }
      listSize += name.length + value.length + ENTRY_OVERHEAD;
      if (listSize > this.#maxListSize) {
        overflow = true;
        continue;
      }
      fields.push([name, value]);
    }
    if (overflow) {
      throw new Http2ProtocolError(
        `Header list exceeds maxHeaderListSize (${this.#maxListSize} bytes) (RFC 9113 §6.5.2)`,
        PROTOCOL_ERROR,
        streamId,
      );
    }
    return fields;
  }

  /** Reads an integer with an N-bit prefix, `mask` = 2^N - 1 (§5.1). */
  #integer(block: Uint8Array, mask: number): number {
    let pos = this.#pos;
    if (pos >= block.length) {
      throw compressionError("HPACK block ends inside a representation");
    }
    let value = block[pos++] & mask;
    if (value === mask) {
      let shift = 0;
      let byte: number;
      do {
        if (pos >= block.length) {
          throw compressionError("HPACK block ends inside an integer");
        }
        if (shift > MAX_INTEGER_SHIFT) {
          throw compressionError(
            "HPACK integer is longer than this decoder accepts (RFC 7541 §5.1)",
          );
        }
        byte = block[pos++];
        value += (byte & 0x7f) << shift;
        shift += 7;
      } while (byte & 0x80);
    }
    this.#pos = pos;
    return value;
  }

  /** Reads a field name: an index with the given prefix, or a literal. */
  #name(block: Uint8Array, mask: number): string {
    const index = this.#integer(block, mask);
    if (index === 0) return this.#string(block);
    if (index <= STATIC_LENGTH) return STATIC_TABLE[index - 1][0];
    return this.#names[this.#dynamicPosition(index)];
  }

  /** Reads a string literal (§5.2). */
  #string(block: Uint8Array): string {
    const huffman = (block[this.#pos] & 0x80) !== 0;
    const length = this.#stringLength(block);
    const start = this.#pos;
    this.#pos += length;
    if (!huffman) return latin1(block, start, start + length);
    const needed = huffmanMaxDecodedLength(length);
    if (needed > this.#scratch.length) {
      this.#scratch = new Uint8Array(
        Math.max(needed, this.#scratch.length * 2),
      );
    }
    const n = huffmanDecode(block, start, start + length, this.#scratch);
    if (n < 0) {
      throw compressionError(
        n === HUFFMAN_EOS
          ? "HPACK Huffman string contains EOS (RFC 7541 §5.2)"
          : "HPACK Huffman string has padding that is over 7 bits or not all ones (RFC 7541 §5.2)",
      );
    }
    return latin1(this.#scratch, 0, n);
  }

  #skipString(block: Uint8Array): void {
    // Not `this.#pos += ...`: that would read #pos before the length.
    const length = this.#stringLength(block);
    this.#pos += length;
  }

  #stringLength(block: Uint8Array): number {
    const length = this.#integer(block, 0x7f);
    if (length > this.#maxStringLength) {
      throw compressionError(
        `HPACK string literal of ${length} bytes exceeds maxStringLength (${this.#maxStringLength})`,
      );
    }
    if (this.#pos + length > block.length) {
      throw compressionError("HPACK block ends inside a string literal");
    }
    return length;
  }

  #checkIndex(index: number): void {
    if (index === 0) throw compressionError("HPACK index 0 (RFC 7541 §6.1)");
    if (index > STATIC_LENGTH) this.#dynamicPosition(index);
  }

  /** The ring position of dynamic table index `index` (62 = newest). */
  #dynamicPosition(index: number): number {
    const offset = index - STATIC_LENGTH - 1;
    if (offset >= this.#count) {
      throw compressionError(
        `HPACK index ${index} is past the static and dynamic tables (${
          STATIC_LENGTH + this.#count
        } entries) (RFC 7541 §2.3.3)`,
      );
    }
    return (this.#head - 1 - offset) & this.#mask;
  }

  /** Adds an entry, evicting the oldest as needed (§4.4). */
  #insert(name: string, value: string): void {
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (size > this.#maxSize) {
      this.#evict(this.#maxSize); // empties the table
      return;
    }
    this.#evict(size);
    if (this.#count === this.#names.length) this.#grow();
    this.#names[this.#head] = name;
    this.#values[this.#head] = value;
    this.#head = (this.#head + 1) & this.#mask;
    this.#count++;
    this.#size += size;
  }

  /** Evicts the oldest entries until `room` more octets fit (§4.3, §4.4). */
  #evict(room: number): void {
    while (this.#count > 0 && this.#size + room > this.#maxSize) {
      const at = (this.#head - this.#count) & this.#mask;
      this.#size -= this.#names[at].length + this.#values[at].length +
        ENTRY_OVERHEAD;
      this.#names[at] = "";
      this.#values[at] = "";
      this.#count--;
    }
  }

  #grow(): void {
    const capacity = Math.max(16, this.#names.length * 2);
    const names: string[] = new Array(capacity).fill("");
    const values: string[] = new Array(capacity).fill("");
    // Oldest first, so that the ring starts at 0.
    for (let i = 0; i < this.#count; i++) {
      const at = (this.#head - this.#count + i) & this.#mask;
      names[i] = this.#names[at];
      values[i] = this.#values[at];
    }
    this.#names = names;
    this.#values = values;
    this.#mask = capacity - 1;
    this.#head = this.#count & this.#mask;
  }
}

// ---------------------------------------------------------------------------
// Encoder

/** How the encoder represents fields of a name (RFC 7541 §6.2). */
const enum Indexing {
  /** Add to the dynamic table when small enough. */
  Index,
  /** A literal without indexing: values that rarely repeat. */
  None,
  /** A never-indexed literal (§6.2.3, §7.1.3): credentials. */
  Never,
}

interface StaticName {
  /** The first static index with this name. */
  index: number;
  /** Static indexes of the name with each value, by value. */
  values: Map<string, number>;
  indexing: Indexing;
}

/** Names whose values are secrets: never indexed, by us or by proxies. */
const NEVER_INDEXED = new Set([
  "authorization",
  "cookie",
  "proxy-authorization",
]);
/** Names whose values seldom repeat: indexing them would only churn the table. */
const NOT_INDEXED = new Set([
  ":path",
  "age",
  "content-length",
  "date",
  "etag",
  "expires",
  "if-match",
  "if-modified-since",
  "if-none-match",
  "if-range",
  "if-unmodified-since",
  "last-modified",
  "location",
  "range",
  "set-cookie",
]);

const STATIC_NAMES = new Map<string, StaticName>();
for (let i = 0; i < STATIC_LENGTH; i++) {
  const [name, value] = STATIC_TABLE[i];
  let entry = STATIC_NAMES.get(name);
  if (entry === undefined) {
    entry = {
      index: i + 1,
      values: new Map(),
      indexing: NEVER_INDEXED.has(name)
        ? Indexing.Never
        : NOT_INDEXED.has(name)
        ? Indexing.None
        : Indexing.Index,
    };
    STATIC_NAMES.set(name, entry);
  }
  // Name-only entries match an empty value exactly, too.
  if (!entry.values.has(value)) entry.values.set(value, i + 1);
}

const NON_BYTE = /[^\0-\xff]/;

/** Options of {@linkcode HpackEncoder}. */
export interface HpackEncoderOptions {
  /**
   * The most octets of dynamic table the encoder uses, whatever the server
   * allows; the server's SETTINGS_HEADER_TABLE_SIZE (see
   * {@linkcode HpackEncoder.setPeerMaxTableSize}) can only lower it. 0 turns
   * indexing off.
   *
   * @default {4096}
   */
  maxTableSize?: number;
  /**
   * Whether to Huffman-code string literals where that makes them shorter.
   *
   * @default {true}
   */
  huffman?: boolean;
}

/**
 * Encodes field lists into HPACK header blocks (RFC 7541). Exact matches in
 * the static table are indexed; other fields are added to the dynamic table
 * (so a repeated `:authority` or `user-agent` costs a byte or two), except
 * credentials (`authorization`, `cookie`, `proxy-authorization`), which are
 * never-indexed literals, values that seldom repeat (`:path`,
 * `content-length`, dates, validators), and fields larger than 3/4 of the
 * table.
 *
 * Blocks must be sent in the order they were encoded, on one connection.
 */
export class HpackEncoder {
  #cap: number;
  #huffman: boolean;
  // The table size the server's decoder knows (the last size update sent, or
  // the initial 4096), the size we want, and the smallest wanted since the
  // last block (§4.2).
  #maxSize = INITIAL_TABLE_SIZE;
  #target: number;
  #pendingMin: number;
  // The dynamic table: entry k (k-th inserted, from 0) is at k & #mask.
  #names: string[] = [];
  #values: string[] = [];
  #mask = -1;
  #inserted = 0;
  #count = 0;
  #size = 0;
  /** name -> value -> insertion number, for exact matches. */
  #exact = new Map<string, Map<string, number>>();
  /** name -> insertion number of its newest entry. */
  #byName = new Map<string, number>();
  #buf = new Uint8Array(512);
  #pos = 0;

  /**
   * Creates an encoder with an empty dynamic table.
   *
   * @throws {TypeError | RangeError} `maxTableSize` is not a number, or is
   * out of range.
   */
  constructor(options: HpackEncoderOptions = {}) {
    const { maxTableSize = INITIAL_TABLE_SIZE, huffman = true } = options;
    checkOption("HPACK encoder", "maxTableSize", maxTableSize, MAX_SIZE_OPTION);
    this.#cap = maxTableSize;
    this.#huffman = huffman;
    this.#target = Math.min(INITIAL_TABLE_SIZE, maxTableSize);
    this.#pendingMin = this.#target;
  }

  /** The dynamic table's size in octets (RFC 7541 §4.1). */
  get tableSize(): number {
    return this.#size;
  }

  /** The dynamic table's maximum size, as last signalled to the server. */
  get maxTableSize(): number {
    return this.#maxSize;
  }

  /** The dynamic table's entries, newest first (for tests and debugging). */
  dynamicTable(): [string, string][] {
    const out: [string, string][] = [];
    for (let k = this.#inserted - 1; k >= this.#inserted - this.#count; k--) {
      out.push([this.#names[k & this.#mask], this.#values[k & this.#mask]]);
    }
    return out;
  }

  /**
   * Takes the server's SETTINGS_HEADER_TABLE_SIZE. The next block starts with
   * the dynamic table size updates it calls for (RFC 7541 §4.2, §6.3).
   *
   * @throws {RangeError} `size` is not a 32-bit unsigned integer.
   */
  setPeerMaxTableSize(size: number): void {
    if (!(size >= 0 && size <= 0xffffffff && Math.floor(size) === size)) {
      throw new RangeError(
        `Cannot set the HPACK table size as 'size' must be an integer from 0 to ${0xffffffff}: current value is ${size}`,
      );
    }
    this.#target = Math.min(size, this.#cap);
    if (this.#target < this.#pendingMin) this.#pendingMin = this.#target;
  }

  /**
   * Encodes a field list as one header block.
   *
   * @param fields `[name, value]` pairs, names in lower case (see
   * {@linkcode buildRequestFields}).
   * @returns The block: a view of the encoder's own buffer, valid until the
   * next call. Hand it to {@linkcode encodeHeaders} (which copies it into
   * the frames) before encoding another; this saves an allocation per block.
   * @throws {TypeError} A name or value has a character above 0xFF; the
   * encoder's state is unchanged.
   */
  encode(fields: readonly (readonly [string, string])[]): Uint8Array {
    // Check first: a failure half-way would leave the tables out of step.
    for (const [name, value] of fields) {
      if (NON_BYTE.test(name) || NON_BYTE.test(value)) {
        throw new TypeError(
          `Cannot encode header ${
            JSON.stringify(name)
          } as it has a character above 0xFF`,
        );
      }
    }
    this.#pos = 0;
    if (this.#pendingMin < this.#maxSize) {
      this.#sizeUpdate(this.#pendingMin);
    }
    if (this.#target !== this.#maxSize) this.#sizeUpdate(this.#target);
    this.#pendingMin = this.#target;
    for (const [name, value] of fields) this.#field(name, value);
    return this.#buf.subarray(0, this.#pos);
  }

  #field(name: string, value: string): void {
    this.#reserve(name.length + value.length + 16);
    const known = STATIC_NAMES.get(name);
    let nameIndex = 0;
    let indexing = Indexing.Index;
    if (known !== undefined) {
      const index = known.values.get(value);
      if (index !== undefined) {
        this.#integer(index, 0x7f, 0x80);
        return;
      }
      nameIndex = known.index;
      indexing = known.indexing;
    }
    if (indexing === Indexing.Never) {
      this.#literal(0x10, 0x0f, nameIndex, name, value);
      return;
    }
    const inserted = this.#exact.get(name)?.get(value);
    if (inserted !== undefined) {
      this.#integer(this.#dynamicIndex(inserted), 0x7f, 0x80);
      return;
    }
    if (nameIndex === 0) {
      const newest = this.#byName.get(name);
      if (newest !== undefined) nameIndex = this.#dynamicIndex(newest);
    }
    const size = name.length + value.length + ENTRY_OVERHEAD;
    if (indexing === Indexing.Index && size * 4 <= this.#maxSize * 3) {
      this.#literal(0x40, 0x3f, nameIndex, name, value);
      this.#insert(name, value, size);
    } else {
      this.#literal(0x00, 0x0f, nameIndex, name, value);
    }
  }

  #dynamicIndex(inserted: number): number {
    return STATIC_LENGTH + this.#inserted - inserted;
  }

  #literal(
    pattern: number,
    mask: number,
    nameIndex: number,
    name: string,
    value: string,
  ): void {
    this.#integer(nameIndex, mask, pattern);
    if (nameIndex === 0) this.#string(name);
    this.#string(value);
  }

  #sizeUpdate(size: number): void {
    this.#reserve(8);
    this.#integer(size, 0x1f, 0x20);
    this.#maxSize = size;
    this.#evict(0);
  }

  /** Writes an integer with an N-bit prefix, `mask` = 2^N - 1 (§5.1). */
  #integer(value: number, mask: number, pattern: number): void {
    const buf = this.#buf;
    if (value < mask) {
      buf[this.#pos++] = pattern | value;
      return;
    }
    buf[this.#pos++] = pattern | mask;
    value -= mask;
    while (value >= 0x80) {
      buf[this.#pos++] = (value & 0x7f) | 0x80;
      value = Math.floor(value / 128);
    }
    buf[this.#pos++] = value;
  }

  /** Writes a string literal, Huffman-coded when that is shorter (§5.2). */
  #string(s: string): void {
    if (this.#huffman && s.length > 0) {
      const length = huffmanEncodedLength(s);
      if (length < s.length) {
        this.#integer(length, 0x7f, 0x80);
        this.#pos = huffmanEncode(s, this.#buf, this.#pos);
        return;
      }
    }
    this.#integer(s.length, 0x7f, 0);
    const buf = this.#buf;
    let pos = this.#pos;
    for (let i = 0; i < s.length; i++) buf[pos++] = s.charCodeAt(i);
    this.#pos = pos;
  }

  #reserve(bytes: number): void {
    if (this.#pos + bytes <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + bytes) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
  }

  #insert(name: string, value: string, size: number): void {
    this.#evict(size);
    if (this.#count === this.#names.length) this.#grow();
    const k = this.#inserted++;
    this.#names[k & this.#mask] = name;
    this.#values[k & this.#mask] = value;
    this.#count++;
    this.#size += size;
    let values = this.#exact.get(name);
    if (values === undefined) {
      values = new Map();
      this.#exact.set(name, values);
    }
    values.set(value, k);
    this.#byName.set(name, k);
  }

  /** Evicts the oldest entries until `room` more octets fit (§4.3, §4.4). */
  #evict(room: number): void {
    while (this.#count > 0 && this.#size + room > this.#maxSize) {
      const k = this.#inserted - this.#count;
      const name = this.#names[k & this.#mask];
      const value = this.#values[k & this.#mask];
      this.#names[k & this.#mask] = "";
      this.#values[k & this.#mask] = "";
      this.#size -= name.length + value.length + ENTRY_OVERHEAD;
      this.#count--;
      if (this.#byName.get(name) === k) this.#byName.delete(name);
      const values = this.#exact.get(name);
      if (values !== undefined && values.get(value) === k) {
        values.delete(value);
        if (values.size === 0) this.#exact.delete(name);
      }
    }
  }

  #grow(): void {
    const capacity = Math.max(16, this.#names.length * 2);
    const mask = capacity - 1;
    const names: string[] = new Array(capacity).fill("");
    const values: string[] = new Array(capacity).fill("");
    for (let k = this.#inserted - this.#count; k < this.#inserted; k++) {
      names[k & mask] = this.#names[k & this.#mask];
      values[k & mask] = this.#values[k & this.#mask];
    }
    this.#names = names;
    this.#values = values;
    this.#mask = mask;
  }
}
