import {createWriteStream} from 'node:fs'
import {chmod, mkdir, open, rename, stat, symlink, link, unlink, utimes, writeFile} from 'node:fs/promises'
import {basename, dirname, resolve, sep} from 'node:path'
import {pipeline} from 'node:stream/promises'
import {Transform, type Writable} from 'node:stream'
import {GetObjectCommand} from '@aws-sdk/client-s3'
import {Header} from 'tar'
import {ExitCode, S3cError, statusOf} from './errors.js'
import {withRetry, type RetryPolicy} from './retry.js'
import {localPathFor} from './download.js'
import {commonStoredOptions, openRun, partSizeFor, runWalk, type TransferOptions} from './transfer.js'
import type {RunSummary} from '../engine/stats.js'
import {createS3, type S3Handle} from '../s3/client.js'
import type {S3Config} from '../s3/config.js'
import {crc32} from '../bundle/crc.js'
import {INDEX_SUFFIX, buildIndex, normalizeName, type IndexedMember} from '../bundle/index-format.js'
import {IndexReader, type TarRef} from '../bundle/remote.js'
import {localSource, s3Source, scanTar, type ByteSource} from '../bundle/scan.js'
import {BLOCK} from '../bundle/layout.js'
import {ensureDir, tempPathFor} from '../jobs/handlers.js'
import type {ExtractMembersJob, Work} from '../jobs/types.js'

const MiB = 1024 * 1024

export interface ReadOptions {
  s3: S3Config
  ref: TarRef
  maxRetry: number
  /** Use the local index cache (default on). */
  cache?: boolean
}

const policy = (maxRetry: number): RetryPolicy => ({retries: maxRetry, minTimeoutMs: 100, maxTimeoutMs: 10_000})

