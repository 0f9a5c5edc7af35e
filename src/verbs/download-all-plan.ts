import {resolve} from 'node:path'
import {partSizeFor} from '../s3/limits.js'
import {storedSize, type IndexedMember} from '../s3ci/format.js'
import {BLOCK} from '../tar/header.js'
import {memberRelPath} from '../local/safe-path.js'
import type {ExtractMembersJob} from '../jobs/types.js'
import {ARCHIVE_METADATA, MemberBatches, describeOther} from './members.js'

/*
 * download-all's planners: what becomes of each member, and which reads fetch the files. Pure
 * (paths are only computed): the verb checks and makes folders, reads header blocks, creates
 * temporary files and yields the jobs.
 */

/** What download-all does with one member. `path` is where it lands (a member that would land outside the root: its name). */
export type MemberDecision =
  | {kind: 'fail'; member: IndexedMember; path: string; reason: string}
  /** A symlink or hard link, made after every file (see makeLinks). */
  | {kind: 'link'; member: IndexedMember; path: string}
  /** A folder: made at once, its mode and time set last. */
  | {kind: 'folder'; member: IndexedMember; path: string}
  | {kind: 'file'; member: IndexedMember; path: string}

/**
 * Each member's decision, in archive order: a name that climbs out of `root` (absolute, `..`)
 * or a type s3c cannot reproduce (devices, FIFOs, …) fails with its reason; archive metadata (a
 * tape volume header) and `./` (the root itself) give no decision.
 */
export function* decideMembers(members: Iterable<IndexedMember>, root: string): Generator<MemberDecision> {
  for (const member of members) {
    const rel = memberRelPath(member.name)
    if (rel === '') continue
    if (rel === undefined) {
      yield {kind: 'fail', member, path: member.name, reason: `member "${member.name}" would be written outside ${root}; skipped`}
      continue
    }
    const path = resolve(root, rel)
    if (member.type === 'other') {
      if (!ARCHIVE_METADATA.has(member.tarType ?? '')) yield {kind: 'fail', member, path, reason: `member "${member.name}" is ${describeOther(member)}: s3c cannot reproduce it; skipped`}
    } else if (member.type === 'symlink' || member.type === 'hardlink') {
      yield {kind: 'link', member, path}
    } else {
      yield {kind: member.type === 'dir' ? 'folder' : 'file', member, path}
    }
  }
}

/** One ranged read of a large member: `offset` in the tar, and where its bytes go in a sparse file. */
export interface MemberRange {
  offset: number
  length: number
  scatter?: [number, number, number][]
}

/** How the files are fetched, in archive order. */
export type FetchStep =
  /** Small members close together, read with one ranged GET (an extract-members job less its source and root). */
  | {kind: 'group'; group: Omit<ExtractMembersJob, 'kind' | 'source' | 'root'>}
  /** A member of multipartThreshold stored bytes or more, in ranges of the part size. */
  | {kind: 'large'; member: IndexedMember; path: string; ranges: MemberRange[]}

export interface FetchPlanOptions {
  multipartThreshold: number
  partSize: number
  /** Adjacent small members share a read when the gap between them is at most this. */
  maxGap: number
  /** The members' mode and mtime come from their header blocks: each read starts one block early. */
  headers?: boolean
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

/**
 * The reads that fetch `files` (in archive order): consecutive small members coalesce into
 * groups (gap, part size and 1,000 members at most: MemberBatches), and a large member, which
 * closes the open group, is read in ranges of its part size. Sizes are stored sizes (a sparse
 * member's data runs).
 */
export function* planFetches(files: Iterable<{member: IndexedMember; path: string}>, opts: FetchPlanOptions): Generator<FetchStep> {
  type Group = Extract<FetchStep, {kind: 'group'}>['group']
  const lead = opts.headers ? BLOCK : 0
  const groups = new MemberBatches<Group>({maxGap: opts.maxGap, maxBytes: opts.partSize, maxMembers: 1000},
    start => ({start: start - lead, end: start, members: [], ...(opts.headers ? {headers: true} : {})}))
  const flush = function* (): Generator<FetchStep> {
    const group = groups.flush()
    if (group) yield {kind: 'group', group}
  }
  for (const {member: m, path} of files) {
    const stored = storedSize(m)
    if (stored >= opts.multipartThreshold) {
      yield* flush()
      const partSize = partSizeFor(stored, opts.partSize)
      const ranges: MemberRange[] = []
      for (let at = 0; at < stored; at += partSize) {
        const length = Math.min(partSize, stored - at)
        ranges.push({offset: m.dataOffset + at, length, ...(m.sparse ? {scatter: scatterOf(m.sparse, at, length)} : {})})
      }
      yield {kind: 'large', member: m, path, ranges}
      continue
    }
    const end = m.dataOffset + stored
    const {job: group, closed} = groups.add(m.dataOffset, end, stored)
    if (closed) yield {kind: 'group', group: closed}
    group.members.push({name: m.name, path, dataOffset: m.dataOffset, size: stored, mode: m.mode, mtime: m.mtime, crc: m.crc,
      ...(m.sparse ? {sparse: m.sparse, realSize: m.size} : {})})
    group.end = Math.max(group.end, end)
  }
  yield* flush()
}
