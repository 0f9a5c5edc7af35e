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
    // The ETag's quotes (a shortcut) and what only looks like them.
    assert.equal(unescapeXml('&quot;abc&quot;'), '"abc"')
    assert.equal(unescapeXml('&quot;&quot;'), '""')
    assert.equal(unescapeXml('&quot;'), '"')
    assert.equal(unescapeXml('&quot;a&amp;b&quot;'), '"a&b"')
    assert.equal(unescapeXml('&quot;a&quot;b&quot;'), '"a"b"')
    assert.equal(unescapeXml('&quot;abc&quot'), '"abc&quot')
    assert.throws(() => parseListObjectsV2('<Error><Code>NoSuchBucket</Code></Error>'))
  })

  it('reads each key\'s fields from its own <Contents> only: one a server leaves out is not taken from the next key', function () {
    const page = parseListObjectsV2(`<ListBucketResult><IsTruncated>false</IsTruncated>
<Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key><Size>2</Size><ETag>&quot;e&quot;</ETag><StorageClass>GLACIER</StorageClass></Contents>
<Contents><Size>3</Size></Contents></ListBucketResult>`)
    assert.deepEqual(page.contents, [
      {key: 'a', size: 1, lastModified: undefined, etag: undefined, storageClass: undefined},
      {key: 'b', size: 2, lastModified: undefined, etag: '"e"', storageClass: 'GLACIER'},
    ])
  })
})
