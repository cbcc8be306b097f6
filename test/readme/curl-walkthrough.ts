/**
 * The README's curl walkthrough, run as written: the block is taken from README.md and run by bash
 * (`-euo pipefail`, so any failing command fails the test) in an empty directory with a plain
 * environment, against the real auth server on the memory store with its demo users. The only
 * change is the address: the README says 127.0.0.1:3000, the test server listens on a free port.
 */
import { spawn } from 'node:child_process'
import { dirname } from 'node:path'
import t from 'tap'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { readmeBlock } from '../fixtures/readme.js'

t.test('the curl walkthrough runs top to bottom in a fresh shell', async (t) => {
  const block = readmeBlock('With curl', 'sh')
  t.match(block, 'http://127.0.0.1:3000/', 'the block speaks to the address npm start serves')
  t.notMatch(block, /<[a-z]+>/, 'no placeholders to fill in')

  const server = await startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4', SESSION_SECRET: 'readme-walkthrough-secret-0123456789abcdef' }))
  t.teardown(() => server.close(1000))
  const script = block.replaceAll('http://127.0.0.1:3000', server.url)

  const child = spawn('bash', ['-euo', 'pipefail', '-c', script], {
    cwd: t.testdir({}),
    // A fresh shell: no test-runner loaders or coverage settings, just a PATH with this node.
    env: { PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: t.testdirName, LANG: 'C.UTF-8' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()))
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  t.equal(code, 0, 'every command succeeded')
  t.equal(stderr, '', 'nothing on stderr')

  // The answers, in the order the README's comments promise them.
  const expected: Array<[string, RegExp]> = [
    ['login', /^HTTP\/1\.1 200 OK\r$/m],
    ['login body', /"message":"Logged in successfully"/],
    ['dashboard', /"message":"Welcome to dashboard"/],
    ['cart', /\{"cart":\["book"\]\}/],
    ['phone logs in', /"message":"Logged in successfully"/],
    ['two sessions', /\{"sessions":\[\{"handle":"[^"]+"[^\]]*\},\{"handle":"[^"]+"[^\]]*\}\]\}/],
    ['the phone session ended', /\{"message":"Session ended"\}/],
    ['the phone is logged out', /\{"error":"Not authenticated"\}/],
    ['phone logs in again', /"message":"Logged in successfully"/],
    ['revoke-others ends it', /"ended":1\}/],
    ['password changed', /"message":"Password changed"/],
    ['still logged in under the new ID', /"message":"Welcome to dashboard"/],
    ['logout', /\{"message":"Logged out successfully"\}/],
    ['logged out', /\{"error":"Not authenticated"\}/],
    ['healthz', /\{"ok":true,"store":"memory"\}\s*$/],
  ]
  let rest = stdout
  for (const [label, pattern] of expected) {
    const m = pattern.exec(rest)
    t.ok(m, label, { rest: m === null ? rest : undefined })
    if (m !== null) rest = rest.slice(m.index + m[0].length)
  }
})
