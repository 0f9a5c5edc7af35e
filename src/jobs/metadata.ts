/**
 * What s3c stores in object metadata. `mtime` uses rclone's format (seconds since the epoch with
 * a fraction) so rclone and s3c agree on modification times.
 */
export const META_MTIME = 'mtime'
export const META_SHA256 = 's3c-sha256'

export function formatMtime(mtimeMs: number): string {
  return (mtimeMs / 1000).toFixed(3)
}

/** Milliseconds since the epoch from an `mtime` metadata value, or undefined. */
export function parseMtime(value: string | undefined): number | undefined {
  if (!value) return undefined
  const seconds = Number(value)
  return Number.isFinite(seconds) ? Math.round(seconds * 1000) : undefined
}

export function sameMtime(aMs: number, bMs: number): boolean {
  return Math.round(aMs) === Math.round(bMs)
}
