import {isUtf8} from 'node:buffer'

/**
 * Local names are bytes; S3 keys are UTF-8. A name that is not valid UTF-8 gets a reversible
 * spelling: every byte that is not part of a well-formed UTF-8 sequence (always 0x80–0xFF)
 * becomes the private-use character U+F700 + byte (U+F780–U+F7FF); every valid sequence stays
 * as it is. Paths travel through s3c (jobs, keys, Redis) as such strings, and `fsPath` turns
 * them back into the original bytes at the file-system call. A valid UTF-8 name that already
 * holds a character of U+F780–U+F7FF could not be told apart from a converted one, so such a
 * name is refused (the caller fails it by name). (U+DC80-style "surrogate escapes" as in Python
 * are impossible here: a lone surrogate is not valid in a key.)
 */

const FIRST = 0xf780
const LAST = 0xf7ff
const RESERVED = /[\uf780-\uf7ff]/

export interface DecodedName {
  name: string
  /** A valid UTF-8 name holding U+F780–U+F7FF: it would be read back as other bytes. */
  ambiguous: boolean
}

/** Length of the well-formed UTF-8 sequence at `i` (Unicode table 3-7), or 0 when there is none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i]
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < b.length && b[j] >= lo && b[j] <= hi
  if (c < 0x80) return 1
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80
    const hi = c === 0xed ? 0x9f : 0xbf
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80
    const hi = c === 0xf4 ? 0x8f : 0xbf
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0
  }
  return 0
}

/** The string s3c uses for a local name given as bytes. */
export function nameFromBytes(bytes: Buffer): DecodedName {
  if (isUtf8(bytes)) {
    const name = bytes.toString('utf8')
    return {name, ambiguous: RESERVED.test(name)}
  }
  let name = ''
  let ambiguous = false
  for (let i = 0; i < bytes.length;) {
    const n = sequenceLength(bytes, i)
    if (n === 0) {
      name += String.fromCharCode(0xf700 + bytes[i])
      i++
    } else {
      const s = bytes.toString('utf8', i, i + n)
      if (n === 3 && RESERVED.test(s)) ambiguous = true
      name += s
      i += n
    }
  }
  return {name, ambiguous}
}

/** The bytes a name or path stands for (the inverse of nameFromBytes). */
export function bytesOfName(s: string): Buffer {
  if (!RESERVED.test(s)) return Buffer.from(s, 'utf8')
  const parts: Buffer[] = []
  let start = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < FIRST || c > LAST) continue
    if (i > start) parts.push(Buffer.from(s.slice(start, i), 'utf8'))
    parts.push(Buffer.from([c - 0xf700]))
    start = i + 1
  }
  if (start < s.length) parts.push(Buffer.from(s.slice(start), 'utf8'))
  return Buffer.concat(parts)
}

/**
 * What to hand to `node:fs` for a path s3c carries as a string: the string itself, or the raw
 * bytes when it holds converted bytes. Use it for every file-system call on such paths.
 */
export function fsPath(p: string): string | Buffer {
  return RESERVED.test(p) ? bytesOfName(p) : p
}

/** True when the string holds characters of U+F780–U+F7FF. */
export function hasConvertedBytes(s: string): boolean {
  return RESERVED.test(s)
}

/**
 * True when a key (relative path) is exactly what s3c would make of some local name: its
 * U+F780–U+F7FF characters stand for bytes that are not valid UTF-8 where they are. A key
 * written by another tool with such characters is not, and cannot be downloaded faithfully.
 */
export function isFaithfulName(s: string): boolean {
  if (!RESERVED.test(s)) return true
  const back = nameFromBytes(bytesOfName(s))
  return !back.ambiguous && back.name === s
}
