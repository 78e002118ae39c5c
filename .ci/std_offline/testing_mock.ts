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

/** An error related to spying on a function or instance method. */
export class MockError extends Error {
  /**
   * Construct MockError.
   *
   * @param message The error message.
   */
  constructor(message: string) {
    super(message);
    this.name = "MockError";
  }
}

/** Call information recorded by a spy. */
export interface SpyCall<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> {
  /** Arguments passed to a function when called. */
  args: Args;
  /** The value that was returned by a function. */
  returned?: Return;
  /** The error value that was thrown by a function. */
  error?: Error;
  /** The instance that a method was called on. */
  self?: Self;
}

/** A function or instance method wrapper that records all calls made to it. */
export interface Spy<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> {
  (this: Self, ...args: Args): Return;
  /** The function that is being spied on. */
  original: (this: Self, ...args: Args) => Return;
  /** Information about calls made to the function or instance method. */
  calls: SpyCall<Self, Args, Return>[];
  /** Whether or not the original instance method has been restored. */
  restored: boolean;
  /** If spying on an instance method, this restores the original instance method. */
  restore(): void;
  /** Restores the original instance method, if any; called by `using`. */
  [Symbol.dispose](): void;
}

/** An instance method replacement that records all calls made to it. */
export interface Stub<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> extends Spy<Self, Args, Return> {
  /** The function that is used instead of the original. */
  fake: (this: Self, ...args: Args) => Return;
}

/** Call information a spy is expected to have recorded. */
export interface ExpectedSpyCall<
  // deno-lint-ignore no-explicit-any
  Self = any,
  // deno-lint-ignore no-explicit-any
  Args extends unknown[] = any[],
  // deno-lint-ignore no-explicit-any
  Return = any,
> {
  /** Arguments passed to a function when called. */
  args?: [...Args, ...unknown[]];
  /** The instance that a method was called on. */
  self?: Self;
  /** The value that was returned by a function; excludes `error`. */
  returned?: Return;
  /** The expected thrown error. */
  error?: {
    /** The class for the error that was thrown. */
    // deno-lint-ignore no-explicit-any
    Class?: new (...args: any[]) => Error;
    /** Part of the message for the error that was thrown. */
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
 * Creates a spy function: with no argument, one that returns `undefined`;
 * with a function, one that calls it; with an object and a method name, one
 * that replaces that method until restored.
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
 * Wraps a function with a spy.
 *
 * @param func The function to spy on.
 * @returns The spy.
 */
export function spy<Self, Args extends unknown[], Return>(
  func: (this: Self, ...args: Args) => Return,
): Spy<Self, Args, Return>;
/**
 * Wraps an instance method with a spy.
 *
 * @param self The object to spy on.
 * @param property The name of the method.
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
 * Replaces an instance method with a stub that returns `undefined`, or
 * calls `func`, until restored.
 *
 * @param self The object to stub.
 * @param property The name of the method.
 * @param func The optional replacement.
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
 * Asserts that a spy is called as much as expected and no more.
 *
 * @param spy The spy to check.
 * @param expectedCalls The number of the expected calls.
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
 * Asserts that a spy is called as expected.
 *
 * @param spy The spy to check.
 * @param callIndex The index of the call to check.
 * @param expected The expected spy call.
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
 * Asserts that a spy is called with a specific arg as expected.
 *
 * @param spy The spy to check.
 * @param callIndex The index of the call to check.
 * @param argIndex The index of the argument to check.
 * @param expected The expected argument.
 * @returns The actual argument.
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
 * Asserts that a spy is called with the expected args.
 *
 * @param spy The spy to check.
 * @param callIndex The index of the call to check.
 * @param expected The expected args.
 * @returns The actual args.
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
 * Creates a function that returns (or throws, for an `Error`) the next value
 * of `values` each time it is called.
 *
 * @typeParam Return The type of each item of the iterable.
 * @param values The iterable values.
 * @returns A function that returns the next value each call.
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
 * Creates a function that resolves (or rejects, for an `Error`) the awaited
 * next value of `values` each time it is called.
 *
 * @typeParam Return The type of each item of the iterable.
 * @param values The iterable values.
 * @returns A function that resolves the next value each call.
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
