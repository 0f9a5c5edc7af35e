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
const QUOT = '&quot;'

/** XML character data: the five named entities and numeric references. */
export function unescapeXml(s: string): string {
  const amp = s.indexOf('&')
  if (amp < 0) return s
  // An ETag as most servers send it, `&quot;…&quot;` with no other entity: every key of a page has one.
  if (amp === 0 && s.length >= 2 * QUOT.length && s.startsWith(QUOT) && s.indexOf('&', QUOT.length) === s.length - QUOT.length && s.endsWith(QUOT))
    return `"${s.slice(QUOT.length, -QUOT.length)}"`
  return s.replace(/&(amp|lt|gt|quot|apos|#x[0-9a-fA-F]+|#[0-9]+);/g, (_, e: string) =>
    ENTITIES[e] ?? String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10)))
}

/** An element's tags, made once (a page of 1,000 keys looks for 5,000 elements). */
interface Tag {
  open: string
  close: string
}
const tag = (name: string): Tag => ({open: `<${name}>`, close: `</${name}>`})
const CONTENTS = tag('Contents')
const KEY = tag('Key')
const SIZE = tag('Size')
const LAST_MODIFIED = tag('LastModified')
const ETAG = tag('ETag')
const STORAGE_CLASS = tag('StorageClass')
const COMMON_PREFIXES = tag('CommonPrefixes')
const PREFIX = tag('Prefix')

/** The text of the first element `t` in `text`, or undefined. */
function element(text: string, t: Tag): string | undefined {
  const open = text.indexOf(t.open)
  if (open < 0) return undefined
  const start = open + t.open.length
  const close = text.indexOf(t.close, start)
  if (close < 0) return undefined
  return unescapeXml(text.slice(start, close))
}

/** Calls `each` with every `t` block's inner range, in order. */
function blocks(text: string, t: Tag, each: (a: number, b: number) => void): void {
  let at = 0
  for (;;) {
    const a = text.indexOf(t.open, at)
    if (a < 0) return
    const b = text.indexOf(t.close, a)
    if (b < 0) throw new Error(`the listing's XML is cut inside ${t.open}`)
    each(a + t.open.length, b)
    at = b + t.close.length
  }
}

export function parseListObjectsV2(xml: string): ListV2Page {
  if (!xml.includes('<ListBucketResult')) throw new Error('the answer is not a ListBucketResult')
  const contents: ListedContent[] = []
  blocks(xml, CONTENTS, (a, b) => {
    // Searched in the block alone: an element a server leaves out costs a scan of the block, not of the rest of the page.
    const block = xml.slice(a, b)
    const key = element(block, KEY)
    if (key === undefined) return
    const size = element(block, SIZE)
    contents.push({key, size: size === undefined ? 0 : Number(size), lastModified: element(block, LAST_MODIFIED),
      etag: element(block, ETAG), storageClass: element(block, STORAGE_CLASS)})
  })
  const commonPrefixes: string[] = []
  blocks(xml, COMMON_PREFIXES, (a, b) => {
    const p = element(xml.slice(a, b), PREFIX)
    if (p !== undefined) commonPrefixes.push(p)
  })
  const keyCount = element(xml, tag('KeyCount'))
  return {
    contents, commonPrefixes,
    isTruncated: element(xml, tag('IsTruncated')) === 'true',
    nextContinuationToken: element(xml, tag('NextContinuationToken')),
    encodingType: element(xml, tag('EncodingType')),
    keyCount: keyCount === undefined ? undefined : Number(keyCount),
  }
}
