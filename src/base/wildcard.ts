import {S3cError} from './errors.js'

/*
 * The one wildcard rule of s3c, for `--include`/`--exclude` and for wildcards in S3 URLs
 * (`s3c ls 's3://b/logs/*.gz'`, `s3c rm 's3://b/tmp/*'`). It is the rule s5cmd and the AWS CLI
 * agree on: a pattern is matched against the whole relative name (the path under the folder, or
 * the key under the prefix; for URLs the whole key), and
 *   *   matches any run of characters, `/` included (so `*.tmp` matches `a/b/c.tmp`),
 *   **  the same as * (accepted for users of shell globs),
 *   ?   matches any one character,
 *   [abc] [a-z] [!a-z]  one character of (or not of) the class,
 *   \   makes the next character literal.
 * Everything else is literal. Hand-written (a dozen lines of regex building) because the glob
 * libraries (picomatch, minimatch) stop `*` at `/`, which is exactly what this rule does not do.
 */

const WILDCARD = /[*?[]/

/** True when the text holds a wildcard character (an unescaped `*`, `?` or `[`). */
export function hasWildcard(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\') i++
    else if (WILDCARD.test(text[i])) return true
  }
  return false
}

/** The regular expression source of one pattern (anchored by the caller). */
function patternSource(pattern: string): string {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\' && i + 1 < pattern.length) out += escape(pattern[++i])
    else if (c === '*') {
      while (pattern[i + 1] === '*') i++
      out += '[^]*'
    } else if (c === '?') out += '[^]'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end < 0) throw new S3cError(`wildcard "${pattern}" opens a [class] it does not close: close it, or write \\[ for a literal [`)
      let body = pattern.slice(i + 1, end)
      const negate = body.startsWith('!') || body.startsWith('^')
      if (negate) body = body.slice(1)
      out += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, '\\$&')}]`
      i = end
    } else out += escape(c)
  }
  return out
}

function escape(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
}

/** A matcher for one pattern: true when the whole name matches. */
export function wildcardMatcher(pattern: string): (name: string) => boolean {
  const re = new RegExp(`^${patternSource(pattern)}$`, 'u')
  return (name) => re.test(name)
}

/** A matcher for several patterns (any of them), or undefined for none. */
export function anyMatcher(patterns: string[] | undefined): ((name: string) => boolean) | undefined {
  if (!patterns?.length) return undefined
  const re = new RegExp(`^(?:${patterns.map(patternSource).join('|')})$`, 'u')
  return (name) => re.test(name)
}

/** The text before the first wildcard, unescaped: what a listing can ask S3 for. */
export function literalPrefix(pattern: string): string {
  let out = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]
    if (c === '\\' && i + 1 < pattern.length) out += pattern[++i]
    else if (WILDCARD.test(c)) return out
    else out += c
  }
  return out
}

/**
 * A key pattern from an S3 URL: list (recursively) from `listPrefix`, keep the keys `matches`
 * accepts. `ls` lists only up to the first wildcard, so `logs/2020-*` reads `logs/2020-` onward.
 */
export interface KeyPattern {
  listPrefix: string
  matches: (key: string) => boolean
  /** The part of the key after the last `/` of the literal prefix: the name to keep when copying "into" a folder. */
  relativeTo: string
}

export function keyPattern(keyWithWildcards: string): KeyPattern {
  const listPrefix = literalPrefix(keyWithWildcards)
  const slash = listPrefix.lastIndexOf('/')
  return {listPrefix, matches: wildcardMatcher(keyWithWildcards), relativeTo: listPrefix.slice(0, slash + 1)}
}

/**
 * True when an excluded pattern covers every name under folder `dir` (it ends in `*` and its
 * part before the stars matches `dir/`): the walk need not read the folder at all.
 */
export function excludesWholeFolder(patterns: string[] | undefined): ((dir: string) => boolean) | undefined {
  const heads = (patterns ?? []).filter(p => p.endsWith('*') && !p.endsWith('\\*')).map(p => p.replace(/\*+$/, ''))
  if (heads.length === 0) return undefined
  const re = new RegExp(`^(?:${heads.map(patternSource).join('|')})$`, 'u')
  return (dir) => re.test(`${dir}/`)
}
