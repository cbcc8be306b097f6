import t from 'tap'
import type { IncomingMessage } from 'node:http'
import { HttpError } from '../../lib/http.js'
import { checkCsrf, type OriginPolicy } from '../../lib/server/csrf.js'

function req(method: string, headers: Record<string, string>): IncomingMessage {
  return { method, headers } as unknown as IncomingMessage
}

/** The status `checkCsrf` answers: 0 when the request passes. */
function verdict(method: string, headers: Record<string, string>, policy?: OriginPolicy): number {
  try {
    checkCsrf(req(method, headers), policy)
    return 0
  } catch (err) {
    return (err as HttpError).status
  }
}

t.test('safe methods always pass; unsafe ones are judged by Sec-Fetch-Site, then Origin', async (t) => {
  const hostile = { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example', host: 'app.example' }
  for (const method of ['GET', 'HEAD', 'OPTIONS']) t.equal(verdict(method, hostile), 0, method)
  for (const site of ['cross-site', 'same-site']) t.equal(verdict('POST', { 'sec-fetch-site': site }), 403, site)
  for (const site of ['same-origin', 'none']) t.equal(verdict('POST', { 'sec-fetch-site': site }), 0, site)
  t.equal(verdict('DELETE', {}), 0, 'no browser metadata: not a browser, passes')
  t.equal(verdict('POST', { origin: 'http://app.example', host: 'app.example' }), 0, 'our own origin')
  t.equal(verdict('POST', { origin: 'http://app.example:8080', host: 'app.example' }), 403, 'another port')
  for (const origin of ['null', 'junk']) t.equal(verdict('POST', { origin, host: 'app.example' }), 403, origin)
})

t.test('PUBLIC_ORIGIN replaces Host; forwarded headers only when trusted', async (t) => {
  const publicOrigins = ['https://app.example']
  t.equal(verdict('POST', { origin: 'https://app.example', host: 'internal:3000' }, { publicOrigins }), 0)
  t.equal(verdict('POST', { origin: 'https://internal:3000', host: 'internal:3000' }, { publicOrigins }), 403)
  t.equal(verdict('POST', { origin: 'http://internal:3000', host: 'internal:3000' }, { publicOrigins: [] }), 0, 'an empty list is unset')
  const forwarded = { origin: 'https://app.example', host: 'internal:3000', 'x-forwarded-host': 'evil, App.example', 'x-forwarded-proto': 'http, HTTPS' }
  t.equal(verdict('POST', forwarded), 403, 'untrusted: Host decides')
  t.equal(verdict('POST', forwarded, { trustForwardedHost: true }), 0, 'trusted: the last values, any case')
  t.equal(verdict('POST', { ...forwarded, 'x-forwarded-proto': 'http' }, { trustForwardedHost: true }), 403, 'scheme differs')
  const { 'x-forwarded-proto': _, ...hostOnly } = forwarded
  t.equal(verdict('POST', hostOnly, { trustForwardedHost: true }), 0, 'no proto: host alone')
  t.equal(verdict('POST', { origin: 'http://internal:3000', host: 'internal:3000', 'x-forwarded-host': ' ' }, { trustForwardedHost: true }), 0,
    'an empty forwarded host falls back to Host')
})
