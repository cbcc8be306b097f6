import t from 'tap'
import fc from 'fast-check'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import {
  HttpError,
  LINGER_MS,
  clientIp,
  isJsonContentType,
  parseJsonBody,
  readJsonBody,
  requireFields,
  sendJson,
  type ReadJsonBodyOptions,
} from '../lib/http.js'
import { serve, type Listener } from './fixtures/serve.js'


/** Write raw bytes (optionally leaving the request unfinished) and collect everything until close. */
async function raw(port: number, ...parts: (string | Buffer)[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {}) // a reset after the reply is fine; we assert on what arrived
  for (const part of parts) socket.write(part)
  await once(socket, 'close')
  return Buffer.concat(chunks).toString('latin1')
}

/** Read the body, reply 200 `{ body }`, or the HttpError as the router would. */
function echo(options?: ReadJsonBodyOptions, seen?: (err: unknown) => void): Listener {
  return (req, res) => {
    readJsonBody(req, options).then(
      (body) => sendJson(res, 200, { body }),
      (err: HttpError) => {
        seen?.(err)
        if (!res.destroyed) sendJson(res, err.status, { error: err.publicMessage }, err.headers)
      },
    )
  }
}

t.test('HttpError', async (t) => {
  for (const status of [200, 399, 600, 404.5, Number.NaN]) {
    t.throws(() => new HttpError(status, 'x'), { name: 'RangeError', code: 'ERR_OPTION_INVALID' }, `status ${status}`)
  }
  const cause = new Error('redis down')
  const cases: [HttpError, boolean, string][] = [
    [new HttpError(400, 'Bad email'), true, 'Bad email'],
    [new HttpError(500, 'db password wrong', { cause }), false, 'Internal server error'],
    [new HttpError(503, 'redis down'), false, 'Service Unavailable'],
    [new HttpError(499, 'odd'), true, 'odd'],
    [new HttpError(499, 'odd', { expose: false }), false, 'Error'],
    [new HttpError(502, 'Upstream said no', { expose: true }), true, 'Upstream said no'],
  ]
  for (const [err, expose, publicMessage] of cases) {
    t.match(err, { name: 'HttpError', expose, publicMessage }, `${err.status} ${err.message}`)
  }
  t.equal(cases[1]?.[0].cause, cause)
  t.same(new HttpError(400, 'x').headers, {})
})

