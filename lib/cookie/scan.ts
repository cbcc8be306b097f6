/**
 * The one scanner under both cookie parsers: it walks the ";"-separated segments of a `Cookie`
 * header (RFC 6265bis §4.2.1 `cookie-string = cookie-pair *( ";" SP cookie-pair )`) or of a
 * `Set-Cookie` line (§5.6: the cookie-pair, then `cookie-av`s), and finds in each segment its "="
 * and its name with OWS trimmed. parse.ts and set-cookie.ts decide what a segment means; the
 * walking, the trimming and the value policy ({@link readValue}) are written only here.
 *
 * This is the per-request path (readCookie runs on every request), so the scanner allocates
 * nothing: positions live in the fields of a {@link Segments} object that each parser creates
 * once and reuses, every method sees the same shapes (a string and small integers), and the work
 * is `indexOf` and `charCodeAt`, linear in the header's length. No split, no regular expression,
 * no string built until a caller slices the name or value it wants.
 */

/** RFC 9110 §5.6.3: OWS = *( SP / HTAB ). */
export function isOws(c: number): boolean {
  return c === 0x20 || c === 0x09
}

/** The first index in `[start, end)` of `text` that is not OWS, or `end`. */
function skipOws(text: string, start: number, end: number): number {
  while (start < end && isOws(text.charCodeAt(start))) start++
  return start
}

/** The end of `[start, end)` of `text` with trailing OWS removed (never below `start`). */
function trimOws(text: string, start: number, end: number): number {
  while (end > start && isOws(text.charCodeAt(end - 1))) end--
  return end
}

/**
 * A cursor over the ";"-separated segments of one header. Call {@link Segments.reset}, then
 * {@link Segments.nextSegment} (every segment: Set-Cookie attributes such as `Secure` have no
 * "=") or {@link Segments.nextPair} (only segments with a "=": Cookie header pairs) until it
 * returns false. The text is passed to every call rather than kept, so a reused scanner holds no
 * header (and no session token) after the call that read it.
 *
 * One scanner per parsing module, reused by every call in this process: a scan runs to its end or
 * is abandoned inside one synchronous call, and no caller's code runs during it, so two scans
 * never interleave. `reset` sets every field, so nothing from one call (finished or abandoned)
 * reaches the next; another process has its own scanner and sees nothing of ours.
 */
export class Segments {
  /** Where the current segment's name starts, OWS trimmed. */
  nameStart = 0
  /** Where the current segment's name ends, OWS trimmed: at its "=", or at its end without one. */
  nameEnd = 0
  /**
   * Where the current segment ends: at its ";" or at the end of the text. The next segment
   * starts one past it, so before the first segment it is -1.
   */
  end = -1
  /**
   * The first "=" at or after the current segment's start, or the text's length when there is
   * none. When it is below {@link Segments.end} it is this segment's "="; otherwise it belongs to
   * a later segment and is kept, not searched for again, so segments without "=" ("; a; a; a…=")
   * cost nothing extra and the whole scan stays linear.
   */
  eq = -1
  /**
   * The first "%" at or after the last value read, or the text's length when there is none;
   * kept like {@link Segments.eq}, so one `indexOf` serves every value up to that "%".
   */
  private percent = -1

  /** Get ready to scan a new text from its start. */
  reset(): void {
    this.end = -1
    this.eq = -1 // below the start: the first nextSegment searches
    this.percent = -1 // likewise for the first value
  }

  /** True when the current segment has a "=" (a `name=value` pair). */
  hasEq(): boolean {
    return this.eq < this.end
  }

  /** Move to the next segment, with or without "=". False when the text is used up. */
  nextSegment(text: string): boolean {
    const len = text.length
    const from = this.end + 1
    if (from >= len) return false
    let end = text.indexOf(';', from)
    if (end === -1) end = len
    let eq = this.eq
    if (eq < from) {
      eq = text.indexOf('=', from)
      if (eq === -1) eq = len
      this.eq = eq
    }
    const nameStart = skipOws(text, from, eq < end ? eq : end)
    this.nameStart = nameStart
    this.nameEnd = trimOws(text, nameStart, eq < end ? eq : end)
    this.end = end
    return true
  }

  /**
   * Move to the next segment that has a "=", skipping the others. False when none is left,
   * at once when no "=" remains anywhere in the rest of the text.
   */
  nextPair(text: string): boolean {
    while (this.nextSegment(text)) {
      if (this.eq < this.end) return true
      if (this.eq === text.length) return false
    }
    return false
  }

  /**
   * True when `text[at, at + length)` is the whole (OWS-trimmed) name of a pair: nothing but OWS
   * between it and the start of its segment (a ";" or the start of the text), nothing but OWS
   * between it and a "=". The caller guarantees that the name has no ";" or "=" and neither
   * starts nor ends with OWS, so that "=" is its segment's first. The pair becomes the current
   * segment, for {@link Segments.value}. Checking every place where a name occurs stays linear:
   * such places start and end at non-OWS characters, so the OWS runs walked over never overlap.
   */
  pairNamedAt(text: string, at: number, length: number): boolean {
    const before = trimOws(text, 0, at)
    if (before > 0 && text.charCodeAt(before - 1) !== 0x3b /* ; */) return false
    const len = text.length
    const eq = skipOws(text, at + length, len)
    if (text.charCodeAt(eq) !== 0x3d /* = */) return false // NaN at the end of the text
    let end = text.indexOf(';', eq)
    if (end === -1) end = len
    this.nameStart = at
    this.nameEnd = at + length
    this.eq = eq
    this.end = end
    this.percent = -1
    return true
  }

  /** The current segment's name (OWS trimmed); empty when the segment starts with "=". */
  name(text: string): string {
    return text.slice(this.nameStart, this.nameEnd)
  }

  /** The current segment's text after its "=", OWS trimmed, as sent; empty without a "=". */
  rawValue(text: string): string {
    if (this.eq >= this.end) return ''
    const start = skipOws(text, this.eq + 1, this.end)
    return text.slice(start, trimOws(text, start, this.end))
  }

  /** The current segment's value after its "=", under the {@link readValue} policy. */
  value(text: string): string {
    const start = this.eq + 1
    let percent = this.percent
    if (percent < start) {
      percent = text.indexOf('%', start)
      if (percent === -1) percent = text.length
      this.percent = percent
    }
    return readValue(text, start, this.end, percent < this.end)
  }
}

/**
 * The value between `start` and `end`: OWS trimmed, one pair of surrounding DQUOTEs removed, and
 * %-decoded when it contains "%" (`escaped`, which the caller knows) and decodes cleanly.
 *
 * Policy for quotes: RFC 6265bis §4.1.1 allows `cookie-value = DQUOTE *cookie-octet DQUOTE`; we
 * strip that one pair, like Go's net/http and Python's http.cookies, so `a="b"` reads as `b`
 * (jshttp/cookie@2 keeps the quotes). A lone or unbalanced quote is kept. Quotes are removed
 * before decoding, so an encoded `%22` stays in the value.
 */
function readValue(text: string, start: number, end: number, escaped: boolean): string {
  start = skipOws(text, start, end)
  end = trimOws(text, start, end)
  if (end - start > 1 && text.charCodeAt(start) === 0x22 && text.charCodeAt(end - 1) === 0x22) {
    start++
    end--
  }
  const value = text.slice(start, end)
  if (!escaped) return value
  try {
    return decodeURIComponent(value)
  } catch {
    // A malformed escape ("%", "%E0%A4%A", "%FF"): the raw value is still the client's value.
    return value
  }
}
