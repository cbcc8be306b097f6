import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import { verifyPassword } from '../../lib/auth/password.js'
import { USAGE, UsageError, createUserEntry, formatEntry, main, parseEntryArgs, readFirstLine, readHidden, type TtyInput } from '../../lib/server/hash-password.js'
import { loadConfig } from '../../lib/server/config.js'
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
    ...['3', '16', '32', '1e1', '', '10.5', 'ten', '-4', ' 10'].map((c) => [`cost ${c}`, [...base.slice(0, 6), '--cost', c], 'a long passphrase'] as [string, string[], string]),
    ['short password', base, 'short'],
    ['empty password', base, ''],
  ]
  for (const [label, args, pw] of bad) await t.rejects(createUserEntry(args, pw), usage, label)
  await t.rejects(createUserEntry([...base, '--append', ''], 'a long passphrase'), usage, 'empty --append')
  t.ok(new UsageError('x') instanceof Error)
  // Fields the users file would refuse: ConfigError from validateUser, before any hashing.
  await t.rejects(createUserEntry([...base, '--role', 'root'], 'a long passphrase'), { name: 'ConfigError' })
  await t.rejects(createUserEntry([...base, '--email', 'nope'], 'a long passphrase'), { name: 'ConfigError' })
  await t.rejects(createUserEntry([...base, '--id', 'a b'], 'a long passphrase'), { name: 'ConfigError' })
})

t.test('--cost takes exactly what the server takes for BCRYPT_COST', async (t) => {
  for (const cost of [4, 10, 15]) {
    t.equal(parseEntryArgs([...base.slice(0, 6), '--cost', String(cost)]).cost, cost)
    t.equal(loadConfig({ BCRYPT_COST: String(cost) }).bcryptCost, cost)
  }
  for (const cost of ['3', '16', '31']) {
    t.throws(() => parseEntryArgs([...base.slice(0, 6), '--cost', cost]), { name: 'UsageError' })
    t.throws(() => loadConfig({ BCRYPT_COST: cost }), { name: 'ConfigError' })
  }
  t.equal(parseEntryArgs([...base.slice(0, 6), '--cost', '004']).cost, 4, 'leading zeros, as BCRYPT_COST')
  t.strictSame(parseEntryArgs([...base, '--append', 'users.json']).append, 'users.json')
  t.equal(parseEntryArgs(base).append, null)
})

t.test('readFirstLine takes only the first line', async (t) => {
  t.equal(await readFirstLine(Readable.from(['pass word \r\nsecond\n'])), 'pass word ', 'CRLF, spaces kept')
  t.equal(await readFirstLine(Readable.from(['no newline'])), 'no newline')
  t.equal(await readFirstLine(Readable.from(['split ', 'across chunks\nrest'])), 'split across chunks')
  t.equal(await readFirstLine(Readable.from([])), '', 'empty input')
})