t.test('sendJson', async (t) => {
  const { url, port } = await serve(t, (req, res) => {
    if (req.url === '/undefined') return sendJson(res, 200, undefined)
    if (req.url === '/problem') {
      return sendJson(res, 422, { error: 'x' }, { 'content-type': 'application/problem+json', 'X-Skip': undefined })
    }
    sendJson(res, 201, { name: 'Zoë ☃ 😀' }, { 'Cache-Control': 'no-store' })
  })
  const res = await fetch(url)
  const bytes = Buffer.from(await res.arrayBuffer())
  t.equal(res.status, 201)
  t.equal(res.headers.get('content-type'), 'application/json; charset=utf-8')
  t.equal(res.headers.get('cache-control'), 'no-store')
  t.equal(Number(res.headers.get('content-length')), bytes.length, 'Content-Length counts UTF-8 bytes')
  t.same(JSON.parse(bytes.toString('utf8')), { name: 'Zoë ☃ 😀' })

  const problem = await fetch(`${url}/problem`)
  t.equal(problem.status, 422)
  t.equal(problem.headers.get('content-type'), 'application/problem+json', 'caller headers win')
  t.notOk(problem.headers.has('x-skip'), 'undefined header values are skipped')
  t.same(await problem.json(), { error: 'x' })

  t.equal(await (await fetch(`${url}/undefined`)).text(), 'null')

  const head = await raw(port, 'HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.match(head, /^HTTP\/1\.1 201 /)
  t.match(head, new RegExp(`\r\ncontent-length: ${bytes.length}\r\n`, 'i'), 'HEAD: same Content-Length')
  t.ok(head.endsWith('\r\n\r\n'), 'HEAD: no body bytes after the headers')
})

t.test('isJsonContentType', async (t) => {
  const cases: [string | undefined, boolean][] = [
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON;Charset=UTF-8', true],
    ['  application/json  ; foo=bar', true],
    [undefined, false],
    ['', false],
    ['text/plain', false],
    ['application/x-www-form-urlencoded', false],
    ['application/jsonp', false],
    ['application/json-seq', false],
    ['application/merge-patch+json', false],
    ['multipart/form-data; boundary=application/json', false],
  ]
  for (const [header, ok] of cases) t.equal(isJsonContentType(header), ok, String(header))
})

t.test('readJsonBody over HTTP', async (t) => {
  const { url } = await serve(t, echo({ limitBytes: 17 * 1024 - 1 }))
  const { url: small } = await serve(t, echo({ limitBytes: 10 }))
  const big = JSON.stringify({ pad: 'x'.repeat(17 * 1024) })
  const json = 'application/json'
  const cases: { name: string; url?: string; type?: string; body: string | Buffer; status: number; reply: unknown }[] = [
    { name: 'valid JSON', type: json, body: '{"a":[1,"é"]}', status: 200, reply: { body: { a: [1, 'é'] } } },
    { name: 'charset param', type: 'application/json; charset=utf-8', body: '1', status: 200, reply: { body: 1 } },
    { name: 'BOM ignored', type: json, body: '\ufeff{"a":1}', status: 200, reply: { body: { a: 1 } } },
    { name: 'wrong type', type: 'text/plain', body: '{}', status: 415, reply: { error: 'Content-Type must be application/json' } },
    { name: 'no type', body: '{}', status: 415, reply: { error: 'Content-Type must be application/json' } },
    { name: 'over limit (Content-Length)', type: json, body: big, status: 413, reply: { error: 'Request body too large' } },
    { name: 'malformed', type: json, body: '{"a":', status: 400, reply: { error: 'Malformed JSON' } },
    { name: 'empty', type: json, body: '', status: 400, reply: { error: 'Request body is empty' } },
    { name: 'not UTF-8', type: json, body: Buffer.from([0x22, 0xff, 0x22]), status: 400, reply: { error: 'Request body is not valid UTF-8' } },
    { name: 'exactly the limit', url: small, type: json, body: '"12345678"', status: 200, reply: { body: '12345678' } },
    { name: 'one byte over', url: small, type: json, body: '"123456789"', status: 413, reply: { error: 'Request body too large' } },
  ]
  for (const c of cases) {
    const headers: Record<string, string> = c.type === undefined ? {} : { 'content-type': c.type }
    // fetch labels a string body text/plain; a Uint8Array gets no Content-Type of its own.
    const res = await fetch(c.url ?? url, { method: 'POST', headers, body: new Uint8Array(Buffer.from(c.body)) })
    t.equal(res.status, c.status, c.name)
    t.same(await res.json(), c.reply, c.name)
    if (c.status === 413 || c.status === 415) t.equal(res.headers.get('connection'), 'close', `${c.name}: closes`)
  }
})

t.test('chunked body over the limit: 413 and the connection closes', async (t) => {
  const { port } = await serve(t, echo())
  const chunk = 'x'.repeat(1024)
  const parts = ['POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n']
  for (let i = 0; i < 17; i++) parts.push(`${(1024).toString(16)}\r\n${chunk}\r\n`)
  parts.push('0\r\n\r\n')
  const reply = await raw(port, ...parts)
  t.match(reply, /^HTTP\/1\.1 413 /)
  t.match(reply, /\r\nconnection: close\r\n/i)
  t.ok(reply.endsWith('{"error":"Request body too large"}'))
})

t.test('a body that never ends: 408, then the socket is closed', async (t) => {
  const { port } = await serve(t, echo({ timeoutMs: 200 }))
  const head = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
  // `raw` resolves only on 'close', so reaching the asserts means the server hung up.
  const chunked = await raw(port, `${head}Transfer-Encoding: chunked\r\n\r\n2\r\n{"\r\n`)
  t.match(chunked, /^HTTP\/1\.1 408 /)
  t.match(chunked, /\r\nconnection: close\r\n/i)
  t.ok(chunked.endsWith('{"error":"Request body timeout"}'))
  const short = await raw(port, `${head}Content-Length: 100\r\n\r\n{"a":`)
  t.match(short, /^HTTP\/1\.1 408 /)
})

interface Flood {
  /** What arrived before the connection closed. */
  reply: string
  /** Body bytes the client had written when the reply's first bytes arrived, and in all. */
  sentAtReply: number
  sent: number
  /** The client's socket saw an error (a reset, or a write after the server closed). */
  error: string | null
}

/**
 * A client that writes `head`, then `frame` after `frame` as fast as the socket takes them (as
 * curl or a browser uploading a file does), reading whatever comes back, until the connection
 * closes or `maxFrames` are written. `allowHalfOpen`: keep writing after the server's FIN, as a
 * client that never looks at the reply does. Not `streamRequest` (test/fixtures/adversarial.ts):
 * that one pauses after each piece so it reads an early answer before writing on, which is the
 * very race this client must run into.
 */
async function flood(port: number, head: string, frame: Buffer, maxFrames: number, allowHalfOpen = false): Promise<Flood> {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen })
  const chunks: Buffer[] = []
  let sent = 0
  let sentAtReply = -1
  let error: string | null = null
  socket.on('data', (c: Buffer) => {
    if (sentAtReply === -1) sentAtReply = sent
    chunks.push(c)
  })
  socket.on('error', (err: NodeJS.ErrnoException) => (error = err.code ?? err.message))
  socket.write(head)
  let frames = 0
  const pump = (): void => {
    while (frames < maxFrames && socket.writable) {
      frames++
      sent += frame.length
      if (!socket.write(frame)) {
        socket.once('drain', pump)
        return
      }
    }
  }
  pump()
  // Not events.once: it rejects on the 'error' a reset brings before 'close'.
  await new Promise((resolve) => socket.once('close', resolve))
  return { reply: Buffer.concat(chunks).toString('latin1'), sentAtReply, sent, error }
}

