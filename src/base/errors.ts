/** Exit codes of every s3c command (documented in the README). */
export const ExitCode = {
  ok: 0,
  /** The run finished but some files failed after all retries. */
  filesFailed: 1,
  /** Bad input: flags, paths, arguments. Nothing was sent. */
  usage: 2,
  /** S3 refused the run as a whole: credentials, permissions, missing bucket, unreachable endpoint. */
  fatal: 3,
  interrupted: 130,
} as const

/**
 * What went wrong, for a program to test (README "Error codes"): stable across versions, unlike
 * the message. S3's answers by their meaning; a local path's by node:fs's errno code.
 */
export const ERROR_CODES = [
  /** Bad input: an argument, an option, a flag (exit 2). */
  'InvalidArgument',
  /** No such object, prefix, member or run. */
  'NotFound',
  'NoSuchBucket',
  /** S3 refused the credentials or the request (403, an unknown key, a wrong secret, an expired token). */
  'AccessDenied',
  /** No credentials were found for the profile. */
  'NoCredentials',
  /** The endpoint (or Redis) cannot be reached: refused, no such host, TLS failure. */
  'Unreachable',
  /** Stopped by the signal, Ctrl-C, or a stream destroyed before it ended. */
  'Aborted',
  /** S3 refused otherwise, or kept failing through the retries. */
  'S3Error',
  /** Local paths, as node:fs names them. */
  'ENOENT', 'EISDIR', 'ENOTDIR', 'EEXIST', 'EACCES', 'EPERM', 'ENOSPC', 'EROFS',
  /** Anything else (a file changed while it was read, …). */
  'Failed',
] as const
export type ErrorCode = typeof ERROR_CODES[number]

function codeForExit(exitCode: number): ErrorCode {
  return exitCode === ExitCode.usage ? 'InvalidArgument' : exitCode === ExitCode.interrupted ? 'Aborted' : exitCode === ExitCode.fatal ? 'S3Error' : 'Failed'
}

/**
 * An error meant for the user: one line, says what is wrong and what to do; `code` says what
 * went wrong for a program (ERROR_CODES), `exitCode` what the CLI exits with.
 */
export class S3cError extends Error {
  readonly code: ErrorCode
  constructor(message: string, readonly exitCode: number = ExitCode.usage, code?: ErrorCode) {
    super(message)
    this.name = 'S3cError'
    this.code = code ?? codeForExit(exitCode)
  }
}

/** A failure that must end the whole run (credentials, missing bucket, …): it wraps the original. */
export class FatalError extends Error {
  constructor(readonly original: unknown) {
    super((original as Error)?.message ?? String(original))
    this.name = 'FatalError'
  }
}

/** Shape shared by SDK service exceptions and the errors the fast path builds. */
interface ServiceErrorLike {
  name?: string
  code?: string
  message?: string
  $metadata?: {httpStatusCode?: number}
  cause?: unknown
}

const FATAL_NAMES = new Set([
  'AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'NoSuchBucket',
  'AllAccessDisabled', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'AccountProblem',
  'CredentialsProviderError', 'InvalidBucketName', 'PermanentRedirect', 'AuthorizationHeaderMalformed',
  'InvalidClientTokenId', 'UnrecognizedClientException',
])
const RETRY_NAMES = new Set([
  'SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'RequestTimeoutException',
  'InternalError', 'ServiceUnavailable', 'TimeoutError', 'RequestLimitExceeded', 'TooManyRequestsException',
  'BadDigest', 'IncompleteBody', 'ChecksumMismatch', 'OperationAborted',
])
const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH',
  'ENETUNREACH', 'ECONNABORTED',
])
/** Failures to reach the endpoint at all: the name does not resolve, nothing listens, no route. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])
/** TLS failures, by what the user can do about them; all doom every request (fatal). */
const TLS_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  CERT_UNTRUSTED: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  CERT_SIGNATURE_FAILURE: 'the certificate is self-signed / not trusted: set AWS_CA_BUNDLE or use http://',
  CERT_HAS_EXPIRED: 'the certificate has expired: renew it, or check this machine\'s clock',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet: check this machine\'s clock',
  CERT_REVOKED: 'the certificate was revoked',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the certificate is for another host name: use the name it was issued for in the endpoint URL',
  ERR_SSL_WRONG_VERSION_NUMBER: 'the server does not speak TLS on that port: use http://',
  ERR_SSL_PACKET_LENGTH_TOO_LONG: 'the server does not speak TLS on that port: use http://',
  EPROTO: 'the TLS handshake failed (does the server speak TLS on that port? else use http://)',
}

