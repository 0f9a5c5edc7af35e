import {CopyObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand} from '@aws-sdk/client-s3'
import {s3Client} from './hooks.js'

/** Test-side S3 access with the SDK (not through s3c), to check what s3c wrote. */

export async function getObject(bucket: string, key: string): Promise<Buffer> {
  const c = s3Client()
  try {
    const res = await c.send(new GetObjectCommand({Bucket: bucket, Key: key}))
    return Buffer.from(await res.Body!.transformToByteArray())
  } finally {
    c.destroy()
  }
}

export async function putObject(bucket: string, key: string, body: Buffer): Promise<void> {
  const c = s3Client()
  try {
    await c.send(new PutObjectCommand({Bucket: bucket, Key: key, Body: body}))
  } finally {
    c.destroy()
  }
}

/** Key → size of every object under prefix: all of them (s3c writes nothing into a bucket but what it was asked to). */
export async function listKeys(bucket: string, prefix = ''): Promise<Map<string, number>> {
  const c = s3Client()
  const out = new Map<string, number>()
  try {
    let token: string | undefined
    do {
      const res = await c.send(new ListObjectsV2Command({Bucket: bucket, Prefix: prefix, ContinuationToken: token}))
      for (const o of res.Contents ?? []) out.set(o.Key!, o.Size ?? 0)
      token = res.IsTruncated ? res.NextContinuationToken : undefined
    } while (token)
  } finally {
    c.destroy()
  }
  return out
}

/** A server-side copy (for objects larger than one PUT to the test server takes). */
export async function copyObject(bucket: string, from: string, to: string): Promise<void> {
  const c = s3Client()
  try {
    await c.send(new CopyObjectCommand({Bucket: bucket, Key: to, CopySource: `${bucket}/${from.split('/').map(encodeURIComponent).join('/')}`}))
  } finally {
    c.destroy()
  }
}
