import {PutObjectCommand} from '@aws-sdk/client-s3'
import {s3Client} from './hooks.js'

/** Puts objects (key → body) through the SDK, 32 at a time: test fixtures for the everyday verbs. */
export async function putObjects(bucket: string, objects: Record<string, string | Buffer>, opts: {storageClass?: string; metadata?: Record<string, string>} = {}): Promise<void> {
  const c = s3Client()
  const entries = Object.entries(objects)
  try {
    for (let i = 0; i < entries.length; i += 32) {
      await Promise.all(entries.slice(i, i + 32).map(([Key, Body]) => c.send(new PutObjectCommand({
        Bucket: bucket, Key, Body, Metadata: opts.metadata, ...(opts.storageClass ? {StorageClass: opts.storageClass as 'STANDARD'} : {}),
      }))))
    }
  } finally {
    c.destroy()
  }
}

/** The NDJSON lines of a command's stdout, parsed. */
export function ndjson(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter(l => l.trim()).map(l => JSON.parse(l) as Record<string, unknown>)
}