const LOCAL_CODES = new Set(['EACCES', 'EPERM', 'ENOENT', 'EISDIR', 'ENOTDIR', 'ELOOP', 'EEXIST', 'ENOSPC', 'EROFS', 'ENAMETOOLONG'])
const DENIED_NAMES = new Set(['AccessDenied', 'Forbidden', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'ExpiredToken', 'InvalidToken',
  'TokenRefreshRequired', 'AccountProblem', 'InvalidClientTokenId', 'UnrecognizedClientException'])

export type ErrorClass = 'retry' | 'fatal' | 'file'

export function statusOf(err: unknown): number | undefined {
  return (err as ServiceErrorLike)?.$metadata?.httpStatusCode
}

const THROTTLE_NAMES = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ServiceUnavailable'])

/** The server asks the client to send less (503 SlowDown, 429): the adaptive limit halves (src/run/adaptive.ts). */
export function isThrottling(err: unknown): boolean {
  const status = statusOf(err)
  return status === 503 || status === 429 || THROTTLE_NAMES.has((err as ServiceErrorLike)?.name ?? '')
}

function codeOf(err: unknown): string | undefined {
  let e = err as ServiceErrorLike | undefined
  for (let depth = 0; e && depth < 4; depth++) {
    if (typeof e.code === 'string') return e.code
    e = e.cause as ServiceErrorLike | undefined
  }
  return undefined
}

/**
 * One classification for every failure, from the SDK or the fast path:
 * retry it, stop the whole run, or give up on this one file.
 */
export function classifyError(err: unknown): ErrorClass {
  if (err instanceof S3cError) return err.exitCode === ExitCode.fatal ? 'fatal' : 'file'
  const e = err as ServiceErrorLike
  const name = e?.name ?? ''
  const status = statusOf(err)
  const code = codeOf(err)
  if (FATAL_NAMES.has(name) || status === 403) return 'fatal'
  if (code && TLS_REASONS[code] && !status) return 'fatal'
  if (code && LOCAL_CODES.has(code) && !status) return 'file'
  if (RETRY_NAMES.has(name) || (status !== undefined && (status >= 500 || status === 429 || status === 408))) return 'retry'
  if (code && NETWORK_CODES.has(code)) return 'retry'
  if (/socket hang up|other side closed|ECONNRESET|timeout/i.test(e?.message ?? '')) return 'retry'
  if (name === 'AbortError') return 'fatal'
  if (status !== undefined) return 'file'
  return 'retry'
}

/**
 * A failure that brought no answer from the server: it could not be reached (refused, no such
 * name, no route) or closed the connection before answering. Once an endpoint has answered such
 * a failure is transient; before, it is a wrong endpoint (the retry policy, src/base/retry.ts).
 */
export function noAnswer(err: unknown): 'unreachable' | 'closed' | undefined {
  if (statusOf(err) !== undefined || (err as {answered?: boolean})?.answered) return undefined
  const code = codeOf(err)
  if (code && UNREACHABLE_CODES.has(code)) return 'unreachable'
  if (code === 'ECONNRESET' || code === 'EPIPE' || /socket hang up|other side closed/i.test((err as Error)?.message ?? '')) return 'closed'
  return undefined
}

