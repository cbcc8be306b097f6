/**
 * The peer the seed followed: Express 4 + express-session, configured as its README and the usual
 * login tutorial do (session middleware on every route, `resave: false`,
 * `saveUninitialized: false`, `express.json()`), with the MemoryStore or connect-redis 9 on the
 * node-redis client (connect-redis 9 speaks `redis`, not ioredis). Express defaults otherwise
 * (ETag, X-Powered-By): that is what users run.
 *
 * Environment: BENCH_STORE (memory | redis), BENCH_REDIS_URL, BENCH_PREFIX, BENCH_USERS_FILE,
 * SESSION_SECRET.
 */
import express from 'express'
import session from 'express-session'
import { announce, bodies, css, DAY_MS, loadUsers, MAX_CART_ITEMS, peerStore, required, verifyPassword } from './common.mjs'

const users = loadUsers()
const { store, redis } = await peerStore()

const app = express()
app.use(express.json())
app.use(
  session({
    secret: required('SESSION_SECRET'),
    resave: false,
    saveUninitialized: false,
    store,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: DAY_MS },
  }),
)

app.get('/assets/app.css', (req, res) => {
  res.writeHead(200, css.headers).end(css.body)
})

app.post('/login', async (req, res, next) => {
  try {
    const user = users.byEmail.get(String(req.body?.email).trim().toLowerCase())
    if (!(await verifyPassword(req.body?.password, user?.passwordHash ?? ''))) return res.status(401).json(bodies.invalid)
    // New session ID at login (session fixation), as the express-session README shows.
    req.session.regenerate((err) => {
      if (err) return next(err)
      req.session.userId = user.id
      res.json(bodies.login(user))
    })
  } catch (err) {
    next(err)
  }
})

app.post('/logout', (req, res, next) => {
  req.session.destroy((err) => (err ? next(err) : res.json(bodies.logout)))
})

app.get('/dashboard', (req, res) => {
  const user = req.session.userId === undefined ? undefined : users.byId.get(req.session.userId)
  if (user === undefined) return res.status(401).json(bodies.unauthenticated)
  res.json(bodies.dashboard(user))
})

app.get('/cart', (req, res) => {
  res.json({ cart: req.session.cart ?? [] })
})

app.post('/cart', (req, res) => {
  const item = req.body?.item
  if (typeof item !== 'string') return res.status(400).json(bodies.badItem)
  const cart = req.session.cart ?? []
  if (cart.length >= MAX_CART_ITEMS) return res.status(400).json(bodies.cartFull)
  req.session.cart = [...cart, item]
  res.json({ cart: req.session.cart })
})

const server = app.listen(0, '127.0.0.1', () => {
  announce(`http://127.0.0.1:${server.address().port}`, async () => {
    await new Promise((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    await redis?.quit()
  })
})
