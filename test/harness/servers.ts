import {spawn, spawnSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

export interface S3Env {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  /** True when the server is fauxqs started here (no signature checks, 11 MiB body limit). */
  local: boolean
  stop(): Promise<void>
}

export interface RedisEnv {
  url: string
  stop(): Promise<void>
}

async function freePort(): Promise<number> {
  // scripts/ is plain JS shared with the quick start.
  const mod = (await import(join(projectRoot, 'scripts', 'fauxqs.js'))) as {freePort(): Promise<number>}
  return mod.freePort()
}

/** A real redis-server on a free loopback port, or S3C_TEST_REDIS_URL when set. */
export async function startRedis(): Promise<RedisEnv> {
  if (process.env.S3C_TEST_REDIS_URL) return {url: process.env.S3C_TEST_REDIS_URL, stop: async () => undefined}
  return startLocalRedis()
}

/** A redis-server of our own on a free loopback port (also for tests that need one configured otherwise); ready when it returns. */
export async function startLocalRedis(maxmemoryPolicy = 'noeviction'): Promise<RedisEnv> {
  if (spawnSync('redis-server', ['--version']).error)
    throw new Error('redis-server is not installed: apt-get install -y redis-server (or set S3C_TEST_REDIS_URL)')
  const port = await freePort()
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--maxmemory-policy', maxmemoryPolicy], {stdio: 'ignore'})
  const end = Date.now() + 10_000
  for (;;) {
    const r = spawnSync('redis-cli', ['-p', String(port), 'ping'], {encoding: 'utf8'})
    if (r.stdout?.trim() === 'PONG') break
    if (Date.now() > end) throw new Error('redis-server did not start')
    await new Promise(res => setTimeout(res, 100))
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => new Promise(resolve => {
      if (child.exitCode !== null) return resolve()
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    }),
  }
}

/** fauxqs on a free loopback port, or the server in S3C_TEST_S3_ENDPOINT with keys from the environment. */
export async function startS3(): Promise<S3Env> {
  const region = process.env.AWS_REGION || 'us-east-1'
  if (process.env.S3C_TEST_S3_ENDPOINT) {
    const {AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey} = process.env
    if (!accessKeyId || !secretAccessKey) throw new Error('S3C_TEST_S3_ENDPOINT needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')
    return {endpoint: process.env.S3C_TEST_S3_ENDPOINT.replace(/\/+$/, ''), region, accessKeyId, secretAccessKey, local: false, stop: async () => undefined}
  }
  const mod = (await import(join(projectRoot, 'scripts', 'fauxqs.js'))) as {startFauxqs(): Promise<{endpoint: string; stop(): Promise<void>}>}
  const s = await mod.startFauxqs()
  return {endpoint: s.endpoint, region: 'us-east-1', accessKeyId: 's3ctest', secretAccessKey: 's3ctestsecret', local: true, stop: s.stop}
}
