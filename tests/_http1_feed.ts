// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A feeder that drives the HTTP/1.1 codec the way the connection does, over
 * input delivered in pieces, for the codec's example and property tests
 * (`http1_test.ts`, `http1_property_test.ts`).
 *
 * @module
 */

import { assert } from "@std/assert";
import { HttpParseError } from "../errors.ts";
import {
  ChunkedDecoder,
  DEFAULT_PARSER_LIMITS,
  parseResponseHead,
  type ParserLimits,
  type ResponseHead,
} from "../_http1.ts";

/** One response as the feeder saw it. */
export interface Parsed {
  /** Status codes of the 1xx heads skipped before the final one. */
  interim: number[];
  /** The final head, or `null` when it never completed. */
  head: ResponseHead | null;
  /** Body bytes, de-chunked. */
  body: number[];
  /** Whether the body ended (close-delimited bodies end at EOF). */
  complete: boolean;
  /** Offset just past this response in the input, or -1. */
  end: number;
}

/** What {@linkcode feed} made of its input. */
export interface FeedResult {
  /** Responses in order; an incomplete last one only when no error. */
  responses: Parsed[];
  /** Bytes consumed in total, or -1 after an error. */
  consumed: number;
  /** The parse error that ended the input, or `null`. */
  error: HttpParseError | null;
}

/** Options of {@linkcode feed}. */
export interface FeedOptions {
  /**
   * Request methods, one per expected response.
   * @default {["GET"]}
   */
  methods?: readonly string[];
  /**
   * Parser limits for the heads and the chunked decoder.
   * @default {DEFAULT_PARSER_LIMITS}
   */
  limits?: ParserLimits;
}

/** Latin-1 bytes of `s`: one byte per char. */
export function bytes(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

/** `result` with the error reduced to its name, for comparing two results. */
export function comparable(result: FeedResult): unknown {
  return { ...result, error: result.error?.name ?? null };
}

/**
 * Feeds `input` split at `cuts` (increasing offsets in `(0, length)`), then
 * EOF. Bytes past the received end are LF, so a parser that reads beyond
 * `end` gives itself away. Only an {@linkcode HttpParseError} is an expected
 * outcome; any other exception, a head or chunk that claims bytes it was not
 * given, or a loop that does not end, escapes.
 *
 * @param input The bytes the server sends.
 * @param cuts Where the input is split into reads.
 * @param options The request methods and parser limits.
 * @returns The responses parsed, the bytes consumed and the parse error.
 * @throws {Error} When the codec misbehaves (anything but a parse error).
 */
export function feed(
  input: Uint8Array,
  cuts: readonly number[],
  options: FeedOptions = {},
): FeedResult {
  const { methods = ["GET"], limits = DEFAULT_PARSER_LIMITS } = options;
  const buf = new Uint8Array(input.length + 8).fill(0x0a);
  const responses: Parsed[] = [];
  const maxSteps = 4 * (input.length + cuts.length) + 16;
  let steps = 0;
  let start = 0;
  let end = 0;
  let cur: Parsed | null = null;
  let decoder: ChunkedDecoder | null = null;
  let remaining = 0;

  const finish = (parsed: Parsed): void => {
    parsed.complete = true;
    parsed.end = start;
    responses.push(parsed);
    cur = null;
    decoder = null;
  };

  const process = (): void => {
    for (;;) {
      if (++steps > maxSteps) throw new Error("Feeding loop did not end");
      if (cur === null) {
        if (responses.length === methods.length || start === end) return;
        cur = { interim: [], head: null, body: [], complete: false, end: -1 };
      }
      const parsed: Parsed = cur;
      if (parsed.head === null) {
        if (start === end) return;
        const head = parseResponseHead(
          buf,
          start,
          end,
          methods[responses.length],
          limits,
        );
        if (head === null) return;
        assert(
          head.headLength > 0 && start + head.headLength <= end,
          `Bad headLength ${head.headLength}`,
        );
        start += head.headLength;
        if (head.status < 200) {
          parsed.interim.push(head.status);
          continue;
        }
        parsed.head = head;
        remaining = head.contentLength;
        if (head.framing === "chunked") decoder = new ChunkedDecoder(limits);
      }
      switch (parsed.head.framing) {
        case "none":
          finish(parsed);
          continue;
        case "length": {
          const n = Math.min(remaining, end - start);
          for (let i = 0; i < n; i++) parsed.body.push(buf[start + i]);
          start += n;
          remaining -= n;
          if (remaining > 0) return;
          finish(parsed);
          continue;
        }
        case "chunked": {
          const d: ChunkedDecoder = decoder!;
          if (d.done) {
            finish(parsed);
            continue;
          }
          if (start === end) return;
          const used = d.decode(buf, start, end);
          assert(
            used >= 0 && start + used <= end,
            `Bad consumed count ${used}`,
          );
          if (d.data !== null) parsed.body.push(...d.data);
          start += used;
          if (used === 0) return;
          continue;
        }
        case "close":
          for (let i = start; i < end; i++) parsed.body.push(buf[i]);
          start = end;
          return;
      }
    }
  };

  try {
    for (const cut of [...cuts, input.length]) {
      buf.set(input.subarray(end, cut), end);
      end = cut;
      process();
    }
    // EOF ends a close-delimited body; anything else is left incomplete.
    const last = cur as Parsed | null;
    if (last !== null) {
      if (last.head?.framing === "close") finish(last);
      else responses.push(last);
    }
    return { responses, consumed: start, error: null };
  } catch (error) {
    if (!(error instanceof HttpParseError)) throw error;
    return { responses, consumed: -1, error };
  }
}
