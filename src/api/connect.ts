import {distance} from 'fastest-levenshtein'
import {ExitCode, FatalError, S3cError, describeError, errorCodeOf} from '../base/errors.js'
import {transferDefaults} from '../run/defaults.js'
import {resolveS3Config, type LogLevel, type S3Config} from '../s3/config.js'
import {openS3, type Connection} from '../storage/open.js'
import type {S3Store} from '../base/storage.js'

/**
 * How every library function reaches S3: the CLI's configuration (environment, AWS_PROFILE,
 * ~/.aws files; README "Connecting") unless an option says otherwise. The CLI's connection flags
 * by their camelCase names.
 */
export interface ConnectOptions {
  /** The S3 endpoint URL (--endpoint-url; else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, …, the profile's, AWS). */
  endpoint?: string
  region?: string
  /** A profile of ~/.aws/config and ~/.aws/credentials (else AWS_PROFILE, else default). */
  profile?: string
  /** Keys to use instead of the credential chain. */
  credentials?: {accessKeyId: string; secretAccessKey: string; sessionToken?: string}
  /** Path-style addressing (default: on for a custom endpoint). */
  pathStyle?: boolean
  /** Anonymous, unsigned requests (public buckets): no credentials are looked up (--no-sign-request). */
  noSignRequest?: boolean
  /** Requester-pays buckets (--request-payer requester). */
  requestPayer?: 'requester'
  /** A PEM file of certificates to trust besides the system's (else AWS_CA_BUNDLE, the profile's ca_bundle). */
  caBundle?: string
  /** What s3c writes to stderr (--log): warn by default. */
  log?: LogLevel
  /** Retries per request for retryable failures (default 10, as the CLI's --max-retry). */
  maxRetry?: number
  /** Requests in flight for the calls that send many, fixed (--thread-count); absent: found by measuring, as the CLI does. */
  threadCount?: number
  /** A configuration resolved already (resolveS3Config): then none of the connection options above may be given. */
  s3?: S3Config
  /** Stops the requests of the call. */
  signal?: AbortSignal
}

/** The options that say where and how to connect (the rest of ConnectOptions are per call). */
export const WHERE = ['endpoint', 'region', 'profile', 'credentials', 'pathStyle', 'noSignRequest', 'requestPayer', 'caBundle', 'log'] as const satisfies readonly (keyof ConnectOptions)[]
export type ConnectionOptions = Pick<ConnectOptions, typeof WHERE[number]>

/**
 * `O` when it has no key `Shape` lacks: a misspelled option is a type error ("not assignable to
 * never") even when the options come in a variable, where TypeScript's excess-property check
 * does not look.
 */
export type Exact<O, Shape> = O & {[K in Exclude<keyof O, keyof Shape>]: never}

/** Every key of T, checked by the compiler to be all of them (a new option must be added here to be accepted). */
export function optionKeys<T>() {
  return <const K extends readonly (keyof T & string)[]>(...keys: K & ([Exclude<keyof T, K[number]>] extends [never] ? unknown : {missing: Exclude<keyof T, K[number]>})): readonly string[] => keys
}

export const CONNECT_KEYS = optionKeys<ConnectOptions>()('endpoint', 'region', 'profile', 'credentials', 'pathStyle', 'noSignRequest', 'requestPayer', 'caBundle', 'log',
  'maxRetry', 'threadCount', 's3', 'signal')

/** Where a function bound by `connect()` finds its connection: not an option anyone can spell. */
export const SHARED = Symbol('s3c.connection')
export interface Shared {
  [SHARED]?: S3Store
}

/** The connection `connect()` lent a call, for the verbs' `lent` option (every S3 request of the call goes through it). */
export const lentOf = (opts: object): S3Store | undefined => (opts as Shared)[SHARED]

/**
 * The options of a call, checked at run time as the types check them at compile time: an unknown
 * key (a misspelling, an option of another function) is an InvalidArgument naming it, never
 * ignored (it would send the requests elsewhere).
 */
