// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Decodes the HTTP/2 frames a server sends to a client (RFC 9113 §4, §6). It
 * does no I/O: {@linkcode FrameDecoder} takes the bytes read, split however
 * the network split them, and says how many it used.
 *
 * The decoder checks everything RFC 9113 asks of a receiver that can be
 * checked without stream state: frame sizes, stream identifiers, fixed
 * payload lengths, padding, setting values, and the HEADERS + CONTINUATION
 * sequence, which it joins into one header block. Stream states, flow-control
 * windows and HPACK (`_hpack.ts`) are the session's. A violation is an
 * {@linkcode Http2ProtocolError}: a connection error when its `streamId` is 0,
 * else a stream error, after which decoding can go on.
 *
 * DATA payloads are views of the caller's buffer, never copies, valid until
 * the caller reuses those bytes.
 *
 * @example Decode the frames in a read buffer
 * ```ts ignore
 * const decoder = new FrameDecoder();
 * let pos = 0;
 * while (true) {
 *   let frame;
 *   try {
 *     frame = decoder.decode(buf, pos, end);
 *   } catch (error) {
 *     pos += decoder.consumed;
 *     if (error instanceof Http2ProtocolError && error.streamId !== 0) {
 *       resetStream(error.streamId, error.code); // stream error: go on
 *       continue;
 *     }
 *     throw error; // connection error: GOAWAY and close
 *   }
 *   pos += decoder.consumed;
 *   if (frame === null) break; // keep buf[pos:end], read more
 *   handle(frame);
 * }
 * ```
 *
 * @module
 */

import { Http2ProtocolError } from "./errors.ts";
import {
  connectionError,
  ErrorCode,
  Flag,
  FRAME_HEADER_LENGTH,
  FrameType,
  type Http2Settings,
  MAX_MAX_FRAME_SIZE,
  MAX_WINDOW_SIZE,
  MIN_MAX_FRAME_SIZE,
} from "./_http2_frames.ts";

// Local names for the constants the hot paths test.
const {
  DATA,
  HEADERS,
  PRIORITY,
  RST_STREAM,
  SETTINGS,
  PUSH_PROMISE,
  PING,
  GOAWAY,
  WINDOW_UPDATE,
  CONTINUATION,
} = FrameType;
const { END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY: PRIORITY_FLAG } = Flag;
const {
  PROTOCOL_ERROR,
  FLOW_CONTROL_ERROR,
  FRAME_SIZE_ERROR,
  ENHANCE_YOUR_CALM,
} = ErrorCode;

function readUint32(buf: Uint8Array, offset: number): number {
  return ((buf[offset] << 24) | (buf[offset + 1] << 16) |
    (buf[offset + 2] << 8) | buf[offset + 3]) >>> 0;
}

/** Reads a 31-bit value, ignoring the reserved high bit. */
function readUint31(buf: Uint8Array, offset: number): number {
  return ((buf[offset] & 0x7f) << 24) | (buf[offset + 1] << 16) |
    (buf[offset + 2] << 8) | buf[offset + 3];
}

/** A DATA frame (RFC 9113 §6.1). */
export interface DataFrame {
  /** {@linkcode FrameType.DATA}. */
  type: typeof FrameType.DATA;
  /** The frame's flags, as received. */
  flags: number;
  /** The stream, never 0. */
  streamId: number;
  /** Whether the END_STREAM flag is set. */
  endStream: boolean;
  /**
   * The data, padding removed: a view of the buffer passed to
   * {@linkcode FrameDecoder.decode}, valid until those bytes are reused.
   */
  data: Uint8Array;
  /**
   * The whole payload length, padding included: what the frame counts
   * against the flow-control windows (§6.9.1).
   */
  length: number;
}

/**
 * A complete header block: a HEADERS frame and the CONTINUATION frames that
 * followed it, joined (RFC 9113 §4.3). Its `flags` include END_HEADERS.
 */
