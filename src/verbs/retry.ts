import {relative, sep} from 'node:path'
import {bundle} from './bundle.js'
import {ExitCode, S3cError} from '../base/errors.js'
import {downloadAll} from './download-all.js'
import {download} from './download.js'
import {tarCreate} from './tar-create.js'
import {tarExtract} from './tar-extract.js'
import type {TransferOptions} from '../run/session.js'
import type {StoredCommand} from '../run/stored-command.js'
import {upload} from './upload.js'
import type {RunSummary} from '../run/stats.js'
import {cp} from './cp.js'
import {rm} from './rm.js'
import {syncDelete} from './sync.js'
import {INDEX_SUFFIX} from '../s3ci/format.js'
import {parseLocation} from '../base/location.js'

type Failure = {key: string; path: string; error: string}

/** What the retry command runs: the stored verb's own core function with its stored options. */
export interface Replay {
  /** The command's name in the summary ("tar create", …). */
  label: string
  /** Stored options, then the selection (only the failed work), before the caller adds S3, Redis, progress. */
  options: Omit<TransferOptions, 's3'> & {[option: string]: unknown}
  run(opts: TransferOptions): Promise<RunSummary>
}

/** Member names of failed download-all / tar extract files: their path under DEST, else (refused names) the key. */
function failedMembers(failures: Failure[], dest: string): string[] {
  return failures.map(f => {
    const rel = relative(dest, f.path)
    return rel && !rel.startsWith('..') && !rel.startsWith(sep) ? rel.split(sep).join('/') : f.key
  })
}

/**
 * `s3c retry`: the run's command again, limited to its failed work when the failures are known
 * (`failures`), or whole (a stopped run). Bundle and tar create make one archive per multipart
 * upload, which was aborted on failure: the failed archives are built again.
 */
export function replayOf(command: StoredCommand, failures: Failure[] | undefined): Replay {
  if (failures?.length === 0) throw new S3cError('the run counts failed files but has no record of them: run its command again', ExitCode.usage)
  const selection = failures ? {only: failures.map(f => f.key)} : {}
  const common = {dryRun: false, retrying: failures ? 'failed' as const : 'all' as const}
  switch (command.verb) {
    case 'upload':
      return {label: 'upload', options: {...command.options, ...common, ...selection}, run: o => upload(o as Parameters<typeof upload>[0])}
    case 'download':
      return {label: 'download', options: {...command.options, ...common, ...selection}, run: o => download(o as Parameters<typeof download>[0])}
    case 'bundle':
      // The archive as a whole: built again under the same bundle id.
      return {label: 'bundle', options: {...command.options, ...common}, run: o => bundle(o as Parameters<typeof bundle>[0])}
    case 'copy':
      // S3→S3 cp/mv: the failed objects again (their destination keys).
      return {label: command.options.label, options: {...command.options, ...common, ...selection, verb: command.options.label}, run: o => cp(o as unknown as Parameters<typeof cp>[0])}
    case 'rm':
      // The keys that failed (their s3:// URLs), listed again under the same arguments; a stopped run: the whole rm again.
      return {label: 'rm', options: {...command.options, ...common, ...(failures ? {only: failures.map(f => f.path)} : {})},
        run: async o => (await rm(o as unknown as Parameters<typeof rm>[0])).run}
    case 'sync-delete':
      // sync --delete's pass: the keys that failed (destination keys), or the whole comparison again.
      return {label: 'sync --delete', options: {...command.options, ...common, ...selection},
        run: async o => (await syncDelete(o as unknown as Parameters<typeof syncDelete>[0])).run}
    case 'tar-create': {
      // An archive whose index could not be written failed as KEY.s3ci: the archive is built again.
      const only = failures?.map(f => (f.key.endsWith(INDEX_SUFFIX) ? f.key.slice(0, -INDEX_SUFFIX.length) : f.key))
      return {label: 'tar create', options: {...command.options, ...common, only}, run: o => tarCreate(o as Parameters<typeof tarCreate>[0])}
    }
    case 'download-all': {
      const select = failures ? failedMembers(failures, command.options.dest) : command.options.select
      return {label: 'download-all', options: {...command.options, ...common, select}, run: o => downloadAll(o as Parameters<typeof downloadAll>[0])}
    }
    case 'tar-extract': {
      const {dest} = command.options
      // To S3 a failure's path is the member name; to a folder, the file under DEST.
      const select = !failures ? command.options.select : parseLocation(dest).type === 's3' ? failures.map(f => f.path) : failedMembers(failures, dest)
      return {label: 'tar extract', options: {...command.options, ...common, select}, run: o => tarExtract(o as Parameters<typeof tarExtract>[0])}
    }
  }
}
