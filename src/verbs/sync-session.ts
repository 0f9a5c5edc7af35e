/**
 * What upload and download share to use the sync state in a run: where the states live, whether
 * this run writes one, and the session wired to the run's results.
 */
import type {RunContext, TransferOptions} from '../run/session.js'
import {folderPrefix, parseS3Url} from '../base/location.js'
import {s3StateStorage, STATE_PREFIX} from '../state/s3-storage.js'
import {SyncSession} from '../state/session.js'
import type {StateIdentity} from '../state/state.js'

/**
 * The run's sync session, or undefined with --no-state and for `s3c retry` of failed files. It
 * reads the stored state when `read` (there is something to compare with), and writes a new one
 * unless this is a dry run or a detached BullMQ run (nobody stays to collect the workers'
 * outcomes: see docs/DESIGN-state.md, "Detached and --redis runs").
 */
export async function openSyncSession(run: RunContext, opts: TransferOptions, identity: StateIdentity, read: boolean): Promise<SyncSession | undefined> {
  // s3c retry of the failed files: a handful of keys, checked as before; reading a whole state
  // for them would cost more than it saves, and writing one would drop every other key.
  if (opts.state === false || opts.only) return undefined
  const where = opts.stateUrl ? parseS3Url(opts.stateUrl) : {bucket: identity.bucket, prefix: STATE_PREFIX}
  let session: SyncSession | undefined
  // Outcomes arrive only once jobs run, after the session is open.
  const admitted = opts.dryRun ? undefined : await run.collectOutcomes(outcome => session?.settle(outcome))
  // Four times the files the runner holds unfinished: slots wait only behind a slow head.
  session = await SyncSession.open({
    storage: s3StateStorage(run.s3, where.bucket, folderPrefix(where.prefix)), identity, read, write: admitted !== undefined, capacity: 4 * (admitted ?? 1),
    warn: line => opts.onNotice?.(line), stopped: () => run.signal.aborted,
  })
  return session
}
