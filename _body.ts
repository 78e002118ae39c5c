// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Request bodies in, response bodies out: turns a `BodyInit` into bytes or a
 * stream with the Content-Type fetch would give it, and decodes a response
 * body's Content-Encoding.
 *
 * @module
 */

/** A request body ready to send. */
export interface RequestBody {
  /** The whole body, when it is known up front (sent with Content-Length). */
  bytes: Uint8Array | null;
  /** A body to stream (sent chunked); `null` when `bytes` is used or none. */
  stream: ReadableStream<Uint8Array> | null;
  /** The Content-Type the body implies, if the caller set none. */
  contentType: string | null;
  /** Whether the body can be sent again: true for everything but streams. */
  replayable: boolean;
}

/** The absent body. */
export const NO_BODY: Readonly<RequestBody> = Object.freeze({
  bytes: null,
  stream: null,
  contentType: null,
  replayable: true,
});

const encoder = new TextEncoder();

/**
 * Extracts a request body as the Fetch standard does ("extract a body"):
 * strings as UTF-8, buffers and views copied (so a later change by the caller
 * cannot alter what is sent or re-sent), Blob, FormData (multipart) and
 * URLSearchParams with their content types, streams as they are. Returns
 * synchronously unless the body must be read first (Blob, FormData).
 *
 * @throws {TypeError} The body is of an unsupported type.
 */
export function extractBody(
  body: BodyInit | null | undefined,
): RequestBody | Promise<RequestBody> {
  if (body === null || body === undefined) return NO_BODY;
  if (typeof body === "string") {
    return bytesBody(encoder.encode(body), "text/plain;charset=UTF-8");
  }
  if (body instanceof ArrayBuffer) {
    return bytesBody(new Uint8Array(body.slice(0)), null);
  }
  if (ArrayBuffer.isView(body)) {
    return bytesBody(
      new Uint8Array(
        body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength),
      ),
      null,
    );
  }
  if (body instanceof URLSearchParams) {
    return bytesBody(
      encoder.encode(body.toString()),
      "application/x-www-form-urlencoded;charset=UTF-8",
    );
  }
  if (body instanceof Blob) {
    const type = body.type === "" ? null : body.type;
    return body.arrayBuffer().then((buffer) =>
      bytesBody(new Uint8Array(buffer), type)
    );
  }
  if (body instanceof FormData) {
    // The platform's own multipart encoder picks the boundary and escaping.
    const encoded = new Response(body);
    const type = encoded.headers.get("content-type");
    return encoded.arrayBuffer().then((buffer) =>
      bytesBody(new Uint8Array(buffer), type)
    );
  }
  if (body instanceof ReadableStream) {
    if (body.locked) {
      throw new TypeError(
        "Cannot send request as its body stream is locked: pass an unread stream",
      );
    }
    return { bytes: null, stream: body, contentType: null, replayable: false };
  }
  throw new TypeError(
    `Cannot send request as its body is of an unsupported type: ${
      Object.prototype.toString.call(body)
    }`,
  );
}

function bytesBody(bytes: Uint8Array, contentType: string | null): RequestBody {
  return { bytes, stream: null, contentType, replayable: true };
}

const DECODERS: Readonly<Record<string, CompressionFormat>> = {
  gzip: "gzip",
  "x-gzip": "gzip",
  deflate: "deflate",
  br: "brotli" as CompressionFormat,
};

/** The Accept-Encoding sent when the caller set none. */
export const ACCEPT_ENCODING = "gzip, deflate, br";

/**
 * Wraps `body` in decoders for its Content-Encoding, last coding first
 * (RFC 9110 §8.4). Returns `body` unchanged for `identity` or an unknown
 * coding (the caller then gets the encoded bytes, as with the built-in fetch).
 *
 * @param body The encoded body.
 * @param contentEncoding The Content-Encoding header value.
 * @param maxSize Decoded bytes allowed; more errors the stream (a guard
 * against decompression bombs).
 */
