import type {RunSummary} from '../run/stats.js'
import {cp, type CopyOptions} from './cp.js'

/**
 * `s3c mv SRC DST`: cp, and each source is deleted only once its destination holds it (the job
 * that copied it deletes it, so this holds on BullMQ workers too). A source that was not copied
 * (failed, or skipped by -n / --if-size-differ / --if-source-newer) stays.
 */
export function mv(opts: CopyOptions): Promise<RunSummary> {
  return cp({...opts, removeSource: true, verb: 'mv'})
}
