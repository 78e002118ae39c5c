/**
 * OFFLINE STAND-IN for `@std/testing/mock`, for air-gapped machines only.
 *
 * Not a fork of the Deno standard library: a small fallback that
 * `deno task test:offline` maps `@std/testing/mock` to when jsr.io cannot be
 * reached. It covers `spy`, `stub`, `assertSpyCalls`, `assertSpyCall`,
 * `assertSpyCallArgs`, `returnsNext` and `resolvesNext` with the real names
 * and call shapes. See `.ci/std_offline/README.md`.
 *
 * @module
 */

import {
  assertEquals,
  AssertionError,
  assertIsError,
  assertStrictEquals,
} from "./assert.ts";

/**
 * Thrown when a spy or a stub is misused: a method that cannot be replaced,
 * a restore that cannot be done, a call past the end of `returnsNext`.
 */
export class MockError extends Error {
  /**
   * Creates the error.
   *
   * @param message What was misused.
   */
  constructor(message: string) {
    super(message);
    this.name = "MockError";
  }
}

/** One call, as a spy saw it. */
export interface SpyCall<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> {
  /** The arguments of the call. */
  args: Args;
  /** What the call returned, if it returned. */
  returned?: Return;
  /** What the call threw, if it threw. */
  error?: Error;
  /** The `this` of the call. */
  self?: Self;
}

/**
 * A function, or a method put in place of one, that keeps a note of every
 * call made to it.
 */
export interface Spy<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> {
  (this: Self, ...args: Args): Return;
  /** The function each call is passed on to. */
  original: (this: Self, ...args: Args) => Return;
  /** The calls so far, oldest first. */
  calls: SpyCall<Self, Args, Return>[];
  /** Whether the replaced method has been put back. */
  restored: boolean;
  /** Puts the replaced method back (a spy on a method only). */
  restore(): void;
  /** The same as `restore()`, for `using`. */
  [Symbol.dispose](): void;
}

/** A spy that took a method's place and runs a replacement instead of it. */
export interface Stub<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> extends Spy<Self, Args, Return> {
  /** What runs in place of the method. */
  fake: (this: Self, ...args: Args) => Return;
}

/**
 * What {@linkcode assertSpyCall} compares a call with; a field left out is
 * not checked.
 */
export interface ExpectedSpyCall<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> {
  /** The arguments the call should have had. */
  args?: [...Args, ...unknown[]];
  /** The `this` of the call. */
  self?: Self;
  /** What the call should have returned; not together with `error`. */
  returned?: Return;
  /** What the call should have thrown. */
  error?: {
    /** The class of the thrown error. */
    // deno-lint-ignore no-explicit-any
    Class?: new (...args: any[]) => Error;
    /** Text the thrown error's message should contain. */
    msgIncludes?: string;
  };
}

// deno-lint-ignore no-explicit-any
type AnyFunction = (this: any, ...args: any[]) => any;

function makeSpy<Self, Args extends unknown[], Return>(
  original: (this: Self, ...args: Args) => Return,
  implementation: (this: Self, ...args: Args) => Return,
  restore: () => void,
): Spy<Self, Args, Return> {
  const calls: SpyCall<Self, Args, Return>[] = [];
  let restored = false;
  const spyFn = function (this: Self, ...args: Args): Return {
    const call: SpyCall<Self, Args, Return> = { args };
    if (this !== undefined) call.self = this;
    try {
      call.returned = implementation.apply(this, args);
    } catch (error) {
      call.error = error as Error;
      calls.push(call);
      throw error;
    }
    calls.push(call);
    return call.returned;
  } as Spy<Self, Args, Return>;
  Object.defineProperties(spyFn, {
    original: { enumerable: true, value: original },
    calls: { enumerable: true, value: calls },
    restored: { enumerable: true, get: () => restored },
    restore: {
      enumerable: true,
      value: () => {
        if (restored) throw new MockError("Cannot restore: already restored");
        restore();
        restored = true;
      },
    },
    [Symbol.dispose]: {
      value: () => {
        if (!restored) spyFn.restore();
      },
    },
  });
  return spyFn;
}

