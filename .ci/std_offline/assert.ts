/**
 * OFFLINE STAND-IN for `@std/assert`, for air-gapped machines only.
 *
 * This is not a fork of the Deno standard library: it is a small fallback
 * that `deno task test:offline` maps `@std/assert` to (through
 * `.ci/std_offline/import_map.json`) when jsr.io cannot be reached. It keeps
 * the export names, signatures and error messages of the real `@std/assert`
 * for the subset our tests use, and is built on `node:assert/strict`. See
 * `.ci/std_offline/README.md` for what differs.
 *
 * @module
 */

import nodeAssert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";

/** What every check here throws when it does not hold. */
export class AssertionError extends Error {
  /**
   * Creates the error.
   *
   * @param message What the failed check says.
   * @param options Passed on to `Error`, e.g. a `cause`.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AssertionError";
  }
}

/** The values that `if` treats as false. */
export type Falsy = false | 0 | 0n | "" | null | undefined;

/**
 * Anything indexable that has a length (an array, a typed array...), except
 * a string.
 */
export type ArrayLikeArg<T> = ArrayLike<T> & object;

/** A class, or a constructor function, of any shape. */
// deno-lint-ignore no-explicit-any
export type AnyConstructor = new (...args: any[]) => any;

/** What `new T()` gives for a constructor `T`. */
export type GetConstructorType<T extends AnyConstructor> = InstanceType<T>;

function suffix(msg: string | undefined): string {
  return msg ? `: ${msg}` : ".";
}

function format(value: unknown): string {
  return Deno.inspect(value, {
    depth: Infinity,
    sorted: true,
    trailingComma: true,
    compact: false,
    iterableLimit: Infinity,
    strAbbreviateSize: Infinity,
    getters: true,
  });
}

// deno-lint-ignore no-control-regex
const ANSI_PATTERN = /\u001b\[[0-9;]*m/g;

function stripAnsi(text: string): string {
  return text.replace(ANSI_PATTERN, "");
}

/** The `+ actual - expected` diff that `node:assert/strict` prints. */
function diffOf(actual: unknown, expected: unknown): string {
  try {
    nodeAssert.deepStrictEqual(actual, expected);
  } catch (error) {
    if (error instanceof Error) {
      const lines = error.message.split("\n");
      return lines.slice(1).join("\n").replace(/^\n+/, "");
    }
  }
  return `actual:   ${format(actual)}\nexpected: ${format(expected)}\n`;
}

/**
 * Whether two values are deeply equal: the check behind
 * {@linkcode assertEquals}. It is Node's `util.isDeepStrictEqual`, stricter
 * than `@std`'s in places: `0` and `-0` differ, and `Error` messages and the
 * entries of `Headers` count.
 *
 * @param c One value.
 * @param d The other value.
 * @returns Whether they are deeply equal.
 */
export function equal(c: unknown, d: unknown): boolean {
  return isDeepStrictEqual(c, d);
}

/**
 * Checks that `expr` is truthy.
 *
 * @param expr The value to check.
 * @param msg Text for the error when the check fails.
 */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg);
}

/**
 * Checks that `expr` is falsy.
 *
 * @param expr The value to check.
 * @param msg Text for the error when the check fails.
 */
export function assertFalse(expr: unknown, msg = ""): asserts expr is Falsy {
  if (expr) throw new AssertionError(msg);
}

/**
 * Checks that `actual` deeply equals `expected` (see {@linkcode equal}); the
 * error shows where they differ.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it should equal.
 * @param msg Text for the error when the check fails.
 */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) return;
  throw new AssertionError(
    `Values are not equal${suffix(msg)}\n\n${diffOf(actual, expected)}`,
  );
}

/**
 * Checks that `actual` and `expected` are not deeply equal.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it must differ from.
 * @param msg Text for the error when the check fails.
 */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) return;
  throw new AssertionError(
    `Expected actual: ${format(actual)} not to be: ${format(expected)}${
      suffix(msg)
    }`,
  );
}

