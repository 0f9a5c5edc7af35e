import {END_OF_ARCHIVE, headerBlocks, padded, type TarFormat} from './header.js'

/* Where each member of an archive s3c writes goes, and the parts built from them (the tar-part jobs run them). */

/** Where a tar member's bytes come from: a local file, or an S3 object (tar create). */
export type MemberSource = {path: string} | {bucket: string; key: string; etag?: string}

/** A member as a built part sees it: enough to rebuild its header blocks and read its data. */
export interface PartMember {
  ordinal: number
  name: string
  type: 'file' | 'dir' | 'symlink' | 'hardlink' | 'other'
  size: number
  mode: number
  mtime: number
  linkname?: string
  headerOffset: number
  dataOffset: number
  source?: MemberSource
}

/**
 * One multipart part of a tar s3c writes: the archive's bytes [offset, offset+length), built
 * from the headers and data of the members that overlap it. The layout was fixed by the
 * planner, so any part can be built alone, by any worker, in any order (a tar-part job).
 */
export interface BuiltPart {
  kind: 'tar-part'
  bucket: string
  key: string
  uploadId: string
  partNumber: number
  offset: number
  length: number
  format: TarFormat
  members: PartMember[]
}

/** A member before it has a place in the archive. */
export type MemberInput = Omit<PartMember, 'ordinal' | 'headerOffset' | 'dataOffset'> & {source?: MemberSource}

export interface TarLayout {
  members: PartMember[]
  /** Archive size, end-of-archive blocks included. */
  size: number
  dataBytes: number
}

/** Places members one after the other; the header sizes decide every offset. */
export function layoutTar(inputs: MemberInput[], format: TarFormat): TarLayout {
  let at = 0
  let dataBytes = 0
  const members = inputs.map((m, ordinal) => {
    const headerLength = headerBlocks(m, format).length
    const placed: PartMember = {...m, ordinal, headerOffset: at, dataOffset: at + headerLength}
    at += headerLength + (m.type === 'file' ? padded(m.size) : 0)
    if (m.type === 'file') dataBytes += m.size
    return placed
  })
  return {members, size: at + END_OF_ARCHIVE, dataBytes}
}

/** The end of a member's bytes in the archive (padding included). */
export function memberEnd(m: PartMember): number {
  return m.dataOffset + (m.type === 'file' ? padded(m.size) : 0)
}

/** Cuts the archive into parts of `partSize` bytes, each listing the members it overlaps. */
export function builtParts(layout: TarLayout, partSize: number, target: {bucket: string; key: string; uploadId: string; format: TarFormat}): BuiltPart[] {
  const jobs: BuiltPart[] = []
  let first = 0
  for (let offset = 0, n = 1; offset < layout.size; offset += partSize, n++) {
    const end = Math.min(layout.size, offset + partSize)
    while (first < layout.members.length && memberEnd(layout.members[first]) <= offset) first++
    const members: PartMember[] = []
    for (let i = first; i < layout.members.length && layout.members[i].headerOffset < end; i++) members.push(layout.members[i])
    jobs.push({kind: 'tar-part', ...target, partNumber: n, offset, length: end - offset, members})
  }
  return jobs
}
