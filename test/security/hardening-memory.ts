// Throttling and flood attacks against the server on the memory store (see the suite).
import t from 'tap'
import { hardeningSuite } from '../fixtures/hardening-suite.js'
import { memoryHardening } from '../fixtures/hardening-stores.js'

await hardeningSuite(t, memoryHardening)
