import {crc32} from 'node:zlib'

export {crc32}

/*
 * CRC-32 of a concatenation from the CRCs of its pieces (zlib's crc32_combine): the parts of
 * one tar member are read by different jobs, and each file is read only once.
 */
function gf2Times(mat: Uint32Array, vec: number): number {
  let sum = 0
  for (let i = 0; vec !== 0; i++, vec >>>= 1) if (vec & 1) sum ^= mat[i]
  return sum >>> 0
}

function gf2Square(square: Uint32Array, mat: Uint32Array): void {
  for (let n = 0; n < 32; n++) square[n] = gf2Times(mat, mat[n])
}

/** crc32(A ‖ B) from crc32(A), crc32(B) and B's length. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB <= 0) return crcA >>> 0
  const even = new Uint32Array(32)
  const odd = new Uint32Array(32)
  odd[0] = 0xedb88320 // the CRC-32 polynomial, reflected
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row
  gf2Square(even, odd) // two zero bits
  gf2Square(odd, even) // four zero bits
  let crc = crcA >>> 0
  let len = lengthB
  do {
    gf2Square(even, odd)
    if (len % 2) crc = gf2Times(even, crc)
    len = Math.floor(len / 2)
    if (len === 0) break
    gf2Square(odd, even)
    if (len % 2) crc = gf2Times(odd, crc)
    len = Math.floor(len / 2)
  } while (len !== 0)
  return (crc ^ crcB) >>> 0
}
