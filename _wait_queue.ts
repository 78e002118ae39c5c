// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The FIFO queue of exchanges waiting for a connection of one origin: each
 * leaves it when a connection takes it, when its signal aborts, or when it
 * has waited `queueTimeout`. The queue counts waits for the pool's stats
 * and telemetry.
 *
 * @module
 */

import type { Exchange } from "./_exchange.ts";
import type { PoolTelemetry } from "./_telemetry.ts";

/** What the queue tells its pool. */
export interface WaitQueueHost {
  /** Milliseconds an exchange may wait; `Infinity` for no limit. */
  readonly queueTimeout: number;
  /** Telemetry of the pool. */
  readonly telemetry: PoolTelemetry;
  /** `exchange` left the queue on its signal's abort (already failed). */
  aborted(exchange: Exchange): void;
  /** `exchange` waited too long; the pool fails it. */
  timedOut(exchange: Exchange): void;
}

/** A FIFO queue with O(1) amortized shift, abort and timeout per entry. */
export class WaitQueue {
  #items: Exchange[] = [];
  #head = 0;
  #host: WaitQueueHost;
  /** Exchanges that waited, since the pool was created. */
  waited = 0;
  /** Milliseconds exchanges waited in all. */
  waitTotal = 0;
  /** The longest wait, in milliseconds. */
  waitMax = 0;

  /** A queue for `host`'s pool. */
  constructor(host: WaitQueueHost) {
    this.#host = host;
  }

  /** Exchanges waiting now. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** The exchange that waited longest. */
  peek(): Exchange {
    return this.#items[this.#head];
  }

  /** Adds `exchange` at the end; it owns `exchange.onAbort` while queued. */
  push(exchange: Exchange): void {
    this.#items.push(exchange);
    exchange.queuedAt = Date.now();
    this.waited++;
    this.#host.telemetry.queued();
    if (exchange.signal !== undefined) {
      exchange.onAbort = () => {
        if (this.remove(exchange)) {
          exchange.fail(exchange.signal!.reason);
          this.#host.aborted(exchange);
        }
      };
    }
    const { queueTimeout } = this.#host;
    if (queueTimeout !== Infinity) {
      const timer = setTimeout(() => {
        if (this.remove(exchange)) this.#host.timedOut(exchange);
      }, queueTimeout);
      Deno.unrefTimer(timer);
      const clear = () => clearTimeout(timer);
      exchange.promise.then(clear, clear);
    }
  }

  /** Takes the exchange that waited longest, counting its wait. */
  shift(): Exchange {
    const exchange = this.#items[this.#head];
    this.#head++;
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    const waited = Date.now() - exchange.queuedAt;
    exchange.queueWait = waited;
    this.waitTotal += waited;
    if (waited > this.waitMax) this.waitMax = waited;
    this.#host.telemetry.dequeued(waited);
    return exchange;
  }

  /** Removes `exchange` (aborted, timed out); false when it was not queued. */
  remove(exchange: Exchange): boolean {
    const index = this.#items.indexOf(exchange, this.#head);
    if (index === -1) return false;
    this.#items.splice(index, 1);
    this.#host.telemetry.dequeued(Date.now() - exchange.queuedAt);
    return true;
  }
}
