import {closeSync, fchmodSync, ftruncateSync, futimesSync, openSync, renameSync, unlinkSync, writeSync} from 'node:fs'

/** A file small enough to be written with synchronous calls in one go (see small-writes.ts). */
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

/** What went wrong, as a plain object that crosses a thread boundary (Error loses its code). */
export interface SmallWriteFailure {
  code?: string
  message: string
  /** The temporary file had been created (and was removed again). */
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

/** temp (O_EXCL) → write → mode → mtime → close → rename; the temp file is removed on failure. */
export function writeSmallSync(w: SmallWrite): SmallWriteFailure | undefined {
  let opened = false
  try {
    const fd = openSync(w.tmp, 'wx')
    opened = true
    try {
      writeBodySync(fd, w.body, w.sparse)
      if (w.mode !== undefined) fchmodSync(fd, w.mode & 0o7777)
      if (w.mtime !== undefined) futimesSync(fd, Date.now() / 1000, w.mtime)
    } finally {
      closeSync(fd)
    }
    renameSync(w.tmp, w.path)
    return undefined
  } catch (error) {
    if (opened) {
      try {
        unlinkSync(w.tmp)
      } catch {
        // already gone
      }
    }
    const e = error as NodeJS.ErrnoException
    return {code: e.code, message: e.message, opened}
  }
}
