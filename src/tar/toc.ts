import {csvLine} from '../base/csv.js'

/** The first member of an s3tar archive (and of ours, with --toc): a CSV of its objects. */
export const TOC_NAME = 'toc.csv'

/** The TOC s3tar writes as its first member: name,offset,size,etag of every object. */
export function tocText(members: {name: string; dataOffset: number; size: number; etag?: string}[]): string {
  return members.map(m => csvLine([m.name, String(m.dataOffset), String(m.size), (m.etag ?? '').replace(/"/g, '')])).join('\n') + '\n'
}