async function withReader<T>(opts: ReadOptions, fn: (reader: IndexReader, s3: S3Handle) => Promise<T>): Promise<T> {
  const s3 = await createS3(opts.s3)
  try {
    return await fn(new IndexReader(s3, opts.ref, policy(opts.maxRetry), opts.cache ?? true), s3)
  } finally {
    await s3.close()
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

/**
 * Streams the member (its 512-byte header block and its data, one ranged GET) into `sink`,
 * checking the data's CRC-32. The header block gives mode and mtime, which the 16-byte
 * lookup record has no room for.
 */
async function fetchMember(s3: S3Handle, reader: IndexReader, opts: ReadOptions, at: {dataOffset: number; size: number; crc?: number; name: string}, etag: string,
  sink: () => Promise<Writable>): Promise<{mode: number; mtime: number}> {
  reader.gets++
  const res = await withRetry(() => s3.client.send(new GetObjectCommand({
    Bucket: opts.ref.bucket, Key: opts.ref.tarKey, Range: `bytes=${at.dataOffset - BLOCK}-${at.dataOffset + at.size - 1}`, IfMatch: etag || undefined,
  })), policy(opts.maxRetry))
  let crc = 0
  let length = 0
  let head: Buffer = Buffer.alloc(0)
  let meta: {mode: number; mtime: number} | undefined
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
  await pipeline(res.Body as NodeJS.ReadableStream, check, await sink())
  return meta!
}

/**
 * `s3c download-single`: one member, with at most two GETs cold (index front, member) and one
 * warm. A name ending in "/" extracts that folder.
 */
export async function downloadSingle(opts: SingleOptions): Promise<SingleResult> {
  if (opts.member.endsWith('/')) {
    const dest = opts.out ?? '.'
    const summary = await downloadAll({...transferBase(opts), ref: opts.ref, dest, select: [opts.member]})
    if (summary.filesFailed > 0) throw new S3cError(`${summary.filesFailed} members of ${opts.member} failed: ${summary.failures[0]?.error}`, ExitCode.filesFailed)
    return {path: resolve(dest), bytes: summary.bytes, gets: 0, warm: false}
  }
  return withReader(opts, async (reader, s3) => {
    for (let attempt = 0; ; attempt++) {
      const found = await reader.lookup(opts.member)
      if (!found) throw new S3cError(`"${opts.member}" is not in ${opts.ref.label}: see s3c list-files`, ExitCode.usage)
      let {record} = found
      let name = opts.member
      let mode = 0o644
      let mtime: number | undefined
      if (record.type === 'dir') return downloadSingle({...opts, member: `${normalizeName(opts.member)}/`})
      if (record.type !== 'file' || record.size === undefined) {
        // Links and huge members need the member list (one more GET).
        const all = await reader.members()
        const m = all.find(x => normalizeName(x.name) === normalizeName(opts.member))!
        if (m.type === 'symlink') {
          const out = resolveOut(opts.out, m.name)
          await unlink(out).catch(() => undefined)
          await symlink(m.linkname ?? '', out)
          return {path: out, bytes: 0, gets: reader.gets, warm: reader.warm}
        }
        if (m.type === 'hardlink') {
          const target = all.find(x => normalizeName(x.name) === normalizeName(m.linkname ?? '') && x.type === 'file')
          if (!target) throw new S3cError(`"${opts.member}" is a hard link to "${m.linkname}", which is not in ${opts.ref.label}`, ExitCode.usage)
          record = {...record, type: 'file', dataOffset: target.dataOffset, size: target.size, crc: target.crc}
          name = m.name
          mode = target.mode
          mtime = target.mtime
        } else if (m.type === 'file') {
          record = {...record, size: m.size}
          mode = m.mode
          mtime = m.mtime
        } else {
          throw new S3cError(`"${opts.member}" is a ${m.type} entry, not a file: nothing to download`, ExitCode.usage)
        }
      }
      const size = record.size!
      try {
        if (opts.stdout) {
          await fetchMember(s3, reader, opts, {...record, size, name}, found.header.tarEtag, async () => opts.stdout!)
          return {bytes: size, gets: reader.gets, warm: reader.warm}
        }
        const out = resolveOut(opts.out, name)
        await writeAtomically(out, async tmp => {
          const meta = await fetchMember(s3, reader, opts, {...record, size, name}, found.header.tarEtag, async () => createWriteStream(tmp))
          await chmod(tmp, (mtime === undefined ? meta.mode : mode) & 0o7777)
          await utimes(tmp, new Date(), new Date((mtime ?? meta.mtime) * 1000))
        })
        return {path: out, bytes: size, gets: reader.gets, warm: reader.warm}
      } catch (error) {
        if (statusOf(error) === 412 || (error as Error).name === 'PreconditionFailed') {
          // The tar changed: a cached index is refreshed once; a fresh one is stale.
          if (reader.warm && attempt === 0) {
            await reader.invalidate()
            continue
          }
          throw new S3cError(`${opts.ref.label} changed after it was indexed: rebuild its index with s3c index`, ExitCode.fatal)
        }
        if (statusOf(error) === 416) throw new S3cError(`${opts.ref.label} is shorter than its index says: rebuild the index with s3c index`, ExitCode.fatal)
        throw error
      }
    }
  })
}

function resolveOut(out: string | undefined, member: string): string {
  const base = basename(normalizeName(member))
  if (!out) return resolve(base)
  return resolve(out)
}

async function writeAtomically(path: string, write: (tmp: string) => Promise<void>): Promise<void> {
  const st = await stat(path).catch(() => undefined)
  const target = st?.isDirectory() ? resolve(path, basename(path)) : path
  await mkdir(dirname(target), {recursive: true})
  const tmp = tempPathFor(target)
  try {
    await write(tmp)
    await rename(tmp, target)
  } catch (error) {
    await unlink(tmp).catch(() => undefined)
    throw error
  }
}

function transferBase(o: ReadOptions): TransferOptions {
  return {location: {bucket: o.ref.bucket, prefix: ''}, s3: o.s3, threadCount: 32, maxRetry: o.maxRetry, multipartThreshold: 8 * MiB, partSize: 8 * MiB,
    force: false, checksum: false, dryRun: false}
}

export interface AllOptions extends TransferOptions {
  ref: TarRef
  dest: string
  /** Only these members, or members under these folders (whole path segments). */
  select?: string[]
  /** Members and tar ETag when the caller has them already (tar extract without an index). */
  preloaded?: {members: IndexedMember[]; etag: string}
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

/** Adjacent small members share one ranged GET when the gap between them is at most this. */
const COALESCE_GAP = 64 * 1024

/**
 * `s3c download-all`: the members straight into their files with parallel ranged GETs (no
 * download-then-untar). Names that would land outside DEST and links that escape it are refused.
 */
export async function downloadAll(opts: AllOptions): Promise<RunSummary> {
  const root = resolve(opts.dest)
  const st = await stat(root).catch(() => undefined)
  if (st && !st.isDirectory()) throw new S3cError(`target "${opts.dest}" is a file: give a folder (it is created if missing)`, ExitCode.usage)
  const loaded = opts.preloaded ?? await withReader({s3: opts.s3, ref: opts.ref, maxRetry: opts.maxRetry}, async r => ({members: await r.members(), etag: (await r.header()).tarEtag}))
  const members = selectMembers(loaded.members, opts.select)
  if (opts.select?.length && members.length === 0) throw new S3cError(`nothing named ${opts.select.map(s => `"${s}"`).join(', ')} in ${opts.ref.label}: see s3c list-files`, ExitCode.usage)
  const etag = loaded.etag
  const {bucket, tarKey} = opts.ref
  const run = await openRun(opts, `${opts.verb === 'tar-extract' ? 'tar extract' : 'download-all'} ${opts.ref.label} ${root}`,
    {verb: opts.verb ?? 'download-all', options: {...commonStoredOptions(opts), ref: opts.ref, dest: root, select: opts.select}})
  const tmpPaths: string[] = []
  const links: {member: IndexedMember; path: string}[] = []
  const cleanup = async () => {
    await Promise.all(tmpPaths.map(p => unlink(p).catch(() => undefined)))
  }

  async function* plan(): AsyncGenerator<Work> {
    await mkdir(root, {recursive: true})
    let group: ExtractMembersJob | undefined
    let groupBytes = 0
    const flush = function* (): Generator<Work> {
      if (group) yield group
      group = undefined
      groupBytes = 0
    }
    for (const m of members) {
      const path = localPathFor(root, normalizeName(m.name))
      if (m.type === 'file') run.stats.seen(m.size)
      if (!path) {
        if (normalizeName(m.name) === '.' || normalizeName(m.name) === '') continue
        run.stats.record({key: m.name, path: m.name, bytes: m.size, status: 'failed', error: `member "${m.name}" would be written outside ${root}; skipped`})
        continue
      }
      if (m.type === 'dir') {
        await ensureDir(path)
        continue
      }
      if (m.type === 'symlink' || m.type === 'hardlink') {
        links.push({member: m, path})
        continue
      }
      if (m.type !== 'file') continue
      if (m.size >= opts.multipartThreshold) {
        yield* flush()
        await ensureDir(dirname(path))
        const tmpPath = tempPathFor(path)
        tmpPaths.push(tmpPath)
        const fh = await open(tmpPath, 'w')
        await fh.truncate(m.size)
        await fh.close()
        const partSize = partSizeFor(m.size, opts.partSize)
        const children: Work[] = []
        for (let at = 0; at < m.size; at += partSize) {
          children.push({kind: 'download-range', bucket, key: tarKey, etag: etag || undefined, tmpPath, offset: m.dataOffset + at, length: Math.min(partSize, m.size - at), base: m.dataOffset})
        }
        yield {parent: {kind: 'finish-download', bucket, key: tarKey, tmpPath, path, size: m.size, lastModifiedMs: m.mtime * 1000, verify: false, crc: m.crc, mode: m.mode},
          children: children as never}
        continue
      }
      const end = m.dataOffset + m.size
      if (group && (m.dataOffset - group.end > COALESCE_GAP || groupBytes + m.size > opts.partSize || group.members.length >= 1000)) yield* flush()
      if (!group) group = {kind: 'extract-members', bucket, key: tarKey, etag, start: m.dataOffset, end, members: []}
      group.members.push({name: m.name, path, dataOffset: m.dataOffset, size: m.size, mode: m.mode, mtime: m.mtime, crc: m.crc})
      group.end = Math.max(group.end, end)
      groupBytes += m.size
    }
    yield* flush()
  }
  const summary = await runWalk(run, opts.location, plan, cleanup)
  // Links last, when their targets exist; a link must stay inside DEST.
  for (const {member, path} of links) {
    const target = member.linkname ?? ''
    const resolved = member.type === 'symlink' ? resolve(dirname(path), target) : localPathFor(root, normalizeName(target))
    const inside = resolved !== undefined && (resolved === root || resolved.startsWith(root + sep)) && !target.startsWith('/')
    if (!inside) {
      summary.filesFailed++
      summary.failures.push({key: member.name, path, error: `link "${member.name}" -> "${target}" points outside ${root}; skipped`})
      continue
    }
    try {
      await ensureDir(dirname(path))
      await unlink(path).catch(() => undefined)
      if (member.type === 'symlink') await symlink(target, path)
      else await link(resolved!, path)
      summary.filesDone++
    } catch (error) {
      summary.filesFailed++
      summary.failures.push({key: member.name, path, error: `cannot create link "${member.name}": ${(error as Error).message}`})
    }
  }
  return summary
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
  let s3: S3Handle | undefined
  let src: ByteSource
  if (opts.ref) {
    s3 = await createS3(opts.s3)
    src = await s3Source(s3, opts.ref.bucket, opts.ref.tarKey, policy(opts.maxRetry)).catch(async error => {
      await s3!.close()
      throw error
    })
  } else {
    src = await localSource(opts.target)
  }
  try {
    const members = await scanTar(src)
    if (members.length === 0) throw new S3cError(`${src.label} holds no members: nothing to index`, ExitCode.usage)
    const index = buildIndex(members, src.size, src.etag)
    let indexedAt: string
    if (opts.ref && s3) {
      await withRetry(() => s3!.fast.request('PUT', opts.ref!.bucket, opts.ref!.indexKey, {'content-type': 'application/vnd.s3c.index'}, index), policy(opts.maxRetry))
      indexedAt = `s3://${opts.ref.bucket}/${opts.ref.indexKey}`
    } else {
      indexedAt = opts.target + INDEX_SUFFIX
      const tmp = tempPathFor(indexedAt)
      await writeFile(tmp, index)
      await rename(tmp, indexedAt)
    }
    return {members: members.length, indexedAt, reads: src.reads, bytesRead: src.bytesRead, tarSize: src.size}
  } finally {
    await src.close()
    await s3?.close()
  }
}

