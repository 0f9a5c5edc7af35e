import http from 'node:http'
import https from 'node:https'
import {S3Client} from '@aws-sdk/client-s3'
import {fromNodeProviderChain} from '@aws-sdk/credential-providers'
import {NodeHttpHandler} from '@smithy/node-http-handler'
import type {S3Config} from './config.js'
import {FastS3} from './fast.js'

/** One connection to S3: the SDK client for everything, the fast path for small objects. */
export interface S3Handle {
  client: S3Client
  fast: FastS3
  config: S3Config
  region: string
  /** Where requests go, for messages (never contains secrets). */
  endpointLabel: string
  close(): Promise<void>
}

async function resolveRegion(config: S3Config): Promise<string> {
  if (config.region) return config.region
  // Let the SDK read ~/.aws/config for the profile; fall back to us-east-1 (what custom endpoints expect).
  const probe = new S3Client({profile: config.profile})
  try {
    return await probe.config.region()
  } catch {
    return 'us-east-1'
  } finally {
    probe.destroy()
  }
}

/** The one S3 client factory. */
export async function createS3(config: S3Config): Promise<S3Handle> {
  const region = await resolveRegion(config)
  const agentOpts = {keepAlive: true, maxSockets: config.maxSockets}
  const client = new S3Client({
    region,
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle,
    credentials: fromNodeProviderChain({profile: config.profile}),
    // One retry policy for the whole tool (src/core/retry.ts): the SDK must not retry on its own.
    maxAttempts: 1,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent(agentOpts),
      httpsAgent: new https.Agent(agentOpts),
      connectionTimeout: 10_000,
      requestTimeout: 120_000,
    }),
  })
  const endpoint = new URL(config.endpoint ?? `https://s3.${region}.amazonaws.com`)
  const fast = new FastS3({
    endpoint,
    pathStyle: config.forcePathStyle ?? false,
    region,
    credentials: client.config.credentials,
    connections: config.maxSockets,
  })
  return {
    client, fast, config, region,
    endpointLabel: endpoint.origin,
    async close() {
      client.destroy()
      await fast.close()
    },
  }
}