export interface HeadersFrame {
  /** {@linkcode FrameType.HEADERS}. */
  type: typeof FrameType.HEADERS;
  /** The HEADERS frame's flags, with END_HEADERS. */
  flags: number;
  /** The stream, never 0. */
  streamId: number;
  /** Whether the END_STREAM flag of the HEADERS frame is set. */
  endStream: boolean;
  /**
   * The HPACK-encoded header block, padding and priority fields removed. A
   * view of the caller's buffer, or of the decoder's own when the block came
   * in several frames; valid until the next call to
   * {@linkcode FrameDecoder.decode} and until the caller reuses its bytes.
   */
  headerBlock: Uint8Array;
}

/** A RST_STREAM frame (RFC 9113 §6.4). */
export interface RstStreamFrame {
  /** {@linkcode FrameType.RST_STREAM}. */
  type: typeof FrameType.RST_STREAM;
  /** The frame's flags, as received (none are defined). */
  flags: number;
  /** The stream, never 0. */
  streamId: number;
  /** Why the stream was reset: an {@linkcode ErrorCode}, or an unknown code. */
  errorCode: number;
}

/** A SETTINGS frame (RFC 9113 §6.5). */
export interface SettingsFrame {
  /** {@linkcode FrameType.SETTINGS}. */
  type: typeof FrameType.SETTINGS;
  /** The frame's flags, as received. */
  flags: number;
  /** Always 0. */
  streamId: number;
  /** Whether this acknowledges our SETTINGS (and then carries none). */
  ack: boolean;
  /**
   * The settings the frame carries, already checked against §6.5.2. When a
   * setting appears twice, the last value is kept (they apply in order);
   * unknown settings are left out (§6.5.2).
   */
  settings: Readonly<Partial<Http2Settings>>;
}

/** A PING frame (RFC 9113 §6.7). */
export interface PingFrame {
  /** {@linkcode FrameType.PING}. */
  type: typeof FrameType.PING;
  /** The frame's flags, as received. */
  flags: number;
  /** Always 0. */
  streamId: number;
  /** Whether this answers a PING of ours. */
  ack: boolean;
  /** The 8 octets of opaque data, copied. */
  data: Uint8Array;
}

/** A GOAWAY frame (RFC 9113 §6.8). */
export interface GoawayFrame {
  /** {@linkcode FrameType.GOAWAY}. */
  type: typeof FrameType.GOAWAY;
  /** The frame's flags, as received (none are defined). */
  flags: number;
  /** Always 0. */
  streamId: number;
  /**
   * The highest stream the server may have processed: streams above it were
   * not, and may be retried on another connection.
   */
  lastStreamId: number;
  /** Why the connection is closing: an {@linkcode ErrorCode}, or unknown. */
  errorCode: number;
  /** Opaque diagnostic data, copied; often a UTF-8 message. */
  debugData: Uint8Array;
}

/** A WINDOW_UPDATE frame (RFC 9113 §6.9). */
export interface WindowUpdateFrame {
  /** {@linkcode FrameType.WINDOW_UPDATE}. */
  type: typeof FrameType.WINDOW_UPDATE;
  /** The frame's flags, as received (none are defined). */
  flags: number;
  /** The stream, or 0 for the connection window. */
  streamId: number;
  /** Octets added to the window: 1 to 2^31-1. */
  increment: number;
}

/**
 * A frame as {@linkcode FrameDecoder} returns it; switch on `type`.
 * PRIORITY frames are checked and dropped (priority signalling is deprecated,
 * §5.3.2), CONTINUATION frames are joined to their HEADERS, unknown frame
 * types are dropped (§5.5), and PUSH_PROMISE is refused.
 */
export type Frame =
  | DataFrame
  | HeadersFrame
  | RstStreamFrame
  | SettingsFrame
  | PingFrame
  | GoawayFrame
  | WindowUpdateFrame;

