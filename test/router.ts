import t from 'tap'
import fc from 'fast-check'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import { once } from 'node:events'
import { Router, type RequestContext } from '../lib/router.js'
import { HttpError, sendJson } from '../lib/http.js'
import { serve } from './fixtures/serve.js'


/** Send a raw request and collect everything the server writes until it closes the socket. */
async function raw(port: number, request: string): Promise<string> {
  const socket = net.connect(port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => {}) // a reset is an outcome here; the test asserts on what arrived
  socket.write(request)
  await once(socket, 'close')
  return Buffer.concat(chunks).toString('utf8')
}

const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`

/** A router whose handlers echo which route ran and with which params. */
function demoRouter(): Router {
  const reply = (route: string) => (ctx: RequestContext) =>
    sendJson(ctx.res, 200, { route, params: { ...ctx.params }, path: ctx.path })
  return new Router()
    .get('/', reply('root'))
    .get('/users', reply('list'))
    .post('/users', reply('create'))
    .get('/users/me', reply('me'))
    .get('/users/:id', reply('user'))
    .delete('/users/:id', reply('delete'))
    .get('/orgs/:org/repos/:repo', reply('repo'))
    .put('/a', reply('a'))
    .patch('/a/', reply('a/'))
    .post('/login', reply('login'))
}

t.test('path matching', async (t) => {
  const { url, port } = await serve(t, demoRouter().handler())
  const notFound = { status: 404, body: { error: 'Not found' } }
  const badParam = { status: 400, body: { error: 'Malformed URL parameter' } }
  const ok = (route: string, params = {}) => ({ status: 200, body: { route, params } })
  const notAllowed = (allow: string) => ({ status: 405, body: { error: 'Method not allowed' }, allow })
  const cases: [string, string, { status: number; body: unknown; allow?: string }][] = [
    ['GET', '/', ok('root')],
    ['GET', '/users', ok('list')],
    ['GET', '/users?page=2&x=%zz', ok('list')],
    ['POST', '/users', ok('create')],
    ['GET', '/users/me', ok('me')],
    ['GET', '/users/42', ok('user', { id: '42' })],
    ['GET', '/users/42?x=1', ok('user', { id: '42' })],
    ['GET', '/users/caf%C3%A9', ok('user', { id: 'café' })],
    ['GET', '/users/a%2Fb%20c', ok('user', { id: 'a/b c' })],
    ['GET', '/users/%3Aid', ok('user', { id: ':id' })],
    ['DELETE', '/users/42', ok('delete', { id: '42' })],
    ['DELETE', '/users/me', ok('delete', { id: 'me' })], // static /users/me has no DELETE
    ['GET', '/orgs/acme/repos/web', ok('repo', { org: 'acme', repo: 'web' })],
    ['GET', '/orgs/a%20b/repos/%F0%9F%98%80', ok('repo', { org: 'a b', repo: '😀' })],
    ['GET', '/users/%zz', badParam],
    ['GET', '/users/%E0%A4%A', badParam],
    ['GET', '/users/%', badParam],
    ['GET', '/orgs/ok/repos/%C3', badParam],
    ['PUT', '/a', ok('a')],
    ['PATCH', '/a/', ok('a/')],
    ['GET', '/users/', notFound], // trailing slash: an empty segment is no :id
    ['GET', '/users/42/', notFound],
    ['GET', '/users/42/x', notFound],
    ['GET', '/orgs//repos/web', notFound],
    ['GET', '//', notFound],
    ['GET', '/nope', notFound],
    ['GET', '/USERS', notFound],
    ['PUT', '/users', notAllowed('GET, HEAD, POST')],
    ['PATCH', '/users/42', notAllowed('DELETE, GET, HEAD')],
    ['POST', '/users/me', notAllowed('DELETE, GET, HEAD')],
    ['DELETE', '/orgs/a/repos/b', notAllowed('GET, HEAD')],
    ['GET', '/login', notAllowed('POST')],
    ['HEAD', '/login', notAllowed('POST')],
    ['OPTIONS', '/a', notAllowed('PUT')],
    ['GET', '/a', notAllowed('PUT')],
    ['GET', '/a/', notAllowed('PATCH')],
  ]
  for (const [method, path, want] of cases) {
    const res = await fetch(url + path, { method })
    const name = `${method} ${path}`
    t.equal(res.status, want.status, name)
    t.equal(res.headers.get('content-type'), 'application/json; charset=utf-8', name)
    if (method === 'HEAD') t.equal(await res.text(), '', `${name}: no body`)
    else t.match(await res.json(), want.body, name)
    t.equal(res.headers.get('allow'), want.allow ?? null, `${name}: Allow`)
  }

  // Request targets fetch cannot produce.
  t.match(await raw(port, get('http://example.com/users/7?q')), /^HTTP\/1\.1 200 [^]*"params":\{"id":"7"\}/)
  t.match(await raw(port, get('http://example.com')), /^HTTP\/1\.1 200 [^]*"route":"root"/)
  t.match(await raw(port, 'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 404 /)
})

t.test('HEAD is answered by GET handlers: same headers, no body', async (t) => {
  const { url, port } = await serve(t, demoRouter().handler())
  for (const path of ['/users', '/users/42']) {
    const getRes = await fetch(url + path)
    const length = getRes.headers.get('content-length')
    t.ok(Number(length) > 0)
    await getRes.arrayBuffer()
    const head = await raw(port, `HEAD ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)
    t.match(head, /^HTTP\/1\.1 200 /, path)
    t.match(head, new RegExp(`\r\ncontent-length: ${length}\r\n`, 'i'), `${path}: same Content-Length`)
    t.match(head, /\r\ncontent-type: application\/json; charset=utf-8\r\n/i, `${path}: same Content-Type`)
    t.ok(head.endsWith('\r\n\r\n'), `${path}: nothing after the headers`)
  }
})

