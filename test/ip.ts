// canonicalIp and clientKey: one spelling per address, one key per IPv6 /64.
import t from 'tap'
import { isIP } from 'node:net'
import fc from 'fast-check'
import { canonicalIp, clientKey } from '../lib/ip.js'

const canonical: Array<[input: string, expected: string | null]> = [
  // IPv4
  ['192.0.2.1', '192.0.2.1'],
  [' 192.0.2.1 ', '192.0.2.1'],
  ['0.0.0.0', '0.0.0.0'],
  ['255.255.255.255', '255.255.255.255'],
  ['256.1.1.1', null],
  ['01.2.3.4', null],
  ['1.2.3', null],
  ['1.2.3.4.5', null],
  ['1.2.3.-4', null],
  ['1.2.3.4a', null],
  // IPv6, RFC 5952 §4 examples and respellings of one address
  ['2001:db8:1:2::1', '2001:db8:1:2::1'],
  ['2001:DB8:1:2::1', '2001:db8:1:2::1'],
  ['2001:db8:1:2:0:0:0:1', '2001:db8:1:2::1'],
  ['2001:0db8:0001:0002:0000:0000:0000:0001', '2001:db8:1:2::1'],
  ['[2001:db8:1:2::1]', '2001:db8:1:2::1'],
  ['2001:db8::0:1', '2001:db8::1'],
  ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: the first run shortens
  ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a lone zero group stays
  ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run shortens
  ['::', '::'],
  ['::1', '::1'],
  ['1::', '1::'],
  ['0:0:0:0:0:0:0:1', '::1'],
  ['fe80::1%eth0', 'fe80::1'],
  ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
  ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
  ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
  ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
  // IPv4-mapped: the IPv4 client
  ['::ffff:1.2.3.4', '1.2.3.4'],
  ['::FFFF:1.2.3.4', '1.2.3.4'],
  ['::ffff:0102:0304', '1.2.3.4'],
  ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'],
  ['[::ffff:192.0.2.1]', '192.0.2.1'],
  // not addresses
  ['', null],
  ['localhost', null],
  [':::', null],
  ['1::2::3', null],
  ['1:2:3:4:5:6:7:8:9', null],
  ['1:2:3:4:5:6:7', null],
  ['::1:2:3:4:5:6:7:8', null],
  ['12345::', null],
  ['g::1', null],
  ['1.2.3.4::', null],
  ['::1.2.3', null],
  ['::ffff:1.2.3.4:5', null],
  ['1:' + '0'.repeat(80), null],
]

t.test('canonicalIp table', async (t) => {
  for (const [input, expected] of canonical) t.equal(canonicalIp(input), expected, JSON.stringify(input))
  t.equal(canonicalIp(42 as unknown as string), null, 'a non-string is no address')
})

const keys: Array<[input: string, expected: string]> = [
  ['192.0.2.1', '192.0.2.1'],
  ['::ffff:192.0.2.1', '192.0.2.1'],
  ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
  ['2001:db8:1:2::6', '2001:db8:1:2::/64'],
  ['2001:DB8:1:2:ffff:ffff:ffff:ffff', '2001:db8:1:2::/64'],
  ['2001:db8:1:3::1', '2001:db8:1:3::/64'],
  ['::1', '::/64'],
  ['fe80::1%eth0', 'fe80::/64'],
  ['1:2:3:4:5:6:7:8', '1:2:3:4::/64'],
  ['', ''],
  [' Unknown ', 'unknown'],
]

t.test('clientKey table: IPv4 whole, IPv6 by /64', async (t) => {
  for (const [input, expected] of keys) t.equal(clientKey(input), expected, JSON.stringify(input))
})

t.test('property: every spelling of an IPv6 address has the canonical form node accepts', async (t) => {
  const group = fc.integer({ min: 0, max: 0xffff })
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), fc.boolean(), (groups, upper) => {
      const long = groups.map((g) => g.toString(16).padStart(4, '0')).join(':')
      const text = upper ? long.toUpperCase() : long
      const c = canonicalIp(text)
      if (c === null) return false
      // Canonical text parses back to itself, and node agrees it is an address.
      if (canonicalIp(c) !== c) return false
      if (isIP(c) === 0) return false
      // Same /64 key for both spellings.
      return clientKey(text) === clientKey(c)
    }),
    { numRuns: 300 },
  )
  t.pass('300 random addresses canonicalised')
})