export function checkOptions<T extends object>(fn: string, opts: T | undefined, allowed: readonly string[]): T {
  if (opts === undefined || opts === null) return {} as T
  if (typeof opts !== 'object' || Array.isArray(opts)) throw new S3cError(`${fn}: the options must be an object, not ${Array.isArray(opts) ? 'an array' : typeof opts}`, ExitCode.usage, 'InvalidArgument')
  for (const key of Object.keys(opts)) {
    if (allowed.includes(key)) continue
    const near = allowed.map(k => ({k, d: distance(key.toLowerCase(), k.toLowerCase())})).sort((a, b) => a.d - b.d)[0]
    const hint = near && near.d <= Math.max(2, Math.ceil(key.length / 3)) ? ` (did you mean ${near.k}?)` : ''
    throw new S3cError(`${fn}: unknown option "${key}"${hint}; the options are ${allowed.join(', ')}`, ExitCode.usage, 'InvalidArgument')
  }
  const o = opts as ConnectOptions
  if (o.s3 !== undefined && WHERE.some(k => o[k] !== undefined))
    throw new S3cError(`${fn}: give either s3 (a resolved configuration) or ${WHERE.filter(k => o[k] !== undefined).join(', ')}, not both`, ExitCode.usage, 'InvalidArgument')
  if (o.noSignRequest && o.credentials) throw new S3cError(`${fn}: noSignRequest sends requests unsigned: give it or credentials, not both`, ExitCode.usage, 'InvalidArgument')
  return opts
}

/** The connection's configuration, resolved as the CLI resolves it. */
export async function resolveConnection(opts: ConnectOptions = {}, sockets = transferDefaults.threadCount): Promise<S3Config> {
  if (opts.s3) return opts.s3
  const resolved = await resolveS3Config({'endpoint-url': opts.endpoint, region: opts.region, profile: opts.profile, 'path-style': opts.pathStyle,
    'no-sign-request': opts.noSignRequest, 'request-payer': opts.requestPayer, log: opts.log}, sockets)
  return {...resolved, ...(opts.credentials ? {credentials: opts.credentials} : {}), ...(opts.caBundle !== undefined ? {caBundle: opts.caBundle} : {})}
}

function connectionOf(opts: ConnectOptions, s3: S3Config): Connection {
  return {s3, maxRetry: opts.maxRetry, signal: opts.signal}
}

/** Opens a connection for one call (closed by `withS3`), or lends the one `connect()` opened (closed by its `close()`). */
export async function openConnection(opts: ConnectOptions & Shared = {}, sockets = transferDefaults.threadCount): Promise<{s3: S3Store; release(): Promise<void>}> {
  const shared = opts[SHARED]
  if (shared) return {s3: shared.with({signal: opts.signal, lent: true}), release: async () => undefined}
  const s3 = await openS3(connectionOf(opts, await resolveConnection(opts, sockets)))
  return {s3, release: () => s3.close()}
}

/** Runs `fn` on a connection and closes it after (unless `connect()` lent it). */
export async function withS3<T>(opts: ConnectOptions, fn: (s3: S3Store) => Promise<T>, sockets = transferDefaults.threadCount): Promise<T> {
  const {s3, release} = await openConnection(opts, sockets)
  try {
    return await fn(s3)
  } finally {
    await release()
  }
}

/**
 * What a library call rejects with: always an S3cError with a `code` (README "Error codes"),
 * worded for a program: a stop by the signal says so, not how to resume a command.
 */
export function libraryError(error: unknown): S3cError {
  const original = error instanceof FatalError ? error.original : error
  if (original instanceof S3cError) {
    if (original.exitCode === ExitCode.interrupted) return new S3cError('stopped by the signal: unfinished transfers were cleaned up', ExitCode.interrupted, 'Aborted')
    return original
  }
  const code = errorCodeOf(original)
  if (code === 'Aborted') return new S3cError('stopped by the signal: unfinished transfers were cleaned up', ExitCode.interrupted, 'Aborted')
  const local = code.startsWith('E')
  return new S3cError(describeError(original), local ? ExitCode.usage : ExitCode.fatal, code)
}

/** `fn`'s promise, with every rejection a libraryError. */
export async function libraryCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (error) {
    throw libraryError(error)
  }
}
