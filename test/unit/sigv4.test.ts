import assert from 'node:assert/strict'
import {SignatureV4} from '@smithy/signature-v4'
import {NodeSha256, encodeKey} from '../../src/s3/fast.js'
import {SigV4Signer, canonicalQuery} from '../../src/s3/sigv4.js'
import {mulberry32} from '../harness/proxy.js'

/*
 * The fast path's signer against the SDK's: the same requests, the same instant, the same keys
 * must give the same headers, byte for byte (the SDK's signer is what S3 servers are known to accept).
 */

const sdkSigner = (region: string, credentials: {accessKeyId: string; secretAccessKey: string; sessionToken?: string}) =>
  new SignatureV4({service: 's3', region, credentials, sha256: NodeSha256, uriEscapePath: false, applyChecksum: false})

async function sdkHeaders(region: string, creds: {accessKeyId: string; secretAccessKey: string; sessionToken?: string}, req: {method: string; path: string; query: Record<string, string>; headers: Record<string, string>}, when: Date) {
  const signed = await sdkSigner(region, creds).sign({method: req.method, protocol: 'http:', hostname: '127.0.0.1', port: 9000, path: req.path, query: req.query, headers: req.headers}, {signingDate: when})
  return signed.headers as Record<string, string>
}

describe('SigV4 (fast path) signs as the SDK does', function () {
  const rand = mulberry32(20261126)
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]
  const keyChars = ['a', 'Z', '0', '/', ' ', '+', '=', '&', '?', '%', '~', '*', "'", '(', '!', 'é', '😀', '\uf7e9', '.', '-', '_', ':', '@', ',', ';', '$', '#', '[']
  const randomKey = () => Array.from({length: 1 + Math.floor(rand() * 30)}, () => pick(keyChars)).join('')

  it('GET, PUT, HEAD and listings with odd keys, query values, header spacing, temporary keys and unsignable headers (300 requests)', async function () {
    const signer = new Map<string, SigV4Signer>()
    for (let i = 0; i < 300; i++) {
      const region = pick(['us-east-1', 'eu-central-1', 'auto'])
      const creds = {accessKeyId: pick(['AKIDEXAMPLE', 'rgwtest']), secretAccessKey: pick(['wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', 's3cr3t']),
        ...(rand() < 0.3 ? {sessionToken: 'FQoGZXIvYXdzE//token+with/odd=chars'} : {})}
      const when = new Date(Date.UTC(2026, 10, 26, Math.floor(rand() * 24), Math.floor(rand() * 60), Math.floor(rand() * 60), Math.floor(rand() * 1000)))
      const method = pick(['GET', 'PUT', 'HEAD'])
      const listing = method === 'GET' && rand() < 0.3
      const path = listing ? '/bucket' : `/bucket/${encodeKey(randomKey())}`
      const query: Record<string, string> = listing ? {'list-type': '2', 'encoding-type': 'url', prefix: randomKey(), ...(rand() < 0.5 ? {'continuation-token': '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM='} : {}), 'start-after': randomKey()} : {}
      const headers: Record<string, string> = {host: '127.0.0.1:9000', 'x-amz-content-sha256': pick(['UNSIGNED-PAYLOAD', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'])}
      if (method === 'GET' && rand() < 0.5) headers.range = `bytes=${Math.floor(rand() * 100)}-${100 + Math.floor(rand() * 100)}`
      if (method === 'PUT') {
        headers['content-length'] = String(Math.floor(rand() * 5000))
        headers['x-amz-meta-mtime'] = '1700000000.123456789'
        headers['content-type'] = pick(['text/plain;  charset=utf-8', ' application/octet-stream ', 'a\tb'])
        if (rand() < 0.5) headers['cache-control'] = 'max-age=60'
        if (rand() < 0.5) headers['x-amz-storage-class'] = 'STANDARD_IA'
      }
      if (rand() < 0.3) headers['if-match'] = '"d41d8cd98f00b204e9800998ecf8427e"'
      if (rand() < 0.2) headers['user-agent'] = 's3c'
      if (rand() < 0.2) headers['x-amz-request-payer'] = 'requester'
      const want = await sdkHeaders(region, creds, {method, path, query, headers}, when)
      const mine = (signer.get(region) ?? signer.set(region, new SigV4Signer(region)).get(region)!).sign({method, path, query, headers}, creds, when)
      assert.deepEqual(mine, want, `request ${i}: ${method} ${path}?${canonicalQuery(query)}`)
    }
  })

  it('a caller\'s authorization, x-amz-date and date headers are replaced, not signed', async function () {
    const creds = {accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret'}
    const when = new Date(Date.UTC(2026, 0, 2, 3, 4, 5))
    const headers = {host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', authorization: 'old', 'x-amz-date': '19990101T000000Z', date: 'yesterday'}
    const mine = new SigV4Signer('us-east-1').sign({method: 'GET', path: '/b/k', headers}, creds, when)
    assert.deepEqual(mine, await sdkHeaders('us-east-1', creds, {method: 'GET', path: '/b/k', query: {}, headers}, when))
    assert.equal(mine['x-amz-date'], '20260102T030405Z')
    assert.equal(mine.date, undefined)
  })

  it('the signing key follows the day and the keys (one signer across midnight and a key change)', function () {
    const signer = new SigV4Signer('us-east-1')
    const req = {method: 'GET', path: '/b/k', headers: {host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD'}}
    const a = signer.sign(req, {accessKeyId: 'A', secretAccessKey: 's1'}, new Date(Date.UTC(2026, 0, 1, 23, 59, 59)))
    const b = signer.sign(req, {accessKeyId: 'A', secretAccessKey: 's1'}, new Date(Date.UTC(2026, 0, 2, 0, 0, 0)))
    const c = signer.sign(req, {accessKeyId: 'A', secretAccessKey: 's2'}, new Date(Date.UTC(2026, 0, 2, 0, 0, 0)))
    const d = new SigV4Signer('us-east-1').sign(req, {accessKeyId: 'A', secretAccessKey: 's1'}, new Date(Date.UTC(2026, 0, 2, 0, 0, 0)))
    assert.notEqual(a.authorization, b.authorization)
    assert.notEqual(b.authorization, c.authorization)
    assert.equal(b.authorization, d.authorization, 'a cached key is the key a fresh signer computes')
  })
})
