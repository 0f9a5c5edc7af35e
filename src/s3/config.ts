import {existsSync} from 'node:fs'
import {isIP} from 'node:net'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {ExitCode, S3cError} from '../base/errors.js'

/** Everything needed to talk to one S3 endpoint; resolved once per run, used by every request path. */
export interface S3Config {
  /** Custom endpoint (MinIO, Ceph, fauxqs, …); undefined means AWS. */
  endpoint?: string
  /** Where the endpoint came from, for messages ("--endpoint-url", "AWS_ENDPOINT_URL", "endpoint_url in profile …"). */
  endpointSource: string
  region: string
  /** The profile named by --profile or AWS_PROFILE; undefined means [default] (and environment keys count). */
  profile?: string
  /** Path-style addressing (https://host/bucket/key) instead of virtual-hosted (https://bucket.host/key). */
  forcePathStyle: boolean
  /** The AWS config and credentials files that were read (for messages). */
  files: {config: string; credentials: string}
  /** A PEM file of certificates to trust besides the system's (AWS_CA_BUNDLE, else the profile's ca_bundle). */
  caBundle?: string
  /** Sockets per host; at least the number of requests in flight. */
  maxSockets: number
  /** --no-sign-request: requests go unsigned, as anyone's (public buckets); no credentials are looked up. */
  anonymous?: boolean
  /** --request-payer requester: x-amz-request-payer on every request (requester-pays buckets). */
  requestPayer?: RequestPayer
  /** --log: what is written to stderr besides errors (src/s3/log.ts); warn when absent. */
  logLevel?: LogLevel
  /** Keys given by a library caller (src/api/connect.ts) instead of the credential chain. */
  credentials?: StaticKeys
  /**
   * Keys found as they are (the environment's without a named profile, or the profile's plain
   * keys): used without loading the SDK's credential chain. Absent when the chain must decide
   * (roles, SSO, credential_process, instance metadata, …).
   */
  staticKeys?: StaticKeys
}

export interface StaticKeys {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/** Profile settings that make the SDK's chain fetch credentials rather than read them (aws cli's order: these before plain keys). */
const FETCHED_CREDENTIALS = ['role_arn', 'source_profile', 'credential_source', 'credential_process', 'web_identity_token_file', 'sso_session', 'sso_start_url', 'sso_account_id']

/**
 * The credential chain's first answer when it is a plain pair of keys: the environment's
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) unless a profile is named, else
 * the profile's aws_access_key_id / aws_secret_access_key when nothing in it asks for a role, SSO
 * or a process. Undefined: the SDK's chain decides (src/s3/client.ts). `profile` is merged as the
 * chain merges it for credentials: the credentials file wins.
 */
function plainKeys(named: string | undefined, profile: Section, env: Env, warn: (message: string) => void): StaticKeys | undefined {
  const fromEnv = env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
  if (!named && fromEnv)
    return {accessKeyId: env.AWS_ACCESS_KEY_ID!, secretAccessKey: env.AWS_SECRET_ACCESS_KEY!, ...(env.AWS_SESSION_TOKEN ? {sessionToken: env.AWS_SESSION_TOKEN} : {})}
  if (FETCHED_CREDENTIALS.some(k => profile[k] !== undefined)) return undefined
  const accessKeyId = profile.aws_access_key_id?.trim()
  const secretAccessKey = profile.aws_secret_access_key?.trim()
  if (!accessKeyId || !secretAccessKey) return undefined
  // The chain's warning, in one line (src/s3/client.ts says the same when the chain runs).
  if (named && fromEnv) warn(`AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are ignored: with a named profile ("${named}") the credentials come from the profile`)
  const sessionToken = profile.aws_session_token?.trim()
  return {accessKeyId, secretAccessKey, ...(sessionToken ? {sessionToken} : {})}
}

/** The values of --log, least to most: error (errors only), warn, info (also failed requests), debug (every request). */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]
export const REQUEST_PAYERS = ['requester'] as const
export type RequestPayer = typeof REQUEST_PAYERS[number]

export interface S3ConfigFlags {
  'endpoint-url'?: string
  region?: string
  profile?: string
  'path-style'?: boolean
  'no-sign-request'?: boolean
  'request-payer'?: string
  log?: string
}

