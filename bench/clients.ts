/**
 * The three clients the benches compare (s3c, rclone, the AWS CLI), set up to talk to one S3
 * server (test/harness/servers.ts' fauxqs, or the server from the environment) at one endpoint:
 * the server itself, or a counting proxy in front of it. Plus bucket creation and the versions
 * and machine line the reports print.
 */
import {spawnSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, totalmem} from 'node:os'
import {join} from 'node:path'
import {CreateBucketCommand, S3Client} from '@aws-sdk/client-s3'
import {projectRoot, type S3Env} from '../test/harness/servers.js'
import {awscliTool, findTool} from '../test/harness/tools.js'

// The bench process creates buckets with the SDK too: no Node 20 support warning on its stderr.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

export const s3cBin = join(projectRoot, 'bin', 'run.js')
/** The AWS CLI (awscli 2) found on the PATH; asked for when a bench first runs it, so a bench without it needs none. */
export const awsCli = (): string => findTool(awscliTool)
export const RCLONE = 'rclone'
/** The name of the rclone remote (configured by RCLONE_CONFIG_S_* variables). */
export const REMOTE = 's'

/** The caller's environment without what would send a client elsewhere (a Redis, another endpoint, a profile). */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_PAGER: ''}
  for (const k of ['S3C_REDIS_URL', 'AWS_ENDPOINT_URL_S3', 'S3_ENDPOINT_URL', 'S3C_BUCKET', 'AWS_PROFILE', 'AWS_CONFIG_FILE', 'AWS_SHARED_CREDENTIALS_FILE'])
    delete env[k]
  return env
}

export interface ClientEnvs {
  endpoint: string
  /** s3c (and the AWS CLI): keys, region and AWS_ENDPOINT_URL. */
  s3c: NodeJS.ProcessEnv
  /** rclone: remote `s:` from RCLONE_CONFIG_S_* (provider Other, path style), an empty config file, no AWS_CA_BUNDLE. */
  rclone: NodeJS.ProcessEnv
  /** The AWS CLI: its own config file (max_concurrent_requests); pass `--endpoint-url` (awscli 2.9 ignores AWS_ENDPOINT_URL). */
  aws: NodeJS.ProcessEnv
}

export interface ClientOptions {
  /** awscli's s3 max_concurrent_requests (its default is 10). */
  awsConcurrency?: number
  /** awscli's multipart_chunksize, e.g. '16MB'. */
  awsChunkSize?: string
}

let configSeq = 0

/** Environments for the three clients against `endpoint` (default: the server itself); config files go under `work`. */
export function clientEnvs(s3: S3Env, work: string, endpoint = s3.endpoint, opts: ClientOptions = {}): ClientEnvs {
  mkdirSync(work, {recursive: true})
  const keys = {AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: s3.region}
  // Sync states in the bench's own folder, as a user's holds a few: not in the machine's state folder,
  // where every bench run would leave states for its fresh prefixes (hundreds, each run pruning them all).
  const s3c = {...baseEnv(), ...keys, AWS_ENDPOINT_URL: endpoint, S3C_STATE_DIR: join(work, 'state')}
  const n = configSeq++
  const awsConf = join(work, `aws-${n}.conf`)
  const s3Settings = (opts.awsConcurrency ? `  max_concurrent_requests = ${opts.awsConcurrency}\n` : '') +
    (opts.awsChunkSize ? `  multipart_chunksize = ${opts.awsChunkSize}\n` : '')
  // An empty `s3 =` section breaks awscli ("'str' object has no attribute 'get'"): written only with settings.
  writeFileSync(awsConf, `[default]\nregion = ${s3.region}\n${s3Settings ? `s3 =\n${s3Settings}` : ''}`)
  const aws = {...s3c, AWS_CONFIG_FILE: awsConf}
  const rcloneConf = join(work, `rclone-${n}.conf`)
  writeFileSync(rcloneConf, '')
  const rclone: NodeJS.ProcessEnv = {...baseEnv(), RCLONE_CONFIG: rcloneConf,
    RCLONE_CONFIG_S_TYPE: 's3', RCLONE_CONFIG_S_PROVIDER: 'Other', RCLONE_CONFIG_S_ACCESS_KEY_ID: s3.accessKeyId,
    RCLONE_CONFIG_S_SECRET_ACCESS_KEY: s3.secretAccessKey, RCLONE_CONFIG_S_ENDPOINT: endpoint, RCLONE_CONFIG_S_REGION: s3.region,
    RCLONE_CONFIG_S_FORCE_PATH_STYLE: 'true'}
  // Debian's rclone fails on the CA bundle some machines point AWS_CA_BUNDLE at.
  delete rclone.AWS_CA_BUNDLE
  return {endpoint, s3c, rclone, aws}
}

/** `s3://bucket/path` as rclone names it. */
export const rcloneUrl = (url: string): string => (url.startsWith('s3://') ? `${REMOTE}:${url.slice(5)}` : url)

export async function createBucket(s3: S3Env, bucket: string): Promise<void> {
  const client = new S3Client({endpoint: s3.endpoint, region: s3.region, forcePathStyle: true,
    credentials: {accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey}})
  try {
    await client.send(new CreateBucketCommand({Bucket: bucket}))
  } finally {
    client.destroy()
  }
}

/** The first line a tool prints for its version. */
export function toolVersion(cmd: string, args: string[]): string {
  return String(spawnSync(cmd, args, {encoding: 'utf8'}).stdout ?? '').split('\n')[0].trim()
}

/** "2 cores (model), 24 GiB, Node v20.20.2". */
export function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`
}

export const load1 = (): string => loadavg()[0].toFixed(1)

/** "YYYY-MM-DD HH:MM" (UTC). */
export const utcNow = (): string => new Date().toISOString().slice(0, 16).replace('T', ' ')