/** Limits {@linkcode FrameDecoder} enforces; every one has a safe default. */
export interface FrameDecoderOptions {
  /**
   * The SETTINGS_MAX_FRAME_SIZE we advertise: the largest frame payload the
   * server may send, in octets (RFC 9113 §4.2). A larger frame is a
   * FRAME_SIZE_ERROR as soon as its header arrives, before its payload is
   * buffered.
   *
   * @default {16384}
   */
  maxFrameSize?: number;
  /**
   * The largest header block, in octets, after the HEADERS and CONTINUATION
   * fragments are joined (padding excluded). More is a connection error
   * (ENHANCE_YOUR_CALM): the block cannot be skipped without losing the
   * HPACK state. Keep it above the HPACK decoder's `maxHeaderListSize`, so
   * that a large but honest header block is a stream error there instead.
   *
   * @default {131072}
   */
  maxHeaderBlockSize?: number;
  /**
   * The most CONTINUATION frames after one HEADERS frame. More is a
   * connection error (ENHANCE_YOUR_CALM): it stops an endless run of tiny
   * CONTINUATION frames (CVE-2024-27316 and kin).
   *
   * @default {32}
   */
  maxContinuationFrames?: number;
  /**
   * The most settings in one SETTINGS frame (six are defined). More is a
   * connection error (ENHANCE_YOUR_CALM).
   *
   * @default {32}
   */
  maxSettingsPerFrame?: number;
  /**
   * Whether the first frame must be a SETTINGS frame without ACK, as the
   * server's connection preface requires (RFC 9113 §3.4); anything else is a
   * PROTOCOL_ERROR.
   *
   * @default {true}
   */
  requireSettingsFirst?: boolean;
}

/** The defaults of {@linkcode FrameDecoderOptions}. */
export const DEFAULT_FRAME_DECODER_OPTIONS: Readonly<
  Required<FrameDecoderOptions>
> = Object.freeze({
  maxFrameSize: 16384,
  maxHeaderBlockSize: 128 * 1024,
  maxContinuationFrames: 32,
  maxSettingsPerFrame: 32,
  requireSettingsFirst: true,
});

function checkOption(
  name: string,
  value: number,
  min: number,
  max: number,
): void {
  if (typeof value !== "number") {
    throw new TypeError(
      `Cannot create frame decoder as '${name}' must be a number: current value is ${value}`,
    );
  }
  if (!(value >= min && value <= max && Math.floor(value) === value)) {
    throw new RangeError(
      `Cannot create frame decoder as '${name}' must be an integer from ${min} to ${max}: current value is ${value}`,
    );
  }
}

const NO_SETTINGS: Readonly<Partial<Http2Settings>> = Object.freeze({});

/**
 * Decodes the frames a server sends to a client (RFC 9113 §4, §6) from bytes
 * fed in any pieces. Call {@linkcode FrameDecoder.decode} with the unread
 * bytes; read {@linkcode FrameDecoder.consumed} after it returns or throws.
 *
 * Connection errors leave the decoder unusable: the session sends GOAWAY and
 * closes. After a stream error, the offending frame has been consumed and
 * decoding can go on.
 */
export class FrameDecoder {
  #maxFrameSize: number;
  #maxHeaderBlockSize: number;
  #maxContinuationFrames: number;
  #maxSettingsPerFrame: number;
  #awaitingSettings: boolean;
  #consumed = 0;
  // The header block being assembled from HEADERS + CONTINUATION.
  #blockStreamId = 0;
  #blockFlags = 0;
  #block: Uint8Array = new Uint8Array(0);
  #blockLength = 0;
  #continuations = 0;

