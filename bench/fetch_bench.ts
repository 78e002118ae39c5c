// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * `deno bench` for whole requests over loopback: pooled-fetch, the built-in
 * `fetch` (the baseline of every group), the built-in `fetch` with its own
 * `Deno.HttpClient`, and undici's `Pool`. One iteration sends a batch of
 * `c` requests at once and reads every body, so `c` is the concurrency.
 *
 * The server runs in its own process (`bench/_server.ts`). Clients live for
 * the whole file, so their connections are warm after the first iterations.
 *
 * Run: `deno bench --allow-net=127.0.0.1 --allow-read=. --allow-run
 * --allow-env --allow-sys bench/fetch_bench.ts`
 *
 * @module
 */

import { type ClientSpec, openClient } from "./_clients.ts";
import { ServerProcess } from "./_server_process.ts";

const server = await ServerProcess.start(false);
server.detach();
const base = `http://127.0.0.1:${server.port}`;

interface Group {
  name: string;
  path: string;
  concurrency: number;
  clients: [string, ClientSpec][];
}

const groups: Group[] = [
  {
    name: "small c=1",
    path: "/small",
    concurrency: 1,
    clients: [
      ["fetch + HttpClient", { kind: "fetch-client", connections: 1 }],
      ["pooled-fetch 1x1", { kind: "pooled", connections: 1 }],
      ["undici Pool 1x1", { kind: "undici", connections: 1 }],
    ],
  },
  {
    name: "small c=16",
    path: "/small",
    concurrency: 16,
    clients: [
      ["fetch + HttpClient", { kind: "fetch-client", connections: 16 }],
      ["pooled-fetch 16x1", { kind: "pooled", connections: 16 }],
      ["pooled-fetch 1x16", {
        kind: "pooled",
        connections: 1,
        pipelining: 16,
      }],
      ["undici Pool 16x1", { kind: "undici", connections: 16 }],
      ["undici Pool 1x16", { kind: "undici", connections: 1, pipelining: 16 }],
    ],
  },
  {
    name: "small c=64",
    path: "/small",
    concurrency: 64,
    clients: [
      ["pooled-fetch 64x1", { kind: "pooled", connections: 64 }],
      ["pooled-fetch 8x8", { kind: "pooled", connections: 8, pipelining: 8 }],
      ["undici Pool 8x8", { kind: "undici", connections: 8, pipelining: 8 }],
    ],
  },
  {
    name: "64KiB c=16",
    path: "/64k",
    concurrency: 16,
    clients: [
      ["fetch + HttpClient", { kind: "fetch-client", connections: 16 }],
      ["pooled-fetch 16x1", { kind: "pooled", connections: 16 }],
      ["undici Pool 16x1", { kind: "undici", connections: 16 }],
    ],
  },
];

for (const g of groups) {
  const url = base + g.path;
  const all: [string, ClientSpec, boolean][] = [
    ["fetch (built-in)", { kind: "fetch" }, true],
    ...g.clients.map(([n, s]): [string, ClientSpec, boolean] => [n, s, false]),
  ];
  for (const [name, spec, baseline] of all) {
    const client = await openClient(spec, { url });
    Deno.bench({
      name: `${name}`,
      group: g.name,
      baseline,
      async fn() {
        await Promise.all(
          Array.from({ length: g.concurrency }, () => client.request()),
        );
      },
    });
  }
}
