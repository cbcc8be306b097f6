/**
 * IP address canonicalisation, for keys of per-client limits (login throttle, new anonymous
 * sessions).
 *
 * A limit keyed on the address *text* is dodged by respelling it: `2001:DB8::1`,
 * `2001:db8:0:0:0:0:0:1` and `2001:db8::0001` are one host, and `::ffff:192.0.2.1` is the IPv4
 * client 192.0.2.1 seen through a dual-stack socket. So every address is brought to one spelling
 * first: RFC 5952 §4 for IPv6 (lower case, no leading zeros, the longest run of two or more zero
 * groups shortened to `::`, the first one on a tie) and dotted decimal for IPv4.
 *
 * Then IPv6 clients are keyed by their /64: one customer or host is normally given a whole /64
 * (RFC 6177, RIPE-690) and picks addresses in it freely (RFC 8981 temporary addresses), so a limit
 * per /128 is a limit per attempt. IPv4 clients are keyed by the address itself.
 *
 * `node:net` has `isIP` but no canonical form, hence this small parser.
 */

/** Parse dotted-decimal IPv4 (exactly four decimal octets, no leading zeros) into 4 bytes. */
function parseIPv4(text: string): number[] | null {
  const parts = text.split('.')
  if (parts.length !== 4) return null
  const out: number[] = []
  for (const part of parts) {
    // A leading zero is refused: some parsers read "010" as octal 8, so its meaning is ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return null
    const n = Number(part)
    if (n > 255) return null
    out.push(n)
  }
  return out
}

/** Parse IPv6 text (with an optional dotted IPv4 tail) into 8 groups of 16 bits. */
function parseIPv6(text: string): number[] | null {
  const double = text.indexOf('::')
  if (double !== -1 && text.indexOf('::', double + 1) !== -1) return null
  const head = double === -1 ? text : text.slice(0, double)
  const tail = double === -1 ? '' : text.slice(double + 2)
  const groups = (part: string, allowV4: boolean): number[] | null => {
    if (part === '') return []
    const out: number[] = []
    const pieces = part.split(':')
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] as string
      if (allowV4 && i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece)
        if (v4 === null) return null
        out.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number))
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null
        out.push(parseInt(piece, 16))
      }
    }
    return out
  }
  const left = groups(head, double === -1)
  const right = groups(tail, true)
  if (left === null || right === null) return null
  if (double === -1) return left.length === 8 ? left : null
  // "::" stands for at least one zero group (RFC 4291 §2.2).
  const missing = 8 - left.length - right.length
  if (missing < 1) return null
  return [...left, ...new Array<number>(missing).fill(0), ...right]
}

/** RFC 5952 §4 text of 8 groups. */
function formatIPv6(groups: readonly number[]): string {
  // The longest run of two or more zero groups (the first one on a tie) becomes "::".
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`
}

/**
 * The canonical text of an IP address, or `null` if `text` is not one. IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`, any spelling) comes back as the IPv4 address. A zone index (`fe80::1%eth0`)
 * is dropped: it names the local interface, not the peer. Brackets (`[::1]`) are accepted.
 */
export function canonicalIp(text: string): string | null {
  if (typeof text !== 'string' || text.length > 64) return null
  let s = text.trim()
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1)
  if (!s.includes(':')) {
    const v4 = parseIPv4(s)
    return v4 === null ? null : v4.join('.')
  }
  const zone = s.indexOf('%')
  if (zone !== -1) s = s.slice(0, zone)
  const groups = parseIPv6(s)
  if (groups === null) return null
  // ::ffff:0:0/96, IPv4-mapped (RFC 4291 §2.5.5.2): the client is an IPv4 one.
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const hi = groups[6] as number
    const lo = groups[7] as number
    return `${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`
  }
  return formatIPv6(groups)
}

/**
 * The key a per-client limit counts under: the canonical IPv4 address, or the canonical /64
 * prefix of an IPv6 address (`2001:db8:1:2::/64`). Text that is not an address (an empty string
 * when the socket is gone, a proxy's odd value) is keyed as itself, trimmed and lower-cased, so
 * it still counts somewhere.
 */
export function clientKey(ip: string): string {
  const canonical = canonicalIp(ip)
  if (canonical === null) return String(ip).trim().toLowerCase()
  if (!canonical.includes(':')) return canonical
  const groups = parseIPv6(canonical) as number[]
  return `${formatIPv6([...groups.slice(0, 4), 0, 0, 0, 0])}/64`
}