function replaceMethod<Self, Args extends unknown[], Return>(
  self: Self,
  property: keyof Self,
  replacement: (this: Self, ...args: Args) => Return,
  kind: "spy" | "stub",
): Spy<Self, Args, Return> {
  const original = self[property];
  if (kind === "spy" && typeof original !== "function") {
    throw new MockError("Cannot spy: property is not an instance method");
  }
  if ((original as { restore?: unknown })?.restore !== undefined) {
    throw new MockError(`Cannot ${kind}: already spying on instance method`);
  }
  const descriptor = Object.getOwnPropertyDescriptor(self, property);
  if (descriptor && !descriptor.configurable) {
    throw new MockError(`Cannot ${kind}: non-configurable instance method`);
  }
  const wrapper = makeSpy(
    (original ?? (() => undefined)) as (this: Self, ...args: Args) => Return,
    replacement,
    () => {
      if (descriptor) Object.defineProperty(self, property, descriptor);
      else delete self[property];
    },
  );
  Object.defineProperty(self, property, {
    configurable: true,
    enumerable: descriptor?.enumerable ?? false,
    writable: descriptor?.writable ?? true,
    value: wrapper,
  });
  return wrapper;
}

/**
 * Makes a spy. Without arguments it returns `undefined` on each call; given
 * a function it calls that; given an object and a method name it takes that
 * method's place until restored.
 *
 * @returns The spy.
 */
export function spy<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  Return = undefined,
>(): Spy<Self, Args, Return>;
/**
 * Makes a spy that calls `func` and keeps a note of each call.
 *
 * @param func What each call runs.
 * @returns The spy.
 */
export function spy<Self, Args extends unknown[], Return>(
  func: (this: Self, ...args: Args) => Return,
): Spy<Self, Args, Return>;
/**
 * Puts a spy in the place of `self[property]` until restored; it calls the
 * original method and keeps a note of each call.
 *
 * @param self The object that owns the method.
 * @param property The method's name.
 * @returns The spy.
 */
export function spy<Self, Prop extends keyof Self>(
  self: Self,
  property: Prop,
): Spy<
  Self,
  Self[Prop] extends AnyFunction ? Parameters<Self[Prop]> : unknown[],
  Self[Prop] extends AnyFunction ? ReturnType<Self[Prop]> : unknown
>;
export function spy(
  funcOrSelf?: unknown,
  property?: PropertyKey,
): Spy {
  if (property !== undefined) {
    const self = funcOrSelf as Record<PropertyKey, AnyFunction>;
    const original = self[property];
    return replaceMethod(
      self,
      property,
      function (this: unknown, ...args: unknown[]) {
        return original?.apply(this, args);
      },
      "spy",
    );
  }
  const func = (funcOrSelf ?? (() => undefined)) as AnyFunction;
  return makeSpy(func, func, () => {
    throw new MockError("Cannot restore: function cannot be restored");
  });
}

/**
 * Puts a stub in the place of `self[property]` until restored: each call
 * runs `func` (or, without it, returns `undefined`) and is noted.
 *
 * @param self The object that owns the method.
 * @param property The method's name.
 * @param func What runs instead of the method.
 * @returns The stub.
 */
export function stub<Self, Prop extends keyof Self>(
  self: Self,
  property: Prop,
  func?: Self[Prop] extends AnyFunction ? (
      this: Self,
      ...args: Parameters<Self[Prop]>
    ) => ReturnType<Self[Prop]>
    : never,
): Stub<
  Self,
  Self[Prop] extends AnyFunction ? Parameters<Self[Prop]> : unknown[],
  Self[Prop] extends AnyFunction ? ReturnType<Self[Prop]> : unknown
> {
  const fake = (func ?? (() => undefined)) as AnyFunction;
  const wrapper = replaceMethod(self, property, fake, "stub");
  Object.defineProperty(wrapper, "fake", { enumerable: true, value: fake });
  // deno-lint-ignore no-explicit-any
  return wrapper as any;
}

/**
 * Checks that `spy` has been called exactly `expectedCalls` times.
 *
 * @param spy The spy to look at.
 * @param expectedCalls How many calls it should have seen.
 */
export function assertSpyCalls(
  // deno-lint-ignore no-explicit-any
  spy: { calls: SpyCall<any, any[], any>[] },
  expectedCalls: number,
): void {
  try {
    assertEquals(spy.calls.length, expectedCalls);
  } catch (error) {
    assertIsError(error);
    const message = spy.calls.length < expectedCalls
      ? "Spy not called as much as expected:\n"
      : "Spy called more than expected:\n";
    throw new AssertionError(
      message + error.message.split("\n").slice(1).join("\n"),
    );
  }
}

function spyCallAt<Self, Args extends unknown[], Return>(
  spy: { calls: SpyCall<Self, Args, Return>[] },
  callIndex: number,
): SpyCall<Self, Args, Return> {
  const call = spy.calls[callIndex];
  if (call === undefined) {
    throw new AssertionError("Spy not called as much as expected");
  }
  return call;
}