  /**
   * Creates a decoder.
   *
   * @throws {TypeError | RangeError} An option is not a number, or is out of
   * range.
   */
  constructor(options: FrameDecoderOptions = {}) {
    const {
      maxFrameSize = DEFAULT_FRAME_DECODER_OPTIONS.maxFrameSize,
      maxHeaderBlockSize = DEFAULT_FRAME_DECODER_OPTIONS.maxHeaderBlockSize,
      maxContinuationFrames =
        DEFAULT_FRAME_DECODER_OPTIONS.maxContinuationFrames,
      maxSettingsPerFrame = DEFAULT_FRAME_DECODER_OPTIONS.maxSettingsPerFrame,
      requireSettingsFirst = DEFAULT_FRAME_DECODER_OPTIONS.requireSettingsFirst,
    } = options;
    checkOption(
      "maxFrameSize",
      maxFrameSize,
      MIN_MAX_FRAME_SIZE,
      MAX_MAX_FRAME_SIZE,
    );
    checkOption("maxHeaderBlockSize", maxHeaderBlockSize, 0, 2 ** 30);
    checkOption("maxContinuationFrames", maxContinuationFrames, 0, 2 ** 30);
    checkOption("maxSettingsPerFrame", maxSettingsPerFrame, 0, 2 ** 30);
    this.#maxFrameSize = maxFrameSize;
    this.#maxHeaderBlockSize = maxHeaderBlockSize;
    this.#maxContinuationFrames = maxContinuationFrames;
    this.#maxSettingsPerFrame = maxSettingsPerFrame;
    this.#awaitingSettings = requireSettingsFirst;
  }

  /**
   * Bytes consumed by the last call to {@linkcode FrameDecoder.decode},
   * whether it returned or threw: the frame returned, and any frames before
   * it that yield nothing (unknown types, PRIORITY, header-block fragments).
   */
  get consumed(): number {
    return this.#consumed;
  }

  /** Whether a header block is open: HEADERS arrived, END_HEADERS not yet. */
  get inHeaderBlock(): boolean {
    return this.#blockStreamId !== 0;
  }

  /**
   * Decodes the next frame from `buf[start:end]`.
   *
   * @returns The frame, or `null` when more bytes are needed (the bytes
   * {@linkcode FrameDecoder.consumed} says were used may still be > 0).
   * @throws {Http2ProtocolError} The bytes break RFC 9113 or a limit: a
   * connection error when its `streamId` is 0, else a stream error.
   */
  decode(buf: Uint8Array, start: number, end: number): Frame | null {
    let pos = start;
    this.#consumed = 0;
    while (end - pos >= FRAME_HEADER_LENGTH) {
      const length = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
      const type = buf[pos + 3];
      const flags = buf[pos + 4];
      const streamId = readUint31(buf, pos + 5);
      // Checks that need only the frame header fail before the payload is
      // waited for, so a hostile length is never buffered.
      if (length > this.#maxFrameSize) {
        throw connectionError(
          `Frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE (${this.#maxFrameSize}) (RFC 9113 §4.2)`,
          FRAME_SIZE_ERROR,
        );
      }
      if (
        this.#blockStreamId !== 0 &&
        (type !== CONTINUATION || streamId !== this.#blockStreamId)
      ) {
        throw connectionError(
          `Frame of type ${type} on stream ${streamId} inside the header block of stream ${this.#blockStreamId}: only CONTINUATION frames may follow (RFC 9113 §6.10)`,
          PROTOCOL_ERROR,
        );
      }
      if (this.#awaitingSettings && (type !== SETTINGS || flags & ACK)) {
        throw connectionError(
          `The server's connection preface must begin with a SETTINGS frame, not a frame of type ${type} (RFC 9113 §3.4)`,
          PROTOCOL_ERROR,
        );
      }
      const payloadStart = pos + FRAME_HEADER_LENGTH;
      const frameEnd = payloadStart + length;
      if (frameEnd > end) break;
      pos = frameEnd;
      this.#consumed = pos - start;
      const frame = this.#frame(
        buf,
        payloadStart,
        frameEnd,
        type,
        flags,
        streamId,
      );
      this.#awaitingSettings = false;
      if (frame !== null) return frame;
    }
    return null;
  }

