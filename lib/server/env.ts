/**
 * Reading one environment variable of the server's configuration (lib/server/config.ts,
 * lib/server/config-hardening.ts). The checks are the library's own (lib/option-check.ts); what
 * differs is the input (text, where unset and empty mean "the default") and the error: a
 * {@link ConfigError} whose message names the variable, so `npm start` says what to fix.
 */
import { flagOption, integerOption, oneOfOption } from '../option-check.js'

/** A configuration problem: the message says which variable and what is wrong. */
export class ConfigError extends Error {
  override name = 'ConfigError'
}

const configError = (name: string, why: string): ConfigError => new ConfigError(`${name} ${why}`)

/** The variable's text, or `undefined` when it is unset or empty (both mean "the default"). */
export function envText(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name]
  return raw === undefined || raw === '' ? undefined : raw
}

/** A decimal integer from `min` to `max` (no sign, no exponent, no unit); `fallback` when unset. */
export function envInteger(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = envText(env, name)
  // Text that is not all digits stays text, which the integer check refuses (quoted in the message).
  const value = raw === undefined || !/^\d+$/.test(raw) ? raw : Number(raw)
  return integerOption(name, value, fallback, min, max, configError)
}

/** `true`/`1` or `false`/`0` (any case); false when unset. */
export function envFlag(env: NodeJS.ProcessEnv, name: string): boolean {
  const raw = envText(env, name)
  const lower = raw?.toLowerCase()
  const value = lower === 'true' || lower === '1' ? true : lower === 'false' || lower === '0' ? false : raw
  return flagOption(name, value, false, configError)
}

/** One of `allowed` (as written, or lower-cased with `lowerCase`); `fallback` when unset. */
export function envOneOf<T extends string>(env: NodeJS.ProcessEnv, name: string, fallback: T, allowed: readonly T[],
  lowerCase = false): T {
  const raw = envText(env, name)
  return oneOfOption(name, lowerCase ? raw?.toLowerCase() : raw, fallback, allowed, configError)
}
