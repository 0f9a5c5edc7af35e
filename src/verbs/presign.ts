import {ExitCode, S3cError} from '../base/errors.js'
import {MAX_PRESIGN_SECONDS} from '../s3/presign.js'
import type {S3Store} from '../base/storage.js'
import {parseObjectUrl} from './expand.js'

const UNIT_SECONDS: Record<string, number> = {s: 1, m: 60, h: 3600, d: 86400}

/** `--expire`: a number with s, m, h or d (`90m`, `1h30m`, `7d`), or plain seconds; at most 7 days (S3's limit). */
export function parseExpiry(text: string): number {
  const t = text.trim()
  let seconds = 0
  if (/^\d+$/.test(t)) seconds = Number(t)
  else if (/^(\d+[smhd])+$/i.test(t)) for (const m of t.matchAll(/(\d+)([smhd])/gi)) seconds += Number(m[1]) * UNIT_SECONDS[m[2].toLowerCase()]
  else throw new S3cError(`--expire ${text}: write a duration such as 30m, 1h, 2h30m or 7d`, ExitCode.usage)
  if (seconds < 1 || seconds > MAX_PRESIGN_SECONDS) throw new S3cError(`--expire ${text}: a presigned URL is valid for 1 second to 7 days`, ExitCode.usage)
  return seconds
}

/** `s3c presign s3://b/key`: a GET URL anyone can use until it expires. Nothing is sent to S3. */
export async function presignUrl(s3: S3Store, url: string, expiresInSeconds: number): Promise<string> {
  const {bucket, key} = parseObjectUrl(url, 'presign')
  return s3.presignGet(bucket, key, expiresInSeconds)
}
