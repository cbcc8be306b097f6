/**
 * The page's idle warning and in-place re-authentication in a real browser (Debian's Chromium,
 * playwright-core), against the real auth server with short timeouts: an idle timeout of 2:03, so
 * the two-minute warning appears three seconds after login, and a re-auth age of 1.5 s.
 *
 * No Chromium is a failure, never a skip: CI installs it (.ci/run).
 */
import t from 'tap'
import { existsSync } from 'node:fs'
import { chromium } from 'playwright-core'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'

const CHROMIUM = '/usr/bin/chromium'
const STEP_MS = 15_000
const IDLE_MS = 123_000
const REAUTH_MS = 1500
const JOHN = { email: 'john@example.com', password: 'john-password-1' }

t.test('idle warning with "Stay signed in", and the password asked in place for a sensitive action', { timeout: 120_000 }, async (t) => {
  if (!existsSync(CHROMIUM)) {
    const where = process.env.CI === 'true' ? 'CI must install it (.ci/run: apt-get install chromium)' : 'install it with: sudo apt-get install chromium'
    t.fail(`Chromium not found at ${CHROMIUM}; ${where}`)
    return
  }
  const app = await startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4', SESSION_IDLE_MS: String(IDLE_MS), REAUTH_MAX_AGE_MS: String(REAUTH_MS) }))
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
  const problems: string[] = []
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource')) problems.push(msg.text())
  })
  /** GET /session from inside the page (same cookie); it never slides the clock itself. */
  const idleExpiresAt = async (): Promise<number> =>
    Date.parse(await page.evaluate<string>('fetch("/session").then((r) => r.json()).then((s) => s.idleExpiresAt)'))
  const sid = async (): Promise<string | undefined> => (await context.cookies(app.url)).find((c) => c.name === 'sid')?.value

  await page.goto(app.url + '/')
  await page.waitForSelector('body[data-state="login"]')
  await page.fill('#email', JOHN.email)
  await page.fill('#password', JOHN.password)
  await page.click('#login-submit')
  await page.waitForSelector('body[data-state="dashboard"]')

  await t.test('two minutes before the idle timeout the page warns, with a countdown', async (t) => {
    t.ok(await page.isHidden('#idle-warning'), 'no warning right after login (2:03 left)')
    await page.locator('#idle-warning').waitFor({ state: 'visible' })
    t.match(await page.textContent('#idle-text'), /^You will be signed out in 1:5\d$/)
    t.equal(await page.textContent('#stay-signed-in'), 'Stay signed in')
  })

  await t.test('"Stay signed in" refreshes the idle clock and hides the warning', async (t) => {
    const before = await idleExpiresAt()
    t.equal(await idleExpiresAt(), before, 'watching (GET /session) does not extend the session')
    await page.click('#stay-signed-in')
    await page.locator('#idle-warning').waitFor({ state: 'hidden' })
    const after = await idleExpiresAt()
    t.ok(after > before, `the idle deadline moved ${after - before} ms later`)
    t.ok(after - Date.now() > 120_000, 'more than the warning time is left again')
  })

  await t.test('a sensitive action with a stale proof asks for the password in place, then runs', async (t) => {
    const other = await fetch(app.url + '/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(JOHN),
    })
    const otherCookie = (other.headers.getSetCookie()[0] ?? '').split(';')[0] as string
    await page.click('#sessions-refresh')
    await page.locator('#sessions [data-handle]').nth(1).waitFor()
    await page.waitForTimeout(REAUTH_MS + 200) // let the login's proof go stale (bounded, not a poll)

    const idBefore = await sid()
    await page.click('#revoke-others')
    await page.locator('#reauth').waitFor({ state: 'visible' })
    t.equal((await fetch(app.url + '/dashboard', { headers: { Cookie: otherCookie } })).status, 200, 'not done yet')

    await page.fill('#reauth-password', 'wrong-password-1')
    await page.click('#reauth-submit')
    await page.locator('#reauth-error', { hasText: 'Password is incorrect' }).waitFor()
    t.ok(await page.isVisible('#reauth'), 'a wrong password keeps the prompt open')

    await page.fill('#reauth-password', JOHN.password)
    await page.click('#reauth-submit')
    await page.locator('#reauth').waitFor({ state: 'hidden' })
    await page.locator('#notice', { hasText: 'Ended 1 other session' }).waitFor()
    t.equal(await page.textContent('#notice'), 'Ended 1 other session', 'the action was retried and ran')
    t.equal((await fetch(app.url + '/dashboard', { headers: { Cookie: otherCookie } })).status, 401, 'the other device is out')
    t.not(await sid(), idBefore, 're-authentication gave this tab a new session ID')
    t.equal(await page.inputValue('#reauth-password'), '', 'the password is not left in the form')
  })

  await t.test('cancelling the prompt leaves things as they were', async (t) => {
    const other = await fetch(app.url + '/login', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(JOHN),
    })
    const otherCookie = (other.headers.getSetCookie()[0] ?? '').split(';')[0] as string
    await page.click('#sessions-refresh')
    await page.locator('#sessions [data-handle]').nth(1).waitFor()
    await page.waitForTimeout(REAUTH_MS + 200)
    await page.click('#sessions [data-handle]:not([data-current]) button')
    await page.locator('#reauth').waitFor({ state: 'visible' })
    await page.click('#reauth-cancel')
    await page.locator('#reauth').waitFor({ state: 'hidden' })
    t.equal((await fetch(app.url + '/dashboard', { headers: { Cookie: otherCookie } })).status, 200, 'the other session lives')
    t.equal(await page.locator('#sessions [data-handle]').count(), 2)
  })

  t.same(problems, [], 'no script errors and no CSP refusals')
})