const JSON_POST = 'POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n'
const SPACES = Buffer.alloc(64 * 1024, 0x20)
const CHUNK = Buffer.concat([Buffer.from(`${SPACES.length.toString(16)}\r\n`), SPACES, Buffer.from('\r\n')])

t.test('a client still sending a refused body reads the refusal: the connection closes after it, not under it', async (t) => {
  // Before lingerOnClose, 9 of 40 such clients on /login read nothing, only EPIPE: node closed
  // the socket as soon as the reply was flushed, and the next bytes they sent drew a reset.
  const { port } = await serve(t, echo())
  const cases: [name: string, head: string, frame: Buffer, status: number][] = [
    ['413, declared by Content-Length', `${JSON_POST}Content-Length: ${160 * SPACES.length}\r\n\r\n`, SPACES, 413],
    ['413, found while reading chunks', `${JSON_POST}Transfer-Encoding: chunked\r\n\r\n`, CHUNK, 413],
    ['415', `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${160 * SPACES.length}\r\n\r\n`, SPACES, 415],
  ]
  for (const [name, head, frame, status] of cases) {
    const statuses: string[] = []
    for (let i = 0; i < 10; i++) {
      const { reply } = await flood(port, head, frame, 160)
      statuses.push(reply.slice(0, 12))
      if (!reply.startsWith(`HTTP/1.1 ${status} `) || !/\r\nconnection: close\r\n/i.test(reply)) t.fail(`${name}: attempt ${i + 1}: ${JSON.stringify(reply.slice(0, 80))}`)
    }
    t.same(statuses, Array(10).fill(`HTTP/1.1 ${status}`), `${name}: all 10 clients read it`)
  }
})