export function decodeContent(
  body: ReadableStream<Uint8Array>,
  contentEncoding: string,
  maxSize: number,
): ReadableStream<Uint8Array> {
  const codings = contentEncoding.toLowerCase().split(",").map((c) => c.trim())
    .filter((c) => c !== "" && c !== "identity");
  if (codings.length === 0) return body;
  for (const coding of codings) {
    if (DECODERS[coding] === undefined) return body;
  }
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const decoder = new DecompressionStream(
      DECODERS[codings[i]],
    ) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
    out = out.pipeThrough(decoder);
  }
  if (maxSize === Infinity) return out;
  let total = 0;
  return out.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > maxSize) {
          controller.error(
            new TypeError(
              `Decoded response body exceeds maxDecodedBodySize (${maxSize} bytes): possible decompression bomb`,
            ),
          );
          return;
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

/** Bytes of an unwanted streamed body read to free its connection. */
const DISCARD_LIMIT = 64 * 1024;

/**
 * Drops a response body nobody will read. A stream is read to its end in the
 * background while it stays small, so that its connection can be reused,
 * and cancelled (which closes the connection) past 64 KiB.
 */
export function discardBody(
  body: Uint8Array | ReadableStream<Uint8Array> | null,
): void {
  if (body instanceof ReadableStream) drain(body);
}

async function drain(body: ReadableStream<Uint8Array>): Promise<void> {
  const reader = body.getReader();
  let total = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > DISCARD_LIMIT) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The connection failed; it is closed already.
  }
}

/**
 * Reads a request body stream and hands each chunk to `write`, holding it
 * to `declared` bytes exactly when a length was declared (`null`: any).
 * Resolves with the body's own failure (the stream errored, or ran short or
 * long of its length), or `null` when it ended well; then the stream is
 * cancelled. A failure of `write` (the transport's) rejects, as it is.
 */
export async function pumpBody(
  stream: ReadableStream<Uint8Array>,
  declared: number | null,
  write: (chunk: Uint8Array) => Promise<void>,
  stopped: () => boolean,
): Promise<Error | null> {
  const reader = stream.getReader();
  let sent = 0;
  let failure: Error | null = null;
  try {
    while (!stopped()) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        failure = new TypeError(
          `the request body stream errored (${
            error instanceof Error ? error.message : String(error)
          })`,
          { cause: error },
        );
        break;
      }
      if (chunk.done) {
        if (declared !== null && sent !== declared) {
          failure = new RangeError(
            `the body stream ended after ${sent} of its Content-Length (${declared} bytes)`,
          );
        }
        break;
      }
      const value = chunk.value;
      if (value.byteLength === 0) continue;
      if (declared !== null && sent + value.byteLength > declared) {
        failure = new RangeError(
          `the body stream is longer than its Content-Length (${declared} bytes)`,
        );
        break;
      }
      await write(value);
      sent += value.byteLength;
    }
  } finally {
    if (failure !== null) reader.cancel(failure).catch(() => {});
    reader.releaseLock();
  }
  return failure;
}

/**
 * Takes a body stream whose source may already be complete in memory (the
 * body of a `Request` made from a string, bytes, a Blob, FormData or
 * URLSearchParams): reads it while each read is answered without waiting on
 * its source (before a zero-delay timer fires), up to `limit` bytes. A body
 * that ends so is returned as bytes: sent with `Content-Length`, and
 * replayable. Anything else (a producer that trickles, a body over `limit`)
 * is streamed, starting with the bytes already read: nothing is held back
 * waiting to fill a buffer.
 *
 * @throws {TypeError} The stream errored while it was being read.
 */
export async function collectBody(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): Promise<RequestBody> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const read = reader.read();
      if (!await settlesAtOnce(read)) {
        return streamedBody(chunks, read, reader);
      }
      const { done, value } = await read;
      if (done) {
        reader.releaseLock();
        return bytesBody(
          chunks.length === 1 ? chunks[0] : concat(chunks),
          null,
        );
      }
      chunks.push(value);
      size += value.byteLength;
      if (size > limit) return streamedBody(chunks, null, reader);
    }
  } catch (error) {
    reader.releaseLock();
    throw new TypeError(
      `Cannot send request as its body stream errored: ${
        error instanceof Error ? error.message : String(error)
      }`,
      { cause: error },
    );
  }
}

/** Whether `promise` settles before a zero-delay timer fires. */
function settlesAtOnce(promise: Promise<unknown>): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 0);
    const settled = () => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

/** A stream of `head`, then the pending `read`, then the rest of `reader`. */
function streamedBody(
  head: Uint8Array[],
  pending: Promise<ReadableStreamReadResult<Uint8Array>> | null,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): RequestBody {
  let next = 0;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (next < head.length) {
        controller.enqueue(head[next++]);
        return;
      }
      const read = pending ?? reader.read();
      pending = null;
      const { done, value } = await read;
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return { bytes: null, stream, contentType: null, replayable: false };
}

/** Concatenates byte arrays into one new array (a single one is copied). */
export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0].slice();
  let length = 0;
  for (const chunk of chunks) length += chunk.byteLength;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}
