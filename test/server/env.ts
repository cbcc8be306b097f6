import t from 'tap'
import { ConfigError, envFlag, envInteger, envOneOf, envText } from '../../lib/server/env.js'

t.test('unset and empty are the default', async (t) => {
  t.equal(envText({}, 'A'), undefined)
  t.equal(envText({ A: '' }, 'A'), undefined)
  t.equal(envText({ A: ' x' }, 'A'), ' x')
  t.equal(envInteger({ A: '' }, 'A', 3, 0, 9), 3)
  t.equal(envFlag({ A: '' }, 'A'), false)
  t.equal(envOneOf({ A: '' }, 'A', 'x', ['x', 'y']), 'x')
})

t.test('integers: digits only, in range', async (t) => {
  t.equal(envInteger({ A: '9' }, 'A', 3, 0, 9), 9)
  t.equal(envInteger({ A: '007' }, 'A', 3, 0, 9), 7)
  for (const raw of ['10', '-1', '1e1', '1.0', ' 1', '0x1', '9'.repeat(400)]) {
    t.throws(() => envInteger({ A: raw }, 'A', 3, 0, 9), { name: 'ConfigError', message: /^A must be an integer from 0 to 9/ }, raw)
  }
})

t.test('flags: true/1, false/0, any case; anything else names the variable', async (t) => {
  for (const raw of ['true', 'TRUE', '1']) t.equal(envFlag({ A: raw }, 'A'), true, raw)
  for (const raw of ['false', 'False', '0']) t.equal(envFlag({ A: raw }, 'A'), false, raw)
  t.throws(() => envFlag({ A: 'yes' }, 'A'), new ConfigError('A must be true or false, got "yes"'))
})

t.test('one of a list, as written or lower-cased', async (t) => {
  t.equal(envOneOf({ A: 'y' }, 'A', 'x', ['x', 'y']), 'y')
  t.throws(() => envOneOf({ A: 'Y' }, 'A', 'x', ['x', 'y']), ConfigError)
  t.equal(envOneOf({ A: 'Y' }, 'A', 'x', ['x', 'y'], true), 'y')
})
