// Copyright 2026 the pooled-fetch authors. MIT license.
/**
 * `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date in any of
 * its three forms (§5.6.7), read into a wait in milliseconds.
 *
 * @module
 */

const DAY = "(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)";
const LONG_DAY = "(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)";
const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];
const MONTH = `(${MONTHS.join("|")})`;
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
// RFC 9110, section 5.6.7: IMF-fixdate, then the obsolete rfc850-date and
// asctime-date forms, which recipients must accept too.
const IMF_FIXDATE = new RegExp(
  `^${DAY}, (\\d{2}) ${MONTH} (\\d{4}) ${TIME} GMT$`,
);
const RFC850_DATE = new RegExp(
  `^${LONG_DAY}, (\\d{2})-${MONTH}-(\\d{2}) ${TIME} GMT$`,
);
const ASCTIME_DATE = new RegExp(
  `^${DAY} ${MONTH} ( \\d|\\d{2}) ${TIME} (\\d{4})$`,
);
const DELTA_SECONDS = /^\d+$/;

function utc(
  year: number,
  month: string,
  day: string,
  hour: string,
  minute: string,
  second: string,
): number | undefined {
  const d = Number(day);
  const h = Number(hour);
  const m = Number(minute);
  const s = Number(second);
  if (h > 23 || m > 59 || s > 60) return undefined;
  const monthIndex = MONTHS.indexOf(month);
  // setUTCFullYear, unlike Date.UTC, takes years 0 to 99 as they are.
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, d);
  // Reject days the month does not have (31 Apr, 29 Feb 2023).
  if (date.getUTCDate() !== d) return undefined;
  // A leap second (:60) rolls over into the next minute.
  return date.setUTCHours(h, m, s);
}

function parseHttpDate(value: string, now: number): number | undefined {
  let match = IMF_FIXDATE.exec(value);
  if (match) {
    const [, day, month, year, h, m, s] = match;
    return utc(Number(year), month!, day!, h!, m!, s!);
  }
  match = RFC850_DATE.exec(value);
  if (match) {
    const [, day, month, yy, h, m, s] = match;
    // RFC 9110, section 5.6.7: a two-digit year more than 50 years in the
    // future is the most recent past year with the same last two digits.
    const currentYear = new Date(now).getUTCFullYear();
    let year = currentYear - (currentYear % 100) + Number(yy);
    if (year > currentYear + 50) year -= 100;
    return utc(year, month!, day!, h!, m!, s!);
  }
  match = ASCTIME_DATE.exec(value);
  if (match) {
    const [, month, day, h, m, s, year] = match;
    return utc(Number(year), month!, day!.trim(), h!, m!, s!);
  }
  return undefined;
}

/**
 * Reads a `Retry-After` header value (RFC 9110, section 10.2.3): either
 * delta-seconds (`120`) or an HTTP-date in any of its three forms
 * (`Wed, 21 Oct 2015 07:28:00 GMT`, and the obsolete RFC 850 and asctime
 * forms).
 *
 * @param value The header value, or `null` when the header is absent.
 * @param now The current time, in milliseconds since the epoch, that an
 * HTTP-date is measured from. Defaults to `Date.now()`.
 * @returns How long to wait, in milliseconds (`0` for a date in the past), or
 * `undefined` when the header is absent or not valid.
 *
 * @example Usage
 * ```ts
 * import { parseRetryAfter } from "./_retry_after.ts";
 *
 * const now = Date.UTC(2015, 9, 21, 7, 28, 0);
 * if (parseRetryAfter("120") !== 120_000) throw new Error("seconds");
 * if (parseRetryAfter("Wed, 21 Oct 2015 07:28:30 GMT", now) !== 30_000) {
 *   throw new Error("date");
 * }
 * if (parseRetryAfter("soon") !== undefined) throw new Error("invalid");
 * ```
 */
export function parseRetryAfter(
  value: string | null,
  now: number = Date.now(),
): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (DELTA_SECONDS.test(trimmed)) return Number(trimmed) * 1000;
  const time = parseHttpDate(trimmed, now);
  if (time === undefined) return undefined;
  return Math.max(0, time - now);
}
