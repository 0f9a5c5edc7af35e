/**
 * What upload and download share to use the sync state in a run: where the states live, whether
 * this run writes one, and the session wired to the run's results.
 */
import type {RunContext, TransferOptions} from '../run/session.js'
import {folderPrefix, parseS3Url} from '../base/location.js'
import {defaultStateDir, folderStorage, stateCaps} from '../state/local-storage.js'
import {s3StateStorage} from '../state/s3-storage.js'
import {SyncSession} from '../state/session.js'
import {isStateName, stateEndpoint, type StateIdentity} from '../state/state.js'

/**
 * The run's sync session, or undefined with --no-state and for `s3c retry` of failed files. It
 * reads the stored state when `read` (there is something to compare with), and writes a new one
 * unless this is a dry run or a detached BullMQ run (nobody stays to collect the workers'
 * outcomes: see docs/DESIGN-state.md, "Detached and --redis runs"). States live on this machine
 * (`opts.stateDir`, else the XDG state folder), or in S3 under `opts.stateUrl` when given: the
 * CLI that collects the results writes them, never a worker.
 */
export async function openSyncSession(run: RunContext, opts: TransferOptions, identity: Omit<StateIdentity, 'endpoint'>, read: boolean): Promise<SyncSession | undefined> {
  // s3c retry of the failed files: a handful of keys, checked as before; reading a whole state
  // for them would cost more than it saves, and writing one would drop every other key.
  if (opts.state === false || opts.only) return undefined
  const storage = opts.stateUrl
    ? s3StateStorage(run.s3, parseS3Url(opts.stateUrl).bucket, folderPrefix(parseS3Url(opts.stateUrl).prefix))
    : folderStorage(opts.stateDir ?? defaultStateDir(), stateCaps())
  let session: SyncSession | undefined
  // Outcomes arrive only once jobs run, after the session is open.
  const admitted = opts.dryRun ? undefined : await run.collectOutcomes(outcome => session?.settle(outcome))
  // Four times the files the runner holds unfinished: slots wait only behind a slow head.
  session = await SyncSession.open({
    storage, identity: {endpoint: stateEndpoint(opts.s3.endpoint), ...identity}, read, write: admitted !== undefined, capacity: 4 * (admitted ?? 1),
    warn: line => opts.onNotice?.(line), stopped: () => run.signal.aborted,
  })
  return session
}

/**
 * The states under --state-url, when they share the data's bucket: a sync's listings leave them
 * out (they are s3c's, not the data: a download does not fetch them, `sync --delete` does not
 * remove them), and a local file that would land on one is not uploaded. Undefined otherwise:
 * every other key is the user's, `.s3c/` included.
 */
export function stateKeyTest(opts: Pick<TransferOptions, 'stateUrl' | 'state'>, bucket: string): ((key: string) => boolean) | undefined {
  if (!opts.stateUrl || opts.state === false) return undefined
  const where = parseS3Url(opts.stateUrl)
  if (where.bucket !== bucket) return undefined
  const prefix = folderPrefix(where.prefix)
  return key => key.startsWith(prefix) && isStateName(key.slice(prefix.length))
}
