/**
 * Checking options, one way everywhere: the session manager, the stores, the login throttle and
 * the server's environment variables all use these checkers, so a limit is written one way and
 * a bad value is refused with the same words wherever it is given.
 *
 * Each checker returns the value, or `fallback` when it is `undefined`, and otherwise throws what
 * `fail(name, why)` builds: by default {@link optionError}, a `TypeError` with `code`
 * `ERR_OPTION_INVALID` (lib/errors.ts) naming the option; the server's configuration passes its
 * own, which names the environment variable (lib/server/env.ts). A programmer error fails loudly
 * and at start-up, never on the first request that happens to use the option.
 */
import { ErrorCodes, typeError, type CodedError } from './errors.js'

/** Builds the error for option `name`; `why` says what is wrong (`must be …, got …`). */
export type OptionFail = (name: string, why: string) => Error

/** The error for a bad library option: a `TypeError`, `code` `ERR_OPTION_INVALID`, naming it. */
export function optionError(name: string, why: string): TypeError & CodedError {
  return typeError(ErrorCodes.OPTION_INVALID, `option ${name} ${why}`)
}

/** A value for a message: numbers and booleans as they are, text quoted, anything else by type. */
function shown(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value)
  return `a ${typeof value}`
}

/** `value` if it is an integer from `min` to `max` (both included); `fallback` if undefined. */
export function integerOption(name: string, value: unknown, fallback: number, min: number, max: number,
  fail: OptionFail = optionError): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw fail(name, `must be an integer from ${min} to ${max}, got ${shown(value)}`)
  }
  return value
}

/** `value` if it is a boolean; `fallback` if undefined. */
export function flagOption(name: string, value: unknown, fallback: boolean, fail: OptionFail = optionError): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw fail(name, `must be true or false, got ${shown(value)}`)
  return value
}

/** `value` if it is one of `allowed`; `fallback` if undefined. */
export function oneOfOption<T extends string>(name: string, value: unknown, fallback: T, allowed: readonly T[],
  fail: OptionFail = optionError): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) {
    const list = allowed.length === 2 ? `${allowed[0]} or ${allowed[1]}` : `one of ${allowed.join(', ')}`
    throw fail(name, `must be ${list}, got ${shown(value)}`)
  }
  return value as T
}

/** `value` if it is a function; `fallback` if undefined. */
export function functionOption<F>(name: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw optionError(name, `must be a function, got ${shown(value)}`)
  return value as F
}

/** Throws unless `value` is a non-null object (an options bag). */
export function objectOption(name: string, value: unknown): asserts value is object {
  if (typeof value !== 'object' || value === null) throw optionError(name, `must be an object, got ${shown(value)}`)
}
