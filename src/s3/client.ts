import {readFileSync} from 'node:fs'
import type http from 'node:http'
import type {S3Client, S3ClientConfig} from '@aws-sdk/client-s3'
import type {AwsCredentialIdentity, AwsCredentialIdentityProvider, FinalizeHandler, FinalizeHandlerArguments, MetadataBearer} from '@smithy/types'
import {ExitCode, S3cError} from '../base/errors.js'
import type {Contact} from '../base/retry.js'
import type {S3Config} from './config.js'
import {CONNECT_TIMEOUT_MS, FastS3, idleTimeoutMs} from './fast.js'
import {redactedQuery, requestLog, type RequestLog} from './log.js'

/** The SDK's module: commands are built from it where they are sent (src/s3/storage.ts). */
export type SdkModule = typeof import('@aws-sdk/client-s3')

/**
 * One connection to S3: the SDK client and the fast path for small objects. Only src/s3/ sends
 * requests through it (src/s3/storage.ts, which picks the path for each request).
 *
 * The SDK (~0.2 s of module loading with its HTTP handler and credential chain) is loaded on the
 * first request that needs it: a command that only GETs, PUTs or HEADs (cat, head,
 * download-single) never loads it (docs/DESIGN.md, "Start-up").
 */
export interface S3Handle {
  /** The SDK client and module, created on first use. */
  sdk(): Promise<{client: S3Client; m: SdkModule}>
  fast: FastS3
  /** Where requests go, for messages (never contains secrets). */
  endpointLabel: string
  /** Whether the endpoint has answered yet: the retry policy's rule for a dead endpoint (src/base/retry.ts). */
  contact: Contact
  close(): Promise<void>
}

/**
 * The standard credential chain for the resolved profile. A named profile skips the environment
 * keys (the SDK's rule, as aws cli's); failures become one line naming the profile and the files.
 */
async function credentialChain(config: S3Config): Promise<AwsCredentialIdentityProvider> {
  const profile = config.profile ?? 'default'
  const {fromNodeProviderChain} = await import('@aws-sdk/credential-providers')
  const chain = fromNodeProviderChain({
    profile: config.profile,
    // The SDK prints a 9-line warning when a profile and environment keys are both set: one line instead.
    logger: {
      debug: () => undefined, info: () => undefined, error: () => undefined,
      warn: (message: unknown) => {
        if (config.logLevel === 'error') return
        const text = String(message)
        process.stderr.write(/Multiple credential sources/.test(text)
          ? `s3c: warning: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are ignored: with a named profile ("${profile}") the credentials come from the profile\n`
          : `s3c: warning: ${text.trim().split('\n')[0]}\n`)
      },
    },
  })
  return async identityProperties => {
    try {
      return await chain(identityProperties)
    } catch (error) {
      if (!/ProviderError$/.test((error as Error)?.name ?? '')) throw error
      const looked = `${config.profile ? '' : 'the environment, '}${config.files.credentials} and ${config.files.config}`
      const reason = ((error as Error).message || 'none found').split('\n')[0]
      throw new S3cError(`no AWS credentials for profile "${profile}" (looked in ${looked}): ${reason}`, ExitCode.fatal)
    }
  }
}

/**
 * The certificates an https endpoint is checked against: the system's plus AWS_CA_BUNDLE (or the
 * profile's ca_bundle), as aws cli takes them. Read only for https: most endpoints of tests and
 * labs are http, and the file can be large.
 */
