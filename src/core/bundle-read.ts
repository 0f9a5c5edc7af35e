import {closeSync, constants, fchmodSync, futimesSync, openSync, statSync, unlinkSync} from 'node:fs'
import {stat, unlink, type FileHandle} from 'node:fs/promises'
import {basename, dirname, resolve, sep} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {Transform, Writable} from 'node:stream'
import {Header} from 'tar'
import {ExitCode, S3cError, describeError, statusOf, FatalError} from '../base/errors.js'
import {retryPolicy} from '../base/retry.js'
import {SourceChangedError, type RangeSource, type SourceRef} from '../base/storage.js'
import {partSizeFor} from '../s3/limits.js'
import {commonStoredOptions, openRun, runWalk, type RunContext, type TransferOptions} from './transfer.js'
import type {RunSummary} from '../engine/stats.js'
import {S3Storage} from '../s3/storage.js'
import type {S3Config} from '../s3/config.js'
import {crc32} from '../tar/crc.js'
import {INDEX_CONTENT_TYPE, INDEX_SUFFIX, buildIndex, normalizeName, storedSize, type IndexedMember} from '../s3ci/format.js'
import {IndexReader} from '../s3ci/reader.js'
import {isLocalTar, tarLocation, type TarRef} from '../s3ci/ref.js'
import {localSource, openSourceRef} from '../local/storage.js'
import {scanTar} from '../tar/scan.js'
import {staleIndexError} from '../s3ci/format.js'
import {BLOCK, MEMBER_KIND} from '../tar/header.js'
import {fsPath} from '../local/fs-path.js'
import {failed} from '../jobs/handlers.js'
import {headerModeAndTime} from '../jobs/tar.js'
import {secondsToNs, utimesValue} from '../base/times.js'
import type {ExtractMembersJob, Work} from '../jobs/types.js'
import {
  LocalPathError, createTempFile, ensureSafeDir, makeHardLinkSafely, makeSymlinkSafely, memberPathFor, memberRelPath, symlinkStillInside, usableTarget, withTempFile, writeFileSafely,
} from '../local/safe-path.js'

const MiB = 1024 * 1024

export interface ReadOptions {
  s3: S3Config
  ref: TarRef
  maxRetry: number
  /** Use the local index cache (default on). */
  cache?: boolean
}


/** An index reader for the tar (and the S3 connection an S3 tar needs; none for a local tar). */
async function withReader<T>(opts: ReadOptions, fn: (reader: IndexReader) => Promise<T>): Promise<T> {
  const s3 = isLocalTar(opts.ref) ? undefined : await S3Storage.open(opts.s3, retryPolicy(opts.maxRetry))
  const reader = new IndexReader(s3, opts.ref, opts.cache ?? true)
  try {
    return await fn(reader)
  } finally {
    await reader.close()
    await s3?.close()
  }
}

/** Members under a folder name (whole path segments: `a` selects `a/x`, not `ab`). */
export function selectPrefix(members: IndexedMember[], prefix: string): IndexedMember[] {
  const p = normalizeName(prefix)
  if (p === '' || p === '.') return members
  return members.filter(m => {
    const n = normalizeName(m.name)
    return n === p || n.startsWith(`${p}/`)
  })
}

export async function listFiles(opts: ReadOptions & {prefix?: string}): Promise<IndexedMember[]> {
  return withReader(opts, async reader => {
    const members = await reader.members()
    // A local tar costs nothing to check (a stat): an index of another version of it is refused.
    if (isLocalTar(opts.ref)) await (await reader.openTar()).close()
    return opts.prefix ? selectPrefix(members, opts.prefix) : members
  })
}

export interface SingleOptions extends ReadOptions {
  member: string
  /** File (or existing folder) to write to; default ./<basename>. */
  out?: string
  /** Stream the member here instead of writing a file. */
  stdout?: Writable
}

export interface SingleResult {
  path?: string
  bytes: number
  /** GET requests this lookup made (index and data). */
  gets: number
  warm: boolean
}

/** What download-single fetches: the member's stored bytes, and what is known of it before the GET. */
interface FetchTarget {
  name: string
  dataOffset: number
  /** Bytes stored in the tar. */
  size: number
  crc?: number
  /** Known from the member list; otherwise read from the header block. */
  mode?: number
  mtime?: number
  sparse?: [number, number][]
  /** The file's size (a sparse file's, holes included). */
  realSize: number
}

/**
 * Streams the member's data into `sink` with one ranged read of the tar (a GET in S3), checking
 * its CRC-32. Unless mode and mtime are known (from the member list), the read starts one block
 * early: the member's header block gives them, which the 16-byte lookup record has no room for.
 */
