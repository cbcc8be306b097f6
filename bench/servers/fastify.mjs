/**
 * The fast peer: Fastify 5 + @fastify/cookie + @fastify/session, configured as their READMEs show,
 * with `saveUninitialized: false` (as for express-session and sessionkit: no store write for a
 * visitor who stores nothing). Store: @fastify/session's own MemoryStore, or connect-redis 9 on
 * the node-redis client (the store the @fastify/session README uses for Redis).
 *
 * Environment: BENCH_STORE (memory | redis), BENCH_REDIS_URL, BENCH_PREFIX, BENCH_USERS_FILE,
 * SESSION_SECRET (≥ 32 characters, as @fastify/session requires).
 */
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import Fastify from 'fastify'
import { announce, bodies, css, DAY_MS, loadUsers, MAX_CART_ITEMS, peerStore, required, verifyPassword } from './common.mjs'

const users = loadUsers()
const { store, redis } = await peerStore()

const app = Fastify({ logger: false })
await app.register(fastifyCookie)
await app.register(fastifySession, {
  secret: required('SESSION_SECRET'),
  saveUninitialized: false,
  cookie: { secure: false, httpOnly: true, sameSite: 'lax', maxAge: DAY_MS },
  ...(store ? { store } : {}),
})

app.get('/assets/app.css', (request, reply) => {
  reply.headers(css.headers).send(css.body)
})

app.post('/login', async (request, reply) => {
  const user = users.byEmail.get(String(request.body?.email).trim().toLowerCase())
  if (!(await verifyPassword(request.body?.password, user?.passwordHash ?? ''))) return reply.code(401).send(bodies.invalid)
  // New session ID at login (session fixation).
  await request.session.regenerate()
  request.session.set('userId', user.id)
  return bodies.login(user)
})

app.post('/logout', async (request) => {
  await request.session.destroy()
  return bodies.logout
})

app.get('/dashboard', async (request, reply) => {
  const id = request.session.get('userId')
  const user = id === undefined ? undefined : users.byId.get(id)
  if (user === undefined) return reply.code(401).send(bodies.unauthenticated)
  return bodies.dashboard(user)
})

app.get('/cart', async (request) => ({ cart: request.session.get('cart') ?? [] }))

app.post('/cart', async (request, reply) => {
  const item = request.body?.item
  if (typeof item !== 'string') return reply.code(400).send(bodies.badItem)
  const cart = request.session.get('cart') ?? []
  if (cart.length >= MAX_CART_ITEMS) return reply.code(400).send(bodies.cartFull)
  const next = [...cart, item]
  request.session.set('cart', next)
  return { cart: next }
})

const address = await app.listen({ port: 0, host: '127.0.0.1' })
announce(address, async () => {
  await app.close()
  await redis?.quit()
})
