import {distance} from 'fastest-levenshtein'

/** Length of the common beginning of two words (ties of the edit distance go to the one that starts alike). */
function commonPrefix(a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

/**
 * The valid names nearest to a mistyped one, for "did you mean …?": the names it begins (`down`
 * → download, download-all, download-single), else those at the smallest edit distance, if that
 * distance is small for the word's length; ties go to the names sharing the longest beginning.
 * At most `limit`, best first; none when nothing is close.
 */
export function nearest(typed: string, names: Iterable<string>, limit = 3): string[] {
  const unique = [...new Set(names)].filter(n => n !== typed)
  if (typed.length >= 2) {
    const extended = unique.filter(n => n.startsWith(typed)).sort((a, b) => a.length - b.length || (a < b ? -1 : 1))
    if (extended.length > 0) return extended.slice(0, limit)
  }
  const scored = unique.map(name => ({name, d: distance(typed, name), p: commonPrefix(typed, name)}))
  const best = Math.min(...scored.map(s => s.d))
  if (!(best <= Math.max(2, Math.ceil(typed.length * 0.6)))) return []
  const closest = scored.filter(s => s.d === best)
  const prefix = Math.max(...closest.map(s => s.p))
  return closest.filter(s => s.p === prefix).map(s => s.name).sort().slice(0, limit)
}

/** "a", "a or b", "a, b or c". */
export function orList(names: string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`
}

/** " (did you mean x or y?)" or nothing. */
export function didYouMean(typed: string, names: Iterable<string>): string {
  const near = nearest(typed, names)
  return near.length > 0 ? ` (did you mean ${orList(near)}?)` : ''
}

/** The same for flags: compared without their dashes ("--fooo" → "--force"), given and shown with them. */
export function didYouMeanFlag(typed: string, flags: Iterable<string>): string {
  const bare = (f: string) => f.replace(/^-+/, '')
  const byBare = new Map([...flags].map(f => [bare(f), f]))
  const near = nearest(bare(typed), byBare.keys()).map(n => byBare.get(n) ?? n)
  return near.length > 0 ? ` (did you mean ${orList(near)}?)` : ''
}