async function fetchMember(tar: RangeSource, opts: ReadOptions, at: FetchTarget, sink: () => Promise<Writable>, expand = false): Promise<{mode: number; mtime: number}> {
  const withHeader = at.mode === undefined || at.mtime === undefined
  const start = at.dataOffset - (withHeader ? BLOCK : 0)
  // A sparse file that is all hole stores nothing: there is nothing to read.
  const body = await tar.stream(start, at.dataOffset + at.size - start)
  let crc = 0
  let length = 0
  let head: Buffer = Buffer.alloc(0)
  let meta: {mode: number; mtime: number} | undefined = withHeader ? undefined : {mode: at.mode!, mtime: at.mtime!}
  const corrupt = (why: string) => new S3cError(`${at.name} in ${opts.ref.label}: ${why}; rebuild the index with s3c index`, ExitCode.fatal)
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!meta) {
        head = Buffer.concat([head, chunk])
        if (head.length < BLOCK) return done()
        let h: Header | undefined
        try {
          h = new Header(head.subarray(0, BLOCK))
        } catch {
          h = undefined
        }
        if (!h?.cksumValid) return done(corrupt('no tar header where the index says'))
        meta = {mode: h.mode ?? 0o644, mtime: Math.floor((h.mtime?.getTime() ?? Date.now()) / 1000)}
        chunk = head.subarray(BLOCK)
      }
      crc = crc32(chunk, crc)
      length += chunk.length
      done(null, chunk)
    },
    flush(done) {
      if (!meta || length !== at.size) return done(corrupt(`the tar is shorter than its index says (${length} of ${at.size} bytes)`))
      if (at.crc !== undefined && crc >>> 0 !== at.crc) return done(new S3cError(`${at.name} does not match the CRC-32 in the index of ${opts.ref.label}: the tar is corrupt`, ExitCode.fatal))
      done()
    },
  })
  const stages: NodeJS.ReadWriteStream[] = [check]
  if (at.sparse && expand) stages.push(expandHoles(at.sparse, at.realSize))
  await pipeline(body, ...(stages as [Transform]), await sink())
  return meta!
}

/** A sparse member's stored data runs in, its whole content out: zeros for the holes (for --stdout). */
function expandHoles(runs: [number, number][], size: number): Transform {
  let run = 0
  let inRun = 0
  let pos = 0
  const zeros = (t: Transform, upTo: number) => {
    while (pos < upTo) {
      const n = Math.min(upTo - pos, 1 << 20)
      t.push(Buffer.alloc(n))
      pos += n
    }
  }
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      let at = 0
      while (at < chunk.length) {
        while (run < runs.length && inRun === runs[run][1]) {
          run++
          inRun = 0
        }
        if (run >= runs.length) return done(new Error('more data than the sparse map holds'))
        zeros(this, runs[run][0])
        const n = Math.min(chunk.length - at, runs[run][1] - inRun)
        this.push(chunk.subarray(at, at + n))
        at += n
        inRun += n
        pos += n
      }
      done()
    },
    flush(done) {
      zeros(this, size)
      done()
    },
  })
}

/** Writes the stored bytes of a member into an open file: in order, or each data run at its offset (a sparse file keeps its holes). */
function fileSink(fh: FileHandle, runs?: [number, number][]): Writable {
  let stored = 0
  return new Writable({
    async write(chunk: Buffer, _enc, done) {
      try {
        if (!runs) {
          await fh.write(chunk, 0, chunk.length, stored)
        } else {
          // Runs start where the previous one's stored bytes end; a chunk may span several.
          let runStart = 0
          for (const [offset, length] of runs) {
            const from = Math.max(stored, runStart)
            const to = Math.min(stored + chunk.length, runStart + length)
            if (from < to) await fh.write(chunk, from - stored, to - from, offset + (from - runStart))
            runStart += length
            if (runStart >= stored + chunk.length) break
          }
        }
        stored += chunk.length
        done()
      } catch (error) {
        done(error as Error)
      }
    },
  })
}

/** Index of the last member before `end` that matches, or -1. */
function lastIndexOf(members: IndexedMember[], end: number, match: (m: IndexedMember) => boolean): number {
  for (let i = end - 1; i >= 0; i--) if (match(members[i])) return i
  return -1
}

/** How download-all and the failure lines name a member s3c cannot reproduce. */
const OTHER_KINDS: Record<string, string> = {
  CharacterDevice: 'a character device', BlockDevice: 'a block device', FIFO: 'a FIFO',
  ContinuationFile: 'the rest of a file begun in the previous volume of a multi-volume archive',
  SolarisACL: 'a Solaris ACL', Inode: 'an inode record',
}

