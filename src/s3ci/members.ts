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
  /**
   * The archive's own table of contents (s3tar's toc.csv, which tar create writes too), when it
   * has one: not among `members`, as s3tar's extract reads it and restores only what it lists.
   * A member named toc.csv anywhere else, or one that does not describe the archive, is a file
   * of the user's like any other.
   */
  toc?: IndexedMember
}


/** The TOC's rows, and the member that holds them, when the first member is toc.csv (s3tar's archives and ours). */
async function readToc(src: RangeSource): Promise<{rows: string[][]; member: IndexedMember} | undefined> {
  const first = await scanFirst(src)
  if (!first || first.name !== TOC_NAME) return undefined
  const data = await src.read(first.dataOffset, first.size)
  return {rows: parseCsv(data.toString('utf8')), member: first}
}

/** Whether TOC members describe these members: each names one at its offset with its size (a user's file named toc.csv does not). */
function describes(toc: IndexedMember[], members: IndexedMember[]): boolean {
  const at = new Map(members.map(m => [m.dataOffset, m]))
  return toc.length > 0 && toc.every(t => at.get(t.dataOffset)?.name === t.name && at.get(t.dataOffset)?.size === t.size)
}

/**
 * Whether TOC rows can be this archive's: each member's data on a block boundary after the TOC's
 * own, inside the archive, none overlapping. A user's CSV that happens to be named toc.csv and
 * come first is then read as what it is, a file (the archive is scanned).
 */
function plausible(toc: IndexedMember[], own: IndexedMember, size: number): boolean {
  let end = own.dataOffset + own.size
  for (const t of [...toc].sort((a, b) => a.dataOffset - b.dataOffset)) {
    if (t.dataOffset % 512 !== 0 || t.dataOffset < end || t.dataOffset + t.size > size) return false
    end = t.dataOffset + t.size
  }
  return true
}

/** The members without the archive's TOC (ArchiveMembers.toc), when it has one. */
function withoutToc(members: IndexedMember[], found: {member: IndexedMember} | undefined, tocMembers: IndexedMember[]): {members: IndexedMember[]; toc?: IndexedMember} {
  const toc = found && members.find(m => m.name === TOC_NAME && m.dataOffset === found.member.dataOffset)
  if (!toc || !describes(tocMembers, members)) return {members}
  return {members: members.filter(m => m !== toc), toc}
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
      const found = await readToc(tar).catch(() => undefined)
      const etags = new Map<string, string>()
      const tocMembers: IndexedMember[] = []
      for (const r of found?.rows ?? []) {
        if (r.length < 3 || !/^\d+$/.test(r[1]) || !/^\d+$/.test(r[2])) continue
        if (r[3]) etags.set(r[0], r[3])
        tocMembers.push({name: r[0], type: 'file', size: Number(r[2]), dataOffset: Number(r[1]), mode: 0o644, mtime: 0})
      }
      const source = await tar.ref()
      if (fromIndex) return {...fromIndex, ...withoutToc(fromIndex.members, found, tocMembers), source, from: 'index', etags}
      const {size} = await tar.stat()
      // The TOC lists every member but itself.
      if (found && tocMembers.length > 0 && plausible(tocMembers, found.member, size)) return {members: tocMembers, toc: found.member, source, size, from: 'toc', etags}
      const members = await scanTar(tar).catch(error => {
        throw error instanceof SourceChangedError ? new S3cError(`${ref.label} changed while it was being read: run the command again`, error.exitCode) : error
      })
      return {...withoutToc(members, found, tocMembers), source, size, from: 'scan', etags}
    } finally {
      if (!fromIndex) await tar.close()
    }
  } finally {
    await reader.close()
  }
}

