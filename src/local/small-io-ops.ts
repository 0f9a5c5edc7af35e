import {closeSync, fchmodSync, fstatSync, ftruncateSync, futimesSync, openSync, readSync, renameSync, unlinkSync, writeSync, type BigIntStats} from 'node:fs'

/*
 * The synchronous sequences behind small-io.ts: one small file written (temp name, then rename)
 * or read whole, each in one go. They run on the I/O threads, or inline where there are none.
 */

/** A file small enough to be written with synchronous calls in one go. */
export interface SmallWrite {
  /** Temporary name (opened with O_EXCL) and final name, already converted by fsPath. */
  tmp: string | Buffer
  path: string | Buffer
  body: Uint8Array
  mode?: number
  /** Modification time in seconds, as utimesValue spells it (nanosecond digits kept). */
  mtime?: string
  /** `body` holds only these data runs of a file of `size` bytes; the rest stays holes. */
  sparse?: {size: number; map: [number, number][]}
}

/** What went wrong with a small read or write, as a plain object that crosses a thread boundary (Error loses its code). */
export interface SmallIoFailure {
  code?: string
  message: string
  /** The file had been opened (a write's temporary file: it was removed again). */
  opened: boolean
}

/** Writes body at its place (or its data runs at theirs) into an open file. */
export function writeBodySync(fd: number, body: Uint8Array, sparse?: SmallWrite['sparse']): void {
  if (!sparse) {
    writeSync(fd, body)
    return
  }
  ftruncateSync(fd, sparse.size)
  let at = 0
  for (const [offset, length] of sparse.map) {
    if (length > 0) writeSync(fd, body, at, length, offset)
    at += length
  }
}

/**
 * The written file as lstat shows it once in place (bigint fields as decimal strings: they cross a
 * thread boundary), taken with fstat after the rename on the still-open file: the same inode, with
 * the ctime the rename gave it, and no second path lookup on the main thread (src/jobs/download.ts
 * records it in the sync state).
 */
export interface WrittenStat {
  size: number
  mtimeNs: string
  ino: string
  ctimeNs: string
}

export function writtenStatOf(st: BigIntStats): WrittenStat {
  return {size: Number(st.size), mtimeNs: String(st.mtimeNs), ino: String(st.ino), ctimeNs: String(st.ctimeNs)}
}

/** One small write's outcome: the file's stat in place, or what went wrong. */
export type SmallWriteResult = {stat?: WrittenStat; failure?: undefined} | {failure: SmallIoFailure}

/** temp (O_EXCL) → write → mode → mtime → rename → fstat → close; the temp file is removed on failure. */
export function writeSmallSync(w: SmallWrite): SmallWriteResult {
  let fd: number | undefined
  let renamed = false
  try {
    fd = openSync(w.tmp, 'wx')
    writeBodySync(fd, w.body, w.sparse)
    if (w.mode !== undefined) fchmodSync(fd, w.mode & 0o7777)
    if (w.mtime !== undefined) futimesSync(fd, Date.now() / 1000, w.mtime)
    renameSync(w.tmp, w.path)
    renamed = true
    const stat = writtenStatOf(fstatSync(fd, {bigint: true}))
    const closing = fd
    fd = undefined
    closeSync(closing)
    return {stat}
  } catch (error) {
    const opened = fd !== undefined || renamed
    if (fd !== undefined) {
      try {
        closeSync(fd)
      } catch {
        // the error that brought us here is the one to report
      }
    }
    if (opened && !renamed) {
      try {
        unlinkSync(w.tmp)
      } catch {
        // already gone
      }
    }
    const e = error as NodeJS.ErrnoException
    return {failure: {code: e.code, message: e.message, opened}}
  }
}

/** A small file to read whole: `size` is what the walk saw (a file that grew since reads one byte past it: bytesRead = size + 1). */
export interface SmallRead {
  path: string | Buffer
  size: number
}

/** The content (its own ArrayBuffer: transferred, not copied, across threads) and the stat of the open file. */
export type SmallReadResult = {body: Uint8Array; bytesRead: number; size: string; mtimeNs: string; failure?: undefined} | {failure: SmallIoFailure}

/** open → read up to size (+1 byte: a file that grew is seen) → fstat → close. */
export function readSmallSync(r: SmallRead): SmallReadResult {
  let fd: number | undefined
  try {
    fd = openSync(r.path, 'r')
    const body = new Uint8Array(new ArrayBuffer(r.size))
    let bytesRead = 0
    while (bytesRead < r.size) {
      const n = readSync(fd, body, bytesRead, r.size - bytesRead, null)
      if (n === 0) break
      bytesRead += n
    }
    if (bytesRead === r.size && readSync(fd, new Uint8Array(1), 0, 1, null) > 0) bytesRead++
    const st = fstatSync(fd, {bigint: true})
    return {body, bytesRead, size: String(st.size), mtimeNs: String(st.mtimeNs)}
  } catch (error) {
    const e = error as NodeJS.ErrnoException
    return {failure: {code: e.code, message: e.message, opened: fd !== undefined}}
  } finally {
    if (fd !== undefined) {
      try {
        closeSync(fd)
      } catch {
        // read-only: nothing to lose
      }
    }
  }
}
