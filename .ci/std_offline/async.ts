/**
 * OFFLINE STAND-IN for `@std/async`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/async` to when jsr.io cannot be
 * reached. It re-exports the subset our tests use (`delay`, `deadline`,
 * `abortable`, `pooledMap`) with the real names and signatures. See
 * `.ci/std_offline/README.md`.
 *
 * @module
 */

export * from "./async_abortable.ts";
export * from "./async_deadline.ts";
export * from "./async_delay.ts";
export * from "./async_pool.ts";