/**
 * Checks that `actual` and `expected` are one and the same by `Object.is`:
 * for objects, the same reference.
 *
 * @typeParam T The type `actual` is narrowed to.
 * @param actual The value under test.
 * @param expected The value it should be.
 * @param msg Text for the error when the check fails.
 */
export function assertStrictEquals<T>(
  actual: unknown,
  expected: T,
  msg?: string,
): asserts actual is T {
  if (Object.is(actual, expected)) return;
  const sameShape = typeof actual === "object" && actual !== null &&
    format(actual) === format(expected);
  const message = sameShape
    ? `Values have the same structure but are not reference-equal${
      suffix(msg)
    }\n\n    ${format(actual).split("\n").join("\n    ")}\n`
    : `Values are not strictly equal${suffix(msg)}\n\n${
      diffOf(actual, expected)
    }`;
  throw new AssertionError(message);
}

/**
 * Checks that `actual` and `expected` are not the same by `Object.is`.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it must not be.
 * @param msg Text for the error when the check fails.
 */
export function assertNotStrictEquals<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (!Object.is(actual, expected)) return;
  throw new AssertionError(
    `Expected "actual" to not be strictly equal to: ${format(actual)}${
      suffix(msg)
    }\n`,
  );
}

/**
 * Checks that two numbers differ by `tolerance` at most. Without one, the
 * margin is a ten-millionth of `expected` (1e-7 when `expected` is not
 * finite).
 *
 * @param actual The value under test.
 * @param expected The number it should be close to.
 * @param tolerance The largest difference allowed.
 * @param msg Text for the error when the check fails.
 */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance?: number,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  const limit = tolerance ??
    (Number.isFinite(expected) ? Math.abs(expected * 1e-7) : 1e-7);
  if (delta <= limit) return;
  const show = (n: number) => Number.isInteger(n) ? n : n.toExponential();
  throw new AssertionError(
    `Expected actual: "${show(actual)}" to be close to "${
      show(expected)
    }": delta "${show(delta)}" is greater than "${show(limit)}"${suffix(msg)}`,
  );
}

/**
 * Checks that `actual` is neither `null` nor `undefined`, and narrows its
 * type to match.
 *
 * @typeParam T The declared type of `actual`.
 * @param actual The value to check.
 * @param msg Text for the error when the check fails.
 */
export function assertExists<T>(
  actual: T,
  msg?: string,
): asserts actual is NonNullable<T> {
  if (actual === undefined || actual === null) {
    throw new AssertionError(
      `Expected actual: "${actual}" to not be null or undefined${suffix(msg)}`,
    );
  }
}

/**
 * Checks that `actual` is an instance of `expectedType` (by `instanceof`),
 * and narrows its type to match.
 *
 * @typeParam T The constructor checked against.
 * @param actual The value to check.
 * @param expectedType The class it should belong to.
 * @param msg Text for the error when the check fails.
 */
export function assertInstanceOf<T extends AnyConstructor>(
  actual: unknown,
  expectedType: T,
  msg = "",
): asserts actual is GetConstructorType<T> {
  if (actual instanceof expectedType) return;
  const expectedName = expectedType.name;
  let actualName: string;
  if (actual === null) actualName = "null";
  else if (actual === undefined) actualName = "undefined";
  else if (typeof actual === "object") {
    actualName = actual.constructor?.name ?? "Object";
  } else actualName = typeof actual;
  let message: string;
  if (expectedName === actualName) {
    message = `Expected object to be an instance of "${expectedName}"${
      suffix(msg)
    }`;
  } else if (actualName === "function") {
    message =
      `Expected object to be an instance of "${expectedName}" but was not an instanced object${
        suffix(msg)
      }`;
  } else {
    message =
      `Expected object to be an instance of "${expectedName}" but was "${actualName}"${
        suffix(msg)
      }`;
  }
  throw new AssertionError(message);
}

