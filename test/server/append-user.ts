import { chmod, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { appendUser } from '../../lib/server/append-user.js'
import { readUsersFile, usersArrayProblem, type UserEntry } from '../../lib/server/users.js'

const HASH = `$2b$04$${'a'.repeat(53)}`
const user = (id: string, email = `${id}@example.com`): UserEntry => ({ id, email, name: id, role: 'user', passwordHash: HASH })

t.test('creates a missing file as an array, mode 0600, that the server loads', async (t) => {
  const path = join(t.testdir({}), 'users.json')
  t.equal(await appendUser(path, user('ada')), 1)
  t.strictSame(await readUsersFile(path), [user('ada')], 'the server reads it back')
  t.equal((await stat(path)).mode & 0o777, 0o600)
})

t.test('appends to an existing file and keeps its mode', async (t) => {
  const dir = t.testdir({ 'users.json': JSON.stringify([{ ...user('ada'), disabled: true }]) })
  const path = join(dir, 'users.json')
  for (const mode of [0o644, 0o640]) {
    await chmod(path, mode)
    const before = (await stat(path)).ino
    const n = await appendUser(path, user(`u${mode}`))
    t.equal((await stat(path)).mode & 0o7777, mode, `mode ${mode.toString(8)} kept`)
    t.not((await stat(path)).ino, before, 'replaced by rename, not rewritten in place')
    t.equal(n, mode === 0o644 ? 2 : 3)
  }
  t.strictSame(await readUsersFile(path), [{ ...user('ada'), disabled: true }, user('u420'), user('u416')], 'earlier entries kept as they were')
  t.strictSame(await readdir(dir), ['users.json'], 'no temporary file left')
})

t.test('refuses files the server would refuse, saying how to fix them', async (t) => {
  const dir = t.testdir({
    'object.json': JSON.stringify(user('ada')),
    'string.json': '"users"',
    'bad.json': '[{"id":"x"',
    'bad-entry.json': JSON.stringify([{ ...user('ada'), role: 'root' }]),
    'users.json': JSON.stringify([user('ada')]),
    sub: {},
  })
  const cases: Array<[string, UserEntry, RegExp]> = [
    ['object.json', user('bob'), /object\.json: holds one user object, but must be an array of users: put the object in square brackets/],
    ['string.json', user('bob'), /string\.json: must be a JSON array of users, like \[/],
    ['bad.json', user('bob'), /bad\.json: not valid JSON/],
    ['bad-entry.json', user('bob'), /bad-entry\.json: entry 0: role/],
    ['users.json', user('ada', 'other@example.com'), /already a user with id "ada"/],
    ['users.json', user('bob', 'ada@example.com'), /already a user with email "ada@example.com"/],
    ['sub', user('bob'), /sub: cannot read it \(EISDIR\)/],
  ]
  for (const [file, entry, message] of cases) {
    const before = file === 'sub' ? '' : await readFile(join(dir, file), 'utf8')
    await t.rejects(appendUser(join(dir, file), entry), { name: 'ConfigError', message }, file)
    if (file !== 'sub') t.equal(await readFile(join(dir, file), 'utf8'), before, `${file} unchanged`)
  }
  t.equal(usersArrayProblem([]), null)
  t.match(usersArrayProblem({ passwordHash: HASH }), /one user object/)
  t.match(usersArrayProblem(null), /must be a JSON array/)
})

t.test('a file system error on write passes through', async (t) => {
  const dir = t.testdir({})
  // A missing directory: the file counts as new, the temporary file cannot be created.
  await t.rejects(appendUser(join(dir, 'missing', 'users.json'), user('ada')), { code: 'ENOENT' })
  await writeFile(join(dir, 'x'), '')
  t.strictSame(await readdir(dir), ['x'])
})
