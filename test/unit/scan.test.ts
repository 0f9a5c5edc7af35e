import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {gzipSync} from 'node:zlib'
import {S3cError} from '../../src/base/errors.js'
import {localSource} from '../../src/local/storage.js'
import {scanTar} from '../../src/tar/scan.js'

/*
 * scanTar (src/tar/scan.ts) over a local range source, on archives GNU tar writes in each format,
 * and on broken ones: every member found at the offset tar put it, or a one-line error.
 */
describe('scanTar', function () {
  let dir: string
  const longName = `${'deep/'.repeat(30)}a file whose name is longer than a ustar header holds.txt`
  const files: Record<string, Buffer> = {
    'small.txt': Buffer.from('hello\n'),
    'empty': Buffer.alloc(0),
    'block.bin': Buffer.alloc(1536, 7),
    [longName]: Buffer.from('long name\n'),
    'ünïcode €.txt': Buffer.from('utf-8 name\n'),
  }

  before(function () {
    dir = mkdtempSync(join(tmpdir(), 's3c-scan-'))
    const src = join(dir, 'src')
    for (const [name, data] of Object.entries(files)) {
      mkdirSync(join(src, name, '..'), {recursive: true})
      writeFileSync(join(src, name), data)
    }
  })
  after(function () {
    rmSync(dir, {recursive: true, force: true})
  })

  function makeTar(format: 'ustar' | 'gnu' | 'pax', names: string[]): string {
    const out = join(dir, `${format}-${names.length}.tar`)
    execFileSync('tar', ['--format', format, '-cf', out, '-C', join(dir, 'src'), '--', ...names])
    return out
  }

  async function scan(path: string) {
    const src = await localSource(path)
    try {
      return await scanTar(src)
    } finally {
      await src.close()
    }
  }

  /** Every file member's bytes, read at the offset the scan gives, are the file's. */
  function checkData(path: string, members: Awaited<ReturnType<typeof scan>>): void {
    const tar = readFileSync(path)
    for (const m of members.filter(x => x.type === 'file')) {
      assert.ok(m.name in files, `unexpected member ${m.name}`)
      assert.equal(m.size, files[m.name].length, m.name)
      assert.deepEqual(tar.subarray(m.dataOffset, m.dataOffset + m.size), files[m.name], m.name)
    }
  }

  it('ustar: the members, their sizes and data offsets', async function () {
    const names = ['small.txt', 'empty', 'block.bin']
    const path = makeTar('ustar', names)
    const members = await scan(path)
    assert.deepEqual(members.map(m => m.name), names)
    checkData(path, members)
  })

  for (const format of ['gnu', 'pax'] as const) {
    it(`${format}: long and UTF-8 names (${format === 'gnu' ? 'GNU ././@LongLink' : 'PAX path records'})`, async function () {
      const names = ['small.txt', longName, 'ünïcode €.txt', 'block.bin']
      const path = makeTar(format, names)
      const members = await scan(path)
      const listed = members.filter(m => m.type === 'file').map(m => m.name)
      assert.deepEqual(listed, names)
      checkData(path, members)
    })
  }

  it('a truncated tar: an error naming where it ends, not a short member list', async function () {
    const whole = readFileSync(makeTar('pax', ['small.txt', 'block.bin']))
    const cut = join(dir, 'cut.tar')
    // Inside block.bin's data: the second member's header is there, its data is not.
    writeFileSync(cut, whole.subarray(0, 512 * 3 + 700))
    await assert.rejects(scan(cut), (e: Error) => e instanceof S3cError && /truncated/.test(e.message) && !e.message.includes('\n'))
  })

  it('a corrupt header after the first member: an error naming its offset', async function () {
    const tar = Buffer.from(readFileSync(makeTar('ustar', ['small.txt', 'block.bin'])))
    // The second header starts at 1024 (header + one data block); damage its name and checksum.
    tar.write('garbage!', 1024, 'latin1')
    tar.write('xxxxxx', 1024 + 148, 'latin1')
    const bad = join(dir, 'corrupt.tar')
    writeFileSync(bad, tar)
    await assert.rejects(scan(bad), (e: Error) => e instanceof S3cError && /1024/.test(e.message))
  })

  it('a compressed tar: says it is compressed and to decompress it', async function () {
    const gz = join(dir, 'x.tar.gz')
    writeFileSync(gz, gzipSync(readFileSync(makeTar('ustar', ['small.txt']))))
    await assert.rejects(scan(gz), (e: Error) => e instanceof S3cError && /gzip/i.test(e.message) && /decompress/.test(e.message))
  })

  it('not a tar at all; an empty file is an empty archive (as bsdtar lists it; GNU tar refuses it)', async function () {
    const text = join(dir, 'text.txt')
    writeFileSync(text, 'just some text\n'.repeat(100))
    await assert.rejects(scan(text), (e: Error) => e instanceof S3cError && /not a tar archive/.test(e.message))
    const empty = join(dir, 'empty.tar')
    writeFileSync(empty, '')
    assert.deepEqual(await scan(empty), [])
  })
})
