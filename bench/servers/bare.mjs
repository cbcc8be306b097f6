/**
 * The ceiling: bare node:http with no session at all, answering the routes the scenarios use with
 * the same bodies as the session servers (JSON.stringify per request, as they do). POST /login
 * answers 200 without checking anything; /dashboard answers as if the first bench user were logged
 * in; POST /cart reads and parses the body and answers a one-item cart.
 */
import { createServer } from 'node:http'
import { announce, bodies, css, loadUsers } from './common.mjs'

const users = loadUsers()
const user = users.byId.values().next().value

function json(res, status, body) {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) })
  res.end(text)
}

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')))
      } catch (err) {
        reject(err)
      }
    })
    req.on('error', reject)
  })
}

const server = createServer((req, res) => {
  const route = `${req.method} ${req.url}`
  if (route === 'GET /dashboard') return json(res, 200, bodies.dashboard(user))
  if (route === 'GET /assets/app.css') return res.writeHead(200, css.headers).end(css.body)
  if (route === 'POST /cart' || route === 'POST /login') {
    return readJson(req).then(
      (body) => json(res, 200, route === 'POST /cart' ? { cart: [String(body.item)] } : bodies.login(user)),
      () => json(res, 400, { error: 'Malformed JSON' }),
    )
  }
  if (route === 'POST /logout') return json(res, 200, bodies.logout)
  if (route === 'GET /cart') return json(res, 200, { cart: [] })
  json(res, 404, { error: 'Not found' })
})
server.listen(0, '127.0.0.1', () => {
  announce(`http://127.0.0.1:${server.address().port}`, () => new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  }))
})
