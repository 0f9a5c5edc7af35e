import {closeSync, constants, fchmodSync, futimesSync, openSync, unlinkSync} from 'node:fs'
import {stat, unlink} from 'node:fs/promises'
import {dirname, resolve, sep} from 'node:path'
import {ExitCode, S3cError, describeError, FatalError} from '../base/errors.js'
import type {SourceRef} from '../base/storage.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type RunContext, type TransferOptions} from '../run/session.js'
import type {RunSummary} from '../run/stats.js'
import {storedSize, type IndexedMember} from '../s3ci/format.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {openSourceRef} from '../storage/open.js'
import {BLOCK, headerModeAndTime} from '../tar/header.js'
import {fsPath} from '../local/fs-path.js'
import {failed} from '../jobs/types.js'
import {secondsToNs, utimesValue} from '../base/times.js'
import type {Work} from '../jobs/types.js'
import {LocalPathError, createTempFile, ensureSafeDir, makeHardLinkSafely, makeSymlinkSafely, memberPathFor, symlinkStillInside, usableTarget} from '../local/safe-path.js'

import {selectMembers, lastOfEachName} from './members.js'
import {decideMembers, planFetches} from './download-all-plan.js'
import {withReader} from './list-files.js'

export interface AllOptions extends TransferOptions {
  ref: TarRef
  dest: string
  /** Only these members, or members under these folders (whole path segments). */
  select?: string[]
  /**
   * Members, and the tar pinned to the version they describe, when the caller has them already
   * (tar extract without an index); `headers`: their mode and mtime are not known (an s3tar TOC
   * lists neither), so each comes from the member's header block, fetched with its data.
   */
  preloaded?: {members: IndexedMember[]; source: SourceRef; headers?: boolean}
  /** The command the run stores for s3c retry (tar extract to a folder runs as download-all). */
  verb?: 'download-all' | 'tar-extract'
}

/** Adjacent small members share one ranged GET when the gap between them is at most this. */
const COALESCE_GAP = 64 * 1024

/**
 * `s3c download-all`: the members straight into their files with parallel ranged GETs (no
 * download-then-untar). Nothing is written outside DEST or through a symlink below it; links
 * are made last, each checked (see src/local/safe-path.ts). A member that cannot be written
 * fails alone, with a line in the summary.
 */
export async function downloadAll(opts: AllOptions): Promise<RunSummary> {
  const root = resolve(opts.dest)
  const st = await stat(fsPath(root)).catch(() => undefined)
  if (st && !st.isDirectory()) throw new S3cError(`target "${opts.dest}" is a file: give a folder (it is created if missing)`, ExitCode.usage)
  const loaded = opts.preloaded ?? await withReader({s3: opts.s3, ref: opts.ref, maxRetry: opts.maxRetry},
    async r => ({members: await r.members(), source: await (await r.openTar()).ref()}))
  const selected = selectMembers(loaded.members, opts.select)
  if (opts.select?.length && selected.length === 0) throw new S3cError(`nothing named ${opts.select.map(s => `"${s}"`).join(', ')} in ${opts.ref.label}: see s3c list-files`, ExitCode.usage)
  const members = lastOfEachName(selected)
  usableTarget(root, opts.dest)
  const {source} = loaded
  // finish-download's bucket (S3 tars only; the file's key is the member's name).
  const bucket = isLocalTar(opts.ref) ? '' : opts.ref.bucket
  const run = await openRun(opts, `${opts.verb === 'tar-extract' ? 'tar extract' : 'download-all'} ${isLocalTar(opts.ref) ? opts.ref.path : opts.ref.label} ${root}`,
    {verb: opts.verb ?? 'download-all', options: {...commonStoredOptions(opts), ref: opts.ref, dest: root, select: opts.select}})
  const tmpPaths: string[] = []
  const links: {member: IndexedMember; path: string}[] = []
  const folders: {member: IndexedMember; path: string}[] = []
  const headers = opts.preloaded?.headers ?? false
  const cleanup = async () => {
    await Promise.all(tmpPaths.map(p => unlink(fsPath(p)).catch(() => undefined)))
  }

  const fail = (member: IndexedMember, path: string, error: unknown) => run.stats.record(failed({key: member.name, path, size: storedSize(member)}, error))
  /** The files to fetch; links and folders are kept for the end, and failures recorded, as the planner decides. */
  const placed = function* (): Generator<{member: IndexedMember; path: string}> {
    for (const d of decideMembers(members, root)) {
      if (d.member.type === 'file') run.stats.seen(storedSize(d.member))
      if (d.kind === 'fail') {
        fail(d.member, d.path, d.reason)
        continue
      }
      if (d.kind === 'link') {
        links.push(d)
        continue
      }
      try {
        // Checked (and made) here as well as in the job handler: the failure is reported at once
        // and the handler, in this process, finds the folder in its cache.
        ensureSafeDir(root, d.kind === 'folder' ? d.path : dirname(d.path))
      } catch (error) {
        fail(d.member, d.path, error)
        continue
      }
      if (d.kind === 'folder') folders.push(d)
      else yield d
    }
  }

  async function* plan(): AsyncGenerator<Work> {
    for (const step of planFetches(placed(), {multipartThreshold: opts.multipartThreshold, partSize: opts.partSize, maxGap: COALESCE_GAP, headers})) {
      if (step.kind === 'group') {
        yield {kind: 'extract-members', source, root, ...step.group}
        continue
      }
      const {member: m, path} = step
      let mode = m.mode
      let mtime = m.mtime
      if (headers) {
        // One small GET for the header block of a large member: its mode and mtime.
        try {
          ({mode, mtime} = headerModeAndTime(await readBlock(run, source, m.dataOffset - BLOCK), m.name))
        } catch (error) {
          if (error instanceof FatalError || error instanceof S3cError) throw error
          fail(m, path, error)
          continue
        }
      }
      let tmpPath: string
      try {
        tmpPath = await createTempFile(root, path, m.size)
      } catch (error) {
        fail(m, path, error)
        continue
      }
      tmpPaths.push(tmpPath)
      const children: Work[] = step.ranges.map(r => ({kind: 'download-range', source, root, tmpPath, offset: r.offset, length: r.length, base: m.dataOffset,
        ...(r.scatter ? {scatter: r.scatter} : {})}))
      yield {parent: {kind: 'finish-download', bucket, key: m.name, root, tmpPath, path, size: m.size, lastModifiedMs: mtime * 1000, mtimeNs: String(secondsToNs(mtime)), verify: false, crc: m.crc, mode,
        ...(m.sparse ? {sparse: m.sparse} : {})}, children: children as never}
    }
  }
  const summary = await runWalk(run, opts.location, plan, cleanup)
  makeLinks(root, links, summary)
  setFolderModesAndTimes(root, folders, summary)
  return summary
}

