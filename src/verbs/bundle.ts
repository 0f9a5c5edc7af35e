import {newRunId} from '../base/ids.js'
import {constants} from 'node:fs'
import {access, readlink} from 'node:fs/promises'
import {ExitCode, S3cError, describeError} from '../base/errors.js'
import {partSizeFor} from '../s3/limits.js'
import {commonStoredOptions} from '../run/stored-command.js'
import {openRun, runWalk, type TransferOptions} from '../run/session.js'
import {cleanupArchiveLeftovers} from './cleanup.js'
import {checkLocalFolder, recordProblem} from './upload.js'
import {isProblem, walkLocal} from '../local/walk.js'
import {fsPath, nameFromBytes} from '../local/fs-path.js'
import type {RunSummary} from '../run/stats.js'
import {wholeSeconds} from '../base/times.js'
import type {Work} from '../jobs/types.js'
import {layoutTar, builtParts, type MemberInput} from '../tar/layout.js'
import type {TarFormat} from '../tar/header.js'
import {bundleRef, type S3TarRef} from '../s3ci/ref.js'
import {INDEX_SUFFIX} from '../s3ci/format.js'
import {folderPrefix} from '../base/location.js'

export interface BundleOptions extends TransferOptions {
  localFolder: string
  bundleId?: string
  format?: TarFormat
  storageClass?: string
  /** Store what symbolic links point to; by default a link is stored as a link (as tar does). */
  followSymlinks?: boolean
}

/**
 * `s3c bundle`: one standard tar of DIR at <prefix>/<id>/bundle.tar plus its index. The walk
 * fixes the layout; each multipart part is then a job that builds its own byte range, so parts
 * upload in parallel (or on other machines) and every file is read once.
 */
export async function bundle(opts: BundleOptions, onBundle?: (ref: S3TarRef, id: string) => void): Promise<RunSummary> {
  const root = await checkLocalFolder(opts.localFolder)
  const id = opts.bundleId ?? newRunId()
  const ref = bundleRef(id, opts.location)
  const {bucket} = opts.location
  const format = opts.format ?? 'pax'
  const run = await openRun(opts, `bundle ${root} s3://${bucket}/${ref.tarKey}`,
    {verb: 'bundle', options: {...commonStoredOptions(opts), checksum: false, localFolder: root, bundleId: id, format, storageClass: opts.storageClass, followSymlinks: opts.followSymlinks}})
  let uploadId: string | undefined
  const cleanup = async () => {
    if (uploadId) await run.s3.abortMultipart({bucket, key: ref.tarKey, uploadId}).catch(() => undefined)
  }

  async function* plan(): AsyncGenerator<Work> {
    await run.s3.checkBucket(bucket, folderPrefix(opts.location.prefix))
    if (!opts.force && !opts.dryRun && (await run.s3.head(bucket, ref.tarKey)))
      throw new S3cError(`bundle "${id}" already exists (s3://${bucket}/${ref.tarKey}): choose another id, or pass --force to replace it`, ExitCode.usage)
    onBundle?.(ref, id)
    const inputs: MemberInput[] = []
    for await (const e of walkLocal(root, {...opts, dirs: true})) {
      const name = e.dir ? `${e.rel}/` : e.rel
      if (isProblem(e)) {
        recordProblem(run, name, e)
        continue
      }
      const member: MemberInput = {name, type: e.type, size: e.size, mode: e.mode & 0o7777, mtime: wholeSeconds(e.mtimeNs)}
      try {
        // Checked here: one unreadable file would otherwise fail the part holding it, and so the whole tar.
        if (e.type === 'file') await access(fsPath(e.path), constants.R_OK)
        if (e.type === 'symlink') member.linkname = nameFromBytes(await readlink(fsPath(e.path), {encoding: 'buffer'})).name
      } catch (error) {
        recordProblem(run, name, {...e, type: 'failed', reason: describeError(error), dir: false})
        continue
      }
      if (e.type === 'file') member.source = {path: e.path}
      inputs.push(member)
    }
    // Sorted, so the same tree always makes the same archive.
    inputs.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    if (!inputs.some(m => m.type === 'file')) throw new S3cError(`nothing to bundle: "${opts.localFolder}" has no files${opts.include || opts.exclude ? ' that match --include/--exclude' : ''}`, ExitCode.usage)
    const layout = layoutTar(inputs, format)
    for (const m of layout.members) if (m.type === 'file') run.stats.seen(m.size)
    const partSize = partSizeFor(layout.size, opts.partSize)
    const parts = Math.ceil(layout.size / partSize)
    if (opts.dryRun) {
      opts.onPlan?.(`bundle ${layout.members.length} members (${layout.dataBytes} bytes of data) -> s3://${bucket}/${ref.tarKey}: ` +
        `${layout.size} bytes in ${parts} part${parts === 1 ? '' : 's'}, index s3://${bucket}/${ref.tarKey}${INDEX_SUFFIX}`)
      return
    }
    // What an earlier try killed mid-way left for this very key (its multipart upload).
    await cleanupArchiveLeftovers(run.s3, bucket, ref.tarKey)
    uploadId = await run.s3.createMultipart(bucket, ref.tarKey, {contentType: 'application/x-tar', storageClass: opts.storageClass})
    const children = builtParts(layout, partSize, {bucket, key: ref.tarKey, uploadId, format})
    yield {parent: {kind: 'complete-tar', bucket, key: ref.tarKey, uploadId, size: layout.size, memberCount: layout.members.length, source: root}, children}
  }
  return runWalk(run, opts.location, plan, cleanup)
}
