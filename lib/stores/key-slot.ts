/**
 * The Redis Cluster hash slot of a key (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/#key-distribution-model):
 * CRC16 (XMODEM: polynomial 0x1021, initial value 0) of the key's bytes, modulo 16384, where a
 * key holding a non-empty `{…}` hash tag is hashed on the tag alone. The client-side cache needs it
 * to send a read to the connection of the master that owns the key (lib/stores/redis-tracking.ts);
 * ioredis computes the same thing internally but does not export it, and a dependency of our own
 * for twenty lines is not worth it.
 */

const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let crc = i << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  TABLE[i] = crc
}

/** CRC16-XMODEM of `bytes[from, to)`. */
function crc16(bytes: Uint8Array, from: number, to: number): number {
  let crc = 0
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number)
  return crc
}

/** The slot (0…16383) of `key`, as `CLUSTER KEYSLOT` answers it. */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8')
  const open = bytes.indexOf(0x7b) // '{'
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1) // '}'
    if (close > open + 1) return crc16(bytes, open + 1, close) & 0x3fff
  }
  return crc16(bytes, 0, bytes.length) & 0x3fff
}