export function describeOther(m: IndexedMember): string {
  return OTHER_KINDS[m.tarType ?? ''] ?? `an entry of ${m.tarType ? `tar ${m.tarType}` : 'an unknown type'}`
}

/** Members that are metadata of the archive, not files: extracted as nothing, as GNU tar does. */
const ARCHIVE_METADATA = new Set(['TapeVolumeHeader'])

/**
 * `s3c download-single`: one member, with at most two GETs cold (index front, member) and one
 * warm. A name ending in "/" extracts that folder.
 */
export async function downloadSingle(opts: SingleOptions): Promise<SingleResult> {
  // A folder is many files: it cannot go to one stream (and must not land in the current folder instead).
  const folderToStream = () => new S3cError(`"${opts.member}" is a folder in ${opts.ref.label}: one stream carries one file (download-single ${normalizeName(opts.member)}/ --out DIR extracts the folder)`, ExitCode.usage)
  if (opts.stdout && opts.member.endsWith('/')) throw folderToStream()
  if (opts.member.endsWith('/')) {
    const dest = opts.out ?? '.'
    const summary = await downloadAll({...transferBase(opts), ref: opts.ref, dest, select: [opts.member]})
    if (summary.filesFailed > 0) {
      const first = summary.failures[0]
      throw new S3cError(`${summary.filesFailed} of the members under ${opts.member} failed (the others arrived); first: ${first?.key}: ${first?.error}`, ExitCode.filesFailed)
    }
    return {path: resolve(dest), bytes: summary.bytes, gets: 0, warm: false}
  }
  return withReader(opts, async reader => {
    for (let attempt = 0; ; attempt++) {
      const found = await reader.lookup(opts.member)
      if (!found) throw new S3cError(`"${opts.member}" is not in ${opts.ref.label}: see s3c list-files`, ExitCode.usage)
      // No request in S3; a local tar that is not the version indexed is refused here.
      const tar = await reader.openTar()
      const {record} = found
      if (record.type === 'dir') {
        if (opts.stdout) throw folderToStream()
        return downloadSingle({...opts, member: `${normalizeName(opts.member)}/`})
      }
      let target: FetchTarget
      if (record.type === 'file' && record.size !== undefined && !record.sparse) {
        target = {name: opts.member, dataOffset: record.dataOffset, size: record.size, crc: record.crc, realSize: record.size}
      } else {
        // Links, sparse and huge members need the member list (one more GET).
        const all = await reader.members()
        const at = lastIndexOf(all, all.length, x => normalizeName(x.name) === normalizeName(opts.member))
        const m = all[at]
        if (!m) throw new S3cError(`the index of ${opts.ref.label} lists "${opts.member}" in its table but not in its member list: rebuild it with s3c index`, ExitCode.usage)
        let file: IndexedMember
        if (m.type === 'symlink') {
          if (opts.stdout) throw new S3cError(`"${opts.member}" is a symbolic link to "${m.linkname}": nothing to write to standard output`, ExitCode.usage)
          const out = resolveOut(opts.out, m.name)
          const root = dirname(out)
          usableTarget(root, root)
          try {
            makeSymlinkSafely(root, out, m.linkname ?? '', m.name)
          } catch (error) {
            if (error instanceof LocalPathError) throw new S3cError(error.message, ExitCode.filesFailed)
            throw error
          }
          return {path: out, bytes: 0, gets: reader.gets, warm: reader.warm}
        }
        if (m.type === 'hardlink') {
          // The file of that name as it stood when the link was extracted: the last one before it.
          const linked = all[lastIndexOf(all, at, x => normalizeName(x.name) === normalizeName(m.linkname ?? '') && x.type === 'file')]
          if (!linked) throw new S3cError(`"${opts.member}" is a hard link to "${m.linkname}", which is not in ${opts.ref.label}`, ExitCode.usage)
          file = {...linked, name: m.name}
        } else if (m.type === 'file') {
          file = m
        } else {
          throw new S3cError(`"${opts.member}" is ${m.type === 'other' ? describeOther(m) : MEMBER_KIND[m.type]}, not a file: nothing to download`, ExitCode.usage)
        }
        target = {name: file.name, dataOffset: file.dataOffset, size: storedSize(file), crc: file.crc, mode: file.mode, mtime: file.mtime,
          sparse: file.sparse, realSize: file.size}
      }
      try {
        if (opts.stdout) {
          await fetchMember(tar, opts, target, async () => opts.stdout!, true)
          return {bytes: target.realSize, gets: reader.gets, warm: reader.warm}
        }
        const out = resolveOut(opts.out, target.name)
        const root = dirname(out)
        usableTarget(root, root)
        await withTempFile(root, out, async fh => {
          if (target.sparse) await fh.truncate(target.realSize)
          const meta = await fetchMember(tar, opts, target, async () => fileSink(fh, target.sparse))
          await fh.chmod(meta.mode & 0o7777)
          await fh.utimes(new Date(), utimesValue(secondsToNs(meta.mtime)))
        })
        return {path: out, bytes: target.realSize, gets: reader.gets, warm: reader.warm}
      } catch (error) {
        if (error instanceof SourceChangedError) {
          // The tar changed: a cached index is refreshed once; a fresh one is stale.
          if (reader.warm && attempt === 0) {
            await reader.invalidate()
            continue
          }
          throw staleIndexError(opts.ref.label, error.local)
        }
        if (statusOf(error) === 416) throw new S3cError(`${opts.ref.label} is shorter than its index says: rebuild the index with s3c index`, ExitCode.fatal)
        throw error
      }
    }
  })
}

