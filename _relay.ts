// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Byte plumbing for dialing: write-all, abort helpers, a connection that
 * returns bytes already read before its own, and the loopback relay that
 * lets `Deno.startTls` run over a connection that is not a plain TCP socket.
 *
 * `Deno.startTls` takes only a `Deno.TcpConn` made by Deno itself. TLS to an
 * origin inside a TLS connection to an HTTPS proxy, or over a connection
 * from the `connect` dialer or a Unix socket, therefore goes through a
 * relay: a listener on `127.0.0.1:0`, one connection to it, and a pump that
 * copies bytes between the accepted side and the tunnel. The TLS session is
 * Deno's own, over the connecting side, with the same name checks, CA list
 * and ALPN as a direct connection.
 *
 * No other process can use the relay: it accepts only the connection whose
 * remote address is exactly our socket's local address (127.0.0.1 and the
 * port the kernel gave our socket, which no other socket can hold), closes
 * any other, and stops listening as soon as it has ours. It needs permission
 * to listen on and connect to 127.0.0.1 (`--allow-net=127.0.0.1`); without
 * it the dial fails with an error that says so, and never prompts.
 *
 * @module
 */

/** Bytes one pump read moves at most: a full TLS record and then some. */
const CHUNK = 32 * 1024;
/** Foreign connections the relay closes before it gives up. */
export const MAX_STRANGERS = 8;

/** Writes all of `bytes` to `conn`. */
export async function writeAll(
  conn: Deno.Conn,
  bytes: Uint8Array,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    written += await conn.write(bytes.subarray(written));
  }
}

/**
 * Calls `onAbort` once if `signal` aborts before the returned handle is
 * disposed; for `using`.
 */
export function onAbort(signal: AbortSignal, onAbort: () => void): Disposable {
  const listener = () => {
    try {
      onAbort();
    } catch {
      // Closing what is already closed.
    }
  };
  signal.addEventListener("abort", listener, { once: true });
  return {
    [Symbol.dispose]() {
      signal.removeEventListener("abort", listener);
    },
  };
}

/**
 * Settles like `promise`, or rejects with `signal.reason` when the signal
 * aborts first; a value that arrives after that goes to `onLate` (to close
 * it).
 */
export function raceSignal<T>(
  promise: Promise<T>,
  signal: AbortSignal,
  onLate: (value: T) => void,
): Promise<T> {
  if (signal.aborted) {
    promise.then(onLate, () => {});
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const abort = () => {
      promise.then(onLate, () => {});
      reject(signal.reason);
    };
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        if (signal.aborted) onLate(value);
        else resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}

/** Closes `conn`, ignoring that it may be closed already. */
export function closeQuietly(conn: Deno.Conn | undefined): void {
  try {
    conn?.close();
  } catch {
    // Already closed.
  }
}

/**
 * A connection whose first reads return `prefix`, bytes a handshake read
 * past its own answer, and then those of `conn`.
 */
export class PrefixedConn implements Deno.Conn {
  readonly #conn: Deno.Conn;
  #prefix: Uint8Array | null;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #writable: WritableStream<Uint8Array<ArrayBufferLike>> | undefined;

  /** Wraps `conn`; `prefix` is returned first. */
  constructor(conn: Deno.Conn, prefix: Uint8Array) {
    this.#conn = conn;
    this.#prefix = prefix.length > 0 ? prefix : null;
  }

  /** The connection under this one. */
  get inner(): Deno.Conn {
    return this.#conn;
  }

  /** The local address of the connection under this one. */
  get localAddr(): Deno.Addr {
    return this.#conn.localAddr;
  }

  /** The remote address of the connection under this one. */
  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  /** Reads the prefix first, then from the connection. */
  read(p: Uint8Array): Promise<number | null> {
    const prefix = this.#prefix;
    if (prefix === null) return this.#conn.read(p);
    const n = Math.min(p.length, prefix.length);
    p.set(prefix.subarray(0, n));
    this.#prefix = n === prefix.length ? null : prefix.subarray(n);
    return Promise.resolve(n);
  }

  /** Writes to the connection. */
  write(p: Uint8Array): Promise<number> {
    return this.#conn.write(p);
  }

  /** Closes the connection. */
  close(): void {
    this.#conn.close();
  }

  /** Shuts down the write side of the connection. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /** Lets pending reads keep the event loop alive. */
  ref(): void {
    this.#conn.ref();
  }

  /** Stops pending reads from keeping the event loop alive. */
  unref(): void {
    this.#conn.unref();
  }

  /** The bytes read, prefix first, as a stream. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream({
      type: "bytes",
      pull: async (controller) => {
        const chunk = new Uint8Array(CHUNK);
        const n = await this.read(chunk);
        if (n === null) {
          controller.close();
          controller.byobRequest?.respond(0);
        } else {
          controller.enqueue(chunk.subarray(0, n));
        }
      },
      cancel: () => closeQuietly(this),
    });
    return this.#readable;
  }

  /** A stream that writes to the connection. */
  get writable(): WritableStream<Uint8Array<ArrayBufferLike>> {
    this.#writable ??= new WritableStream({
      write: (chunk) => writeAll(this, chunk),
      close: () => this.closeWrite(),
      abort: () => closeQuietly(this),
    });
    return this.#writable;
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    closeQuietly(this);
  }
}