type Env = Record<string, string | undefined>
type Section = Record<string, string | undefined>

/** How the SDK's ini loader names a sub-setting (`s3 =` then `  endpoint_url = …` is "s3.endpoint_url"): its CONFIG_PREFIX_SEPARATOR (test/config.test.ts checks). */
export const SUB = '.'

/**
 * The config and credentials files as the SDK's ini loader reads them (sections by profile name).
 * The loader is imported only when one of the files exists: it costs ~11 ms of start-up, and a
 * machine configured by the environment alone (CI, containers) has neither file.
 */
async function readProfileFiles(files: {config: string; credentials: string}): Promise<{configFile: Record<string, Section>; credentialsFile: Record<string, Section>}> {
  if (!existsSync(files.config) && !existsSync(files.credentials)) return {configFile: {}, credentialsFile: {}}
  const {loadSharedConfigFiles} = await import('@smithy/core/config')
  return loadSharedConfigFiles({configFilepath: files.config, filepath: files.credentials, ignoreCache: true})
}

function expandHome(path: string, home: string): string {
  return path.startsWith('~/') ? join(home, path.slice(2)) : path
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true'
}

/** Virtual-hosted addressing puts the bucket in the host name: impossible for an IP address, unusable for localhost. */
function needsPathStyle(endpoint: URL): boolean {
  const host = endpoint.hostname.replace(/^\[|\]$/g, '')
  return isIP(host) !== 0 || host === 'localhost' || host.endsWith('.localhost')
}

function defaultWarn(message: string): void {
  process.stderr.write(`s3c: warning: ${message}\n`)
}

/**
 * The one resolution of endpoint, region, profile and addressing for every command, done before
 * anything is sent; the SDK client and the fast path are both given its result (src/s3/client.ts),
 * so neither can look elsewhere. Order (README "Connecting"):
 * - profile: --profile > AWS_PROFILE > "default"; a named profile must exist in one of the files;
 * - endpoint: --endpoint-url > AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL > S3_ENDPOINT_URL > the
 *   profile's `s3 =` / `endpoint_url` sub-setting > its `services` section's s3 endpoint_url > its
 *   `endpoint_url` > AWS (only the flag counts with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true);
 * - region: --region > AWS_REGION > AWS_DEFAULT_REGION > the profile's region > us-east-1;
 * - path-style: --[no-]path-style > the profile's `s3 =` / `addressing_style` > on for a custom
 *   endpoint, off for AWS; always on for an IP-address or localhost endpoint (with one warning if
 *   virtual-hosted was asked for).
 * The files are read with the SDK's own ini loader, which understands `[profile x]`,
 * `[services name]` and the indented sub-setting form (`s3 =` then `  endpoint_url = …`).
 */
