// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * Stopping the third-party servers the tests start (nginx, squid, nghttpd,
 * Node, Python): politely first, then for good.
 *
 * @module
 */

import { deadline } from "@std/async/deadline";

/**
 * Stops `child`: SIGTERM, then SIGKILL if it still runs `graceMs` later.
 * Resolves once it exited.
 */
export async function stopChild(
  child: Deno.ChildProcess,
  graceMs = 2000,
): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  try {
    await deadline(child.status, graceMs);
  } catch {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
  }
}
