// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The abuse limits of one HTTP/2 session: what stops a hostile server from
 * keeping it busy for nothing, from making it queue without bound, and what
 * stops the session itself from resetting streams faster than a server may
 * fairly be asked to handle.
 *
 * - **Floods:** more than 1000 frames within a second (or between two useful
 *   frames) that do nothing useful, such as PING, SETTINGS, empty DATA, 1xx
 *   HEADERS, frames on closed streams or window updates nobody waits for, is
 *   a connection error (ENHANCE_YOUR_CALM).
 * - **Replies:** more than 10000 acknowledgements (PING, SETTINGS) queued
 *   behind a server that does not read them is the same error.
 * - **Our resets** (CVE-2023-44487, "rapid reset"): a token bucket of
 *   `resetBurst` RST_STREAM frames, refilled at `resetRate` per second. When
 *   it is empty the session abandons the stream instead of resetting it.
 *
 * No I/O and no timers: the session reports what happens and asks.
 *
 * @module
 */

import { connectionError, ErrorCode } from "./_http2_frames.ts";

const ENHANCE_YOUR_CALM = ErrorCode.ENHANCE_YOUR_CALM;
/** Useless frames allowed per second (or between useful ones). */
const FLOOD_LIMIT = 1000;
const FLOOD_WINDOW = 1000;
/** Replies (ACKs) allowed to wait behind a peer that does not read. */
const MAX_QUEUED_REPLIES = 10_000;

/** The flood counters and the reset bucket of one session. */
export class SessionGuard {
  #floodCount = 0;
  #floodSince: number;
  #repliesQueued = 0;
  #resetBurst: number;
  #resetRate: number;
  #resetTokens: number;
  #resetRefilledAt: number;

  /**
   * Creates the limits of a session opened at `now` (`Date.now()` time),
   * with a full reset bucket.
   */
  constructor(resetBurst: number, resetRate: number, now: number) {
    this.#floodSince = now;
    this.#resetBurst = resetBurst;
    this.#resetRate = resetRate;
    this.#resetTokens = resetBurst;
    this.#resetRefilledAt = now;
  }

  /** Bytes were read at `now`: a new flood window starts each second. */
  read(now: number): void {
    if (now - this.#floodSince >= FLOOD_WINDOW) {
      this.#floodCount = 0;
      this.#floodSince = now;
    }
  }

  /** A frame did something useful: the flood count starts over. */
  useful(): void {
    this.#floodCount = 0;
  }

  /**
   * A frame did nothing useful: counted against floods.
   *
   * @throws {Http2ProtocolError} A connection error (ENHANCE_YOUR_CALM) past
   * the limit.
   */
  useless(): void {
    if (++this.#floodCount > FLOOD_LIMIT) {
      throw connectionError(
        `More than ${FLOOD_LIMIT} frames in a second did nothing useful (PING, SETTINGS, empty DATA, 1xx HEADERS, frames on closed streams): a flood`,
        ENHANCE_YOUR_CALM,
      );
    }
  }

  /**
   * A reply the peer asked for (an ACK) is about to be queued.
   *
   * @throws {Http2ProtocolError} A connection error (ENHANCE_YOUR_CALM) when
   * too many wait to be written.
   */
  reply(): void {
    if (++this.#repliesQueued > MAX_QUEUED_REPLIES) {
      throw connectionError(
        `More than ${MAX_QUEUED_REPLIES} PING and SETTINGS acknowledgements wait for the server to read them`,
        ENHANCE_YOUR_CALM,
      );
    }
  }

  /** Everything queued was written, replies included. */
  written(): void {
    this.#repliesQueued = 0;
  }

  /** Takes a token for one RST_STREAM of ours; false when there is none. */
  takeReset(): boolean {
    const now = Date.now();
    const tokens = Math.min(
      this.#resetBurst,
      this.#resetTokens + (now - this.#resetRefilledAt) * this.#resetRate /
          1000,
    );
    this.#resetRefilledAt = now;
    if (tokens < 1) {
      this.#resetTokens = tokens;
      return false;
    }
    this.#resetTokens = tokens - 1;
    return true;
  }
}
