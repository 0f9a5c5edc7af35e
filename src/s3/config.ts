import {ExitCode, S3cError} from '../core/errors.js'

/** Everything needed to talk to one S3 endpoint; resolved once per run. */
export interface S3Config {
  /** Custom endpoint (MinIO, Ceph, fauxqs, …); undefined means AWS. */
  endpoint?: string
  region?: string
  profile?: string
  /** Path-style addressing; defaults to true for a custom endpoint. */
  forcePathStyle?: boolean
  /** Sockets per host; at least the number of requests in flight. */
  maxSockets: number
}

export interface S3ConfigFlags {
  'endpoint-url'?: string
  region?: string
  profile?: string
  'path-style'?: boolean
}

/** An endpoint that does not parse is bad input (exit 2), named by where it came from. */
function checkEndpoint(endpoint: string, source: string): void {
  let url: URL | undefined
  try {
    url = new URL(endpoint)
  } catch {
    url = undefined
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.hostname)
    throw new S3cError(`${source} "${endpoint}" is not an http:// or https:// URL: write it as https://host[:port]`, ExitCode.usage)
}

/** Flag first, then the environment variables other S3 tools use, in this order. */
export function resolveS3Config(flags: S3ConfigFlags, maxSockets: number, env = process.env): S3Config {
  const [source, endpoint] = ([['--endpoint-url', flags['endpoint-url']], ['AWS_ENDPOINT_URL_S3', env.AWS_ENDPOINT_URL_S3],
    ['AWS_ENDPOINT_URL', env.AWS_ENDPOINT_URL], ['S3_ENDPOINT_URL', env.S3_ENDPOINT_URL]] as const).find(([, v]) => v) ?? []
  if (endpoint) checkEndpoint(endpoint, source!)
  const region = flags.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined
  const profile = flags.profile || env.AWS_PROFILE || undefined
  const forcePathStyle = flags['path-style'] ?? (endpoint ? true : undefined)
  return {endpoint, region, profile, forcePathStyle, maxSockets: Math.max(8, maxSockets)}
}
