import {createHash, type Hash} from 'node:crypto'
import {createReadStream, constants} from 'node:fs'
import {lstat, open} from 'node:fs/promises'
import {lastModifiedTime, sameTime, utimesValue, type FileTime} from '../base/times.js'
import type {Headers, S3Store} from '../base/storage.js'
import {META_MTIME, META_SHA256, hasDigest, objectDigests, objectTime, storedMtime} from './metadata.js'
import type {CompareMode, FileSyncInfo} from './kind.js'
import type {LocalStat} from '../state/state.js'
import {fsPath} from '../local/fs-path.js'
import type {ObjectDigests} from './metadata.js'

/* The skip rules: whether an object already holds a local file, or a local file an object (by the time rule, else by content). */

const MiB = 1024 * 1024

/**
 * Part sizes a multipart object of `size` bytes in `parts` parts may have been uploaded with:
 * the defaults of awscli and s3c (8 MiB, grown to fit 10,000 parts), rclone (5 MiB), and the
 * even split rounded up to whole MiB; only those that give that many parts. The ETag does not
 * say the part size, so these are tried; none matching just means "changed".
 */
export function multipartPartSizes(size: number, parts: number): number[] {
  const fit = (p: number) => Math.max(p, Math.ceil(size / 10_000 / MiB) * MiB)
  const candidates = [fit(8 * MiB), 8 * MiB, fit(5 * MiB), 5 * MiB, 16 * MiB, 64 * MiB, Math.ceil(size / parts / MiB) * MiB, Math.ceil(size / 10_000)]
  if (parts === 1) candidates.push(Math.max(size, 1))
  return [...new Set(candidates)].filter(p => p > 0 && Math.max(1, Math.ceil(size / p)) === parts)
}

/** MD5 of the parts' binary MD5s, as S3 makes a multipart ETag (hex, without "-N"). */
class PartEtag {
  private readonly md5s: Buffer[] = []
  private hash: Hash = createHash('md5')
  private inPart = 0
  constructor(readonly partSize: number) {}
  update(chunk: Buffer): void {
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(chunk.length - at, this.partSize - this.inPart)
      this.hash.update(chunk.subarray(at, at + n))
      this.inPart += n
      at += n
      if (this.inPart === this.partSize) this.endPart()
    }
  }
  private endPart(): void {
    this.md5s.push(this.hash.digest())
    this.hash = createHash('md5')
    this.inPart = 0
  }
  digest(): string {
    if (this.inPart > 0 || this.md5s.length === 0) this.endPart()
    return createHash('md5').update(Buffer.concat(this.md5s)).digest('hex')
  }
}

/** A local file's content, with what is already known of it (its bytes, its SHA-256). */
export interface LocalContent {
  path: string
  size: number
  body?: Buffer
  sha256?: string
}

/**
 * Compares a local file with an object's digests, the strongest the object has: s3c's SHA-256,
 * else an MD5 (rclone's md5chksum or a single-part ETag), else a multipart ETag rebuilt for
 * the likely part sizes. The file is read once whatever is computed. Undefined when the object
 * has nothing to compare with.
 */
export async function sameContent(local: LocalContent, digests: ObjectDigests): Promise<boolean | undefined> {
  const want = digests.sha256 ? 'sha256' : digests.md5 ? 'md5' : digests.multipart ? 'multipart' : undefined
  if (!want) return undefined
  if (want === 'sha256' && local.sha256) return local.sha256 === digests.sha256
  const whole = want === 'multipart' ? undefined : createHash(want)
  const partSizes = want === 'multipart' ? multipartPartSizes(local.size, digests.multipart!.parts) : []
  if (want === 'multipart' && partSizes.length === 0) return false
  const etags = partSizes.map(p => new PartEtag(p))
  const feed = (chunk: Buffer) => {
    whole?.update(chunk)
    for (const e of etags) e.update(chunk)
  }
  if (local.body) {
    if (local.body.length !== local.size) return false
    feed(local.body)
  } else if (!(await readFile(local.path, local.size, feed))) {
    return false
  }
  if (whole) return whole.digest('hex') === (want === 'sha256' ? digests.sha256 : digests.md5)
  return etags.some(e => e.digest() === digests.multipart!.md5)
}

/** Feeds the file's bytes in order; false when it does not hold `size` bytes (it changed). */
async function readFile(path: string, size: number, feed: (chunk: Buffer) => void): Promise<boolean> {
  const fh = await open(fsPath(path), 'r')
  try {
    const buf = Buffer.allocUnsafe(Math.min(Math.max(size, 1), 4 * MiB))
    let done = 0
    for (;;) {
      const {bytesRead} = await fh.read(buf, 0, buf.length, done)
      if (bytesRead === 0) break
      feed(buf.subarray(0, bytesRead))
      done += bytesRead
      if (done > size) return false
    }
    return done === size
  } finally {
    await fh.close()
  }
}