/** Whether this process may run a relay, asked without prompting. */
export function relayPermitted(): boolean {
  try {
    return Deno.permissions.querySync({ name: "net", host: "127.0.0.1" })
      .state === "granted";
  } catch {
    return false;
  }
}

/** The connecting side of a relay, and when its pump is done. */
export interface Relay {
  /** A TCP connection on loopback whose bytes go to and from the tunnel. */
  conn: Deno.TcpConn;
  /**
   * Settles once both directions have stopped and both sides are closed:
   * after `conn` is closed, or the tunnel ends and `conn` is closed.
   */
  done: Promise<void>;
}

/** Options of {@linkcode openRelay}. */
export interface RelayOptions {
  /** Aborts setting the relay up (not the pump, which ends with `conn`). */
  signal: AbortSignal;
  /** Bytes already read from the tunnel, delivered first. */
  initial?: Uint8Array;
}

/**
 * Starts a loopback relay for `tunnel` and returns its connecting side, a
 * real `Deno.TcpConn` that `Deno.startTls` accepts. The relay owns `tunnel`
 * from then on: closing the returned connection closes it.
 *
 * @throws {Deno.errors.NotCapable} No permission to use 127.0.0.1; nothing
 * was opened and `tunnel` is untouched.
 * @throws The signal's reason when it aborts first.
 */
export async function openRelay(
  tunnel: Deno.Conn,
  options: RelayOptions,
): Promise<Relay> {
  const { signal, initial } = options;
  signal.throwIfAborted();
  if (!relayPermitted()) {
    throw new Deno.errors.NotCapable(
      "a loopback relay needs permission to listen on and connect to 127.0.0.1 (--allow-net=127.0.0.1)",
    );
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let ours: Deno.TcpConn | undefined;
  let theirs: Deno.TcpConn | undefined;
  try {
    using _ = onAbort(signal, () => listener.close());
    ours = await Deno.connect({
      hostname: "127.0.0.1",
      port: listener.addr.port,
      signal,
    });
    theirs = await acceptOwn(listener, ours.localAddr);
  } catch (error) {
    closeQuietly(ours);
    throw signal.aborted ? signal.reason : error;
  } finally {
    try {
      listener.close();
    } catch {
      // Closed by the abort.
    }
  }
  ours.setNoDelay(true);
  theirs.setNoDelay(true);
  return { conn: ours, done: pump(theirs, tunnel, initial) };
}

/**
 * Accepts from `listener` the one connection whose remote address is
 * `local` (our own socket's local address: 127.0.0.1 and a port no other
 * socket can hold while ours is open) and closes every other.
 *
 * @throws {Deno.errors.ConnectionAborted} After closing
 * {@linkcode MAX_STRANGERS} other connections.
 */
export async function acceptOwn(
  listener: Deno.TcpListener,
  local: Deno.NetAddr,
): Promise<Deno.TcpConn> {
  // Bounded: each pass accepts one connection; strangers are counted.
  for (let strangers = 0;;) {
    const accepted = await listener.accept();
    const remote = accepted.remoteAddr;
    if (remote.hostname === local.hostname && remote.port === local.port) {
      return accepted;
    }
    closeQuietly(accepted);
    if (++strangers === MAX_STRANGERS) {
      throw new Deno.errors.ConnectionAborted(
        `the loopback relay refused ${strangers} connections from other local processes`,
      );
    }
  }
}

/** Copies bytes both ways between the relay's accepted side and the tunnel. */
async function pump(
  side: Deno.TcpConn,
  tunnel: Deno.Conn,
  initial: Uint8Array | undefined,
): Promise<void> {
  // The relay never keeps the process alive by itself: our end's own reads
  // (ref'd while a request waits for its answer) decide that.
  try {
    side.unref();
    tunnel.unref();
  } catch {
    // A dialer's connection without ref counting.
  }
  let closed = false;
  const closeBoth = () => {
    if (closed) return;
    closed = true;
    closeQuietly(side);
    closeQuietly(tunnel);
  };
  const outbound = (async () => {
    const buf = new Uint8Array(CHUNK);
    try {
      // Bounded by the connection: read() returns null at its end.
      while (true) {
        const n = await side.read(buf);
        if (n === null) break;
        await writeAll(tunnel, buf.subarray(0, n));
      }
    } catch {
      // Closed under us.
    }
    // Our end is gone: nothing else will use the tunnel.
    closeBoth();
  })();
  const inbound = (async () => {
    const buf = new Uint8Array(CHUNK);
    try {
      if (initial !== undefined && initial.length > 0) {
        await writeAll(side, initial);
      }
      while (true) {
        const n = await tunnel.read(buf);
        if (n === null) break;
        await writeAll(side, buf.subarray(0, n));
      }
      // The far end finished: our end reads what is left, then EOF, and
      // closes, which ends the outbound copy.
      await side.closeWrite();
    } catch {
      closeBoth();
    }
  })();
  await Promise.all([outbound, inbound]);
}
