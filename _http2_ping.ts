// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The liveness check of an HTTP/2 session (RFC 9113 §6.7). A session that
 * has heard nothing from the server for a while may be dead without knowing
 * it (a NAT dropped the mapping, the server vanished): before a stream is
 * sent on it, a PING goes out and the exchange is held (by the stream table,
 * `_http2_streams.ts`), with any that come meanwhile, until the ACK. An ACK
 * that echoes our data proves the server is there and releases them; none
 * within the timeout means the session is dead, and the held exchanges,
 * never written, can be replayed elsewhere.
 *
 * No more than one PING of ours is out at a time. Our data is `p`, three
 * zero octets and a counter, so a stale or forged ACK does not match.
 *
 * @module
 */

import { encodePing } from "./_http2_frames.ts";
import type { FrameSink } from "./_http2_stream.ts";

/** Our outstanding PING and its timeout. */
export class PingCheck {
  #sink: FrameSink;
  #timeout: number;
  #timedOut: (error: Error) => void;
  #data: Uint8Array | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #count = 0;
  #closed = false;

  /**
   * Creates the check; PINGs go to `sink`, and `timedOut` is told when one
   * is not answered within `timeout` ms.
   */
  constructor(
    sink: FrameSink,
    timeout: number,
    timedOut: (error: Error) => void,
  ) {
    this.#sink = sink;
    this.#timeout = timeout;
    this.#timedOut = timedOut;
  }

  /** Whether a PING of ours is out, unanswered. */
  get pending(): boolean {
    return this.#data !== null;
  }

  /** Sends a PING and starts its timeout, unless one is out already. */
  send(): void {
    if (this.#data !== null || this.#closed) return;
    const data = new Uint8Array(8);
    const count = ++this.#count;
    new DataView(data.buffer).setUint32(4, count);
    data[0] = 0x70; // "p"
    this.#data = data;
    this.#sink.push(encodePing(data));
    const timer = setTimeout(this.#onTimeout, this.#timeout);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /**
   * A PING ACK with `data`: true when it answers ours (the server is alive),
   * which ends the wait for it.
   */
  ack(data: Uint8Array): boolean {
    const ours = this.#data;
    if (ours === null || !sameBytes(data, ours)) return false;
    this.#data = null;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return true;
  }

  /** The session closed: sends no more PINGs and keeps no timer. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #onTimeout = (): void => {
    this.#timer = undefined;
    if (this.#closed) return;
    this.#timedOut(
      new Deno.errors.TimedOut(
        `the HTTP/2 session did not answer a PING within ${this.#timeout} ms`,
      ),
    );
  };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
