import { createHash } from 'node:crypto'
import t from 'tap'
import { sha256Base64url, sha256Bytes } from '../lib/sha256.js'

const inputs = ['', 'abc', 'handle:x', 'ü€😀', 'x'.repeat(1000)]

t.test('matches createHash, one-shot or not', async (t) => {
  const legacy = await import('node:crypto').then((c) => ({ ...c, hash: undefined }))
  const fallback = await t.mockImport<typeof import('../lib/sha256.js')>('../lib/sha256.js', {
    'node:crypto': { ...legacy, default: legacy },
  })
  for (const mod of [{ sha256Base64url, sha256Bytes }, fallback]) {
    for (const s of inputs) {
      t.equal(mod.sha256Base64url(s), createHash('sha256').update(s).digest('base64url'), `string ${JSON.stringify(s.slice(0, 8))}`)
      const b = Buffer.from(s, 'utf8')
      t.equal(mod.sha256Base64url(b), createHash('sha256').update(b).digest('base64url'))
      t.strictSame(mod.sha256Bytes(b), createHash('sha256').update(b).digest())
    }
  }
  t.equal(sha256Base64url('abc').length, 43)
})
