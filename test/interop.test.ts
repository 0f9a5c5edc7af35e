import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {runCli} from './harness/cli.js'
import {harness, newBucket} from './harness/hooks.js'
import {startProxy, type Proxy} from './harness/proxy.js'
import {compareTrees, seededBytes} from './harness/tree.js'
import {halfMsTree} from './harness/times.js'
import {awscliTool, findTool, rcloneTool} from './harness/tools.js'



/*
 * s3c next to the tools around it: every round trip between s3c and rclone or awscli must
 * transfer nothing twice. rclone 1.60 and awscli 2.9 are the real programs (found on the PATH), talking
 * to the same S3 server as s3c. Against fauxqs: files of 1 B – 4 MiB (fauxqs breaks rclone's
 * multipart uploads and awscli's PutObject of a 0-byte file), so the test that needs an rclone
 * multipart upload runs on other servers only (Ceph RGW in the lead's runs).
 */

const MiB = 1024 * 1024
const nsOf = (path: string) => statSync(path, {bigint: true}).mtimeNs
const us = (ns: bigint) => (ns - (((ns % 1000n) + 1000n) % 1000n)) / 1000n
const dataGets = (proxy: Proxy) => proxy.count('GET', r => !r.query.includes('list-type'))

interface ToolResult {
  code: number
  stdout: string
  stderr: string
}

function run(cmd: string, args: string[], env: Record<string, string | undefined>): ToolResult {
  const merged: Record<string, string | undefined> = {...process.env, ...env}
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k]
  const r = spawnSync(cmd, args, {env: merged as NodeJS.ProcessEnv, encoding: 'utf8', maxBuffer: 64 * MiB})
  if (r.error) throw r.error
  return {code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr}
}

let toolHome: string

/** rclone with a remote "s3t" configured through the environment only. */
function rclone(...args: string[]): ToolResult {
  const {s3} = harness()
  const r = run(findTool(rcloneTool), args, {
    RCLONE_CONFIG: join(toolHome, 'rclone.conf'),
    RCLONE_CONFIG_S3T_TYPE: 's3', RCLONE_CONFIG_S3T_PROVIDER: 'Other', RCLONE_CONFIG_S3T_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_S3T_ACCESS_KEY_ID: s3.accessKeyId, RCLONE_CONFIG_S3T_SECRET_ACCESS_KEY: s3.secretAccessKey, RCLONE_CONFIG_S3T_REGION: s3.region,
    AWS_CA_BUNDLE: undefined,
  })
  assert.equal(r.code, 0, `rclone ${args.join(' ')}: ${r.stderr}`)
  return r
}

/** awscli with the harness' keys, no config files of the machine; `config` is an ~/.aws/config body. */
function aws(args: string[], config = ''): ToolResult {
  const {s3} = harness()
  writeFileSync(join(toolHome, 'aws-config'), `[default]\n${config}`)
  const r = run(findTool(awscliTool), ['--endpoint-url', s3.endpoint, ...args], {
    AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_DEFAULT_REGION: s3.region, AWS_REGION: s3.region,
    AWS_CONFIG_FILE: join(toolHome, 'aws-config'), AWS_SHARED_CREDENTIALS_FILE: join(toolHome, 'aws-credentials'),
    AWS_PROFILE: undefined, AWS_ENDPOINT_URL: undefined, AWS_CA_BUNDLE: undefined, HOME: toolHome,
  })
  assert.equal(r.code, 0, `aws ${args.join(' ')}: ${r.stderr}`)
  return r
}

/** What `rclone sync --dry-run` would do: copies and time updates, by file. */
function rcloneWouldDo(out: ToolResult): {copy: string[]; setTime: string[]; other: string[]} {
  const lines = out.stderr.split('\n').filter(l => l.includes('Skipped'))
  const name = (l: string) => /NOTICE: (.*?): Skipped/.exec(l)?.[1] ?? l
  return {
    copy: lines.filter(l => /Skipped copy/.test(l)).map(name).sort(),
    setTime: lines.filter(l => /Skipped update modification time/.test(l)).map(name).sort(),
    other: lines.filter(l => !/Skipped (copy|update modification time)/.test(l)),
  }
}

/** The lines of `aws s3 sync --dryrun` that would transfer something. */
const awsWouldDo = (out: ToolResult) => out.stdout.split(/[\r\n]+/).filter(l => l.startsWith('(dryrun)'))

/** A tree of 1 B – 4 MiB files with nanosecond times, half-millisecond ones among them. */
function nsTree(root: string): string[] {
  const rels = halfMsTree(root)
  const more: [string, number, string][] = [['ns/a.bin', 4 * MiB, '123456789'], ['ns/b.bin', 70_000, '000000001'], ['ns/c.txt', 1, '999999999']]
  for (const [i, [rel, size, fraction]] of more.entries()) {
    mkdirSync(join(root, rel, '..'), {recursive: true})
    writeFileSync(join(root, rel), seededBytes(100 + i, size))
    spawnSync('touch', ['-d', `@${1650000000 + i}.${fraction}`, join(root, rel)])
    rels.push(rel)
  }
  return rels
}