/** Where download-single writes: --out, or ./<base name>; inside --out when that is a folder. */
function resolveOut(out: string | undefined, member: string): string {
  const base = basename(normalizeName(member))
  if (!out) return resolve(base)
  return statSync(fsPath(out), {throwIfNoEntry: false})?.isDirectory() ? resolve(out, base) : resolve(out)
}

function transferBase(o: ReadOptions): TransferOptions {
  return {location: tarLocation(o.ref), s3: o.s3, threadCount: 32, maxRetry: o.maxRetry, multipartThreshold: 8 * MiB, partSize: 8 * MiB,
    force: false, checksum: false, dryRun: false}
}

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

/** Members named in `select`: exact names, or everything under a folder name. */
export function selectMembers(members: IndexedMember[], select: string[] | undefined): IndexedMember[] {
  if (!select?.length) return members
  const chosen = new Set<IndexedMember>()
  for (const s of select) for (const m of selectPrefix(members, s)) chosen.add(m)
  return members.filter(m => chosen.has(m))
}

/**
 * tar's rule for a name stored more than once: the last member wins (it replaces the earlier
 * ones as the archive is read). Earlier members of a name are dropped, so that parallel jobs
 * cannot write them in the wrong order; names are compared as they land (`./a/./b` is `a/b`).
 */
export function lastOfEachName(members: IndexedMember[]): IndexedMember[] {
  const last = new Map<string, IndexedMember>()
  for (const m of members) last.set(memberRelPath(m.name) ?? m.name, m)
  return members.filter(m => last.get(memberRelPath(m.name) ?? m.name) === m)
}

/**
 * How a member's stored bytes [0, stored) map into the file for a range job over
 * [from, from + length) of them: [offset in the range, length, offset in the file] pieces.
 */