t.test('main prints the entry ready for the users array', async (t) => {
  const { io: streams, out } = io('a long passphrase\n')
  t.equal(await main(base, streams), 0)
  t.match(out.stdout, /^  \{\n    "id": /, 'indented as an element of the array')
  const entry = (JSON.parse(`[\n${out.stdout}]`) as Array<Record<string, unknown>>)[0] ?? {}
  t.match(entry, { email: 'ada@example.com', name: 'Ada', role: 'admin' })
  t.strictSame(Object.keys(entry), ['id', 'email', 'name', 'role', 'passwordHash'])
  t.equal(await verifyPassword('a long passphrase', entry.passwordHash), true)
  t.notMatch(out.stdout, 'a long passphrase', 'the password is not echoed')
  t.match(out.stderr, /add this entry to the array in your USERS_FILE, or use --append/)
  t.equal(formatEntry(validateUser(entry, 'x')), out.stdout.trimEnd())
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

/** A fake terminal: keys are pushed in; raw mode and flow are recorded. */
function tty(): TtyInput & { keys(s: string | Buffer): void; raw: boolean[] } {
  const stream = new PassThrough() as unknown as TtyInput & { keys(s: string | Buffer): void; raw: boolean[] }
  stream.isTTY = true
  stream.raw = []
  stream.setRawMode = (raw: boolean) => stream.raw.push(raw)
  stream.keys = (s) => void (stream as unknown as PassThrough).write(s)
  return stream
}

t.test('readHidden reads a password on a terminal without echo', async (t) => {
  const input = tty()
  let shown = ''
  const out = { write: (s: string) => (shown += s) }
  const answer = readHidden(input, out, 'Password: ')
  input.keys('pass')
  input.keys(Buffer.from('wörd', 'utf8').subarray(0, 2)) // a chunk ending inside 'ö'
  input.keys(Buffer.from('wörd', 'utf8').subarray(2))
  input.keys('xy\u007f\b!\rtyped ahead')
  t.equal(await answer, 'passwörd!', 'backspace deletes, enter ends')
  t.equal(shown, 'Password: \n', 'only the prompt and a newline are shown')
  t.strictSame(input.raw, [true, false], 'raw mode on, then off again')
  t.equal(input.listenerCount('data'), 0, 'no listener left behind')
  const next = readHidden(input, out, '')
  input.keys('\n')
  t.equal(await next, 'typed ahead', 'what followed Enter goes to the next prompt')

  const eof = tty()
  const ended = readHidden(eof, out, '')
  eof.keys('abc\u0004')
  t.equal(await ended, 'abc', 'Ctrl-D ends it too')
  const cancel = tty()
  const cancelled = readHidden(cancel, out, '')
  cancel.keys('ab\u0003')
  await t.rejects(cancelled, { message: 'cancelled' }, 'Ctrl-C cancels')
  t.strictSame(cancel.raw, [true, false], 'and leaves raw mode')
  const text = tty()
  const typed = readHidden(text, out, '')
  text.setEncoding('utf8')
  text.keys('in a string\n')
  t.equal(await typed, 'in a string', 'a stream with an encoding gives strings')
})

t.test('main asks twice on a terminal', async (t) => {
  const same = tty()
  const out = { stdout: '', stderr: '' }
  const streams = { stdin: same, stdout: { write: (s: string) => (out.stdout += s) }, stderr: { write: (s: string) => (out.stderr += s) } }
  const run = main(base, streams)
  same.keys('a long passphrase\ra long passphrase\r') // typed ahead, both at once
  t.equal(await run, 0)
  t.match(out.stderr, /^Password: \nRepeat it: \n/)
  const [entry] = JSON.parse(`[${out.stdout}]`) as Array<{ passwordHash: string }>
  t.equal(await verifyPassword('a long passphrase', entry?.passwordHash ?? ''), true)

  const differ = tty()
  const err = { stdout: '', stderr: '' }
  const run2 = main(base, { stdin: differ, stdout: { write: (s: string) => (err.stdout += s) }, stderr: { write: (s: string) => (err.stderr += s) } })
  await new Promise((r) => setTimeout(r, 20))
  differ.keys('a long passphrase\r')
  await new Promise((r) => setTimeout(r, 20))
  differ.keys('a long passphrasf\r')
  t.equal(await run2, 2)
  t.match(err.stderr, 'hash-password: the two passwords differ')
  t.equal(err.stdout, '')

  const badArgs = tty()
  const bad = { stderr: '' }
  t.equal(await main(['--email', 'x@example.com'], { stdin: badArgs, stdout: { write: () => {} }, stderr: { write: (s: string) => (bad.stderr += s) } }), 2)
  t.notMatch(bad.stderr, 'Password:', 'arguments are checked before the password is asked for')
})

t.test('main --append adds the entry to the users file', async (t) => {
  const dir = t.testdir({ 'users.json': '[]\n', 'object.json': '{"id":"x","email":"x@example.com"}' })
  const append = io('a long passphrase\n')
  t.equal(await main([...base, '--id', 'ada', '--append', `${dir}/users.json`], append.io), 0)
  t.equal(append.out.stdout, '', 'nothing on stdout')
  t.match(append.out.stderr, /added ada@example\.com \(id ada\) to .*users\.json \(users in the file: 1\); restart the server/)
  const again = io('a long passphrase\n')
  t.equal(await main([...base, '--id', 'ada2', '--append', `${dir}/users.json`], again.io), 1, 'a duplicate email')
  t.match(again.out.stderr, /already a user with email "ada@example.com"/)
  t.notMatch(again.out.stderr, 'usage:', 'a file problem is not a usage problem')
  const object = io('a long passphrase\n')
  t.equal(await main([...base, '--append', `${dir}/object.json`], object.io), 1)
  t.match(object.out.stderr, /holds one user object, but must be an array of users: put the object in square brackets/)
})
