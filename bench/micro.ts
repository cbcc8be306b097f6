/**
 * Micro benchmark: our cookie and signature functions beside the packages people use today,
 * jshttp/cookie@2 and cookie-signature, on the same inputs in the same process.
 *
 *   npm run bench:micro                 # 21 rounds per pair (the recorded configuration)
 *   npm run bench:micro -- --rounds=5   # a quick look
 *
 * Method. For each pair, both functions are warmed up (so V8 has optimised them), then run in
 * alternating rounds, ours and peer, swapping which goes first every round so neither always
 * gets the warmer cache or the quieter moment. Every round runs the same number of calls,
 * calibrated to about ROUND_MS. The table shows the median ops/s of each side, and the median
 * of the per-round ratios ours / peer (a ratio taken inside one round cancels slow drift of
 * the machine), with its interquartile range.
 *
 * Each function's result is folded into `sink`, printed at the end, so V8 cannot drop the call.
 * Before timing, every pair is checked to compute the same thing, so a fast wrong answer
 * cannot win.
 */
import { createHash, randomBytes } from 'node:crypto'
import { loadavg } from 'node:os'
import { parseCookie as cookieParse, stringifySetCookie } from 'cookie'
import cookieSignature from 'cookie-signature'
import { parseCookie, readCookie } from '../lib/cookie/parse.js'
import { serializeCookie } from '../lib/cookie/serialize.js'
import { createSigner, sign, unsign } from '../lib/signature.js'
import { generateSessionId, hashSessionId } from '../lib/id.js'

const ROUND_MS = 50
const WARMUP_MS = 300
const roundsArg = process.argv.find(a => a.startsWith('--rounds='))
const rounds = Number(/^--rounds=(\d+)$/.exec(roundsArg ?? '')?.[1] ?? 21)

// --- inputs -----------------------------------------------------------------------------------

const SECRET = 'bench-secret-0123456789abcdefghijklmnopqrstuvwxyz'
const signer = createSigner([SECRET])
const sessionId = generateSessionId()
const oursSigned = signer.sign(sessionId)
const peerSigned = cookieSignature.sign(sessionId, SECRET)

// A Cookie header as a browser sends it to a typical app: analytics, preferences, a CSRF token,
// a %-encoded JSON cookie, and the signed session cookie (8 cookies, ~400 bytes).
const header = [
  '_ga=GA1.1.1827364512.1732700000',
  '_gid=GA1.1.918273645.1732700000',
  'theme=dark',
  'lang=en-US',
  'csrftoken=Jd8k2LmQ9xPz0aRt5YbN7cVw3eUf1gHi',
  'cart=%7B%22items%22%3A3%2C%22total%22%3A%2242.50%22%7D',
  `sid=${oursSigned}`,
  '_fbp=fb.1.1732700000000.1234567890',
].join('; ')

const MAX_AGE_S = 86_400
const oursSetCookie = (): string =>
  serializeCookie('sid', oursSigned, {
    httpOnly: true,
    secure: true,
    sameSite: 'Lax',
    path: '/',
    maxAge: MAX_AGE_S,
  })
const peerSetCookie = (): string =>
  stringifySetCookie({
    name: 'sid',
    value: oursSigned,
    httpOnly: true,
    secure: true,
    sameSite: 'lax',
    path: '/',
    maxAge: MAX_AGE_S,
  })

// --- the pairs ----------------------------------------------------------------------------------

interface Pair {
  name: string
  peerName: string
  ours: () => unknown
  peer: () => unknown
  /** Checked once before timing: both sides must pass. */
  check: (ours: unknown, peer: unknown) => boolean
  /** The ratio we aim for; informational rows have none. */
  target?: number
}

const sameRecord = (a: unknown, b: unknown): boolean =>
  JSON.stringify({ ...(a as object) }) === JSON.stringify({ ...(b as object) })
const attributes = (s: unknown): string => String(s).toLowerCase().split('; ').sort().join()
const sameAttributes = (a: unknown, b: unknown): boolean => attributes(a) === attributes(b)

