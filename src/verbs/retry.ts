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

/**
 * A verb's replay: `run` is given the stored options back with what the caller adds (S3, Redis,
 * progress), typed as the verb's own options.
 */
function replay<O extends Replay['options']>(label: string, options: O, run: (opts: O & TransferOptions) => Promise<RunSummary>): Replay {
  return {label, options, run: opts => run({...options, ...opts})}
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
      return replay('upload', {...command.options, ...common, ...selection}, upload)
    case 'download':
      return replay('download', {...command.options, ...common, ...selection}, download)
    case 'bundle':
      // The archive as a whole: built again under the same bundle id.
      return replay('bundle', {...command.options, ...common}, bundle)
    case 'copy':
      // S3→S3 cp/mv: the failed objects again (their destination keys).
      return replay(command.options.label, {...command.options, ...common, ...selection, verb: command.options.label}, cp)
    case 'rm':
      // The keys that failed (their s3:// URLs), listed again under the same arguments; a stopped run: the whole rm again.
      return replay('rm', {...command.options, ...common, ...(failures ? {only: failures.map(f => f.path)} : {})}, async o => (await rm(o)).run)
    case 'sync-delete':
      // sync --delete's pass: the keys that failed (destination keys), or the whole comparison again.
      return replay('sync --delete', {...command.options, ...common, ...selection}, async o => (await syncDelete(o)).run)
    case 'tar-create': {
      // An archive whose index could not be written failed as KEY.s3ci: the archive is built again.
      const only = failures?.map(f => (f.key.endsWith(INDEX_SUFFIX) ? f.key.slice(0, -INDEX_SUFFIX.length) : f.key))
      return replay('tar create', {...command.options, ...common, only}, tarCreate)
    }
    case 'download-all': {
      const select = failures ? failedMembers(failures, command.options.dest) : command.options.select
      return replay('download-all', {...command.options, ...common, select}, downloadAll)
    }
    case 'tar-extract': {
      const {dest} = command.options
      // To S3 a failure's path is the member name; to a folder, the file under DEST.
      const select = !failures ? command.options.select : parseLocation(dest).type === 's3' ? failures.map(f => f.path) : failedMembers(failures, dest)
      return replay('tar extract', {...command.options, ...common, select}, tarExtract)
    }
  }
}
