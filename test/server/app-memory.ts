import t from 'tap'
import { MemoryStore } from '../../lib/stores/memory.js'
import { serverSuite } from '../fixtures/server-suite.js'

await serverSuite(t, { name: 'memory', makeStore: () => new MemoryStore(), storeKind: 'memory' })
