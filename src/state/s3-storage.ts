/** The sync state kept in S3 (--state-url, shared by every machine): the StateStorage (state.ts) such runs use. */
import type {Readable} from 'node:stream'
import {type S3Store} from '../base/storage.js'
import type {StateStorage} from './state.js'

/** Part size of a state's multipart upload (S3's smallest): a state below it is one PUT. */
const STATE_PART = 5 * 1024 * 1024

/**
 * Sync states in a bucket, under `prefix` ('' or ending with '/'). `get` streams the object (undefined when there is
 * none); `put` streams the body into the object: one PUT when it ends below 8 MiB, else a
 * multipart upload of 8 MiB parts sent while the body is still being written, completed only
 * when the body ends without error and aborted otherwise. Either way the object is replaced at
 * once (PUT, CompleteMultipartUpload), so readers see the old state or the new one, never a mix.
 * Hand-written rather than @aws-sdk/lib-storage's Upload: every request goes through the S3 store
 * (one retry policy, one signal), and the loop is twenty lines.
 */
export function s3StateStorage(s3: S3Store, bucket: string, prefix: string, partSize = STATE_PART): StateStorage {
  return {
    get: name => s3.stream(bucket, prefix + name),
    async put(name: string, body: Readable): Promise<void> {
      const key = prefix + name
      // One part's buffer, filled in place and reused: the memory a state costs is one part, whatever its size.
      const part = Buffer.allocUnsafe(partSize)
      let size = 0
      let target: {bucket: string; key: string; uploadId: string} | undefined
      const parts: {PartNumber: number; ETag: string}[] = []
      const sendPart = async () => {
        target ??= {bucket, key, uploadId: await s3.createMultipart(bucket, key, {contentType: 'application/gzip'})}
        parts.push(await s3.uploadPart(target, parts.length + 1, part.subarray(0, size)))
        size = 0
      }
      try {
        for await (const chunk of body) {
          const c = chunk as Buffer
          for (let at = 0; at < c.length;) {
            const n = Math.min(c.length - at, partSize - size)
            c.copy(part, size, at, at + n)
            size += n
            at += n
            if (size === partSize) await sendPart()
          }
        }
        if (!target) {
          await s3.put(bucket, key, part.subarray(0, size), {headers: {'content-type': 'application/gzip'}})
          return
        }
        if (size > 0) await sendPart()
        await s3.completeMultipart(target, parts)
      } catch (error) {
        // The old state stays: an upload that is not completed replaces nothing.
        if (target) await s3.abortMultipart(target).catch(() => undefined)
        throw error
      }
    },
  }
}
