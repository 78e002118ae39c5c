/**
 * Self-test of the OFFLINE STAND-IN for `@std` (a fallback for air-gapped
 * machines, not a fork). It imports the stand-in files directly, so it tests
 * them whether or not the offline import map is in use: each assertion passes
 * and fails as the real one does, and `FakeTime` drives timers and `Date`.
 *
 * @module
 */

import {
  assert,
  assertAlmostEquals,
  assertArrayIncludes,
  assertEquals,
  assertExists,
  assertFalse,
  assertGreater,
  assertGreaterOrEqual,
  assertInstanceOf,
  AssertionError,
  assertIsError,
  assertLess,
  assertLessOrEqual,
  assertMatch,
  assertNotEquals,
  assertNotInstanceOf,
  assertNotMatch,
  assertNotStrictEquals,
  assertObjectMatch,
  assertRejects,
  assertStrictEquals,
  assertStringIncludes,
  assertThrows,
  equal,
  fail,
  unimplemented,
  unreachable,
} from "./assert.ts";
import { abortable, deadline, delay, pooledMap } from "./async.ts";
import { FakeTime, TimeError } from "./testing_time.ts";
import {
  assertSpyCall,
  assertSpyCallArgs,
  assertSpyCalls,
  MockError,
  resolvesNext,
  returnsNext,
  spy,
  stub,
} from "./testing_mock.ts";

/** Asserts that `fn` throws an `AssertionError` whose message has `part`. */
function assertFails(fn: () => unknown, part = ""): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  if (!(caught instanceof AssertionError)) {
    throw new Error(`Expected an AssertionError, got ${String(caught)}`);
  }
  if (!caught.message.includes(part)) {
    throw new Error(
      `Expected the message to include ${JSON.stringify(part)}, got ${
        JSON.stringify(caught.message)
      }`,
    );
  }
}

Deno.test("AssertionError is an Error named AssertionError with a cause", () => {
  const cause = new Error("inner");
  const error = new AssertionError("outer", { cause });
  assert(error instanceof Error);
  assertStrictEquals(error.name, "AssertionError");
  assertStrictEquals(error.cause, cause);
});

Deno.test("assert() and assertFalse() check truthiness", () => {
  assert(1);
  assertFalse(0);
  assertFails(() => assert(0, "custom"), "custom");
  assertFails(() => assertFalse("x"));
});

Deno.test("assertEquals() compares deeply and shows a diff", () => {
  assertEquals({ a: [1, 2], b: new Map([[1, "x"]]) }, {
    a: [1, 2],
    b: new Map([[1, "x"]]),
  });
  assertEquals(new Uint8Array([1, 2]), new Uint8Array([1, 2]));
  assertEquals(NaN, NaN);
  assertFails(() => assertEquals({ a: 1 }, { a: 2 }), "Values are not equal.");
  assertFails(() => assertEquals([1], [2], "why"), "Values are not equal: why");
  assertFails(() => assertEquals({ a: undefined }, {}));
  assertFails(() => assertEquals<unknown>(new Uint8Array([1]), [1]));
  assert(equal(new Set([1, 2]), new Set([2, 1])));
});

Deno.test("assertNotEquals() and assertNotStrictEquals() reject equal values", () => {
  assertNotEquals({ a: 1 }, { a: 2 });
  assertFails(() => assertNotEquals([1], [1]), "not to be");
  assertNotStrictEquals({}, {});
  assertFails(() => assertNotStrictEquals(1, 1));
});

Deno.test("assertStrictEquals() uses Object.is", () => {
  const object = { a: 1 };
  assertStrictEquals(object, object);
  assertFails(
    () => assertStrictEquals({ a: 1 }, { a: 1 }),
    "Values have the same structure but are not reference-equal",
  );
  assertFails(() => assertStrictEquals(1, 2), "Values are not strictly equal");
});

Deno.test("assertExists() rejects null and undefined only", () => {
  assertExists(0);
  assertExists("");
  assertFails(() => assertExists(null), "to not be null or undefined");
  assertFails(() => assertExists(undefined));
});

Deno.test("assertInstanceOf() and assertNotInstanceOf() check classes", () => {
  assertInstanceOf(new TypeError("x"), Error);
  assertFails(
    () => assertInstanceOf(new Error("x"), TypeError),
    'Expected object to be an instance of "TypeError" but was "Error"',
  );
  assertNotInstanceOf(new Error("x"), TypeError);
  assertFails(() => assertNotInstanceOf(new TypeError("x"), Error));
});

