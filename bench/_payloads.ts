// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * What both benchmark servers send (`bench/_server.ts` and nginx, see
 * `bench/_nginx.ts`), so every workload means the same on either:
 *
 * - `/small`: the 13-byte body `Hello, World!`.
 * - `/64k`: 65,536 bytes of `a`.
 * - `/api`: the "typical API" response, 1 KiB of JSON with fifteen header
 *   fields: nginx's own eight for a static file (`Server`, `Date`,
 *   `Content-Type`, `Content-Length`, `Last-Modified`, `Connection`, `ETag`,
 *   `Accept-Ranges`) and the seven of {@linkcode API_HEADERS}, among them a
 *   fresh `X-Request-Id` for each response.
 *
 * @module
 */

/** The body of `/small`. */
export const SMALL_BODY = "Hello, World!";

/** The length of the body of `/64k`, in bytes (all `a`). */
export const BIG_BYTES = 65536;

/** The length of the body of `/api`, in bytes. */
export const API_BYTES = 1024;

/**
 * The seven fields an API adds to nginx's eight, in the order sent. The
 * value of `X-Request-Id` is a placeholder: each response has its own 32 hex
 * digits (nginx's `$request_id`).
 */
export const API_HEADERS: readonly (readonly [string, string])[] = [
  ["Cache-Control", "private, no-cache, max-age=0"],
  ["Vary", "Accept-Encoding, Origin"],
  ["X-Request-Id", "0".repeat(32)],
  ["Strict-Transport-Security", "max-age=31536000; includeSubDomains"],
  ["X-Content-Type-Options", "nosniff"],
  ["Access-Control-Allow-Origin", "*"],
  ["X-RateLimit-Remaining", "4999"],
];

/**
 * The JSON body of `/api`: a page of records, padded to exactly
 * {@linkcode API_BYTES} bytes.
 *
 * @returns The body text (ASCII, so its length is its byte length).
 */
export function apiBody(): string {
  const items = [];
  for (let i = 1; i <= 5; i++) {
    items.push({
      id: 1000 + i,
      sku: `WID-${String(i).padStart(4, "0")}`,
      name: `Widget number ${i}`,
      price: { amount: 1250 + 75 * i, currency: "EUR" },
      inStock: i % 3 !== 0,
      tags: ["hardware", i % 2 ? "blue" : "green"],
      updatedAt: `2026-01-${String(10 + i).padStart(2, "0")}T08:30:00Z`,
    });
  }
  const page = { data: items, page: 1, perPage: 5, total: 240, note: "" };
  const short = JSON.stringify(page).length;
  if (short > API_BYTES) throw new Error("The /api body is over 1 KiB");
  page.note = "x".repeat(API_BYTES - short);
  return JSON.stringify(page);
}