/**
 * Upload side, from the object's HEAD: 'same' when it already holds this file by the time rule
 * (src/base/times.ts), 'changed', or 'content' when only the content can tell: --checksum, or an
 * object without `mtime` metadata (written by another tool, e.g. `aws s3 sync`) whose time
 * (Last-Modified, whole seconds) is not the file's but whose digests can be checked.
 */
export function uploadVerdict(h: Headers, f: {size: number; mtimeNs: string}, mode: CompareMode): 'same' | 'changed' | 'content' {
  if (Number(h['content-length']) !== f.size) return 'changed'
  if (mode === 'checksum') return 'content'
  const stored = storedMtime(h)
  if (stored) return sameTime(stored, f.mtimeNs) ? 'same' : 'changed'
  if (sameTime(lastModifiedTime(h['last-modified'] ?? 0), f.mtimeNs)) return 'same'
  return hasDigest(objectDigests(h)) ? 'content' : 'changed'
}

/** What the sync state records of an object from its HEAD (its ETag, stored mtime and SHA-256). */
export function syncInfoOfHead(h: Headers): FileSyncInfo {
  return {etag: h.etag, mtime: h[`x-amz-meta-${META_MTIME}`], sha256: h[`x-amz-meta-${META_SHA256}`]}
}

/** `lstat` of a file as the sync state records it (bigint: full precision; undefined unless a regular file). */
export async function syncStatOf(path: string): Promise<LocalStat | undefined> {
  const st = await lstat(fsPath(path), {bigint: true}).catch(() => undefined)
  return st?.isFile() ? {size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), ctimeNs: String(st.ctimeNs)} : undefined
}

/** Upload side: true when the object already holds this file (same size, and same time or content). */
export async function remoteUnchanged(s3: S3Store, bucket: string, f: {key: string; path: string; size: number; mtimeNs: string}, mode: CompareMode, sha256?: string): Promise<boolean> {
  return (await remoteCheck(s3, bucket, f, mode, sha256)).same
}

/** remoteUnchanged, with what the sync state records of the object when it holds the file. */
export async function remoteCheck(s3: S3Store, bucket: string, f: {key: string; path: string; size: number; mtimeNs: string}, mode: CompareMode, sha256?: string): Promise<{same: boolean; state?: FileSyncInfo}> {
  const h = await s3.head(bucket, f.key)
  if (!h) return {same: false}
  const verdict = uploadVerdict(h, f, mode)
  const same = verdict === 'content' ? (await sameContent({path: f.path, size: f.size, sha256}, objectDigests(h))) === true : verdict === 'same'
  return same ? {same, state: syncInfoOfHead(h)} : {same}
}

/**
 * Download side: true when the local file already matches the object (size checked by the
 * planner, again here). By default by the time rule; when the times differ but the object's
 * digests allow, by content (a file another tool downloaded, e.g. `aws s3 sync`, which sets
 * Last-Modified as the time): hashing the local file costs less than fetching it again, and the
 * file then gets the object's time, so the next run decides by time alone.
 */
export async function localUnchanged(s3: S3Store, bucket: string, f: {key: string; path: string; lastModifiedMs?: number}, mode: CompareMode): Promise<boolean> {
  return (await localCheck(s3, bucket, f, mode)).same
}

/** localUnchanged, with what the sync state records when the file matches (the object's HEAD, the file's lstat after). */
export async function localCheck(s3: S3Store, bucket: string, f: {key: string; path: string; lastModifiedMs?: number}, mode: CompareMode): Promise<{same: boolean; state?: FileSyncInfo}> {
  const h = await s3.head(bucket, f.key)
  if (!h) return {same: false}
  const local = await lstat(fsPath(f.path), {bigint: true}).catch(() => undefined)
  if (!local?.isFile() || Number(local.size) !== Number(h['content-length'])) return {same: false}
  const content: LocalContent = {path: f.path, size: Number(local.size)}
  const matched = async () => ({same: true, state: {...syncInfoOfHead(h), local: await syncStatOf(f.path)}})
  if (mode === 'checksum') return (await sameContent(content, objectDigests(h))) === true ? matched() : {same: false}
  const time = objectTime(h, f.lastModifiedMs)
  if (sameTime(time, local.mtimeNs)) return matched()
  if (!(await sameContent(content, objectDigests(h)))) return {same: false}
  await setLocalTime(f.path, time)
  return matched()
}

/** Gives a local file (never a link) a time, at the microseconds it can hold. */
async function setLocalTime(path: string, time: FileTime): Promise<void> {
  const fh = await open(fsPath(path), constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    await fh.utimes(new Date(), utimesValue(time.ns))
  } finally {
    await fh.close()
  }
}

/** SHA-256 (hex) and MD5 (base64, rclone's md5chksum) of a file, in one read. */
export async function fileDigests(path: string): Promise<{sha256: string; md5base64: string}> {
  const sha256 = createHash('sha256')
  const md5 = createHash('md5')
  for await (const chunk of createReadStream(fsPath(path), {highWaterMark: 1 << 20})) {
    sha256.update(chunk as Buffer)
    md5.update(chunk as Buffer)
  }
  return {sha256: sha256.digest('hex'), md5base64: md5.digest('base64')}
}