Deno.test("assertMatch(), assertNotMatch() and assertStringIncludes() check strings", () => {
  assertMatch("HTTP/1.1 200 OK", /^HTTP\/1\.1 \d{3}/);
  assertFails(() => assertMatch("x", /y/), "to match");
  assertNotMatch("x", /y/);
  assertFails(() => assertNotMatch("x", /x/));
  assertStringIncludes("keep-alive", "alive");
  assertFails(() => assertStringIncludes("a", "b"), "to contain");
});

Deno.test("assertGreater() and friends compare with <, <=, >, >=", () => {
  assertGreater(2, 1);
  assertGreaterOrEqual(2, 2);
  assertLess(1, 2);
  assertLessOrEqual(2, 2);
  assertFails(() => assertGreater(1, 1), "Expect 1 > 1");
  assertFails(() => assertGreaterOrEqual(1, 2), "Expect 1 >= 2");
  assertFails(() => assertLess(2, 2), "Expect 2 < 2");
  assertFails(() => assertLessOrEqual(3, 2), "Expect 3 <= 2");
  assertFails(() => assertLess(2, 1, "custom"), "custom");
});

Deno.test("assertArrayIncludes() uses deep equality", () => {
  assertArrayIncludes([1, { a: 2 }, 3], [{ a: 2 }, 3]);
  assertArrayIncludes(new Uint8Array([1, 2, 3]), [3]);
  assertFails(() => assertArrayIncludes([1, 2], [4]), "missing");
});

Deno.test("assertAlmostEquals() applies the tolerance", () => {
  assertAlmostEquals(0.1 + 0.2, 0.3);
  assertAlmostEquals(10, 10.5, 1);
  assertFails(() => assertAlmostEquals(1, 2), "to be close to");
});

Deno.test("assertObjectMatch() checks a subset of keys", () => {
  assertObjectMatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: 2 } });
  assertFails(() => assertObjectMatch({ a: 1 }, { a: 2 }));
});

Deno.test("fail(), unreachable() and unimplemented() always throw", () => {
  assertFails(() => fail(), "Failed assertion.");
  assertFails(() => fail("why"), "Failed assertion: why");
  assertFails(() => unreachable(), "Unreachable");
  assertFails(() => unimplemented(), "Unimplemented");
});

Deno.test("assertThrows() returns the error and checks class and message", () => {
  const error = assertThrows(
    () => {
      throw new RangeError("limit exceeded");
    },
    RangeError,
    "limit",
  );
  assertStrictEquals(error.message, "limit exceeded");
  const anything = assertThrows(() => {
    throw "a string";
  });
  assertStrictEquals(anything, "a string");
  assertFails(() => assertThrows(() => {}), "Expected function to throw.");
  assertFails(
    () =>
      assertThrows(() => {
        throw new TypeError("x");
      }, RangeError),
    'Expected error to be instance of "RangeError", but was "TypeError"',
  );
  assertFails(
    () =>
      assertThrows(
        () => {
          throw new Error("abc");
        },
        Error,
        "xyz",
      ),
    'Expected error message to include "xyz"',
  );
  assertFails(
    () =>
      assertThrows(() => {
        throw "not an error";
      }, Error),
    "A non-Error object was thrown",
  );
});

Deno.test("assertRejects() awaits, returns the error and checks it", async () => {
  const error = await assertRejects(
    () => Promise.reject(new TypeError("bad header")),
    TypeError,
    "header",
  );
  assertStrictEquals(error.message, "bad header");
  const reason = await assertRejects(() => Promise.reject(42));
  assertStrictEquals(reason, 42);
  await assertRejects(
    () => assertRejects(() => Promise.resolve()),
    AssertionError,
    "Expected function to reject.",
  );
  await assertRejects(
    () =>
      assertRejects(() => {
        throw new Error("sync");
      }),
    AssertionError,
    "Function throws when expected to reject",
  );
  await assertRejects(
    () => assertRejects(() => Promise.reject(new Error("x")), RangeError),
    AssertionError,
    'Expected error to be instance of "RangeError"',
  );
  await assertRejects(
    () => assertRejects(() => Promise.reject("str"), Error),
    AssertionError,
    "A non-Error object was rejected",
  );
  assertIsError(new Error("x"), Error, /x/);
});

