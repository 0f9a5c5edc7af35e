import {anyMatcher, excludesWholeFolder, wildcardMatcher} from './wildcard.js'

/** --include / --exclude: wildcards (src/base/wildcard.ts) matched against the relative name, repeatable. */
export interface WalkFilter {
  include?: string[]
  exclude?: string[]
  /** The source's own wildcard (`cp 'logs/*.gz' …`), on the same relative name: a name must match it as well. */
  pattern?: string
}

/** The include/exclude rules for relative names (a local path under the folder, or a key under the prefix). */
export function keyFilter(filter: WalkFilter): (rel: string) => boolean {
  const include = anyMatcher(filter.include)
  const exclude = anyMatcher(filter.exclude)
  const pattern = filter.pattern !== undefined ? wildcardMatcher(filter.pattern) : undefined
  return rel => (!pattern || pattern(rel)) && (!include || include(rel)) && !(exclude && exclude(rel))
}

/** Folders the walk can leave unread: an exclude pattern covers everything under them (`build/*`). */
export function excludedFolder(filter: WalkFilter): ((rel: string) => boolean) | undefined {
  return excludesWholeFolder(filter.exclude)
}