t.test('context: path, lazy query, createContext', async (t) => {
  interface Ctx extends RequestContext {
    user: string
  }
  const router = new Router<Ctx>({
    createContext: async (base) => {
      if (base.path === '/fail') throw new Error('session store down')
      return Object.assign(base, { user: 'ada' })
    },
  })
  router.get('/q/:x', (ctx) => {
    t.equal(ctx.query, ctx.query, 'query is built once')
    sendJson(ctx.res, 200, { user: ctx.user, path: ctx.path, a: ctx.query.getAll('a'), x: ctx.params.x })
  })
  router.get('/fail', () => t.fail('not reached'))
  router.get('/noquery', (ctx) => sendJson(ctx.res, 200, { size: ctx.query.size }))
  const { url } = await serve(t, router.handler())
  const logged = t.capture(console, 'error')
  t.same(await (await fetch(`${url}/q/%41?a=1&a=%C3%A9`)).json(), { user: 'ada', path: '/q/%41', a: ['1', 'é'], x: 'A' })
  t.same(await (await fetch(`${url}/noquery`)).json(), { size: 0 })
  const fail = await fetch(`${url}/fail`)
  t.equal(fail.status, 500)
  t.same(await fail.json(), { error: 'Internal server error' })
  t.match(logged(), [{ args: [/GET \/fail/, { message: 'session store down' }] }])
})

t.test('errors become JSON replies', async (t) => {
  const secret = new Error('password=hunter2')
  const router = new Router()
    .get('/throw', () => {
      throw secret
    })
    .get('/reject', async () => {
      await Promise.resolve()
      throw secret
    })
    .get('/string', () => Promise.reject('just a string'))
    .get('/429', () => {
      throw new HttpError(429, 'Too many attempts', { headers: { 'Retry-After': '30' } })
    })
    .get('/503', () => {
      throw new HttpError(503, 'redis down at 10.0.0.5', { expose: false, headers: { 'Retry-After': '1' } })
    })
  const { url } = await serve(t, router.handler())
  const logged = t.capture(console, 'error')
  const cases: [string, number, string, string | null, boolean][] = [
    ['/throw', 500, 'Internal server error', null, true],
    ['/reject', 500, 'Internal server error', null, true],
    ['/string', 500, 'Internal server error', null, true],
    ['/429', 429, 'Too many attempts', '30', false],
    ['/503', 503, 'Service Unavailable', '1', true],
  ]
  for (const [path, status, error, retryAfter, logs] of cases) {
    const res = await fetch(url + path)
    t.equal(res.status, status, path)
    t.equal(res.headers.get('retry-after'), retryAfter, `${path}: Retry-After`)
    const text = await res.text()
    t.equal(text, JSON.stringify({ error }), `${path}: exact body, no stack, no secrets`)
    t.equal(logged().length, logs ? 1 : 0, `${path}: logged to stderr: ${logs}`)
  }
})

t.test('an HttpError code is sent next to the message, only when exposed', async (t) => {
  const router = new Router()
    .get('/coded', () => {
      throw new HttpError(401, 'Re-authentication required', { code: 'REAUTH_REQUIRED' })
    })
    .get('/hidden', () => {
      throw new HttpError(502, 'upstream at 10.0.0.5', { code: 'UPSTREAM_DOWN' })
    })
  const { url } = await serve(t, router.handler())
  const logged = t.capture(console, 'error')
  const coded = await fetch(`${url}/coded`)
  t.equal(coded.status, 401)
  t.strictSame(await coded.json(), { error: 'Re-authentication required', code: 'REAUTH_REQUIRED' })
  const hidden = await fetch(`${url}/hidden`)
  t.strictSame(await hidden.json(), { error: 'Bad Gateway' }, 'an unexposed error shows neither message nor code')
  t.equal(logged().length, 1, 'and is logged')
})