Deno.test("delay() resolves later and rejects with the signal's reason", async () => {
  const started = performance.now();
  await delay(20);
  assertGreaterOrEqual(performance.now() - started, 15);
  const controller = new AbortController();
  const pending = delay(10_000, { signal: controller.signal });
  const reason = new Error("stop");
  controller.abort(reason);
  assertStrictEquals(await assertRejects(() => pending), reason);
  const aborted = AbortSignal.abort("early");
  assertStrictEquals(
    await assertRejects(() => delay(1, { signal: aborted })),
    "early",
  );
});

Deno.test("deadline() and abortable() reject with the signal's reason", async () => {
  assertStrictEquals(await deadline(Promise.resolve(7), 1000), 7);
  const slow = new AbortController();
  const timedOut = await assertRejects(
    () => deadline(delay(1000, { signal: slow.signal }), 10),
    DOMException,
  );
  assertStrictEquals(timedOut.name, "TimeoutError");
  // deadline() does not stop what it waited for: stop the delay ourselves.
  slow.abort();
  const controller = new AbortController();
  const never = new Promise<never>(() => {});
  const pending = abortable(never, controller.signal);
  controller.abort("cancelled");
  assertStrictEquals(await assertRejects(() => pending), "cancelled");
});

Deno.test("pooledMap() bounds concurrency and keeps input order", async () => {
  let running = 0;
  let peak = 0;
  const results: number[] = [];
  for await (
    const value of pooledMap(2, [30, 10, 20, 5], async (ms) => {
      running++;
      peak = Math.max(peak, running);
      await delay(ms);
      running--;
      return ms;
    })
  ) {
    results.push(value);
  }
  assertEquals(results, [30, 10, 20, 5]);
  assertEquals(peak, 2);
});

Deno.test("FakeTime fakes Date and fires timeouts and intervals on tick", () => {
  using time = new FakeTime(1_000);
  assertEquals(Date.now(), 1_000);
  assertEquals(new Date().getTime(), 1_000);
  assertEquals(new Date(5).getTime(), 5);
  assertInstanceOf(new Date(), Date);
  const fired: string[] = [];
  setTimeout(() => fired.push(`timeout@${Date.now()}`), 100);
  const cancelled = setTimeout(() => fired.push("cancelled"), 50);
  clearTimeout(cancelled);
  const interval = setInterval(() => fired.push(`interval@${Date.now()}`), 40);
  time.tick(99);
  assertEquals(fired, ["interval@1040", "interval@1080"]);
  time.tick(1);
  assertEquals(fired, ["interval@1040", "interval@1080", "timeout@1100"]);
  clearInterval(interval);
  time.tick(1_000);
  assertEquals(fired.length, 3);
  assertEquals(time.now, 2_100);
  assertEquals(time.start, 1_000);
});

Deno.test("FakeTime.now cannot go backwards", () => {
  using time = new FakeTime(1_000);
  assertThrows(
    () => {
      time.now = 999;
    },
    RangeError,
    "Cannot set current time in the past, time must be >= 1000: received 999",
  );
  time.now = 1_500;
  assertEquals(Date.now(), 1_500);
});

Deno.test("FakeTime restores the real globals and allows one instance", () => {
  const realSetTimeout = globalThis.setTimeout;
  const realDate = globalThis.Date;
  const realTimeout = AbortSignal.timeout;
  {
    using _time = new FakeTime();
    assertNotStrictEquals(globalThis.setTimeout, realSetTimeout);
    assertNotStrictEquals(AbortSignal.timeout, realTimeout);
    assertThrows(() => new FakeTime(), TimeError, "time is already faked");
  }
  assertStrictEquals(globalThis.setTimeout, realSetTimeout);
  assertStrictEquals(globalThis.Date, realDate);
  assertStrictEquals(AbortSignal.timeout, realTimeout);
  assertThrows(() => FakeTime.restore(), TimeError, "already restored");
  const time = new FakeTime();
  FakeTime.restore();
  assertThrows(() => time.restore(), TimeError, "already restored");
});

Deno.test("FakeTime.next() fires every timer due at the next time", () => {
  using time = new FakeTime(0);
  const fired: number[] = [];
  setTimeout(() => fired.push(1), 10);
  setTimeout(() => fired.push(2), 10);
  setTimeout(() => fired.push(3), 20);
  assert(time.next());
  assertEquals(fired, [1, 2]);
  assertEquals(time.now, 10);
  assert(time.next());
  assertFalse(time.next());
  assertEquals(fired, [1, 2, 3]);
});

