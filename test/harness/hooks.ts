import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {CreateBucketCommand, S3Client} from '@aws-sdk/client-s3'
import {retryPolicy} from '../../src/base/retry.js'
import {S3Storage} from '../../src/s3/storage.js'
import {startRedis, startS3, type RedisEnv, type S3Env} from './servers.js'
import {startAuthGate, type AuthGate} from './proxy.js'

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
// Sync states go to the machine's XDG state folder: the tests' (and their CLIs') to one of their own, not the user's.
export const testStateHome = mkdtempSync(join(tmpdir(), 's3c-test-xdg-state-'))
process.env.XDG_STATE_HOME = testStateHome
delete process.env.S3C_STATE_DIR
// Index caches too (src/s3ci/ref.ts): a user's cache, or an earlier suite's against a server at the
// same address, must not decide what a test sees.
const testCacheHome = mkdtempSync(join(tmpdir(), 's3c-test-xdg-cache-'))
process.env.XDG_CACHE_HOME = testCacheHome
delete process.env.S3C_CACHE_DIR
/** The folder the tests' sync states are in (src/state/local-storage.ts). */
export const testStateDir = join(testStateHome, 's3c', 'sync')

interface Harness {
  s3: S3Env
  redis: RedisEnv
  /** An endpoint that checks SigV4 signatures: fauxqs behind a verifying gate, or the external server itself. */
  authEndpoint: string
}

let current: Harness | undefined
let gate: AuthGate | undefined

export function harness(): Harness {
  if (!current) throw new Error('test harness not started (mocha must --require dist/test/harness/hooks.js)')
  return current
}

export function s3Client(endpoint = harness().s3.endpoint): S3Client {
  const {s3} = harness()
  return new S3Client({
    endpoint, region: s3.region, forcePathStyle: true,
    credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey},
    requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED',
  })
}

let bucketSeq = 0
/** A new, valid, uniquely named bucket. */
/** s3c's own storage against the test server (or a proxy in front of it), with the harness's keys: for tests that call the core directly. */
export function openTestStorage(endpoint: string, opts: {retries?: number; maxSockets?: number; listConcurrency?: number} = {}): Promise<S3Storage> {
  const {s3} = harness()
  return S3Storage.open({endpoint, endpointSource: 'test', region: s3.region, forcePathStyle: true, files: {config: '/nonexistent', credentials: '/nonexistent'},
    maxSockets: opts.maxSockets ?? 8, credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}},
  retryPolicy(opts.retries ?? 2), undefined, opts.listConcurrency)
}

export async function newBucket(prefix = 't'): Promise<string> {
  const name = `s3c-${prefix}-${process.pid}-${Date.now().toString(36)}-${bucketSeq++}`.toLowerCase().slice(0, 63)
  const c = s3Client()
  await c.send(new CreateBucketCommand({Bucket: name}))
  c.destroy()
  return name
}

export const mochaHooks = {
  async beforeAll(this: Mocha.Context) {
    this.timeout(120_000)
    const [s3, redis] = await Promise.all([startS3(), startRedis()])
    let authEndpoint = s3.endpoint
    if (s3.local) {
      gate = await startAuthGate(s3.endpoint, {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey, region: s3.region})
      authEndpoint = gate.endpoint
    }
    current = {s3, redis, authEndpoint}
  },
  async afterAll() {
    await gate?.stop()
    if (current) await Promise.all([current.s3.stop(), current.redis.stop()])
    rmSync(testStateHome, {recursive: true, force: true})
    rmSync(testCacheHome, {recursive: true, force: true})
  },
}
