// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The tables HPACK indexes into (RFC 7541 §2.3): the static table as
 * Appendix A prints it, and the sizes both dynamic tables are counted in
 * (§4.1). The dynamic tables themselves live in the decoder and the encoder
 * (`_hpack.ts`), each shaped for its own lookups.
 *
 * Index 1 is `STATIC_TABLE[0]`; dynamic entries follow from
 * `STATIC_LENGTH + 1`, newest first (§2.3.3).
 *
 * @module
 */

/** Octets added to each entry's name and value length (RFC 7541 §4.1). */
export const ENTRY_OVERHEAD = 32;
/** The initial dynamic table size of both ends (RFC 9113 §6.5.2). */
export const INITIAL_TABLE_SIZE = 4096;

/** The static table (RFC 7541 Appendix A); index 1 is `STATIC_TABLE[0]`. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];
/** Entries in the static table: the first dynamic index is one more. */
export const STATIC_LENGTH = 61;