function trustedCertificates(config: S3Config, endpoint: URL): string[] | undefined {
  if (!config.caBundle || endpoint.protocol !== 'https:') return undefined
  let pem: string
  try {
    pem = readFileSync(config.caBundle, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable'
    throw new S3cError(`the CA bundle "${config.caBundle}" (AWS_CA_BUNDLE or ca_bundle) cannot be read (${code}): give a PEM file of trusted certificates`, ExitCode.usage)
  }
  return [...process.getBuiltinModule('node:tls').rootCertificates, pem]
}

/**
 * --no-sign-request on the SDK: Smithy's "no auth" scheme for every operation, so nothing is
 * signed and no credential provider is ever asked (the fast path skips its signer the same way).
 */
async function anonymousAuth(): Promise<Pick<S3ClientConfig, 'httpAuthSchemes' | 'httpAuthSchemeProvider'>> {
  const {NoAuthSigner} = await import('@smithy/core')
  return {
    httpAuthSchemes: [{schemeId: 'smithy.api#noAuth', identityProvider: () => async () => ({}), signer: new NoAuthSigner()}],
    httpAuthSchemeProvider: () => [{schemeId: 'smithy.api#noAuth'}],
  }
}

/**
 * The credentials of every request. Keys that are simply there (given by a library caller, in
 * the environment without a named profile, or as plain keys of the profile: what `aws configure`
 * writes) are used as they are; anything else (roles, SSO, processes, instance metadata) goes
 * through the SDK's chain, loaded on first use. The same rule as the chain's own order.
 */
function credentialsFor(config: S3Config): AwsCredentialIdentityProvider {
  const keys = config.credentials ?? config.staticKeys
  if (keys) {
    const identity: AwsCredentialIdentity = {...keys}
    return async () => identity
  }
  let chain: Promise<AwsCredentialIdentityProvider> | undefined
  return async identityProperties => {
    chain ??= credentialChain(config)
    return (await chain)(identityProperties)
  }
}

/** The request as the SDK's finalize step sees it (an HttpRequest of @smithy/protocol-http). */
interface SdkRequest {
  method?: string
  protocol?: string
  hostname?: string
  port?: number
  path?: string
  query?: Record<string, string | string[] | null>
  headers?: Record<string, string>
}

/** The global request options (--request-payer, --log) as SDK middleware, so every command of the client carries them. */
function addGlobalMiddleware(client: S3Client, config: S3Config, log: RequestLog | undefined): void {
  const payer = config.requestPayer
  // At build, before signing: the header is signed with the rest.
  if (payer) client.middlewareStack.add(next => async args => {
    const request = args.request as SdkRequest
    if (request.headers) request.headers['x-amz-request-payer'] = payer
    return next(args)
  }, {step: 'build', name: 's3cRequestPayer'})
  // After signing: one line per attempt as it is sent, with its final URL.
  if (log) client.middlewareStack.addRelativeTo((next: FinalizeHandler<object, MetadataBearer>) => async (args: FinalizeHandlerArguments<object>) => {
    const r = args.request as SdkRequest
    const url = `${r.protocol ?? 'https:'}//${r.hostname ?? ''}${r.port ? `:${r.port}` : ''}${r.path ?? '/'}${redactedQuery(r.query ?? {})}`
    const started = performance.now()
    try {
      const out = await next(args)
      log(r.method ?? 'GET', url, (out.response as {statusCode?: number}).statusCode ?? 0, performance.now() - started)
      return out
    } catch (error) {
      const e = error as {$metadata?: {httpStatusCode?: number}; code?: string; name?: string}
      log(r.method ?? 'GET', url, e.$metadata?.httpStatusCode ?? e.code ?? e.name ?? 'error', performance.now() - started)
      throw error
    }
  }, {relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 's3cRequestLog'})
}

const SDK_NOTICE = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'

/**
 * Makes an SDK client without the SDK's notice that its future versions need a newer Node
 * (printed once per process on Node < 22 when a client is constructed): s3c's users, the CLI's and
 * the library's, did not choose the SDK and can do nothing about it (issue 23). Only that notice:
 * the SDK reads the variable in the client's constructor, so it is set for the call alone and the
 * program's other warnings (process.emitWarning) print as before. A value the user set is kept.
 */
export function withoutSdkVersionNotice<T>(make: () => T): T {
  if (process.env[SDK_NOTICE] !== undefined) return make()
  process.env[SDK_NOTICE] = 'true'
  try {
    return make()
  } finally {
    delete process.env[SDK_NOTICE]
  }
}

/** The one S3 client factory: the SDK client and the fast path get the same endpoint, region, addressing, credentials and sockets. */
export async function createS3(config: S3Config): Promise<S3Handle> {
  const region = config.region
  const endpoint = new URL(config.endpoint ?? `https://s3.${region}.amazonaws.com`)
  const ca = trustedCertificates(config, endpoint)
  const agentOpts = {keepAlive: true, maxSockets: config.maxSockets}
  // node:http's sockets, for the SDK and the fast path's streamed answers: made (and node:http(s)
  // loaded) on first use; ls, rm, cp S3→S3 and cat of a small object use neither.
  let agent: http.Agent | undefined
  const sockets = (): http.Agent => agent ??= endpoint.protocol === 'https:'
    ? new (process.getBuiltinModule('node:https').Agent)({...agentOpts, ...(ca ? {ca} : {})})
    : new (process.getBuiltinModule('node:http').Agent)(agentOpts)
  const anonymous = config.anonymous === true
  const log = requestLog(config.logLevel)
  const credentials = credentialsFor(config)
  let sdk: Promise<{client: S3Client; m: SdkModule}> | undefined
  let client: S3Client | undefined
  const makeSdk = async () => {
    const [m, {NodeHttpHandler}] = await Promise.all([import('@aws-sdk/client-s3'), import('@smithy/node-http-handler')])
    const auth = anonymous ? await anonymousAuth() : {}
    client = withoutSdkVersionNotice(() => new m.S3Client({
      region,
      profile: config.profile,
      endpoint: config.endpoint,
      // The endpoint was resolved once (src/s3/config.ts, config files included): the SDK must not look again.
      ignoreConfiguredEndpointUrls: true,
      forcePathStyle: config.forcePathStyle,
      credentials,
      ...auth,
      // One retry policy for the whole tool (src/base/retry.ts): the SDK must not retry on its own.
      maxAttempts: 1,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The fast path's sockets: one pool per endpoint.
      requestHandler: new NodeHttpHandler({
        ...(endpoint.protocol === 'https:' ? {httpsAgent: sockets()} : {httpAgent: sockets()}),
        connectionTimeout: CONNECT_TIMEOUT_MS,
        // An idle limit, as the fast path's: the handler's requestTimeout only warns (a stalled
        // UploadPart hung a run for good), and without socketTimeout nothing ends a silent socket.
        socketTimeout: idleTimeoutMs(),
      }),
    }))
    addGlobalMiddleware(client, config, log)
    return {client, m}
  }
  const fast = new FastS3({
    agent: sockets,
    maxSockets: config.maxSockets,
    ca,
    endpoint,
    pathStyle: config.forcePathStyle,
    region,
    credentials,
    anonymous,
    requestPayer: config.requestPayer,
    log,
  })
  return {
    sdk: () => (sdk ??= makeSdk()),
    fast,
    endpointLabel: endpoint.origin,
    contact: {endpoint: endpoint.origin, answered: false},
    async close() {
      client?.destroy()
      await fast.close()
      agent?.destroy()
    },
  }
}
