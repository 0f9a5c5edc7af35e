import {ExitCode, S3cError} from '../base/errors.js'
import {NodeSha256, type FastS3} from './fast.js'

/** S3 refuses presigned URLs valid for longer than 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600

/**
 * A presigned GET URL: SigV4 query signing with the SDK's own signer, for the same endpoint,
 * addressing, region and credentials as every other request (src/s3/client.ts). Anyone holding
 * the URL can read the object until it expires; it carries the access key id, never the secret.
 */
export async function presignGetUrl(fast: FastS3, bucket: string, key: string, expiresInSeconds: number): Promise<string> {
  if (!Number.isInteger(expiresInSeconds) || expiresInSeconds < 1 || expiresInSeconds > MAX_PRESIGN_SECONDS)
    throw new S3cError(`a presigned URL expires after 1 second to 7 days, not ${expiresInSeconds} s: give e.g. --expire 1h`, ExitCode.usage)
  const t = fast.signingTarget(bucket, key)
  // A presigned URL is a signature: asked for with --no-sign-request, it would be signed anyway with whatever keys are found.
  if (t.anonymous) throw new S3cError('presign signs with your keys, and --no-sign-request says not to sign: drop --no-sign-request (a public object needs no presigned URL)', ExitCode.usage)
  const {SignatureV4} = await import('@smithy/signature-v4')
  const signer = new SignatureV4({service: 's3', region: t.region, credentials: t.credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false})
  const host = t.port ? `${t.hostname}:${t.port}` : t.hostname
  // S3 signs a presigned request's payload as UNSIGNED-PAYLOAD: the header only tells the signer so, the URL does not carry it.
  const payload = 'x-amz-content-sha256'
  const signed = await signer.presign({method: 'GET', protocol: t.protocol, hostname: t.hostname, port: t.port, path: t.path, query: {},
    headers: {host, [payload]: 'UNSIGNED-PAYLOAD'}},
  {expiresIn: expiresInSeconds, unsignableHeaders: new Set([payload]), unhoistableHeaders: new Set([payload])})
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')
  return `${t.origin}${t.path}?${query}`
}
