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

/**
 * The one line for a command that does not exist (the command_not_found hook, `s3c help X`):
 * the nearest commands, or what is wrong ("tar" without its command, a URL first). oclif joins
 * the words with ":" ("lss:s3://b/"); they are taken apart again here, an s3:// URL kept whole.
 */
export function unknownCommandMessage(id: string, commands: {id: string; hidden?: boolean}[]): string {
  const words = id.split(/:(?!\/\/)/)
  const visible = commands.filter(c => !c.hidden).map(c => c.id.split(':'))
  const topics = new Set(visible.filter(w => w.length > 1).map(w => w[0]))
  const looksLikeOperand = (w: string) => /[/\\.]|^s3:/.test(w)
  if (words[0].startsWith('-')) return `unknown flag ${words[0]}${didYouMeanFlag(words[0], ['--help', '--version'])}; see s3c help`
  if (topics.has(words[0]) && words.length > 1) {
    const topic = words[0]
    const under = visible.filter(w => w[0] === topic && w.length > 1).map(w => w.join(' '))
    return looksLikeOperand(words[1])
      ? `"${topic}" needs a command before "${words[1]}": ${orList(under)}; see s3c help ${topic}`
      : `unknown command "${topic} ${words[1]}"${didYouMean(`${topic} ${words[1]}`, under)}; see s3c help ${topic}`
  }
  if (looksLikeOperand(words[0])) return `"${words[0]}" is not a command: give the command first (e.g. s3c ls ${words[0]}); see s3c help`
  return `unknown command "${words[0]}"${didYouMean(words[0], visible.map(w => w[0]))}; see s3c help`
}
