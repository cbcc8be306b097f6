import t from 'tap'
import { MemoryStore } from '../../lib/stores/memory.js'
import { freshnessSuite } from '../fixtures/freshness-suite.js'

await freshnessSuite(t, { name: 'memory', makeStore: () => new MemoryStore() })