export function scatterOf(runs: [number, number][], from: number, length: number): [number, number, number][] {
  const out: [number, number, number][] = []
  let runStart = 0
  for (const [offset, runLength] of runs) {
    const a = Math.max(from, runStart)
    const b = Math.min(from + length, runStart + runLength)
    if (a < b) out.push([a - from, b - a, offset + (a - runStart)])
    runStart += runLength
    if (runStart >= from + length) break
  }
  return out
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

  async function* plan(): AsyncGenerator<Work> {
    let group: ExtractMembersJob | undefined
    let groupBytes = 0
    const flush = function* (): Generator<Work> {
      if (group) yield group
      group = undefined
      groupBytes = 0
    }
    for (const m of members) {
      const rel = memberRelPath(m.name)
      if (rel === '') continue // "./": DEST itself
      const stored = storedSize(m)
      const fail = (error: unknown) => run.stats.record(failed({key: m.name, path: rel ? resolve(root, rel) : m.name, size: stored}, error))
      if (m.type === 'file') run.stats.seen(stored)
      if (rel === undefined) {
        fail(`member "${m.name}" would be written outside ${root}; skipped`)
        continue
      }
      const path = resolve(root, rel)
      if (m.type === 'other') {
        if (!ARCHIVE_METADATA.has(m.tarType ?? '')) fail(`member "${m.name}" is ${describeOther(m)}: s3c cannot reproduce it; skipped`)
        continue
      }
      if (m.type === 'symlink' || m.type === 'hardlink') {
        links.push({member: m, path})
        continue
      }
      try {
        // Checked (and made) here as well as in the job handler: the failure is reported at once
        // and the handler, in this process, finds the folder in its cache.
        ensureSafeDir(root, m.type === 'dir' ? path : dirname(path))
      } catch (error) {
        fail(error)
        continue
      }
      if (m.type === 'dir') folders.push({member: m, path})
      if (m.type !== 'file') continue
      if (stored >= opts.multipartThreshold) {
        yield* flush()
        let mode = m.mode
        let mtime = m.mtime
        if (headers) {
          // One small GET for the header block of a large member: its mode and mtime.
          try {
            ({mode, mtime} = headerModeAndTime(await readBlock(run, source, m.dataOffset - BLOCK), m.name))
          } catch (error) {
            if (error instanceof FatalError || error instanceof S3cError) throw error
            fail(error)
            continue
          }
        }
        let tmpPath: string
        try {
          tmpPath = await createTempFile(root, path, m.size)
        } catch (error) {
          fail(error)
          continue
        }
        tmpPaths.push(tmpPath)
        const partSize = partSizeFor(stored, opts.partSize)
        const children: Work[] = []
        for (let at = 0; at < stored; at += partSize) {
          const length = Math.min(partSize, stored - at)
          children.push({kind: 'download-range', source, root, tmpPath, offset: m.dataOffset + at, length, base: m.dataOffset,
            ...(m.sparse ? {scatter: scatterOf(m.sparse, at, length)} : {})})
        }
        yield {parent: {kind: 'finish-download', bucket, key: m.name, root, tmpPath, path, size: m.size, lastModifiedMs: mtime * 1000, mtimeNs: String(secondsToNs(mtime)), verify: false, crc: m.crc, mode,
          ...(m.sparse ? {sparse: m.sparse} : {})}, children: children as never}
        continue
      }
      const end = m.dataOffset + stored
      if (group && (m.dataOffset - group.end > COALESCE_GAP || groupBytes + stored > opts.partSize || group.members.length >= 1000)) yield* flush()
      if (!group) group = {kind: 'extract-members', source, root, start: m.dataOffset - (headers ? BLOCK : 0), end, members: [], ...(headers ? {headers} : {})}
      group.members.push({name: m.name, path, dataOffset: m.dataOffset, size: stored, mode: m.mode, mtime: m.mtime, crc: m.crc,
        ...(m.sparse ? {sparse: m.sparse, realSize: m.size} : {})})
      group.end = Math.max(group.end, end)
      groupBytes += stored
    }
    yield* flush()
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

export interface IndexResult {
  members: number
  indexedAt: string
  reads: number
  bytesRead: number
  tarSize: number
}

/**
 * `s3c index`: the s3c index of any uncompressed tar, in S3 (written next to it as KEY.s3ci)
 * or local (FILE.s3ci), reading headers rather than member data where members are large.
 */
export async function indexTar(opts: {target: string; s3: S3Config; maxRetry: number; ref?: TarRef}): Promise<IndexResult> {
  let s3: S3Storage | undefined
  let src: RangeSource
  const ref = opts.ref && !isLocalTar(opts.ref) ? opts.ref : undefined
  if (ref) {
    s3 = await S3Storage.open(opts.s3, retryPolicy(opts.maxRetry))
    src = await s3.openSource(ref.bucket, ref.tarKey).catch(async error => {
      await s3!.close()
      throw error
    })
  } else {
    src = await localSource(opts.target)
  }
  try {
    const members = await scanTar(src).catch(error => {
      if (error instanceof SourceChangedError) throw new S3cError(`${src.label} changed while it was being indexed: run s3c index again`, error.exitCode)
      throw error
    })
    if (members.length === 0) throw new S3cError(`${src.label} holds no members: nothing to index`, ExitCode.usage)
    // A local tar's index records its mtime with its size: the readers refuse another version of the file.
    const {size, etag, mtimeUs} = await src.stat()
    const index = buildIndex(members, size, etag, mtimeUs)
    let indexedAt: string
    if (ref && s3) {
      await s3.put(ref.bucket, ref.indexKey, index, {headers: {'content-type': INDEX_CONTENT_TYPE}})
      indexedAt = `s3://${ref.bucket}/${ref.indexKey}`
    } else {
      indexedAt = resolve(opts.target + INDEX_SUFFIX)
      await writeFileSafely(dirname(indexedAt), indexedAt, index)
    }
    return {members: members.length, indexedAt, reads: src.reads, bytesRead: src.bytesRead, tarSize: size}
  } finally {
    await src.close()
    await s3?.close()
  }
}
