// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * The one way options are checked: every check throws in std's shape,
 * `Cannot create client as '<option>' must be <requirement>: current value
 * is <value>`, a `TypeError` for a value of the wrong type and a `RangeError`
 * for a number out of range. Each check returns the value, typed, so callers
 * can check and destructure in one step.
 *
 * @module
 */

/** The longest delay `setTimeout` can wait: 2 ** 31 - 1 ms, about 24.8 days. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Shows a value in an error message: strings quoted, objects shallow. */
function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function";
  if (typeof value === "object" && value !== null) {
    return Deno.inspect(value, { depth: 1, colors: false, compact: true });
  }
  return String(value);
}

/**
 * Throws the option error: by default a `RangeError` when `value` is a
 * number (the right type, but not the right size), else a `TypeError`.
 *
 * @param name The option, as the caller wrote it (`retry.maxAttempts`).
 * @param requirement What it must be (`a positive integer`).
 * @param value What it is.
 * @param subject What could not be done (`create client`).
 * @param wrongType Whether the value has the wrong type altogether.
 */
export function invalidOption(
  name: string,
  requirement: string,
  value: unknown,
  subject = "create client",
  wrongType: boolean = typeof value !== "number",
): never {
  const message =
    `Cannot ${subject} as '${name}' must be ${requirement}: current value is ${
      show(value)
    }`;
  throw wrongType ? new TypeError(message) : new RangeError(message);
}

/** An integer of at least `min`. */
export function checkInteger(
  name: string,
  value: unknown,
  min: number,
  subject?: string,
): number {
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < min
  ) {
    invalidOption(
      name,
      min === 1 ? "a positive integer" : `an integer >= ${min}`,
      value,
      subject,
    );
  }
  return value;
}

/** A count: an integer of at least `min`, or `Infinity` for no limit. */
export function checkCount(name: string, value: unknown, min: number): number {
  if (value === Infinity) return value;
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < min
  ) {
    invalidOption(name, `an integer >= ${min} or Infinity`, value);
  }
  return value;
}

/**
 * A duration in milliseconds: positive (or, with `allowZero`, at least 0),
 * no longer than a timer can wait; `Infinity` when `allowInfinity`.
 */
export function checkDuration(
  name: string,
  value: unknown,
  { allowInfinity = false, allowZero = false } = {},
  subject?: string,
): number {
  if (allowInfinity && value === Infinity) return value;
  if (
    typeof value !== "number" || !Number.isFinite(value) ||
    (allowZero ? value < 0 : value <= 0) || value > MAX_TIMER_MS
  ) {
    const range = allowZero
      ? `a number of milliseconds from 0 to ${MAX_TIMER_MS}`
      : `a positive number of milliseconds up to ${MAX_TIMER_MS}`;
    invalidOption(
      name,
      allowInfinity ? `${range}, or Infinity` : range,
      value,
      subject,
    );
  }
  return value;
}

/** A finite number of at least 0. */
export function checkNonNegative(
  name: string,
  value: unknown,
  subject?: string,
): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    invalidOption(name, "a non-negative finite number", value, subject);
  }
  return value;
}

/** A boolean. */
export function checkBoolean(
  name: string,
  value: unknown,
  subject?: string,
): boolean {
  if (typeof value !== "boolean") {
    invalidOption(name, "a boolean", value, subject, true);
  }
  return value;
}

/** A function, or `undefined` when `optional`. */
export function checkFunction<T>(
  name: string,
  value: unknown,
  optional: boolean,
  subject?: string,
): T {
  if (optional && value === undefined) return value as T;
  if (typeof value !== "function") {
    invalidOption(name, "a function", value, subject, true);
  }
  return value as T;
}

/** A plain object (not null, not an array). */
export function checkObject<T extends object>(
  name: string,
  value: unknown,
  requirement = "an object",
  subject?: string,
): T {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    invalidOption(name, requirement, value, subject, true);
  }
  return value as T;
}
