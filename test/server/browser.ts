/**
 * The login page in a real browser: Debian's Chromium driven by playwright-core against the real
 * auth server on a free port. Checks what only a browser can: the CSP lets our own script and
 * stylesheet run (and nothing is refused), the HttpOnly cookie stays out of `document.cookie`,
 * same-origin fetches pass the server's CSRF check, and the session list ends another device.
 *
 * No Chromium is a failure, never a skip: CI installs it (.ci/run), and a developer sees why.
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { PAGE_CSP } from '../../lib/server/page.js'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = '/tmp/sessionkit-page.png'
/** Bound for one browser step (a click, a wait); the whole test is bounded by tap's timeout. */
const STEP_MS = 15_000
const JOHN = { email: 'john@example.com', password: 'john-password-1' }

t.test('login page in Chromium: login, cart, sessions, end another session, logout', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    const where = process.env.CI === 'true' ? 'CI must install it (.ci/run: apt-get install chromium)' : 'install it with: sudo apt-get install chromium'
    t.fail(`Chromium not found at ${CHROMIUM}; ${where}`)
    return
  }

  const app = await startServer({ ...loadConfig({ PORT: '0', BCRYPT_COST: '4' }) })
  t.teardown(() => app.close())
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run', '--disable-sync', '--disable-quic'],
    timeout: 30_000,
  })
  t.teardown(() => browser.close())
  const context = await browser.newContext({ viewport: { width: 900, height: 800 } })
  const page = await context.newPage()
  page.setDefaultTimeout(STEP_MS)
  page.setDefaultNavigationTimeout(STEP_MS)

  // Script errors and CSP refusals ("Refused to execute …") show up here; a fetch answered 401 is
  // logged by Chromium as "Failed to load resource", which is expected on the logged-out page.
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(msg.text())
  })

  // Waits use locators, not page.waitForFunction('…'): a string predicate is eval()ed inside the
  // page, which our CSP (no 'unsafe-eval') rightly refuses.

  /** A request from Node: a second device, with its own cookie. */
  const fromNode = (path: string, init: RequestInit = {}): Promise<Response> =>
    fetch(app.url + path, { ...init, signal: AbortSignal.timeout(STEP_MS) })

  await t.test('the page loads with its CSP and shows the login form', async (t) => {
    const response = await page.goto(app.url + '/')
    t.equal(response?.status(), 200)
    t.equal(response?.headers()['content-security-policy'], PAGE_CSP)
    await page.waitForSelector('body[data-state="login"]')
    t.ok(await page.isVisible('#login-form'))
    t.notOk(await page.isVisible('#dashboard'))
    t.equal(await page.textContent('#cart-empty'), 'Your cart is empty.')
  })

  await t.test('login errors are shown: 429 with Retry-After, 503, then a real 401', async (t) => {
    await page.fill('#email', JOHN.email)
    await page.fill('#password', 'wrong-password-1')
    // 429 and 503 are hard to provoke for real here (throttle windows, a store outage): the browser
    // answers them itself, once each.
    const fake = (status: number, headers: Record<string, string>) =>
      page.route('**/login', (route) => route.fulfill({ status, headers, contentType: 'application/json', body: '{"error":"x"}' }), { times: 1 })
    await fake(429, { 'Retry-After': '30' })
    await page.click('#login-submit')
    await page.locator('#login-error', { hasText: /^Too many attempts, retry in 30 s$/ }).waitFor()
    t.equal(await page.textContent('#login-error'), 'Too many attempts, retry in 30 s')
    await fake(503, {})
    await page.fill('#password', 'wrong-password-1')
    await page.click('#login-submit')
    await page.locator('#login-error', { hasText: /^Service unavailable$/ }).waitFor()
    t.equal(await page.textContent('#login-error'), 'Service unavailable')
    await page.fill('#password', 'wrong-password-1')
    await page.click('#login-submit')
    await page.locator('#login-error', { hasText: /^Invalid credentials$/ }).waitFor()
    t.equal(await page.textContent('#login-error'), 'Invalid credentials')
    t.equal(await page.inputValue('#password'), '', 'the password field is cleared after a failed attempt')
  })

  await t.test('login through the form shows the dashboard', async (t) => {
    await page.fill('#email', JOHN.email)
    await page.fill('#password', JOHN.password)
    await page.check('#remember')
    await page.click('#login-submit')
    await page.waitForSelector('body[data-state="dashboard"]')
    t.match(await page.textContent('#welcome'), 'Welcome to dashboard')
    t.equal(await page.textContent('#user-email'), JOHN.email)
    t.ok(await page.isHidden('#login-form'))
    t.ok(await page.isHidden('#login-error'))
  })

  await t.test('the session cookie is HttpOnly: in the jar, not in document.cookie', async (t) => {
    const jar = await context.cookies(app.url)
    const sid = jar.find((c) => c.name === 'sid')
    t.ok(sid, 'the jar holds the session cookie')
    t.equal(sid?.httpOnly, true)
    t.equal(sid?.sameSite, 'Lax')
    t.ok((sid?.expires ?? -1) > Date.now() / 1000, '"Remember me" gives a persistent cookie')
    const visible = await page.evaluate<string>('document.cookie')
    t.notMatch(visible, /(^|;\s*)sid=/)
    t.notOk(visible.includes(sid?.value ?? 'no cookie'), 'the value does not leak either')
  })

  await t.test('the cart adds an item and shows markup as text', async (t) => {
    await page.fill('#cart-item', 'Coffee <b>beans</b>')
    await page.click('#cart-add')
    await page.waitForSelector('#cart-items li')
    t.equal(await page.textContent('#cart-items li'), 'Coffee <b>beans</b>')
    t.equal(await page.locator('#cart-items b').count(), 0, 'no element made from the item')
    t.ok(await page.isHidden('#cart-empty'))
    t.equal(await page.inputValue('#cart-item'), '')
  })

  let otherCookie = ''
  await t.test('a second login from Node shows up in the list, once, as another device', async (t) => {
    const login = await fromNode('/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(JOHN),
    })
    t.equal(login.status, 200)
    otherCookie = login.headers.getSetCookie().map((c) => c.split(';')[0] as string).find((c) => c.startsWith('sid=')) ?? ''
    t.match(otherCookie, /^sid=./)
    t.equal((await fromNode('/dashboard', { headers: { Cookie: otherCookie } })).status, 200)

    await page.click('#sessions-refresh')
    const rows = page.locator('#sessions [data-handle]')
    await t.resolves(rows.nth(1).waitFor(), 'two rows')
    t.equal(await rows.count(), 2)
    const current = page.locator('#sessions [data-handle][data-current="true"]')
    t.equal(await current.count(), 1, 'exactly one current session')
    t.match(await current.textContent(), 'This device')
    t.equal(await current.locator('button').count(), 0, 'no End session on this device')
    const other = page.locator('#sessions [data-handle]:not([data-current])')
    t.match(await other.textContent(), /Node\.js.*127\.0\.0\.1/s)
    t.equal(await other.locator('button').textContent(), 'End session')

    await page.screenshot({ path: SCREENSHOT, fullPage: true })
  })

  await t.test('"End session" ends the other device: its cookie now gets 401', async (t) => {
    await page.click('#sessions [data-handle]:not([data-current]) button')
    await page.locator('#sessions [data-handle]').nth(1).waitFor({ state: 'detached' })
    t.equal(await page.locator('#sessions [data-handle]').count(), 1)
    t.equal(await page.locator('#sessions [data-current="true"]').count(), 1, 'this device stays')
    t.equal(await page.textContent('#notice'), 'Session ended')
    t.ok(await page.isDisabled('#revoke-others'), 'no other session left to log out')
    t.equal((await fromNode('/dashboard', { headers: { Cookie: otherCookie } })).status, 401)
    t.equal(await page.evaluate('fetch("/dashboard", { credentials: "same-origin" }).then((r) => r.status)'), 200)
  })

  await t.test('"Change password" changes it; a user sees no Users section', async (t) => {
    t.ok(await page.isVisible('#password-card'))
    t.ok(await page.isHidden('#users-card'), 'not an admin')
    await page.fill('#current-password', 'not-the-password')
    await page.fill('#new-password', 'john-password-2')
    await page.click('#password-submit')
    await page.locator('#password-error', { hasText: /Current password is incorrect/ }).waitFor()
    await page.fill('#current-password', JOHN.password)
    await page.fill('#new-password', 'john-password-2')
    await page.click('#password-submit')
    await page.locator('#notice', { hasText: /^Password changed; ended 0 other sessions$/ }).waitFor()
    t.equal(await page.inputValue('#new-password'), '', 'the fields are cleared')
    t.equal(await page.evaluate('fetch("/dashboard", { credentials: "same-origin" }).then((r) => r.status)'), 200, 'this session stays')
    const old = await fromNode('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(JOHN) })
    t.equal(old.status, 401, 'the old password is refused')
  })

  await t.test('"Log out" returns to the login form and the session is gone', async (t) => {
    await page.click('#logout')
    await page.waitForSelector('body[data-state="login"]')
    t.ok(await page.isVisible('#login-form'))
    t.ok(await page.isHidden('#dashboard'))
    t.ok(await page.isHidden('#sessions-card'))
    t.equal(await page.textContent('#notice'), 'Logged out successfully')
    t.equal(await page.evaluate('fetch("/dashboard", { credentials: "same-origin" }).then((r) => r.status)'), 401)
    await page.waitForSelector('#cart-items:empty', { state: 'attached' })
    t.ok(await page.isVisible('#cart-empty'), 'the cart went with the session')
  })

  await t.test('an admin sees Users: create, disable, enable, reset password, revoke sessions', async (t) => {
    await page.fill('#email', 'admin@example.com')
    await page.fill('#password', 'admin-password-1')
    await page.click('#login-submit')
    await page.waitForSelector('body[data-state="dashboard"]')
    await page.locator('#users [data-user-id]').nth(1).waitFor()
    t.equal(await page.locator('#users [data-user-id]').count(), 2)
    await page.fill('#new-user-email', 'ann@example.com')
    await page.fill('#new-user-name', 'Ann <i>')
    await page.fill('#new-user-password', 'ann-password-1')
    await page.click('#user-create')
    await page.locator('#users [data-email="ann@example.com"]').waitFor()
    t.match(await page.textContent('#users [data-email="ann@example.com"]'), 'Ann <i>', 'names are text')
    const login = (password: string) => fromNode('/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ email: 'ann@example.com', password }) })
    t.equal((await login('ann-password-1')).status, 200, 'the new user logs in')

    const ann = '#users [data-email="ann@example.com"]'
    await page.click(`${ann} [data-action="disable"]`)
    await page.locator(`${ann}[data-disabled="true"]`).waitFor()
    t.equal((await login('ann-password-1')).status, 401, 'disabled: refused')
    await page.click(`${ann} [data-action="enable"]`)
    await page.locator(`${ann}:not([data-disabled])`).waitFor()
    t.equal((await login('ann-password-1')).status, 200, 'enabled again')

    page.once('dialog', (dialog) => void dialog.accept('ann-password-2'))
    await page.click(`${ann} [data-action="reset"]`)
    await page.locator('#notice', { hasText: /reset/ }).waitFor()
    t.equal((await login('ann-password-1')).status, 401, 'reset: the old password is refused')
    const fresh = await login('ann-password-2')
    t.equal(fresh.status, 200, 'and the new one works')
    const cookie = fresh.headers.getSetCookie().map((c) => c.split(';')[0] as string).find((c) => c.startsWith('sid=')) ?? ''
    await page.click(`${ann} [data-action="revoke"]`)
    await page.locator('#notice', { hasText: /^Sessions revoked$/ }).waitFor()
    t.equal((await fromNode('/dashboard', { headers: { Cookie: cookie } })).status, 401, "revoked: Ann's session ended")
  })

  t.same(problems, [], 'no script errors and no CSP refusals')
})
