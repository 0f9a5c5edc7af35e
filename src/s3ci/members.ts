import {TOC_NAME} from '../tar/toc.js'
import {S3cError} from '../base/errors.js'
import {SourceChangedError, type RangeSource, type SourceRef, type S3Store} from '../base/storage.js'
import {type IndexedMember} from '../s3ci/format.js'
import {IndexReader} from '../s3ci/reader.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {localSource} from '../local/storage.js'
import {scanTar} from '../tar/scan.js'
import {parseCsv} from '../base/csv.js'

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
export async function archiveMembers(s3: S3Store | undefined, ref: TarRef): Promise<ArchiveMembers> {
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

