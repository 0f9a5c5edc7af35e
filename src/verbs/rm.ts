import {ExitCode, FatalError, S3cError, classifyError, describeError} from '../base/errors.js'
import type {S3Storage} from '../s3/storage.js'
import {matchingObjects, parseUrl, userError, type ParsedS3Url} from './expand.js'

/** S3's DeleteObjects limit. */
export const DELETE_BATCH = 1000

export interface RemoveOptions {
  /** DeleteObjects requests in flight at once (--thread-count). */
  threadCount?: number
  /** List what would go; send no delete. */
  dryRun?: boolean
  /** Each URL removed (or, with dryRun, that would be). */
  onRemoved?: (url: string) => void
}

export interface RemoveSummary {
  removed: number
  failed: number
  /** Up to 10,000 keys S3 did not delete, each with its one-line reason. */
  failures: {url: string; error: string}[]
  /** Arguments that matched nothing (a wildcard, a prefix; a plain key is not checked). */
  unmatched: string[]
  /** DeleteObjects requests sent. */
  requests: number
  dryRun: boolean
}

const MAX_FAILURES = 10_000

/**
 * `s3c rm URL…`: the rule of base/wildcard.ts and verbs/expand.ts. A plain key is deleted as it
 * is (S3 deletes idempotently, as aws s3 rm and s5cmd: it is not checked first); a prefix ending
 * in "/" removes everything under it; a wildcard what it matches. A bucket alone is refused
 * (s3://b/* says "everything" explicitly; rb --force removes the bucket too). Keys stream from
 * the listings into DeleteObjects of 1,000 keys, `threadCount` of them in flight; a request
 * that fails for good fails its keys (exit 1), a refusal of the whole run (403, …) stops it.
 */
export async function removeObjects(s3: S3Storage, urls: string[], opts: RemoveOptions = {}): Promise<RemoveSummary> {
  if (urls.length === 0) throw new S3cError('rm needs at least one s3:// URL', ExitCode.usage)
  const parsed = urls.map(parseUrl)
  const whole = parsed.find(p => p.kind === 'bucket')
  if (whole) throw new S3cError(`rm ${whole.url} would empty the whole bucket: write s3://${whole.bucket}/* to mean that (or s3c rb --force to remove the bucket too)`, ExitCode.usage)
  const summary: RemoveSummary = {removed: 0, failed: 0, failures: [], unmatched: [], requests: 0, dryRun: opts.dryRun ?? false}
  const limit = Math.max(1, opts.threadCount ?? 16)
  const inFlight = new Set<Promise<void>>()
  let fatal: unknown

  const fail = (bucket: string, key: string, error: string) => {
    summary.failed++
    if (summary.failures.length < MAX_FAILURES) summary.failures.push({url: `s3://${bucket}/${key}`, error})
  }
  const send = (bucket: string, keys: string[]) => {
    summary.requests++
    const task = s3.deleteMany(bucket, keys).then(refused => {
      const bad = new Set(refused.map(r => r.key))
      for (const r of refused) fail(bucket, r.key, r.error)
      for (const k of keys) if (!bad.has(k)) {
        summary.removed++
        opts.onRemoved?.(`s3://${bucket}/${k}`)
      }
    }, error => {
      if (error instanceof FatalError || classifyError(error) === 'fatal') fatal ??= error
      else for (const k of keys) fail(bucket, k, describeError(error))
    }).finally(() => inFlight.delete(task))
    inFlight.add(task)
  }

  for (const p of parsed) {
    let batch: string[] = []
    let matched = 0
    for await (const o of matchingObjects(s3, p, 'asKey')) {
      if (fatal) break
      matched++
      if (opts.dryRun) {
        opts.onRemoved?.(`s3://${p.bucket}/${o.key}`)
        summary.removed++
        continue
      }
      batch.push(o.key)
      if (batch.length === DELETE_BATCH) {
        send(p.bucket, batch)
        batch = []
        while (inFlight.size >= limit) await Promise.race(inFlight)
      }
    }
    if (batch.length && !fatal) send(p.bucket, batch)
    if (matched === 0) summary.unmatched.push(p.url)
  }
  await Promise.all(inFlight)
  if (fatal) throw userError(fatal, (parsed[0] as ParsedS3Url).bucket, s3)
  return summary
}