/** A one-line, human explanation of a failure (never includes secrets). */
export function describeError(err: unknown, ctx: {bucket?: string; endpoint?: string} = {}): string {
  if (err instanceof S3cError) return err.message
  const e = err as ServiceErrorLike
  const name = e?.name ?? 'Error'
  const status = statusOf(err)
  const code = codeOf(err)
  const where = ctx.endpoint ? ` at ${ctx.endpoint}` : ''
  switch (name) {
    case 'NoSuchBucket':
      return `bucket "${ctx.bucket ?? '?'}" does not exist${where}: create it or check --bucket / S3C_BUCKET`
    case 'InvalidAccessKeyId':
      return `the access key is not known to the server${where}: check AWS_ACCESS_KEY_ID / --profile`
    case 'SignatureDoesNotMatch':
      return `the secret key does not match the access key${where}: check AWS_SECRET_ACCESS_KEY / --profile`
    case 'CredentialsProviderError':
      return 'no AWS credentials found (environment, ~/.aws/credentials, ~/.aws/config): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use --profile'
    case 'ExpiredToken':
      return 'the session token has expired: refresh your credentials'
    case 'InvalidBucketName':
      return `"${ctx.bucket ?? '?'}" is not a valid bucket name: use 3-63 lowercase letters, digits, dots and hyphens`
  }
  if (name === 'AccessDenied' || status === 403)
    return `access denied${ctx.bucket ? ` to bucket "${ctx.bucket}"` : ''}${where}: check the credentials and the bucket policy`
  if (code && TLS_REASONS[code] && !status) return `TLS to ${ctx.endpoint ?? 'the S3 endpoint'} failed: ${TLS_REASONS[code]}`
  if (code && UNREACHABLE_CODES.has(code))
    return `cannot reach the S3 endpoint${where || ' (AWS default)'} (${code}): check --endpoint-url / AWS_ENDPOINT_URL / the profile's endpoint_url and that the server is running`
  if (code && LOCAL_CODES.has(code) && !status) {
    const what = ({EACCES: 'permission denied', EPERM: 'operation not permitted', ENOENT: 'no such file or directory',
      EISDIR: 'is a directory', ENOTDIR: 'not a directory', ENOSPC: 'no space left on device'} as Record<string, string>)[code] ?? code
    const p = (err as {path?: string}).path
    return `${what}${p ? `: ${p}` : ''}`
  }
  const msg = (e?.message ?? String(err)).split('\n')[0]
  return status ? `${name} (HTTP ${status}): ${msg}` : `${name}: ${msg}`
}

/** The one line a command ends with for any error: its own message for an S3cError, else a description. */
export function errorMessage(err: unknown): string {
  const original = err instanceof FatalError ? err.original : err
  return describeError(original)
}

/** The exit code an error ends a command with: its own for an S3cError, else 3 (S3 refused the run). */
export function exitCodeOf(err: unknown): number {
  const original = err instanceof FatalError ? err.original : err
  return original instanceof S3cError ? original.exitCode : ExitCode.fatal
}

/** The code (ERROR_CODES) of any failure: an S3cError's own, else by what S3, the network or node:fs said. */
export function errorCodeOf(err: unknown): ErrorCode {
  const original = err instanceof FatalError ? err.original : err
  if (original instanceof S3cError) return original.code
  const name = (original as ServiceErrorLike)?.name ?? ''
  const status = statusOf(original)
  const code = codeOf(original)
  if (name === 'NoSuchBucket') return 'NoSuchBucket'
  if (DENIED_NAMES.has(name) || status === 403) return 'AccessDenied'
  if (name === 'CredentialsProviderError') return 'NoCredentials'
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return 'NotFound'
  if (name === 'AbortError') return 'Aborted'
  if (code && !status && ((ERROR_CODES as readonly string[]).includes(code))) return code as ErrorCode
  if (code && !status && (TLS_REASONS[code] || NETWORK_CODES.has(code))) return 'Unreachable'
  return status !== undefined ? 'S3Error' : 'Failed'
}

/** Turns any failure that stops a run into a one-line S3cError with the right exit code. */
export function fatalToUserError(error: unknown, ctx: {bucket?: string; endpoint?: string}): S3cError {
  const original = error instanceof FatalError ? error.original : error
  if (original instanceof S3cError) return original
  return new S3cError(describeError(original, ctx), ExitCode.fatal, errorCodeOf(original))
}
