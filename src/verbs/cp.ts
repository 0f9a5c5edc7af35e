import {ExitCode, S3cError} from '../base/errors.js'
import {keyFilter} from '../base/filter.js'
import {GiB, MiB} from '../base/units.js'
import {download} from '../verbs/download.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type RunContext, type TransferOptions} from '../run/session.js'
import {upload} from '../verbs/upload.js'
import type {RunSummary} from '../run/stats.js'
import type {CopyConditions, CopyPartJob, CopySettings, Work} from '../jobs/types.js'
import {holdsCopy, skippedByConditions} from '../jobs/copy.js'
import {MAX_PARTS, MIN_PART} from '../s3/limits.js'
import {type CreateOptions, treeFiles, type StorageEntry} from '../base/storage.js'
import {atLeastOne} from '../base/plans.js'
import {treeAt} from '../storage/open.js'
import {folderPrefix, joinKey, overlapError, localRoot, parseLocation, s3Root, STDIO_INSTEAD, type S3Url} from '../base/location.js'

export const copyDefaults = {
  /** Objects above this size are copied in parts (UploadPartCopy); CopyObject takes at most 5 GiB. */
  copyThreshold: 5 * GiB,
  /** The range of one UploadPartCopy (grown to fit 10,000 parts; at most 5 GiB). */
  copyPartSize: 512 * MiB,
}

/** cp, mv: what to copy where, and how (TransferOptions minus the location, which the URLs give). */
export interface CopyOptions extends Omit<TransferOptions, 'location'> {
  source: string
  destination: string
  settings?: CopySettings
  conditions?: CopyConditions
  flatten?: boolean
  /** mv: remove each source once its destination holds it. */
  removeSource?: boolean
  copyThreshold?: number
  copyPartSize?: number
  /** The label in messages and the run's description ('cp', 'mv'). */
  verb?: string
}

/** The part size of a copy in parts: the requested size, grown to fit 10,000 parts, between 5 MiB and 5 GiB. */
export function copyPartSizeFor(size: number, requested: number): number {
  const min = Math.ceil(size / MAX_PARTS / MiB) * MiB
  return Math.min(5 * GiB, Math.max(requested, min, MIN_PART))
}

/**
 * `s3c cp SRC DST` (and mv): local→S3 and S3→local ride on the upload and download planners
 * (always copying unless -n / --if-size-differ / --if-source-newer say otherwise); S3→S3 is a
 * server-side copy, planned here.
 */
export async function cp(opts: CopyOptions): Promise<RunSummary> {
  const src = parseLocation(opts.source)
  const dst = parseLocation(opts.destination)
  const verb = opts.verb ?? 'cp'
  // The command line streams "-" itself (commands/cp.ts); a program has its own streams.
  if (stdioCopy(opts)) {
    throw new S3cError(`${verb} reads or writes "-" (standard input or output) only as a command of its own (s3c cp - s3://BUCKET/KEY), not as a line of s3c run or a library call: ` +
      'in a program, pipe process.stdin into createWriteStream(url), or createReadStream(url) into process.stdout', ExitCode.usage)
  }
  if (src.type === 'local' && dst.type === 'local') throw new S3cError(`${verb} needs an s3:// URL on at least one side ("${opts.source}" and "${opts.destination}" are both local): use the shell's ${verb} for local files`, ExitCode.usage)
  const common = {...opts, force: true, removeSource: opts.removeSource}
  if (src.type === 'local' && dst.type === 's3') {
    const {base: localFolder, pattern} = localRoot(src)
    return upload({...common, location: {bucket: dst.bucket, prefix: dst.key}, localFolder, pattern,
      storageClass: opts.settings?.storageClass, settings: opts.settings})
  }
  if (src.type === 's3' && dst.type === 'local') {
    const {base, pattern} = s3Root(src)
    return download({...common, location: {bucket: src.bucket, prefix: base}, localFolder: dst.path, pattern})
  }
  if (src.type === 's3' && dst.type === 's3') return copyS3(opts, src, dst, verb)
  throw new Error('unreachable')
}

