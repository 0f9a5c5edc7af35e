#!/usr/bin/env node
// `npm run local -- <s3c command…>`: runs s3c against a throwaway local S3 server (fauxqs on
// 127.0.0.1). The bucket named in any s3://bucket/… argument is created first. The server and
// its data go away when the command ends: this is for trying s3c, not for keeping data.
import {execFileSync, spawnSync} from 'node:child_process'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {startFauxqs} from './fauxqs.js'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
execFileSync(process.execPath, [join(root, 'scripts', 'install-tools.js')], {stdio: 'inherit'})
const args = process.argv.slice(2)
if (args.length === 0) {
  console.error('usage: npm run local -- upload ./some/folder s3://demo/prefix')
  process.exit(2)
}
const server = await startFauxqs()
const env = {
  ...process.env, AWS_ENDPOINT_URL: server.endpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local',
  AWS_REGION: 'us-east-1', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
}
const buckets = new Set(args.filter(a => a.startsWith('s3://')).map(a => a.slice(5).split('/')[0]))
if (process.env.S3C_BUCKET) buckets.add(process.env.S3C_BUCKET)
for (const b of buckets) await fetch(`${server.endpoint}/${b}`, {method: 'PUT'})
console.error(`local S3 at ${server.endpoint}, bucket(s): ${[...buckets].join(', ') || '(none)'}`)
const run = spawnSync(process.execPath, [join(root, 'bin', 'run.js'), ...args], {stdio: 'inherit', env})
await server.stop()
process.exit(run.status ?? 1)
