import t from 'tap'
import http from 'node:http'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import vm from 'node:vm'
import { Router, type RequestContext } from '../../lib/router.js'
import { sendJson } from '../../lib/http.js'
import { PAGE_CSP, registerPage } from '../../lib/server/page.js'

type Teardown = Pick<typeof t, 'teardown'>

/** A Router with the page on a real server on a free loopback port, closed at teardown. */
async function serve(tt: Teardown, router: Router<any> = registerPage(new Router())): Promise<string> {
  const server = http.createServer(router.handler())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  tt.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

interface Reply {
  status: number
  headers: http.IncomingHttpHeaders
  body: string
}

/** node:http rather than fetch: it shows the raw headers and lets HEAD be checked byte for byte. */
async function request(url: string, method = 'GET', headers: http.OutgoingHttpHeaders = {}): Promise<Reply> {
  const req = http.request(url, { method, headers })
  req.end()
  const [res] = (await once(req, 'response')) as [http.IncomingMessage]
  const chunks: Buffer[] = []
  for await (const chunk of res) chunks.push(chunk as Buffer)
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }
}

const ROUTES = [
  { path: '/', type: 'text/html; charset=utf-8' },
  { path: '/assets/app.js', type: 'text/javascript; charset=utf-8' },
  { path: '/assets/app.css', type: 'text/css; charset=utf-8' },
] as const

const SECURITY = {
  'content-security-policy': PAGE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
}

t.test('the CSP is the strict one: self only, nothing inline, no framing, no base', async (t) => {
  t.equal(
    PAGE_CSP,
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; " +
      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  )
  t.notMatch(PAGE_CSP, /unsafe-inline|unsafe-eval|\*/)
})

t.test('GET serves each asset with its type, length, ETag and security headers', async (t) => {
  const url = await serve(t)
  for (const { path, type } of ROUTES) {
    const r = await request(url + path)
    t.equal(r.status, 200, path)
    t.match(r.headers, { ...SECURITY, 'content-type': type }, path)
    t.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), `${path} Content-Length`)
    t.match(r.headers.etag, /^"[A-Za-z0-9_-]{27}"$/, `${path} strong ETag`)
    t.ok(r.body.length > 100, `${path} has a body`)
  }
})

t.test('HEAD sends the GET headers and no body', async (t) => {
  const url = await serve(t)
  for (const { path } of ROUTES) {
    const get = await request(url + path)
    const head = await request(url + path, 'HEAD')
    t.equal(head.status, 200, path)
    t.equal(head.body, '', `${path} HEAD has no body`)
    for (const name of ['content-type', 'content-length', 'etag', ...Object.keys(SECURITY)]) {
      t.equal(head.headers[name], get.headers[name], `${path} HEAD ${name}`)
    }
  }
})

t.test('If-None-Match: a matching tag (strong, weak, in a list, or *) gives 304', async (t) => {
  const url = await serve(t)
  const { headers } = await request(url + '/assets/app.js')
  const etag = headers.etag as string
  const cases: Array<[string, number]> = [
    [etag, 304],
    [`W/${etag}`, 304],
    [`"other", ${etag}`, 304],
    ['*', 304],
    ['"other"', 200],
    ['W/"other"', 200],
    ['', 200],
  ]
  for (const [ifNoneMatch, status] of cases) {
    const r = await request(url + '/assets/app.js', 'GET', { 'If-None-Match': ifNoneMatch })
    t.equal(r.status, status, `If-None-Match: ${ifNoneMatch}`)
    if (status === 304) {
      t.equal(r.body, '')
      t.match(r.headers, { ...SECURITY, etag })
    }
  }
  // One asset's tag does not validate another.
  const css = await request(url + '/assets/app.css', 'GET', { 'If-None-Match': etag })
  t.equal(css.status, 200)
})

t.test('the three assets get distinct ETags and other methods get 405', async (t) => {
  const url = await serve(t)
  const tags = await Promise.all(ROUTES.map(async ({ path }) => (await request(url + path)).headers.etag))
  t.equal(new Set(tags).size, 3)
  const post = await request(url + '/', 'POST')
  t.equal(post.status, 405)
  t.equal(post.headers.allow, 'GET, HEAD')
  t.equal((await request(url + '/assets/other.js')).status, 404)
})

t.test('the page has the ids the script and the browser test rely on, and nothing inline', async (t) => {
  const url = await serve(t)
  const html = (await request(url + '/')).body
  const ids = [
    'login-form', 'email', 'password', 'remember', 'login-error', 'login-submit', 'dashboard', 'welcome',
    'user-email', 'logout', 'sessions', 'sessions-refresh', 'revoke-others', 'cart-form', 'cart-item',
    'cart-add', 'cart-items', 'notice',
  ]
  for (const id of ids) t.match(html, `id="${id}"`, `#${id}`)
  t.match(html, /<input id="password" name="password" type="password" autocomplete="current-password"/)
  t.match(html, '<script src="/assets/app.js" defer></script>')
  t.match(html, '<link rel="stylesheet" href="/assets/app.css">')
  // CSP forbids inline code: every <script> has a src, no <style>, no style= or on*= attributes.
  t.notMatch(html, /<script(?![^>]*\bsrc=)/)
  t.notMatch(html, /<style|\sstyle=|\son[a-z]+=/i)
  // Without JavaScript the form must not GET the password into a URL.
  t.match(html, '<form id="login-form" method="post" action="/login">')
})

t.test('the script parses, uses safe DOM sinks, and sends every request same-origin', async (t) => {
  const url = await serve(t)
  const js = (await request(url + '/assets/app.js')).body
  t.doesNotThrow(() => new vm.Script(js, { filename: 'app.js' }))
  t.notMatch(js, /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/)
  t.match(js, "credentials: 'same-origin'")
  t.match(js, "'Content-Type'] = 'application/json'")
  for (const text of ['Invalid credentials', 'Too many attempts, retry in ', 'Service unavailable', 'This device', 'End session']) {
    t.match(js, text)
  }
  const css = (await request(url + '/assets/app.css')).body
  t.match(css, '[hidden] { display: none !important; }')
})

t.test('works on a router with a custom context, and refuses to register twice', async (t) => {
  interface Ctx extends RequestContext { readonly user: string }
  const router = new Router<Ctx>({ createContext: (base) => Object.assign(base, { user: 'x' }) })
  router.get('/api', (ctx) => sendJson(ctx.res, 200, { user: ctx.user }))
  t.equal(registerPage(router), router)
  const url = await serve(t, router)
  t.equal((await request(url + '/')).status, 200)
  t.equal((await request(url + '/api')).body, '{"user":"x"}')
  t.throws(() => registerPage(router), { name: 'TypeError', code: 'ERR_ROUTE_INVALID' })
})