/** An object and standard input or output: `cp - s3://b/key` stores the stream, `cp s3://b/key -` writes the object out. */
export type StdioCopy = {from: 'stdin'; to: {bucket: string; key: string}} | {from: {bucket: string; key: string}; to: 'stdout'}

/**
 * `-` in cp is standard input or output, as in `aws s3 cp`: one object streamed (pipe's upload,
 * cat's verified GET). Undefined when neither side is `-`. mv, `-` on both sides, a local path,
 * a prefix or a wildcard on the other side, and the flags that select or skip files are refused
 * in one line saying what to use.
 */
export function stdioCopy(opts: CopyOptions): StdioCopy | undefined {
  const src = parseLocation(opts.source)
  const dst = parseLocation(opts.destination)
  const verb = opts.verb ?? 'cp'
  if (src.type !== 'stdio' && dst.type !== 'stdio') return undefined
  if (opts.removeSource || verb !== 'cp') throw new S3cError(`${verb} does not read or write "-": ${STDIO_INSTEAD} (then s3c rm the object)`, ExitCode.usage)
  if (src.type === 'stdio' && dst.type === 'stdio') throw new S3cError('cp cannot copy "-" to "-": give s3://BUCKET/KEY on one side', ExitCode.usage)
  const other = src.type === 'stdio' ? dst : src
  if (other.type !== 's3') throw new S3cError(`cp with "-" needs s3://BUCKET/KEY on the other side, not "${other.type === 'local' ? other.path : '-'}": use the shell for local files`, ExitCode.usage)
  if (other.kind !== 'key') throw new S3cError(`cp with "-" streams one object: give its key (s3://${other.bucket}/${other.kind === 'bucket' ? '' : other.key}NAME), not ${other.kind === 'wildcard' ? 'a wildcard' : `a ${other.kind}`}`, ExitCode.usage)
  const c = opts.conditions ?? {}
  const unused = [[opts.include?.length, '--include'], [opts.exclude?.length, '--exclude'], [opts.flatten, '--flatten'], [c.noClobber, '--no-clobber'],
    [c.ifSizeDiffer, '--if-size-differ'], [c.ifSourceNewer, '--if-source-newer'], [opts.dryRun, '--dry-run']].find(([given]) => given)
  if (unused) throw new S3cError(`${unused[1]} does not apply to cp with "-": one stream is copied as it comes`, ExitCode.usage)
  const object = {bucket: other.bucket, key: other.key}
  return src.type === 'stdio' ? {from: 'stdin', to: object} : {from: object, to: 'stdout'}
}

/** What a copy in parts is created with: the source's type and metadata (COPY), or the ones given (REPLACE), and the new object's settings. */
export async function createOptionsFor(run: RunContext, settings: CopySettings, from: {bucket: string; key: string}): Promise<CreateOptions> {
  const own: CreateOptions = {storageClass: settings.storageClass, sse: settings.sse, sseKmsKeyId: settings.sseKmsKeyId, acl: settings.acl}
  if (settings.replace) return {...own, contentType: settings.contentType, metadata: settings.metadata}
  // UploadPartCopy copies bytes only: the headers come from the source, as CopyObject would keep them.
  const h = await run.s3.head(from.bucket, from.key)
  if (!h) throw new S3cError(`s3://${from.bucket}/${from.key} is gone since it was listed`, ExitCode.filesFailed)
  const metadata: Record<string, string> = {}
  for (const [k, v] of Object.entries(h)) if (k.startsWith('x-amz-meta-')) metadata[k.slice(11)] = String(v)
  return {...own, metadata, contentType: h['content-type'], cacheControl: h['cache-control'], contentEncoding: h['content-encoding'],
    contentDisposition: h['content-disposition'], contentLanguage: h['content-language']}
}

/** One object to copy server-side, as the planners hand it on. */
export interface CopyItem {
  srcKey: string
  key: string
  size: number
  etag?: string
  compare?: boolean
}

/**
 * The jobs of one server-side copy: CopyObject up to the threshold, else a multipart upload of
 * parallel UploadPartCopy ranges (a flow whose parent completes it). The planner creates the
 * upload (the parts need its id) and records it for the cleanup of a stopped run.
 */
