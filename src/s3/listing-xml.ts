/**
 * The ListObjectsV2 answer, read by hand: the SDK's deserializer costs ~17 ms of CPU for a page
 * of 1,000 keys (its generic XML parser and shape mapping), fast-xml-parser 70–100 ms; this
 * reads the few fields a listing needs in ~2 ms. At internet scale that decides how fast a
 * listing can go once the pages are fetched in parallel (docs/DESIGN.md, "Listing").
 * S3's listing XML is flat and fixed: element names inside <Contents> never repeat at the top
 * level, and user data (keys, asked URL-encoded anyway) comes XML-escaped, so a search for an
 * element's tags cannot be fooled by a key.
 */

export interface ListedContent {
  key: string
  size: number
  lastModified?: string
  etag?: string
  storageClass?: string
}

export interface ListV2Page {
  contents: ListedContent[]
  commonPrefixes: string[]
  isTruncated: boolean
  nextContinuationToken?: string
  /** 'url' when the server URL-encoded keys and prefixes as asked. */
  encodingType?: string
  keyCount?: number
}

const ENTITIES: Record<string, string> = {amp: '&', lt: '<', gt: '>', quot: '"', apos: "'"}

/** XML character data: the five named entities and numeric references. */
export function unescapeXml(s: string): string {
  if (!s.includes('&')) return s
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
    ENTITIES[e] ?? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)))
}

/** The text of the first <name> element in text[from, to), or undefined. */
function element(text: string, name: string, from = 0, to = text.length): string | undefined {
  const open = text.indexOf(`<${name}>`, from)
  if (open < 0 || open >= to) return undefined
  const start = open + name.length + 2
  const close = text.indexOf(`</${name}>`, start)
  if (close < 0 || close > to) return undefined
  return unescapeXml(text.slice(start, close))
}

/** Every <name>…</name> block's inner range, in order. */
function* blocks(text: string, name: string): Generator<[number, number]> {
  const open = `<${name}>`
  const close = `</${name}>`
  let at = 0
  for (;;) {
    const a = text.indexOf(open, at)
    if (a < 0) return
    const b = text.indexOf(close, a)
    if (b < 0) throw new Error(`the listing's XML is cut inside <${name}>`)
    yield [a + open.length, b]
    at = b + close.length
  }
}

export function parseListObjectsV2(xml: string): ListV2Page {
  if (!xml.includes('<ListBucketResult')) throw new Error('the answer is not a ListBucketResult')
  const contents: ListedContent[] = []
  for (const [a, b] of blocks(xml, 'Contents')) {
    const key = element(xml, 'Key', a, b)
    if (key === undefined) continue
    const size = element(xml, 'Size', a, b)
    contents.push({key, size: size === undefined ? 0 : Number(size), lastModified: element(xml, 'LastModified', a, b),
      etag: element(xml, 'ETag', a, b), storageClass: element(xml, 'StorageClass', a, b)})
  }
  const commonPrefixes: string[] = []
  for (const [a, b] of blocks(xml, 'CommonPrefixes')) {
    const p = element(xml, 'Prefix', a, b)
    if (p !== undefined) commonPrefixes.push(p)
  }
  const keyCount = element(xml, 'KeyCount')
  return {
    contents, commonPrefixes,
    isTruncated: element(xml, 'IsTruncated') === 'true',
    nextContinuationToken: element(xml, 'NextContinuationToken'),
    encodingType: element(xml, 'EncodingType'),
    keyCount: keyCount === undefined ? undefined : Number(keyCount),
  }
}
