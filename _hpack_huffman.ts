// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The static Huffman code of HPACK (RFC 7541 §5.2, Appendix B): the table as
 * the RFC prints it, an encoder, and a decoder built from the table when the
 * module loads.
 *
 * The decoder is a finite-state machine that reads four bits at a time: its
 * states are the 256 inner nodes of the code tree, and one lookup per nibble
 * gives the next state and the symbol completed, if any (every code is at
 * least five bits long, so a nibble completes at most one). Decoding is two
 * table lookups per input byte, with no per-bit work and no allocation.
 *
 * @module
 */

/**
 * The code of each symbol (0-255, and 256 for EOS), right-aligned: the RFC's
 * "code as hex" column of Appendix B.
 */
// deno-fmt-ignore
export const HUFFMAN_CODES: Uint32Array = Uint32Array.of(
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7,
  0xfffffe8, 0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec,
  0xfffffed, 0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3,
  0xffffff4, 0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb,
  0x14, 0x3f8, 0x3f9, 0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa,
  0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18,
  0x0, 0x1, 0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d,
  0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc,
  0x1ffa, 0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62,
  0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a,
  0x6b, 0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72,
  0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26,
  0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7,
  0x2b, 0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78,
  0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd, 0xffffffc,
  0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9,
  0x3fffd6, 0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf,
  0xffffec, 0xffffed, 0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3,
  0x7fffe4, 0x1fffdc, 0x3fffd8, 0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef,
  0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc, 0x7fffe8, 0x7fffe9, 0x1fffde,
  0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf, 0x7fffeb, 0x7fffec,
  0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee, 0x7fffef,
  0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec,
  0x3ffffe2, 0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed,
  0x7fff2, 0x1fffe3, 0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2,
  0x1fffe4, 0x1fffe5, 0x3ffffe8, 0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5,
  0xfffec, 0xfffff3, 0xfffed, 0x1fffe6, 0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3,
  0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4, 0xfffff5, 0x3ffffea, 0x7ffff4,
  0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8, 0x7ffffe9, 0x7ffffea,
  0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0, 0x3ffffee,
  0x3fffffff,
);

/** The length in bits of each code: the RFC's "len" column of Appendix B. */
// deno-fmt-ignore
export const HUFFMAN_LENGTHS: Uint8Array = Uint8Array.of(
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
);

/** The end-of-string symbol, which a string literal must never contain. */
const EOS = 256;

/** {@linkcode huffmanDecode} found the EOS symbol in the string (§5.2). */
export const HUFFMAN_EOS: -1 = -1;
/**
 * {@linkcode huffmanDecode} found padding longer than 7 bits, or padding that
 * is not the most significant bits of EOS (all ones) (§5.2).
 */
export const HUFFMAN_BAD_PADDING: -2 = -2;

// A decoding table entry: bits 0-7 the symbol emitted, bits 8-15 the next
// state, then the flags.
const EMIT = 1 << 16;
const FAIL = 1 << 17;

/** Transitions: `DECODE[state << 4 | nibble]`. */
const DECODE = new Uint32Array(256 * 16);
/**
 * Whether decoding may stop in each state: the state is reached from the
 * root by at most seven 1 bits, a valid EOS-prefix padding.
 */
const ACCEPTING = new Uint8Array(256);

buildDecoder();

