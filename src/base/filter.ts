import picomatch from 'picomatch'

/** --include / --exclude: globs relative to the folder or prefix, repeatable. */
export interface WalkFilter {
  include?: string[]
  exclude?: string[]
}

// picomatch compiles `**` to `.`, which matches no \n or \r without the `s` flag.
const matchOptions = {dot: true, flags: 's'}

/** A matcher for one list of globs, or undefined when the list is empty. */
export function globMatcher(globs: string[] | undefined): ((rel: string) => boolean) | undefined {
  return globs?.length ? picomatch(globs, matchOptions) : undefined
}

/** The include/exclude rules for relative names (a local path under the folder, or a key under the prefix). */
export function keyFilter(filter: WalkFilter): (rel: string) => boolean {
  const include = globMatcher(filter.include)
  const exclude = globMatcher(filter.exclude)
  return rel => (!include || include(rel)) && !(exclude && exclude(rel))
}

/**
 * How deep files matching the include patterns can lie (Infinity with `**`), so the walk does
 * not read folders no file of which could match (as fast-glob did): `*.log` reads the top only.
 */
export function includeDepth(include?: string[]): number {
  if (!include?.length) return Infinity
  let depth = 0
  for (const p of include) {
    if (p.includes('**') || /\{[^}]*\/[^}]*\}/.test(p)) return Infinity
    depth = Math.max(depth, p.split('/').length)
  }
  return depth
}
