import type {Redis} from 'ioredis'
import {ExitCode, S3cError} from '../base/errors.js'
import {storedLocalPaths, type StoredCommand} from './stored-command.js'
import {readCounters, readFailures} from './counters.js'
import {checkStoredCommand, checkStoredPaths} from './trust.js'

export interface RetryPlan {
  command: StoredCommand
  /**
   * The failed files, to be the retry's whole selection; undefined when the run was stopped
   * (a fatal error, Ctrl-C): what it left undone is unknown, so the whole command runs again.
   */
  failures?: {key: string; path: string; error: string}[]
}

/**
 * What a retry of a finished run does: its command, limited to the failed files, or whole when
 * the run was stopped; refused when the command names a local path outside `roots`. Only reads: the run is changed once the retry holds it (BullMQRunner.open
 * with `retrying`), so a retry refused on the way leaves the run as it was.
 */
export async function planRetry(redis: Redis, runId: string, roots: string[]): Promise<RetryPlan> {
  const c = await readCounters(redis, runId)
  if (!c.createdAt) throw new S3cError(`no run "${runId}" in this Redis: see s3c runs`, ExitCode.usage)
  let command: StoredCommand | undefined
  try {
    command = c.command ? JSON.parse(String(c.command)) as StoredCommand : undefined
  } catch {
    command = undefined
  }
  if (!command?.verb) throw new S3cError(`run "${runId}" was stored by an older s3c (no command verb to replay): run its command again`, ExitCode.usage)
  // Anyone who can write to Redis can change what a retry runs: with a job key, only what an s3c holding it stored.
  checkStoredCommand(runId, command, c.commandSig === undefined ? undefined : String(c.commandSig))
  // With or without a key, a retry acts only on local paths under its --root folders, as a worker does.
  checkStoredPaths(runId, storedLocalPaths(command), roots)
  const stopped = !!c.fatal || c.status === 'failed' || c.status === 'interrupted'
  if (c.jobsFinished < c.jobsAdded && !stopped) throw new S3cError(`run "${runId}" is still running (${c.jobsAdded - c.jobsFinished} jobs pending): wait for it, see s3c status`, ExitCode.usage)
  if (c.filesFailed === 0 && !stopped) throw new S3cError(`run "${runId}" has no failed files: nothing to retry`, ExitCode.usage)
  return {command, failures: stopped ? undefined : await readFailures(redis, runId)}
}
