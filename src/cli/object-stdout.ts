import {createHash} from 'node:crypto'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {withS3, type Connection} from '../storage/open.js'
import {openObject, type ByteRange} from '../verbs/cat.js'

/** process.stdout cannot be ended; this forwards to it and leaves it open. */
function stdoutSink(): Writable {
  return new Writable({
    write(chunk, _enc, done) {
      if (process.stdout.write(chunk)) done()
      else process.stdout.once('drain', () => done())
    },
  })
}

/**
 * An object (or a range of it) on standard output: `s3c cat`, `s3c cp s3://b/key -`. One GET,
 * verified as every GET is (src/s3/verify.ts): a body that ends early or does not match its
 * digest rejects, and the command exits non-zero. `drop` (cat's --json and -q, cp's --json):
 * the bytes are read, counted and hashed, and none is written (the one JSON object takes stdout).
 */
export async function objectToStdout(c: Connection, object: {bucket: string; key: string}, opts: {range?: ByteRange; drop: boolean}): Promise<{bytes: number; sha256?: string}> {
  const digest = opts.drop ? createHash('sha256') : undefined
  let bytes = 0
  const counted = async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      bytes += chunk.length
      if (digest) digest.update(chunk)
      else yield chunk
    }
  }
  await withS3(c, async s3 => {
    await pipeline(await openObject(s3, object.bucket, object.key, opts.range), counted, digest ? new Writable({write: (_c, _e, done) => done()}) : stdoutSink())
  })
  return {bytes, sha256: digest?.digest('hex')}
}