  #frame(
    buf: Uint8Array,
    start: number,
    end: number,
    type: number,
    flags: number,
    streamId: number,
  ): Frame | null {
    const length = end - start;
    switch (type) {
      case DATA: {
        if (streamId === 0) {
          throw connectionError(
            "DATA frame on stream 0 (RFC 9113 §6.1)",
            PROTOCOL_ERROR,
          );
        }
        let dataStart = start;
        let dataEnd = end;
        if (flags & PADDED) {
          if (length === 0) {
            throw connectionError(
              "Padded DATA frame has no Pad Length field (RFC 9113 §6.1)",
              FRAME_SIZE_ERROR,
            );
          }
          const padLength = buf[start];
          if (padLength >= length) {
            throw connectionError(
              `DATA frame padding (${padLength} bytes) does not fit its ${length}-byte payload (RFC 9113 §6.1)`,
              PROTOCOL_ERROR,
            );
          }
          dataStart++;
          dataEnd -= padLength;
        }
        return {
          type: DATA,
          flags,
          streamId,
          endStream: (flags & END_STREAM) !== 0,
          data: buf.subarray(dataStart, dataEnd),
          length,
        };
      }
      case HEADERS:
        return this.#headers(buf, start, end, flags, streamId);
      case CONTINUATION:
        return this.#continuation(buf, start, end, flags, streamId);
      case PRIORITY: {
        if (streamId === 0) {
          throw connectionError(
            "PRIORITY frame on stream 0 (RFC 9113 §6.3)",
            PROTOCOL_ERROR,
          );
        }
        if (length !== 5) {
          throw new Http2ProtocolError(
            `PRIORITY frame of ${length} bytes, not 5 (RFC 9113 §6.3)`,
            FRAME_SIZE_ERROR,
            streamId,
          );
        }
        if (readUint31(buf, start) === streamId) {
          throw new Http2ProtocolError(
            `PRIORITY frame makes stream ${streamId} depend on itself (RFC 9113 §5.3.1)`,
            PROTOCOL_ERROR,
            streamId,
          );
        }
        return null;
      }
      case RST_STREAM: {
        if (streamId === 0) {
          throw connectionError(
            "RST_STREAM frame on stream 0 (RFC 9113 §6.4)",
            PROTOCOL_ERROR,
          );
        }
        if (length !== 4) {
          throw connectionError(
            `RST_STREAM frame of ${length} bytes, not 4 (RFC 9113 §6.4)`,
            FRAME_SIZE_ERROR,
          );
        }
        return {
          type: RST_STREAM,
          flags,
          streamId,
          errorCode: readUint32(buf, start),
        };
      }
      case SETTINGS:
        return this.#settings(buf, start, end, flags, streamId);
      case PUSH_PROMISE:
        throw connectionError(
          "PUSH_PROMISE received although we sent SETTINGS_ENABLE_PUSH = 0 (RFC 9113 §6.6)",
          PROTOCOL_ERROR,
        );
      case PING: {
        if (streamId !== 0) {
          throw connectionError(
            `PING frame on stream ${streamId}, not 0 (RFC 9113 §6.7)`,
            PROTOCOL_ERROR,
          );
        }
        if (length !== 8) {
          throw connectionError(
            `PING frame of ${length} bytes, not 8 (RFC 9113 §6.7)`,
            FRAME_SIZE_ERROR,
          );
        }
        return {
          type: PING,
          flags,
          streamId,
          ack: (flags & ACK) !== 0,
          data: buf.slice(start, end),
        };
      }
      case GOAWAY: {
        if (streamId !== 0) {
          throw connectionError(
            `GOAWAY frame on stream ${streamId}, not 0 (RFC 9113 §6.8)`,
            PROTOCOL_ERROR,
          );
        }
        if (length < 8) {
          throw connectionError(
            `GOAWAY frame of ${length} bytes, fewer than 8 (RFC 9113 §6.8)`,
            FRAME_SIZE_ERROR,
          );
        }
        return {
          type: GOAWAY,
          flags,
          streamId,
          lastStreamId: readUint31(buf, start),
          errorCode: readUint32(buf, start + 4),
          debugData: buf.slice(start + 8, end),
        };
      }
      case WINDOW_UPDATE: {
        if (length !== 4) {
          throw connectionError(
            `WINDOW_UPDATE frame of ${length} bytes, not 4 (RFC 9113 §6.9)`,
            FRAME_SIZE_ERROR,
          );
        }
        const increment = readUint31(buf, start);
        if (increment === 0) {
          throw new Http2ProtocolError(
            `WINDOW_UPDATE with an increment of 0 on ${
              streamId === 0 ? "the connection" : `stream ${streamId}`
            } (RFC 9113 §6.9)`,
            PROTOCOL_ERROR,
            streamId,
          );
        }
        return { type: WINDOW_UPDATE, flags, streamId, increment };
      }
      default:
        // Unknown frame types are ignored (§5.5), outside header blocks.
        return null;
    }
  }

  #headers(
    buf: Uint8Array,
    start: number,
    end: number,
    flags: number,
    streamId: number,
  ): HeadersFrame | null {
    if (streamId === 0) {
      throw connectionError(
        "HEADERS frame on stream 0 (RFC 9113 §6.2)",
        PROTOCOL_ERROR,
      );
    }
    const length = end - start;
    const fixed = (flags & PADDED ? 1 : 0) + (flags & PRIORITY_FLAG ? 5 : 0);
    if (length < fixed) {
      throw connectionError(
        `HEADERS frame of ${length} bytes is too short for its padding and priority fields (RFC 9113 §6.2)`,
        FRAME_SIZE_ERROR,
      );
    }
    let blockStart = start;
    let padLength = 0;
    if (flags & PADDED) padLength = buf[blockStart++];
    if (flags & PRIORITY_FLAG) {
      // The stream error of §5.3.1 is raised as a connection error: the
      // header block cannot be skipped without losing the HPACK state.
      if (readUint31(buf, blockStart) === streamId) {
        throw connectionError(
          `HEADERS frame makes stream ${streamId} depend on itself (RFC 9113 §5.3.1)`,
          PROTOCOL_ERROR,
        );
      }
      blockStart += 5;
    }
    if (fixed + padLength > length) {
      throw connectionError(
        `HEADERS frame padding (${padLength} bytes) does not fit its ${length}-byte payload (RFC 9113 §6.2)`,
        PROTOCOL_ERROR,
      );
    }
    const blockEnd = end - padLength;
    const blockLength = blockEnd - blockStart;
    if (blockLength > this.#maxHeaderBlockSize) {
      throw this.#blockTooLarge(blockLength);
    }
    if (flags & END_HEADERS) {
      return {
        type: HEADERS,
        flags,
        streamId,
        endStream: (flags & END_STREAM) !== 0,
        headerBlock: buf.subarray(blockStart, blockEnd),
      };
    }
    this.#blockStreamId = streamId;
    this.#blockFlags = flags;
    this.#blockLength = 0;
    this.#continuations = 0;
    this.#append(buf, blockStart, blockEnd);
    return null;
  }

  #continuation(
    buf: Uint8Array,
    start: number,
    end: number,
    flags: number,
    streamId: number,
  ): HeadersFrame | null {
    if (this.#blockStreamId === 0) {
      throw connectionError(
        `CONTINUATION frame on stream ${streamId} without an open header block (RFC 9113 §6.10)`,
        PROTOCOL_ERROR,
      );
    }
    if (++this.#continuations > this.#maxContinuationFrames) {
      throw connectionError(
        `Header block of stream ${streamId} continues past maxContinuationFrames (${this.#maxContinuationFrames}) CONTINUATION frames`,
        ENHANCE_YOUR_CALM,
      );
    }
    const total = this.#blockLength + end - start;
    if (total > this.#maxHeaderBlockSize) throw this.#blockTooLarge(total);
    this.#append(buf, start, end);
    if ((flags & END_HEADERS) === 0) return null;
    const blockFlags = this.#blockFlags;
    this.#blockStreamId = 0;
    return {
      type: HEADERS,
      flags: blockFlags | END_HEADERS,
      streamId,
      endStream: (blockFlags & END_STREAM) !== 0,
      headerBlock: this.#block.subarray(0, this.#blockLength),
    };
  }

  #blockTooLarge(size: number): Http2ProtocolError {
    return connectionError(
      `Header block of ${size} bytes exceeds maxHeaderBlockSize (${this.#maxHeaderBlockSize})`,
      ENHANCE_YOUR_CALM,
    );
  }

  #append(buf: Uint8Array, start: number, end: number): void {
    const needed = this.#blockLength + end - start;
    if (needed > this.#block.length) {
      let size = Math.max(1024, this.#block.length * 2);
      while (size < needed) size *= 2;
      const grown = new Uint8Array(Math.min(size, this.#maxHeaderBlockSize));
      grown.set(this.#block.subarray(0, this.#blockLength));
      this.#block = grown;
    }
    this.#block.set(buf.subarray(start, end), this.#blockLength);
    this.#blockLength = needed;
  }

  #settings(
    buf: Uint8Array,
    start: number,
    end: number,
    flags: number,
    streamId: number,
  ): SettingsFrame {
    if (streamId !== 0) {
      throw connectionError(
        `SETTINGS frame on stream ${streamId}, not 0 (RFC 9113 §6.5)`,
        PROTOCOL_ERROR,
      );
    }
    const length = end - start;
    if (flags & ACK) {
      if (length !== 0) {
        throw connectionError(
          `SETTINGS acknowledgement with a ${length}-byte payload (RFC 9113 §6.5)`,
          FRAME_SIZE_ERROR,
        );
      }
      return {
        type: SETTINGS,
        flags,
        streamId,
        ack: true,
        settings: NO_SETTINGS,
      };
    }
    if (length % 6 !== 0) {
      throw connectionError(
        `SETTINGS frame of ${length} bytes, not a multiple of 6 (RFC 9113 §6.5)`,
        FRAME_SIZE_ERROR,
      );
    }
    if (length / 6 > this.#maxSettingsPerFrame) {
      throw connectionError(
        `SETTINGS frame with ${
          length / 6
        } settings exceeds maxSettingsPerFrame (${this.#maxSettingsPerFrame})`,
        ENHANCE_YOUR_CALM,
      );
    }
    const settings: Partial<Http2Settings> = {};
    for (let pos = start; pos < end; pos += 6) {
      const id = (buf[pos] << 8) | buf[pos + 1];
      const value = readUint32(buf, pos + 2);
      switch (id) {
        case 0x1:
          settings.headerTableSize = value;
          break;
        case 0x2:
          if (value > 1) {
            throw connectionError(
              `SETTINGS_ENABLE_PUSH of ${value}, not 0 or 1 (RFC 9113 §6.5.2)`,
              PROTOCOL_ERROR,
            );
          }
          if (value === 1) {
            throw connectionError(
              "Server sent SETTINGS_ENABLE_PUSH = 1 (RFC 9113 §6.5.2)",
              PROTOCOL_ERROR,
            );
          }
          settings.enablePush = value;
          break;
        case 0x3:
          settings.maxConcurrentStreams = value;
          break;
        case 0x4:
          if (value > MAX_WINDOW_SIZE) {
            throw connectionError(
              `SETTINGS_INITIAL_WINDOW_SIZE of ${value} exceeds 2^31-1 (RFC 9113 §6.5.2)`,
              FLOW_CONTROL_ERROR,
            );
          }
          settings.initialWindowSize = value;
          break;
        case 0x5:
          if (value < MIN_MAX_FRAME_SIZE || value > MAX_MAX_FRAME_SIZE) {
            throw connectionError(
              `SETTINGS_MAX_FRAME_SIZE of ${value} is outside 2^14..2^24-1 (RFC 9113 §6.5.2)`,
              PROTOCOL_ERROR,
            );
          }
          settings.maxFrameSize = value;
          break;
        case 0x6:
          settings.maxHeaderListSize = value;
          break;
          // Unknown or unsupported settings are ignored (§6.5.2).
      }
    }
    return { type: SETTINGS, flags, streamId, ack: false, settings };
  }
}
