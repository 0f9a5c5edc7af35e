import {parseLocation} from '../base/location.js'
import type {PlanOptions, RunOptions} from './options.js'
import type {TarFormat} from '../tar/header.js'
import type {TarRef} from '../s3ci/ref.js'
import type {CopyConditions, CopySettings} from '../jobs/types.js'

/** The options every verb keeps for a retry: those that shape the plan, and the run's pace (never credentials or endpoints). */
export type CommonStoredOptions = Pick<RunOptions, 'threadCount' | 'adaptive' | 'maxRetry' | 'state' | 'stateUrl'> &
  Pick<PlanOptions, 'location' | 'multipartThreshold' | 'partSize' | 'force' | 'checksum' | 'include' | 'exclude'>

/**
 * What `s3c retry` needs to run a command again: its verb and its own plan-shaping options, as
 * JSON in the run's hash. Paths are absolute, so a retry from another folder does the same.
 */
export type StoredCommand =
  | {verb: 'upload'; options: CommonStoredOptions & {localFolder: string; storageClass?: string; followSymlinks?: boolean}}
  | {verb: 'download'; options: CommonStoredOptions & {localFolder: string}}
  | {verb: 'bundle'; options: CommonStoredOptions & {localFolder: string; bundleId: string; format: TarFormat; storageClass?: string; followSymlinks?: boolean}}
  | {verb: 'download-all' | 'tar-extract'; options: CommonStoredOptions & {ref: TarRef; dest: string; select?: string[]}}
  | {verb: 'copy'; options: CommonStoredOptions & {source: string; destination: string; settings: CopySettings; conditions?: CopyConditions; flatten: boolean;
      removeSource?: boolean; copyThreshold: number; copyPartSize: number; label: string}}
  | {verb: 'tar-create'; options: CommonStoredOptions & {archive: string; source?: string; manifest?: string; mode: 'auto' | 'copy' | 'memory'; format: TarFormat;
      toc: boolean; sizeLimit?: number; storageClass?: string; mtimeMetadata?: boolean}}
  /** rm, rb --force: the URLs as given; a retry deletes only the keys that failed (their s3:// URLs, `only`). */
  | {verb: 'rm'; options: CommonStoredOptions & {urls: string[]}}
  /** sync --delete's pass (its own run, after the copies): the comparison again, limited to the keys that failed. */
  | {verb: 'sync-delete'; options: CommonStoredOptions & {source: string; destination: string; followSymlinks?: boolean}}

export function commonStoredOptions(o: CommonStoredOptions): CommonStoredOptions {
  return {location: o.location, multipartThreshold: o.multipartThreshold, partSize: o.partSize, checksum: o.checksum,
    include: o.include, exclude: o.exclude, maxRetry: o.maxRetry, threadCount: o.threadCount, adaptive: o.adaptive, force: o.force, state: o.state, stateUrl: o.stateUrl}
}

/**
 * Every local path a stored command names, for the root rule `s3c retry` keeps (src/run/trust.ts,
 * checkStoredPaths). The command comes from Redis, so its shape is not trusted: every field that
 * can name a place is looked at whatever the verb, as the verb's function is given them all.
 */
export function storedLocalPaths(command: StoredCommand): unknown[] {
  const o = (command.options ?? {}) as Record<string, unknown>
  const paths: unknown[] = []
  if (o.localFolder !== undefined) paths.push(o.localFolder)
  const places = [o.source, o.destination, o.dest, o.archive, o.manifest, ...(Array.isArray(o.urls) ? o.urls : o.urls === undefined ? [] : [o.urls])]
  for (const p of places) {
    if (p === undefined) continue
    if (typeof p !== 'string') paths.push(p)
    else if (parseLocation(p).type === 'local') paths.push(p)
  }
  const ref = o.ref as {kind?: unknown; path?: unknown; indexPath?: unknown} | undefined
  if (ref && typeof ref === 'object' && ref.kind === 'local') paths.push(ref.path, ref.indexPath)
  return paths
}
