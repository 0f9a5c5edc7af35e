import assert from 'node:assert/strict'
import {parseListObjectsV2, unescapeXml} from '../../src/s3/listing-xml.js'

// The parse alone; test/listing-xml.test.ts checks the parser against a server's listings.
describe('ListObjectsV2 read by hand (src/s3/listing-xml.ts)', function () {
  it('parses S3\'s XML: escaped values, prefixes, truncation, the token', function () {
    const page = parseListObjectsV2(`<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys>
<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>p/a%26b</Key><LastModified>2026-01-02T03:04:05.678Z</LastModified>
<ETag>&quot;abc&quot;</ETag><Size>12</Size><StorageClass>STANDARD</StorageClass></Contents>
<CommonPrefixes><Prefix>p/d/</Prefix></CommonPrefixes><EncodingType>url</EncodingType><NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>`)
    assert.deepEqual(page, {
      contents: [{key: 'p/a%26b', size: 12, lastModified: '2026-01-02T03:04:05.678Z', etag: '"abc"', storageClass: 'STANDARD'}],
      commonPrefixes: ['p/d/'], isTruncated: true, nextContinuationToken: 'tok+/=', encodingType: 'url', keyCount: 2,
    })
    assert.equal(unescapeXml('&lt;&#60;&#x3C;&amp;lt;'), '<<<&lt;')
    assert.throws(() => parseListObjectsV2('<Error><Code>NoSuchBucket</Code></Error>'))
  })
})
