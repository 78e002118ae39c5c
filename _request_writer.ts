// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The write side of one HTTP/1.1 connection: requests handed to it in the
 * same tick go out in one write (and a pipelined request waits a few
 * microtask turns for company, since it cannot be answered before the ones
 * ahead of it anyway); a streamed body follows its head, chunked or held to
 * its declared length.
 *
 * @module
 */

import { concat, pumpBody } from "./_body.ts";
import type { Exchange } from "./_exchange.ts";
import { encodeChunk, lastChunk } from "./_http1.ts";

/** What the writer tells the connection it writes for. */
export interface WriterHost {
  /** Whether the connection is closed: stop writing. */
  isClosed(): boolean;
  /** Bytes went out: the connection made progress. */
  progressed(): void;
  /** The socket failed while writing. */
  writeFailed(error: unknown): void;
  /** A streamed request body failed (its stream errored, or its length). */
  bodyFailed(exchange: Exchange, failure: Error): void;
}

/**
 * Microtask turns a pipelined write waits for company. A request behind
 * unanswered ones cannot be answered before them, so waiting a few turns
 * costs it nothing, and lets the callers woken by the same read (each a few
 * awaits away from sending again) share one write.
 */
const PIPELINE_WRITE_DELAY = 12;

function deferMicrotasks(fn: () => void, turns: number): void {
  if (turns === 0) fn();
  else queueMicrotask(() => deferMicrotasks(fn, turns - 1));
}

/** Writes requests on one socket, in order. */
export class RequestWriter {
  #conn: Deno.Conn;
  #host: WriterHost;
  #pending: Uint8Array[] = [];
  #batch: Exchange[] = [];
  #writing = false;
  #queued = false;

  /** Writes on `conn` for `host`. */
  constructor(conn: Deno.Conn, host: WriterHost) {
    this.#conn = conn;
    this.#host = host;
  }

  /** Whether requests wait for a write that is about to happen. */
  get queued(): boolean {
    return this.#queued;
  }

  /**
   * Queues `exchange`'s request. `pipelined`: requests are in flight ahead
   * of it, so its write may wait a little for company.
   */
  write(exchange: Exchange, pipelined: boolean): void {
    this.#pending.push(exchange.bytes);
    this.#batch.push(exchange);
    if (!this.#writing && !this.#queued) {
      this.#queued = true;
      if (pipelined) deferMicrotasks(this.#flush, PIPELINE_WRITE_DELAY);
      else queueMicrotask(this.#flush);
    }
  }

  /** Drops what was not written yet: the connection closed. */
  clear(): void {
    this.#pending = [];
    this.#batch = [];
  }

  #flush = (): void => {
    this.#queued = false;
    if (this.#writing || this.#host.isClosed()) return;
    this.#writing = true;
    this.#writeLoop();
  };

  async #writeLoop(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#host.isClosed()) {
        const chunks = this.#pending;
        const batch = this.#batch;
        this.#pending = [];
        this.#batch = [];
        const data = chunks.length === 1 ? chunks[0] : concat(chunks);
        // Marked written before the write: if the socket fails while the
        // write is under way, no request of the batch may be taken for
        // unsent (and replayed as such). Only a first write that fails
        // outright proves that none of its bytes went out.
        for (const exchange of batch) exchange.written = true;
        let written: number;
        try {
          written = await this.#conn.write(data);
        } catch (error) {
          for (const exchange of batch) exchange.written = false;
          throw error;
        }
        while (written < data.byteLength && !this.#host.isClosed()) {
          written += await this.#conn.write(data.subarray(written));
        }
        for (const exchange of batch) {
          if (
            exchange.stream !== null && !exchange.done && !this.#host.isClosed()
          ) {
            await this.#writeStream(exchange);
          }
        }
      }
    } catch (error) {
      this.#host.writeFailed(error);
    } finally {
      this.#writing = false;
    }
  }

  /**
   * Writes a streamed body: chunked, or, when its length was declared, as
   * raw bytes held to exactly that length. A stream that errors, or runs
   * short or long of its declared length, fails the request and the
   * connection: the server holds a partial message, and a body longer than
   * declared would be read as the next request (smuggling).
   */
  async #writeStream(exchange: Exchange): Promise<void> {
    const declared = exchange.streamLength;
    const failure = await pumpBody(
      exchange.stream!,
      declared,
      async (chunk) => {
        // Socket errors propagate to the write loop.
        await this.#writeAll(declared === null ? encodeChunk(chunk) : chunk);
        this.#host.progressed();
      },
      () => exchange.done || this.#host.isClosed(),
    );
    if (this.#host.isClosed() || exchange.done) return;
    if (failure !== null) this.#host.bodyFailed(exchange, failure);
    else if (declared === null) await this.#writeAll(lastChunk());
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let written = 0;
    while (written < data.byteLength) {
      written += await this.#conn.write(data.subarray(written));
    }
  }
}