export async function resolveS3Config(
  flags: S3ConfigFlags, maxSockets: number, env: Env = process.env, warnWith: (message: string) => void = defaultWarn,
): Promise<S3Config> {
  const logLevel = oneOf('--log', flags.log, LOG_LEVELS)
  const requestPayer = oneOf('--request-payer', flags['request-payer'], REQUEST_PAYERS)
  const warn = logLevel === 'error' ? () => undefined : warnWith
  const home = env.HOME || env.USERPROFILE || homedir()
  const files = {
    config: expandHome(env.AWS_CONFIG_FILE || join(home, '.aws', 'config'), home),
    credentials: expandHome(env.AWS_SHARED_CREDENTIALS_FILE || join(home, '.aws', 'credentials'), home),
  }
  const named = flags.profile || env.AWS_PROFILE || undefined
  const profileName = named ?? 'default'
  const {configFile, credentialsFile} = await readProfileFiles(files)
  // Own keys only: a profile named "constructor" or "toString" must not be found on Object.prototype.
  const fromConfig: Section | undefined = Object.hasOwn(configFile, profileName) ? configFile[profileName] : undefined
  const fromCredentials: Section | undefined = Object.hasOwn(credentialsFile, profileName) ? credentialsFile[profileName] : undefined
  if (named && !fromConfig && !fromCredentials)
    throw new S3cError(`AWS profile "${named}" not found in ${files.config} or ${files.credentials}: check --profile / AWS_PROFILE`, ExitCode.usage)
  // The SDK's rule for a key in both files: the config file wins.
  const profile: Section = {...fromCredentials, ...fromConfig}
  const whereIs = (key: string) => `profile "${profileName}", ${fromConfig?.[key] !== undefined ? files.config : files.credentials}`

  const servicesSection = (): Section | undefined => {
    const name = profile.services
    if (!name) return undefined
    const key = ['services', name].join(SUB)
    const section = Object.hasOwn(configFile, key) ? configFile[key] : undefined
    if (!section)
      throw new S3cError(`profile "${profileName}" names the services section "${name}", which is not in ${files.config}: add [services ${name}] or fix services =`, ExitCode.usage)
    return section
  }
  // [source, value], first non-empty wins; values are read lazily (a missing services section only matters when reached).
  const candidates: [string, () => string | undefined][] = [
    ['--endpoint-url', () => flags['endpoint-url']],
  ]
  const ignoreConfigured = isTrue(env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS) || isTrue(profile.ignore_configured_endpoint_urls)
  if (!ignoreConfigured) candidates.push(
    ['AWS_ENDPOINT_URL_S3', () => env.AWS_ENDPOINT_URL_S3],
    ['AWS_ENDPOINT_URL', () => env.AWS_ENDPOINT_URL],
    ['S3_ENDPOINT_URL', () => env.S3_ENDPOINT_URL],
    [`s3.endpoint_url in ${whereIs(`s3${SUB}endpoint_url`)}`, () => profile[`s3${SUB}endpoint_url`]],
    [`[services ${profile.services}] in ${files.config}`, () => servicesSection()?.[`s3${SUB}endpoint_url`]],
    [`endpoint_url in ${whereIs('endpoint_url')}`, () => profile.endpoint_url],
  )
  let endpoint: string | undefined
  let endpointSource = 'AWS'
  for (const [source, value] of candidates) {
    endpoint = value()?.trim() || undefined
    if (endpoint) {
      endpointSource = source
      break
    }
  }
  let endpointUrl: URL | undefined
  if (endpoint !== undefined) {
    try {
      endpointUrl = new URL(endpoint)
    } catch {
      // reported below
    }
    if (!endpointUrl || (endpointUrl.protocol !== 'http:' && endpointUrl.protocol !== 'https:') || !endpointUrl.hostname)
      throw new S3cError(`${endpointSource} "${endpoint}" is not an http:// or https:// URL: write it as https://host[:port]`, ExitCode.usage)
  }

  const region = flags.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || profile.region || 'us-east-1'

  // aws cli's s3 addressing_style: path | virtual | auto (auto: our default).
  const style = profile[`s3${SUB}addressing_style`]?.trim().toLowerCase()
  const fromProfile = style === 'path' ? true : style === 'virtual' ? false : undefined
  let forcePathStyle = flags['path-style'] ?? fromProfile ?? endpointUrl !== undefined
  if (!forcePathStyle && endpointUrl && needsPathStyle(endpointUrl)) {
    const asked = flags['path-style'] === false ? '--no-path-style' : `addressing_style = virtual (profile "${profileName}")`
    warn(`${asked} is ignored: virtual-hosted addressing (bucket.host) cannot work with ${endpoint} (an IP address or localhost); using path-style`)
    forcePathStyle = true
  }
  // aws cli's order: AWS_CA_BUNDLE, then the profile's ca_bundle.
  const caBundle = env.AWS_CA_BUNDLE?.trim() || profile.ca_bundle?.trim() || undefined
  const staticKeys = flags['no-sign-request'] ? undefined : plainKeys(named, {...fromConfig, ...fromCredentials}, env, warn)
  return {
    endpoint, endpointSource, region, profile: named, forcePathStyle, files, caBundle, maxSockets: Math.max(8, maxSockets),
    ...(staticKeys ? {staticKeys} : {}),
    ...(flags['no-sign-request'] ? {anonymous: true} : {}), ...(requestPayer ? {requestPayer} : {}), ...(logLevel ? {logLevel} : {}),
  }
}

/** A flag value from a fixed list (oclif checks the CLI's; library callers pass options objects). */
function oneOf<T extends string>(flag: string, value: string | undefined, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new S3cError(`${flag} "${value}" is not one of ${allowed.join(', ')}`, ExitCode.usage)
}