/**
 * Checks that `actual` is not an instance of `unexpectedType`.
 *
 * @typeParam A The declared type of `actual`.
 * @typeParam T The instance type ruled out.
 * @param actual The value to check.
 * @param unexpectedType The class it must not belong to.
 * @param msg Text for the error when the check fails.
 */
export function assertNotInstanceOf<A, T>(
  actual: A,
  // deno-lint-ignore no-explicit-any
  unexpectedType: abstract new (...args: any[]) => T,
  msg?: string,
): asserts actual is Exclude<A, T> {
  if (!(actual instanceof unexpectedType)) return;
  throw new AssertionError(
    `Expected object to not be an instance of "${typeof unexpectedType}"${
      suffix(msg)
    }`,
  );
}

/**
 * Checks that `error` is an `Error`; if asked, also that it belongs to
 * `ErrorClass` and that its message contains `msgMatches` (a string) or
 * matches it (a pattern).
 *
 * @typeParam E The type `error` is narrowed to.
 * @param error The value to check.
 * @param ErrorClass The class it should belong to.
 * @param msgMatches Text its message should contain, or a pattern it should
 * match.
 * @param msg Text for the error when the check fails.
 */
export function assertIsError<E extends Error = Error>(
  error: unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass?: abstract new (...args: any[]) => E,
  msgMatches?: string | RegExp,
  msg?: string,
): asserts error is E {
  if (!(error instanceof Error)) {
    throw new AssertionError(
      `Expected "error" to be an Error object${suffix(msg)}`,
    );
  }
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${error.constructor?.name}"${
        suffix(msg)
      }`,
    );
  }
  if (msgMatches === undefined || msgMatches === "") return;
  const message = stripAnsi(error.message);
  const matches = typeof msgMatches === "string"
    ? message.includes(stripAnsi(msgMatches))
    : msgMatches.test(message);
  if (!matches) {
    const wanted = typeof msgMatches === "string"
      ? JSON.stringify(msgMatches)
      : msgMatches.toString();
    throw new AssertionError(
      `Expected error message to include ${wanted}, but got ${
        JSON.stringify(error.message)
      }${suffix(msg)}`,
    );
  }
}

function isErrorClass(value: unknown): boolean {
  return typeof value === "function" &&
    (value.prototype instanceof Error || value.prototype === Error.prototype);
}

/**
 * Calls `fn` and checks that it throws.
 *
 * @param fn The function to call.
 * @param msg Text for the error when the check fails.
 * @returns What `fn` threw.
 */
export function assertThrows(fn: () => unknown, msg?: string): unknown;
/**
 * Calls `fn` and checks that it throws an `ErrorClass` whose message
 * contains `msgIncludes`.
 *
 * @typeParam E The type of error expected.
 * @param fn The function to call.
 * @param ErrorClass The class the thrown error should belong to.
 * @param msgIncludes Text its message should contain.
 * @param msg Text for the error when the check fails.
 * @returns What `fn` threw.
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  ErrorClass: abstract new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): E;
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClassOrMsg?: (abstract new (...args: any[]) => E) | string,
  msgIncludesOrMsg?: string,
  msg?: string,
): E | Error | unknown {
  // deno-lint-ignore no-explicit-any
  let ErrorClass: (abstract new (...args: any[]) => E) | undefined;
  let msgIncludes: string | undefined;
  if (typeof errorClassOrMsg === "string") {
    msg = errorClassOrMsg;
  } else if (isErrorClass(errorClassOrMsg)) {
    ErrorClass = errorClassOrMsg;
    msgIncludes = msgIncludesOrMsg;
  } else {
    msg = msgIncludesOrMsg;
  }
  try {
    fn();
  } catch (error) {
    if (ErrorClass) {
      if (!(error instanceof Error)) {
        throw new AssertionError(
          `A non-Error object was thrown${suffix(msg)}`,
        );
      }
      assertIsError(error, ErrorClass, msgIncludes, msg);
    }
    return error;
  }
  throw new AssertionError(`Expected function to throw${suffix(msg)}`);
}

/**
 * Calls `fn` and checks that the promise it returns rejects.
 *
 * @param fn The function to call.
 * @param msg Text for the error when the check fails.
 * @returns A promise of the rejection reason.
 */
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  msg?: string,
): Promise<unknown>;
/**
 * Calls `fn` and checks that the promise it returns rejects with an
 * `ErrorClass` whose message contains `msgIncludes`.
 *
 * @typeParam E The type of error expected.
 * @param fn The function to call.
 * @param ErrorClass The class the rejection should belong to.
 * @param msgIncludes Text its message should contain.
 * @param msg Text for the error when the check fails.
 * @returns A promise of the rejection reason.
 */
export function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  ErrorClass: abstract new (...args: any[]) => E,
  msgIncludes?: string,
  msg?: string,
): Promise<E>;
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  errorClassOrMsg?: (abstract new (...args: any[]) => E) | string,
  msgIncludesOrMsg?: string,
  msg?: string,
): Promise<E | Error | unknown> {
  // deno-lint-ignore no-explicit-any
  let ErrorClass: (abstract new (...args: any[]) => E) | undefined;
  let msgIncludes: string | undefined;
  if (typeof errorClassOrMsg === "string") {
    msg = errorClassOrMsg;
  } else if (isErrorClass(errorClassOrMsg)) {
    ErrorClass = errorClassOrMsg;
    msgIncludes = msgIncludesOrMsg;
  }
  let returned: unknown;
  try {
    returned = fn();
  } catch {
    throw new AssertionError(
      `Function throws when expected to reject${suffix(msg)}`,
    );
  }
  if (
    returned === null || typeof returned !== "object" ||
    typeof (returned as PromiseLike<unknown>).then !== "function"
  ) {
    throw new AssertionError(
      `Function throws when expected to reject${suffix(msg)}`,
    );
  }
  try {
    await returned;
  } catch (error) {
    if (ErrorClass) {
      if (!(error instanceof Error)) {
        throw new AssertionError(
          `A non-Error object was rejected${suffix(msg)}`,
        );
      }
      assertIsError(error, ErrorClass, msgIncludes, msg);
    }
    return error;
  }
  throw new AssertionError(`Expected function to reject${suffix(msg)}`);
}

/**
 * Checks that the string `actual` matches the pattern `expected`.
 *
 * @param actual The string to test.
 * @param expected The pattern it should match.
 * @param msg Text for the error when the check fails.
 */
export function assertMatch(
  actual: string,
  expected: RegExp,
  msg?: string,
): void {
  if (expected.test(actual)) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to match: "${expected}"${suffix(msg)}`,
  );
}