function buildDecoder(): void {
  // The code tree: children[node * 2 + bit] is an inner node id (1-255; 0 is
  // the root, which is no one's child, so 0 means "none yet") or LEAF | sym.
  const LEAF = 0x400;
  const children = new Int32Array(256 * 2);
  // Depth of a node whose path from the root is all 1 bits, else -1.
  const onesDepth = new Int8Array(256).fill(-1);
  onesDepth[0] = 0;
  let nodes = 1;
  for (let sym = 0; sym <= EOS; sym++) {
    const code = HUFFMAN_CODES[sym];
    const length = HUFFMAN_LENGTHS[sym];
    let node = 0;
    for (let i = length - 1; i > 0; i--) {
      const bit = (code >>> i) & 1;
      let next = children[node * 2 + bit];
      if (next === 0) {
        next = nodes++;
        children[node * 2 + bit] = next;
        onesDepth[next] = bit === 1 && onesDepth[node] >= 0
          ? onesDepth[node] + 1
          : -1;
      }
      node = next;
    }
    children[node * 2 + (code & 1)] = LEAF | sym;
  }
  if (nodes !== 256) throw new Error("HPACK Huffman table is not a full code");
  for (let state = 0; state < 256; state++) {
    ACCEPTING[state] = onesDepth[state] >= 0 && onesDepth[state] <= 7 ? 1 : 0;
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state;
      let entry = 0;
      for (let i = 3; i >= 0; i--) {
        const child = children[node * 2 + ((nibble >>> i) & 1)];
        if ((child & LEAF) === 0) {
          node = child;
        } else if ((child & 0x3ff) === EOS) {
          entry = FAIL;
          break;
        } else {
          entry = EMIT | (child & 0xff);
          node = 0;
        }
      }
      DECODE[(state << 4) | nibble] = entry | (node << 8);
    }
  }
}

/**
 * The most bytes `length` Huffman-coded bytes can decode to: the shortest
 * code is 5 bits.
 */
export function huffmanMaxDecodedLength(length: number): number {
  return Math.floor((length * 8) / 5);
}

/**
 * Decodes the Huffman-coded bytes `src[start:end]` into `out`, from index 0.
 * `out` must hold {@linkcode huffmanMaxDecodedLength} bytes.
 *
 * @returns The number of bytes decoded, or {@linkcode HUFFMAN_EOS} or
 * {@linkcode HUFFMAN_BAD_PADDING}.
 */
export function huffmanDecode(
  src: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
): number {
  let state = 0;
  let n = 0;
  for (let i = start; i < end; i++) {
    const byte = src[i];
    let entry = DECODE[(state << 4) | (byte >>> 4)];
    if ((entry & FAIL) !== 0) return HUFFMAN_EOS;
    if ((entry & EMIT) !== 0) out[n++] = entry;
    state = (entry >>> 8) & 0xff;
    entry = DECODE[(state << 4) | (byte & 0xf)];
    if ((entry & FAIL) !== 0) return HUFFMAN_EOS;
    if ((entry & EMIT) !== 0) out[n++] = entry;
    state = (entry >>> 8) & 0xff;
  }
  return ACCEPTING[state] === 1 ? n : HUFFMAN_BAD_PADDING;
}

/**
 * The length in bytes of the Huffman coding of `s`, a byte string (every
 * char code at most 0xff; the caller checks).
 */
export function huffmanEncodedLength(s: string): number {
  let bits = 0;
  for (let i = 0; i < s.length; i++) bits += HUFFMAN_LENGTHS[s.charCodeAt(i)];
  return (bits + 7) >>> 3;
}

/**
 * Writes the Huffman coding of `s`, a byte string, into `out` at `pos`,
 * padded with the most significant bits of EOS. `out` must have room for
 * {@linkcode huffmanEncodedLength} bytes.
 *
 * @returns The index just past the last byte written.
 */
export function huffmanEncode(s: string, out: Uint8Array, pos: number): number {
  // `acc` holds the `bits` (< 8) bits not yet written; adding a code of at
  // most 24 bits keeps it within 31 bits, so longer codes go in two parts.
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let code = HUFFMAN_CODES[c];
    let length = HUFFMAN_LENGTHS[c];
    if (length > 24) {
      const high = length - 16;
      acc = (acc << high) | (code >>> 16);
      bits += high;
      while (bits >= 8) {
        bits -= 8;
        out[pos++] = acc >>> bits;
      }
      acc &= (1 << bits) - 1;
      code &= 0xffff;
      length = 16;
    }
    acc = (acc << length) | code;
    bits += length;
    while (bits >= 8) {
      bits -= 8;
      out[pos++] = acc >>> bits;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out[pos++] = (acc << (8 - bits)) | (0xff >>> bits);
  return pos;
}
