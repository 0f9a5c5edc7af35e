import {ExitCode, S3cError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {isLocalSource, type S3Store} from '../base/storage.js'
import {downloadAll} from './download-all.js'
import {MemberBatches, describeOther, lastOfEachName, selectMembers} from './members.js'
import {memberRelPath} from '../local/safe-path.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type TransferOptions} from '../run/session.js'
import type {RunSummary} from '../run/stats.js'
import {folderPrefix, joinKey, parseLocation, parseS3Url} from '../base/location.js'
import {storedSize} from '../s3ci/format.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {MIN_PART, maxCopyRange} from '../s3/limits.js'
import type {CopyMembersJob, Work} from '../jobs/types.js'
import {openStore} from '../storage/open.js'
import {TOC_NAME} from '../tar/toc.js'

import {archiveMembers, type ArchiveMembers} from '../s3ci/members.js'
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
  if (isLocalTar(ref) && parseLocation(opts.dest).type === 's3')
    throw new S3cError(`${ref.label} is a local tar: s3c tar extract writes it to a local folder (-C DIR); to put its files in S3, extract them and s3c upload DIR ${opts.dest}`, ExitCode.usage)
  const s3 = isLocalTar(ref) ? undefined : await openStore(opts.s3, retryPolicy(opts.maxRetry))
  let listed: ArchiveMembers
  try {
    listed = await archiveMembers(s3, ref)
  } finally {
    await s3?.close()
  }
  // The archive's toc.csv is no member of the user's (s3tar restores only what it lists): extracted only when named.
  const all = listed.toc && opts.select?.includes(TOC_NAME) ? [listed.toc, ...listed.members] : listed.members
  // A TOC lists no modes or times: they come from each member's header block.
  if (parseLocation(opts.dest).type !== 's3') return downloadAll({...opts, dest: opts.dest, preloaded: {members: all, source: listed.source, headers: listed.from === 'toc'}, verb: 'tar-extract'})
  if (isLocalTar(ref) || isLocalSource(listed.source)) throw new Error('unreachable: a local tar extracted to S3')

  const dest = parseS3Url(opts.dest)
  const destPrefix = folderPrefix(dest.prefix)
  const chosen = lastOfEachName(selectMembers(all, opts.select))
  const members = chosen.filter(m => m.type === 'file' || (m.type === 'other' && m.tarType !== 'TapeVolumeHeader'))
  if (opts.select?.length && members.length === 0) throw new S3cError(`nothing named ${opts.select.map(s => `"${s}"`).join(', ')} in ${opts.ref.label}: see s3c tar list`, ExitCode.usage)
  const run = await openRun({...opts, location: dest}, `tar extract ${opts.ref.label} ${opts.dest}`,
    {verb: 'tar-extract', options: {...commonStoredOptions(opts), location: dest, ref: opts.ref, dest: opts.dest, select: opts.select}})
  const serverSideAllowed = listed.size > MIN_PART // S3: a ranged copy needs a source of more than 5 MiB
  const base = {bucket: ref.bucket, key: ref.tarKey, etag: listed.source.etag ?? '', maxRange: maxCopyRange(), destBucket: dest.bucket}
  async function* plan(): AsyncGenerator<Work> {
    // Small members: fetched together and put, one GET for many.
    const batches = new MemberBatches<CopyMembersJob>({maxGap: 64 * 1024, maxBytes: opts.partSize, maxMembers: 256},
      () => ({kind: 'copy-members', ...base, serverSide: false, members: []}))
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
      // Weighed by the member's size: a sparse one is rebuilt whole in memory.
      const {job, closed} = batches.add(m.dataOffset, m.dataOffset + stored, m.size)
      if (closed) yield closed
      job.members.push(item)
    }
    const last = batches.flush()
    if (last) yield last
  }
  return runWalk(run, dest, plan)
}
