/**
 * Credentials out of messages and log lines. A REDIS_URL carries its password
 * (`redis://user:pw@host`), and a log is read by more people, and kept longer, than the secret
 * store it came from (OWASP Logging Cheat Sheet, "Data to exclude": "passwords, database
 * connection strings").
 */

/**
 * `text` with the userinfo of every URL replaced by `***` (`redis://user:pw@host` →
 * `redis://***@host`), also in a malformed URL without "//" (`redis:/:pw@host`, `pw@host`),
 * so an email's local part goes too.
 */
export function redactCredentials(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s@]*@/gi, '$1***@')
    // Malformed URLs: whatever ends in "@" within a word is userinfo.
    .replace(/(^|[\s"'(=/])[^\s"'@/]*@/g, '$1***@')
}
