// redactCredentials: no URL password reaches a message or a log line.
import t from 'tap'
import { redactCredentials } from '../lib/redact.js'

const table: Array<[string, string]> = [
  ['redis://:pw@h:6379/0', 'redis://***@h:6379/0'],
  ['rediss://user:pw@h', 'rediss://***@h'],
  ['REDIS://user:pw@h', 'REDIS://***@h'],
  ['x redis://u:p@h and redis://u2:p2@h2 y', 'x redis://***@h and redis://***@h2 y'],
  ['redis://h:6379', 'redis://h:6379'],
  ['redis://h:6379/0?password=x', 'redis://h:6379/0?password=x'],
  ['"user:pw@host"', '"***@host"'],
  ['"redis:/:pw@host"', '"redis:/***@host"'],
  ['hunter2@host', '***@host'],
  ['redis:default:hunter2@host', '***@host'],
  ['no credentials here: a b', 'no credentials here: a b'],
]
t.test('redactCredentials table', async (t) => {
  for (const [input, expected] of table) t.equal(redactCredentials(input), expected, input)
})