describe('agreeing with the tools around it (rclone, awscli)', function () {
  const dirs: string[] = []
  after(() => { for (const d of dirs) rmSync(d, {recursive: true, force: true}) })
  const mk = (name: string) => { const d = mkdtempSync(join(tmpdir(), `s3c-${name}-`)); dirs.push(d); return d }
  let proxy: Proxy
  before(async () => {
    toolHome = mk('toolhome')
    writeFileSync(join(toolHome, 'rclone.conf'), '')
    proxy = await startProxy(harness().s3.endpoint)
  })
  after(async () => { await proxy?.stop() })
  beforeEach(() => proxy.reset())
  const viaProxy = (args: string[]) => runCli(args, {env: {AWS_ENDPOINT_URL: proxy.endpoint}})

  describe('rclone', function () {
    it('s3c upload, then rclone sync --dry-run local→S3: nothing to copy and no time to set, multipart objects too', async function () {
      const src = mk('rc-up')
      const rels = nsTree(src)
      writeFileSync(join(src, 'big.bin'), seededBytes(7, 9 * MiB))
      const bucket = await newBucket('rcup')
      const up = await runCli(['upload', src, `s3://${bucket}/p`, '--part-size', '5MiB'])
      assert.equal(up.code, 0, up.stderr)
      const would = rcloneWouldDo(rclone('sync', '--dry-run', src, `s3t:${bucket}/p`))
      assert.deepEqual(would, {copy: [], setTime: [], other: []}, `${rels.length + 1} files`)
    })

    it('s3c upload --checksum: rclone check finds every hash, multipart objects too (md5chksum)', async function () {
      const src = mk('rc-ck')
      writeFileSync(join(src, 'big.bin'), seededBytes(8, 9 * MiB))
      writeFileSync(join(src, 'small.bin'), seededBytes(9, 1000))
      const bucket = await newBucket('rcck')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/p`, '--part-size', '5MiB', '--checksum'])).code, 0)
      const check = rclone('check', src, `s3t:${bucket}/p`)
      assert.match(check.stderr, /0 differences found/)
      assert.match(check.stderr, /2 matching files/)
      assert.doesNotMatch(check.stderr, /could not be checked|hash/i)
    })

    it('rclone copy (nanosecond times), then s3c upload: no PUT', async function () {
      const src = mk('rc-src')
      const rels = nsTree(src)
      const bucket = await newBucket('rcsrc')
      rclone('copy', src, `s3t:${bucket}/p`)
      const up = await viaProxy(['upload', src, `s3://${bucket}/p`])
      assert.equal(up.code, 0, up.stderr)
      assert.match(up.stdout, new RegExp(`0 done, ${rels.length} skipped`))
      assert.equal(proxy.count('PUT') + proxy.count('POST'), 0)
    })

    it('rclone copy, then s3c download twice: rclone\'s times to the µs, the second sends no GET of data; rclone sync back would only set sub-µs times', async function () {
      const src = mk('rc-dsrc')
      const rels = nsTree(src)
      const bucket = await newBucket('rcdown')
      rclone('copy', src, `s3t:${bucket}/p`)
      const dst = mk('rc-dst')
      const down = await runCli(['download', `s3://${bucket}/p`, dst])
      assert.equal(down.code, 0, down.stderr)
      assert.deepEqual(compareTrees(src, dst), [])
      for (const rel of rels) assert.equal(us(nsOf(join(dst, rel))), us(nsOf(join(src, rel))), rel)
      const again = await viaProxy(['download', `s3://${bucket}/p`, dst])
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, new RegExp(`0 done, ${rels.length} skipped`))
      assert.equal(dataGets(proxy), 0)
      // Node 20 sets times at microseconds: rclone sees the nanoseconds below them as a
      // different time and would set them (no data: the MD5s match). Measured, and documented.
      const subUs = rels.filter(rel => nsOf(join(src, rel)) % 1000n !== 0n).sort()
      assert.ok(subUs.length > 0)
      assert.deepEqual(rcloneWouldDo(rclone('sync', '--dry-run', `s3t:${bucket}/p`, dst)), {copy: [], setTime: subUs, other: []})
    })

    it('rclone multipart uploads, then s3c upload and download twice: nothing sent again', async function () {
      if (harness().s3.local) {
        // fauxqs answers rclone's CompleteMultipartUpload with InvalidPart; Ceph RGW, MinIO and AWS do not.
        this.test!.title += ' (skipped on fauxqs: it breaks rclone\'s multipart uploads)'
        this.skip()
      }
      const src = mk('rc-mp')
      writeFileSync(join(src, 'big.bin'), seededBytes(10, 12 * MiB + 5))
      spawnSync('touch', ['-d', '@1700000000.1234565', join(src, 'big.bin')])
      const bucket = await newBucket('rcmp')
      rclone('copy', '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M', src, `s3t:${bucket}/p`)
      const up = await viaProxy(['upload', src, `s3://${bucket}/p`])
      assert.match(up.stdout, /0 done, 1 skipped/)
      assert.equal(proxy.count('PUT') + proxy.count('POST'), 0)
      const dst = mk('rc-mpdst')
      assert.equal((await runCli(['download', `s3://${bucket}/p`, dst])).code, 0)
      assert.equal(us(nsOf(join(dst, 'big.bin'))), us(nsOf(join(src, 'big.bin'))))
      proxy.reset()
      const again = await viaProxy(['download', `s3://${bucket}/p`, dst])
      assert.match(again.stdout, /0 done, 1 skipped/)
      assert.equal(dataGets(proxy), 0)
    })
  })

  describe('awscli', function () {
    it('aws s3 sync, then s3c upload: compared by content (the ETag is the MD5), no PUT and no GET', async function () {
      const src = mk('aws-src')
      const rels = nsTree(src)
      const bucket = await newBucket('awssrc')
      aws(['s3', 'sync', src, `s3://${bucket}/p`])
      const up = await viaProxy(['upload', src, `s3://${bucket}/p`])
      assert.equal(up.code, 0, up.stderr)
      assert.match(up.stdout, new RegExp(`0 done, ${rels.length} skipped`))
      assert.equal(proxy.count('PUT') + proxy.count('POST'), 0)
      assert.equal(dataGets(proxy), 0, 'the local files were read, nothing fetched')
      assert.equal(proxy.count('HEAD'), rels.length)
    })

    it('s3c upload, then aws s3 sync --dryrun local→S3: nothing to upload', async function () {
      const src = mk('aws-up')
      nsTree(src)
      const bucket = await newBucket('awsup')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/p`])).code, 0)
      assert.deepEqual(awsWouldDo(aws(['s3', 'sync', '--dryrun', src, `s3://${bucket}/p`])), [])
    })

    it('s3c download (objects from s3c and from aws), then aws s3 sync --dryrun S3→local: nothing to download', async function () {
      const src = mk('aws-dsrc')
      nsTree(src)
      const bucket = await newBucket('awsdown')
      assert.equal((await runCli(['upload', src, `s3://${bucket}/s3c`])).code, 0)
      aws(['s3', 'sync', src, `s3://${bucket}/aws`])
      for (const p of ['s3c', 'aws']) {
        const dst = mk(`aws-dst-${p}`)
        assert.equal((await runCli(['download', `s3://${bucket}/${p}`, dst])).code, 0)
        assert.deepEqual(compareTrees(src, dst), [])
        assert.deepEqual(awsWouldDo(aws(['s3', 'sync', '--dryrun', `s3://${bucket}/${p}`, dst])), [], p)
      }
    })

    it('large objects from aws s3 cp (multipart, and one large PutObject), then s3c download twice: the second sends no GET of data', async function () {
      const src = mk('aws-big')
      writeFileSync(join(src, 'multipart.bin'), seededBytes(11, 20 * MiB + 7))
      const one = mk('aws-one')
      writeFileSync(join(one, 'single.bin'), seededBytes(12, 9 * MiB + 1))
      const bucket = await newBucket('awsbig')
      aws(['s3', 'cp', join(src, 'multipart.bin'), `s3://${bucket}/p/multipart.bin`])
      // One PutObject of 9 MiB: awscli's multipart threshold raised above it.
      aws(['s3', 'cp', join(one, 'single.bin'), `s3://${bucket}/p/single.bin`], 's3 =\n  multipart_threshold = 64MB\n')
      const dst = mk('aws-bigdst')
      const first = await runCli(['download', `s3://${bucket}/p`, dst])
      assert.equal(first.code, 0, first.stderr)
      const again = await viaProxy(['download', `s3://${bucket}/p`, dst])
      assert.equal(again.code, 0, again.stderr)
      assert.match(again.stdout, /0 done, 2 skipped/)
      assert.equal(dataGets(proxy), 0)
      assert.deepEqual(awsWouldDo(aws(['s3', 'sync', '--dryrun', `s3://${bucket}/p`, dst])), [])
      // And s3c upload of the same files compares the content with the ETags (8 MiB parts): no PUT.
      proxy.reset()
      const up = await viaProxy(['upload', src, `s3://${bucket}/p`])
      assert.match(up.stdout, /0 done, 1 skipped/)
      assert.equal(proxy.count('PUT') + proxy.count('POST'), 0)
    })
  })
})