t.test('errors after the reply started: never written twice', async (t) => {
  let done: Promise<void> = Promise.resolve()
  const router = new Router()
    .get('/sent', (ctx) => {
      sendJson(ctx.res, 200, { ok: true })
      throw new HttpError(400, 'too late')
    })
    .get('/partial', async (ctx) => {
      ctx.res.writeHead(200, { 'Content-Type': 'text/plain' })
      ctx.res.write('half')
      await new Promise((resolve) => setImmediate(resolve))
      throw new Error('broke mid-stream')
    })
    .get('/gone', async (ctx) => {
      ctx.req.socket.destroy()
      await once(ctx.res, 'close')
      throw new Error('client left')
    })
    .get('/bad-header', () => {
      throw new HttpError(400, 'x', { headers: { 'X-Bad': 'a\nb' } })
    })
  const { port } = await serve(t, (req, res) => {
    done = router.handle(req, res)
  })
  const logged = t.capture(console, 'error')

  const sent = await raw(port, get('/sent'))
  t.equal(sent.match(/HTTP\/1\.1/g)?.length, 1, 'one status line')
  t.ok(sent.endsWith('{"ok":true}'))
  t.match(logged(), [{ args: [/GET \/sent/, { message: 'too late' }] }], 'logged even though exposed')

  const partial = await raw(port, get('/partial'))
  t.match(partial, /^HTTP\/1\.1 200 [^]*half/)
  t.notOk(partial.endsWith('0\r\n\r\n'), 'chunked body never terminated: the client sees a cut reply')
  t.match(logged(), [{ args: [/GET \/partial/, { message: 'broke mid-stream' }] }])

  t.equal(await raw(port, get('/gone')), '')
  t.equal(await done, undefined, 'handle() resolves')
  t.match(logged(), [{ args: [/GET \/gone/, { message: 'client left' }] }])

  t.equal(await raw(port, get('/bad-header')), '', 'unsendable error reply: socket destroyed')
  await done
  t.match(logged(), [{ args: [/could not send/, { code: 'ERR_INVALID_CHAR' }] }])
})

t.test('route registration errors', async (t) => {
  const noop = (): void => {}
  const router = new Router().get('/p/:id', noop).get('/s', noop)
  const bad: [string, string][] = [
    ['GET', 'users'],
    ['GET', ''],
    ['GET', '/a?b'],
    ['GET', '/a#b'],
    ['GET', '/:'],
    ['GET', '/:1x'],
    ['GET', '/x/:a-b'],
    ['GET', '/:a/:a'],
    ['GET', '/s'],
    ['GET', '/p/:id'],
    ['DELETE', '/p/:other'],
  ]
  for (const [method, path] of bad) {
    t.throws(() => router.add(method, path, noop), { name: 'TypeError', code: 'ERR_ROUTE_INVALID' }, `${method} ${path}`)
  }
  t.throws(() => router.add('GET', 42 as never, noop), { name: 'TypeError', code: 'ERR_ROUTE_INVALID' })
  t.equal(router.add('DELETE', '/p/:id', noop).add('HEAD', '/s', noop), router, 'chainable; same shape, new method')
  t.match(router.match('HEAD', '/s'), { status: 200, handler: noop }, 'an explicit HEAD route')
})

// Arbitrary UTF-16 code units, lone surrogates included.
const junk = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })
const pathPiece = fc.oneof(fc.constantFrom('/', '%', '%2', '%zz', '%C3', '%E0%A4%A', '%2F', ':id', 'users', '?', ''), junk)

t.test('property: matching never throws, for any method and path', async (t) => {
  const router = demoRouter()
  const method = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'BREW')
  const path = fc.array(pathPiece, { maxLength: 8 }).map((parts) => parts.join(''))
  fc.assert(fc.property(method, path, (m, p) => [200, 400, 404, 405].includes(router.match(m, p).status)))
  t.pass('no throw')
})

t.test('property: /users/:id gives back any encoded string', async (t) => {
  const router = new Router().get('/users/:id', () => {})
  const nonEmpty = fc.string({ unit: 'binary', minLength: 1 })
  fc.assert(
    fc.property(nonEmpty, (s) => {
      const m = router.match('GET', `/users/${encodeURIComponent(s)}`)
      return m.status === 200 && m.params.id === s
    }),
  )
  t.pass('round trip')

  const { url } = await serve(t, new Router().get('/users/:id', (ctx) => sendJson(ctx.res, 200, ctx.params)).handler())
  await fc.assert(
    fc.asyncProperty(nonEmpty, async (s) => {
      const res = await fetch(`${url}/users/${encodeURIComponent(s)}`)
      return ((await res.json()) as { id: string }).id === s
    }),
    { numRuns: 30 },
  )
})
