/**
 * sessionkit's public API. This file only re-exports; each concern lives in its own module.
 */
export * from './errors.js'
export type * from './store.js'