t.test('lingering is bounded: a client that never stops sending is cut off; one that goes quiet is closed', async (t) => {
  const serverSockets: net.Socket[] = []
  const reply = echo()
  const { port } = await serve(t, (req, res) => {
    serverSockets.push(req.socket)
    reply(req, res)
  })
  // Keeps writing after the server's FIN (allowHalfOpen), up to 3 GiB: only the server's
  // LINGER_MS ends it, with a reset once it stops reading.
  const since = performance.now()
  const endless = await flood(port, `${JSON_POST}Transfer-Encoding: chunked\r\n\r\n`, CHUNK, 48 * 1024, true)
  const ms = performance.now() - since
  t.match(endless.reply, /^HTTP\/1\.1 413 /, 'it read the refusal')
  t.ok(endless.sent > endless.sentAtReply, 'it went on sending after the reply, and the server went on reading')
  t.ok(endless.sent < 48 * 1024 * CHUNK.length, `the server closed it before it was done (${Math.round(ms)} ms; LINGER_MS ${LINGER_MS})`)

  // Stops sending and never closes: the server closes its socket after LINGER_IDLE_MS of quiet.
  // (The client, half-open, is not told: after the server's FIN there is nothing more to send it.)
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => client.destroy())
  let received = ''
  client.on('data', (c: Buffer) => (received += c.toString('latin1')))
  client.write(`${JSON_POST}Content-Length: 1000000\r\n\r\n{"a":`)
  await once(client, 'end')
  t.match(received, /^HTTP\/1\.1 413 /, 'the quiet client read the refusal, then the FIN')
  const server = serverSockets.at(-1) as net.Socket
  if (!server.destroyed) await once(server, 'close')
  t.ok(server.destroyed, 'the server closed its socket')
})

t.test('client goes away mid-body: the reader rejects with 400, nothing crashes', async (t) => {
  let reading: () => void = () => {}
  const started = new Promise<void>((resolve) => (reading = resolve))
  let seen: (err: unknown) => void = () => {}
  const rejected = new Promise<unknown>((resolve) => (seen = resolve))
  const { port } = await serve(t, (req) => {
    readJsonBody(req).catch(seen)
    reading()
  })
  const socket = net.connect(port, '127.0.0.1')
  socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
  await started
  socket.destroy()
  t.match(await rejected, { name: 'HttpError', status: 400, message: 'Request aborted' })
})

t.test('parseJsonBody', async (t) => {
  const ok: [string, unknown][] = [['{"a":1}', { a: 1 }], ['[]', []], ['null', null], [' 1 ', 1], ['"x"', 'x']]
  for (const [text, value] of ok) t.same(parseJsonBody(Buffer.from(text)), value, text)
  const bad: [Uint8Array, string][] = [
    [Buffer.alloc(0), 'Request body is empty'],
    [Buffer.from(' '), 'Malformed JSON'],
    [Buffer.from('{a:1}'), 'Malformed JSON'],
    [Buffer.from([0xc3, 0x28]), 'Request body is not valid UTF-8'],
  ]
  for (const [bytes, message] of bad) {
    t.throws(() => parseJsonBody(bytes), { name: 'HttpError', status: 400, message }, message)
  }
})

t.test('property: parseJsonBody returns a value or throws HttpError 400, for any bytes', async (t) => {
  const anyBytes = fc.oneof(fc.uint8Array(), fc.json().map((s) => Buffer.from(s)), fc.string().map((s) => Buffer.from(s)))
  fc.assert(
    fc.property(anyBytes, (bytes) => {
      try {
        parseJsonBody(bytes)
      } catch (err) {
        return err instanceof HttpError && err.status === 400
      }
      return true
    }),
  )
  fc.assert(fc.property(fc.jsonValue(), (v) => t.same(parseJsonBody(Buffer.from(JSON.stringify(v))), v) || true))
})

t.test('requireFields', async (t) => {
  const schema = { email: 'string', password: 'string', age: 'number?', rememberMe: 'boolean?' } as const
  const r = requireFields({ email: 'a@b.c', password: 'pw', rememberMe: true, role: 'admin' }, schema)
  // compile-time: required fields are typed, optional ones may be undefined
  const email: string = r.email
  const remember: boolean | undefined = r.rememberMe
  t.same(r, { email: 'a@b.c', password: 'pw', rememberMe: true }, 'undeclared fields dropped')
  t.equal(email, 'a@b.c')
  t.equal(remember, true)
  t.notOk('age' in r, 'absent optional field stays absent')
  t.same(requireFields({ email: '', password: '', age: 0 }, schema), { email: '', password: '', age: 0 })

  const bad: [unknown, string][] = [
    [[], 'Request body must be a JSON object'],
    [null, 'Request body must be a JSON object'],
    [42, 'Request body must be a JSON object'],
    ['{}', 'Request body must be a JSON object'],
    [true, 'Request body must be a JSON object'],
    [{}, 'email must be a string'],
    [{ email: 1, password: 'x' }, 'email must be a string'],
    [{ email: 'a', password: null }, 'password must be a string'],
    [{ email: 'a', password: 'x', age: '3' }, 'age must be a number'],
    [{ email: 'a', password: 'x', age: JSON.parse('1e400') }, 'age must be a number'],
    [{ email: 'a', password: 'x', rememberMe: null }, 'rememberMe must be a boolean'],
    [{ email: 'a', password: 'x', rememberMe: 'true' }, 'rememberMe must be a boolean'],
  ]
  for (const [body, message] of bad) {
    t.throws(() => requireFields(body, schema), { name: 'HttpError', status: 400, message }, message)
  }
  t.throws(() => requireFields({}, { a: 'strng' } as never), { name: 'TypeError', code: 'ERR_OPTION_INVALID' })
  t.same(requireFields({}, { toString: 'string?' }), {}, 'inherited properties are not fields')
})