/**
 * Checks that the string `actual` does not match the pattern `expected`.
 *
 * @param actual The string to test.
 * @param expected The pattern it must not match.
 * @param msg Text for the error when the check fails.
 */
export function assertNotMatch(
  actual: string,
  expected: RegExp,
  msg?: string,
): void {
  if (!expected.test(actual)) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to not match: "${expected}"${suffix(msg)}`,
  );
}

/**
 * Checks that the string `actual` contains `expected`.
 *
 * @param actual The string to search.
 * @param expected The text it should contain.
 * @param msg Text for the error when the check fails.
 */
export function assertStringIncludes(
  actual: string,
  expected: string,
  msg?: string,
): void {
  if (actual.includes(expected)) return;
  throw new AssertionError(
    `Expected actual: "${actual}" to contain: "${expected}"${suffix(msg)}`,
  );
}

/**
 * Checks that each item of `expected` appears somewhere in `actual`,
 * compared deeply; the error lists the ones missing.
 *
 * @typeParam T The item type.
 * @param actual The array-like value to search.
 * @param expected The items it should hold.
 * @param msg Text for the error when the check fails.
 */
export function assertArrayIncludes<T>(
  actual: ArrayLikeArg<T>,
  expected: ArrayLikeArg<T>,
  msg?: string,
): void {
  const haystack = Array.from(actual);
  const missing = Array.from(expected).filter((item) =>
    !haystack.some((candidate) => equal(item, candidate))
  );
  if (missing.length === 0) return;
  throw new AssertionError(
    `Expected actual: "${format(actual)}" to include: "${format(expected)}"${
      suffix(msg)
    }\nmissing: ${format(missing)}`,
  );
}

function pickExpectedKeys(actual: unknown, expected: unknown): unknown {
  if (
    actual === null || typeof actual !== "object" || expected === null ||
    typeof expected !== "object"
  ) {
    return actual;
  }
  if (Array.isArray(actual) && Array.isArray(expected)) {
    return actual.map((item, i) =>
      i < expected.length ? pickExpectedKeys(item, expected[i]) : item
    );
  }
  if (Array.isArray(actual) || Array.isArray(expected)) return actual;
  const picked: Record<PropertyKey, unknown> = {};
  for (const key of Reflect.ownKeys(expected)) {
    if (key in actual) {
      picked[key] = pickExpectedKeys(
        (actual as Record<PropertyKey, unknown>)[key],
        (expected as Record<PropertyKey, unknown>)[key],
      );
    }
  }
  return picked;
}

/**
 * Checks that `actual` has every key of `expected`, at every depth, with a
 * deeply equal value; keys that `expected` leaves out are ignored.
 *
 * @param actual The object to check.
 * @param expected The keys and values it should have.
 * @param msg Text for the error when the check fails.
 */
export function assertObjectMatch(
  // deno-lint-ignore no-explicit-any
  actual: Record<PropertyKey, any>,
  expected: Record<PropertyKey, unknown>,
  msg?: string,
): void {
  assertEquals(pickExpectedKeys(actual, expected), expected, msg);
}

/**
 * Checks that `actual > expected`.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it is compared with.
 * @param msg Text for the error when the check fails.
 */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (actual > expected) return;
  throw new AssertionError(
    msg ?? `Expect ${format(actual)} > ${format(expected)}`,
  );
}

/**
 * Checks that `actual >= expected`.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it is compared with.
 * @param msg Text for the error when the check fails.
 */
export function assertGreaterOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual >= expected) return;
  throw new AssertionError(
    msg ?? `Expect ${format(actual)} >= ${format(expected)}`,
  );
}

/**
 * Checks that `actual < expected`.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it is compared with.
 * @param msg Text for the error when the check fails.
 */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (actual < expected) return;
  throw new AssertionError(
    msg ?? `Expect ${format(actual)} < ${format(expected)}`,
  );
}

/**
 * Checks that `actual <= expected`.
 *
 * @typeParam T The type both values share.
 * @param actual The value under test.
 * @param expected The value it is compared with.
 * @param msg Text for the error when the check fails.
 */
export function assertLessOrEqual<T>(
  actual: T,
  expected: T,
  msg?: string,
): void {
  if (actual <= expected) return;
  throw new AssertionError(
    msg ?? `Expect ${format(actual)} <= ${format(expected)}`,
  );
}

/**
 * Throws an {@linkcode AssertionError}, whatever the state.
 *
 * @param msg Text added to the error.
 * @returns Nothing: it always throws.
 */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${suffix(msg)}`);
}

/**
 * Marks code that should never run: throws if it does.
 *
 * @param msg Text added to the error.
 * @returns Nothing: it always throws.
 */
export function unreachable(msg?: string): never {
  throw new AssertionError(`Unreachable${suffix(msg)}`);
}

/**
 * Stands in for code not written yet: throws when called.
 *
 * @param msg Text added to the error.
 * @returns Nothing: it always throws.
 */
export function unimplemented(msg?: string): never {
  throw new AssertionError(`Unimplemented${suffix(msg)}`);
}
