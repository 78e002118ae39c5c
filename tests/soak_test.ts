// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * A short soak in the normal test run: a few thousand GETs and POSTs through
 * one client against the fault-injecting server of `_soak_server.ts` (in this
 * process), asserting the invariants of the long run (`deno task soak`): no
 * POST read twice by the server, no GET lost or answered with another
 * request's body, everything settled.
 */

import {
  assert,
  assertEquals,
  assertGreater,
  assertLessOrEqual,
} from "@std/assert";
import { delay } from "@std/async/delay";
import { createClient } from "../mod.ts";
import { formatReport, runSoak, type SoakReport } from "./_soak_driver.ts";
import { startSoakServer } from "./_soak_server.ts";
import { rawServer } from "./_servers.ts";

interface ShortSoak {
  seed: number;
  requests: number;
  pipelining: number;
  /** Faults that close connections off (see `SoakServerOptions.keepOpen`). */
  keepOpen: boolean;
}

async function shortSoak(
  { seed, requests, pipelining, keepOpen }: ShortSoak,
): Promise<SoakReport> {
  await using server = startSoakServer({
    seed,
    // A long stall is past the client's headersTimeout (2 s): keep this run
    // short.
    faults: { longStall: 0 },
    keepOpen,
  });
  const report = await runSoak({
    port: server.port,
    report: () => Promise.resolve(server.report()),
    requests,
    seconds: 20,
    concurrency: 32,
    postRatio: 0.3,
    pipelining,
    connections: 8,
    hangMs: 15_000,
  });
  const why = "\n" + formatReport(report);
  assertEquals(report.requests.issued, requests, why);
  assertEquals(report.requests.settled, report.requests.issued, why);
  assertEquals(report.invariants, {
    duplicatePosts: 0,
    lostGets: 0,
    hung: 0,
    desynced: 0,
    corrupt: 0,
    phantom: 0,
    nonTypeErrors: 0,
    serverBodyMismatches: 0,
    serverMalformed: 0,
  }, why);
  assert(report.ok, why);
  // The faults did happen, and most requests still succeeded.
  const faults = keepOpen
    ? ["status503", "split", "stall"]
    : ["closeUnread", "closeBeforeAnswer", "status503", "split"];
  for (const fault of faults) {
    assertGreater(report.server.actions[fault] ?? 0, 0, `no ${fault}${why}`);
  }
  const succeeded = (report.responses["GET 200"] ?? 0) +
    (report.responses["POST 200"] ?? 0);
  assertGreater(succeeded, requests * 0.9, why);
  return report;
}

Deno.test(
  "Client.fetch() under injected faults sends no POST twice and loses no GET",
  async () => {
    await shortSoak({
      seed: 7,
      requests: 2000,
      pipelining: 1,
      keepOpen: false,
    });
  },
);

Deno.test(
  "Client.fetch() pipelining under split writes, stalls and 429/503 keeps every response with its request",
  async () => {
    const report = await shortSoak({
      seed: 11,
      requests: 1000,
      pipelining: 4,
      keepOpen: true,
    });
    assertGreater(
      Number(report.client.requestsPipelined),
      0,
      "requests pipelined",
    );
  },
);

// Found by the soak: a server trickling a large body in small segments must
// not make the caller hold a 64 KiB buffer per segment.
Deno.test({
  name:
    "Client.fetch() streamed body chunks hold no more memory than the body when the server trickles",
  async fn() {
    const size = 300_000;
    const piece = 1000;
    await using server = rawServer(async (conn) => {
      await conn.readRequest();
      await conn.write(
        `HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: ${size}\r\n\r\n`,
      );
      const data = new Uint8Array(piece).fill(120);
      for (let sent = 0; sent < size; sent += piece) {
        await conn.write(data);
        // Let each piece arrive on its own.
        await delay(sent % (20 * piece) === 0 ? 2 : 0);
      }
      await conn.readRequest();
    });
    await using client = createClient();
    const res = await client.fetch(server.origin);
    const reader = res.body!.getReader();
    const buffers = new Set<ArrayBufferLike>();
    let received = 0;
    let retained = 0;
    let chunks = 0;
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks++;
      received += value.byteLength;
      if (!buffers.has(value.buffer)) {
        buffers.add(value.buffer);
        retained += value.buffer.byteLength;
      }
    }
    assertEquals(received, size);
    assert(chunks > 10, `the body came in ${chunks} chunks: not trickled`);
    // Chunks may share or over-allocate a little, not keep 64 KiB per read.
    assertLessOrEqual(
      retained,
      2 * size,
      `${chunks} chunks of ${size} bytes retained ${retained} bytes`,
    );
  },
});