/**
 * Checks call number `callIndex` of `spy` against `expected`: its arguments,
 * its `this`, and what it returned or threw.
 *
 * @param spy The spy to look at.
 * @param callIndex Which call, counting from 0.
 * @param expected What the call should look like.
 */
export function assertSpyCall<Self, Args extends unknown[], Return>(
  spy: { calls: SpyCall<Self, Args, Return>[] },
  callIndex: number,
  expected?: ExpectedSpyCall<Self, Args, Return>,
): void {
  const call = spyCallAt(spy, callIndex);
  if (!expected) return;
  if (expected.args) {
    assertEquals<unknown[]>(
      call.args,
      expected.args,
      "Spy not called with expected args",
    );
  }
  if ("self" in expected) {
    assertStrictEquals(
      call.self,
      expected.self,
      "Spy not called as method on expected self",
    );
  }
  if ("returned" in expected) {
    if ("error" in expected) {
      throw new TypeError(
        "Do not expect error and return, only one should be expected",
      );
    }
    if (call.error) {
      throw new AssertionError(
        "Spy call did not return expected value, an error was thrown.",
      );
    }
    assertEquals(
      call.returned,
      expected.returned,
      "Spy call did not return expected value",
    );
  }
  if ("error" in expected) {
    if ("returned" in call) {
      throw new AssertionError(
        "Spy call did not throw an error, a value was returned.",
      );
    }
    assertIsError(
      call.error,
      expected.error?.Class ?? Error,
      expected.error?.msgIncludes ?? "",
    );
  }
}

/**
 * Checks one argument of one call of `spy`, deeply.
 *
 * @param spy The spy to look at.
 * @param callIndex Which call, counting from 0.
 * @param argIndex Which argument, counting from 0.
 * @param expected What the argument should equal.
 * @returns The argument as it was passed.
 */
export function assertSpyCallArg<
  Self,
  Args extends unknown[],
  Return,
  ExpectedArg,
>(
  spy: { calls: SpyCall<Self, Args, Return>[] },
  callIndex: number,
  argIndex: number,
  expected: ExpectedArg,
): ExpectedArg {
  const call = spyCallAt(spy, callIndex);
  const arg = call.args[argIndex];
  assertEquals(arg, expected);
  return arg as ExpectedArg;
}

/**
 * Checks the arguments of one call of `spy`, deeply.
 *
 * @param spy The spy to look at.
 * @param callIndex Which call, counting from 0.
 * @param expected What the arguments should equal.
 * @returns The arguments as they were passed.
 */
export function assertSpyCallArgs<
  Self,
  Args extends unknown[],
  Return,
  ExpectedArgs extends unknown[],
>(
  spy: { calls: SpyCall<Self, Args, Return>[] },
  callIndex: number,
  expected: ExpectedArgs,
): ExpectedArgs {
  const call = spyCallAt(spy, callIndex);
  assertEquals<unknown[]>(call.args, expected);
  return call.args as unknown as ExpectedArgs;
}

/**
 * Makes a function whose n-th call gives the n-th item of `values`: returned,
 * or thrown if it is an `Error`. A call past the last item throws a
 * {@linkcode MockError}.
 *
 * @typeParam Return The item type.
 * @param values The items, in call order.
 * @returns The function.
 */
export function returnsNext<Return>(
  values: Iterable<Return | Error>,
): (...args: unknown[]) => Return {
  const iterator = values[Symbol.iterator]();
  let calls = 0;
  return () => {
    calls++;
    const { done, value } = iterator.next();
    if (done) {
      throw new MockError(
        `Not expected to be called more than ${calls - 1} time(s)`,
      );
    }
    if (value instanceof Error) throw value;
    return value;
  };
}

/**
 * The async form of {@linkcode returnsNext}: the n-th call awaits the n-th
 * item of `values` and fulfils with it, or rejects if it is an `Error`.
 *
 * @typeParam Return The item type, once awaited.
 * @param values The items, in call order, from a sync or an async iterable.
 * @returns The function.
 */
export function resolvesNext<Return>(
  values:
    | Iterable<Return | Error | Promise<Return | Error>>
    | AsyncIterable<Return | Error | Promise<Return | Error>>,
): (...args: unknown[]) => Promise<Return> {
  const iterator = Symbol.asyncIterator in values
    ? values[Symbol.asyncIterator]()
    : values[Symbol.iterator]();
  let calls = 0;
  return async () => {
    calls++;
    const next = await iterator.next();
    if (next.done) {
      throw new MockError(
        `Not expected to be called more than ${calls - 1} time(s)`,
      );
    }
    const value = await next.value;
    if (value instanceof Error) throw value;
    return value;
  };
}
