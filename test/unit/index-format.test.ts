import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {crc32, crc32Combine} from '../../src/tar/crc.js'
import {
  FIRST_READ, RECORD_SIZE, buildIndex, findInTable, nameHash, parseCollisions, parseHeader, parseList, tableWindow, type IndexedMember,
} from '../../src/s3ci/format.js'

function members(n: number, name = (i: number) => `dir${i % 97}/file-${i}.txt`): IndexedMember[] {
  return Array.from({length: n}, (_, i) => ({name: name(i), type: 'file' as const, size: i % 1000, mode: 0o644, mtime: 1_700_000_000 + i, dataOffset: 512 * (1 + 3 * i), crc: i}))
}

describe('index format (s3ci v1)', function () {
  it('combines CRC-32s of pieces into the CRC-32 of the whole', function () {
    for (let i = 0; i < 20; i++) {
      const a = randomBytes(Math.floor(Math.random() * 5000))
      const b = randomBytes(Math.floor(Math.random() * 70000))
      assert.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(Buffer.concat([a, b])))
    }
  })

  it('a 100,000-member index: header and whole table fit the first read; ≤ 16 lookup bytes per member', function () {
    const list = members(100_000)
    const index = buildIndex(list, 123_456_789, '"abc-7"')
    const h = parseHeader(index)
    assert.equal(h.count, 100_000)
    assert.equal(h.tarEtag, '"abc-7"')
    assert.equal(h.tarSize, 123_456_789)
    assert.ok(h.listOffset <= FIRST_READ, `table ends at ${h.listOffset}`)
    assert.equal(RECORD_SIZE - 4, 16) // the lookup part; the last 4 bytes are the member's CRC-32
    const table = index.subarray(h.tableOffset, h.listOffset)
    const collisions = parseCollisions(index.subarray(h.collisionsOffset, h.collisionsOffset + h.collisionsLength))
    for (const i of [0, 1, 4242, 99_999]) {
      const r = findInTable(table, 0, h.count, list[i].name, collisions)
      assert.ok(r && r !== 'outside')
      assert.deepEqual(r, {hash: nameHash(list[i].name), type: 'file', dataOffset: list[i].dataOffset, size: list[i].size, crc: i})
    }
    assert.equal(findInTable(table, 0, h.count, 'not/there', collisions), undefined)
    // "./a/" and "a" name the same member.
    assert.equal(nameHash('./dir1/file-1.txt'), nameHash('dir1/file-1.txt'))
    assert.deepEqual(parseList(index.subarray(h.listOffset, h.listOffset + h.listLength)).slice(0, 2), list.slice(0, 2).map(m => ({...m, linkname: undefined})))
  })

  it('a 400,000-member index: every lookup is found in the predicted table window (3 GETs in all)', function () {
    this.timeout(60_000)
    const list = members(400_000)
    const index = buildIndex(list, 1, '')
    const h = parseHeader(index)
    assert.ok(h.listOffset > FIRST_READ)
    const collisions = parseCollisions(index.subarray(h.collisionsOffset, h.collisionsOffset + h.collisionsLength))
    for (let i = 0; i < list.length; i += 997) {
      const {first, end} = tableWindow(nameHash(list[i].name), h.count)
      const slice = index.subarray(h.tableOffset + first * RECORD_SIZE, h.tableOffset + end * RECORD_SIZE)
      const r = findInTable(slice, first, h.count, list[i].name, collisions)
      assert.ok(r && r !== 'outside', `member ${i} outside its window`)
      assert.equal(r.dataOffset, list[i].dataOffset)
    }
  })

  it('names whose 40-bit hashes collide are told apart by the collision section', function () {
    this.timeout(60_000)
    // Birthday search for two names with the same 40-bit hash (~1.5 M hashes).
    const seen = new Map<number, string>()
    let pair: [string, string] | undefined
    for (let i = 0; !pair; i++) {
      const name = `c/${i}`
      const h = nameHash(name)
      const other = seen.get(h)
      if (other !== undefined) pair = [other, name]
      else seen.set(h, name)
    }
    const list = [...members(50), ...pair.map((name, k) => ({name, type: 'file' as const, size: 10 + k, mode: 0o600, mtime: 0, dataOffset: 512 * (1000 + k)}))]
    const index = buildIndex(list, 1, '')
    const h = parseHeader(index)
    const collisions = parseCollisions(index.subarray(h.collisionsOffset, h.collisionsOffset + h.collisionsLength))
    assert.equal(collisions.size, 2)
    const table = index.subarray(h.tableOffset, h.listOffset)
    for (const [k, name] of pair.entries()) {
      const r = findInTable(table, 0, h.count, name, collisions)
      assert.ok(r && r !== 'outside')
      assert.equal(r.size, 10 + k)
    }
  })

  it('a sparse member makes an index of version 2 whose member list keeps the map and whose record is flagged; without one, version 1', function () {
    const plain = buildIndex(members(3), 1, '')
    assert.equal(plain.readUInt16BE(8), 1)
    const sparse: IndexedMember = {name: 'holes.bin', type: 'file', size: 3_000_000, mode: 0o600, mtime: 5, dataOffset: 4096, crc: 77,
      sparse: [[0, 4096], [1_000_000, 8192], [3_000_000, 0]]}
    const list = [...members(3), sparse]
    const index = buildIndex(list, 1, '')
    assert.equal(index.readUInt16BE(8), 2)
    const h = parseHeader(index)
    const table = index.subarray(h.tableOffset, h.listOffset)
    const r = findInTable(table, 0, h.count, 'holes.bin', new Map())
    assert.ok(r && r !== 'outside')
    assert.equal(r.sparse, true)
    // The record holds what is stored in the tar: 12,288 bytes of data at 4096.
    assert.equal(r.size, 12_288)
    assert.equal(r.dataOffset, 4096)
    assert.deepEqual(parseList(index.subarray(h.listOffset, h.listOffset + h.listLength)).at(-1), {...sparse, linkname: undefined})
    const r0 = findInTable(table, 0, h.count, list[0].name, new Map())
    assert.ok(r0 && r0 !== 'outside')
    assert.equal(r0.sparse, undefined)
  })

  it('duplicate names: the lookup finds the last member of that name (tar\'s rule), and a window cut inside the run cannot tell', function () {
    const list: IndexedMember[] = [...members(20), ...[1, 2, 3].map(k => ({name: './dup.txt', type: 'file' as const, size: k, mode: 0o644, mtime: 0, dataOffset: 512 * (100 + k)}))]
    list.splice(5, 0, {name: 'dup.txt', type: 'file', size: 0, mode: 0o644, mtime: 0, dataOffset: 512 * 99})
    const index = buildIndex(list, 1, '')
    const h = parseHeader(index)
    const table = index.subarray(h.tableOffset, h.listOffset)
    const collisions = parseCollisions(index.subarray(h.collisionsOffset, h.collisionsOffset + h.collisionsLength))
    const r = findInTable(table, 0, h.count, 'dup.txt', collisions)
    assert.ok(r && r !== 'outside')
    assert.equal(r.size, 3)
    // Where the run of equal hashes starts in the table, and a slice that ends inside it.
    let first = 0
    while (table.readUIntBE(first * RECORD_SIZE, 5) !== nameHash('dup.txt')) first++
    assert.equal(findInTable(table.subarray(0, (first + 2) * RECORD_SIZE), 0, h.count, 'dup.txt', collisions), 'outside')
  })

  it('rejects what is not an index', function () {
    assert.throws(() => parseHeader(randomBytes(200)), /not an s3c index/)
    const index = buildIndex(members(3), 1, '')
    index.writeUInt16BE(9, 8)
    assert.throws(() => parseHeader(index), /version 9 is not supported/)
  })
})