export async function copyWork(run: RunContext, o: {srcBucket: string; bucket: string; item: CopyItem; settings: CopySettings; conditions?: CopyConditions;
  exactTimestamps?: boolean; removeSource?: boolean; copyThreshold: number; copyPartSize: number; multiparts: {key: string; uploadId: string}[]}): Promise<Work | undefined> {
  const {item} = o
  if (item.size <= o.copyThreshold) {
    return {kind: 'copy-object', bucket: o.bucket, srcBucket: o.srcBucket, files: [item], settings: o.settings, conditions: o.conditions,
      exactTimestamps: o.exactTimestamps, removeSource: o.removeSource}
  }
  // Decided here, before a multipart upload starts.
  if (await skippedByConditions(run.s3, o.conditions, {bucket: o.srcBucket, key: item.srcKey, size: item.size}, {bucket: o.bucket, key: item.key})) {
    run.stats.record({key: item.key, path: `s3://${o.srcBucket}/${item.srcKey}`, bytes: item.size, status: 'skipped', reason: 'exists'})
    return undefined
  }
  if (item.compare && await holdsCopy(run.s3, {bucket: o.srcBucket, key: item.srcKey}, {bucket: o.bucket, key: item.key}, o.exactTimestamps === true)) {
    run.stats.record({key: item.key, path: `s3://${o.srcBucket}/${item.srcKey}`, bytes: item.size, status: 'skipped'})
    return undefined
  }
  const create = await createOptionsFor(run, o.settings, {bucket: o.srcBucket, key: item.srcKey})
  const uploadId = await run.s3.createMultipart(o.bucket, item.key, create)
  o.multiparts.push({key: item.key, uploadId})
  const partSize = copyPartSizeFor(item.size, o.copyPartSize)
  const children: CopyPartJob[] = []
  for (let start = 0, n = 1; start < item.size; start += partSize, n++) {
    children.push({kind: 'copy-part', bucket: o.bucket, key: item.key, uploadId, partNumber: n,
      source: {bucket: o.srcBucket, key: item.srcKey, etag: item.etag, start, end: Math.min(item.size, start + partSize)}})
  }
  return {parent: {kind: 'complete-copy', bucket: o.bucket, key: item.key, uploadId, size: item.size, srcBucket: o.srcBucket, srcKey: item.srcKey,
    removeSource: o.removeSource}, children}
}

/** The key an object lands at: the URL's key for one object (or under it when it ends with '/'), else the prefix plus its relative name. */
function destKeyOf(destKey: string, rel: string, flatten: boolean): string {
  return joinKey(destKey, flatten ? rel.slice(rel.lastIndexOf('/') + 1) : rel)
}

