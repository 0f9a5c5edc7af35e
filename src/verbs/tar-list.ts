import {retryPolicy} from '../base/retry.js'
import type {S3Store} from '../base/storage.js'
import type {S3Config} from '../s3/config.js'
import {isLocalTar, type TarRef} from '../s3ci/ref.js'
import {openStore} from '../storage/open.js'

import {archiveMembers, type ArchiveMembers} from '../s3ci/members.js'

/* `s3c tar list`: an archive's members (index, else s3tar TOC, else a scan). */

export async function tarList(opts: {s3: S3Config; ref: TarRef; maxRetry: number}): Promise<ArchiveMembers> {
  const s3 = isLocalTar(opts.ref) ? undefined : await openStore(opts.s3, retryPolicy(opts.maxRetry))
  try {
    return await archiveMembers(s3, opts.ref)
  } finally {
    await s3?.close()
  }
}

