import { Readable } from 'node:stream'
import t from 'tap'
import { verifyPassword } from '../../lib/auth/password.js'
import { USAGE, UsageError, createUserEntry, main, readFirstLine } from '../../lib/server/hash-password.js'
import { validateUser } from '../../lib/server/users.js'

const base = ['--email', ' Ada@Example.com', '--name', 'Ada', '--role', 'admin', '--cost', '4']

/** Fake standard streams: `stdin` yields `input`, output is collected. */
function io(input: string | Readable) {
  const out = { stdout: '', stderr: '' }
  return {
    out,
    io: {
      stdin: typeof input === 'string' ? Readable.from([input]) : input,
      stdout: { write: (s: string) => (out.stdout += s) },
      stderr: { write: (s: string) => (out.stderr += s) },
    },
  }
}

t.test('createUserEntry builds a USERS_FILE entry', async (t) => {
  const entry = await createUserEntry([...base, '--id', 'ada'], 'a long passphrase')
  t.match(entry, { id: 'ada', email: 'ada@example.com', name: 'Ada', role: 'admin' })
  t.match(entry.passwordHash, /^\$2b\$04\$/)
  t.equal(await verifyPassword('a long passphrase', entry.passwordHash), true)
  t.strictSame(validateUser(JSON.parse(JSON.stringify(entry)), 'x'), entry, 'the file loader accepts it')

  const generated = await createUserEntry(base, 'a long passphrase')
  t.match(generated.id, /^[0-9a-f-]{36}$/, 'a random UUID when --id is absent')
  const defaultCost = await createUserEntry(base.slice(0, -2), 'a long passphrase')
  t.match(defaultCost.passwordHash, /^\$2b\$10\$/, 'cost 10 by default')
})

t.test('createUserEntry refuses bad arguments and passwords', async (t) => {
  const usage = { name: 'UsageError' }
  const bad: Array<[string, string[], string]> = [
    ['unknown option', [...base, '--admin'], 'a long passphrase'],
    ['positional', [...base, 'extra'], 'a long passphrase'],
    ['option without value', [...base, '--id'], 'a long passphrase'],
    ['no email', base.slice(2), 'a long passphrase'],
    ['no name', [...base.slice(0, 2), ...base.slice(4)], 'a long passphrase'],
    ['no role', [...base.slice(0, 4), ...base.slice(6)], 'a long passphrase'],
    ...['3', '32', '1e1', '', '10.5', 'ten', '004'].map((c) => [`cost ${c}`, [...base.slice(0, 6), '--cost', c], 'a long passphrase'] as [string, string[], string]),
    ['short password', base, 'short'],
    ['empty password', base, ''],
  ]
  for (const [label, args, pw] of bad) await t.rejects(createUserEntry(args, pw), usage, label)
  t.ok(new UsageError('x') instanceof Error)
  // Fields the users file would refuse: ConfigError from validateUser, before any hashing.
  await t.rejects(createUserEntry([...base, '--role', 'root'], 'a long passphrase'), { name: 'ConfigError' })
  await t.rejects(createUserEntry([...base, '--email', 'nope'], 'a long passphrase'), { name: 'ConfigError' })
  await t.rejects(createUserEntry([...base, '--id', 'a b'], 'a long passphrase'), { name: 'ConfigError' })
})

t.test('readFirstLine takes only the first line', async (t) => {
  t.equal(await readFirstLine(Readable.from(['pass word \r\nsecond\n'])), 'pass word ', 'CRLF, spaces kept')
  t.equal(await readFirstLine(Readable.from(['no newline'])), 'no newline')
  t.equal(await readFirstLine(Readable.from(['split ', 'across chunks\nrest'])), 'split across chunks')
  t.equal(await readFirstLine(Readable.from([])), '', 'empty input')
})

t.test('main prints the entry as JSON', async (t) => {
  const { io: streams, out } = io('a long passphrase\n')
  t.equal(await main(base, streams), 0)
  const entry = JSON.parse(out.stdout) as Record<string, unknown>
  t.match(entry, { email: 'ada@example.com', name: 'Ada', role: 'admin' })
  t.strictSame(Object.keys(entry), ['id', 'email', 'name', 'role', 'passwordHash'])
  t.equal(await verifyPassword('a long passphrase', entry.passwordHash), true)
  t.notMatch(out.stdout, 'a long passphrase', 'the password is not echoed')
  t.equal(out.stderr, '')
})

t.test('main reports problems on stderr with an exit code', async (t) => {
  const short = io('short\n')
  t.equal(await main(base, short.io), 2)
  t.match(short.out.stderr, /^hash-password: .+\nusage:/)
  t.equal(short.out.stdout, '')

  const badRole = io('a long passphrase\n')
  t.equal(await main([...base, '--role', 'root'], badRole.io), 2)
  t.match(badRole.out.stderr, 'usage:')

  const failing = new Readable({
    read() {
      this.destroy(Object.assign(new Error('read EIO'), { code: 'EIO' }))
    },
  })
  const broken = io(failing)
  t.equal(await main(base, broken.io), 1)
  t.equal(broken.out.stderr, 'hash-password: read EIO\n', 'no usage for a system failure')

  for (const flag of ['--help', '-h']) {
    const help = io('')
    t.equal(await main([flag], help.io), 0)
    t.equal(help.out.stdout, `${USAGE}\n`)
  }
})
