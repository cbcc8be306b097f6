// Throttling and flood attacks against the server on the memory store (see the suite).
import t from 'tap'
import { MemoryStore } from '../../lib/stores/memory.js'
import { hardeningSuite } from '../fixtures/hardening-suite.js'

await hardeningSuite(t, {
  name: 'memory',
  makeStore: (budgets = {}) => new MemoryStore(budgets),
  size: async (store) => {
    const { counters, sessions } = (store as MemoryStore).stats()
    return { counters, sessions }
  },
})
