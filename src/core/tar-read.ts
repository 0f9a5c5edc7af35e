import {ExitCode, S3cError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {SourceChangedError, isLocalSource, type RangeSource, type SourceRef} from '../base/storage.js'
import {describeOther, downloadAll, lastOfEachName, selectMembers} from './bundle-read.js'
import {memberRelPath} from '../local/safe-path.js'
import {commonStoredOptions, openRun, runWalk, type TransferOptions} from './transfer.js'
import type {RunSummary} from '../engine/stats.js'
import {S3Storage} from '../s3/storage.js'
import type {S3Config} from '../s3/config.js'
import {folderPrefix, isS3Url, joinKey, parseS3Url} from '../s3/url.js'
import {storedSize, type IndexedMember} from '../s3ci/format.js'
import {IndexReader} from '../s3ci/reader.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {localSource} from '../local/storage.js'
import {scanTar} from '../tar/scan.js'
import {MIN_PART, maxCopyRange} from '../s3/limits.js'
import {TOC_NAME} from './tar-create.js'
import {parseCsv} from '../base/csv.js'
import type {CopyMembersJob, Work} from '../jobs/types.js'

export interface ArchiveMembers {
  members: IndexedMember[]
  /** The tar, pinned to the version the members describe (S3: its ETag; local: its size and mtime). */
  source: SourceRef
  size: number
  /** Where the list came from: our index, an s3tar TOC, or a scan of the headers. */
  from: 'index' | 'toc' | 'scan'
  /** name → ETag of the source object, from a TOC. */
  etags: Map<string, string>
}


/** The TOC's rows when the first member is toc.csv (s3tar's archives and ours). */
async function readToc(src: RangeSource): Promise<string[][] | undefined> {
  const first = await scanFirst(src)
  if (!first || first.name !== TOC_NAME) return undefined
  const data = await src.read(first.dataOffset, first.size)
  return parseCsv(data.toString('utf8'))
}

async function scanFirst(src: RangeSource): Promise<IndexedMember | undefined> {
  try {
    return (await scanTar(src, 1))[0]
  } catch {
    return undefined // not a tar: the caller's next step reports it
  }
}

/**
 * The members of an archive, in S3 or local: from its s3c index; else from its TOC (an s3tar
 * archive); else by scanning its headers (any tar). `s3` is not needed for a local tar.
 */
export async function archiveMembers(s3: S3Storage | undefined, ref: TarRef): Promise<ArchiveMembers> {
  const reader = new IndexReader(s3, ref, false)
  try {
    let fromIndex: {members: IndexedMember[]; size: number} | undefined
    try {
      const header = await reader.header()
      fromIndex = {members: await reader.members(), size: header.tarSize}
    } catch (error) {
      if (!(error instanceof S3cError && /has no index/.test(error.message))) throw error
    }
    // With an index, the tar it describes (a local tar of another version is refused); else the tar as it is now.
    const tar = fromIndex ? await reader.openTar()
      : isLocalTar(ref) ? await localSource(ref.path, {label: ref.label}) : await s3!.openSource(ref.bucket, ref.tarKey)
    try {
      const rows = await readToc(tar).catch(() => undefined)
      const etags = new Map<string, string>()
      const tocMembers: IndexedMember[] = []
      for (const r of rows ?? []) {
        if (r.length < 3 || !/^\d+$/.test(r[1]) || !/^\d+$/.test(r[2])) continue
        if (r[3]) etags.set(r[0], r[3])
        tocMembers.push({name: r[0], type: 'file', size: Number(r[2]), dataOffset: Number(r[1]), mode: 0o644, mtime: 0})
      }
      const source = await tar.ref()
      if (fromIndex) return {...fromIndex, source, from: 'index', etags}
      const {size} = await tar.stat()
      if (tocMembers.length > 0) return {members: tocMembers, source, size, from: 'toc', etags}
      const members = await scanTar(tar).catch(error => {
        throw error instanceof SourceChangedError ? new S3cError(`${ref.label} changed while it was being read: run the command again`, error.exitCode) : error
      })
      return {members, source, size, from: 'scan', etags}
    } finally {
      if (!fromIndex) await tar.close()
    }
  } finally {
    await reader.close()
  }
}

export async function tarList(opts: {s3: S3Config; ref: TarRef; maxRetry: number}): Promise<ArchiveMembers> {
  const s3 = isLocalTar(opts.ref) ? undefined : await S3Storage.open(opts.s3, retryPolicy(opts.maxRetry))
  try {
    return await archiveMembers(s3, opts.ref)
  } finally {
    await s3?.close()
  }
}

export interface TarExtractOptions extends TransferOptions {
  ref: TarRef
  /** A local folder, or s3://bucket/prefix/. */
  dest: string
  select?: string[]
}

/** Members this small are fetched and put (one GET for many) rather than copied one upload each. */
const SMALL_MEMBER = 256 * 1024

/**
 * `s3c tar extract`: to a local folder with ranged GETs (as download-all), or to S3 with
 * server-side ranged copies (GET+PUT for small members and for archives S3 will not copy
 * ranges of, those under 5 MiB).
 */
export async function tarExtract(opts: TarExtractOptions): Promise<RunSummary> {
  const {ref} = opts
  // Members of a local tar would be uploaded one PUT each (no ranged copies out of a local file).
  if (isLocalTar(ref) && isS3Url(opts.dest))
    throw new S3cError(`${ref.label} is a local tar: s3c tar extract writes it to a local folder (-C DIR); to put its files in S3, extract them and s3c upload DIR ${opts.dest}`, ExitCode.usage)
  const s3 = isLocalTar(ref) ? undefined : await S3Storage.open(opts.s3, retryPolicy(opts.maxRetry))
  let listed: ArchiveMembers
  try {
    listed = await archiveMembers(s3, ref)
  } finally {
    await s3?.close()
  }
  // A TOC lists no modes or times: they come from each member's header block.
  if (!isS3Url(opts.dest)) return downloadAll({...opts, dest: opts.dest, preloaded: {members: listed.members, source: listed.source, headers: listed.from === 'toc'}, verb: 'tar-extract'})
  if (isLocalTar(ref) || isLocalSource(listed.source)) throw new Error('unreachable: a local tar extracted to S3')

  const dest = parseS3Url(opts.dest)
  const destPrefix = folderPrefix(dest.prefix)
  const chosen = lastOfEachName(selectMembers(listed.members, opts.select))
  const members = chosen.filter(m => m.type === 'file' || (m.type === 'other' && m.tarType !== 'TapeVolumeHeader'))
  if (opts.select?.length && members.length === 0) throw new S3cError(`nothing named ${opts.select.map(s => `"${s}"`).join(', ')} in ${opts.ref.label}: see s3c tar list`, ExitCode.usage)
  const run = await openRun({...opts, location: dest}, `tar extract ${opts.ref.label} ${opts.dest}`,
    {verb: 'tar-extract', options: {...commonStoredOptions(opts), location: dest, ref: opts.ref, dest: opts.dest, select: opts.select}})
  const serverSideAllowed = listed.size > MIN_PART // S3: a ranged copy needs a source of more than 5 MiB
  const base = {bucket: ref.bucket, key: ref.tarKey, etag: listed.source.etag ?? '', maxRange: maxCopyRange(), destBucket: dest.bucket}
  async function* plan(): AsyncGenerator<Work> {
    let batch: CopyMembersJob | undefined
    let batchBytes = 0
    for (const m of members) {
      run.stats.seen(m.size)
      // Same rule as a local folder: a member may not climb out of the destination prefix.
      const rel = memberRelPath(m.name)
      if (!rel) {
        run.stats.record({key: m.name, path: m.name, bytes: m.size, status: 'failed', error: `member "${m.name}" would be written outside ${opts.dest}; skipped`})
        continue
      }
      if (m.type === 'other') {
        run.stats.record({key: m.name, path: m.name, bytes: 0, status: 'failed', error: `member "${m.name}" is ${describeOther(m)}: s3c cannot reproduce it; skipped`})
        continue
      }
      const stored = storedSize(m)
      // A sparse member is rebuilt in memory (holes as zeros) and put: up to --part-size.
      if (m.sparse && m.size > opts.partSize) {
        run.stats.record({key: m.name, path: m.name, bytes: m.size, status: 'failed',
          error: `sparse member of ${m.size} bytes: s3c rebuilds sparse members in S3 up to --part-size (${opts.partSize} bytes); extract it to a local folder`})
        continue
      }
      const item = {name: m.name, destKey: joinKey(destPrefix, rel), dataOffset: m.dataOffset, size: stored, crc: m.crc, ...(m.sparse ? {sparse: m.sparse, realSize: m.size} : {})}
      if (serverSideAllowed && m.size >= SMALL_MEMBER && !m.sparse) {
        yield {kind: 'copy-members', ...base, serverSide: true, members: [item]}
        continue
      }
      if (batch && (m.dataOffset - (batch.members.at(-1)!.dataOffset + batch.members.at(-1)!.size) > 64 * 1024 || batchBytes + m.size > opts.partSize || batch.members.length >= 256)) {
        yield batch
        batch = undefined
        batchBytes = 0
      }
      batch ??= {kind: 'copy-members', ...base, serverSide: false, members: []}
      batch.members.push(item)
      batchBytes += m.size
    }
    if (batch) yield batch
  }
  return runWalk(run, dest, plan)
}