/** S3→S3: one object, a prefix ("folder"), or a wildcard, copied server-side. */
async function copyS3(opts: CopyOptions, src: S3Url, dst: S3Url, verb: string): Promise<RunSummary> {
  const wild = src.kind === 'wildcard'
  // The relative names of a folder or a wildcard are under this.
  const base = wild ? s3Root(src).base : folderPrefix(src.key)
  const flatten = opts.flatten === true
  const intoFolder = dst.key === '' || dst.key.endsWith('/')
  if (!wild && src.key !== '' && !src.key.endsWith('/') && src.bucket === dst.bucket && (intoFolder ? joinKey(dst.key, src.key.slice(src.key.lastIndexOf('/') + 1)) : dst.key) === src.key)
    throw new S3cError(`${verb} ${src.url} onto itself: give another destination`, ExitCode.usage)
  if (src.bucket === dst.bucket && !flatten && (src.key === '' || src.key.endsWith('/') || wild) && folderPrefix(dst.key) === base)
    throw new S3cError(`${verb} ${src.url} onto itself: give another destination`, ExitCode.usage)
  // A folder or a wildcard is a tree: refused at once if it would write where it lists; a plain
  // key is one object, or a folder once its listing shows keys under key/ (checked there).
  const overlap = overlapError(verb, {bucket: src.bucket, base, listed: src.pattern?.listPrefix, url: src.url}, {bucket: dst.bucket, base: folderPrefix(dst.key), url: dst.url}, opts.exclude)
  if (overlap && src.kind !== 'key') throw overlap
  const settings = opts.settings ?? {}
  const copyThreshold = Math.min(opts.copyThreshold ?? copyDefaults.copyThreshold, 5 * GiB)
  const copyPartSize = opts.copyPartSize ?? copyDefaults.copyPartSize
  const run = await openRun({...opts, location: {bucket: src.bucket, prefix: src.key}}, `${verb} ${src.url} ${dst.url}`, {verb: 'copy', options: {
    ...commonStoredOptions({...opts, location: {bucket: src.bucket, prefix: src.key}}), source: opts.source, destination: opts.destination, settings,
    conditions: opts.conditions, flatten, removeSource: opts.removeSource, copyThreshold, copyPartSize, label: verb,
  }})
  if (opts.dryRun) run.stats.planning = true
  const multiparts: {key: string; uploadId: string}[] = []
  const cleanup = async () => {
    await Promise.all(multiparts.map(m => run.s3.abortMultipart({bucket: dst.bucket, ...m}).catch(() => undefined)))
  }
  const filter = {include: opts.include, exclude: opts.exclude, pattern: s3Root(src).pattern}
  const selected = keyFilter(filter)
  const only = opts.only && new Set(opts.only)

  async function* items(): AsyncGenerator<CopyItem> {
    const {empty} = await run.s3.checkBucket(src.bucket, base)
    // A key without a trailing '/' and nothing under key/: that one object.
    if (!wild && empty && src.key !== '' && !src.key.endsWith('/')) {
      const h = await run.s3.head(src.bucket, src.key)
      if (!h) throw new S3cError(`${src.url} does not exist: check the key (nothing under ${src.url}/ either)`, ExitCode.usage, 'NotFound')
      const name = src.key.slice(src.key.lastIndexOf('/') + 1)
      if (!selected(name)) return
      yield {srcKey: src.key, key: intoFolder ? joinKey(dst.key, name) : dst.key, size: Number(h['content-length'] ?? 0), etag: h.etag}
      return
    }
    if (overlap) throw overlap
    let matched = 0
    const none = wild ? () => new S3cError(`no object matches ${src.url}: check the wildcard`, ExitCode.usage) : undefined
    const passed = (_rel: string, o: StorageEntry, reason: string) => {
      run.stats.seen(o.size)
      run.stats.record({key: o.key, path: `s3://${src.bucket}/${o.key}`, bytes: o.size, status: 'skipped', reason})
    }
    for await (const {rel, entry: o} of atLeastOne(treeFiles(treeAt({type: 's3', bucket: src.bucket, key: base}, run.s3), filter, passed), none)) {
      matched++
      yield {srcKey: o.key, key: destKeyOf(dst.key, rel, flatten), size: o.size, etag: o.etag}
    }
    if (matched === 0) opts.onNotice?.(`nothing under s3://${src.bucket}/${base}`)
  }

  async function* plan(): AsyncGenerator<Work> {
    // Another bucket must answer before anything is copied; the source's own bucket is checked by its listing.
    if (dst.bucket !== src.bucket) await run.s3.checkBucket(dst.bucket, '')
    for await (const item of items()) {
      if (only && !only.has(item.key)) continue
      if (src.bucket === dst.bucket && item.key === item.srcKey) {
        run.stats.seen(0)
        run.stats.record({key: item.key, path: `s3://${src.bucket}/${item.srcKey}`, bytes: 0, status: 'failed', error: 'the destination is the source itself; not copied'})
        continue
      }
      run.stats.seen(item.size)
      if (opts.dryRun) {
        run.stats.plan(verb, item.size)
        opts.onPlan?.(`${verb} s3://${src.bucket}/${item.srcKey} -> s3://${dst.bucket}/${item.key} (${item.size} bytes)`)
        continue
      }
      const work = await copyWork(run, {srcBucket: src.bucket, bucket: dst.bucket, item, settings, conditions: opts.conditions,
        removeSource: opts.removeSource, copyThreshold, copyPartSize, multiparts})
      if (work) yield work
    }
  }
  return runWalk(run, {bucket: src.bucket, prefix: src.key}, plan, cleanup)
}

