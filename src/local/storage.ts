import {open, type FileHandle} from 'node:fs/promises'
import {resolve} from 'node:path'
import {Readable} from 'node:stream'
import {MiB} from '../base/units.js'
import {fsPath} from './fs-path.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {SourceChangedError, type RangeSource} from '../base/storage.js'

/*
 * A local file as a range source (src/base/storage.ts), pinned by its size and mtime; the
 * dispatcher that opens a job's source, local or in S3, is openSourceRef (src/storage/open.ts).
 */

/**
 * A local file, read with pread. Its size and mtime are taken when it is opened (and must equal
 * `expect` when given: the version an index describes); every read checks them again with
 * fstat, so a file rewritten meanwhile fails instead of mixing two versions.
 */
export async function localSource(path: string, opts: {label?: string; expect?: {size: number; mtimeUs?: number}; missing?: () => S3cError} = {}): Promise<RangeSource> {
  const label = opts.label ?? path
  const fh = await open(path, 'r').catch(error => {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' && opts.missing) throw opts.missing()
    if (code === 'EISDIR') throw new S3cError(`"${label}" is not a file: give a .tar file`, ExitCode.usage)
    throw new S3cError(`cannot open "${label}" (${code}): give an existing .tar file`, ExitCode.usage)
  })
  let pinned: {size: number; mtimeUs: number}
  try {
    const st = await fh.stat({bigint: true})
    if (!st.isFile()) throw new S3cError(`"${label}" is not a file: give a .tar file`, ExitCode.usage)
    pinned = {size: Number(st.size), mtimeUs: Number(st.mtimeNs / 1000n)}
    if (opts.expect && (opts.expect.size !== pinned.size || (opts.expect.mtimeUs !== undefined && opts.expect.mtimeUs !== pinned.mtimeUs)))
      throw new SourceChangedError(label, true)
  } catch (error) {
    await fh.close()
    throw error
  }
  const check = async () => {
    const st = await fh.stat({bigint: true})
    if (Number(st.size) !== pinned.size || Number(st.mtimeNs / 1000n) !== pinned.mtimeUs) throw new SourceChangedError(label, true)
  }
  const src: RangeSource = {
    label, local: true, reads: 0, bytesRead: 0,
    stat: async () => ({size: pinned.size, etag: '', mtimeUs: pinned.mtimeUs}),
    async read(offset, length, o) {
      src.reads++
      const buf = await preadFully(fh, offset, length)
      // After the read: a change before it or during it moved the mtime (or the size).
      await check()
      if (buf.length < length && !o?.partial) throw new S3cError(`${label} is shorter than expected (${buf.length} of ${length} bytes at offset ${offset})`, ExitCode.usage)
      src.bytesRead += buf.length
      return buf
    },
    async stream(offset, length) {
      async function* chunks() {
        for (let at = 0; at < length; at += 4 * MiB) yield await src.read(offset + at, Math.min(4 * MiB, length - at))
      }
      return Readable.from(chunks(), {objectMode: false})
    },
    ref: async () => ({path: resolve(path), ...pinned}),
    close: () => fh.close(),
  }
  return src
}

/** Reads up to `length` bytes at `offset`, as many as the file holds (a short result only at its end). */
export async function preadFully(fh: FileHandle, offset: number, length: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length)
  let done = 0
  while (done < length) {
    const {bytesRead} = await fh.read(buf, done, length - done, offset + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return buf.subarray(0, done)
}

/** Bytes [offset, offset+length) of a local file; fails when the file is shorter now (it changed since the walk). */
export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(fsPath(path), 'r')
  try {
    const buf = await preadFully(fh, offset, length)
    if (buf.length < length) throw Object.assign(new Error(`${path} shrank while being uploaded`), {code: 'ESHRANK'})
    return buf
  } finally {
    await fh.close()
  }
}