const pairs: Pair[] = [
  {
    name: 'parseCookie (8 cookies)',
    peerName: 'cookie@2 parseCookie',
    ours: () => parseCookie(header),
    peer: () => cookieParse(header),
    check: sameRecord,
    target: 1.1,
  },
  {
    name: 'serializeCookie (5 attributes)',
    peerName: 'cookie@2 stringifySetCookie',
    ours: oursSetCookie,
    peer: peerSetCookie,
    check: sameAttributes,
    target: 1.1,
  },
  {
    name: 'signer.sign',
    peerName: 'cookie-signature sign',
    ours: () => signer.sign(sessionId),
    peer: () => cookieSignature.sign(sessionId, SECRET),
    check: (o, p) => typeof o === 'string' && typeof p === 'string' && o.length === p.length,
    target: 1.1,
  },
  {
    name: 'signer.unsign (valid)',
    peerName: 'cookie-signature unsign',
    ours: () => signer.unsign(oursSigned),
    peer: () => cookieSignature.unsign(peerSigned, SECRET),
    check: (o, p) => (o as { value: string } | null)?.value === sessionId && p === sessionId,
    target: 1.1,
  },
  {
    name: 'sign(value, secret)',
    peerName: 'cookie-signature sign',
    ours: () => sign(sessionId, SECRET),
    peer: () => cookieSignature.sign(sessionId, SECRET),
    check: (o, p) => typeof o === 'string' && typeof p === 'string' && o.length === p.length,
  },
  {
    name: 'unsign(signed, [secret])',
    peerName: 'cookie-signature unsign',
    ours: () => unsign(oursSigned, [SECRET]),
    peer: () => cookieSignature.unsign(peerSigned, SECRET),
    check: (o, p) => (o as { value: string } | null)?.value === sessionId && p === sessionId,
  },
  {
    name: 'readCookie(header, "sid")',
    peerName: 'cookie@2 parseCookie().sid',
    ours: () => readCookie(header, 'sid'),
    peer: () => cookieParse(header)['sid'],
    check: (o, p) => o === oursSigned && p === oursSigned,
  },
  {
    name: 'generateSessionId (pooled)',
    peerName: 'randomBytes(32) base64url',
    ours: generateSessionId,
    peer: () => randomBytes(32).toString('base64url'),
    check: (o, p) => String(o).length === 43 && String(p).length === 43,
  },
  {
    name: 'hashSessionId',
    peerName: 'createHash sha256 base64url',
    ours: () => hashSessionId(sessionId),
    peer: () => createHash('sha256').update(sessionId).digest('base64url'),
    check: (o, p) => o === p,
  },
]

// --- measurement -----------------------------------------------------------------------------

let sink = 0
function fold(result: unknown): void {
  // Cheap and result-dependent, so the call cannot be optimised away.
  sink = (sink + (typeof result === 'string' ? result.length : result === null ? 1 : 2)) | 0
}

/** Run `fn` `n` times; return the elapsed nanoseconds. */
function timeCalls(fn: () => unknown, n: number): number {
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fold(fn())
  return Number(process.hrtime.bigint() - start)
}

/** Run `fn` for about `ms`; return the calls per millisecond seen. */
function warm(fn: () => unknown, ms: number): number {
  let calls = 0
  const end = performance.now() + ms
  let batch = 100
  while (performance.now() < end) {
    timeCalls(fn, batch)
    calls += batch
    batch = Math.min(batch * 2, 10_000)
  }
  return calls / ms
}

const median = (xs: number[]): number => quantile(xs, 0.5)
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (pos - lo)
}

interface Row {
  pair: Pair
  oursOps: number
  peerOps: number
  ratio: number
  ratioP25: number
  ratioP75: number
}

function measure(pair: Pair): Row {
  if (!pair.check(pair.ours(), pair.peer())) throw new Error(`${pair.name}: outputs disagree`)
  const rate = Math.min(warm(pair.ours, WARMUP_MS), warm(pair.peer, WARMUP_MS))
  const n = Math.max(1000, Math.round(rate * ROUND_MS))
  const oursOps: number[] = []
  const peerOps: number[] = []
  const ratios: number[] = []
  for (let r = 0; r < rounds; r++) {
    let oursNs: number
    let peerNs: number
    if (r % 2 === 0) {
      oursNs = timeCalls(pair.ours, n)
      peerNs = timeCalls(pair.peer, n)
    } else {
      peerNs = timeCalls(pair.peer, n)
      oursNs = timeCalls(pair.ours, n)
    }
    oursOps.push((n * 1e9) / oursNs)
    peerOps.push((n * 1e9) / peerNs)
    ratios.push(peerNs / oursNs)
  }
  return {
    pair,
    oursOps: median(oursOps),
    peerOps: median(peerOps),
    ratio: median(ratios),
    ratioP25: quantile(ratios, 0.25),
    ratioP75: quantile(ratios, 0.75),
  }
}

// --- report -----------------------------------------------------------------------------------

const fmtOps = (ops: number): string =>
  ops >= 1e6 ? `${(ops / 1e6).toFixed(2)} M` : `${(ops / 1e3).toFixed(0)} k`

const loadBefore = loadavg()[0] as number
const rows = pairs.map(measure)
const loadAfter = loadavg()[0] as number
const lines = [
  '| ours | ops/s | peer | ops/s | ours / peer (IQR) | target |',
  '|---|---:|---|---:|---:|:---:|',
  ...rows.map(r => {
    const target = r.pair.target
    const verdict = target === undefined ? '–' : `≥ ${target} ${r.ratio >= target ? '✓' : '✗'}`
    return (
      `| ${r.pair.name} | ${fmtOps(r.oursOps)} | ${r.pair.peerName} | ${fmtOps(r.peerOps)} | ` +
      `${r.ratio.toFixed(2)}× (${r.ratioP25.toFixed(2)}–${r.ratioP75.toFixed(2)}) | ${verdict} |`
    )
  }),
]
console.log(lines.join('\n'))
console.log(
  `\n${rounds} rounds per pair, ~${ROUND_MS} ms per side per round; ` +
    `1-min load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after; ` +
    `sink=${sink}`,
)
