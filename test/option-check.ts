import t from 'tap'
import { ErrorCodes } from '../lib/errors.js'
import { flagOption, functionOption, integerOption, objectOption, oneOfOption, optionError } from '../lib/option-check.js'

const shape = { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }

t.test('optionError: a coded TypeError naming the option', async (t) => {
  const err = optionError('idleTimeoutMs', 'must be positive')
  t.match(err, shape)
  t.match(err.message, /idleTimeoutMs/)
})

t.test('integerOption: undefined takes the default; the range includes both ends', async (t) => {
  t.equal(integerOption('n', undefined, 7, 1, 10), 7)
  t.equal(integerOption('n', 1, 7, 1, 10), 1)
  t.equal(integerOption('n', 10, 7, 1, 10), 10)
  for (const bad of [0, 11, 1.5, NaN, Infinity, '5', null, true, {}, () => 5]) {
    t.throws(() => integerOption('n', bad, 7, 1, 10), shape, String(bad))
  }
})

t.test('flagOption, oneOfOption, functionOption, objectOption', async (t) => {
  t.equal(flagOption('f', undefined, true), true)
  t.equal(flagOption('f', false, true), false)
  t.throws(() => flagOption('f', 'yes', true), shape)
  t.equal(oneOfOption('p', undefined, 'a', ['a', 'b']), 'a')
  t.equal(oneOfOption('p', 'b', 'a', ['a', 'b']), 'b')
  t.throws(() => oneOfOption('p', 'c', 'a', ['a', 'b']), { ...shape, message: /must be a or b/ })
  t.throws(() => oneOfOption('p', 'd', 'a', ['a', 'b', 'c']), { ...shape, message: /must be one of a, b, c/ })
  const fn = (): number => 1
  t.equal(functionOption('fn', undefined, fn), fn)
  t.equal(functionOption('fn', fn, undefined), fn)
  t.throws(() => functionOption('fn', 1, fn), shape)
  t.doesNotThrow(() => objectOption('o', {}))
  for (const bad of [undefined, null, 'x', 1]) t.throws(() => objectOption('o', bad), shape, String(bad))
})

t.test('a custom fail builds the error, with the value shown as given', async (t) => {
  class Custom extends Error {
    override name = 'Custom'
  }
  const fail = (name: string, why: string): Error => new Custom(`${name} ${why}`)
  t.throws(() => integerOption('PORT', 'http', 0, 0, 65535, fail), { name: 'Custom', message: 'PORT must be an integer from 0 to 65535, got "http"' })
  t.throws(() => flagOption('X', 'maybe', false, fail), { name: 'Custom', message: 'X must be true or false, got "maybe"' })
  t.throws(() => oneOfOption('Y', 'z', 'a', ['a'], fail), { name: 'Custom', message: 'Y must be one of a, got "z"' })
})
