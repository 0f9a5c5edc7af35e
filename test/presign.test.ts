import assert from 'node:assert/strict'
import {createHash, createHmac} from 'node:crypto'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'

const strict = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, c => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)

/**
 * The signature a presigned S3 GET must carry, computed from the SigV4 specification by hand
 * (not with the signer s3c uses): fauxqs does not check signatures, so the test does.
 */
function expectedSignature(url: URL, secret: string): string {
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature')
    .map(([k, v]) => `${strict(k)}=${strict(v)}`).sort()
  const canonical = ['GET', url.pathname, params.join('&'), `host:${url.host}`, '', 'host', 'UNSIGNED-PAYLOAD'].join('\n')
  const date = url.searchParams.get('X-Amz-Date')!
  const scope = url.searchParams.get('X-Amz-Credential')!.split('/').slice(1).join('/')
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n')
  const [day, region, service] = scope.split('/')
  let key: Buffer = createHmac('sha256', `AWS4${secret}`).update(day).digest()
  for (const part of [region, service, 'aws4_request']) key = createHmac('sha256', key).update(part).digest()
  return createHmac('sha256', key).update(toSign).digest('hex')
}
import {putObjects} from './harness/verbs.js'

describe('s3c presign', function () {
  it('prints a SigV4 query-signed GET URL that plain fetch() downloads', async function () {
    const bucket = await newBucket('presign')
    await putObjects(bucket, {'dir/a file+x.txt': 'presigned body'})
    const r = await runCli(['presign', `s3://${bucket}/dir/a file+x.txt`, '--expire', '90m'])
    assert.equal(r.code, 0, r.stderr)
    const url = new URL(r.stdout.trim())
    assert.equal(url.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256')
    assert.equal(url.searchParams.get('X-Amz-Expires'), '5400')
    assert.equal(url.searchParams.get('X-Amz-SignedHeaders'), 'host')
    assert.ok(!r.stdout.includes('s3ctestsecret') && !r.stdout.includes(process.env.AWS_SECRET_ACCESS_KEY ?? '\0'))
    assert.equal(url.searchParams.get('X-Amz-Signature'), expectedSignature(url, harness().s3.secretAccessKey))
    const res = await fetch(url)
    assert.equal(res.status, 200)
    assert.equal(await res.text(), 'presigned body')
  })

  it('a bad --expire or a URL that names no object: one line, exit 2', async function () {
    for (const args of [['s3://b/k', '--expire', '8d'], ['s3://b/k', '--expire', 'soon'], ['s3://b/dir/']]) {
      const r = await runCli(['presign', ...args])
      assert.equal(r.code, 2, r.stderr)
      assert.equal(r.stderr.trim().split('\n').length, 1)
    }
  })
})