Deno.test("FakeTime.runAll() runs nested timers and bounds endless intervals", () => {
  using time = new FakeTime(0);
  let count = 0;
  setTimeout(() => {
    count++;
    setTimeout(() => count++, 50);
  }, 50);
  time.runAll();
  assertEquals(count, 2);
  assertEquals(time.now, 100);
  const endless = setInterval(() => {}, 1);
  assertThrows(() => time.runAll(), TimeError, "still pending");
  clearInterval(endless);
});

Deno.test("FakeTime.tickAsync() runs microtasks once, before the timers", async () => {
  using time = new FakeTime(0);
  const steps: string[] = [];
  const chain = (async () => {
    await Promise.resolve();
    steps.push("microtask");
    await delay(5);
    steps.push(`first delay@${Date.now()}`);
    await delay(5);
    steps.push(`second delay@${Date.now()}`);
  })();
  // As in @std: code after a timer resumes once the whole tick is over.
  await time.tickAsync(20);
  assertEquals(steps, ["microtask", "first delay@20"]);
  await time.tickAsync(4);
  assertEquals(steps.length, 2);
  await time.tickAsync(1);
  await time.runMicrotasks();
  assertEquals(steps, ["microtask", "first delay@20", "second delay@25"]);
  await chain;
});

Deno.test("FakeTime.nextAsync() and runAllAsync() settle promises between timers", async () => {
  using time = new FakeTime(0);
  const steps: number[] = [];
  const chain = (async () => {
    for (let i = 1; i <= 3; i++) {
      await delay(100);
      steps.push(Date.now());
    }
  })();
  assert(await time.nextAsync());
  await time.runAllAsync();
  await chain;
  assertEquals(steps, [100, 200, 300]);
  assertFalse(await time.nextAsync());
});

Deno.test("FakeTime fakes AbortSignal.timeout and drives deadline()", async () => {
  using time = new FakeTime(0);
  const signal = AbortSignal.timeout(1_000);
  time.tick(999);
  assertFalse(signal.aborted);
  time.tick(1);
  assert(signal.aborted);
  assertEquals((signal.reason as DOMException).name, "TimeoutError");
  const pending = deadline(new Promise<never>(() => {}), 500);
  await time.tickAsync(500);
  const error = await assertRejects(() => pending, DOMException);
  assertEquals(error.name, "TimeoutError");
});

Deno.test("FakeTime timer handles work with Deno.unrefTimer and refTimer", () => {
  using time = new FakeTime(0);
  let fired = false;
  const handle = setTimeout(() => fired = true, 10);
  Deno.unrefTimer(handle);
  Deno.refTimer(Number(handle));
  const persistentFalse = delay(10, { persistent: false });
  time.tick(10);
  assert(fired);
  return persistentFalse;
});

Deno.test("FakeTime.restoreFor() runs a callback on real time", async () => {
  using _time = new FakeTime(0);
  const realNow = await FakeTime.restoreFor(() => Date.now());
  assertGreater(realNow, 1_000_000);
  assertEquals(Date.now(), 0);
});

Deno.test("FakeTime with advanceRate moves on its own", async () => {
  using time = new FakeTime(0, { advanceRate: 1, advanceFrequency: 5 });
  await time.delay(40);
  assertGreater(time.now, 0);
});

Deno.test("spy() and stub() record calls and restore methods", () => {
  const counter = {
    total: 0,
    add(n: number): number {
      this.total += n;
      return this.total;
    },
  };
  {
    using added = spy(counter, "add");
    counter.add(2);
    counter.add(3);
    assertSpyCalls(added, 2);
    assertSpyCall(added, 1, { args: [3], returned: 5, self: counter });
    assertSpyCallArgs(added, 0, [2]);
    assertFails(() => assertSpyCalls(added, 3), "Spy not called as much");
  }
  assertFalse("calls" in counter.add);
  {
    using faked = stub(counter, "add", () => 100);
    assertEquals(counter.add(1), 100);
    assertEquals(counter.total, 5);
    assertSpyCalls(faked, 1);
  }
  assertEquals(counter.add(1), 6);
  const plain = spy((a: number, b: number) => a * b);
  assertEquals(plain(2, 3), 6);
  assertSpyCall(plain, 0, { args: [2, 3], returned: 6 });
  assertThrows(() => plain.restore(), MockError);
});

Deno.test("returnsNext() and resolvesNext() replay values then throw", async () => {
  const next = returnsNext([1, new Error("boom")]);
  assertEquals(next(), 1);
  assertThrows(() => next(), Error, "boom");
  assertThrows(() => next(), MockError);
  const resolves = resolvesNext([Promise.resolve("a")]);
  assertEquals(await resolves(), "a");
  await assertRejects(() => resolves(), MockError);
});