t.test('requireFields: a __proto__ payload grants nothing', async (t) => {
  const body = JSON.parse('{"__proto__":{"role":"admin"},"email":"a","password":"b"}')
  t.ok(Object.hasOwn(body, '__proto__'), 'JSON.parse made __proto__ an own key')
  const r = requireFields(body, { email: 'string', password: 'string' }) as Record<string, unknown>
  t.same(Object.keys(r), ['email', 'password'])
  t.equal(Object.getPrototypeOf(r), Object.prototype)
  t.equal(r.role, undefined)
  t.equal(({} as Record<string, unknown>).role, undefined, 'Object.prototype untouched')
  const protoSchema = JSON.parse('{"__proto__":"string"}') as Record<string, 'string'>
  t.throws(() => requireFields(body, protoSchema), { name: 'HttpError', status: 400 }, 'declared __proto__ must be a string')
})

t.test('property: requireFields returns only declared fields or throws HttpError 400', async (t) => {
  const schema = { a: 'string', b: 'number?', c: 'boolean?' } as const
  const body = fc.oneof(fc.jsonValue(), fc.record({ a: fc.jsonValue(), b: fc.jsonValue(), c: fc.jsonValue() }, { requiredKeys: [] }))
  fc.assert(
    fc.property(body, (v) => {
      try {
        return Object.keys(requireFields(v, schema)).every((k) => k in schema)
      } catch (err) {
        return err instanceof HttpError && err.status === 400
      }
    }),
  )
  t.pass('checked')
})

t.test('clientIp', async (t) => {
  const seen: string[] = []
  const { url, port } = await serve(t, (req, res) => {
    if (req.url === '/gone') {
      // remoteAddress is cached on first read, so destroy before anyone asked for it
      req.socket.destroy()
      seen.push(clientIp(req))
      return
    }
    seen.push(clientIp(req), clientIp(req, { trustProxy: true }))
    sendJson(res, 200, {})
  })
  const ips = async (headers: Record<string, string>): Promise<string[]> => {
    seen.length = 0
    await (await fetch(url, { headers })).arrayBuffer()
    return [...seen]
  }
  t.same(await ips({}), ['127.0.0.1', '127.0.0.1'], 'no header')
  t.same(await ips({ 'x-forwarded-for': '6.6.6.6' }), ['127.0.0.1', '6.6.6.6'], 'ignored unless trusted')
  t.same(await ips({ 'x-forwarded-for': '6.6.6.6, 203.0.113.7' }), ['127.0.0.1', '203.0.113.7'], 'last hop')
  t.same(await ips({ 'x-forwarded-for': ' ' }), ['127.0.0.1', '127.0.0.1'], 'empty header: socket address')

  seen.length = 0
  const twoLines = 'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 198.51.100.2\r\n'
  await raw(port, `GET / HTTP/1.1\r\nHost: x\r\n${twoLines}Connection: close\r\n\r\n`)
  t.same(seen, ['127.0.0.1', '198.51.100.2'], 'repeated header lines: last hop')

  seen.length = 0
  await raw(port, 'GET /gone HTTP/1.1\r\nHost: x\r\n\r\n')
  t.same(seen, [''], 'socket gone: empty string')
})