/** One 512-byte block of the tar (its pinned version). */
async function readBlock(run: RunContext, source: SourceRef, offset: number): Promise<Buffer> {
  const src = await openSourceRef(source, run.s3)
  try {
    return await src.read(offset, BLOCK)
  } finally {
    await src.close()
  }
}

/**
 * The folders' modes and times, last (as tar does): writing a file into a folder moves its time,
 * and a folder without write permission could not take its files. Deepest first; each is opened
 * without following a link. A folder whose mode or time cannot be set fails by name.
 */
function setFolderModesAndTimes(root: string, folders: {member: IndexedMember; path: string}[], summary: RunSummary): void {
  const depth = (p: string) => p.split(sep).length
  for (const {member, path} of [...folders].sort((a, b) => depth(b.path) - depth(a.path))) {
    try {
      ensureSafeDir(root, dirname(path), {create: false, cache: false})
      const fd = openSync(fsPath(path), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
      try {
        fchmodSync(fd, member.mode & 0o7777)
        futimesSync(fd, new Date(), utimesValue(secondsToNs(member.mtime)))
      } finally {
        closeSync(fd)
      }
    } catch (error) {
      summary.filesFailed++
      summary.failures.push({key: member.name, path, error: error instanceof LocalPathError ? error.message : `cannot set the mode and time of folder "${member.name}": ${describeError(error)}`})
    }
  }
}

/**
 * Links last, as GNU tar delays them: every file is in place, and no file is written through
 * a link this tar made. Each link is checked when it is made (safe-path.ts), and symlinks once
 * more at the end, since a later link can change where an earlier one leads.
 */
function makeLinks(root: string, links: {member: IndexedMember; path: string}[], summary: RunSummary): void {
  const fail = (member: IndexedMember, path: string, error: unknown) => {
    summary.filesFailed++
    summary.failures.push({key: member.name, path, error: error instanceof LocalPathError ? error.message : `cannot create link "${member.name}": ${describeError(error)}`})
  }
  const made: {member: IndexedMember; path: string}[] = []
  for (const {member, path} of links) {
    const target = member.linkname ?? ''
    try {
      if (member.type === 'symlink') {
        makeSymlinkSafely(root, path, target, member.name)
        made.push({member, path})
      } else {
        const targetPath = memberPathFor(root, target)
        if (!targetPath) throw new LocalPathError(`link "${member.name}" -> "${target}" points outside ${root}; skipped`)
        makeHardLinkSafely(root, path, targetPath, target)
      }
      summary.filesDone++
    } catch (error) {
      fail(member, path, error)
    }
  }
  for (const {member, path} of made) {
    if (symlinkStillInside(root, path)) continue
    try {
      unlinkSync(fsPath(path))
    } catch {
      // gone already
    }
    summary.filesDone--
    fail(member, path, new LocalPathError(`link "${member.name}" -> "${member.linkname}" points outside ${root} through other links; removed`))
  }
}

