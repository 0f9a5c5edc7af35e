/** Sizes in bytes: 1 KiB = 1,024 bytes, 1 MiB = 1,024 KiB. */
export const KiB = 1024
export const MiB = 1024 * KiB
export const GiB = 1024 * MiB

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB']

export function formatBytes(n: number): string {
  let v = n
  let i = 0
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[i]}`
}

/** Parses sizes like `8MiB`, `8M`, `5242880`, `1.5GiB`. */
export function parseSize(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$/i.exec(s)
  if (!m) throw new Error(`"${s}" is not a size: write a byte count or a number with KiB, MiB, GiB`)
  const mult = {'': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4}[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't']
  return Math.round(Number(m[1]) * mult)
}
