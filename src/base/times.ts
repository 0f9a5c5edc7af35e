/**
 * The time rule: how s3c reads, stores, compares and restores modification times. Every command
 * that compares or sets a time (upload, download, bundle, tar create, tar extract, download-all)
 * goes through here, so one rule holds everywhere (docs/DESIGN.md, "The time rule").
 *
 *  - A local time is read at full precision: `stat(..., {bigint: true}).mtimeNs`, integer
 *    nanoseconds. Jobs are JSON, so it travels as a decimal string.
 *  - It is stored in rclone's `mtime` format: seconds since the epoch, a point and the fraction
 *    with its trailing zeros trimmed (`1700000000.123456789`, `1700000000.5`, `1700000001`).
 *    The number of digits says nothing about the precision, and the value is parsed exactly
 *    (decimal string → integer nanoseconds), never through a float.
 *  - Node 20 (libuv 1.46) sets file times at microseconds: a restored file can never carry the
 *    nanoseconds of the original. So a stored time and a local time are the same when they are
 *    equal truncated to microseconds. Older s3c versions stored milliseconds rounded to 3
 *    digits: a value with exactly 3 fraction digits matches a local time less than 1 ms away.
 *  - An object without `mtime` metadata has Last-Modified truncated to whole seconds as its
 *    time (what HEAD and HTTP dates give; the listing's milliseconds are cut to match), in the
 *    listing, the HEAD and the restored file alike, and it is compared at whole seconds.
 */

const NS_PER_S = 1_000_000_000n
const NS_PER_MS = 1_000_000n
const NS_PER_US = 1_000n

/** How precisely a time is known, which decides how it is compared. */
export type TimePrecision = 'ns' | 'ms' | 's'

/** A modification time: integer nanoseconds since the epoch (negative before 1970). */
export interface FileTime {
  ns: bigint
  precision: TimePrecision
}

/** Division rounding towards minus infinity (BigInt division truncates towards zero). */
export function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b
  return a % b !== 0n && (a < 0n) !== (b < 0n) ? q - 1n : q
}

/** A time given as nanoseconds (bigint or decimal string, as jobs carry it). */
export function toNs(value: bigint | string): bigint {
  return typeof value === 'bigint' ? value : BigInt(value)
}

/** Decimal seconds for a time in nanoseconds, the fraction's trailing zeros trimmed (rclone's `mtime` format). */
export function formatSeconds(value: bigint | string): string {
  const ns = toNs(value)
  const negative = ns < 0n
  const abs = negative ? -ns : ns
  const fraction = String(abs % NS_PER_S).padStart(9, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${abs / NS_PER_S}${fraction ? `.${fraction}` : ''}`
}

/** The `x-amz-meta-mtime` value s3c stores for a local time: rclone's format at full precision. */
export const formatMtime = formatSeconds

/**
 * An `mtime` metadata value as a time, or undefined when it is not a decimal number. Digits
 * after the ninth are cut (rclone's rule); exactly three fraction digits mark a value that may
 * come from an older s3c, which rounded to milliseconds.
 */
export function parseMtime(value: string | undefined): FileTime | undefined {
  if (value === undefined) return undefined
  const m = /^\s*([+-]?)(\d+)(?:\.(\d*))?\s*$/.exec(value)
  if (!m) return undefined
  const [, sign, whole, fraction = ''] = m
  const abs = BigInt(whole) * NS_PER_S + BigInt(fraction.slice(0, 9).padEnd(9, '0'))
  return {ns: sign === '-' ? -abs : abs, precision: fraction.length === 3 ? 'ms' : 'ns'}
}

/**
 * The time of an object without `mtime` metadata: Last-Modified truncated to whole seconds.
 * Takes milliseconds (a listing) or an HTTP date (HEAD, GET), which has whole seconds already.
 */
export function lastModifiedTime(value: number | string | Date): FileTime {
  const ms = typeof value === 'number' ? value : typeof value === 'string' ? Date.parse(value) : value.getTime()
  const seconds = BigInt(Math.floor((Number.isFinite(ms) ? ms : 0) / 1000))
  return {ns: seconds * NS_PER_S, precision: 's'}
}

/**
 * True when a local file's time (nanoseconds from `stat`) is the time a stored one says, at the
 * precision both sides keep: microseconds (what a restored file can hold), within 1 ms for a
 * value an older s3c rounded to milliseconds, whole seconds for Last-Modified.
 */
export function sameTime(stored: FileTime, local: bigint | string): boolean {
  const ns = toNs(local)
  switch (stored.precision) {
    case 'ns':
      return floorDiv(stored.ns, NS_PER_US) === floorDiv(ns, NS_PER_US)
    case 'ms': {
      const diff = stored.ns - ns
      return diff < NS_PER_MS && diff > -NS_PER_MS
    }
    case 's':
      return floorDiv(stored.ns, NS_PER_S) === floorDiv(ns, NS_PER_S)
  }
}

/** Whole seconds (rounded down), for tar headers. */
export function wholeSeconds(value: bigint | string): number {
  return Number(floorDiv(toNs(value), NS_PER_S))
}

/** Nanoseconds of a time in whole seconds (a tar header's). */
export function secondsToNs(seconds: number): bigint {
  return BigInt(Math.floor(seconds)) * NS_PER_S
}

/**
 * What to give fs.utimes / futimes so the file ends up with exactly the microseconds of `ns`.
 * Node passes a Date at milliseconds and refuses negative numbers, but a numeric string goes
 * through unchanged; libuv then cuts the fraction to microseconds towards zero. Aiming at the
 * middle of the microsecond (+500 ns, or -500 ns before 1970) keeps the float's rounding error
 * (~120 ns at today's times) from landing in the neighbouring microsecond.
 */
export function utimesValue(value: bigint | string): string {
  const us = floorDiv(toNs(value), NS_PER_US)
  const aim = us * NS_PER_US + (us >= 0n ? 500n : -500n)
  const negative = aim < 0n
  const abs = negative ? -aim : aim
  return `${negative ? '-' : ''}${abs / NS_PER_S}.${String(abs % NS_PER_S).padStart(9, '0')}`
}
