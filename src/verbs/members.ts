import {normalizeName, type IndexedMember} from '../s3ci/format.js'
import {memberRelPath} from '../local/safe-path.js'


/* Choosing and naming an archive's members: what download-all, download-single, list-files and tar extract select, keep and report. */

/** Members under a folder name (whole path segments: `a` selects `a/x`, not `ab`). */
export function selectPrefix(members: IndexedMember[], prefix: string): IndexedMember[] {
  const p = normalizeName(prefix)
  if (p === '' || p === '.') return members
  return members.filter(m => {
    const n = normalizeName(m.name)
    return n === p || n.startsWith(`${p}/`)
  })
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
export const ARCHIVE_METADATA = new Set(['TapeVolumeHeader'])

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


/** When consecutive small members share one read of the archive: the gap between them, and the batch's bytes and members at most. */
export interface BatchLimits {
  maxGap: number
  maxBytes: number
  maxMembers: number
}

/**
 * Packs consecutive small members (in archive order) into one job that reads their whole span
 * with one ranged GET: download-all's extract-members groups and tar extract's copy-members
 * batches. A member that is too far from the previous one, or would make the batch too big,
 * closes it and starts the next.
 */
export class MemberBatches<J> {
  private job?: J
  private end = 0
  private bytes = 0
  private members = 0
  constructor(private readonly limits: BatchLimits, private readonly open: (start: number) => J) {}

  /** Adds the member whose stored data is [start, end), counted as `bytes`: the job to put it in, and the batch it closed. */
  add(start: number, end: number, bytes: number): {job: J; closed?: J} {
    let closed: J | undefined
    if (this.job && (start - this.end > this.limits.maxGap || this.bytes + bytes > this.limits.maxBytes || this.members >= this.limits.maxMembers)) closed = this.flush()
    this.job ??= this.open(start)
    this.end = Math.max(this.end, end)
    this.bytes += bytes
    this.members++
    return {job: this.job, closed}
  }

  /** The open batch, closed (undefined when there is none). */
  flush(): J | undefined {
    const job = this.job
    this.job = undefined
    this.end = 0
    this.bytes = 0
    this.members = 0
    return job
  }
}
