import {transferDefaults} from '../run/defaults.js'
import {statSync} from 'node:fs'
import {type FileHandle} from 'node:fs/promises'
import {basename, dirname, resolve} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {Transform, Writable} from 'node:stream'
import {Header} from 'tar'
import {ExitCode, S3cError, statusOf} from '../base/errors.js'
import {SourceChangedError, type RangeSource} from '../base/storage.js'
import {type TransferOptions} from '../run/session.js'
import {crc32} from '../tar/crc.js'
import {normalizeName, storedSize, type IndexedMember} from '../s3ci/format.js'
import {tarLocation} from '../s3ci/ref.js'
import {staleIndexError} from '../s3ci/format.js'
import {BLOCK, MEMBER_KIND} from '../tar/header.js'
import {fsPath} from '../local/fs-path.js'
import {secondsToNs, utimesValue} from '../base/times.js'
import {LocalPathError, makeSymlinkSafely, usableTarget, withTempFile} from '../local/safe-path.js'

import {describeOther} from './members.js'
import {withReader, type ReadOptions} from './list-files.js'


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
    // A folder is a download-all of a selection (loaded here: the run machinery is not needed for one member).
    const {downloadAll} = await import('./download-all.js')
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
      if (!found) throw new S3cError(`"${opts.member}" is not in ${opts.ref.label}: see s3c list-files`, ExitCode.usage, 'NotFound')
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
          if (!linked) throw new S3cError(`"${opts.member}" is a hard link to "${m.linkname}", which is not in ${opts.ref.label}`, ExitCode.usage, 'NotFound')
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
  return {location: tarLocation(o.ref), s3: o.s3, lent: o.lent, threadCount: transferDefaults.threadCount, maxRetry: o.maxRetry,
    multipartThreshold: transferDefaults.multipartThreshold, partSize: transferDefaults.partSize, force: false, checksum: false, dryRun: false}
}

